"""The plan pipeline: solve -> validate -> account, returning everything the writers need.

Each step is a public function so an analyst can run them one at a time from Python.

A nightly run must always leave a valid plan: when the chosen solver raises or returns a
schedule the validator rejects, :func:`solve_checked` falls back to ``greedy`` (or to ``fifo``
when greedy itself failed, if fifo's plan is valid), records why under ``fallback`` and warns.
Only when no valid plan exists at all does :class:`InvalidScheduleError` stop the run, and then
nothing is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass

from greenslot.model.accounting import Accounting, account, objective_value
from greenslot.model.errors import Conflict, InfeasibleError, InvalidScheduleError
from greenslot.model.scenario import Scenario
from greenslot.model.schedule import Schedule
from greenslot.model.validator import validate
from greenslot.solvers.best_window import solve_best_window
from greenslot.solvers.diagnose import explain_unplaced
from greenslot.solvers.fifo import solve_fifo
from greenslot.solvers.queue import missed_deadlines
from greenslot.solvers.registry import get_solver
from greenslot.solvers.types import SolveOptions, SolveResult, SolveStatus

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())


@dataclass(frozen=True)
class Plan:
    """A validated, priced plan plus the baselines it is compared with.

    ``objective`` is the scenario's objective on the plan's totals, plus the exact solvers'
    penalty for jobs left out although they had a feasible window (zero when none are).
    """

    scenario: Scenario
    result: SolveResult
    accounting: Accounting
    objective: float
    baselines: dict[str, dict[str, float]]

    @property
    def schedule(self) -> Schedule:
        return self.result.schedule

    @property
    def plan_id(self) -> str:
        """A short stable id of this schedule, used to tag Slurm submissions.

        The horizon's start is part of it: slots are relative, so without it tonight's plan
        of a recurring scenario could share yesterday's id, and ``submit`` would take
        yesterday's jobs (still in the ledger or the queue) for tonight's.
        """
        text = "|".join(f"{a.job_id}@{a.start_slot}:{a.power_limit_w}:{','.join(a.nodes)}"
                        for a in self.schedule.assignments)
        start = self.scenario.grid.start.isoformat()
        digest = hashlib.sha256(f"{self.scenario.name}|{start}|{text}".encode()).hexdigest()
        return digest[:12]


def check_schedule(scenario: Scenario, schedule: Schedule) -> None:
    """Raise :class:`InvalidScheduleError` unless the independent validator accepts."""
    violations = validate(scenario, schedule)
    if violations:
        raise InvalidScheduleError(violations)


FALLBACKS = ("greedy", "fifo")
"""Solvers tried, in order, when the chosen one fails; neither needs a backend."""


def solve_checked(scenario: Scenario, solver: str, options: SolveOptions) -> SolveResult:
    """Run ``solver`` and return a schedule the validator accepts, falling back if need be.

    :class:`InfeasibleError` (pinned jobs in conflict) is an answer, not a failure, and is
    raised as is. Any other exception from a solver (a backend crash, a bug, running out of
    memory) or an invalid schedule makes the next of :data:`FALLBACKS` run instead; the
    result then carries ``details["fallback"]`` saying what failed and why, its status is
    ``feasible`` and it claims no bound.

    Raises
    ------
    InvalidScheduleError
        No solver, fallbacks included, produced a valid schedule.
    """
    outcome = _attempt(scenario, solver, options)
    if isinstance(outcome, SolveResult):
        return outcome
    failures = [(solver, outcome)]
    for fallback in (s for s in FALLBACKS if s != solver):
        result = _attempt(scenario, fallback, options)
        if isinstance(result, SolveResult):
            why = f"{solver} {outcome}"
            logger.warning("%s; wrote the %s plan instead (status %s)", why, fallback,
                           SolveStatus.FEASIBLE)
            details = {**result.details, "fallback": {"requested": solver, "used": fallback,
                                                      "reason": why}}
            return dataclasses.replace(result, status=SolveStatus.FEASIBLE, bound=None,
                                       details=details)
        failures.append((fallback, result))
    raise InvalidScheduleError([f"{name} {why}" for name, why in failures])


def _attempt(scenario: Scenario, solver: str, options: SolveOptions) -> SolveResult | str:
    """The solver's valid result, or a short text saying how it failed."""
    try:
        result = get_solver(solver)(scenario, options)
    except InfeasibleError:
        raise
    except Exception as exc:  # any solver failure must still leave a plan: see solve_checked
        logger.info("%s raised", solver, exc_info=True)
        text = " ".join(str(exc).split())[:200]
        return f"failed ({type(exc).__name__}{': ' + text if text else ''})"
    violations = validate(scenario, result.schedule)
    if violations:
        more = f"; +{len(violations) - 1} more" if len(violations) > 1 else ""
        return f"returned a schedule the validator rejects ({violations[0]}{more})"
    return result


def with_explained_unplaced(scenario: Scenario, result: SolveResult) -> SolveResult:
    """``result`` with each unplaced job's reason re-derived from the final plan.

    The reasons then name the jobs that really hold the room. A failure here is a bug in the
    diagnosis, never a reason to lose the plan: the solver's own reasons are kept.
    """
    try:
        schedule = explain_unplaced(scenario, result.schedule)
    except Exception:  # see the docstring: the plan matters more than a better reason
        logger.warning("could not refine the reasons for unplaced jobs; keeping the solver's",
                       exc_info=logger.isEnabledFor(logging.INFO))
        return result
    return dataclasses.replace(result, schedule=schedule)


def baseline_totals(scenario: Scenario) -> dict[str, dict[str, float]]:
    """Totals of the baselines, for an honest comparison.

    The contract's ``fifo`` and ``best_window`` (per-job ``--begin`` shifting, issue 4), each
    with how many jobs it placed and how many of those end after their deadline (both queue
    jobs without looking at deadlines, so a saving they show may come from late jobs).
    """
    baselines = {}
    for name, solve in (("fifo", solve_fifo), ("best_window", solve_best_window)):
        schedule = solve(scenario, SolveOptions()).schedule
        baselines[name] = account(scenario, schedule).totals | {
            "placed": len(schedule.assignments),
            "missed_deadlines": missed_deadlines(scenario, schedule)}
    return baselines


def plan(scenario: Scenario, solver: str = "greedy", options: SolveOptions | None = None,
         strict: bool = False) -> Plan:
    """Solve, validate and price ``scenario``.

    Raises
    ------
    InfeasibleError
        Pinned jobs conflict, or ``strict`` and some job could not be placed.
    InvalidScheduleError
        Neither the solver nor any fallback returned a valid schedule (nothing is written).
    """
    options = options or SolveOptions()
    result = with_explained_unplaced(scenario, solve_checked(scenario, solver, options))
    logger.info("%s placed %d jobs in %.2f s", result.solver, len(result.schedule.assignments),
                result.solve_seconds)
    check_schedule(scenario, result.schedule)
    if strict and result.schedule.unplaced:
        raise InfeasibleError(Conflict((u.job_id,), u.reason) for u in result.schedule.unplaced)
    figures = account(scenario, result.schedule)
    return Plan(
        scenario=scenario,
        result=result,
        accounting=figures,
        objective=objective_value(scenario, figures.totals) + result.unplaced_penalty,
        baselines=baseline_totals(scenario),
    )
