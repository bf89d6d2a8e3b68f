"""``submit``'s last look: does the plan still fit what Slurm holds right now?

A plan is made against the queue as ``sync`` read it; by the time ``greenslot submit`` runs, a
job of another user may have started, a node may have been drained, an administrator may have
reserved nodes. Submitting anyway would double-book GPUs (Slurm would then start our job late,
off plan). So before the first ``sbatch`` of a run, every job still to submit is checked against

* the GPUs that running jobs not of this plan hold on its nodes over its planned window
  (``[begin_epoch, end_epoch)`` of ``sbatch.json``), together with this plan's own jobs there,
  against the node's GPU count (``node_gpus`` of ``sbatch.json``); likewise their CPU cores
  and memory (from ``squeue``'s allocation) where the plan's nodes declare them
  (``node_cpus``, ``node_memory_mb``);
* nodes that are DOWN, DRAIN or FAIL, and reservations that are not greenslot's.

Any conflict stops the run before anything is submitted; the message names the job, the node
and what holds it, and the remedy is to re-plan (``greenslot sync``).
"""

from __future__ import annotations

from greenslot.model import hostlist
from greenslot.slurm.commands import Runner, SlurmError, run_slurm
from greenslot.slurm.foreign import (
    ForeignLoad,
    Hold,
    Outage,
    foreign_holds,
    node_outages,
    read_nodes,
    read_reservations,
)
from greenslot.slurm.queue import QueueJob, parse_tag

WHOLE_TIME = (-(2**62), 2**62)


class CapacityConflict(SlurmError):
    """The plan no longer fits the cluster as Slurm holds it now."""


def _overlaps(start: int, end: int, other_start: int | None, other_end: int | None) -> bool:
    lo = WHOLE_TIME[0] if other_start is None else other_start
    hi = WHOLE_TIME[1] if other_end is None else other_end
    return start < hi and lo < end


def _nodelist(job: dict) -> list[str]:
    for arg in job["args"]:
        if arg.startswith("--nodelist="):
            return hostlist.expand(arg.split("=", 1)[1])
    return []


def _peak(intervals: list[tuple[int, int, int]], start: int, end: int) -> int:
    """Most GPUs held at one instant of ``[start, end)`` by ``(start, end, gpus)`` intervals."""
    points = sorted({start, *(s for s, _, _ in intervals if start <= s < end)})
    return max((sum(g for s, e, g in intervals if s <= t < e) for t in points), default=0)


# What a node holds, per resource: sbatch.json's node key, a plan job's key, a Hold's field and
# the word in the message. GPUs always; cores and memory where the plan declares them.
RESOURCES = (("node_gpus", "gpus_per_node", "gpus", "GPUs"),
             ("node_cpus", "cpus_per_node", "cpus", "CPU cores"),
             ("node_memory_mb", "memory_per_node_mb", "memory_mb", "MB of memory"))


def conflicts(jobs: list[dict], all_jobs: list[dict], node_gpus: dict[str, int],
              load: ForeignLoad, declared: dict[str, dict[str, int]] | None = None) -> list[str]:
    """One line per conflict of ``jobs`` (to submit) with ``load``; ``all_jobs``: the plan's.

    ``declared`` maps ``node_cpus``/``node_memory_mb`` (sbatch.json's keys) to what each node
    declares; their jobs' and the running jobs' cores and memory are summed like GPUs.
    """
    capacities = {"node_gpus": node_gpus, **(declared or {})}
    found = []
    holds: dict[str, list[Hold]] = {}
    for hold in load.holds:
        holds.setdefault(hold.node, []).append(hold)
    outages: dict[str, list[Outage]] = {}
    for outage in load.outages:
        outages.setdefault(outage.node, []).append(outage)
    for job in jobs:
        start, end = int(job["begin_epoch"]), int(job.get("end_epoch") or job["begin_epoch"])
        for node in _nodelist(job):
            for outage in outages.get(node, []):
                if _overlaps(start, end, outage.start_epoch, outage.end_epoch):
                    found.append(f"{job['job_id']}: node {node} is out ({outage.why})")
            if node not in node_gpus or not holds.get(node):
                continue
            overlapping = [h for h in holds[node]
                           if _overlaps(start, end, h.start_epoch, h.end_epoch)]
            if not overlapping:
                continue
            for key, ours_key, hold_field, unit in RESOURCES:
                capacity = capacities.get(key, {}).get(node)
                if capacity is None:
                    continue
                theirs = [(h.start_epoch, h.end_epoch or WHOLE_TIME[1], getattr(h, hold_field))
                          for h in overlapping]
                ours = [(int(j["begin_epoch"]), int(j.get("end_epoch") or j["begin_epoch"]),
                         int(j.get(ours_key) or 0))
                        for j in all_jobs if node in _nodelist(j)]
                peak = _peak(theirs + ours, start, end)
                if peak > capacity:
                    who = ", ".join(f"Slurm job {h.slurm_id} of {h.owner}" for h in holds[node])
                    found.append(f"{job['job_id']}: node {node} would hold {peak} {unit} of "
                                 f"{capacity} ({who} started after the plan was made)")
                    break
    return found


def check_plan_fits(data: dict, to_submit: list[dict], queue: list[QueueJob],
                    ledger_ids: set[str], runner: Runner = run_slurm) -> None:
    """Raise :class:`CapacityConflict` when a job of ``to_submit`` collides with what Slurm
    holds now. Running jobs of this plan (its ledger, or ``plan=<id>`` in their comment, as a
    moved queue job carries) are the plan's own, not foreign load.
    """
    plan_id = data["plan_id"]
    own = frozenset(j.slurm_id for j in queue
                    if str(j.slurm_id) in ledger_ids or parse_tag(j.comment).get("plan") == plan_id
                    or f"plan={plan_id}" in j.comment.split(","))
    load = ForeignLoad(tuple(foreign_holds(queue, own)),
                       tuple(node_outages(read_nodes(runner)) + read_reservations(runner)))
    declared = {key: data.get(key) or {} for key in ("node_cpus", "node_memory_mb")}
    found = conflicts(to_submit, data.get("jobs", []), data.get("node_gpus") or {}, load,
                      declared)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise CapacityConflict(f"{found[0]}{more}; nothing submitted: re-plan against the "
                               "queue with greenslot sync")
