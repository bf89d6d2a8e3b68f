"""``greenslot sync SCENARIO --out DIR [--apply]``: re-plan against the live queue.

Why not resubmit: a pending job keeps its Slurm id, its place among its dependants'
``--dependency`` and its history; moving it with ``scontrol update`` changes only what the new
plan changes. The steps:

1. read ``squeue --json`` and keep the jobs this scenario's plans submitted: tagged
   ``greenslot:``, named like a job of the scenario, of the calling user, and either tagged
   with this scenario's key (``scenario=``) or recorded in the ledger of the output folder.
   Every other job is left alone, always (``sync`` may run as root, and any user can copy a
   tag into a comment);
2. a running job becomes pinned where and since when it runs, at the power limit its tag
   records; a job that has finished is taken out of the scenario (with a dependency on it
   dropped when it COMPLETED; its dependants are taken out too when it did not);
3. plan the rest as usual (pending jobs of earlier plans included) and write the plan to DIR,
   with the ledger already mapping the jobs Slurm has, so ``greenslot submit DIR`` submits
   only jobs that are new;
4. for each pending job the plan moves: ``scontrol update JobId=... StartTime=...
   NodeList=... TimeLimit=...`` (and ``Comment=`` with the new plan's tag and power limit),
   printed, and run with ``--apply``. A pending job the new plan leaves unplaced is left as
   it is in Slurm and reported.

A job recorded in the ledger of ``--out`` whose Slurm job is no longer in the queue at all
(purged after ``MinJobAge``) is taken as done, not planned again.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from greenslot.model import hostlist
from greenslot.model.errors import Conflict, InfeasibleError
from greenslot.model.scenario import Job, Scenario
from greenslot.model.schedule import Schedule
from greenslot.slurm.commands import Runner, controller_time, run_slurm
from greenslot.slurm.ledger import Ledger, ledger_path
from greenslot.slurm.queue import QueueJob, parse_tag, read_queue, scenario_key
from greenslot.slurm.script import plan_submissions

DONE_OK = "COMPLETED"


@dataclass(frozen=True)
class Change:
    """One pending job the new plan moves: Slurm's current values and the planned ones."""

    job_id: str
    slurm_id: int
    fields: dict[str, tuple[str, str]]  # name -> (current, planned)

    def command(self) -> list[str]:
        return ["scontrol", "update", f"JobId={self.slurm_id}",
                *(f"{name}={planned}" for name, (_, planned) in self.fields.items())]

    def __str__(self) -> str:
        moved = ", ".join(f"{name} {old or '-'} -> {new}"
                          for name, (old, new) in self.fields.items())
        return f"{self.job_id} (Slurm job {self.slurm_id}): {moved}"


@dataclass
class LiveState:
    """What the queue says about the scenario's jobs."""

    running: dict[str, QueueJob] = field(default_factory=dict)
    pending: dict[str, QueueJob] = field(default_factory=dict)
    finished: dict[str, QueueJob] = field(default_factory=dict)
    gone: dict[str, str] = field(default_factory=dict)  # job -> Slurm id the ledger recorded
    notes: list[str] = field(default_factory=list)
    queue: list[QueueJob] = field(default_factory=list)  # every job squeue showed


def adopted(scenario: Scenario, job: QueueJob, recorded: frozenset[int]) -> bool:
    """Whether ``sync`` may treat a queued job as one of this scenario's.

    The comment alone proves nothing (any user can write it), so the job must be the calling
    user's, and be tied to this scenario by its tag's key or by a ledger line of ours.
    """
    tag = job.tag
    if not tag or not scenario.has_job(job.name) or not job.owned:
        return False
    return tag.get("scenario") == scenario_key(scenario.name) or job.slurm_id in recorded


def live_state(scenario: Scenario, queue: list[QueueJob],
               recorded: frozenset[int] = frozenset()) -> LiveState:
    """Our jobs of this scenario by state; the newest Slurm job wins when a name repeats.

    ``recorded``: Slurm ids in the output folder's ledger (see :func:`adopted`).
    """
    state = LiveState()
    for job in sorted(queue, key=lambda j: j.slurm_id):
        if not adopted(scenario, job, recorded):
            continue
        for group in (state.running, state.pending, state.finished):
            group.pop(job.name, None)
        if job.running:
            state.running[job.name] = job
        elif job.pending:
            state.pending[job.name] = job
        else:
            state.finished[job.name] = job
    return state


def _floor_to_slot(scenario: Scenario, epoch: int) -> datetime:
    grid = scenario.grid
    when = datetime.fromtimestamp(epoch, tz=UTC)
    return grid.time_of(math.floor(grid.offset_slots(when) + 1e-9))


def live_scenario(scenario: Scenario, state: LiveState) -> Scenario:
    """The scenario as the queue leaves it: running jobs pinned, finished jobs taken out.

    Raises
    ------
    InfeasibleError
        A running job cannot be pinned inside the horizon (it runs past its end).
    """
    removed = {name: job.state for name, job in state.finished.items()}
    for name, slurm_id in state.gone.items():
        if scenario.has_job(name) and name not in removed:
            # squeue forgets a finished job after MinJobAge; its state is lost with it. Taken as
            # COMPLETED: its dependants were submitted with afterok and Slurm settles them.
            removed[name] = DONE_OK
            state.notes.append(f"{name}: Slurm job {slurm_id} (in the ledger) is no longer in "
                               "the queue; taken as done, not planned")
    grid = scenario.grid
    jobs: dict[str, Job] = {j.job_id: j for j in scenario.jobs}
    for name, live in state.running.items():
        job = jobs[name]
        nodes = tuple(n for n in live.nodes if scenario.has_node(n))
        if not live.start_epoch or len(nodes) != len(live.nodes) or not nodes:
            state.notes.append(f"{name}: running on {','.join(live.nodes) or '?'}, not all "
                               "nodes of the scenario; planned around as finished")
            removed[name] = "RUNNING elsewhere"
            continue
        start = _floor_to_slot(scenario, live.start_epoch)
        limit = live.tag.get("power_limit_w")
        node = scenario.node(nodes[0])
        curve = scenario.gpu_type(node.gpu_type)
        power = job.power_limit_w
        if limit and curve.mode(job.workload, float(limit)):
            power = float(limit)
        pinned = dataclasses.replace(job, pinned_start=start, pinned_nodes=nodes,
                                     power_limit_w=power)
        mode = curve.mode(job.workload, power) if power else curve.modes(job.workload)[0]
        # The tagged limit is on this curve (checked above); a job's own limit is too, since
        # plans only put a job on nodes whose curve has its limit.
        assert mode is not None, f"{name}: {power} W is not a mode of {node.gpu_type}"
        end_slot = round(grid.offset_slots(start)) + grid.slots_for_hours(
            job.planned_h / mode.relative_throughput)
        if end_slot <= 0:
            removed[name] = "RUNNING, ends before the horizon"
            continue
        if end_slot > grid.n_slots:
            raise InfeasibleError([Conflict((name,), "running in Slurm until past the horizon "
                                            f"end {grid.end.isoformat()}; extend the horizon")])
        jobs[name] = pinned
    # Dependants of jobs that did not complete cannot run (afterok): take them out too.
    changed = True
    while changed:
        changed = False
        for job in list(jobs.values()):
            if job.job_id in removed:
                continue
            failed = [d for d in job.depends_on if removed.get(d, DONE_OK) != DONE_OK]
            if failed:
                removed[job.job_id] = f"depends on {failed[0]} ({removed[failed[0]]})"
                changed = True
    for name, why in removed.items():
        jobs.pop(name, None)
        if name not in state.gone:
            state.notes.append(f"{name}: {why}, not planned")
    kept = []
    for original in scenario.jobs:
        if original.job_id in jobs:
            job = jobs[original.job_id]
            deps = tuple(d for d in job.depends_on if d not in removed)
            kept.append(dataclasses.replace(job, depends_on=deps))
    return scenario.replace(jobs=tuple(kept))


def planned_changes(scenario: Scenario, schedule: Schedule, plan_id: str,
                    state: LiveState) -> list[Change]:
    """``scontrol update`` fields for each pending job whose Slurm values differ from the plan.

    It takes the plan's parts, not the pipeline's ``Plan``, so that Slurm code never imports
    the pipeline that calls it.
    """
    by_job = {s.job_id: s for s in plan_submissions(scenario, schedule, plan_id).jobs}
    changes = []
    for name, live in sorted(state.pending.items()):
        planned = by_job.get(name)
        if planned is None:
            continue
        args = dict(a[2:].split("=", 1) for a in planned.args if a.startswith("--"))
        begin = controller_time(planned.begin_epoch)
        current_begin = controller_time(live.begin_epoch) if live.begin_epoch else ""
        wanted = {
            "StartTime": (current_begin, begin),
            "NodeList": (hostlist.compress(live.required_nodes) if live.required_nodes else "",
                         args["nodelist"]),
            "TimeLimit": (_limit_text(live.time_limit_min), args["time"]),
        }
        fields = {k: v for k, v in wanted.items() if v[0] != v[1]}
        power = parse_tag(args["comment"]).get("power_limit_w")
        if fields or live.tag.get("power_limit_w") != power:
            # Re-tagged only when it moves: the tag carries the power limit the prolog applies.
            fields["Comment"] = (live.comment, args["comment"])
        if fields:
            changes.append(Change(name, live.slurm_id, fields))
    return changes


def _limit_text(minutes: int | None) -> str:
    if minutes is None:
        return ""
    days, rest = divmod(minutes, 1440)
    return f"{days}-{rest // 60:02d}:{rest % 60:02d}:00"


def record_known(schedule: Schedule, plan_id: str, state: LiveState, plan_dir: Path) -> None:
    """Ledger lines for the jobs Slurm already has, under the new plan id."""
    ledger = Ledger(ledger_path(plan_dir))
    known = ledger.ids(plan_id)
    placed = {a.job_id for a in schedule.assignments}
    for name, live in sorted({**state.running, **state.pending}.items()):
        if name in placed and known.get(name) != str(live.slurm_id):
            ledger.append(name, str(live.slurm_id), plan_id)


def apply_changes(changes: list[Change], runner: Runner = run_slurm,
                  say: Callable[[str], None] = lambda _: None) -> None:
    for change in changes:
        runner(change.command())
        say(f"updated {change}")


def read_live(scenario: Scenario, runner: Runner = run_slurm,
              plan_dir: Path | None = None) -> tuple[Scenario, LiveState]:
    """The scenario re-based on the queue, and the queue's view of it.

    ``plan_dir``: the output folder; the Slurm ids in its ledger count as this scenario's, and
    a job recorded there whose Slurm job has left the queue is taken as done (``gone``), so a
    second run into the same folder never submits a finished job again. The whole queue read
    is kept in ``state.queue`` (the opt-in set and the foreign load are read from it).
    """
    entries = Ledger(ledger_path(plan_dir)).entries() if plan_dir is not None else []
    recorded = frozenset(int(slurm_id) for _, slurm_id, _ in entries)
    queue = read_queue(runner)
    state = live_state(scenario, queue, recorded)
    state.queue = queue
    in_queue = {job.slurm_id for job in queue}
    seen = {**state.running, **state.pending, **state.finished}
    last = {job: slurm_id for job, slurm_id, _ in entries}  # the last line of a job wins
    state.gone = {job: slurm_id for job, slurm_id in last.items()
                  if job not in seen and int(slurm_id) not in in_queue}
    return live_scenario(scenario, state), state
