"""The plan pipeline: baselines -> solve -> explain -> account -> validate, in one pass.

Each step is a public function so an analyst can run them one at a time from Python. Each
schedule is solved once, priced once and validated once: the baselines are solved and priced
before the solver runs and handed to it (greedy competes with them), and the plan's accounting
is computed once, then reused by the validator, ``summary.json`` and ``schedule.csv``.

A nightly run must always leave a valid plan: when the chosen solver raises or returns a
schedule the validator rejects, :func:`solve_checked` falls back to ``greedy`` (or to ``fifo``
when greedy itself failed, if fifo's plan is valid), records why under ``fallback`` and warns
with a :class:`FallbackWarning` (a Python warning, so a library caller sees it without
configuring logging; the CLI prints it as one ``greenslot:`` line). An unknown solver name is
a ``ValueError``, never a fallback.
Only when no valid plan exists at all does :class:`InvalidScheduleError` stop the run, and then
nothing is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
import warnings
from dataclasses import dataclass

from greenslot.model.accounting import Accounting, account, objective_value
from greenslot.model.errors import (
    Conflict,
    FallbackWarning,
    InfeasibleError,
    InvalidScheduleError,
)
from greenslot.model.scenario import Scenario
from greenslot.model.schedule import Schedule
from greenslot.model.validator import validate
from greenslot.solvers.baselines import Baselines, solve_baselines
from greenslot.solvers.deadline import passed, tail_reserve_s
from greenslot.solvers.diagnose import explain_unplaced
from greenslot.solvers.guard_relief import relieve_guards
from greenslot.solvers.registry import SOLVERS, get_solver
from greenslot.solvers.types import SolveOptions, SolveResult, SolveStatus

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())


@dataclass(frozen=True)
class Plan:
    """A validated, priced plan plus the baselines it is compared with.

    ``objective`` is the scenario's objective on the plan's own totals: the same number for
    the same plan whichever solver found it. The exact solvers' penalty for jobs they left out
    although they had a feasible window is ``result.unplaced_penalty``, apart; their proven
    bound is on ``objective + unplaced_penalty`` (see :attr:`bound`).
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
    def penalised_objective(self) -> float:
        """``objective`` plus the solver's penalty for avoidable unplaced jobs: what the
        exact solvers minimise and what their bound is proven on."""
        return self.objective + self.result.unplaced_penalty

    @property
    def bound(self) -> float | None:
        """A proven lower bound on :attr:`objective`, or None.

        The solver's bound is proven on :attr:`penalised_objective`; it bounds ``objective``
        itself only when no avoidable job is left out (no penalty), and is None otherwise
        (it is then ``summary.json``'s ``bound_with_penalty``).
        """
        if self.result.bound is None or self.result.unplaced_penalty:
            return None
        return self.result.bound

    @property
    def gap(self) -> float | None:
        """Relative distance of the objective above :attr:`bound`; None without one, and
        None when the objective is zero (no relative gap to speak of)."""
        return _relative_gap(self.objective, self.bound)

    @property
    def gap_with_penalty(self) -> float | None:
        """Relative distance of :attr:`penalised_objective` above the solver's bound."""
        return _relative_gap(self.penalised_objective, self.result.bound)

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


def _relative_gap(value: float, bound: float | None) -> float | None:
    if bound is None or not value:
        return None
    return max(0.0, (value - bound) / abs(value))


BASELINE_TIME_SHARE = 0.2
"""Of a time-limited plan's solve time, at most, for the two baselines (a comparison only)."""

FALLBACKS = ("greedy", "fifo")
"""Solvers tried, in order, when the chosen one fails; neither needs a backend."""


@dataclass(frozen=True)
class CheckedSolve:
    """A solver's result that the validator accepted, its reasons explained, and its figures.

    ``accounting`` is ``account(scenario, result.schedule)``, computed once: the validator's
    cap and budget checks used it, and the plan and its writers use it again.
    """

    result: SolveResult
    accounting: Accounting


def solve_checked(scenario: Scenario, solver: str, options: SolveOptions,
                  deadline: float | None = None) -> CheckedSolve:
    """Run ``solver`` and return a schedule the validator accepts, falling back if need be.

    :class:`InfeasibleError` (pinned jobs in conflict) is an answer, not a failure, and is
    raised as is. Any other exception from a solver (a backend crash, a bug, running out of
    memory) or an invalid schedule makes the next of :data:`FALLBACKS` run instead; the
    result then carries ``details["fallback"]`` saying what failed and why, its status is
    ``feasible`` and it claims no bound.

    ``deadline`` (perf_counter) is when the reasons for unplaced jobs must stop being
    re-derived (:func:`with_explained_unplaced`); a fallback gets the time left to it.

    Raises
    ------
    InvalidScheduleError
        No solver, fallbacks included, produced a valid schedule.
    ValueError
        ``solver`` is not a known solver's name.
    """
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    outcome = _attempt(scenario, solver, options, deadline)
    if isinstance(outcome, CheckedSolve):
        return outcome
    failures = [(solver, outcome)]
    for fallback in (s for s in FALLBACKS if s != solver):
        if deadline is not None and options.time_limit_s is not None:
            options = dataclasses.replace(options, time_limit_s=max(
                0.0, deadline - time.perf_counter()))
        checked = _attempt(scenario, fallback, options, deadline)
        if isinstance(checked, CheckedSolve):
            why = f"{solver} {outcome}"
            warnings.warn(f"{why}; wrote the {fallback} plan instead (status "
                          f"{SolveStatus.FEASIBLE})", FallbackWarning, stacklevel=2)
            result = checked.result
            details = {**result.details, "fallback": {"requested": solver, "used": fallback,
                                                      "reason": why}}
            return dataclasses.replace(checked, result=dataclasses.replace(
                result, status=SolveStatus.FEASIBLE, bound=None, details=details))
        failures.append((fallback, checked))
    raise InvalidScheduleError([f"{name} {why}" for name, why in failures])


def _attempt(scenario: Scenario, solver: str, options: SolveOptions,
             deadline: float | None = None) -> CheckedSolve | str:
    """The solver's result, explained, priced and valid; or a short text saying how it failed."""
    try:
        result = get_solver(solver)(scenario, options)
    except InfeasibleError:
        raise
    except Exception as exc:  # any solver failure must still leave a plan: see solve_checked
        logger.info("%s raised", solver, exc_info=True)
        text = " ".join(str(exc).split())[:200]
        return f"failed ({type(exc).__name__}{': ' + text if text else ''})"
    result = with_explained_unplaced(scenario, relieve_guards(scenario, result, deadline),
                                     deadline)
    figures = account(scenario, result.schedule)
    violations = validate(scenario, result.schedule, figures)
    if violations:
        more = f"; +{len(violations) - 1} more" if len(violations) > 1 else ""
        return f"returned a schedule the validator rejects ({violations[0]}{more})"
    return CheckedSolve(result, figures)


def with_explained_unplaced(scenario: Scenario, result: SolveResult,
                            deadline: float | None = None) -> SolveResult:
    """``result`` with each unplaced job's reason re-derived from the final plan.

    The reasons then name the jobs that really hold the room. A failure here is a bug in the
    diagnosis, never a reason to lose the plan: the solver's own reasons are kept, as they are
    for the jobs not reached by ``deadline`` (perf_counter).
    """
    try:
        schedule = explain_unplaced(scenario, result.schedule, deadline)
    except Exception:  # see the docstring: the plan matters more than a better reason
        logger.warning("could not refine the reasons for unplaced jobs; keeping the solver's",
                       exc_info=logger.isEnabledFor(logging.INFO))
        return result
    return dataclasses.replace(result, schedule=schedule)


def plan(scenario: Scenario, solver: str = "greedy", options: SolveOptions | None = None,
         strict: bool = False, baselines: Baselines | None = None,
         began: float | None = None) -> Plan:
    """Solve, explain, price and validate ``scenario``, and compare it with the baselines.

    ``baselines`` are the scenario's own, where the caller already solved them
    (:func:`~greenslot.solvers.baselines.solve_baselines`); by default they are solved here.

    ``options.time_limit_s`` is the whole plan's, counted from ``began`` (perf_counter;
    default now: the CLI passes its own start, so loading counts too). The baselines get
    :data:`BASELINE_TIME_SHARE` of it, the solver what is left less the time kept for
    validating and writing (:func:`~greenslot.solvers.deadline.tail_reserve_s`), and the
    reasons for unplaced jobs are derived only until then.

    Raises
    ------
    InfeasibleError
        Pinned jobs conflict, or ``strict`` and some job could not be placed.
    InvalidScheduleError
        Neither the solver nor any fallback returned a valid schedule (nothing is written).
    ValueError
        ``solver`` is not a known solver's name.

    Warns
    -----
    FallbackWarning
        The requested solver failed or its plan was invalid (``fifo`` and ``best_window``
        miss deadlines): the plan is another solver's.
    """
    if solver not in SOLVERS:  # before the baselines: a typo should not cost their solve
        raise ValueError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    began = time.perf_counter() if began is None else began
    options = options or SolveOptions()
    solve_until = None
    if options.time_limit_s is not None:
        solve_until = began + options.time_limit_s - tail_reserve_s(len(scenario.jobs))
    baselines_until = None if solve_until is None else (
        began + BASELINE_TIME_SHARE * (solve_until - began))
    if baselines is not None and baselines.scenario is scenario:
        known = baselines
    else:
        known = solve_baselines(scenario, baselines_until)
        if passed(baselines_until):
            logger.warning("baselines cut short by the time limit: their figures cover the "
                           "jobs they queued in time")
    if solve_until is not None:
        # the time limit is the plan's, loading and baselines included: the solver gets
        # what is left before the tail
        options = dataclasses.replace(options, time_limit_s=max(
            0.0, solve_until - time.perf_counter()))
    options = dataclasses.replace(options, baselines=known)
    checked = solve_checked(scenario, solver, options, solve_until)
    result = checked.result
    logger.info("%s placed %d jobs in %.2f s", result.solver, len(result.schedule.assignments),
                result.solve_seconds)
    if strict and result.schedule.unplaced:
        raise InfeasibleError(Conflict((u.job_id,), u.reason) for u in result.schedule.unplaced)
    return Plan(
        scenario=scenario,
        result=result,
        accounting=checked.accounting,
        objective=objective_value(scenario, checked.accounting.totals),
        baselines=known.summaries(),
    )
