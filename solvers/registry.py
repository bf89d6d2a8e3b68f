"""Solvers by name, behind one signature: ``solve(scenario, options) -> SolveResult``."""

from __future__ import annotations

from collections.abc import Callable

from greenslot.model.scenario import Scenario
from greenslot.solvers.auto import solve_auto
from greenslot.solvers.best_window import solve_best_window
from greenslot.solvers.exact import solve_with_cpsat, solve_with_milp
from greenslot.solvers.fifo import solve_fifo
from greenslot.solvers.greedy import solve_greedy
from greenslot.solvers.large import solve_large
from greenslot.solvers.types import SolveOptions, SolveResult

Solver = Callable[[Scenario, SolveOptions], SolveResult]

SOLVERS: dict[str, Solver] = {
    "greedy": solve_greedy,
    "fifo": solve_fifo,
    "best_window": solve_best_window,
    "milp": solve_with_milp,
    "cpsat": solve_with_cpsat,
    "auto": solve_auto,
    "large": solve_large,
}


def get_solver(name: str) -> Solver:
    """The solver registered as ``name``; a KeyError lists the known names."""
    try:
        return SOLVERS[name]
    except KeyError:
        raise KeyError(f"unknown solver {name!r}; choose one of {', '.join(SOLVERS)}") from None
