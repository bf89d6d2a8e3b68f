"""The LP relaxation of the time-indexed model: a proven bound and a guide for rounding.

On this problem the relaxation is tight (the objective is convex and piecewise linear in
load, jobs are small against the cluster), so its optimum is a strong lower bound of the full
problem, and its solution says where each job wants to run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import highspy
import numpy as np

from greenslot.solvers.linear import LinearModel
from greenslot.solvers.milp import to_highspy

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())


@dataclass(frozen=True)
class Relaxation:
    """The LP optimum (scenario units) and solution, or None where HiGHS did not finish."""

    bound: float | None
    values: np.ndarray | None
    seconds: float


def solve_relaxation(model: LinearModel, time_limit_s: float | None,
                     threads: int = 1) -> Relaxation:
    """Solve the LP relaxation; its value is a bound only when HiGHS proves it optimal."""
    began = time.perf_counter()
    h = to_highspy(model)
    lp = h.getLp()
    lp.integrality_ = [highspy.HighsVarType.kContinuous] * model.n_vars
    h.passModel(lp)
    if time_limit_s is not None:
        h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("threads", int(threads))
    h.run()
    seconds = time.perf_counter() - began
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        logger.info("LP relaxation not solved (%s) in %.1f s", h.getModelStatus(), seconds)
        return Relaxation(None, None, seconds)
    values = np.array(h.getSolution().col_value)
    bound = float(h.getInfo().objective_function_value) / model.objective_factor
    return Relaxation(bound, values, seconds)
