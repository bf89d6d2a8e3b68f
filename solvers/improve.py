"""Local improvement of a plan: take each job out and put it back where it now costs least.

A cheap large-neighbourhood step between rounding and the exact backend: every move keeps
the plan valid (the greedy search checks capacity, cap, budgets, windows and dependencies
around everything else), and a job goes back to its old place unless the new one is strictly
cheaper, so the objective never rises.
"""

from __future__ import annotations

import time

from greenslot.model.schedule import Assignment
from greenslot.solvers.prepare import Prepared
from greenslot.solvers.search import best_candidate
from greenslot.solvers.state import ClusterState


def improve(state: ClusterState, placed: dict[str, Assignment], prep: Prepared,
            deadline: float, max_passes: int = 4) -> int:
    """Move jobs while it pays, until a pass changes nothing or ``deadline`` (perf_counter).

    ``state`` must hold exactly ``placed``; both are updated in place. Returns the moves made.
    """
    scenario = prep.scenario
    movable = [j for j in prep.jobs if j.job_id in placed]
    groups = {j.job_id: state.candidate_groups(j) for j in movable}
    dependants: dict[str, list[str]] = {}
    for job in scenario.jobs:
        for dep in job.depends_on:
            dependants.setdefault(dep, []).append(job.job_id)
    moves = 0
    for _ in range(max_passes):
        moved_this_pass = 0
        for job in movable:
            if time.perf_counter() > deadline:
                return moves
            old = placed[job.job_id]
            node_ids = [scenario.node_position(n) for n in old.nodes]
            node = scenario.nodes[node_ids[0]]
            mode = scenario.gpu_type(node.gpu_type).mode(job.workload, old.power_limit_w)
            each = job.gpus if len(node_ids) == 1 else node.gpus
            before = state.objective()
            state.remove(job, node_ids, old.start_slot, old.end_slot, mode.power_w, each)
            saved = before - state.objective()
            earliest = max([prep.earliest_start[job.job_id]]
                           + [placed[d].end_slot for d in job.depends_on if d in placed])
            latest = min([prep.latest_end[job.job_id]]
                         + [placed[c].start_slot for c in dependants.get(job.job_id, [])
                            if c in placed])
            found = best_candidate(state, job, earliest, latest, groups[job.job_id])
            if found is not None and found.cost < saved - 1e-9 * max(1.0, abs(saved)):
                state.place(job, found.node_ids, found.start, found.end, found.mode.power_w,
                            found.gpus_each)
                placed[job.job_id] = state.assignment(job, found.node_ids, found.start,
                                                      found.end, found.mode.power_limit_w)
                moved_this_pass += 1
            else:
                state.place(job, node_ids, old.start_slot, old.end_slot, mode.power_w, each)
        moves += moved_this_pass
        if not moved_this_pass:
            break
    return moves
