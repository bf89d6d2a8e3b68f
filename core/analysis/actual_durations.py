"""Real run times for a replay: read from a file, or drawn from a history of past runs.

``simulate`` asks how a plan holds when jobs do not run their declared time. The real times
come either from the user (a CSV ``job_id, actual_h``: what each job really took at its
fastest mode, from Slurm's accounting) or are drawn, job by job, from a run-time history
(:func:`greenslot.model.loader.load_duration_history`): a job's real time is its
``duration_h`` times a ratio drawn from its workload's past runs (all workloads' runs pooled
where its own has fewer than :data:`~greenslot.model.durations.MIN_HISTORY_RUNS`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from greenslot.model.checks import fail
from greenslot.model.csvfile import read_strict_csv
from greenslot.model.durations import DurationHistory
from greenslot.model.loader import require_columns
from greenslot.model.scenario import Scenario

COLUMNS = ("job_id", "actual_h")


def read_actual_hours(path: Path, scenario: Scenario) -> dict[str, float]:
    """``job_id -> actual_h`` from a CSV; every job of ``scenario`` must have a row."""
    display = str(path)
    if not path.is_file():
        fail("missing_file", display, message="actual durations file not found")
    frame = read_strict_csv(path, display)
    require_columns(frame, COLUMNS, display, COLUMNS)
    hours: dict[str, float] = {}
    for line, record in zip(frame.attrs["lines"], frame.to_dict("records"), strict=True):
        where = f"line {line}"
        job_id = (record["job_id"] or "").strip()
        if not scenario.has_job(job_id):
            fail("unknown_job", display, where, "job_id",
                 f"no job named {job_id!r} in the scenario")
        if job_id in hours:
            fail("duplicate_name", display, where, "job_id", f"job {job_id!r} twice")
        try:
            value = float(record["actual_h"])
        except ValueError:
            fail("bad_number", display, where, "actual_h",
                 f"not a number: {record['actual_h']!r}")
        if not np.isfinite(value) or value <= 0:
            fail("bad_number", display, where, "actual_h", "must be a finite number > 0")
        hours[job_id] = value
    missing = [j.job_id for j in scenario.jobs if j.job_id not in hours]
    if missing:
        fail("missing_key", display, None, "job_id",
             f"no actual_h for {len(missing)} job(s), first {missing[0]!r}; give every job")
    return hours


def draw_actual_hours(scenario: Scenario, history: DurationHistory,
                      seed: int) -> dict[str, float]:
    """Each job's ``duration_h`` times a ratio drawn from its workload's past runs."""
    rng = np.random.default_rng(seed)
    pooled = tuple(sorted(r for ratios in history.ratios.values() for r in ratios))
    if not pooled:
        raise ValueError("the duration history has no runs")
    hours = {}
    for job in scenario.jobs:
        ratios = history.learnt(job.workload) or pooled
        hours[job.job_id] = job.duration_h * float(ratios[int(rng.integers(len(ratios)))])
    return hours


__all__ = ["draw_actual_hours", "read_actual_hours"]
