"""``--solver auto``: the exact MILP where it is affordable, greedy beyond.

The rule is by the size of the time-indexed model, measured as its nonzeros (every column
touches a capacity row and a draw row in each slot it runs): HiGHS solves the LP relaxation of
models up to about ``AUTO_MAX_NONZEROS`` within the nightly window on two cores and the
relaxation is tight, so the MILP closes to the default gap there; above it even the root LP
does not finish (see the README's benchmark table for the numbers behind both choices).
"""

from __future__ import annotations

import dataclasses

from greenslot.model.scenario import Scenario
from greenslot.solvers.exact import solve_exact
from greenslot.solvers.greedy import solve_greedy
from greenslot.solvers.milp import solve_milp
from greenslot.solvers.pinned import place_pinned
from greenslot.solvers.prepare import prepare
from greenslot.solvers.state import ClusterState
from greenslot.solvers.types import SolveOptions, SolveResult

AUTO_MAX_NONZEROS = 3_000_000
AUTO_TIME_LIMIT_S = 300.0


def model_nonzeros(scenario: Scenario) -> int:
    """Nonzeros of the time-indexed model, counted from its columns without building it."""
    state = ClusterState(scenario)
    prep = prepare(scenario, place_pinned(state), state)
    return sum(2 * column.length + 1 for column in prep.columns)


def solve_auto(scenario: Scenario, options: SolveOptions) -> SolveResult:
    """The MILP (time-limited, default ``AUTO_TIME_LIMIT_S``) when small enough, else greedy."""
    nonzeros = model_nonzeros(scenario)
    if nonzeros <= AUTO_MAX_NONZEROS:
        limit = options.time_limit_s if options.time_limit_s is not None else AUTO_TIME_LIMIT_S
        result = solve_exact(scenario, dataclasses.replace(options, time_limit_s=limit),
                             solve_milp, "milp")
        chose = "milp"
    else:
        result = solve_greedy(scenario, options)
        chose = "greedy"
    details = {**result.details, "auto": {"chose": chose, "nonzeros": nonzeros,
                                          "max_nonzeros_for_milp": AUTO_MAX_NONZEROS}}
    return dataclasses.replace(result, solver=f"auto:{chose}", details=details)
