"""The CP-SAT backend: the shared linear model, scaled to integers, solved by OR-Tools.

Scaling (documented because CP-SAT needs integer coefficients):

* ``x``, ``z``, ``w`` are integers already; GPU and node rows are exact.
* ``draw`` is held in units of 0.1 mW (x10,000): each draw row's terms are rounded to the
  nearest unit, an error of at most 0.05 mW per term.
* ``grid`` is held in mWh (x1,000,000 per kWh); each grid row is multiplied by a
  power of ten so that its smallest coefficient has at least five significant digits before
  rounding.
* The objective is multiplied by a power of ten so its smallest coefficient has at least four
  significant digits.

The reported bound is CP-SAT's best bound corrected by an explicit allowance for this rounding
(see :meth:`_IntegerModel.proven_bound`), so it stays a proven lower bound of the true
objective; the objective itself is always recomputed exactly from the decoded schedule.
"""

from __future__ import annotations

import math
import time

import numpy as np
from ortools.sat.python import cp_model

from greenslot.solvers.backend import BackendAnswer
from greenslot.solvers.linear import LinearModel
from greenslot.solvers.types import DEFAULT_GAP, SolveOptions

DRAW_SCALE = 10_000.0     # integer units per W (0.1 mW)
GRID_SCALE = 1_000_000.0  # integer units per kWh (1 mWh)
ROW_DIGITS = 1e5          # smallest scaled grid-row coefficient
OBJECTIVE_DIGITS = 1e4    # smallest scaled objective coefficient


def _scales(model: LinearModel) -> np.ndarray:
    scale = np.ones(model.n_vars)
    for i, name in enumerate(model.names):
        if name.startswith("draw["):
            scale[i] = DRAW_SCALE
        elif name.startswith("grid["):
            scale[i] = GRID_SCALE
    return scale


def _smallest_significant(values: np.ndarray) -> float:
    """Smallest |value| that matters: below 1e-12 of the largest, rounding to 0 is harmless."""
    magnitudes = np.abs(values[values != 0])
    if not len(magnitudes):
        return 1.0
    return float(magnitudes[magnitudes >= magnitudes.max() * 1e-12].min())


def _power_of_ten_at_least(value: float) -> float:
    return 10.0 ** max(0, math.ceil(math.log10(value))) if value > 0 else 1.0


INT_HEADROOM = 2.0 ** 60  # CP-SAT sums must stay inside int64


def _capped_power_of_ten(wanted: float, magnitude: float) -> float:
    """The power of ten asked for, or the largest that keeps ``magnitude`` x it in int64.

    Coefficients that then round to zero are tiny by construction; their loss is covered by
    the bound allowance.
    """
    largest = 10.0 ** math.floor(math.log10(INT_HEADROOM / magnitude)) if magnitude else wanted
    return max(1.0, min(wanted, largest))


def _row_multiplier(row, per_unit: np.ndarray, upper_int: np.ndarray) -> float:
    """1 for rows already in integers; the draw scale for draw rows (so draw keeps
    coefficient 1); otherwise a power of ten giving ``ROW_DIGITS`` significant digits."""
    if row.name.startswith("draw["):
        return DRAW_SCALE
    bounds = [b for b in (row.lower, row.upper) if not math.isinf(b)]
    if np.all(per_unit == np.rint(per_unit)) and all(b == round(b) for b in bounds):
        return 1.0
    smallest = _smallest_significant(per_unit)
    magnitude = float(np.abs(per_unit) @ upper_int[row.indices]) + max(map(abs, bounds or [0]))
    return _capped_power_of_ten(_power_of_ten_at_least(ROW_DIGITS / smallest), magnitude)


class _IntegerModel:
    """The LinearModel in integer units, plus what is needed to map answers back."""

    def __init__(self, model: LinearModel) -> None:
        self.model = model
        self.scale = _scales(model)
        self.cp = cp_model.CpModel()
        self.vars = []
        self.upper_int = np.zeros(model.n_vars)
        for i in range(model.n_vars):
            lower = math.ceil(model.lower[i] * self.scale[i] - 1e-9)
            upper = math.floor(model.upper[i] * self.scale[i] + 1e-9)
            if self.scale[i] != 1:
                # derived quantities: rounding must not cut off a plan at its limit
                upper = math.ceil(model.upper[i] * self.scale[i] * (1 + 1e-6)) + 1
            if model.names[i].startswith("grid["):
                # grid's upper bound is only the most a site could draw, never a limit; the
                # rounded pue x draw coefficient (up to 5e-6 relative) once pushed the grid
                # energy of a full site past it, and CP-SAT left a job out rather than run it
                upper = math.ceil(model.upper[i] * self.scale[i] * 1.001) + 1
            self.upper_int[i] = upper
            self.vars.append(self.cp.new_int_var(int(lower), int(upper), model.names[i]))
        self.row_multiplier = []
        for row in model.rows:
            per_unit = row.coefs / self.scale[row.indices]
            multiplier = _row_multiplier(row, per_unit, self.upper_int)
            budget = row.name.startswith(("energy_budget", "carbon_budget"))
            # budgets round against the user (coefficients up, the cap down) so any integer
            # answer keeps them; elsewhere nearest rounding, bounded in the reported bound
            coefs = (np.ceil(per_unit * multiplier - 1e-9) if budget
                     else np.rint(per_unit * multiplier)).astype(np.int64)
            expr = sum(int(c) * self.vars[i] for c, i in zip(coefs, row.indices, strict=True)
                       if c)
            lower = None if math.isinf(row.lower) else round(row.lower * multiplier)
            upper = None if math.isinf(row.upper) else (
                math.floor(row.upper * multiplier) if budget else round(row.upper * multiplier))
            if row.name.startswith("grid_at_most[") and upper is not None:
                # with 'buys' set this row and the grid row hold grid energy exactly; in
                # integers, rounded separately, they often leave no integer grid value between
                # them and CP-SAT cut off every plan buying at a negative price. Room of two
                # grid units plus the rounding of the other terms only loosens the model, so
                # its bound stays a bound.
                rounding = float(np.abs(per_unit * multiplier - coefs) @ self.upper_int[
                    row.indices])
                upper += 2 * abs(int(coefs[0])) + math.ceil(rounding) + 1
            if lower is not None and upper is not None and lower == upper:
                self.cp.add(expr == lower)
            else:
                if lower is not None:
                    self.cp.add(expr >= lower)
                if upper is not None:
                    self.cp.add(expr <= upper)
            self.row_multiplier.append(multiplier)
        per_unit = np.array(model.objective) / self.scale
        smallest = _smallest_significant(per_unit)
        self.objective_scale = _capped_power_of_ten(
            _power_of_ten_at_least(OBJECTIVE_DIGITS / smallest),
            float(np.abs(per_unit) @ self.upper_int))
        self.objective = np.rint(per_unit * self.objective_scale).astype(np.int64)
        self.cp.minimize(sum(int(c) * self.vars[i] for i, c in enumerate(self.objective) if c))

    def hint(self, values: np.ndarray) -> None:
        """A complete hint: decisions as given, derived variables recomputed in integers."""
        ints = self.least_derived(np.rint(values * self.scale).astype(np.int64))
        for var, value in zip(self.vars, ints, strict=True):
            self.cp.add_hint(var, int(value))

    def least_derived(self, ints: np.ndarray) -> np.ndarray:
        """``ints`` with each draw and grid variable at the least value its row allows.

        Why for answers too: a grid variable whose cost rounded to zero in the integer
        objective (a near-zero carbon or price slot) may be left anywhere above its row by
        CP-SAT, which changes nothing in the plan but inflates the model objective it reports.
        Rows are in the order the formulation writes them (draw before the grid that uses it).
        """
        ints = ints.copy()
        for row, multiplier in zip(self.model.rows, self.row_multiplier, strict=True):
            if row.name.startswith(("draw[", "grid[")):
                per_unit = row.coefs / self.scale[row.indices]
                coefs = np.rint(per_unit * multiplier).astype(np.int64)
                rest = int(np.dot(coefs[1:], ints[row.indices[1:]]))
                need = round(row.lower * multiplier) - rest
                value = -(-need // int(coefs[0]))
                ints[row.indices[0]] = max(0, value) if row.name.startswith("grid[") else value
        return ints

    def proven_bound(self, best_bound: float) -> float:
        """A lower bound of the true objective from CP-SAT's bound on the integer one.

        Two roundings separate them. (1) Objective coefficients: for the positive ones that
        kept a nonzero integer, the integer coefficient is at most ``(1 + r)`` times the true
        one; every other coefficient (rounded to zero, or negative, as grid prices can be)
        is off by an absolute ``err_i``, worth at most ``err_i * upper_i`` (``E``). All
        variables are >= 0, so ``true >= (A - E) / (1 + r) + r / (1 + r) * N`` where ``A`` is
        the integer objective in true units and ``N`` the most negative the other terms can
        be. (2) The derived rows (draw, grid) map the true optimum to an integer point whose
        grid energy is higher by at most ``eta`` (:meth:`_row_allowance`).
        """
        weights = np.array(self.model.objective) / self.scale
        approx = self.objective / self.objective_scale
        error = np.abs(approx - weights)
        relative = (weights > 0) & (self.objective != 0)
        r = float((error[relative] / weights[relative]).max()) if relative.any() else 0.0
        upper = self.upper_int / self.scale
        others = ~relative & (weights != 0)
        absolute = float((error[others] * upper[others]).sum())
        most_negative = float(np.minimum(weights[others], 0.0) @ upper[others])
        integer_value = best_bound / self.objective_scale
        return ((integer_value - absolute) / (1.0 + r) + r / (1.0 + r) * most_negative
                - self._row_allowance())

    def _row_allowance(self) -> float:
        model = self.model
        upper_int = self.upper_int
        group = np.array(model.group)
        draw_error_w: dict[int, float] = {}
        for row in model.rows:
            if row.name.startswith("draw["):
                terms = row.indices[1:]
                exclusive = group[terms] >= 0
                active_terms = (len(np.unique(group[terms][exclusive]))
                                + upper_int[terms][~exclusive].sum() + 1)
                draw_error_w[int(row.indices[0])] = 0.5 * active_terms / DRAW_SCALE
        allowance = 0.0
        for row, multiplier in zip(model.rows, self.row_multiplier, strict=True):
            if not row.name.startswith("grid["):
                continue
            own, others = int(row.indices[0]), row.indices[1:]
            own_coef = abs(round(multiplier / GRID_SCALE))
            exclusive = group[others] >= 0
            largest = (len(np.unique(group[others][exclusive]))
                       + upper_int[others][~exclusive].sum() + 1)
            error_units = 0.5 * largest / own_coef + 1.0
            error_kwh = error_units / GRID_SCALE
            for coef, j in zip(row.coefs[1:], others, strict=True):
                error_kwh += abs(coef) * draw_error_w.get(int(j), 0.0)
            allowance += abs(model.objective[own]) * error_kwh
        return allowance


class _Progress(cp_model.CpSolverSolutionCallback):
    """Relays each new CP-SAT solution and its bound, in true objective units."""

    def __init__(self, integer: _IntegerModel, report) -> None:
        super().__init__()
        self.integer = integer
        self.report = report

    def on_solution_callback(self) -> None:
        if self.report is not None:
            scale = self.integer.objective_scale
            factor = self.integer.model.objective_factor
            self.report(self.ObjectiveValue() / scale / factor,
                        self.integer.proven_bound(self.BestObjectiveBound()) / factor)


def solve_linear_model_cpsat(model: LinearModel, options: SolveOptions,
                             start: np.ndarray | None) -> BackendAnswer:
    began = time.perf_counter()
    integer = _IntegerModel(model)
    if start is not None:
        integer.hint(start)
    built = time.perf_counter() - began
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.num_workers = max(1, int(options.threads))
    params.relative_gap_limit = options.gap if options.gap is not None else DEFAULT_GAP
    params.random_seed = 0
    if options.time_limit_s is not None:
        params.max_time_in_seconds = float(options.time_limit_s)
    began = time.perf_counter()
    status = solver.Solve(integer.cp, _Progress(integer, options.progress))
    solved = time.perf_counter() - began
    values = objective = bound = None
    slack = 0.0
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        found = np.array([solver.Value(v) for v in integer.vars], dtype=np.int64)
        values = integer.least_derived(found) / integer.scale
        objective = model.value(values)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raw = solver.BestObjectiveBound()
        factor = model.objective_factor
        bound = integer.proven_bound(raw) / factor
        slack = max(0.0, raw / integer.objective_scale / factor - bound)
    return BackendAnswer(values=values, objective=objective, bound=bound,
                         optimal=status == cp_model.OPTIMAL, build_seconds=built,
                         solve_seconds=solved, interface="ortools-cp-sat", bound_slack=slack)
