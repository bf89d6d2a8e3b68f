"""The LP relaxation of the time-indexed model: a proven bound and a guide for rounding.

On this problem the relaxation is tight (the objective is convex and piecewise linear in
load, jobs are small against the cluster), so its optimum is a strong lower bound of the full
problem, and its solution says where each job wants to run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import highspy
import numpy as np

from greenslot.solvers.linear import LinearModel, Row
from greenslot.solvers.milp import to_highspy

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())


@dataclass(frozen=True)
class Relaxation:
    """The LP optimum (scenario units) and solution, or None where HiGHS did not finish."""

    bound: float | None
    values: np.ndarray | None
    seconds: float
    cuts: int = 0
    first_bound: float | None = None  # before any cut, for the record


MAX_CUT_ROUNDS = 8


def solve_relaxation(model: LinearModel, time_limit_s: float | None, threads: int = 1,
                     separate: Callable[[np.ndarray], list[Row]] | None = None) -> Relaxation:
    """Solve the LP relaxation; its value is a bound only when HiGHS proves it optimal.

    With ``separate``, violated valid inequalities are added and the LP re-solved (HiGHS
    starts again from its last basis) for up to ``MAX_CUT_ROUNDS`` rounds, while time is
    left; the last LP solved to optimality gives the bound and the solution.
    """
    began = time.perf_counter()
    h = to_highspy(model)
    lp = h.getLp()
    lp.integrality_ = [highspy.HighsVarType.kContinuous] * model.n_vars
    h.passModel(lp)
    h.setOptionValue("threads", int(threads))
    if time_limit_s is not None:
        # HiGHS reads time_limit between phases only: its interrupt callbacks hold the LP to
        # the plan's time limit too (the same rule as the highspy backend's)
        stop_at = began + float(time_limit_s)

        def enforce(event) -> None:
            if time.perf_counter() > stop_at:
                event.interrupt()

        for event in (h.cbSimplexInterrupt, h.cbIpmInterrupt):
            event.subscribe(enforce)
    bound = values = first = None
    cuts = 0
    for round_ in range(MAX_CUT_ROUNDS + 1):
        if time_limit_s is not None:
            left = time_limit_s - (time.perf_counter() - began)
            if left <= 0:
                break
            h.setOptionValue("time_limit", float(left))
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            logger.info("LP relaxation not solved (%s) in %.1f s", h.getModelStatus(),
                        time.perf_counter() - began)
            break
        values = np.array(h.getSolution().col_value)
        bound = float(h.getInfo().objective_function_value) / model.objective_factor
        first = bound if first is None else first
        rows = separate(values) if separate is not None and round_ < MAX_CUT_ROUNDS else []
        if not rows:
            break
        cuts += len(rows)
        _add_rows(h, rows)
        logger.info("LP bound %.6g; %d cuts added", bound, len(rows))
    return Relaxation(bound, values, time.perf_counter() - began, cuts, first)


def _add_rows(h: highspy.Highs, rows: list[Row]) -> None:
    starts = np.cumsum([0] + [len(r.indices) for r in rows[:-1]]).astype(np.int32)
    h.addRows(len(rows), np.array([r.lower for r in rows]), np.array([r.upper for r in rows]),
              int(sum(len(r.indices) for r in rows)), starts,
              np.concatenate([r.indices for r in rows]).astype(np.int32),
              np.concatenate([r.coefs for r in rows]))
