"""Run solvers over benchmark instances and print one markdown table comparing them.

    python -m benchmarks.run [--instances S,M,L] [--solvers fifo,greedy,milp,cpsat]
                             [--time-limit 120] [--threads 2] [--out table.md]

Each (instance, solver) runs in a fresh ``python -m benchmarks.solve_one`` process, so peak
memory is that solve's own and a solver that overruns is killed at ``2 * time_limit + 60`` s
and reported as a timeout rather than taking the run down. ``fifo``, ``best_window`` and
``greedy`` always run:
the table gives every solver's carbon relative to both. The raw JSON lines go to stderr as they
arrive, for anyone who wants more than the table shows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.instances import INSTANCES, REPO

BASELINES = ("fifo", "best_window", "greedy")
X = "\N{MULTIPLICATION SIGN}"
COLUMNS = ("instance", f"size (J{X}N{X}T{X}M)", "solver", "status", "build s", "solve s",
           "objective", "bound", "gap %", "peak MB", "unplaced", "carbon vs fifo %",
           "carbon vs best_window %", "carbon vs greedy %")


def run_one(instance: str, solver: str, time_limit: float, threads: int) -> dict:
    """One solve in its own process; a timeout or crash becomes a row with that status."""
    command = [sys.executable, "-m", "benchmarks.solve_one", instance, solver,
               "--time-limit", str(time_limit), "--threads", str(threads)]
    row: dict = {"instance": instance, "solver": solver}
    try:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                              timeout=2 * time_limit + 60)
    except subprocess.TimeoutExpired:
        return row | {"status": f"timeout (>{2 * time_limit + 60:g} s)"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stderr[-3000:])
        return row | {"status": f"crash (exit {done.returncode})"}
    return json.loads(lines[-1])


def _number(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _relative(row: dict, base: dict | None) -> str:
    """Signed percent change of carbon against a baseline row of the same instance."""
    if base is None or "carbon_kg" not in row or not base.get("carbon_kg"):
        return ""
    return f"{100 * (row['carbon_kg'] - base['carbon_kg']) / base['carbon_kg']:+.1f}"


def table(rows: list[dict]) -> str:
    """The markdown table; an invalid plan is flagged in its status cell."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    base = {(r["instance"], r["solver"]): r for r in rows if r["solver"] in BASELINES}
    for r in rows:
        size = X.join(str(r[k]) for k in ("jobs", "nodes", "slots", "modes")) if "jobs" in r else ""
        status = r["status"] + ("" if r.get("valid", True) else ", INVALID")
        gap = None if r.get("gap") is None else 100 * r["gap"]
        cells = [r["instance"], size, r["solver"], status, _number(r.get("build_s")),
                 _number(r.get("solve_s")), _number(r.get("objective"), 3),
                 _number(r.get("bound"), 3), _number(gap), _number(r.get("peak_mb"), 0),
                 str(r.get("unplaced", "")), _relative(r, base.get((r["instance"], "fifo"))),
                 _relative(r, base.get((r["instance"], "best_window"))),
                 _relative(r, base.get((r["instance"], "greedy")))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    """What the table was measured on: timings only compare within one machine and run."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"Measured on {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{memory:.0f} GiB, Python {platform.python_version()}, "
            f"{time.strftime('%Y-%m-%d', time.gmtime())}.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--instances", default="S,M,L")
    parser.add_argument("--solvers", default="fifo,greedy,milp,cpsat")
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    instances = [name for name in args.instances.split(",") if name]
    unknown = [name for name in instances if name not in INSTANCES]
    if unknown:
        parser.error(f"unknown instance {unknown[0]!r}; choose from {', '.join(INSTANCES)}")
    solvers = list(dict.fromkeys([*BASELINES, *(s for s in args.solvers.split(",") if s)]))
    rows = []
    for instance in instances:
        for solver in solvers:
            rows.append(run_one(instance, solver, args.time_limit, args.threads))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    text = f"{machine()}\n\n{table(rows)}"
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
