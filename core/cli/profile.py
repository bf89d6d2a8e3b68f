"""``greenslot profile``: measure a command's GPU energy, or sweep power limits into a curve.

Read-only by default: the command runs once while NVML is sampled. With
``--sweep-power-limits`` it runs once per limit (root only) and the measurements become a
contract power curve; the original limits are restored on every exit path.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from greenslot.cli.args import one_line_errors, positive_float, watts_list
from greenslot.power.profiling.energy import summarise_all
from greenslot.power.profiling.limits import PowerLimitGuard
from greenslot.power.profiling.nvml import Gpu, ProfileError, load_pynvml, open_gpus
from greenslot.power.profiling.record import energy_dict, summary_line, write_record
from greenslot.power.profiling.workload import WorkloadRun

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _gpu_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected GPU indices like 0,1, got {text!r}") from None
    if any(v < 0 for v in values) or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"GPU indices must be >= 0 and distinct: {text!r}")
    return values


def add_parser(verbs: argparse._SubParsersAction) -> None:
    """Register ``profile`` on the top-level ``verbs``."""
    p = verbs.add_parser(
        "profile", help="measure GPU energy of a command through NVML, or sweep power limits",
        description="Run COMMAND while sampling NVML. Without --sweep-power-limits nothing on "
                    "the GPU is changed.")
    p.add_argument("--gpus", type=_gpu_list, default=None, metavar="I,J",
                   help="GPU indices to sample (default: all)")
    p.add_argument("--interval-ms", type=positive_float, default=100.0, metavar="MS",
                   help="sampling interval (default 100 ms)")
    p.add_argument("--out", type=Path, default=None, metavar="CSV",
                   help="samples CSV (default profile.csv; a summary JSON goes beside it); "
                        "with --sweep-power-limits: the power curve to write (required)")
    p.add_argument("--sweep-power-limits", type=watts_list, default=None, metavar="W,W,...",
                   help="run COMMAND once per power limit and write a power curve (needs "
                        "root; the original limits are always restored)")
    measure = p.add_mutually_exclusive_group()
    measure.add_argument("--throughput-regex", default=None, metavar="REGEX",
                         help="throughput is the median of the numbers REGEX (its first group, "
                              "if any) finds in COMMAND's output")
    measure.add_argument("--fixed-work", action="store_true",
                         help="COMMAND does a fixed amount of work: throughput is 1 / duration")
    p.add_argument("--workload", default="default", metavar="NAME",
                   help="workload name of the curve rows (default 'default')")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")


@contextmanager
def _sigterm_as_interrupt():
    """Treat SIGTERM (Slurm's scancel, kill) like Ctrl-C, so the same cleanup runs."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _paths(args: argparse.Namespace) -> tuple[Path | None, Path, Path]:
    """(curve or None, samples CSV, summary JSON)."""
    if args.sweep_power_limits is not None:
        curve = args.out
        return curve, curve.with_name(curve.stem + ".samples.csv"), \
            curve.with_name(curve.stem + ".summary.json")
    samples = args.out if args.out is not None else Path("profile.csv")
    return None, samples, samples.with_name(samples.stem + ".summary.json")


def _checked(args: argparse.Namespace) -> tuple[list[str], re.Pattern[str] | None]:
    argv = list(args.command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise ProfileError("no command to profile; usage: greenslot profile [options] -- "
                           "COMMAND [ARGS...]")
    sweep = args.sweep_power_limits is not None
    if sweep and args.out is None:
        raise ProfileError("--sweep-power-limits needs --out CURVE.csv")
    if sweep and args.throughput_regex is None and not args.fixed_work:
        raise ProfileError("--sweep-power-limits needs --throughput-regex REGEX or --fixed-work")
    if not sweep and (args.throughput_regex is not None or args.fixed_work):
        raise ProfileError("--throughput-regex and --fixed-work only apply with "
                           "--sweep-power-limits")
    pattern = None
    if args.throughput_regex is not None:
        try:
            pattern = re.compile(args.throughput_regex)
        except re.error as exc:
            raise ProfileError(f"--throughput-regex: {exc}") from None
    for path in _paths(args):
        if path is not None and not path.parent.is_dir():
            raise ProfileError(f"--out: folder {path.parent} does not exist")
        if path is not None and path.is_dir():
            raise ProfileError(f"--out: {path} is a folder; it names a file")
    if "," in args.workload or not args.workload.strip():
        raise ProfileError(f"--workload: {args.workload!r} is not a usable workload name")
    return argv, pattern


def _header(argv: list[str], gpus: list[Gpu], args: argparse.Namespace) -> dict:
    return {"command": argv, "gpus": [{"index": g.index, "name": g.name} for g in gpus],
            "interval_ms": args.interval_ms}


def _run_summary(limit: float | None, run: WorkloadRun, samples: list, throughput=None) -> dict:
    return {"power_limit_w": limit, "returncode": run.returncode,
            "interrupted": run.interrupted, "duration_s": run.duration_s,
            "throughput": throughput,
            "gpus": [energy_dict(e) for e in summarise_all(samples)] if samples else []}


def cmd_profile(args: argparse.Namespace) -> int:
    """The ``profile`` verb on the real NVML."""
    from greenslot.power.curves.table import CurveError  # pandas: not for --help

    return one_line_errors(ProfileError, CurveError)(run_profile)(args)


def run_profile(args: argparse.Namespace, nvml: Any = None,
                geteuid: Callable[[], int] = os.geteuid,
                clock: Callable[[], float] | None = None) -> int:
    """Run ``profile``; ``nvml``, ``geteuid`` and ``clock`` are injectable for replays.

    Exit codes: 0 done; 1 the command failed (record written, no curve); 2 bad usage, no
    NVML/GPU/permission (nothing run, nothing written); 130 interrupted (record written,
    limits restored).
    """
    argv, pattern = _checked(args)
    nvml = load_pynvml() if nvml is None else nvml
    gpus = open_gpus(nvml, args.gpus)
    try:
        with _sigterm_as_interrupt():
            if args.sweep_power_limits is None:
                return _plain(args, nvml, gpus, argv, clock)
            return _sweep(args, nvml, gpus, argv, pattern, geteuid, clock)
    finally:
        nvml.nvmlShutdown()


def _plain(args, nvml, gpus: list[Gpu], argv: list[str], clock) -> int:
    from greenslot.power.profiling.sweep import profile_once

    _, samples_path, summary_path = _paths(args)
    interrupted, error = False, None
    try:
        run, samples, error = profile_once(nvml, gpus, argv, args.interval_ms / 1000, None, clock)
    except KeyboardInterrupt as exc:
        interrupted = True
        run = getattr(exc, "run", WorkloadRun(argv, interrupted=True))
        samples = getattr(exc, "samples", [])
        error = getattr(exc, "sampler_error", None)
    summary = {**_header(argv, gpus, args), "interrupted": interrupted, "sampler_error": error,
               "runs": [_run_summary(None, run, samples)]}
    write_record(samples_path, summary_path, [(None, samples)], summary)
    names = {g.index: g.name for g in gpus}
    for energy in summarise_all(samples):
        print(summary_line(energy, names[energy.gpu]))
    print(f"samples: {samples_path}, summary: {summary_path}")
    if interrupted:
        print("greenslot: interrupted; the record of what ran is written", file=sys.stderr)
        return EXIT_INTERRUPTED
    if error is not None:
        print(f"greenslot: error: {error}; samples up to then are written", file=sys.stderr)
        return EXIT_USAGE
    if run.returncode != 0:
        print(f"greenslot: the command exited with status {run.returncode}; its record is "
              f"written", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _sweep(args, nvml, gpus: list[Gpu], argv: list[str], pattern, geteuid, clock) -> int:
    from greenslot.power.curves.table import write_curve
    from greenslot.power.profiling.sweep import Sweep, curve_rows, run_sweep

    curve_path, samples_path, summary_path = _paths(args)
    assert curve_path is not None, "a sweep always has --out CURVE.csv (see _checked)"
    sweep, guard = Sweep(), PowerLimitGuard(nvml, gpus, args.sweep_power_limits, geteuid)
    interrupted, error = False, None
    with guard:  # entering checks root and the limit ranges; leaving restores the originals
        try:
            run_sweep(nvml, gpus, args.sweep_power_limits, argv, args.interval_ms / 1000,
                      pattern, args.fixed_work, sweep, guard, clock)
        except KeyboardInterrupt:
            interrupted = True
        except ProfileError as exc:
            error = str(exc)
    summary = {**_header(argv, gpus, args), "interrupted": interrupted, "error": error,
               "original_power_limits_w": {str(i): mw / 1000
                                           for i, mw in guard.original_mw.items()},
               "restore_failures": guard.restore_failures,
               "runs": [_run_summary(r.limit_w, r.run, r.samples, r.throughput)
                        for r in sweep.runs]}
    write_record(samples_path, summary_path, [(r.limit_w, r.samples) for r in sweep.runs],
                 summary)
    names = {g.index: g.name for g in gpus}
    for limit_run in sweep.runs:
        for energy in limit_run.energy:
            print(f"{limit_run.limit_w:g} W: {summary_line(energy, names[energy.gpu])}")
    restored = "not restored, see above" if guard.restore_failures else "restored"
    if interrupted:
        print(f"greenslot: interrupted; original power limits {restored}; record in "
              f"{samples_path}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if error is not None:
        print(f"greenslot: error: {error}; original power limits {restored}", file=sys.stderr)
        return EXIT_USAGE
    failed = [r for r in sweep.runs if not r.run.succeeded]
    if failed:
        print(f"greenslot: at {failed[0].limit_w:g} W the command exited with status "
              f"{failed[0].run.returncode}; original power limits {restored}; no curve "
              f"written, record in {samples_path}", file=sys.stderr)
        return EXIT_FAILED
    rows = curve_rows(sweep, args.workload)
    write_curve(rows, curve_path)
    print(f"wrote {curve_path}: workload {args.workload!r}, "
          + ", ".join(f"{r.power_limit_w:g} W: {r.power_w:g} W x{r.relative_throughput:g}"
                      for r in rows))
    if guard.restore_failures:
        return EXIT_FAILED
    return EXIT_OK
