"""A backend-neutral linear model: variables, rows and an objective as plain arrays.

The formulation (:mod:`greenslot.solvers.formulation`) writes rows here once; the MILP backend
hands them to Pyomo or highspy and the CP-SAT backend scales them to integers. One formulation,
so both backends solve the same problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

INF = float("inf")


@dataclass
class Row:
    """``lower <= sum(coefs * vars) <= upper``; ``name`` says which ``add_*`` made it."""

    indices: np.ndarray
    coefs: np.ndarray
    lower: float
    upper: float
    name: str


@dataclass
class LinearModel:
    """Minimise ``objective @ x + objective_constant`` subject to rows and bounds."""

    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    objective: list[float] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    # variables sharing a group >= 0 are exclusive: at most one is nonzero (a job's columns)
    group: list[int] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    objective_constant: float = 0.0
    # the objective is stored multiplied by this, so solver tolerances meet values near 1e3
    objective_factor: float = 1.0

    @property
    def n_vars(self) -> int:
        return len(self.lower)

    def add_var(self, name: str, lower: float = 0.0, upper: float = INF,
                integer: bool = False, cost: float = 0.0, group: int = -1) -> int:
        self.group.append(group)
        self.lower.append(lower)
        self.upper.append(upper)
        self.integer.append(integer)
        self.objective.append(cost)
        self.names.append(name)
        return len(self.lower) - 1

    def add_row(self, indices, coefs, lower: float = -INF, upper: float = INF,
                name: str = "") -> None:
        indices = np.asarray(indices, dtype=np.int64)
        coefs = np.asarray(coefs, dtype=float)
        if len(indices) == 0:
            if lower > 1e-9 or upper < -1e-9:
                raise ValueError(f"empty row {name!r} cannot hold: [{lower}, {upper}]")
            return
        self.rows.append(Row(indices, coefs, lower, upper, name))

    def value(self, x: np.ndarray) -> float:
        """Objective of ``x`` in the scenario's units (the stored factor divided out)."""
        return float(np.dot(self.objective, x) + self.objective_constant) / self.objective_factor

    def rescale_objective(self, typical: float, target: float = 1e3) -> None:
        """Multiply the objective so that ``typical`` becomes about ``target``.

        HiGHS's absolute tolerances (gap 1e-6, optimality 1e-7) misjudge objectives of 1e-5
        kg, which small what-if scenarios produce; a power of ten keeps the numbers exact.
        """
        if typical <= 0:
            return
        factor = 10.0 ** round(np.log10(target / typical))
        self.objective = [c * factor for c in self.objective]
        self.objective_constant *= factor
        self.objective_factor *= factor

    def violations(self, x: np.ndarray, tolerance: float = 1e-6) -> list[str]:
        """Rows and bounds that ``x`` breaks: a self-check for hints and decoded answers."""
        found = []
        for row in self.rows:
            activity = float(np.dot(row.coefs, x[row.indices]))
            if activity < row.lower - tolerance or activity > row.upper + tolerance:
                found.append(f"{row.name}: {activity:.6g} not in [{row.lower}, {row.upper}]")
        lower, upper = np.array(self.lower), np.array(self.upper)
        bad = np.nonzero((x < lower - tolerance) | (x > upper + tolerance))[0]
        found += [f"bound {self.names[i]}: {x[i]}" for i in bad]
        return found
