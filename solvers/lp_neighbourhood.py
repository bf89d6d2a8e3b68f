"""The LP's neighbourhood (RINS): keep every job where the LP and the rounded plan agree,
solve for the others exactly.

Why: on mid-size models the LP relaxation is nearly tight but not integral, and rounding it
job by job loses what the LP knew about how the fractional jobs fit together. On ``tou-L``
(200 jobs x 20 machines x 288 slots) the LP bound is 73.3865 and the proven optimum 73.3944,
yet LP rounding gave 74.91 (2.1 % above) and local search 73.82 after 41 s; the full MILP
needs minutes before its root LP is solved. Fixing the 153 jobs whose rounded run is the LP's
heaviest column (weight above :data:`AGREEMENT`) and solving the other 47 exactly, from the
rounded plan as warm start, gave 73.4179 (0.03 % above the optimum) in 3.4 s. Fixing only the
jobs the LP holds integral (132, whose rounded run agreed on 103) left a model HiGHS did not
improve in 20 s: the neighbourhood must be small enough for its own root LP to be quick.
This is RINS (relaxation induced neighbourhood search, Danna, Rothberg and Le Pape 2005) on the
pooled time-indexed model of :mod:`.formulation`.

The answer is decoded to concrete nodes like the backend's (:func:`.decode.decode`) and is a
candidate like any other: the driver validates it and keeps it only where it is better.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from greenslot.model.scenario import Scenario
from greenslot.solvers.decode import encode
from greenslot.solvers.driver import PlanCandidate, candidate_from_values
from greenslot.solvers.formulation import Index
from greenslot.solvers.linear import LinearModel
from greenslot.solvers.milp import solve_linear_model_highspy
from greenslot.solvers.prepare import Prepared
from greenslot.solvers.types import SolveOptions

AGREEMENT = 0.5
"""A job is kept where the rounded plan runs it when that run carries more than this weight in
the LP solution: at most one column of a job can, so "the LP's choice" is well defined."""
MIN_SECONDS = 1.0
"""Below this much time the neighbourhood is not tried: HiGHS needs its presolve and root."""


@dataclasses.dataclass(frozen=True)
class Neighbourhood:
    """What one search did: the jobs kept, the jobs solved for, and a better plan if found."""

    kept: int
    free: int
    found: PlanCandidate | None
    optimal: bool


def agreed_columns(prep: Prepared, index: Index, lp_values: np.ndarray,
                   start: np.ndarray) -> dict[int, int]:
    """Job position -> column, for the jobs whose run in ``start`` (an encoded plan) is the
    column the LP gives more than :data:`AGREEMENT` of the job."""
    weights = lp_values[index.x]
    runs = start[index.x]
    agreed = {}
    for j, columns in enumerate(prep.columns_of_job):
        for k in columns:
            if weights[k] > AGREEMENT and runs[k] > 0.5:
                agreed[j] = k
                break
    return agreed


def restricted(model: LinearModel, prep: Prepared, index: Index,
               agreed: dict[int, int]) -> LinearModel:
    """``model`` with each agreed job held to its column (its other columns at 0). The rows are
    shared with ``model``, not copied: only the bounds differ."""
    lower, upper = list(model.lower), list(model.upper)
    for j, kept in agreed.items():
        for k in prep.columns_of_job[j]:
            var = int(index.x[k])
            lower[var] = upper[var] = 1.0 if k == kept else 0.0
    return dataclasses.replace(model, lower=lower, upper=upper)


def search(scenario: Scenario, prep: Prepared, model: LinearModel, index: Index,
           lp_values: np.ndarray, plan: PlanCandidate, until: float,
           threads: int = 1, source: str = "lp-neighbourhood") -> Neighbourhood | None:
    """Solve ``plan``'s LP neighbourhood until ``until`` (perf_counter), from ``plan`` as warm
    start; None when there is no time or ``plan`` has no encoding in the model. A plan found
    is a candidate named ``source``."""
    seconds = until - time.perf_counter()
    start = encode(model, prep, index, plan.schedule)
    if seconds < MIN_SECONDS or start is None:
        return None
    agreed = agreed_columns(prep, index, lp_values, start)
    free = sum(1 for columns in prep.columns_of_job if columns) - len(agreed)
    if free == 0:  # the rounded plan is the LP's solution: nothing left to solve for
        return Neighbourhood(len(agreed), 0, None, True)
    answer = solve_linear_model_highspy(
        restricted(model, prep, index, agreed),
        SolveOptions(time_limit_s=seconds, threads=threads), start)
    found = None if answer.values is None else candidate_from_values(
        scenario, prep, index, answer.values, source)
    return Neighbourhood(len(agreed), free, found, answer.optimal)
