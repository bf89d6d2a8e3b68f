"""A cluster's own run times, from its accounting, as the duration history plans learn from.

Why: the upper estimate a job's Slurm ``--time`` comes from, and the run time a plan reserves,
are learnt per workload from past runs (``duration_history``, :mod:`greenslot.model.durations`).
The runs that matter most are the cluster's own: after a night, ``greenslot ran --history
FILE`` adds every job of the plan that Slurm records as ``COMPLETED`` to ``FILE``, so the next
night's plan learns from them.

One row per run: ``workload, duration_h, actual_h, slurm_job_id, user``. ``duration_h`` is
what the job declared and ``actual_h`` what it took, both at the fastest mode (hours): the
run's real length in its planned power mode times the mode's relative throughput, because the
history's ratios are read at the fastest mode. Left out, each with a note:

- runs that did not complete (``TIMEOUT``: killed at the limit, so the real length is only
  known to be longer; ``FAILED``, ``CANCELLED``, ``OUT_OF_MEMORY``: not a run to the end);
- queued jobs (``slurm-<id>``) whose comment declared no ``duration_h``: their declared run
  time was the time limit, which is a bound, not an estimate;
- jobs whose workload the scenario does not know.

``slurm_job_id`` makes adding idempotent: a run already in the file is not added again, so
running ``ran --history`` twice over one night changes nothing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from greenslot.analysis.realised import Realised
from greenslot.atomic import write_text
from greenslot.model.errors import Location, ScenarioError
from greenslot.model.loader import load_duration_history
from greenslot.model.scenario import Scenario
from greenslot.slurm.intake import QUEUE_PREFIX, comment_fields, comment_hours
from greenslot.slurm.sacct import RunRecord

COLUMNS = ("workload", "duration_h", "actual_h", "slurm_job_id", "user")


@dataclass(frozen=True)
class PastRun:
    """One completed run, at the fastest mode."""

    workload: str
    duration_h: float
    actual_h: float
    slurm_job_id: int
    user: str


def _declared(scenario: Scenario, job_id: str, record: RunRecord) -> tuple[str, float] | str:
    """``(workload, declared duration_h)``, or why the run teaches nothing."""
    if scenario.has_job(job_id):
        job = scenario.job(job_id)
        return job.workload, job.duration_h
    if not job_id.startswith(QUEUE_PREFIX):
        return "not a job of the scenario"
    fields = comment_fields(record.comment)
    try:
        declared = comment_hours(fields, "duration_h")
    except ValueError as why:
        return str(why)
    if declared is None:
        return "its comment declares no duration_h (a time limit is a bound, not an estimate)"
    return fields.get("workload", "default"), declared


def past_runs(scenario: Scenario, schedule_rows: list[dict], realised: Realised,
              records: list[RunRecord]) -> tuple[list[PastRun], list[str]]:
    """The completed runs of a plan (``schedule.csv`` rows, ``ran``'s result and Slurm's records)
    and one note per submitted job left out."""
    rows = {row["job_id"]: row for row in schedule_rows}
    by_slurm_id = {r.slurm_id: r for r in records}
    runs: list[PastRun] = []
    notes: list[str] = []
    for job in realised.jobs:
        record = by_slurm_id.get(job.slurm_id)
        if record is None or job.state != "COMPLETED" or not job.realised:
            notes.append(f"{job.job_id}: {job.state or 'no record'}, not a complete run")
            continue
        declared = _declared(scenario, job.job_id, record)
        if isinstance(declared, str):
            notes.append(f"{job.job_id}: {declared}")
            continue
        workload, duration_h = declared
        row = rows[job.job_id]
        gpu_type = scenario.gpu_type(str(row["gpu_type"]))
        mode = gpu_type.mode(workload, float(row["power_limit_w"]))
        if mode is None:
            notes.append(f"{job.job_id}: GPU type {gpu_type.name} has no {workload} mode at "
                         f"{row['power_limit_w']} W")
            continue
        assert record.start_epoch is not None and record.end_epoch is not None  # it ran
        real_h = (record.end_epoch - record.start_epoch) / 3600
        if real_h <= 0:
            notes.append(f"{job.job_id}: ran for 0 s")
            continue
        runs.append(PastRun(workload, duration_h, real_h * mode.relative_throughput,
                            record.slurm_id, record.user))
    return runs, notes


def _existing_ids(path: Path) -> set[int]:
    """Slurm ids already in the history at ``path`` (which must have this module's header)."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header = tuple(reader.fieldnames or ())
        if header != COLUMNS:
            raise ScenarioError("bad_history", Location(str(path), "line 1", None),
                                f"header is {','.join(header)!r}; ran --history adds to a file "
                                f"with the header {','.join(COLUMNS)!r} (or a new file)")
        ids = set()
        for line, record in enumerate(reader, start=2):
            try:
                ids.add(int(record["slurm_job_id"]))
            except (TypeError, ValueError):
                raise ScenarioError("bad_history", Location(str(path), f"line {line}",
                                                            "slurm_job_id"),
                                    "not a Slurm job id") from None
    return ids


def _loads_as_history(path: Path) -> None:
    """Raises :class:`ScenarioError` unless ``path`` loads as a duration history."""
    load_duration_history(path)


def add_to_history(path: Path, runs: list[PastRun]) -> int:
    """Add ``runs`` not yet in ``path`` (a new file, or one this function wrote); the number
    added. The file is rewritten whole and atomically: a reader sees it before or after."""
    known = _existing_ids(path) if path.exists() else set()
    new = [r for r in runs if r.slurm_job_id not in known]
    old_text = path.read_text() if path.exists() else ""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if not old_text:
        writer.writerow(COLUMNS)
    for run in new:
        writer.writerow((run.workload, repr(run.duration_h), repr(run.actual_h),
                         run.slurm_job_id, run.user))
    if old_text and not old_text.endswith("\n"):
        old_text += "\n"
    # The whole file must load as a duration history before it replaces the old one.
    write_text(path, old_text + buffer.getvalue(), check=_loads_as_history)
    return len(new)


__all__ = ["COLUMNS", "PastRun", "add_to_history", "past_runs"]
