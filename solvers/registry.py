"""Solvers by name, behind one signature: ``solve(scenario, options) -> SolveResult``."""

from __future__ import annotations

from collections.abc import Callable

from greenslot.model.scenario import Scenario
from greenslot.solvers.auto import solve_auto
from greenslot.solvers.best_window import solve_best_window
from greenslot.solvers.cpsat import solve_linear_model_cpsat
from greenslot.solvers.exact import solve_exact
from greenslot.solvers.fifo import solve_fifo
from greenslot.solvers.greedy import solve_greedy
from greenslot.solvers.milp import solve_linear_model_highs
from greenslot.solvers.scale import solve_large
from greenslot.solvers.types import SolveOptions, SolveResult

Solver = Callable[[Scenario, SolveOptions], SolveResult]


def solve_with_milp(scenario: Scenario, options: SolveOptions) -> SolveResult:
    """The time-indexed MILP, solved by HiGHS through Pyomo (or highspy when large)."""
    return solve_exact(scenario, options, solve_linear_model_highs, "milp")


def solve_with_cpsat(scenario: Scenario, options: SolveOptions) -> SolveResult:
    """The same time-indexed model, scaled to integers and solved by CP-SAT."""
    return solve_exact(scenario, options, solve_linear_model_cpsat, "cpsat")


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
