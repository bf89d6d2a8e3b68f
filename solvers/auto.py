"""``--solver auto``: the exact pipeline where the model fits in memory, greedy beyond.

The exact pipeline (:mod:`greenslot.solvers.exact`) adapts to size by itself: on small
models HiGHS's branch and bound proves optimality (benchmark S, 14 k nonzeros: optimal in
about 30 s); on large ones, where HiGHS cannot even finish presolve and its root LP within
the time limit (benchmark L, 1.4 M nonzeros: 93 s before its first bound), the LP bound,
LP-guided rounding and local search use the whole time instead. What limits it is memory
and the LP: the bundled nightly example (8.5 M nonzeros) builds in 6 s, solves its LP in
29 s and peaks at 1.3 GB; above ``AUTO_MAX_NONZEROS`` the build and the LP outgrow a
nightly run on two cores, and greedy answers alone. See the README's benchmark table for the
measurements.
"""

from __future__ import annotations

import dataclasses

from greenslot.model.scenario import Scenario
from greenslot.solvers.exact import prepared, solve_exact
from greenslot.solvers.greedy import solve_greedy
from greenslot.solvers.milp import solve_milp
from greenslot.solvers.prepare import Prepared
from greenslot.solvers.types import SolveOptions, SolveResult

AUTO_MAX_NONZEROS = 12_000_000
AUTO_TIME_LIMIT_S = 300.0


def model_nonzeros(scenario: Scenario, prep: Prepared | None = None) -> int:
    """Nonzeros of the time-indexed model, counted from its columns without building it."""
    prep = prep if prep is not None else prepared(scenario)
    return sum(2 * column.length + 1 for column in prep.columns)


def solve_auto(scenario: Scenario, options: SolveOptions) -> SolveResult:
    """The exact pipeline (time-limited, default ``AUTO_TIME_LIMIT_S``) or greedy by size."""
    prep = prepared(scenario)
    nonzeros = model_nonzeros(scenario, prep)
    if nonzeros <= AUTO_MAX_NONZEROS:
        limit = options.time_limit_s if options.time_limit_s is not None else AUTO_TIME_LIMIT_S
        result = solve_exact(scenario, dataclasses.replace(options, time_limit_s=limit),
                             solve_milp, "milp", prep)
        chose = "milp"
    else:
        result = solve_greedy(scenario, options)
        chose = "greedy"
    details = {**result.details, "auto": {"chose": chose, "nonzeros": nonzeros,
                                          "max_nonzeros_for_exact": AUTO_MAX_NONZEROS}}
    return dataclasses.replace(result, solver=f"auto:{chose}", details=details)
