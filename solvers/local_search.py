"""Local search on a valid plan: move single jobs, then ruin and recreate small windows.

:func:`move_jobs_one_by_one` takes each job out and puts it back where it now costs least;
:func:`ruin_and_recreate` clears a few jobs around a slot and re-inserts them. A cheap
large-neighbourhood step between rounding and the exact backend: every move keeps
the plan valid (the placement search checks capacity, cap, budgets, windows and dependencies
around everything else), and a job goes back to its old place unless the new one is strictly
cheaper, so the objective never rises.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import numpy as np

from greenslot.model.scenario import Job, Scenario
from greenslot.model.schedule import Assignment
from greenslot.solvers.deadline import passed
from greenslot.solvers.decode import place_anywhere, window_around
from greenslot.solvers.ordering import dependency_order
from greenslot.solvers.placement import best_placement
from greenslot.solvers.prepare import Prepared
from greenslot.solvers.state import ClusterState

GainCallback = Callable[[float], None]
"""Hears the plan's objective (``state.objective()``) after each accepted move."""


def move_jobs_one_by_one(state: ClusterState, placed: dict[str, Assignment], prep: Prepared,
                         deadline: float, max_passes: int = 4,
                         on_gain: GainCallback | None = None) -> int:
    """Move jobs while it pays, until a pass changes nothing or ``deadline`` (perf_counter).

    ``state`` must hold exactly ``placed``; both are updated in place. Returns the moves made.
    """
    scenario = prep.scenario
    movable = [j for j in prep.jobs if j.job_id in placed]
    groups = {j.job_id: state.candidate_groups(j) for j in movable}
    moves = 0
    for _ in range(max_passes):
        moved_this_pass = 0
        for job in movable:
            if time.perf_counter() > deadline:
                # this pass's moves count too: at fleet scale no pass ends before the
                # deadline, and a count of 0 made the caller throw the improved plan away
                return moves + moved_this_pass
            old = placed.pop(job.job_id)
            before = state.objective()
            _lift(state, scenario, job, old)
            saved = before - state.objective()
            earliest, latest = window_around(prep, job, placed)
            found = best_placement(state, job, earliest, latest, groups[job.job_id])
            if found is not None and found.cost < saved - 1e-9 * max(1.0, abs(saved)):
                state.place(job, found.node_ids, found.start, found.end, found.mode.power_w,
                            found.gpus_each)
                placed[job.job_id] = state.assignment(job, found.node_ids, found.start,
                                                      found.end, found.mode.power_limit_w)
                moved_this_pass += 1
                if on_gain is not None:
                    on_gain(state.objective())
            else:
                _drop(state, scenario, job, old)
                placed[job.job_id] = old
        moves += moved_this_pass
        if not moved_this_pass:
            break
    return moves


def ruin_and_recreate(state: ClusterState, placed: dict[str, Assignment], prep: Prepared,
                      deadline: float, seed: int = 0, batch: int = 6, width: int = 4,
                      on_gain: GainCallback | None = None) -> int:
    """Take out the jobs running around a random slot and re-insert them, while it pays.

    Single moves stall when two jobs block each other's better slot; clearing a window of
    ``batch`` jobs and re-inserting them one by one (dependencies first, then a random order)
    lets them trade places. Small rounds win on the benchmarks (L, 60 s from the same start:
    6 jobs within 4 slots 488.0 kg, 12 within 8 488.6, 25 within 12 491.5), as more of them
    fit in the time. A round that does not lower the objective, or cannot re-insert a
    job, is undone exactly. Stops at ``deadline`` or after ``3 x jobs`` rounds in a row
    without a gain. Deterministic for a given ``seed``. Returns accepted rounds.
    """
    scenario = prep.scenario
    rng = np.random.default_rng(seed)
    movable = [j for j in prep.jobs if j.job_id in placed]
    if not movable:
        return 0
    groups = {j.job_id: state.candidate_groups(j) for j in movable}
    accepted = idle = 0
    patience = max(30, 3 * len(movable))  # rounds without a gain before giving up
    while time.perf_counter() < deadline and idle < patience:
        idle += 1
        anchor = int(rng.integers(0, state.n_slots))
        near = [j for j in movable if placed[j.job_id].start_slot < anchor + width
                and placed[j.job_id].end_slot > anchor - width]
        if not near:
            continue
        chosen = [near[i] for i in rng.permutation(len(near))[:batch]]
        before = state.objective()
        old = {j.job_id: placed.pop(j.job_id) for j in chosen}
        for job in chosen:
            _lift(state, scenario, job, old[job.job_id])
        new: dict[str, Assignment] = {}
        rank = {j.job_id: i for i, j in enumerate(chosen)}
        ok = True
        for job in dependency_order(chosen, functools.partial(_ranked, rank=rank)):
            found = place_anywhere(state, prep, job, placed, groups[job.job_id])
            if found is None:
                ok = False
                break
            new[job.job_id] = placed[job.job_id] = found
        if ok and state.objective() < before - 1e-9 * max(1.0, abs(before)):
            accepted += 1
            idle = 0
            if on_gain is not None:
                on_gain(state.objective())
            continue
        _undo(state, scenario, placed, new, old)
    return accepted


def _undo(state: ClusterState, scenario: Scenario, placed: dict[str, Assignment],
          new: dict[str, Assignment], old: dict[str, Assignment]) -> None:
    """Take the ``new`` placements out again and put the ``old`` ones back, exactly."""
    for job_id, a in new.items():
        _lift(state, scenario, scenario.job(job_id), a)
        del placed[job_id]
    for job_id, a in old.items():
        _drop(state, scenario, scenario.job(job_id), a)
        placed[job_id] = a


def _ranked(job: Job, rank: dict[str, int]) -> tuple[int]:
    """A job's position in the ruined set, to put them back in the order they were taken."""
    return (rank[job.job_id],)


def _footprint(scenario, job, a: Assignment):
    ids = [scenario.node_position(n) for n in a.nodes]
    node = scenario.nodes[ids[0]]
    mode = scenario.gpu_type(node.gpu_type).run_mode(job.workload, a.power_limit_w)
    return ids, mode.power_w, (job.gpus if len(ids) == 1 else node.gpus)


def _lift(state: ClusterState, scenario, job, a: Assignment) -> None:
    ids, power_w, each = _footprint(scenario, job, a)
    state.remove(job, ids, a.start_slot, a.end_slot, power_w, each)


def _drop(state: ClusterState, scenario, job, a: Assignment) -> None:
    ids, power_w, each = _footprint(scenario, job, a)
    state.place(job, ids, a.start_slot, a.end_slot, power_w, each)


def repair_unplaced(state: ClusterState, placed: dict[str, Assignment], prep: Prepared,
                    deadline: float, seed: int = 0, tries: int = 12) -> int:
    """Place jobs left out although they could run, by making room for them: feasibility
    before cost.

    Why: with capacity tight, a constructive plan can leave a job out that a full placement
    would hold (issue 20: greedy lost 1-14 jobs where published schedules place all). For
    each such job (dependencies first) the jobs running on its nodes in its window are
    taken out, the job is placed first, and they go back one by one, the largest first; the
    round is kept when every job found a place and the added cost is below the job's
    penalty, and undone exactly otherwise. Each try takes another random subset of those
    jobs (all of them first). ``state`` must hold exactly ``placed``; both are updated in
    place. Returns the jobs placed; stops at ``deadline`` (perf_counter).
    """
    scenario = prep.scenario
    runnable = prep.can_run()
    position = {j.job_id: k for k, j in enumerate(prep.jobs)}
    missing = [j for j in prep.jobs if j.job_id not in placed and runnable[position[j.job_id]]]
    if not missing:
        return 0
    rng = np.random.default_rng(seed)
    repaired = 0
    for job in dependency_order(missing, lambda j: (-j.gpus * j.duration_h, j.job_id)):
        if any(d not in placed for d in job.depends_on):
            continue
        own_nodes = {n for group in state.candidate_groups(job) for n in group.node_ids}
        earliest, latest = window_around(prep, job, placed)
        around = [scenario.job(k) for k, a in placed.items() if not scenario.job(k).pinned
                  and a.start_slot < latest and a.end_slot > earliest
                  and any(scenario.node_position(n) in own_nodes for n in a.nodes)]
        for attempt in range(tries):
            if time.perf_counter() > deadline:
                return repaired
            chosen = around if attempt == 0 else [
                around[i] for i in rng.permutation(len(around))[:max(1, len(around) // 2)]]
            if _make_room(state, placed, prep, job, chosen, deadline):
                repaired += 1
                break
    return repaired


def _make_room(state: ClusterState, placed: dict[str, Assignment], prep: Prepared, job,
               chosen: list, deadline: float | None = None) -> bool:
    """Lift ``chosen``, place ``job``, put ``chosen`` back; keep it if all fit and the cost
    added is below ``job``'s penalty, else restore everything exactly. Given up (and
    restored) at ``deadline`` (perf_counter): at fleet scale ``chosen`` can be thousands of
    jobs, each a placement search."""
    scenario = prep.scenario
    position = {j.job_id: k for k, j in enumerate(prep.jobs)}
    before = state.objective()
    old = {j.job_id: placed.pop(j.job_id) for j in chosen}
    for other in chosen:
        _lift(state, scenario, other, old[other.job_id])
    new: dict[str, Assignment] = {}
    ok = place_anywhere(state, prep, job, placed) is not None
    if ok:
        new[job.job_id] = placed[job.job_id]
        order = dependency_order(chosen, lambda j: (-j.gpus * j.duration_h, j.job_id))
        for other in order:
            found = None if passed(deadline) else place_anywhere(state, prep, other, placed)
            if found is None:
                ok = False
                break
            new[other.job_id] = found
    if ok and state.objective() - before < float(prep.penalty[position[job.job_id]]):
        return True
    _undo(state, scenario, placed, new, old)
    return False
