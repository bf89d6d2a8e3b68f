"""Capacity greenslot does not plan, taken as fact: others' running jobs, nodes out, reservations.

Why: on a shared cluster a GPU held by a job greenslot did not submit is as busy as one of its
own. ``sync`` reads three things and turns them into the scenario's own vocabulary, so the
planner, the fifo baseline, the validator and the accounting all see them without a special
case:

* a **running job that is not planned** (not adopted by ``sync``, not in the opt-in queue) holds
  the GPUs, CPU cores and memory Slurm gave it on each node until its expected end,
  ``start + time limit`` (``end_time`` of ``squeue --json``; the horizon's end when it has no
  limit). It becomes one
  pinned job per node, ``foreign-<Slurm id>-<node>``, which also keeps that node powered and
  prices its draw (at the GPU type's ``--foreign-workload`` fastest mode);
* a node that is **DOWN, DRAIN(ING/ED) or FAIL(ING)** in ``sinfo --json`` is unavailable for the
  whole horizon (Slurm says nothing of when it returns);
* a **reservation that is not greenslot's** (``scontrol show reservation``; ours are named
  ``greenslot-...``) makes its nodes unavailable over its window.

A slot where a node is out but a running job still holds some of its GPUs (a draining node
finishing its work) cannot be a plain maintenance slot, since the running job is pinned there:
its free GPUs are held instead by a pinned ``unavailable-<node>-<n>`` job over those slots.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from greenslot.model import hostlist, rules
from greenslot.model.scenario import GpuType, Job, Scenario
from greenslot.slurm.commands import Runner, SlurmError, run_slurm
from greenslot.slurm.queue import QueueJob
from greenslot.slurm.reservations import NAME_PREFIX

OUT_STATES = frozenset({"DOWN", "DRAIN", "DRAINED", "DRAINING", "FAIL", "FAILING"})
FOREIGN_PREFIX = "foreign-"
UNAVAILABLE_PREFIX = "unavailable-"


@dataclass(frozen=True)
class Hold:
    """GPUs of one node held by a job greenslot does not plan, over ``[start, end)`` (Unix s).

    ``end_epoch`` is ``None`` when Slurm gives no end (no time limit): held to the horizon's end.
    """

    slurm_id: int
    node: str
    gpus: int
    start_epoch: int
    end_epoch: int | None
    owner: str
    # CPU cores and memory [MB] it holds on the node (its allocation shared evenly over its
    # nodes, as Slurm gives a one-task-a-node job); 0 where squeue does not show them.
    cpus: int = 0
    memory_mb: int = 0

    @property
    def job_id(self) -> str:
        return f"{FOREIGN_PREFIX}{self.slurm_id}-{self.node}"


@dataclass(frozen=True)
class Outage:
    """A node Slurm will not start work on over ``[start, end)`` (Unix s; ``None``: unbounded)."""

    node: str
    start_epoch: int | None
    end_epoch: int | None
    why: str


@dataclass(frozen=True)
class NodeStatus:
    """One node of ``sinfo --json``: its state words, and what it declares."""

    name: str
    states: frozenset[str]
    reason: str
    cpus: int | None
    real_memory_mb: int | None


def _words(value: object) -> set[str]:
    """State words of 22.05 (``"idle"`` plus ``state_flags``) or 23.02+ (``["IDLE", "DRAIN"]``)."""
    items = value if isinstance(value, list) else [value]
    return {re.sub(r"[^A-Z_]", "", str(v).upper()) for v in items if v}


def parse_sinfo_json(text: str) -> dict[str, NodeStatus]:
    """Nodes of a ``sinfo --json`` document (22.05 or newer shape), by name."""
    try:
        raw_nodes = json.loads(text)["nodes"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise SlurmError("sinfo --json: output is not the expected JSON document") from None
    nodes = {}
    for raw in raw_nodes:
        name = str(raw.get("name") or raw.get("hostname") or "")
        if not name:
            continue
        states = _words(raw.get("state")) | _words(raw.get("state_flags") or [])
        cpus, memory = raw.get("cpus"), raw.get("real_memory")
        nodes[name] = NodeStatus(
            name, frozenset(states), str(raw.get("reason") or ""),
            cpus if isinstance(cpus, int) else None,
            memory if isinstance(memory, int) else None)
    return nodes


def read_nodes(runner: Runner = run_slurm) -> dict[str, NodeStatus]:
    return parse_sinfo_json(runner(["sinfo", "--json"]))


def node_outages(nodes: dict[str, NodeStatus]) -> list[Outage]:
    """A whole-horizon outage for each node that is DOWN, DRAIN or FAIL."""
    outages = []
    for status in nodes.values():
        out = sorted(status.states & OUT_STATES)
        if out:
            why = "/".join(out) + (f" ({status.reason})" if status.reason else "")
            outages.append(Outage(status.name, None, None, why))
    return outages


def _utc_epoch(text: str) -> int | None:
    try:
        return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())
    except ValueError:
        return None


def parse_reservations(text: str) -> list[Outage]:
    """Outages of ``scontrol -o show reservation`` (run under ``TZ=UTC``), greenslot's excluded.

    Why ours are excluded: a ``greenslot-`` reservation is capacity the scenario already holds
    back (its ``reservations:`` key) and plans around itself.
    """
    outages = []
    for line in text.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        name = fields.get("ReservationName", "")
        if not name or name.startswith(NAME_PREFIX):
            continue
        nodes = fields.get("Nodes", "")
        if not nodes or nodes == "(null)":
            continue
        try:
            names = hostlist.expand(nodes)
        except hostlist.HostlistError:
            raise SlurmError(f"scontrol show reservation {name}: cannot read Nodes={nodes}"
                             ) from None
        start, end = _utc_epoch(fields.get("StartTime", "")), _utc_epoch(fields.get("EndTime", ""))
        outages += [Outage(n, start, end, f"reservation {name}") for n in names]
    return outages


def read_reservations(runner: Runner = run_slurm) -> list[Outage]:
    try:
        text = runner(["scontrol", "-o", "show", "reservation"])
    except SlurmError as exc:
        if "no reservations" in str(exc).lower():
            return []
        raise
    return parse_reservations(text)


def foreign_holds(queue: list[QueueJob], planned: frozenset[int]) -> list[Hold]:
    """What each running job outside ``planned`` (Slurm ids greenslot plans) holds, per node.

    GPUs per node come from ``gres_detail`` (one entry per allocated node) where Slurm shows it,
    else from the per-node or per-job request.
    """
    holds = []
    for job in queue:
        if not job.running or job.slurm_id in planned or not job.nodes or not job.start_epoch:
            continue
        if len(job.gpus_by_node) == len(job.nodes):
            counts = job.gpus_by_node
        elif job.gpus_per_node:
            counts = (job.gpus_per_node,) * len(job.nodes)
        elif job.gpus_per_job:
            counts = (math.ceil(job.gpus_per_job / len(job.nodes)),) * len(job.nodes)
        else:
            continue  # no GPUs: nothing the GPU planner could collide with
        owner = job.user_name or (str(job.user_id) if job.user_id is not None else "?")
        cpus = math.ceil((job.cpus_alloc or 0) / len(job.nodes))
        memory = math.ceil((job.memory_alloc_mb or 0) / len(job.nodes))
        holds += [Hold(job.slurm_id, node, gpus, job.start_epoch, job.end_epoch, owner,
                       cpus, memory)
                  for node, gpus in zip(job.nodes, counts, strict=True) if gpus > 0]
    return holds


def pricing_workload(gpu_type: GpuType, wanted: str) -> str:
    """The workload whose fastest mode prices foreign load on ``gpu_type``.

    ``wanted`` where the curve has it, else the curve's first workload (said in ``sync``'s
    notes): the draw of someone else's job is unknown, and a measured row of the same GPU is
    a better guess than none.
    """
    return wanted if wanted in gpu_type.curves else next(iter(gpu_type.curves))


@dataclass(frozen=True)
class ForeignLoad:
    """What ``sync`` read: the holds, the outages and notes on what was ignored."""

    holds: tuple[Hold, ...] = ()
    outages: tuple[Outage, ...] = ()


def read_foreign_load(queue: list[QueueJob], planned: frozenset[int],
                      runner: Runner = run_slurm) -> ForeignLoad:
    """Others' running jobs (from ``queue``), nodes out and others' reservations."""
    outages = node_outages(read_nodes(runner)) + read_reservations(runner)
    return ForeignLoad(tuple(foreign_holds(queue, planned)), tuple(outages))


def _slot_range(scenario: Scenario, start_epoch: int | None,
                end_epoch: int | None) -> tuple[int, int]:
    """``[first, stop)`` slots (first may be negative) covering ``[start, end)``, end clipped."""
    grid = scenario.grid
    first = (math.floor(grid.offset_slots(datetime.fromtimestamp(start_epoch, tz=UTC)) + 1e-9)
             if start_epoch is not None else 0)
    stop = grid.n_slots
    if end_epoch is not None:
        stop = min(stop, math.ceil(
            grid.offset_slots(datetime.fromtimestamp(end_epoch, tz=UTC)) - 1e-9))
    return first, stop


def _pinned_job(scenario: Scenario, job_id: str, node: str, gpus: int, first: int, stop: int,
                workload: str, cpus: int = 0, memory_mb: int = 0) -> Job:
    """A pinned job holding ``gpus`` (and ``cpus`` cores, ``memory_mb`` MB where known, at
    most what the node declares) of ``node`` over slots ``[first, stop)``."""
    grid = scenario.grid
    declared = scenario.node(node)
    gpu_type = scenario.gpu_type(declared.gpu_type)
    if declared.cpus is not None:
        cpus = min(cpus, declared.cpus)
    if declared.memory_mb is not None:
        memory_mb = min(memory_mb, declared.memory_mb)
    return Job(job_id=job_id, gpus=gpus, duration_h=(stop - first) * grid.slot_hours,
               release=grid.time_of(min(first, 0)), deadline=grid.end,
               workload=pricing_workload(gpu_type, workload), priority=0.0,
               pinned_start=grid.time_of(first), pinned_nodes=(node,),
               cpus_per_task=cpus or None, mem_mb=memory_mb or None)


def with_foreign_load(scenario: Scenario, load: ForeignLoad,
                      workload: str = "default") -> tuple[Scenario, list[str]]:
    """The scenario with ``load`` added as pinned jobs and unavailable slots, and notes.

    Only nodes of the scenario count; a hold or outage wholly outside the horizon is dropped.
    """
    grid, n_slots = scenario.grid, scenario.grid.n_slots
    jobs = list(scenario.jobs)
    notes: list[str] = []
    for hold in load.holds:
        if not scenario.has_node(hold.node):
            continue
        first, stop = _slot_range(scenario, hold.start_epoch, hold.end_epoch)
        if stop <= max(first, 0):
            continue
        gpus = min(hold.gpus, scenario.node(hold.node).gpus)
        if gpus < hold.gpus:
            notes.append(f"Slurm job {hold.slurm_id} holds {hold.gpus} GPUs of {hold.node}, "
                         f"which the scenario declares with {gpus}; counted as {gpus}")
        jobs.append(_pinned_job(scenario, hold.job_id, hold.node, gpus, first, stop,
                                workload, hold.cpus, hold.memory_mb))
        until = grid.time_of(stop).isoformat()
        notes.append(f"Slurm job {hold.slurm_id} of {hold.owner} holds {gpus} GPU(s) of "
                     f"{hold.node} until {until}; planned around as {hold.job_id}")
    # GPUs held per node and slot by every pinned job (ours running, and the holds above).
    used = {n.name: np.zeros(n_slots, dtype=int) for n in scenario.nodes}
    for job in jobs:
        if not job.pinned or not job.pinned_nodes or not scenario.has_node(job.pinned_nodes[0]):
            continue
        first = round(grid.offset_slots(job.pinned_placement()[0]))
        node = scenario.node(job.pinned_nodes[0])
        modes = rules.allowed_modes(job, scenario.gpu_type(node.gpu_type))
        stop = first + (rules.run_slots(grid, job, modes[0]) if modes
                        else grid.slots_for_hours(job.duration_h))
        needed = rules.nodes_needed(job, node)
        each = needed[1] if needed is not None else node.gpus
        for name in job.pinned_nodes:
            if name in used:
                used[name][max(first, 0):max(min(stop, n_slots), 0)] += each
    blocked: dict[str, set[int]] = {}
    for outage in load.outages:
        if not scenario.has_node(outage.node):
            continue
        first, stop = _slot_range(scenario, outage.start_epoch, outage.end_epoch)
        slots = set(range(max(first, 0), stop))
        if slots:
            blocked.setdefault(outage.node, set()).update(slots)
            notes.append(f"node {outage.node}: {outage.why}; unavailable in slots "
                         f"{min(slots)}-{max(slots)}")
    nodes = []
    for node in scenario.nodes:
        slots = blocked.get(node.name, set())
        busy = {t for t in slots if used[node.name][t] > 0}
        count = 0
        for t in sorted(busy):
            free = node.gpus - int(used[node.name][t])
            if free <= 0:
                continue
            count += 1  # one blocker a slot keeps it simple and exact
            jobs.append(_pinned_job(scenario, f"{UNAVAILABLE_PREFIX}{node.name}-{count}",
                                    node.name, free, t, t + 1, workload))
        if slots - busy:
            node = dataclasses.replace(
                node, unavailable_slots=node.unavailable_slots | frozenset(slots - busy))
        nodes.append(node)
    added = {scenario.node(j.pinned_nodes[0]).gpu_type
             for j in jobs[len(scenario.jobs):] if j.pinned_nodes}
    for gpu_type in scenario.gpu_types:
        if gpu_type.name in added and workload not in gpu_type.curves:
            notes.append(f"foreign load on {gpu_type.name} priced as workload "
                         f"{pricing_workload(gpu_type, workload)!r} (no {workload!r} curve)")
    return scenario.replace(jobs=tuple(jobs), nodes=tuple(nodes)), notes

