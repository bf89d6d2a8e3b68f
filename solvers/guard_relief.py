"""Guard relief: a job its deadline guard leaves out is planned against the deadline itself.

Why: the guard (``deadline_guard_h``, :mod:`greenslot.model.durations`) is a margin the plan
keeps so that a long run still meets the deadline; it is not the user's deadline. When
capacity is short, the guarded window can hold no room for a job that its whole window (up to
the deadline) does. Replaying real weeks (``benchmarks/duration_replays.py``, CAISO April
2020, the guard to the time limit), such a job was left out night after night until its
deadline passed: never run at all, which is worse for its user than any late end.

So after the solver, every job left out that has a guard is offered its whole window, by
re-packing the plan (:func:`~greenslot.solvers.feasibility.repack_unplaced`): jobs already
placed stay placed and keep their own guards, and the plan changes only if more jobs are
placed. A job placed this way may end inside its guard: a long run of it may then end late,
but it runs. The independent validator checks the deadline itself, so such a plan is valid.
"""

from __future__ import annotations

import dataclasses
import time

from greenslot.model.scenario import Scenario
from greenslot.model.schedule import Schedule
from greenslot.solvers.driver import state_of
from greenslot.solvers.feasibility import MAX_SECONDS, repack_unplaced
from greenslot.solvers.types import SolveResult, SolveStatus


def relieve_guards(scenario: Scenario, result: SolveResult,
                   deadline: float | None = None) -> SolveResult:
    """``result`` with the jobs its deadline guards left out placed where their deadlines
    allow (see the module doc); ``result`` itself when there are none or none fits.

    The plan is re-packed until ``deadline`` (perf_counter), at most
    :data:`~greenslot.solvers.feasibility.MAX_SECONDS`. A relieved plan claims no bound: the
    solver's was proven with the guards in place. ``details["guard_relief"]`` lists the jobs
    placed this way.
    """
    placed_ids = {a.job_id for a in result.schedule.assignments}
    relieved = {u.job_id for u in result.schedule.unplaced
                if scenario.has_job(u.job_id) and (job := scenario.job(u.job_id))
                and job.deadline_guard_h > 0 and not job.pinned
                and all(d in placed_ids for d in job.depends_on)}
    if not relieved:
        return result
    unguarded = scenario.replace(jobs=tuple(
        dataclasses.replace(j, deadline_guard_h=0.0) if j.job_id in relieved else j
        for j in scenario.jobs))
    state, placed = state_of(unguarded, result.schedule)
    until = time.perf_counter() + MAX_SECONDS
    if deadline is not None:
        until = min(until, deadline)
    if repack_unplaced(state, placed, relieved, until) == 0:
        return result
    schedule = Schedule(tuple(placed.values()), tuple(
        u for u in result.schedule.unplaced if u.job_id not in placed))
    details = {**result.details,
               "guard_relief": sorted(j for j in relieved if j in placed)}
    return dataclasses.replace(result, schedule=schedule, status=SolveStatus.FEASIBLE,
                               bound=None, unplaced_penalty=0.0, details=details)


__all__ = ["relieve_guards"]
