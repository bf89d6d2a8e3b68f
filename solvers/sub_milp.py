"""Large-neighbourhood search with sub-MILPs: free the jobs around a slot, re-solve them exactly.

Why: ruin and recreate (:func:`~greenslot.solvers.local_search.ruin_and_recreate`) puts the
jobs it frees back one at a time, each at its own cheapest place given the ones before it,
so two jobs that would have to trade places at once stay where they are. Here the freed jobs
are placed together, optimally for the time-indexed model, around everything else held where
it is: the same model and backend as the exact pipeline (:mod:`.prepare`,
:mod:`.formulation`, HiGHS), small because only the freed jobs have columns and only inside
the span their runs cover now.

A round builds a scenario in which every other placed job is pinned where it runs (with its
power mode) and each freed job's window is cut to that span, so the current plan is a
feasible warm start; the answer is decoded to concrete nodes in a state holding the pinned
jobs, and the round is kept only when every freed job is placed and the real objective falls.
The driver's result is checked by the independent validator like every other plan.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import timedelta

import numpy as np

from greenslot.model.scenario import Job, Scenario
from greenslot.model.schedule import Assignment, Schedule
from greenslot.solvers.decode import chosen_columns, decode, encode
from greenslot.solvers.formulation import build
from greenslot.solvers.local_search import GainCallback, _drop, _lift
from greenslot.solvers.milp import solve_linear_model_highspy
from greenslot.solvers.prepare import Prepared, prepare
from greenslot.solvers.state import ClusterState
from greenslot.solvers.types import SolveOptions

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

ROUND_SECONDS = 3.0
"""At most this long for one sub-MILP's HiGHS run (the round stops sooner at the deadline)."""
MAX_FREED_JOBS = 10
MAX_SPAN_SLOTS = 48
"""A round whose freed jobs' runs cover more slots than this is not tried: its model would
hold columns for every start in the span, and a round must stay seconds long."""


def _pinned_at(scenario: Scenario, job: Job, a: Assignment) -> Job:
    """``job`` pinned where ``a`` runs it. Only :func:`prepare` reads the pin (it lists no
    columns for the job); what the job holds and draws, power mode included, comes from
    ``a`` itself, placed by :func:`_sub_problem`."""
    return dataclasses.replace(job, pinned_start=scenario.grid.time_of(a.start_slot),
                               pinned_nodes=a.nodes)


def _within(scenario: Scenario, job: Job, first: int, end: int) -> Job:
    """``job`` with its window cut to slots ``[first, end)`` (its own window is wider)."""
    grid = scenario.grid
    release = max(job.release, grid.time_of(first))
    deadline = min(job.deadline, grid.time_of(end) + timedelta(hours=job.deadline_guard_h))
    return dataclasses.replace(job, release=release, deadline=deadline)


def _sub_problem(scenario: Scenario, placed: dict[str, Assignment], freed: list[str]
                 ) -> tuple[Scenario, dict[str, Assignment], ClusterState]:
    """The scenario of one round: every placed job but ``freed`` pinned where it runs, the
    freed ones cut to the span of their runs, jobs left out dropped (nothing placed depends
    on them); the pinned jobs' assignments; a state holding exactly those."""
    first = min(placed[k].start_slot for k in freed)
    end = max(placed[k].end_slot for k in freed)
    loose = set(freed)
    jobs = []
    for job in scenario.jobs:
        a = placed.get(job.job_id)
        if a is None:
            continue
        jobs.append(_within(scenario, job, first, end) if job.job_id in loose
                    else job if job.pinned else _pinned_at(scenario, job, a))
    sub = scenario.replace(jobs=tuple(jobs))
    fixed = {k: a for k, a in placed.items() if k not in loose}
    state = ClusterState(sub)
    for a in fixed.values():
        _drop(state, sub, sub.job(a.job_id), a)
    return sub, fixed, state


def solve_window(state: ClusterState, placed: dict[str, Assignment], prep: Prepared,
                 freed: list[str], deadline: float, threads: int = 1) -> bool:
    """Re-solve the jobs ``freed`` exactly around everything else placed; True when the plan
    got cheaper (``state`` and ``placed`` then hold it), False with both unchanged.

    ``state`` must hold exactly ``placed``. The round's HiGHS run ends at ``deadline``
    (perf_counter) or after :data:`ROUND_SECONDS`.
    """
    scenario = prep.scenario
    left = deadline - time.perf_counter()
    if left <= 0.1 or len(freed) < 2:
        return False
    sub, fixed, sub_state = _sub_problem(scenario, placed, freed)
    sub_prep = prepare(sub, fixed, sub_state)
    model, index = build(sub_prep)
    current = Schedule(tuple(placed.values()), ())
    start = encode(model, sub_prep, index, current)
    answer = solve_linear_model_highspy(model, SolveOptions(
        time_limit_s=min(ROUND_SECONDS, max(0.1, deadline - time.perf_counter())),
        threads=threads, gap=1e-6), start)
    if answer.values is None:
        return False
    found, lost = decode(sub_prep, chosen_columns(sub_prep, index, answer.values), fixed,
                         sub_state)
    if lost or any(k not in found for k in freed):
        return False
    before = state.objective()
    old = {k: placed.pop(k) for k in freed}
    for k, a in old.items():
        _lift(state, scenario, scenario.job(k), a)
    for k in freed:
        placed[k] = found[k]
        _drop(state, scenario, scenario.job(k), found[k])
    if state.objective() < before - 1e-9 * max(1.0, abs(before)):
        return True
    for k in freed:
        _lift(state, scenario, scenario.job(k), placed.pop(k))
    for k, a in old.items():
        _drop(state, scenario, scenario.job(k), a)
        placed[k] = a
    return False


def sub_milp_rounds(state: ClusterState, placed: dict[str, Assignment], prep: Prepared,
                    deadline: float, seed: int = 0, rounds: int = 5,
                    width: int = 4, on_gain: GainCallback | None = None,
                    tally: dict[str, int] | None = None) -> int:
    """Up to ``rounds`` rounds of :func:`solve_window` around random slots: each frees the
    jobs (at most :data:`MAX_FREED_JOBS`, chosen at random) that start within ``width``
    slots of its slot. Deterministic for a given ``seed`` apart from where ``deadline``
    cuts. Returns the rounds that lowered the objective; ``tally``, if given, adds the
    sub-MILPs solved (``"solved"``) and kept (``"kept"``), for the step record."""
    scenario = prep.scenario
    rng = np.random.default_rng(seed)
    movable = [k for k in placed if not scenario.job(k).pinned]
    accepted = 0
    for _ in range(rounds):
        if time.perf_counter() >= deadline or len(movable) < 2:
            break
        anchor = int(rng.integers(0, state.n_slots))
        near = [k for k in movable if abs(placed[k].start_slot - anchor) < width]
        freed = [near[i] for i in rng.permutation(len(near))[:MAX_FREED_JOBS]]
        if len(freed) < 2:
            continue
        span = (max(placed[k].end_slot for k in freed)
                - min(placed[k].start_slot for k in freed))
        if span > MAX_SPAN_SLOTS:
            continue
        kept = solve_window(state, placed, prep, freed, deadline)
        if tally is not None:
            tally["solved"] = tally.get("solved", 0) + 1
            tally["kept"] = tally.get("kept", 0) + kept
        if kept:
            accepted += 1
            if on_gain is not None:
                on_gain(state.objective())
    return accepted
