"""Plans too large for the written-out model: the driver with a Lagrangian bound.

Why a separate method: above ``auto``'s nonzero limit (benchmark XXL, 2,000 jobs x 256 nodes
x 192 slots, would be 42 M nonzeros) building the time-indexed model alone outgrows the nightly
window and memory. The steps are :mod:`greenslot.solvers.driver`'s, with

* **bound and round**: the Lagrangian bound (:mod:`.lagrange`), the proven bound of the full
  problem, its subgradient steps sized by the greedy plan; then rounding of the runs each job
  chose most often under the multipliers, largest job first;
* **finish**: nothing; local search has the time up to the limit.

The reported bound is the Lagrangian's, less the penalties of jobs that cannot run at all
(like :mod:`.exact`), so the gap is against the full problem, never a restricted one.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from greenslot.model.scenario import Scenario
from greenslot.solvers import column_neighbourhood
from greenslot.solvers.driver import (
    BoundPhase,
    FinishPhase,
    PlanCandidate,
    Run,
    ascent_target,
    drive,
)
from greenslot.solvers.lagrange import Families, LagrangianBound, build_families
from greenslot.solvers.pinned import place_pinned
from greenslot.solvers.prepare import Column, Prepared, prepare
from greenslot.solvers.state import ClusterState
from greenslot.solvers.types import SolveOptions, SolveResult

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

BOUND_TIME_SHARE = 0.35  # of the time left after greedy, for the subgradient ascent
DEFAULT_TIME_LIMIT_S = 300.0
MIN_BOUND_ROUNDS = 1  # made even when greedy left no time: the plan's bound is never missing
SEARCH_END_SHARE = 0.02  # of the limit, left after local search for the bound and the result


def prepared_families(scenario: Scenario) -> tuple[Prepared, Families]:
    """Windows, pools and families (no columns): cheap at any size."""
    state = ClusterState(scenario)
    prep = prepare(scenario, place_pinned(state), state, with_columns=False)
    families = build_families(prep, state)
    prep.runnable = np.bincount(families.job, minlength=len(prep.jobs)) > 0
    return prep, families


def with_columns(prep: Prepared, families: Families) -> Prepared:
    """``prep`` with every column listed, as :func:`~greenslot.solvers.exact.prepared`
    lists them, read off the families instead of preparing the scenario again.

    The families hold the same runs (job, pool, mode) in the same order, with their feasible
    starts; a column is one of those starts.
    """
    columns: list[Column] = []
    columns_of_job: list[list[int]] = [[] for _ in prep.jobs]
    for f in range(families.size):
        own = columns_of_job[int(families.job[f])]
        for start in np.nonzero(families.start_ok[f])[0]:
            own.append(len(columns))
            columns.append(families.column(f, int(start)))
    return dataclasses.replace(
        prep, columns=columns, columns_of_job=columns_of_job,
        runnable=np.array([bool(own) for own in columns_of_job], dtype=bool))


@dataclass(frozen=True)
class LagrangianPhase(BoundPhase):
    """The ascent's outcome: the families priced and the rounds made."""

    families: Families
    rounds: int


@dataclass(frozen=True)
class LagrangianMethod:
    """The driver's method for plans too large to write out, pricing ``families``."""

    families: Families
    name: str = "large"
    gap_floor: float = 0.0
    absolute_slack: float = 0.0

    def bound_and_round(self, run: Run) -> LagrangianPhase:
        prep, options, greedy = run.prep, run.options, run.greedy
        limit = _limit(options)
        stop_at = run.began + limit
        upper, left_out = ascent_target(run)
        lagrangian = LagrangianBound(prep, self.families,
                                     pricer_given=options.pricer)
        bound_until = time.perf_counter() + BOUND_TIME_SHARE * max(
            0.0, stop_at - time.perf_counter())
        report = None
        if greedy is not None:
            def report(bound: float, incumbent: float = greedy.total) -> None:
                run.report(incumbent, bound - run.unavoidable)
        run.phase("lagrangian bound")
        since = time.perf_counter()
        # a plan at fleet scale must still come with a proven bound when greedy used the
        # time: one round (seconds even at 20,000 jobs) is one
        raw_bound, _, rounds = lagrangian.ascend(upper, bound_until, progress=report,
                                                 min_rounds=MIN_BOUND_ROUNDS,
                                                 left_out=left_out)
        run.record("lagrangian bound", True, since,
                   f"bound {raw_bound - run.unavoidable:.6g} after {rounds} rounds")
        if greedy is not None:
            run.report(greedy.total, raw_bound - run.unavoidable)
        rounded = column_neighbourhood.lagrangian_plan(run, lagrangian, stop_at)
        return LagrangianPhase(bound=raw_bound, rounded=rounded,
                               search_until=stop_at - SEARCH_END_SHARE * limit,
                               search_to_end=True, families=self.families, rounds=rounds)

    def finish(self, run: Run, phase: LagrangianPhase, best: PlanCandidate) -> FinishPhase:
        return FinishPhase(interface="lagrangian")

    def details(self, run: Run, phase: LagrangianPhase, finish: FinishPhase,
                shared: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "plan_from": shared["plan_from"], "interface": shared["interface"],
            "lagrangian_rounds": phase.rounds, "families": phase.families.size,
            "lagrangian_bound": shared["bound"],
            "candidates": shared["candidates"],
        }


def _limit(options: SolveOptions) -> float:
    return options.time_limit_s if options.time_limit_s is not None else DEFAULT_TIME_LIMIT_S


def solve_large(scenario: Scenario, options: SolveOptions,
                prepared: tuple[Prepared, Families] | None = None,
                began: float | None = None) -> SolveResult:
    """Greedy, Lagrangian bound, rounding and local search within ``options.time_limit_s``
    (default ``DEFAULT_TIME_LIMIT_S``, counted from ``began``, a perf_counter value, default
    now); ``prepared`` as :func:`prepared_families` makes it."""
    began = time.perf_counter() if began is None else began
    options = dataclasses.replace(options, time_limit_s=_limit(options))
    prep, families = prepared if prepared is not None else prepared_families(scenario)
    return drive(scenario, options, LagrangianMethod(families), prep, began,
                 weigh_node_kinds=True)
