"""The hostile fuzzer: random hostile inputs through ``greenslot plan`` in a watched worker.

Why a worker process: the inputs are built to hang, exhaust memory or overflow, so the case
must not run inside the process that judges it. A worker (memory capped with RLIMIT_AS) runs
case after case in-process, which is fast; this process hands it one seed at a time and
kills and restarts it when a case takes longer than ``case_timeout_s``, counting a hang.

Each case draws one to three hostile mutations (:func:`hostile_cases.random_hostile`) of a
small valid scenario, sometimes hostile command-line values, and sometimes a site whose
provider drip-feeds or never ends its body (with a history to fall back on). A case *holds*
when ``plan``

* exits 2 or 3 with one stderr line, no traceback, nothing under ``--out``, or
* exits 0 with a summary.json free of NaN/Infinity that ``greenslot validate`` accepts, and
  (when a site name is hostile) a ``report`` that draws it;

anything else (a traceback, another exit code, a hang, a MemoryError, two lines) is a failure
reported with its seed and label, which reproduce it: ``python -m tests.trust.hostile_fuzz
--seed N``. Run at length with ``python -m tests.trust.hostile_fuzz --seconds 600``, or through
pytest with ``GREENSLOT_HOSTILE_FUZZ_SECONDS=600``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import random
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
MEMORY_CAP_BYTES = 8 * 2**30
"""Address space of the worker: a case asking numpy for 64 GiB fails there, not the machine."""

HOSTILE_ARGS = [
    ("--objective", '{"carbon_kg": NaN}'), ("--objective", "[1,2]"),
    ("--objective", '{"cost": 1e999}'), ("--objective", "[" * 50_000),
    ("--threads", "1e9"), ("--threads", "-1"), ("--time-limit", "inf"),
    ("--time-limit", "1e300"), ("--gap", "nan"), ("--set", "name=" + "[" * 5000),
    ("--set", "sites.s1.pue=1e308"), ("--set", "nodes.n[1-2].idle_w=.inf"),
    ("--forecast-deadline", "inf"),
]


@dataclass
class Outcome:
    seed: int
    label: str
    held: bool
    rc: int | None = None
    problem: str = ""
    seconds: float = 0.0


@dataclass
class Tally:
    tried: int = 0
    held: int = 0
    hangs: int = 0
    failures: list[Outcome] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: Outcome) -> None:
        self.tried += 1
        kind = outcome.label.split("|")[0].split("-")[0]
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        if outcome.held:
            self.held += 1
        else:
            self.failures.append(outcome)
            self.hangs += outcome.problem.startswith("hang")


# --- the worker side ------------------------------------------------------------------------

class _Servers:
    """Hostile providers, started once per worker and reused by every case that needs one."""

    def __init__(self) -> None:
        self._running: dict[str, object] = {}

    def url(self, kind: str) -> str:
        if kind not in self._running:
            from tests.helpers.hostile_server import HostileServer

            self._running[kind] = HostileServer(kind)
        return self._running[kind].url  # type: ignore[attr-defined]


def _with_provider(data, kind: str, url: str) -> None:
    """Site s1's carbon from a hostile provider, prices from a file, history to fall back on."""
    import pandas as pd

    start = pd.Timestamp(data.config["start"])
    index = pd.date_range(start - pd.Timedelta("14D"), start, freq="1h", inclusive="left")
    data.raw["history.csv"] = "time,carbon_g_per_kwh\n" + "".join(
        f"{t.isoformat()},{100 + (t.hour * 7) % 50}\n" for t in index)
    data.site["forecast"] = [{"provider": "uk-carbon-intensity", "base_url": url,
                              "history": "history.csv"}, "forecast-s1.csv"]
    for row in data.forecast:
        row.pop("carbon_g_per_kwh", None)


def draw_case(seed: int, servers: _Servers | None = None):
    """The mutations and extra arguments of case ``seed`` (the same on every machine)."""
    from tests.helpers.hostile_cases import random_hostile
    from tests.helpers.trust import Data

    rng = random.Random(seed)
    data = Data()
    labels = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        label, mutate = random_hostile(rng)
        labels.append(label)
        with contextlib.suppress(Exception):  # a mutation may not apply after another
            mutate(data)
    extra: list[str] = []
    if rng.random() < 0.2:
        flag, value = rng.choice(HOSTILE_ARGS)
        extra += [flag, value]
        labels.append(f"arg{flag}={value[:16]}")
    if servers is not None and rng.random() < 0.08:
        kind = rng.choice(["drip", "endless", "gzip_bomb"])
        _with_provider(data, kind, servers.url(kind))
        extra += ["--forecast-deadline", "1", "--forecast-retries", "1", "--offline"
                  if rng.random() < 0.1 else "--max-age=0"]
        labels.append(f"provider-{kind}")
    if rng.random() < 0.1:
        data.site["name"] = rng.choice(["tx$\\frac{$", "$x$", "a$b", "<b>&amp;"])
        for node in data.config["nodes"]:
            node["site"] = data.site["name"]
        labels.append("site-name-tex")
    return "|".join(labels), data, extra


def _run_cli(argv: list[str]) -> tuple[int, str]:
    """``greenslot`` in-process: exit code and stderr (argparse's SystemExit included)."""
    from greenslot.cli import main

    err = io.StringIO()
    logging.root.handlers.clear()  # main() configures logging to the stderr of its call
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 2
    return rc, err.getvalue()


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} in summary.json")


def judge(seed: int, workdir: Path, servers: _Servers | None) -> Outcome:
    """Run case ``seed`` in ``workdir`` and say whether it held."""
    started = time.monotonic()
    label, data, extra = draw_case(seed, servers)
    folder = workdir / f"case{seed}"
    scenario = data.write(folder / "scenario")
    out = folder / "out"
    outcome = Outcome(seed, label, held=False)
    try:
        rc, err = _run_cli(["plan", str(scenario), "--out", str(out), "-q", *extra])
        outcome.rc = rc
        outcome.problem = _problem(rc, err, out, scenario, "site-name-tex" in label)
    except BaseException as exc:  # anything escaping main() is the finding
        if isinstance(exc, KeyboardInterrupt):
            raise
        outcome.problem = "escaped main(): " + "".join(
            traceback.format_exception_only(type(exc), exc)).strip()[:400]
    outcome.held = not outcome.problem
    outcome.seconds = time.monotonic() - started
    shutil.rmtree(folder, ignore_errors=True)
    return outcome


def _problem(rc: int, err: str, out: Path, scenario: Path, draw_report: bool) -> str:
    if "Traceback" in err:
        return f"traceback (rc {rc}): {err[-400:]}"
    if rc in (2, 3):
        if err.count("\n") != 1 or not err.startswith("greenslot"):
            return f"rc {rc} with {err.count(chr(10))} stderr lines: {err[:400]!r}"
        if len(err) > 2000:
            return f"rc {rc}: a {len(err)}-character error line (a hostile value echoed)"
        if out.exists():
            return f"rc {rc} but {out} was written"
        return ""
    if rc != 0:
        return f"rc {rc}: {err[:400]!r}"
    try:
        json.loads((out / "summary.json").read_text(), parse_constant=_reject_constant)
    except (OSError, ValueError) as exc:
        return f"rc 0 but summary.json: {exc}"
    valid_rc, valid_err = _run_cli(["validate", str(scenario), str(out)])
    if valid_rc != 0:
        return f"rc 0 but validate gave {valid_rc}: {valid_err[:400]!r}"
    if draw_report:
        report_rc, report_err = _run_cli(["report", str(out)])
        if report_rc != 0 or not (out / "report.html").exists():
            return f"report gave {report_rc}: {report_err[:400]!r}"
    return ""


def worker() -> None:
    """Read seeds from stdin, one per line; answer each with one JSON line on stdout."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, MEMORY_CAP_BYTES))
    servers = _Servers()
    answer = sys.stdout
    sys.stdout = sys.stderr  # nothing else may write on the answer channel
    with tempfile.TemporaryDirectory(prefix="hostile-fuzz-") as tmp:
        for line in sys.stdin:
            seed = int(line)
            outcome = judge(seed, Path(tmp), servers)
            answer.write(json.dumps(outcome.__dict__) + "\n")
            answer.flush()


# --- the judging side -----------------------------------------------------------------------

class _Worker:
    def __init__(self) -> None:
        paths = [str(HERE.parent.parent), os.environ.get("PYTHONPATH", "")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from tests.trust import hostile_fuzz; hostile_fuzz.worker()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, env=env, cwd=HERE.parent.parent)

    def ask(self, seed: int, timeout_s: float) -> Outcome:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(f"{seed}\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        if not ready:
            self.close()
            return Outcome(seed, _label(seed), held=False,
                           problem=f"hang: no answer in {timeout_s:g} s")
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait()
            self.close()
            return Outcome(seed, _label(seed), held=False,
                           problem=f"worker died (exit {code}): a crash or memory kill")
        return Outcome(**json.loads(line))

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):  # a killed worker's pipe may be broken
                    pipe.close()


def _label(seed: int) -> str:
    return draw_case(seed)[0]


def run(first_seed: int = 0, cases: int | None = None, seconds: float | None = None,
        case_timeout_s: float = 120.0, progress: bool = False) -> Tally:
    """Run cases from ``first_seed`` on until ``cases`` are done or ``seconds`` have passed."""
    tally = Tally()
    worker: _Worker | None = None
    ends = None if seconds is None else time.monotonic() + seconds
    seed = first_seed
    try:
        while (cases is None or tally.tried < cases) and (ends is None
                                                          or time.monotonic() < ends):
            if worker is None or not worker.alive():
                worker = _Worker()
            outcome = worker.ask(seed, case_timeout_s)
            tally.add(outcome)
            if progress and not outcome.held:
                print(f"FAILED seed {seed} [{outcome.label}]: {outcome.problem}", flush=True)
            seed += 1
    finally:
        if worker is not None:
            worker.close()
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, help="run for this long")
    parser.add_argument("--cases", type=int, help="run this many cases")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--case-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    if args.seconds is None and args.cases is None:
        args.cases = 1
    started = time.monotonic()
    tally = run(args.seed, args.cases, args.seconds, args.case_timeout, progress=True)
    took = time.monotonic() - started
    print(f"hostile fuzz: {tally.tried} cases tried, {tally.held} held, "
          f"{len(tally.failures)} failed ({tally.hangs} hangs) in {took:.0f} s; seeds "
          f"{args.seed}..{args.seed + tally.tried - 1}")
    print("kinds: " + ", ".join(f"{k} {n}" for k, n in sorted(tally.by_kind.items())))
    return 0 if not tally.failures else 1


if __name__ == "__main__":
    sys.exit(main())
