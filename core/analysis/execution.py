"""Run committed plans the way Slurm would, with the run times jobs really take.

A plan hands Slurm each job with ``--begin`` (its planned start), ``--nodelist``, ``--time``
(:func:`greenslot.model.durations.time_limit_minutes`) and ``afterok`` dependencies. What then
happens, event by event, is what this module replays:

- a job starts at the first slot, from the later of its planned start and the real end of
  its dependencies, where its GPUs on its nodes are free for its whole run (a job before it
  on them that runs long holds them); jobs are started in the order they were planned, each
  taking the earliest fit left by the ones before, as Slurm's backfill does;
- it runs its realised time in its mode, ``actual_h / relative_throughput``; past its limit
  Slurm kills it at the limit: its energy is spent and its work lost, and ``afterok`` never
  lets its dependants start;
- a job that ends early frees its nodes at once; the planner sees that at its next run.

Occupancy is counted in whole slots (a run's end rounds up to a slot boundary, as the
accounting counts it), so a realised run is priced and checked with the contract's rules: the
realised schedule is validated against the scenario with each job's run set to what it ran.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from greenslot.model.durations import time_limit_minutes
from greenslot.model.scenario import Job, PowerMode, Scenario
from greenslot.model.schedule import Assignment


@dataclass(frozen=True)
class Ran:
    """A job as it ran: slots ``[start_slot, end_slot)`` of the replay, ``killed`` at its limit."""

    assignment: Assignment
    killed: bool
    hours_in_mode: float  # run time it got [h], in its mode (at most its limit)


@dataclass
class Cluster:
    """What Slurm has run so far: each node's free time and each job's real run."""

    scenario: Scenario  # the replay, as the planner sees it (reserved lengths)
    actual_h: Mapping[str, float]  # realised run time at the fastest mode, by job
    used_gpus: dict[str, np.ndarray] = field(default_factory=dict)  # by node, per slot
    ran: dict[str, Ran] = field(default_factory=dict)

    def _usage(self, node: str, end: int) -> np.ndarray:
        """GPUs in use on ``node`` per slot, grown to reach at least slot ``end``."""
        used = self.used_gpus.get(node, np.zeros(self.scenario.grid.n_slots, dtype=int))
        if len(used) < end:
            used = np.concatenate([used, np.zeros(end - len(used), dtype=int)])
        self.used_gpus[node] = used
        return used

    def _fits(self, nodes: tuple[str, ...], each: int, start: int, slots: int) -> bool:
        return all(self._usage(n, start + slots)[start:start + slots].max(initial=0) + each
                   <= self.scenario.node(n).gpus for n in nodes)

    def mode(self, job: Job, a: Assignment) -> PowerMode:
        node = self.scenario.node(a.nodes[0])
        mode = self.scenario.gpu_type(node.gpu_type).mode(job.workload, a.power_limit_w)
        if mode is None:  # a validated plan always has one
            raise ValueError(f"{job.job_id}: no curve row at {a.power_limit_w:g} W")
        return mode

    def limit_slots(self, a: Assignment) -> int:
        """Slots from the start of ``a`` (a planned assignment) to its Slurm time limit."""
        job = self.scenario.job(a.job_id)
        slot_h = self.scenario.grid.slot_hours
        planned_minutes = (a.end_slot - a.start_slot) * slot_h * 60
        limit_h = time_limit_minutes(job, self.mode(job, a), planned_minutes) / 60
        return max(1, math.ceil(limit_h / slot_h - 1e-9))

    def run(self, a: Assignment) -> Ran | None:
        """Start ``a`` (a planned assignment, replay slots) as Slurm would; None if a
        dependency was killed (``afterok`` then never starts it)."""
        job = self.scenario.job(a.job_id)
        if any(self.ran[d].killed for d in job.depends_on if d in self.ran):
            return None
        slot_h = self.scenario.grid.slot_hours
        mode = self.mode(job, a)
        limit_h = time_limit_minutes(job, mode, (a.end_slot - a.start_slot) * slot_h * 60) / 60
        real_h = self.actual_h.get(job.job_id, job.duration_h) / mode.relative_throughput
        hours = min(real_h, limit_h)
        slots = max(1, math.ceil(hours / slot_h - 1e-9))
        each = job.gpus if len(a.nodes) == 1 else self.scenario.node(a.nodes[0]).gpus
        start = max([a.start_slot, *(self.ran[d].assignment.end_slot for d in job.depends_on
                                     if d in self.ran)])
        while not self._fits(a.nodes, each, start, slots):
            start += 1
        ran = Ran(dataclasses.replace(a, start_slot=start, end_slot=start + slots),
                  real_h > limit_h + 1e-9, hours)
        for node in a.nodes:
            self._usage(node, start + slots)[start:start + slots] += each
        self.ran[job.job_id] = ran
        return ran

    def realised_scenario(self) -> Scenario:
        """The scenario with each job's run set to the slots it really occupied, and late
        measured against its real deadline.

        Why: the accounting and the validator then price and check the realised schedule
        with the contract's own rules (capacity, dependencies, nodes, modes).
        """
        slot_h = self.scenario.grid.slot_hours
        jobs = []
        for job in self.scenario.jobs:
            ran = self.ran.get(job.job_id)
            if ran is None:
                jobs.append(job)
                continue
            a = ran.assignment
            rt = self.mode(job, a).relative_throughput
            jobs.append(dataclasses.replace(
                job, reserve_h=(a.end_slot - a.start_slot) * slot_h * rt, deadline_guard_h=0.0))
        return self.scenario.replace(jobs=tuple(jobs))


__all__ = ["Cluster", "Ran"]
