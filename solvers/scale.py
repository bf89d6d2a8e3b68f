"""Plans too large for the written-out model: Lagrangian bound, rounding, local search.

Why a separate pipeline: above ``auto``'s nonzero limit (benchmark XXL, 2,000 jobs x 256 nodes
x 192 slots, would be 42 M nonzeros) building the time-indexed model alone outgrows the nightly
window and memory. The steps, each kept only if the independent validator accepts its plan:

1. greedy, the first valid plan and the upper bound that sizes the subgradient steps;
2. the Lagrangian bound (:mod:`.lagrange`), the proven bound of the full problem;
3. rounding of the runs each job chose most often under the multipliers, largest job first;
4. local search (single moves, then ruin and recreate) on the better plan until the limit.

The reported bound is the Lagrangian's, less the penalties of jobs that cannot run at all
(like :mod:`.exact`), so the gap is against the full problem, never a restricted one.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from greenslot.model.scenario import Scenario
from greenslot.solvers.exact import (
    checked_bound,
    locally_improved,
    unavoidable_penalty,
    valid_candidate,
    with_reasons,
)
from greenslot.solvers.greedy import solve_greedy
from greenslot.solvers.lagrange import Families, LagrangianBound, build_families
from greenslot.solvers.pinned import place_pinned
from greenslot.solvers.prepare import Prepared, prepare
from greenslot.solvers.rounding import round_support
from greenslot.solvers.state import ClusterState
from greenslot.solvers.types import DEFAULT_GAP, SolveOptions, SolveResult, SolveStatus

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

BOUND_TIME_SHARE = 0.35  # of the time left after greedy, for the subgradient ascent
DEFAULT_TIME_LIMIT_S = 300.0


def prepared_families(scenario: Scenario) -> tuple[Prepared, Families]:
    """Windows, pools and families (no columns): cheap at any size."""
    state = ClusterState(scenario)
    prep = prepare(scenario, place_pinned(state), state, with_columns=False)
    families = build_families(prep, state)
    prep.runnable = np.bincount(families.job, minlength=len(prep.jobs)) > 0
    return prep, families


def solve_large(scenario: Scenario, options: SolveOptions,
                prepared: tuple[Prepared, Families] | None = None) -> SolveResult:
    """Greedy, Lagrangian bound, rounding and local search within ``options.time_limit_s``."""
    began = time.perf_counter()
    limit = options.time_limit_s if options.time_limit_s is not None else DEFAULT_TIME_LIMIT_S
    stop_at = began + limit
    prep, families = prepared if prepared is not None else prepared_families(scenario)
    greedy = valid_candidate(scenario, prep, "greedy", solve_greedy(scenario, options).schedule)
    candidates = [greedy] if greedy is not None else []
    unavoidable = unavoidable_penalty(prep)
    upper = (greedy.total if greedy is not None else float(prep.penalty.sum())) + unavoidable

    lagrangian = LagrangianBound(prep, families)
    bound_until = time.perf_counter() + BOUND_TIME_SHARE * max(0.0, stop_at - time.perf_counter())
    report = None
    if options.progress is not None and greedy is not None:
        def report(bound: float, outer=options.progress, incumbent=greedy.total) -> None:
            outer(incumbent, bound - unavoidable)
    raw_bound, _, rounds = lagrangian.ascend(upper, bound_until, progress=report)
    if options.progress is not None and greedy is not None:
        options.progress(greedy.total, raw_bound - unavoidable)

    state, placed, _ = round_support(prep, lagrangian.preferred_columns())
    rounded = valid_candidate(scenario, prep, "lagrangian-rounding",
                              with_reasons(state, placed, prep))
    if rounded is not None:
        candidates.append(rounded)
    if not candidates:
        raise RuntimeError("neither greedy nor rounding produced a valid plan")
    best = min(candidates, key=lambda c: c.total)
    improved = locally_improved(scenario, prep, best, stop_at - 0.02 * limit)
    if improved is not None and improved.total < best.total - 1e-9:
        candidates.append(improved)
        best = improved

    bound = checked_bound(raw_bound - unavoidable, prep, best.total)
    if options.progress is not None:
        options.progress(best.total, bound)
    tolerance = options.gap if options.gap is not None else DEFAULT_GAP
    optimal = bound is not None and best.total - bound <= tolerance * max(abs(best.total), 1e-9)
    return SolveResult(
        solver="large",
        status=SolveStatus.OPTIMAL if optimal else SolveStatus.FEASIBLE,
        schedule=best.schedule,
        bound=bound,
        solve_seconds=time.perf_counter() - began,
        unplaced_penalty=best.penalty,
        details={
            "plan_from": best.source, "interface": "lagrangian",
            "lagrangian_rounds": rounds, "families": families.size,
            "lagrangian_bound": bound,
            "candidates": {c.source: c.total for c in candidates},
        },
    )
