"""Slurm's queue without a plan: jobs admitted one by one, each at its first fit.

Shared by the baselines that only differ in the order jobs reach the queue and the slot each
may start from: ``fifo`` (release order, from release) and ``best_window`` (order of each
job's own ``--begin``, from that begin). Placement follows contract section 3's fifo rule:
each job at its fastest mode, at the earliest slot where it fits on the first fitting nodes in
name order, respecting restrictions, dependencies, GPU capacity, maintenance and the power cap
but ignoring deadlines. A job that does not fit inside the horizon is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from greenslot.model import rules
from greenslot.model.scenario import Job, Scenario
from greenslot.model.schedule import Assignment, Schedule, Unplaced, dependency_not_placed
from greenslot.solvers.deadline import TIME_LIMIT_REASON, passed
from greenslot.solvers.pinned import place_pinned
from greenslot.solvers.state import ClusterState, window_sums


def first_fit(state: ClusterState, job: Job, earliest: int):
    """Earliest start and the first fitting nodes in name order, or None."""
    scenario = state.scenario
    options = []  # per group: (group, mode, n, usable[node, start])
    for group in state.candidate_groups(job):
        mode = rules.allowed_modes(job, scenario.gpu_type(group.gpu_type))[0]
        n = rules.run_slots(scenario.grid, job, mode)
        if n > state.n_slots:
            continue
        ids = group.node_ids
        unusable = state.short_for(group) | state.blocked[ids]
        over_at_start = None
        if group.count == 1:
            delta = state.node_delta_w(ids, group.gpus_each, mode.power_w)
            if state.has_boots:   # a boot at the start, none left where the run joins one
                delta = delta - state.boots_w(ids, 0, state.n_slots)
                over_at_start = (state.site_draw_w[group.site] + delta
                                 + state.boot_if_started_w(ids, 0, state.n_slots)
                                 > state.cap_w[group.site] + 1e-9)
            unusable |= state.site_draw_w[group.site] + delta > state.cap_w[group.site] + 1e-9
        usable = window_sums(unusable.astype(np.int64), n) == 0
        if over_at_start is not None:
            usable &= ~over_at_start[:, :usable.shape[1]]
        options.append((group, mode, n, usable))
    for s in range(earliest, state.n_slots):
        walk = []  # (node id, group index) of nodes usable at s, to visit in name order
        for k, (_, _, _, usable) in enumerate(options):
            if s < usable.shape[1]:
                walk += [(int(options[k][0].node_ids[i]), k) for i in np.nonzero(usable[:, s])[0]]
        chosen: dict[int, list[int]] = {}
        for node_id, k in sorted(walk):
            group, mode, n, _ = options[k]
            picked = chosen.setdefault(k, [])
            trial = [*picked, node_id]
            if group.count > 1:
                joint = state.run_draw_w(trial, group.gpus_each, mode.power_w, s, s + n)
                if (state.site_draw_w[group.site, s:s + n] + joint
                        > state.cap_w[group.site] + 1e-9).any():
                    continue
            picked.append(node_id)
            if len(picked) == group.count:
                return s, n, picked, mode, group.gpus_each
    return None


def run_queue(scenario: Scenario, order: Iterable[Job],
              not_before: Mapping[str, int], stop_at: float | None = None) -> Schedule:
    """Pinned jobs as pinned, then ``order`` (dependencies first), each at its first fit.

    A job starts no earlier than ``not_before[job_id]`` and the end of its dependencies; one
    whose dependency is not placed is left out, as is one that does not fit in the horizon.
    Jobs still waiting at ``stop_at`` (perf_counter; the plan's time limit) are left out with
    :data:`~greenslot.solvers.deadline.TIME_LIMIT_REASON`: a first fit walks the slots one by
    one, and on a cluster whose power cap binds that took minutes for 1,942 jobs.
    """
    state = ClusterState(scenario)
    placed: dict[str, Assignment] = place_pinned(state)
    unplaced: list[Unplaced] = []
    for job in order:
        if passed(stop_at):
            unplaced.append(Unplaced(job.job_id, TIME_LIMIT_REASON))
            continue
        missing = [d for d in job.depends_on if d not in placed]
        if missing:
            unplaced.append(Unplaced(job.job_id, dependency_not_placed(missing[0])))
            continue
        earliest = max([not_before[job.job_id]] + [placed[d].end_slot for d in job.depends_on])
        fit = first_fit(state, job, earliest)
        if fit is None:
            unplaced.append(Unplaced(job.job_id, "does not fit inside the horizon"))
            continue
        start, n, node_ids, mode, each = fit
        state.place(job, node_ids, start, start + n, mode.power_w, each)
        placed[job.job_id] = state.assignment(job, node_ids, start, start + n,
                                              mode.power_limit_w)
    return Schedule(tuple(placed.values()), tuple(unplaced))


def missed_deadlines(scenario: Scenario, schedule: Schedule) -> int:
    """How many non-pinned placed jobs end after their deadline (a queue does not look).

    Reported next to a baseline's totals: a baseline that saves carbon by making jobs late is
    not the saving a valid plan has to beat.
    """
    grid = scenario.grid
    return sum(1 for a in schedule.assignments
               if not (job := scenario.job(a.job_id)).pinned
               and a.end_slot > rules.latest_end_slot(grid, job))
