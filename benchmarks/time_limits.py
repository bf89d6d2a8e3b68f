"""Does ``greenslot plan --time-limit T`` end within T? The whole command's wall time, per case.

Why a script and not a timed test: wall time depends on the machine and its load; the goal
(issue 17 item 12, issue 20 item 6: the command ends within T plus max(5 s, 5 %) and still
writes a valid plan) is checked by running this and reading the table. Each case runs the
installed ``greenslot`` as a separate process under ``/usr/bin/time -v`` (so start-up,
loading, baselines, solve, reasons, validation and writing all count) and the plan it writes
is checked with ``greenslot validate``.

Cases: benchmark instances S, L, XL, XXL (``benchmarks/instances.py``); I20, issue 20's
ceiling for "auto --time-limit 60 within 65 s" (500 jobs x 40 nodes x 504 five-minute
slots); and Q1942, 1,942 jobs: the bundled example's jobs (sampled from the Philly trace, see
``examples/build_nightly.py``) repeated with their own ids (``benchmarks/load_jobs.py``) on
the example's two sites plus 200 nodes, whose power cap binds. Run::

    python -m benchmarks.time_limits                 # every case at 60 s, Q1942 at 120 s too
    python -m benchmarks.time_limits L:30 Q1942:120  # chosen cases
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.instances import write_instance
from benchmarks.load_jobs import write_queue

DEFAULT_CASES = ("S:60", "L:60", "XL:60", "XXL:60", "I20:60", "Q1942:60", "Q1942:120")
SOLVER = "auto"


def scenario_for(name: str, folder: Path) -> Path:
    if name == "Q1942":
        return write_queue(folder / f"{name}-{len(list(folder.iterdir()))}", 1942,
                           extra_nodes=200)
    return write_instance(name, folder / f"{name}-{len(list(folder.iterdir()))}")


def _greenslot() -> str:
    return str(Path(sys.executable).with_name("greenslot"))


def run_case(name: str, limit_s: float, folder: Path) -> dict:
    scenario = scenario_for(name, folder)
    out = folder / f"plan-{name}-{limit_s:g}"
    command = ["/usr/bin/time", "-v", _greenslot(), "plan", str(scenario), "--out", str(out),
               "--solver", SOLVER, "--time-limit", f"{limit_s:g}", "--quiet", "--replace"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    seconds = (float(wall[1] or 0) * 3600 + float(wall[2]) * 60 + float(wall[3])) if wall else None
    row = {"case": name, "limit_s": limit_s, "wall_s": seconds, "exit": done.returncode,
           "rss_mb": int(rss[1]) / 1024 if rss else None}
    if done.returncode == 0:
        summary = json.loads((out / "summary.json").read_text())
        check = subprocess.run([_greenslot(), "validate", str(scenario), str(out)],
                               capture_output=True, text=True, check=False)
        steps = summary.get("solver_details", {}).get("steps", {})
        row |= {"valid": check.returncode == 0, "placed": summary.get("placed"),
                "unplaced": len(summary.get("unplaced", [])),
                "not_run": ",".join(k for k, v in steps.items() if not v.get("ran")),
                "cut": "greedy" if "cut by" in steps.get("greedy", {}).get("note", "") else ""}
    else:
        row["error"] = done.stderr.strip().splitlines()[-1:] or [""]
    return row


def main(argv: list[str]) -> int:
    cases = [(c.split(":")[0], float(c.split(":")[1])) for c in (argv or DEFAULT_CASES)]
    print(f"load before: {os.getloadavg()[0]:.1f} (1-min average), {os.cpu_count()} CPUs")
    print(f"{'case':>6} {'limit s':>8} {'wall s':>8} {'over?':>6} {'slack s':>8} {'RSS MB':>7} "
          f"{'valid':>6} {'placed':>7} {'unpl.':>6} {'load':>5}  not run / cut")
    with tempfile.TemporaryDirectory(prefix="greenslot-time-limits-") as tmp:
        for name, limit in cases:
            row = run_case(name, limit, Path(tmp))
            slack = max(5.0, 0.05 * limit)
            wall = row["wall_s"]
            over = "-" if wall is None else ("OVER" if wall > limit + slack else "ok")
            print(f"{name:>6} {limit:>8g} {wall if wall is not None else float('nan'):>8.1f} "
                  f"{over:>6} {slack:>8.1f} {row['rss_mb'] or 0:>7.0f} "
                  f"{row.get('valid', '-')!s:>6} {row.get('placed', '-')!s:>7} "
                  f"{row.get('unplaced', '-')!s:>6} {os.getloadavg()[0]:>5.1f}  "
                  f"{row.get('not_run', '')} {row.get('cut', '')} {row.get('error', '')}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
