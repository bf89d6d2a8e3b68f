"""The MILP backend: the shared linear model solved by HiGHS, through Pyomo or highspy.

Pyomo (its persistent ``appsi`` HiGHS interface) is the readable route and what analysts can
inspect; for large models the Pyomo build and translation dominate, so the same rows can go to
``highspy`` as one sparse matrix. Both warm-start from the greedy plan and report HiGHS's
proven dual bound.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.appsi.base import TerminationCondition
from pyomo.contrib.appsi.solvers.highs import Highs as AppsiHighs
from pyomo.core.expr.numeric_expr import LinearExpression

from greenslot.solvers.backend import BackendAnswer
from greenslot.solvers.linear import LinearModel
from greenslot.solvers.types import DEFAULT_GAP, SolveOptions

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

HIGHS_OPTIONS = {
    "random_seed": 0,
    # HiGHS's default (1e-6) let presolve misjudge rows with tiny right-hand sides (a 1 W
    # renewable supply) and return a wrong optimum; 1e-9 keeps them exact.
    "mip_feasibility_tolerance": 1e-9,
}


def to_pyomo(model: LinearModel) -> pyo.ConcreteModel:
    """A Pyomo model with one indexed variable and one constraint list from the rows."""
    m = pyo.ConcreteModel(name="greenslot")
    m.v = pyo.Var(range(model.n_vars))
    for i in range(model.n_vars):
        var = m.v[i]
        lower, upper = model.lower[i], model.upper[i]
        if model.integer[i]:
            var.domain = pyo.Binary if (lower, upper) == (0, 1) else pyo.Integers
        var.setlb(None if lower == -np.inf else lower)
        var.setub(None if upper == np.inf else upper)
    m.rows = pyo.ConstraintList()
    for row in model.rows:
        expr = LinearExpression(constant=0.0, linear_coefs=row.coefs.tolist(),
                                linear_vars=[m.v[i] for i in row.indices])
        row_lower = None if row.lower == -np.inf else row.lower
        row_upper = None if row.upper == np.inf else row.upper
        m.rows.add((row_lower, expr, row_upper))
    used = [i for i, c in enumerate(model.objective) if c]
    m.objective = pyo.Objective(expr=LinearExpression(
        constant=model.objective_constant, linear_coefs=[model.objective[i] for i in used],
        linear_vars=[m.v[i] for i in used]))
    return m


_HIGHS_PROGRESS = re.compile(
    r"(?P<bound>[-+]?(?:inf|[\d.]+(?:e[-+]?\d+)?))\s+(?P<best>[-+]?(?:inf|[\d.]+(?:e[-+]?\d+)?))"
    r"\s+(?:Large|[\d.]+%)\s+\d+\s+\d+\s+\d+\s+\d+\s+[\d.]+s\s*$")


class _HighsLogProgress(logging.Handler):
    """Reads HiGHS's branch-and-bound table as Pyomo relays it, for the progress line."""

    def __init__(self, progress, factor: float) -> None:
        super().__init__(level=logging.DEBUG)
        self.progress = progress
        self.factor = factor

    def emit(self, record: logging.LogRecord) -> None:
        match = _HIGHS_PROGRESS.search(record.getMessage())
        if match:
            best, bound = (_number(match["best"]), _number(match["bound"]))
            self.progress(None if best is None else best / self.factor,
                          None if bound is None else bound / self.factor)


@contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence file descriptor 1: HiGHS prints its banner from C++ when it starts, which
    would land in the middle of the CLI's summary table."""
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _number(text: str) -> float | None:
    value = float(text)
    return value if np.isfinite(value) else None


def solve_linear_model_pyomo(model: LinearModel, options: SolveOptions,
                             start: np.ndarray | None) -> BackendAnswer:
    began = time.perf_counter()
    m = to_pyomo(model)
    built = time.perf_counter() - began
    opt = AppsiHighs()
    if options.progress is not None:
        relay = logging.getLogger(f"{__name__}.highs")
        relay.propagate = False
        relay.handlers[:] = [_HighsLogProgress(options.progress, model.objective_factor)]
        relay.setLevel(logging.DEBUG)
        opt.config.solver_output_logger = relay
        opt.config.log_level = logging.INFO
    opt.config.load_solution = False
    # the time limit counts from the call: the Pyomo build above is part of it
    opt.config.time_limit = (None if options.time_limit_s is None
                             else max(1.0, options.time_limit_s - built))
    opt.config.mip_gap = options.gap if options.gap is not None else DEFAULT_GAP
    opt.highs_options = {"threads": options.threads, **HIGHS_OPTIONS}
    if start is not None:
        for i, value in enumerate(start):
            m.v[i].set_value(float(value), skip_validation=True)
        opt.config.warmstart = True
    began = time.perf_counter()
    with quiet_stdout():
        result = opt.solve(m)
    solved = time.perf_counter() - began
    values = None
    if result.best_feasible_objective is not None:
        result.solution_loader.load_vars()
        values = np.array([pyo.value(m.v[i]) for i in range(model.n_vars)])
    factor = model.objective_factor
    return BackendAnswer(
        values=values, objective=None if values is None else model.value(values),
        reported_objective=None if result.best_feasible_objective is None
        else result.best_feasible_objective / factor,
        bound=None if result.best_objective_bound is None
        else result.best_objective_bound / factor,
        optimal=result.termination_condition == TerminationCondition.optimal,
        build_seconds=built, solve_seconds=solved, interface="pyomo-appsi-highs")


def to_highspy(model: LinearModel) -> highspy.Highs:
    """The same rows as one column-wise sparse matrix, passed to HiGHS in one call."""
    lp = highspy.HighsLp()
    lp.num_col_ = model.n_vars
    lp.num_row_ = len(model.rows)
    lp.col_cost_ = np.array(model.objective, dtype=float)
    lp.offset_ = model.objective_constant
    lp.col_lower_ = np.array(model.lower, dtype=float)
    lp.col_upper_ = np.array(model.upper, dtype=float)
    lp.row_lower_ = np.array([r.lower for r in model.rows], dtype=float)
    lp.row_upper_ = np.array([r.upper for r in model.rows], dtype=float)
    lengths = np.array([len(r.indices) for r in model.rows], dtype=np.int64)
    rows = np.repeat(np.arange(len(model.rows)), lengths)
    cols = np.concatenate([r.indices for r in model.rows]) if model.rows else np.zeros(0, int)
    vals = np.concatenate([r.coefs for r in model.rows]) if model.rows else np.zeros(0)
    order = np.lexsort((rows, cols))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    per_column = np.bincount(cols, minlength=model.n_vars)
    lp.a_matrix_.start_ = np.concatenate([[0], np.cumsum(per_column)])
    lp.a_matrix_.index_ = rows[order].astype(np.int32)
    lp.a_matrix_.value_ = vals[order]
    lp.integrality_ = [highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
                       for flag in model.integer]
    with quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(lp)
    return h


def solve_linear_model_highspy(model: LinearModel, options: SolveOptions,
                               start: np.ndarray | None) -> BackendAnswer:
    began = time.perf_counter()
    h = to_highspy(model)
    built = time.perf_counter() - began
    if options.time_limit_s is not None:
        h.setOptionValue("time_limit", float(options.time_limit_s))
    h.setOptionValue("mip_rel_gap", options.gap if options.gap is not None else DEFAULT_GAP)
    h.setOptionValue("threads", int(options.threads))
    for key, value in HIGHS_OPTIONS.items():
        h.setOptionValue(key, value)
    if options.time_limit_s is not None:
        # HiGHS checks time_limit only between phases; a long root cut loop can overrun it
        # by minutes (seen: 157 s for 60 s), so its interrupt callbacks enforce it too
        stop_at = time.perf_counter() + float(options.time_limit_s)

        def enforce(event) -> None:
            if time.perf_counter() > stop_at:
                event.interrupt()

        for event in (h.cbMipInterrupt, h.cbSimplexInterrupt, h.cbIpmInterrupt):
            event.subscribe(enforce)
    if options.progress is not None:
        report = options.progress
        factor = model.objective_factor

        def relay(event) -> None:
            out = event.data_out
            best, bound = _number(out.mip_primal_bound), _number(out.mip_dual_bound)
            report(None if best is None else best / factor,
                   None if bound is None else bound / factor)

        h.cbMipLogging.subscribe(relay)
        h.cbMipImprovingSolution.subscribe(relay)
    if start is not None:
        solution = highspy.HighsSolution()
        solution.col_value = start.tolist()
        solution.value_valid = True
        h.setSolution(solution)
    began = time.perf_counter()
    h.run()
    solved = time.perf_counter() - began
    info = h.getInfo()
    values = objective = reported = None
    if info.primal_solution_status == 2:  # a feasible solution is at hand
        values = np.array(h.getSolution().col_value)
        objective = model.value(values)
        reported = float(info.objective_function_value) / model.objective_factor
    status = h.getModelStatus()
    return BackendAnswer(
        values=values, objective=objective, reported_objective=reported,
        bound=float(info.mip_dual_bound) / model.objective_factor,
        optimal=status == highspy.HighsModelStatus.kOptimal, build_seconds=built,
        solve_seconds=solved, interface="highspy")


PYOMO_MAX_NONZEROS = 200_000


def _consistent(answer: BackendAnswer) -> bool:
    """Whether HiGHS's own objective matches the solution it returned."""
    if answer.values is None or answer.reported_objective is None or answer.objective is None:
        return True
    return abs(answer.reported_objective - answer.objective) <= 1e-6 * max(
        1e-9, abs(answer.objective))


def solve_linear_model_highs(model: LinearModel, options: SolveOptions,
                             start: np.ndarray | None) -> BackendAnswer:
    """Pyomo for models a person might inspect; highspy beyond ``PYOMO_MAX_NONZEROS``.

    HiGHS 1.16 can lose presolve's objective offset when it evaluates a MIP start (it logs
    "feasible in the reduced space" with another value) and then stops early with a bound
    that is off by that offset. When its reported objective disagrees with the returned
    solution, its bound is not trusted: the solve is repeated without the start, in the time
    left, and the better solution of the two is kept with the second run's bound.
    """
    began = time.perf_counter()
    nonzeros = sum(len(r.indices) for r in model.rows)
    route = (solve_linear_model_pyomo if nonzeros <= PYOMO_MAX_NONZEROS
             else solve_linear_model_highspy)
    if route is solve_linear_model_highspy:
        logger.info("MILP has %d nonzeros: building it with highspy directly", nonzeros)
    answer = route(model, options, start)
    if start is None or _consistent(answer):
        return answer
    logger.warning("HiGHS reported %.9g for a solution worth %.9g: solving again without the "
                   "MIP start", answer.reported_objective, answer.objective)
    left = None
    if options.time_limit_s is not None:
        left = max(1.0, options.time_limit_s - (time.perf_counter() - began))
    retry = route(model, dataclasses.replace(options, time_limit_s=left), None)
    improves = (retry.values is not None and retry.objective is not None
                and answer.objective is not None and retry.objective <= answer.objective)
    better = retry if improves else answer
    return dataclasses.replace(
        better, bound=retry.bound if _consistent(retry) else None, optimal=retry.optimal,
        solve_seconds=answer.solve_seconds + retry.solve_seconds,
        build_seconds=answer.build_seconds + retry.build_seconds)
