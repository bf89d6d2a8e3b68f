"""The queue as input: jobs users already submitted, planned, then moved in place in Slurm.

The opt-in set is **pending jobs whose comment starts with a marker** (default
``greenslot:queue``), optionally narrowed to a partition and a QOS (``sync --queue``,
``--queue-marker``, ``--queue-partition``, ``--queue-qos``). Why a comment marker and not a
partition or a QOS alone: it needs no change to ``slurm.conf`` or the accounting database (a
site can still narrow the set by partition or QOS), each user opts in job by job, and the
marker leaves room for the job's own estimates: ``--comment=greenslot:queue,duration_h=1.5,
workload=resnet50``. Users submit with ``--hold`` so that Slurm does not start the job before
greenslot has placed it; ``sync --apply`` sets ``StartTime`` and ``NodeList`` with one
``scontrol update``, then releases the hold, so the job keeps its Slurm id, user, account and
dependencies and waits for its planned start (reason ``BeginTime``).

Mapping (one :class:`~greenslot.model.scenario.Job` per queued job, ``job_id`` ``slurm-<id>``):
GPUs from ``--gres=gpu:N`` times the node count (or ``--gpus``); duration from the comment's
``duration_h`` where the user declared one, else the time limit; deadline from ``--deadline``;
dependencies from ``afterok``/``afterany`` on other jobs of the set; workload from the
comment's ``workload`` (default ``default``). A job that cannot be mapped (no GPUs, no time
limit and no estimate, a dependency outside the set, ...) gets one line saying why and is left
exactly as it is in Slurm, and so is every job that depends on it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from greenslot.model import hostlist
from greenslot.model.durations import (
    DurationPolicy,
    allowed_run_minutes,
    time_limit_minutes,
)
from greenslot.model.scenario import Job, Scenario
from greenslot.model.schedule import Schedule
from greenslot.slurm.commands import Runner, SlurmError, controller_time, run_slurm
from greenslot.slurm.queue import QueueJob
from greenslot.slurm.script import slurm_time_limit

DEFAULT_MARKER = "greenslot:queue"
QUEUE_PREFIX = "slurm-"
# Dependency kinds the planner's "ends before it starts" honours; others cannot be planned.
END_DEPENDENCIES = frozenset({"afterok", "afterany"})
# Comment fields greenslot writes when it moves a job (replaced on the next move).
PLAN_FIELDS = ("plan", "power_limit_w", "gpu_freq_mhz")


@dataclass(frozen=True)
class OptIn:
    """Which pending jobs greenslot may plan and move: the comment marker, partition, QOS."""

    marker: str = DEFAULT_MARKER
    partition: str | None = None
    qos: str | None = None

    def selects(self, job: QueueJob) -> bool:
        head = job.comment.split(",", 1)[0].strip()
        return (job.pending and head == self.marker
                and (self.partition is None or job.partition == self.partition)
                and (self.qos is None or job.qos == self.qos))


def queue_job_id(slurm_id: int) -> str:
    return f"{QUEUE_PREFIX}{slurm_id}"


def comment_fields(comment: str) -> dict[str, str]:
    """``key=value`` fields after the marker of an opt-in comment."""
    fields = {}
    for part in comment.split(",")[1:]:
        key, sep, value = part.partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


@dataclass
class Intake:
    """The queued jobs added to the scenario (``job_id -> QueueJob``) and those left out."""

    jobs: dict[str, QueueJob] = field(default_factory=dict)
    rejected: dict[int, str] = field(default_factory=dict)  # Slurm id -> why, one line each

    def lines(self) -> list[str]:
        return [f"Slurm job {slurm_id}: {why}; left as it is in Slurm"
                for slurm_id, why in sorted(self.rejected.items())]


class _Reject(ValueError):
    """Why one queued job cannot be planned."""


def _dependencies(text: str, selected: set[int]) -> tuple[int, ...]:
    """Slurm ids a job must wait for, each in ``selected``; raises :class:`_Reject` otherwise."""
    ids = []
    for part in filter(None, re.split(r"[,?]", text.strip())):
        kind, _, rest = part.partition(":")
        if not rest:
            raise _Reject(f"dependency {part!r} cannot be planned")
        if kind not in END_DEPENDENCIES:
            raise _Reject(f"dependency {kind} cannot be planned (only afterok and afterany)")
        for item in rest.split(":"):
            match = re.fullmatch(r"(\d+)(?:\+\d+)?(?:\((\w+)\))?", item)
            if match is None:
                raise _Reject(f"dependency {part!r} cannot be read")
            slurm_id, status = int(match.group(1)), match.group(2) or ""
            if status in ("fulfilled",):
                continue
            if slurm_id not in selected:
                raise _Reject(f"depends on Slurm job {slurm_id}, which is outside the opt-in set")
            ids.append(slurm_id)
    return tuple(ids)


def _gpus(scenario: Scenario, job: QueueJob) -> int:
    nodes = job.node_count or 1
    if job.gpus_per_node:
        total = job.gpus_per_node * nodes
    elif job.gpus_per_job:
        total = job.gpus_per_job
    else:
        raise _Reject("requests no GPUs (--gres=gpu:N or --gpus)")
    if nodes > 1 and not any(n.gpus * nodes == total for n in scenario.nodes):
        raise _Reject(f"{total} GPUs on {nodes} nodes: a multi-node job must take every GPU "
                      "of each node")
    return total


def comment_hours(fields: dict[str, str], key: str) -> float | None:
    """The hours a comment declares under ``key`` (None when it declares none).

    Raises ``ValueError`` (its message names the field) when the value is not a positive,
    finite number of hours.
    """
    if key not in fields:
        return None
    try:
        hours = float(fields[key])
    except ValueError:
        hours = float("nan")
    if not 0 < hours < float("inf"):
        raise ValueError(f"{key}={fields[key]!r} in the comment is not a positive number of "
                         "hours")
    return hours


def _duration_h(job: QueueJob, fields: dict[str, str]) -> float:
    try:
        hours = comment_hours(fields, "duration_h")
    except ValueError as why:
        raise _Reject(str(why)) from None
    if hours is not None:
        return hours
    if not job.time_limit_min:
        raise _Reject("no time limit (unset or UNLIMITED) and no duration_h in the comment")
    return job.time_limit_min / 60


def _duration_max_h(job: QueueJob, fields: dict[str, str], duration_h: float) -> float | None:
    """The upper estimate the comment declares (``duration_max_h=``), or None."""
    try:
        hours = comment_hours(fields, "duration_max_h")
    except ValueError:
        hours = float("nan")
    if hours is None:
        return None
    if not duration_h <= hours:
        raise _Reject(f"duration_max_h={fields['duration_max_h']!r} in the comment is not a "
                      f"number of hours at least duration_h ({duration_h:g})")
    return hours


def _with_uncertainty(scenario: Scenario, job: Job, live: QueueJob, declared: bool) -> Job:
    """``job`` with the upper estimate and reserved length the scenario's own jobs would get.

    The comment's ``duration_max_h`` is the upper estimate where given. Else, where the
    scenario's ``duration_history`` has enough runs of the job's user and workload, it learns
    them (``ran --history`` writes those runs). Else, where the comment declares
    ``duration_h``, the user's own time limit is the top of the range: they said the run ends
    within it at full speed, so a plan that slows it down raises the limit to match
    (:func:`queue_moves`), and it is never killed for the plan's choice of power mode.
    """
    policy = scenario.duration_policy or DurationPolicy()
    if job.duration_max_h is None and not policy.learns(job):
        limit_h = (live.time_limit_min or 0) / 60
        if not (declared and limit_h > job.duration_h):
            return job
        job = dataclasses.replace(job, duration_max_h=limit_h)
    return policy.apply(job)


def _map(scenario: Scenario, job: QueueJob, selected: set[int]) -> Job:
    fields = comment_fields(job.comment)
    workload = fields.get("workload", "default")
    if not any(workload in g.curves for g in scenario.gpu_types):
        raise _Reject(f"workload={workload!r}: no GPU type of the scenario has that curve")
    grid = scenario.grid
    deadline = grid.end
    if job.deadline_epoch:
        deadline = datetime.fromtimestamp(job.deadline_epoch, tz=UTC)
    partitions = {n.partition for n in scenario.nodes}
    duration_h = _duration_h(job, fields)
    mapped = Job(
        job_id=queue_job_id(job.slurm_id), gpus=_gpus(scenario, job),
        duration_h=duration_h, release=grid.start, deadline=deadline,
        workload=workload,
        partition=job.partition if job.partition in partitions else None,
        depends_on=tuple(queue_job_id(d) for d in _dependencies(job.dependency, selected)),
        # cores and memory it asks for a node: capacity where the scenario's nodes declare it
        cpus_per_task=job.cpus_per_task, mem_mb=job.memory_per_node_mb,
        duration_max_h=_duration_max_h(job, fields, duration_h), user=job.user_name or None)
    return _with_uncertainty(scenario, mapped, job, "duration_h" in fields)


def take_queue(scenario: Scenario, queue: list[QueueJob], opt_in: OptIn,
               planned: frozenset[int] = frozenset()) -> tuple[Scenario, Intake]:
    """The scenario with the opt-in set's jobs added, and what was taken and left out.

    ``planned``: Slurm ids ``sync`` already treats as the scenario's own (never taken twice).
    """
    intake = Intake()
    chosen = {j.slurm_id: j for j in queue if opt_in.selects(j) and j.slurm_id not in planned}
    mapped: dict[int, Job] = {}
    for slurm_id, job in sorted(chosen.items()):
        try:
            if scenario.has_job(queue_job_id(slurm_id)):
                raise _Reject(f"the scenario already has a job {queue_job_id(slurm_id)}")
            mapped[slurm_id] = _map(scenario, job, set(chosen))
        except _Reject as why:
            intake.rejected[slurm_id] = str(why)
    changed = True
    while changed:  # a job waiting for a job left out cannot be planned either
        changed = False
        for slurm_id, planned_job in list(mapped.items()):
            for dep in planned_job.depends_on:
                dep_id = int(dep.removeprefix(QUEUE_PREFIX))
                if dep_id not in mapped:
                    intake.rejected[slurm_id] = f"depends on Slurm job {dep_id}, which is left out"
                    del mapped[slurm_id]
                    changed = True
                    break
    for slurm_id, planned_job in mapped.items():
        intake.jobs[planned_job.job_id] = chosen[slurm_id]
    return scenario.replace(jobs=scenario.jobs + tuple(mapped.values())), intake


@dataclass(frozen=True)
class Move:
    """One queued job moved to its planned place: one ``scontrol update``, then the release."""

    job_id: str
    slurm_id: int
    fields: tuple[str, ...]
    release: bool

    def commands(self) -> list[list[str]]:
        update = ["scontrol", "update", f"JobId={self.slurm_id}", *self.fields]
        return [update, *([["scontrol", "release", str(self.slurm_id)]] if self.release else [])]

    def __str__(self) -> str:
        shown = " ".join(f for f in self.fields if not f.startswith("Comment="))
        return (f"{self.job_id} (Slurm job {self.slurm_id}): {shown}"
                + (", hold released" if self.release else ""))


def _comment(live: QueueJob, plan_id: str, power_limit_w: float,
             gpu_freq_mhz: float | None) -> str:
    head, *rest = [p.strip() for p in live.comment.split(",")]
    kept = [p for p in rest if p.partition("=")[0] not in PLAN_FIELDS]
    ours = [f"plan={plan_id}", f"power_limit_w={power_limit_w:g}"]
    if gpu_freq_mhz is not None:
        ours.append(f"gpu_freq_mhz={gpu_freq_mhz:g}")
    return ",".join([head, *kept, *ours])


def queue_moves(scenario: Scenario, schedule: Schedule, plan_id: str,
                intake: Intake) -> list[Move]:
    """The moves of each placed queued job (begin, nodes and the power tag in its comment)."""
    moves = []
    placed = schedule.by_job()
    for job_id, live in sorted(intake.jobs.items()):
        a = placed.get(job_id)
        if a is None:
            continue
        job = scenario.job(job_id)
        node = scenario.node(a.nodes[0])
        mode = scenario.gpu_type(node.gpu_type).mode(job.workload, a.power_limit_w)
        begin = controller_time(scenario.grid.time_of(a.start_slot).timestamp())
        comment = _comment(live, plan_id, a.power_limit_w,
                           mode.gpu_freq_mhz if mode is not None else None)
        fields = [f"StartTime={begin}", f"NodeList={hostlist.compress(a.nodes)}"]
        minutes = (a.end_slot - a.start_slot) * scenario.grid.slot.total_seconds() / 60
        upper = allowed_run_minutes(job, mode) or 0.0
        if live.time_limit_min is not None and max(minutes, upper - 1e-9) > live.time_limit_min:
            # The planned run, or a run to what the limit allows (the upper estimate, wider
            # where learnt), in the planned power mode outlasts the user's limit: raise it
            # (never lower it).
            fields.append(f"TimeLimit={slurm_time_limit(time_limit_minutes(job, mode, minutes))}")
        moves.append(Move(job_id, live.slurm_id, (*fields, f"Comment={comment}"), live.held))
    return moves


def apply_moves(moves: list[Move], runner: Runner = run_slurm,
                say: Callable[[str], None] = lambda _: None) -> dict[str, str]:
    """Run each move; a job whose update fails is not released (never half-moved).

    Returns ``job_id -> Slurm's message`` for the moves that failed; the others went through.
    """
    failed = {}
    for move in moves:
        update, *release = move.commands()
        try:
            runner(update)
        except SlurmError as exc:
            failed[move.job_id] = str(exc)
            say(f"not moved {move.job_id} (Slurm job {move.slurm_id}): {exc}; left as it is")
            continue
        try:
            for command in release:
                runner(command)
        except SlurmError as exc:
            failed[move.job_id] = str(exc)
            say(f"moved {move}, but the release failed: {exc}; it stays held")
            continue
        say(f"moved {move}")
    return failed
