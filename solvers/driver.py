"""One driver for the exact and the large-scale pipelines: candidates, search, bound, status.

Both pipelines run the same steps; only how they prove a bound and what they try after local
search differ, and that is their :class:`Method`:

1. the greedy plan, always valid, is the first candidate;
2. the method proves a bound and rounds its relaxation into a second candidate
   (:meth:`Method.bound_and_round`: the LP for ``exact``, the Lagrangian for ``large``);
3. local search (single moves, then ruin and recreate) improves the better candidate;
4. the method may try once more from the best plan (:meth:`Method.finish`: the MILP or CP-SAT
   backend, warm-started; nothing for ``large``);
5. the bound, less the penalties of jobs that cannot run at all, is checked against the best
   plan (:func:`checked_bound`) and decides the status.

Each plan counts only if the independent validator accepts it. A candidate's unplaced jobs get
their reasons only if it is the plan returned: reasons cost a diagnosis per job, and the plan
pipeline derives them again from the final plan anyway
(:func:`greenslot.pipeline.steps.with_explained_unplaced`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from greenslot.model.accounting import account, objective_value
from greenslot.model.scenario import Scenario
from greenslot.model.schedule import Assignment, Schedule, Unplaced, dependency_not_placed
from greenslot.model.validator import validate
from greenslot.solvers.diagnose import explain_no_fit
from greenslot.solvers.greedy import solve_greedy
from greenslot.solvers.local_search import move_jobs_one_by_one, ruin_and_recreate
from greenslot.solvers.prepare import Prepared, pooled_wake_is_a_relaxation
from greenslot.solvers.state import ClusterState
from greenslot.solvers.types import DEFAULT_GAP, SolveOptions, SolveResult, SolveStatus

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

OPTIMALITY_TOLERANCE = 1e-6
IMPROVEMENT = 1e-9  # a later plan replaces the best only when lower by more than this
ROUNDING_CREDIT = 1e-4
"""Relative to the objective: the most of a backend's rounding slack credited as optimal.

A slack of half the objective, from CP-SAT coefficients rounded to zero, once let a plan 50 %
above the bound pass as optimal; a small one is the backend's honest rounding allowance."""
REASON_PENDING = "(reason derived only for the plan returned)"
"""Placeholder reason of a candidate's unplaced job; never leaves the driver."""


@dataclass(frozen=True)
class PlanCandidate:
    """A valid plan, where it came from and its penalised objective.

    ``reasons_from`` is the cluster state the plan was built in, when its unplaced jobs still
    carry :data:`REASON_PENDING`; :func:`explained` derives their reasons from it. None when
    the schedule has its reasons already (greedy's).
    """

    source: str
    schedule: Schedule
    value: float
    penalty: float
    reasons_from: ClusterState | None = field(default=None, compare=False, repr=False)

    @property
    def total(self) -> float:
        return self.value + self.penalty


def unavoidable_penalty(prep: Prepared) -> float:
    """Penalty of the jobs that cannot run at all: part of every plan's objective."""
    return float(prep.penalty[~prep.can_run()].sum())


def _penalty_of(prep: Prepared, schedule: Schedule) -> float:
    """Penalty of jobs left out that had a feasible column (the others cannot run anyway)."""
    position = {j.job_id: k for k, j in enumerate(prep.jobs)}
    return float(sum(prep.penalty[position[u.job_id]] for u in schedule.unplaced
                     if u.job_id in position and prep.can_run()[position[u.job_id]]))


def valid_candidate(scenario: Scenario, prep: Prepared, source: str, schedule: Schedule,
                    reasons_from: ClusterState | None = None) -> PlanCandidate | None:
    """A candidate if the independent validator accepts the plan, else None (logged)."""
    problems = validate(scenario, schedule)
    if problems:
        logger.warning("%s plan discarded: %s", source, problems[0])
        return None
    value = objective_value(scenario, account(scenario, schedule).totals)
    return PlanCandidate(source, schedule, value, _penalty_of(prep, schedule), reasons_from)


def candidate_from_state(scenario: Scenario, prep: Prepared, source: str,
                         state: ClusterState, placed: dict[str, Assignment]
                         ) -> PlanCandidate | None:
    """The plan ``placed`` (built in ``state``) as a candidate, its reasons left for later.

    ``state`` must not change afterwards: the reasons are derived from it if this plan wins.
    """
    unplaced = tuple(Unplaced(job.job_id, REASON_PENDING) for job in prep.jobs
                     if job.job_id not in placed)
    return valid_candidate(scenario, prep, source,
                           Schedule(tuple(placed.values()), unplaced), state)


def explained(candidate: PlanCandidate, prep: Prepared) -> Schedule:
    """``candidate``'s schedule with a reason for each unplaced job, against its own state."""
    state = candidate.reasons_from
    if state is None:
        return candidate.schedule
    placed = candidate.schedule.by_job()
    unplaced = []
    for u in candidate.schedule.unplaced:
        job = prep.scenario.job(u.job_id)
        missing = [d for d in job.depends_on if d not in placed]
        if missing:
            reason = dependency_not_placed(missing[0])
        else:
            reason = explain_no_fit(state, job, prep.earliest_start[job.job_id],
                                    prep.latest_end[job.job_id])
        unplaced.append(Unplaced(u.job_id, reason))
    return Schedule(candidate.schedule.assignments, tuple(unplaced))


def locally_improved(scenario: Scenario, prep: Prepared, best: PlanCandidate,
                     deadline: float) -> PlanCandidate | None:
    """``best`` after local search: single moves, then ruin and recreate until ``deadline``
    (a :func:`time.perf_counter` value); None when no move was made."""
    state = ClusterState(scenario)
    placed = {}
    for a in best.schedule.assignments:
        job = scenario.job(a.job_id)
        ids = [scenario.node_position(n) for n in a.nodes]
        node = scenario.nodes[ids[0]]
        mode = scenario.gpu_type(node.gpu_type).run_mode(job.workload, a.power_limit_w)
        state.place(job, ids, a.start_slot, a.end_slot, mode.power_w,
                    job.gpus if len(ids) == 1 else node.gpus)
        placed[a.job_id] = a
    moved = move_jobs_one_by_one(state, placed, prep, deadline)
    moved += ruin_and_recreate(state, placed, prep, deadline)
    if not moved:
        return None
    return candidate_from_state(scenario, prep, f"{best.source}+moves", state, placed)


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


@dataclass(frozen=True)
class Run:
    """One solve under way: what every step reads. ``began`` is a perf_counter value."""

    scenario: Scenario
    options: SolveOptions
    prep: Prepared
    began: float
    unavoidable: float
    greedy: PlanCandidate | None

    def report(self, incumbent: float | None, bound: float | None) -> None:
        """Pass (incumbent, bound) to the caller's progress callback, if any."""
        if self.options.progress is not None:
            self.options.progress(incumbent, bound)


@dataclass(frozen=True)
class BoundPhase:
    """What a method's bound step found.

    ``bound`` is proven on the method's relaxation, before the unavoidable penalty is taken
    off (None: none proven); ``rounded`` the plan rounded from it (None: none valid);
    ``search_until`` when local search must stop (perf_counter).
    """

    bound: float | None
    rounded: PlanCandidate | None
    search_until: float


@dataclass(frozen=True)
class FinishPhase:
    """What a method's last step found: a plan, another proven bound (before the unavoidable
    penalty) and how it ran.

    ``rounding_slack`` is how far a backend that claims optimality lowered its bound for its
    own rounding (CP-SAT's integer scaling); see :data:`ROUNDING_CREDIT`.
    """

    found: PlanCandidate | None = None
    bound: float | None = None
    rounding_slack: float = 0.0
    interface: str = ""
    figures: Mapping[str, Any] = field(default_factory=dict)
    """The step's own measurements, for :meth:`Method.details`."""


Phase = TypeVar("Phase", bound=BoundPhase)


class Method(Protocol[Phase]):
    """What differs between the pipelines the driver runs (see the module docstring).

    ``name`` is the solver name in the result. Optimality is ``best - bound <=
    max(gap, gap_floor) * |best| + absolute_slack + credit``, the credit being the finish's
    rounding slack while it is within :data:`ROUNDING_CREDIT`.
    """

    # Read-only, so a frozen dataclass's fields satisfy them.
    @property
    def name(self) -> str: ...

    @property
    def gap_floor(self) -> float: ...

    @property
    def absolute_slack(self) -> float: ...

    def bound_and_round(self, run: Run) -> Phase:
        """Prove a bound and round its relaxation into a plan."""
        ...

    def finish(self, run: Run, phase: Phase, best: PlanCandidate) -> FinishPhase:
        """One more try from the best plan so far (a warm-started backend), or nothing."""
        ...

    def details(self, run: Run, phase: Phase, finish: FinishPhase,
                shared: Mapping[str, Any]) -> dict[str, Any]:
        """The result's ``details``: ``shared`` (plan_from, interface, candidates, the
        reported bound) and the method's own figures, in the order ``summary.json`` shows
        them."""
        ...


def is_optimal(total: float, bound: float | None, gap: float, absolute: float,
               rounding_slack: float) -> bool:
    """Whether ``bound`` proves ``total`` within relative ``gap`` plus ``absolute``, crediting
    ``rounding_slack`` while it is at most :data:`ROUNDING_CREDIT` of the objective."""
    scale = max(abs(total), 1e-9)
    credit = rounding_slack if rounding_slack <= ROUNDING_CREDIT * scale else 0.0
    return bound is not None and total - bound <= gap * scale + absolute + credit


def drive(scenario: Scenario, options: SolveOptions, method: Method[Phase], prep: Prepared,
          began: float | None = None) -> SolveResult:
    """Run the steps of the module docstring with ``method`` on ``scenario``, prepared as
    ``prep`` (by the caller: the methods need different preparations).

    ``began`` (a perf_counter value, default now) is when the solve started: time limits and
    ``solve_seconds`` count from it, preparation included.
    """
    began = time.perf_counter() if began is None else began
    greedy = valid_candidate(scenario, prep, "greedy", solve_greedy(scenario, options).schedule)
    run = Run(scenario, options, prep, began, unavoidable_penalty(prep), greedy)

    phase = method.bound_and_round(run)
    candidates = [c for c in (greedy, phase.rounded) if c is not None]
    if not candidates:
        raise RuntimeError("neither greedy nor rounding produced a valid plan")
    best = min(candidates, key=lambda c: c.total)
    improved = locally_improved(scenario, prep, best, phase.search_until)
    if improved is not None and improved.total < best.total - IMPROVEMENT:
        candidates.append(improved)
        best = improved
    run.report(best.total, None if phase.bound is None else phase.bound - run.unavoidable)

    finish = method.finish(run, phase, best)
    if finish.found is not None and finish.found.total < best.total - IMPROVEMENT:
        best = finish.found

    bounds = [b - run.unavoidable for b in (phase.bound, finish.bound) if b is not None]
    bound = checked_bound(max(bounds) if bounds else None, prep, best.total)
    run.report(best.total, bound)
    gap = max(options.gap if options.gap is not None else DEFAULT_GAP, method.gap_floor)
    optimal = is_optimal(best.total, bound, gap, method.absolute_slack, finish.rounding_slack)
    shared = {"plan_from": best.source, "interface": finish.interface,
              "candidates": {c.source: c.total for c in candidates}, "bound": bound}
    return SolveResult(
        solver=method.name,
        status=SolveStatus.OPTIMAL if optimal else SolveStatus.FEASIBLE,
        schedule=explained(best, prep),
        bound=bound,
        solve_seconds=time.perf_counter() - began,
        unplaced_penalty=best.penalty,
        details=method.details(run, phase, finish, shared),
    )
