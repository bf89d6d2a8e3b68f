"""Exact solving: greedy warm start -> prepare -> build -> backend -> decode -> keep the better.

Shared by the MILP and CP-SAT backends. The greedy plan is computed first and passed as a
complete start, so the answer is never worse than greedy; when the backend's plan decodes to a
higher true objective than greedy (fragmentation, a time limit with no better incumbent),
greedy's plan is returned with the backend's bound.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from greenslot.model.accounting import account, objective_value
from greenslot.model.scenario import Scenario
from greenslot.model.schedule import Schedule, Unplaced
from greenslot.model.validator import validate
from greenslot.solvers.decode import chosen_columns, decode, encode
from greenslot.solvers.diagnose import explain_no_fit
from greenslot.solvers.formulation import build
from greenslot.solvers.greedy import solve_greedy
from greenslot.solvers.milp import BackendAnswer
from greenslot.solvers.pinned import place_pinned
from greenslot.solvers.prepare import Prepared, prepare
from greenslot.solvers.state import ClusterState
from greenslot.solvers.types import DEFAULT_GAP, SolveOptions, SolveResult, SolveStatus

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

Backend = Callable[..., BackendAnswer]
OPTIMALITY_TOLERANCE = 1e-6


def _penalty_of(prep: Prepared, schedule: Schedule) -> float:
    """Penalty of jobs left out that had a feasible column (the others cannot run anyway)."""
    position = {j.job_id: k for k, j in enumerate(prep.jobs)}
    return float(sum(prep.penalty[position[u.job_id]] for u in schedule.unplaced
                     if u.job_id in position and prep.columns_of_job[position[u.job_id]]))


def _unavoidable_penalty(prep: Prepared) -> float:
    return float(sum(prep.penalty[k] for k, cols in enumerate(prep.columns_of_job) if not cols))


def _with_reasons(scenario: Scenario, state: ClusterState, placed: dict, lost: list[str],
                  prep: Prepared) -> Schedule:
    unplaced = []
    for job in prep.jobs:
        if job.job_id in placed:
            continue
        missing = [d for d in job.depends_on if d not in placed]
        if missing:
            reason = f"depends on {missing[0]}, which is not placed"
        else:
            reason = explain_no_fit(state, job, prep.earliest_start[job.job_id],
                                    prep.latest_end[job.job_id])
        unplaced.append(Unplaced(job.job_id, reason))
    return Schedule(tuple(placed.values()), tuple(unplaced))


def solve_exact(scenario: Scenario, options: SolveOptions, backend: Backend,
                name: str) -> SolveResult:
    """Solve with ``backend`` (milp or cpsat), warm-started from and never worse than greedy."""
    began = time.perf_counter()
    greedy = solve_greedy(scenario, options)
    state = ClusterState(scenario)
    pinned = place_pinned(state)
    prep = prepare(scenario, pinned, state)
    model, index = build(prep)
    start = encode(model, prep, index, greedy.schedule)
    remaining = None
    if options.time_limit_s is not None:
        remaining = max(1.0, options.time_limit_s - (time.perf_counter() - began))
    unavoidable = _unavoidable_penalty(prep)
    report = None
    if options.progress is not None:
        outer = options.progress

        def report(incumbent: float | None, bound: float | None) -> None:
            outer(None if incumbent is None else incumbent - unavoidable,
                  None if bound is None else bound - unavoidable)

    answer = backend(model, SolveOptions(time_limit_s=remaining, threads=options.threads,
                                         gap=options.gap, progress=report), start)
    greedy_penalty = _penalty_of(prep, greedy.schedule)
    greedy_value = objective_value(scenario, account(scenario, greedy.schedule).totals)
    best_schedule, best_penalty, best_value = greedy.schedule, greedy_penalty, greedy_value
    source = "greedy"
    if answer.values is not None:
        decoded_state = ClusterState(scenario)
        decoded_pinned = place_pinned(decoded_state)
        placed, lost = decode(prep, chosen_columns(prep, index, answer.values), decoded_pinned,
                              decoded_state)
        schedule = _with_reasons(scenario, decoded_state, placed, lost, prep)
        penalty = _penalty_of(prep, schedule)
        value = objective_value(scenario, account(scenario, schedule).totals)
        problems = validate(scenario, schedule)
        if problems:
            logger.warning("%s plan discarded, greedy kept: %s", name, problems[0])
        elif value + penalty < best_value + best_penalty - 1e-9:
            best_schedule, best_penalty, best_value, source = schedule, penalty, value, name
    bound = None if answer.bound is None else answer.bound - unavoidable
    total = best_value + best_penalty
    tolerance = max(options.gap if options.gap is not None else DEFAULT_GAP, 1e-9)
    optimal = bool(answer.optimal and bound is not None
                   and total - bound <= tolerance * max(abs(total), 1e-9) + 1e-9
                   + answer.bound_slack)
    if bound is not None and bound > total:
        if bound - total > OPTIMALITY_TOLERANCE * max(1.0, abs(total)):
            logger.warning("backend bound %.9g above a feasible objective %.9g: dropped",
                           bound, total)
            bound = None
        else:
            bound = total
    nonzeros = int(sum(len(r.indices) for r in model.rows))
    return SolveResult(
        solver=name,
        status=SolveStatus.OPTIMAL if optimal else SolveStatus.FEASIBLE,
        schedule=best_schedule,
        bound=bound,
        solve_seconds=time.perf_counter() - began,
        unplaced_penalty=best_penalty,
        details={
            "plan_from": source, "interface": answer.interface,
            "build_seconds": answer.build_seconds, "backend_seconds": answer.solve_seconds,
            "columns": len(prep.columns), "variables": model.n_vars, "rows": len(model.rows),
            "nonzeros": nonzeros, "warm_start": start is not None,
            "greedy_objective": greedy_value + greedy_penalty,
            "backend_objective": answer.objective if answer.objective is None
            else answer.objective - unavoidable,
            "pools": len(prep.pools),
        },
    )


__all__ = ["solve_exact"]
