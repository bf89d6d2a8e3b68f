"""The ``best_window`` baseline: per-job carbon-aware shifting, then Slurm's queue.

What tools that pick a ``--begin`` for each job produce, so a plan can show what global
planning adds over shifting jobs one at a time. The rule, in two steps:

1. **Each job alone.** A job's begin is the start slot in ``[release, deadline - n]`` whose
   run costs least in the scenario's objective (its lowest-carbon window when the objective is
   carbon), ties to the earliest start. The run is priced as if the job were the only one on
   the cluster (no other job, pinned ones included): at its fastest allowed mode (the one Slurm
   runs without a plan), on the first ``count`` nodes in name order of each eligible node
   group, with wake-up of powered-down nodes, renewables, PUE and data transfer as in the
   accounting. The cheapest group decides the begin (ties: the group first in name order);
   only the time is kept, since ``--begin`` picks no nodes. Maintenance and the power cap are
   the queue's concern. A job with no such window (it cannot finish by its deadline at full
   speed) begins at its release.
2. **Queued by Slurm.** Jobs reach the queue in order of begin, then release, then job_id
   (dependencies first) and each starts at the earliest slot at or after its begin and the end
   of its dependencies where it fits, exactly as in ``fifo`` (:mod:`greenslot.solvers.queue`):
   fastest mode, first fitting nodes, capacity, maintenance and power cap respected, deadlines
   not. So it may miss a deadline when capacity collides, as ``fifo`` may.
"""

from __future__ import annotations

import time

import numpy as np

from greenslot.model import rules
from greenslot.model.scenario import Job, Scenario
from greenslot.solvers.ordering import dependency_order
from greenslot.solvers.queue import run_queue
from greenslot.solvers.state import ClusterState, NodeGroup, window_sums
from greenslot.solvers.types import SolveOptions, SolveResult, SolveStatus


def _window_costs(alone: ClusterState, job: Job, group: NodeGroup, n: int,
                  power_w: float) -> np.ndarray:
    """Objective of running ``job`` alone from each start slot ``s`` (``T - n + 1`` entries)."""
    ids = group.node_ids[:group.count]
    delta_w = alone.node_delta_w(ids, group.gpus_each, power_w).sum(axis=0)
    kwh = alone.pue[group.site] * delta_w / 1000.0 * alone.hours
    costs = window_sums(alone.objective_terms(group.site, kwh), n)
    transfer = (job.data_gb * alone.scenario.transfer_kwh_per_gb
                if rules.needs_transfer(job, alone.site_names[group.site]) else 0.0)
    if alone.has_boots:   # on an empty cluster a run from slot s >= 1 boots its nodes
        boot_w = alone.boot_if_started_w(ids, 0, alone.n_slots).sum(axis=0)
        head = transfer + alone.pue[group.site] * boot_w / 1000.0 * alone.hours
        costs = costs + (alone.objective_terms(group.site, kwh + head)
                         - alone.objective_terms(group.site, kwh))[:len(costs)]
    elif transfer:
        costs = costs + (alone.objective_terms(group.site, kwh + transfer)
                         - alone.objective_terms(group.site, kwh))[:len(costs)]
    return costs


def best_begin(alone: ClusterState, job: Job) -> int:
    """The start slot a per-job tool picks for ``job`` (step 1 of the module's rule).

    ``alone`` is a state with nothing placed: the cluster as the job would find it by itself.
    """
    grid = alone.scenario.grid
    earliest, latest_end = rules.earliest_start_slot(grid, job), rules.latest_end_slot(grid, job)
    best: tuple[float, int, int] | None = None
    for g_idx, group in enumerate(alone.candidate_groups(job)):
        mode = rules.allowed_modes(job, alone.scenario.gpu_type(group.gpu_type))[0]
        n = rules.run_slots(grid, job, mode)
        last = latest_end - n
        if last < earliest:
            continue
        costs = _window_costs(alone, job, group, n, mode.power_w)[earliest:last + 1]
        start = int(np.argmin(np.round(costs, 9)))  # first of equal minima: earliest start
        key = (round(float(costs[start]), 9), earliest + start, g_idx)
        if best is None or key < best:
            best = key
    return earliest if best is None else best[1]


def best_window_begins(scenario: Scenario) -> dict[str, int]:
    """Each non-pinned job's chosen begin slot, every job priced alone."""
    alone = ClusterState(scenario)
    return {j.job_id: best_begin(alone, j) for j in scenario.jobs if not j.pinned}


def solve_best_window(scenario: Scenario, options: SolveOptions | None = None,
                      stop_at: float | None = None) -> SolveResult:
    """Run the baseline; like ``fifo`` it ignores deadlines in the queue, so it may miss them.

    Jobs not yet queued at ``stop_at`` (perf_counter) are left out (see ``run_queue``)."""
    started = time.perf_counter()
    if stop_at is None and options is not None and options.time_limit_s is not None:
        stop_at = started + options.time_limit_s
    begins = best_window_begins(scenario)
    position = {j.job_id: (begins[j.job_id], j.release, j.job_id) for j in scenario.jobs
                if not j.pinned}
    order = dependency_order([j for j in scenario.jobs if not j.pinned],
                             lambda j: position[j.job_id])
    return SolveResult(
        solver="best_window",
        status=SolveStatus.FEASIBLE,
        schedule=run_queue(scenario, order, begins, stop_at),
        bound=None,
        solve_seconds=time.perf_counter() - started,
    )
