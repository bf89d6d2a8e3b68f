"""Solvers by name, behind one signature: ``solve(scenario, options) -> SolveResult``."""

from __future__ import annotations

from collections.abc import Callable

from greenslot.model.scenario import Scenario
from greenslot.solvers.fifo import solve_fifo
from greenslot.solvers.greedy import solve_greedy
from greenslot.solvers.types import SolveOptions, SolveResult

Solver = Callable[[Scenario, SolveOptions], SolveResult]

SOLVERS: dict[str, Solver] = {
    "greedy": solve_greedy,
    "fifo": solve_fifo,
}


def get_solver(name: str) -> Solver:
    """The solver registered as ``name``; a KeyError lists the known names."""
    try:
        return SOLVERS[name]
    except KeyError:
        raise KeyError(f"unknown solver {name!r}; choose one of {', '.join(SOLVERS)}") from None
