"""Run a workload once per power limit and turn the measurements into a contract curve.

Throughput per limit comes either from the command's own output (``--throughput-regex``: the
median of the numbers it prints, robust to a slow first step) or, for a command that does a
fixed amount of work (``--fixed-work``), from its duration (work / time, the work being 1).
``power_w`` of a limit is the mean over the selected GPUs of each GPU's mean power: a curve row
is one GPU's draw.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from greenslot.power.curves.table import CurveError, CurveRow, normalised
from greenslot.power.profiling.energy import GpuEnergy, summarise_all
from greenslot.power.profiling.limits import PowerLimitGuard
from greenslot.power.profiling.nvml import Gpu, ProfileError
from greenslot.power.profiling.sampler import Sample, Sampler
from greenslot.power.profiling.workload import WorkloadRun, run_workload


@dataclass
class LimitRun:
    """One run of the workload at one power limit."""

    limit_w: float
    run: WorkloadRun
    samples: list[Sample]
    energy: list[GpuEnergy]
    throughput: float | None = None


@dataclass
class Sweep:
    """Everything a sweep measured so far (complete or not)."""

    runs: list[LimitRun] = field(default_factory=list)
    restore_failures: list[str] = field(default_factory=list)


LIMIT_TOLERANCE_W = 0.5


def check_limit_held(samples: Sequence[Sample], limit_w: float) -> None:
    """Refuse a run whose GPUs did not run at the limit the sweep set.

    Why: another tool (a second profiler, a node health check, ``nvidia-smi -pl``) can change a
    limit mid-run, and a curve row labelled 200 W that ran at 300 W would mislead every plan.
    """
    for sample in samples:
        if sample.power_limit_w is not None and \
                abs(sample.power_limit_w - limit_w) > LIMIT_TOLERANCE_W:
            raise ProfileError(f"GPU {sample.gpu} ran at a {sample.power_limit_w:g} W limit, not "
                               f"the {limit_w:g} W the sweep set (did another tool change it?)")


def throughput_of(run: WorkloadRun, fixed_work: bool) -> float:
    """Work per second of one run (any unit; the curve divides by the fastest)."""
    if fixed_work:
        if not run.duration_s > 0:
            raise ProfileError("--fixed-work: the command took no measurable time")
        return 1.0 / run.duration_s
    if not run.matches:
        raise ProfileError("--throughput-regex matched nothing in the command's output")
    return statistics.median(run.matches)


def profile_once(nvml: Any, gpus: Sequence[Gpu], argv: Sequence[str], interval_s: float,
                 pattern: re.Pattern[str] | None,
                 clock: Callable[[], float] | None = None,
                 runner: Callable[..., WorkloadRun] = run_workload,
                 ) -> tuple[WorkloadRun, list[Sample], str | None]:
    """Sample ``gpus`` while ``argv`` runs; returns the run, the samples and a sampler error.

    On KeyboardInterrupt the samples so far are attached to the exception as ``.samples``.
    """
    sampler = Sampler(nvml, gpus, interval_s) if clock is None else \
        Sampler(nvml, gpus, interval_s, clock)
    try:
        sampler.start()
        run = runner(argv, pattern)
    except KeyboardInterrupt as exc:
        exc.samples = sampler.stop()  # type: ignore[attr-defined]
        exc.sampler_error = sampler.error  # type: ignore[attr-defined]
        raise
    except BaseException:
        sampler.stop()
        raise
    return run, sampler.stop(), sampler.error


def run_sweep(nvml: Any, gpus: Sequence[Gpu], limits_w: Sequence[float], argv: Sequence[str],
              interval_s: float, pattern: re.Pattern[str] | None, fixed_work: bool,
              sweep: Sweep, guard: PowerLimitGuard,
              clock: Callable[[], float] | None = None,
              runner: Callable[..., WorkloadRun] = run_workload) -> None:
    """Run every limit in turn, appending to ``sweep``; stops at the first failed run.

    The caller opens ``guard`` (which restores the original limits on exit) so that it can
    write the record of a partial sweep after Ctrl-C too.
    """
    for limit in limits_w:
        guard.set(limit)
        try:
            run, samples, error = profile_once(nvml, gpus, argv, interval_s, pattern, clock,
                                               runner)
        except KeyboardInterrupt as exc:
            partial = getattr(exc, "samples", [])
            sweep.runs.append(LimitRun(limit, getattr(exc, "run", WorkloadRun(list(argv),
                                                                            interrupted=True)),
                                       partial, summarise_all(partial) if partial else []))
            raise
        energy = summarise_all(samples)
        sweep.runs.append(LimitRun(limit, run, samples, energy))
        if error is not None:
            raise ProfileError(f"at {limit:g} W: {error}")
        check_limit_held(samples, limit)
        if not run.succeeded:
            return
        sweep.runs[-1].throughput = throughput_of(run, fixed_work)


def curve_rows(sweep: Sweep, workload: str) -> list[CurveRow]:
    """Contract rows from a complete sweep; refuses a limit without a measured mean power."""
    measured = []
    for limit_run in sweep.runs:
        powers = [e.mean_power_w for e in limit_run.energy if e.mean_power_w is not None]
        if (not powers or len(powers) < len(limit_run.energy)
                or limit_run.throughput is None):
            raise ProfileError(f"at {limit_run.limit_w:g} W NVML gave no power or energy "
                               f"reading; no curve written")
        measured.append((limit_run.limit_w, sum(powers) / len(powers), limit_run.throughput))
    try:
        return normalised(workload, measured)
    except CurveError as exc:
        raise ProfileError(str(exc)) from None
