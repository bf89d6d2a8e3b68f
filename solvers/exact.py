"""Exact solving: greedy -> model -> LP bound and LP-guided rounding -> backend -> best plan.

Shared by the MILP and CP-SAT backends:

1. the greedy plan, always valid, is the first candidate;
2. the time-indexed model is built once; its LP relaxation gives a proven bound and, by
   rounding (:mod:`greenslot.solvers.rounding`), a second candidate;
3. the better candidate is the backend's complete warm start, so the backend's answer is
   never worse than either;
4. the backend's answer is decoded to concrete nodes and validated; the best valid plan wins.

The reported bound is the best of the LP's and the backend's, both proven on a relaxation of
the full problem.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from greenslot.model.accounting import account, objective_value
from greenslot.model.scenario import Scenario
from greenslot.model.schedule import Assignment, Schedule, Unplaced
from greenslot.model.validator import validate
from greenslot.solvers.backend import Backend, BackendAnswer
from greenslot.solvers.cuts import WakeCuts
from greenslot.solvers.decode import chosen_columns, decode, encode
from greenslot.solvers.diagnose import explain_no_fit
from greenslot.solvers.formulation import build, has_budgets, unmargined
from greenslot.solvers.greedy import solve_greedy
from greenslot.solvers.local_search import move_jobs_one_by_one, ruin_and_recreate
from greenslot.solvers.pinned import place_pinned
from greenslot.solvers.prepare import Prepared, pooled_wake_is_a_relaxation, prepare
from greenslot.solvers.relaxation import solve_relaxation
from greenslot.solvers.rounding import round_relaxation
from greenslot.solvers.state import ClusterState
from greenslot.solvers.types import DEFAULT_GAP, SolveOptions, SolveResult, SolveStatus

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

OPTIMALITY_TOLERANCE = 1e-6
ROUNDING_CREDIT = 1e-4  # relative: CP-SAT's rounding allowance that still counts as optimal
LP_TIME_SHARE = 0.8  # of the time left, at most, for the LP relaxation (bound and guide)
IMPROVE_TIME_SHARE = 0.6  # of the time limit, for local improvement of the warm start
IMPROVE_SECONDS = 60.0  # the same without a time limit
# HiGHS's root LP inside branch and bound (after MIP presolve and a heuristic) took about ten
# times the plain LP relaxation on the benchmark instances; with less time left than this
# multiple, the backend is skipped rather than left to overrun the time limit.
BACKEND_ROOT_FACTOR = 15.0


@dataclass(frozen=True)
class Candidate:
    """A valid plan, where it came from and its penalised objective."""

    source: str
    schedule: Schedule
    value: float
    penalty: float

    @property
    def total(self) -> float:
        return self.value + self.penalty


def _penalty_of(prep: Prepared, schedule: Schedule) -> float:
    """Penalty of jobs left out that had a feasible column (the others cannot run anyway)."""
    position = {j.job_id: k for k, j in enumerate(prep.jobs)}
    return float(sum(prep.penalty[position[u.job_id]] for u in schedule.unplaced
                     if u.job_id in position and prep.can_run()[position[u.job_id]]))


def unavoidable_penalty(prep: Prepared) -> float:
    return float(prep.penalty[~prep.can_run()].sum())


def with_reasons(state: ClusterState, placed: dict[str, Assignment], prep: Prepared
                  ) -> Schedule:
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


def valid_candidate(scenario: Scenario, prep: Prepared, source: str,
               schedule: Schedule) -> Candidate | None:
    """A candidate if the independent validator accepts the plan, else None (logged)."""
    problems = validate(scenario, schedule)
    if problems:
        logger.warning("%s plan discarded: %s", source, problems[0])
        return None
    value = objective_value(scenario, account(scenario, schedule).totals)
    return Candidate(source, schedule, value, _penalty_of(prep, schedule))


def locally_improved(scenario: Scenario, prep: Prepared, best: Candidate,
              deadline: float) -> Candidate | None:
    """``best`` after local search: single moves, then ruin and recreate until ``deadline``."""
    state = ClusterState(scenario)
    placed = {}
    for a in best.schedule.assignments:
        job = scenario.job(a.job_id)
        ids = [scenario.node_position(n) for n in a.nodes]
        node = scenario.nodes[ids[0]]
        mode = scenario.gpu_type(node.gpu_type).mode(job.workload, a.power_limit_w)
        state.place(job, ids, a.start_slot, a.end_slot, mode.power_w,
                    job.gpus if len(ids) == 1 else node.gpus)
        placed[a.job_id] = a
    moved = move_jobs_one_by_one(state, placed, prep, deadline)
    moved += ruin_and_recreate(state, placed, prep, deadline)
    if not moved:
        return None
    return valid_candidate(scenario, prep, f"{best.source}+moves",
                           with_reasons(state, placed, prep))


def checked_bound(bound: float | None, prep: Prepared, best_total: float) -> float | None:
    """``bound`` as reported: withheld where the pooled model is no relaxation, dropped when
    above a feasible plan beyond solver tolerance, else clamped to that plan's objective."""
    if bound is not None and not pooled_wake_is_a_relaxation(prep):
        logger.warning("no bound: a node pool mixes idle draws and some price is negative, "
                       "so the pooled model is not a relaxation")
        return None
    if bound is None or bound <= best_total:
        return bound
    if bound - best_total > OPTIMALITY_TOLERANCE * max(1.0, abs(best_total)):
        logger.warning("bound %.9g above a feasible objective %.9g: dropped", bound, best_total)
        return None
    return best_total


def _remaining(options: SolveOptions, began: float, share: float = 1.0) -> float | None:
    if options.time_limit_s is None:
        return None
    return max(1.0, share * (options.time_limit_s - (time.perf_counter() - began)))


def _progress_relay(options: SolveOptions, offset: float):
    if options.progress is None:
        return None
    outer = options.progress

    def report(incumbent: float | None, bound: float | None) -> None:
        outer(None if incumbent is None else incumbent - offset,
              None if bound is None else bound - offset)

    return report


def prepared(scenario: Scenario) -> Prepared:
    """The shared preparation of ``scenario`` (pools, columns) around its pinned jobs."""
    state = ClusterState(scenario)
    return prepare(scenario, place_pinned(state), state)


def solve_exact(scenario: Scenario, options: SolveOptions, backend: Backend,
                name: str, prep: Prepared | None = None) -> SolveResult:
    """Solve with ``backend`` (milp or cpsat) as the module docstring describes.

    ``prep`` is the scenario's preparation when the caller made it already (``auto`` does,
    to measure the model); it is built here otherwise.
    """
    began = time.perf_counter()
    greedy = solve_greedy(scenario, options)
    prep = prep if prep is not None else prepared(scenario)
    model, index = build(prep)
    unavoidable = unavoidable_penalty(prep)
    candidates = [valid_candidate(scenario, prep, "greedy", greedy.schedule)]

    relaxation = solve_relaxation(unmargined(model), _remaining(options, began, LP_TIME_SHARE),
                                  options.threads, WakeCuts(prep, index).separate)
    if relaxation.values is not None:
        rounded_state, placed, _ = round_relaxation(prep, index, relaxation.values)
        candidates.append(valid_candidate(scenario, prep, "lp-rounding",
                                     with_reasons(rounded_state, placed, prep)))
    candidates = [c for c in candidates if c is not None]
    best = min(candidates, key=lambda c: c.total)
    left = _remaining(options, began)
    run_backend = left is None or left >= BACKEND_ROOT_FACTOR * relaxation.seconds / (
        1 - IMPROVE_TIME_SHARE)
    if left is None:
        search_until = began + IMPROVE_SECONDS
    elif run_backend:
        search_until = time.perf_counter() + IMPROVE_TIME_SHARE * left
    else:  # the backend cannot even solve its root LP in time: search to the end instead
        search_until = time.perf_counter() + 0.97 * left
    improved = locally_improved(scenario, prep, best, search_until)
    if improved is not None and improved.total < best.total - 1e-9:
        candidates.append(improved)
        best = improved
    if options.progress is not None:
        options.progress(best.total, None if relaxation.bound is None
                         else relaxation.bound - unavoidable)

    start = encode(model, prep, index, best.schedule)
    if not run_backend:
        logger.info("%s skipped: its root LP alone needs about %.0f s", name,
                    BACKEND_ROOT_FACTOR * relaxation.seconds)
        answer = BackendAnswer(values=None, objective=None, bound=None, optimal=False,
                               build_seconds=0.0, solve_seconds=0.0,
                               interface=f"{name} skipped (no time for its root LP)")
    else:
        answer = backend(model, SolveOptions(time_limit_s=_remaining(options, began),
                                             threads=options.threads,
                                             gap=options.gap,
                                             progress=_progress_relay(options, unavoidable)),
                         start)
    if answer.values is not None:
        decoded_state = ClusterState(scenario)
        placed, _ = decode(prep, chosen_columns(prep, index, answer.values),
                           place_pinned(decoded_state), decoded_state)
        found = valid_candidate(scenario, prep, name, with_reasons(decoded_state, placed, prep))
        if found is not None and found.total < best.total - 1e-9:
            best = found

    # the backend solved the model with budgets tightened by BUDGET_MARGIN, a restriction:
    # its bound is only used when there is no budget row
    backend_bound = None if has_budgets(model) else answer.bound
    bounds = [b - unavoidable for b in (relaxation.bound, backend_bound) if b is not None]
    bound = checked_bound(max(bounds) if bounds else None, prep, best.total)
    tolerance = max(options.gap if options.gap is not None else DEFAULT_GAP, 1e-9)
    # CP-SAT proves optimality of its integer model; its rounding allowance (the slack) is
    # credited only while it is small (ROUNDING_CREDIT of the objective): a slack of half
    # the objective, from coefficients rounded to zero, once let a plan 50 % above the
    # bound pass as optimal
    scale = max(abs(best.total), 1e-9)
    credit = answer.bound_slack if answer.optimal and answer.bound_slack <= \
        ROUNDING_CREDIT * scale else 0.0
    optimal = bound is not None and best.total - bound <= tolerance * scale + 1e-9 + credit
    return SolveResult(
        solver=name,
        status=SolveStatus.OPTIMAL if optimal else SolveStatus.FEASIBLE,
        schedule=best.schedule,
        bound=bound,
        solve_seconds=time.perf_counter() - began,
        unplaced_penalty=best.penalty,
        details={
            "plan_from": best.source, "interface": answer.interface,
            "build_seconds": answer.build_seconds, "backend_seconds": answer.solve_seconds,
            "lp_seconds": relaxation.seconds, "lp_cuts": relaxation.cuts,
            "lp_bound": None if relaxation.bound is None else relaxation.bound - unavoidable,
            "backend_bound": None if answer.bound is None else answer.bound - unavoidable,
            "columns": len(prep.columns), "variables": model.n_vars, "rows": len(model.rows),
            "nonzeros": int(sum(len(r.indices) for r in model.rows)),
            "warm_start": start is not None,
            "candidates": {c.source: c.total for c in candidates},
            "backend_objective": None if answer.objective is None
            else answer.objective - unavoidable,
            "pools": len(prep.pools),
        },
    )
