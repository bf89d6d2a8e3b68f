"""The exact pipeline: the driver with an LP bound, LP-guided rounding and a MILP/CP-SAT backend.

The steps are :mod:`greenslot.solvers.driver`'s; this method fills in two of them:

* **bound and round**: the time-indexed model is built once; its LP relaxation gives a proven
  bound and, by rounding (:mod:`greenslot.solvers.rounding`), a second candidate;
* **finish**: the best plan after local search is the backend's complete warm start, so the
  backend's answer is never worse than it; the answer is decoded to concrete nodes and
  validated like every other candidate.

The reported bound is the best of the LP's and the backend's, both proven on a relaxation of
the full problem. ``milp`` and ``cpsat`` are this method with another :class:`Backend`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from greenslot.model.scenario import Scenario
from greenslot.solvers import column_neighbourhood, lp_neighbourhood
from greenslot.solvers.backend import Backend, BackendAnswer
from greenslot.solvers.cpsat import solve_linear_model_cpsat
from greenslot.solvers.cuts import WakeCuts
from greenslot.solvers.deadline import left_s
from greenslot.solvers.decode import encode
from greenslot.solvers.driver import (
    BoundPhase,
    FinishPhase,
    PlanCandidate,
    Run,
    ascent_target,
    candidate_from_state,
    candidate_from_values,
    drive,
)
from greenslot.solvers.formulation import (
    BUILD_SECONDS_PER_NONZERO,
    Index,
    build,
    has_budgets,
    unmargined,
)
from greenslot.solvers.lagrange import Families, LagrangianBound, build_families
from greenslot.solvers.linear import LinearModel
from greenslot.solvers.milp import solve_linear_model_highs
from greenslot.solvers.pinned import place_pinned
from greenslot.solvers.prepare import Prepared, prepare
from greenslot.solvers.relaxation import Relaxation, solve_relaxation
from greenslot.solvers.rounding import round_relaxation
from greenslot.solvers.state import ClusterState
from greenslot.solvers.types import ProgressCallback, SolveOptions, SolveResult

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

LP_TIME_SHARE = 0.8  # of the time left, at most, for the LP relaxation (bound and guide)
IMPROVE_TIME_SHARE = 0.6  # of the time limit, for local improvement of the warm start
IMPROVE_SECONDS = 60.0  # the same without a time limit
# HiGHS's root LP inside branch and bound (after MIP presolve and a heuristic) took about ten
# times the plain LP relaxation on the benchmark instances; with less time left than this
# multiple, the backend is skipped rather than left to overrun the time limit.
BACKEND_ROOT_FACTOR = 15.0
BUILD_TIME_SHARE = 0.5
"""Of the time left: the model is built only when its estimated build fits in this share,
leaving the rest for its LP, rounding and local search. Otherwise the Lagrangian's rounding
and local search use the time (the build cannot be stopped half way usefully)."""
LAGRANGE_TIME_SHARE = 0.1  # of the time left, at most, for the Lagrangian stand-in bound
LAGRANGE_MAX_ROUNDS = 400
NEIGHBOURHOOD_TIME_SHARE = 0.3  # of the time left after rounding, at most, for the LP neighbourhood
NEIGHBOURHOOD_SECONDS = 60.0  # the same without a time limit
SEARCH_TO_END_SHARE = 0.97  # of the time left, for local search when no backend follows


def _found(candidate: PlanCandidate | None) -> str:
    return "no valid plan" if candidate is None else f"plan {candidate.total:.6g}"


def prepared(scenario: Scenario) -> Prepared:
    """The shared preparation of ``scenario`` (pools, columns) around its pinned jobs."""
    state = ClusterState(scenario)
    return prepare(scenario, place_pinned(state), state)


def _remaining(options: SolveOptions, began: float, share: float = 1.0) -> float | None:
    if options.time_limit_s is None:
        return None
    return max(1.0, share * (options.time_limit_s - (time.perf_counter() - began)))


def _progress_relay(options: SolveOptions, offset: float) -> ProgressCallback | None:
    """The caller's progress callback in plan units: the backend's objective still holds the
    unavoidable penalty ``offset``."""
    if options.progress is None:
        return None
    outer = options.progress

    def report(incumbent: float | None, bound: float | None) -> None:
        outer(None if incumbent is None else incumbent - offset,
              None if bound is None else bound - offset)

    return report


@dataclass(frozen=True)
class LinearBound(BoundPhase):
    """The LP step's outcome, plus the model the backend is to solve."""

    model: LinearModel | None  # None: not built, no time for it (nor for the LP and backend)
    index: Index | None
    relaxation: Relaxation | None
    run_backend: bool
    lagrangian_bound: float | None = None  # the stand-in, before the unavoidable penalty


@dataclass(frozen=True)
class ExactMethod:
    """The driver's method for the written-out time-indexed model and a ``backend``."""

    name: str
    backend: Backend
    families: Families | None = None  # the Lagrangian's; built when needed if None
    gap_floor: float = 1e-9
    absolute_slack: float = 1e-9

    def bound_and_round(self, run: Run) -> LinearBound:
        prep, options = run.prep, run.options
        lagrangian = stand_in = None
        if options.time_limit_s is not None:
            # before the model is built: it needs no model, and a slow build (seen: 14.8 s
            # for L at load 11) must not leave it no time
            lagrangian, stand_in = self._lagrangian(run)
        deadline = run.deadline()
        estimate = BUILD_SECONDS_PER_NONZERO * sum(2 * c.length + 1 for c in prep.columns)
        left = left_s(deadline)
        if left is not None and estimate > BUILD_TIME_SHARE * left:
            note = f"skipped: its build needs about {estimate:.0f} s, {left:.0f} s left"
            for step in ("build model", "lp bound", self.name):
                run.record(step, False, 0.0, note if step == "build model" else "no model")
            return self._without_model(run, lagrangian, stand_in)
        run.phase("build model")
        since = time.perf_counter()
        model, index = build(prep)
        run.record("build model", True, since, f"{model.n_vars} variables, "
                   f"{len(model.rows)} rows")
        run.phase("lp bound")
        since = time.perf_counter()
        lp_limit = _remaining(options, run.began, LP_TIME_SHARE)
        relaxation = solve_relaxation(unmargined(model), lp_limit, options.threads,
                                      WakeCuts(prep, index).separate)
        run.record("lp bound", True, since,
                   f"bound {relaxation.bound - run.unavoidable:.6g}"
                   if relaxation.bound is not None
                   else f"no bound: not solved within its {lp_limit:.0f} s")
        rounded = None
        since = time.perf_counter()
        if relaxation.values is not None:
            run.phase("lp rounding")
            rounded_state, placed, _ = round_relaxation(prep, index, relaxation.values,
                                                        deadline)
            rounded = candidate_from_state(run.scenario, prep, "lp-rounding", rounded_state,
                                           placed)
            run.record("lp rounding", True, since, _found(rounded))
            if rounded is not None:
                rounded = self._lp_neighbourhood(run, model, index, relaxation.values, rounded)
        elif lagrangian is not None:
            # no LP solution to guide rounding: the runs the multipliers chose instead
            rounded = column_neighbourhood.lagrangian_plan(run, lagrangian, deadline)
        left = _remaining(options, run.began)
        run_backend = left is None or left >= BACKEND_ROOT_FACTOR * relaxation.seconds / (
            1 - IMPROVE_TIME_SHARE)
        if left is None:
            search_until = run.began + IMPROVE_SECONDS
        elif run_backend:
            search_until = time.perf_counter() + IMPROVE_TIME_SHARE * left
        else:  # the backend cannot even solve its root LP in time: search to the end instead
            search_until = time.perf_counter() + SEARCH_TO_END_SHARE * left
        bounds = [b for b in (relaxation.bound, stand_in) if b is not None]
        return LinearBound(bound=max(bounds) if bounds else None, rounded=rounded,
                           search_until=search_until, search_to_end=not run_backend,
                           model=model, index=index, relaxation=relaxation,
                           run_backend=run_backend, lagrangian_bound=stand_in)

    def _lp_neighbourhood(self, run: Run, model: LinearModel, index: Index,
                          lp_values: np.ndarray, rounded: PlanCandidate) -> PlanCandidate:
        """The rounded plan, or a better one from its LP neighbourhood (:mod:`.lp_neighbourhood`),
        searched in at most ``NEIGHBOURHOOD_TIME_SHARE`` of the time left."""
        left = _remaining(run.options, run.began)
        seconds = NEIGHBOURHOOD_SECONDS if left is None else NEIGHBOURHOOD_TIME_SHARE * left
        run.phase("lp neighbourhood")
        since = time.perf_counter()
        outcome = lp_neighbourhood.search(run.scenario, run.prep, model, index, lp_values,
                                          rounded, since + seconds, run.options.threads)
        if outcome is None:
            run.record("lp neighbourhood", False, since,
                       f"under {lp_neighbourhood.MIN_SECONDS:.0f} s left, or the rounded plan "
                       "has no encoding in the model")
            return rounded
        better = outcome.found if outcome.found is not None and \
            outcome.found.total < rounded.total - 1e-9 else None
        run.record("lp neighbourhood", True, since,
                   f"{outcome.kept} jobs kept, {outcome.free} solved for"
                   + (" (optimal)" if outcome.optimal else "") + ": "
                   + (f"{rounded.total:.6g} -> {better.total:.6g}" if better is not None
                      else "no better plan"))
        return better if better is not None else rounded

    def _without_model(self, run: Run, lagrangian: LagrangianBound | None,
                       stand_in: float | None) -> LinearBound:
        """The bound step when the model cannot be built in time: the Lagrangian's bound
        and rounding, and local search to the end."""
        rounded = None
        deadline = run.deadline()
        if lagrangian is not None:
            rounded = column_neighbourhood.lagrangian_plan(run, lagrangian, deadline)
        left = left_s(deadline) or 0.0
        return LinearBound(bound=stand_in, rounded=rounded,
                           search_until=time.perf_counter() + SEARCH_TO_END_SHARE * left,
                           search_to_end=True, model=None, index=None, relaxation=None,
                           run_backend=False, lagrangian_bound=stand_in)

    def _lagrangian(self, run: Run) -> tuple[LagrangianBound, float | None]:
        """The Lagrangian bound, in at most ``LAGRANGE_TIME_SHARE`` of the time left: it
        stands in when the LP cannot finish in its time (a slow or busy machine), and it
        gives the progress line a bound within seconds. Proven on the full problem like
        the LP's (never above it), so the better of the two is reported."""
        prep = run.prep
        run.phase("lagrangian bound")
        since = time.perf_counter()
        families = self.families
        if families is None:
            state = ClusterState(run.scenario)
            place_pinned(state)
            families = build_families(prep, state)
        lagrangian = LagrangianBound(prep, families, pricer_given=run.options.pricer)
        upper, left_out = ascent_target(run)

        def report(bound: float) -> None:
            run.report(None, bound - run.unavoidable)

        left = _remaining(run.options, run.began) or 0.0
        bound, _, rounds = lagrangian.ascend(
            upper, time.perf_counter() + LAGRANGE_TIME_SHARE * left,
            max_rounds=LAGRANGE_MAX_ROUNDS, progress=report, left_out=left_out)
        found = bound if np.isfinite(bound) else None
        run.record("lagrangian bound", True, since,
                   f"bound {bound - run.unavoidable:.6g} after {rounds} rounds"
                   if found is not None else "no bound")
        if found is not None:
            run.report(None, found - run.unavoidable)
        return lagrangian, found

    def finish(self, run: Run, phase: LinearBound, best: PlanCandidate) -> FinishPhase:
        prep, options, model = run.prep, run.options, phase.model
        if model is None or phase.index is None or phase.relaxation is None:
            return FinishPhase(figures={"build_seconds": 0.0, "backend_seconds": 0.0,
                                        "backend_bound": None, "warm_start": False,
                                        "backend_objective": None})
        start = encode(model, prep, phase.index, best.schedule)
        if not phase.run_backend:
            needs = BACKEND_ROOT_FACTOR * phase.relaxation.seconds
            logger.info("%s skipped: its root LP alone needs about %.0f s", self.name, needs)
            answer = BackendAnswer.skipped(f"{self.name} skipped (no time for its root LP)")
            run.record(self.name, False, 0.0,
                       f"skipped: its root LP alone needs about {needs:.0f} s")
        else:
            run.phase(self.name)
            since = time.perf_counter()
            answer = self.backend(model, SolveOptions(
                time_limit_s=_remaining(options, run.began), threads=options.threads,
                gap=options.gap, progress=_progress_relay(options, run.unavoidable)), start)
            run.record(self.name, True, since,
                       "optimal" if answer.optimal else
                       "no plan in its time" if answer.values is None else "stopped at its limit")
        found = None if answer.values is None else candidate_from_values(
            run.scenario, prep, phase.index, answer.values, self.name)
        # the backend solved the model with budgets tightened by BUDGET_MARGIN, a
        # restriction: its bound is only used when there is no budget row
        unavoidable = run.unavoidable
        return FinishPhase(
            found=found, bound=None if has_budgets(model) else answer.bound,
            rounding_slack=answer.bound_slack if answer.optimal else 0.0,
            interface=answer.interface,
            figures={"build_seconds": answer.build_seconds,
                     "backend_seconds": answer.solve_seconds,
                     "backend_bound": None if answer.bound is None
                     else answer.bound - unavoidable,
                     "warm_start": start is not None,
                     "backend_objective": None if answer.objective is None
                     else answer.objective - unavoidable})

    def details(self, run: Run, phase: LinearBound, finish: FinishPhase,
                shared: Mapping[str, Any]) -> dict[str, Any]:
        figures, model, relaxation = finish.figures, phase.model, phase.relaxation
        nonzeros = None if model is None else int(sum(len(r.indices) for r in model.rows))
        return {
            "plan_from": shared["plan_from"], "interface": shared["interface"],
            "build_seconds": figures["build_seconds"],
            "backend_seconds": figures["backend_seconds"],
            "lp_seconds": None if relaxation is None else relaxation.seconds,
            "lp_cuts": None if relaxation is None else relaxation.cuts,
            "lp_bound": None if relaxation is None or relaxation.bound is None
            else relaxation.bound - run.unavoidable,
            "backend_bound": figures["backend_bound"],
            "columns": len(run.prep.columns),
            "variables": None if model is None else model.n_vars,
            "rows": None if model is None else len(model.rows), "nonzeros": nonzeros,
            "warm_start": figures["warm_start"],
            "candidates": shared["candidates"],
            "backend_objective": figures["backend_objective"],
            "pools": len(run.prep.pools),
            "lagrangian_bound": None if phase.lagrangian_bound is None
            else phase.lagrangian_bound - run.unavoidable,
        }


def solve_exact(scenario: Scenario, options: SolveOptions, backend: Backend, name: str,
                prep: Prepared | None = None, families: Families | None = None,
                began: float | None = None) -> SolveResult:
    """The exact pipeline with ``backend``, reported as solver ``name``.

    ``prep`` (and ``families``) are the scenario's preparation when the caller made it
    already (``auto`` does, to measure the model); they are built here otherwise. ``began``
    (perf_counter) is when the caller's time limit started, default now.
    """
    began = time.perf_counter() if began is None else began
    prep = prep if prep is not None else prepared(scenario)
    return drive(scenario, options, ExactMethod(name, backend, families), prep, began)


def solve_with_milp(scenario: Scenario, options: SolveOptions,
                    prep: Prepared | None = None, families: Families | None = None,
                    began: float | None = None) -> SolveResult:
    """The time-indexed MILP, solved by HiGHS through Pyomo (or highspy when large)."""
    return solve_exact(scenario, options, solve_linear_model_highs, "milp", prep, families,
                       began)


def solve_with_cpsat(scenario: Scenario, options: SolveOptions,
                     prep: Prepared | None = None) -> SolveResult:
    """The same time-indexed model, scaled to integers and solved by CP-SAT."""
    return solve_exact(scenario, options, solve_linear_model_cpsat, "cpsat", prep)
