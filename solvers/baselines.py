"""The baselines a plan is compared with, each solved and priced once per plan.

Why one place: ``greedy`` returns a baseline's plan instead of its own where that plan is valid
and better, and the pipeline reports both baselines' totals in ``summary.json``. Before, each
solved and priced fifo and best_window on its own; now the pipeline computes them here once
and hands them to the solver through :attr:`SolveOptions.baselines`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from greenslot.model.accounting import Accounting, account, objective_value
from greenslot.model.scenario import Scenario
from greenslot.solvers.best_window import solve_best_window
from greenslot.solvers.deadline import share
from greenslot.solvers.fifo import solve_fifo
from greenslot.solvers.queue import missed_deadlines
from greenslot.solvers.types import SolveResult

BASELINE_NAMES = ("fifo", "best_window")
"""In this order: the contract's ``fifo`` first (it wins ties), then per-job shifting."""


@dataclass(frozen=True)
class Baseline:
    """A baseline's answer, priced: what ``summary.json`` reports and greedy competes with."""

    result: SolveResult
    accounting: Accounting
    objective: float  # the scenario's objective on the totals (no penalty: it is no solver)
    missed_deadlines: int

    def summary(self) -> dict[str, float]:
        """Totals plus how many jobs it placed and how many of those end after their deadline.

        Both baselines queue jobs without looking at deadlines, so a saving they show may come
        from late jobs; the count says so next to the figures.
        """
        return self.accounting.totals | {"placed": len(self.result.schedule.assignments),
                                         "missed_deadlines": self.missed_deadlines}


@dataclass(frozen=True)
class Baselines:
    """Both baselines of one scenario, by name in :data:`BASELINE_NAMES` order.

    ``scenario`` is kept so a solver can tell whether these are its own scenario's baselines
    (:meth:`for_scenario`) before trusting them.
    """

    scenario: Scenario
    by_name: Mapping[str, Baseline]

    def for_scenario(self, scenario: Scenario) -> Baselines:
        """These baselines if they belong to ``scenario`` (the same object), else fresh ones."""
        return self if scenario is self.scenario else solve_baselines(scenario)

    def summaries(self) -> dict[str, dict[str, float]]:
        """``summary.json``'s ``baselines``: each one's :meth:`Baseline.summary`."""
        return {name: baseline.summary() for name, baseline in self.by_name.items()}


def solve_baselines(scenario: Scenario, stop_at: float | None = None) -> Baselines:
    """``fifo`` and ``best_window`` on ``scenario``, each solved and priced once.

    With ``stop_at`` (perf_counter) each gets half the time to it: a baseline is only a
    comparison, and one cut short leaves its remaining jobs out (its ``placed`` count says so)
    rather than the plan without time.
    """
    found = {}
    for k, (name, solve) in enumerate(zip(BASELINE_NAMES, (solve_fifo, solve_best_window),
                                          strict=True)):
        result = solve(scenario, None, share(stop_at, 0.5 if k == 0 else 1.0))
        figures = account(scenario, result.schedule)
        found[name] = Baseline(result, figures, objective_value(scenario, figures.totals),
                               missed_deadlines(scenario, result.schedule))
    return Baselines(scenario, found)


__all__ = ["BASELINE_NAMES", "Baseline", "Baselines", "solve_baselines"]
