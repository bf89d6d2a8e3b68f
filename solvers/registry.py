"""Solvers by name, behind one signature: ``solve(scenario, options) -> SolveResult``, each with
its declared :class:`~greenslot.solvers.capabilities.Capabilities`.

:func:`get_solver` is the one way in: the solver it returns first checks the scenario's
features against the declaration, so an unsupported feature fails with a remedy before any
model is built. ``SOLVERS`` stays a plain name -> function table (the CLI lists its names;
tests replace entries to inject failures).
"""

from __future__ import annotations

from collections.abc import Callable

from greenslot.model.scenario import Scenario
from greenslot.solvers.auto import solve_auto
from greenslot.solvers.best_window import solve_best_window
from greenslot.solvers.capabilities import (
    ALL_FEATURES,
    EVERYTHING,
    Capabilities,
    Feature,
    check_supported,
)
from greenslot.solvers.exact import solve_with_cpsat, solve_with_milp
from greenslot.solvers.fifo import solve_fifo
from greenslot.solvers.greedy import solve_greedy
from greenslot.solvers.large import solve_large
from greenslot.solvers.types import SolveOptions, SolveResult

Solver = Callable[[Scenario, SolveOptions], SolveResult]

_BUDGETS = frozenset({Feature.ENERGY_BUDGETS, Feature.CARBON_BUDGETS})
_OBJECTIVE_ONLY = frozenset({Feature.RENEWABLES, Feature.NEGATIVE_PRICES, Feature.DATA_TRANSFER})

# The queue (greenslot.solvers.queue) checks restrictions, dependencies, GPUs, maintenance
# and the power cap, not budgets or deadlines: it is Slurm without a plan, by definition.
_FIFO = Capabilities(ALL_FEATURES - _BUDGETS - _OBJECTIVE_ONLY, _BUDGETS | _OBJECTIVE_ONLY,
                     "a baseline: ignores deadlines, budgets and the objective")
_BEST_WINDOW = Capabilities(ALL_FEATURES - _BUDGETS, _BUDGETS,
                            "a baseline: prices each job alone, then queues like fifo")
# greedy's placement search (greenslot.solvers.placement) checks capacity, cap, budgets,
# windows and dependencies and prices renewables, prices and transfers exactly; the exact
# model has rows for each feature; large rounds and searches with the same placement search.
_EXACT = EVERYTHING
_LARGE = EVERYTHING

SOLVERS: dict[str, Solver] = {
    "greedy": solve_greedy,
    "fifo": solve_fifo,
    "best_window": solve_best_window,
    "milp": solve_with_milp,
    "cpsat": solve_with_cpsat,
    "auto": solve_auto,
    "large": solve_large,
}

CAPABILITIES: dict[str, Capabilities] = {
    "greedy": EVERYTHING,
    "fifo": _FIFO,
    "best_window": _BEST_WINDOW,
    "milp": _EXACT,
    "cpsat": _EXACT,
    "auto": _EXACT & _LARGE,  # it runs one or the other
    "large": _LARGE,
}


def get_solver(name: str) -> Solver:
    """The solver registered as ``name``, checking its capabilities before it runs.

    A KeyError lists the known names. A solver that accepts every feature has nothing to
    check and is returned as registered.
    """
    try:
        solve = SOLVERS[name]
    except KeyError:
        raise KeyError(f"unknown solver {name!r}; choose one of {', '.join(SOLVERS)}") from None
    declared = CAPABILITIES[name]
    if declared.accepts == ALL_FEATURES:
        return solve

    def checked(scenario: Scenario, options: SolveOptions) -> SolveResult:
        check_supported(name, declared, scenario, CAPABILITIES)
        return solve(scenario, options)

    checked.__doc__ = solve.__doc__
    return checked
