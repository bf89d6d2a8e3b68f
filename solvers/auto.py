"""``--solver auto``: the exact pipeline where the model fits in memory, the large-scale
pipeline beyond.

The exact pipeline (:mod:`greenslot.solvers.exact`) adapts to size by itself: on small
models HiGHS's branch and bound proves optimality (benchmark S, 14 k nonzeros: optimal in
about 30 s); on large ones, where HiGHS cannot finish presolve and its root LP within the
time limit (benchmark L, 1.4 M nonzeros), the LP bound, LP-guided rounding and local search
use the whole time instead. What limits it is memory and the LP: the bundled nightly example
(8.5 M nonzeros) builds in 6 s, solves its LP in 29 s and peaks at 1.3 GB. Above
``AUTO_MAX_NONZEROS`` the model is never written: :mod:`greenslot.solvers.large` proves its
bound with a Lagrangian relaxation priced in bulk and plans by rounding and local search. See
the README's benchmark table for the measurements.

The scenario is prepared once: the column families that size the model are also where the
exact pipeline's columns are read from (:func:`~greenslot.solvers.large.with_columns`).
"""

from __future__ import annotations

import dataclasses
import time

from greenslot.model.scenario import Scenario
from greenslot.solvers.exact import prepared, solve_with_milp
from greenslot.solvers.large import prepared_families, solve_large, with_columns
from greenslot.solvers.prepare import Prepared
from greenslot.solvers.types import SolveOptions, SolveResult

AUTO_MAX_NONZEROS = 12_000_000
AUTO_TIME_LIMIT_S = 300.0


def model_nonzeros(scenario: Scenario, prep: Prepared | None = None) -> int:
    """Nonzeros of the time-indexed model, counted from its columns without building it."""
    prep = prep if prep is not None else prepared(scenario)
    return sum(2 * column.length + 1 for column in prep.columns)


def solve_auto(scenario: Scenario, options: SolveOptions) -> SolveResult:
    """The exact pipeline where the model fits, the large-scale one beyond (both
    time-limited, default ``AUTO_TIME_LIMIT_S``, counted from the call: preparation
    included). The result's solver is ``auto:<where the plan came from>``.

    The size is first counted from the column families (cheap at any size); only a model
    under the limit has its columns listed, from those families.
    """
    limit = options.time_limit_s if options.time_limit_s is not None else AUTO_TIME_LIMIT_S
    options = dataclasses.replace(options, time_limit_s=limit)
    began = time.perf_counter()  # the limit counts from here, preparation included
    if options.on_phase is not None:
        options.on_phase("prepare")
    frame = prepared_families(scenario)
    estimate = frame[1].nonzeros()
    if estimate <= AUTO_MAX_NONZEROS:
        prep = with_columns(*frame)
        nonzeros = model_nonzeros(scenario, prep)
        result = solve_with_milp(scenario, options, prep, frame[1], began)
        chose = "milp"
    else:
        nonzeros = estimate
        result = solve_large(scenario, options, frame, began)
        chose = "large"
    details = {**result.details, "auto": {"chose": chose, "nonzeros": nonzeros,
                                          "max_nonzeros_for_exact": AUTO_MAX_NONZEROS}}
    # labelled by where the plan really came from (``auto:milp`` only for the backend's own
    # plan; ``auto:greedy+moves`` when greedy and local search made it); ``details["auto"]``
    # says which pipeline ran
    return dataclasses.replace(result, solver=f"auto:{result.details['plan_from']}",
                               details=details, solve_seconds=time.perf_counter() - began)
