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
        return float(np.dot(self.objective, x) + self.objective_constant)

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
