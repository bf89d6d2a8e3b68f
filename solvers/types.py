"""Our own status and result types, so no backend's objects leak past ``solvers/``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from greenslot.model.schedule import Schedule

if TYPE_CHECKING:
    from greenslot.solvers.baselines import Baselines
    from greenslot.solvers.lagrange import FamilyPricer

DEFAULT_GAP = 1e-4
"""Relative gap at which exact solvers stop; a plan proven within it is reported optimal."""


class SolveStatus(StrEnum):
    """How good the returned schedule is known to be (the ``status`` of ``summary.json``)."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"


ProgressCallback = Callable[[float | None, float | None], None]
"""Called with (incumbent objective, proven bound) as an exact solver improves either."""

PhaseCallback = Callable[[str], None]
"""Called with the name of the step a solver starts (``greedy``, ``lp bound``, ...), so a
progress display can say what the solver is doing while no figure changes."""


@dataclass(frozen=True)
class SolveOptions:
    """Settings every solver accepts; a solver ignores what it has no use for."""

    time_limit_s: float | None = None
    threads: int = 1
    gap: float | None = None
    progress: ProgressCallback | None = field(default=None, compare=False)
    on_phase: PhaseCallback | None = field(default=None, compare=False)
    # The scenario's fifo and best_window, already solved and priced by the pipeline; greedy
    # competes with them instead of solving them again (None: it solves them itself).
    baselines: Baselines | None = field(default=None, compare=False, repr=False)
    # Who prices the Lagrangian's families (``large``, and ``auto`` above its size limit):
    # None prices them in this process; a :class:`greenslot.solvers.distributed.DaskPricer`
    # on Dask workers, with the same result.
    pricer: FamilyPricer | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SolveResult:
    """A solver's answer: the schedule and what is proven about it.

    ``bound`` is a proven lower bound of the objective, or None for heuristics. The objective is
    the scenario's weighted totals plus ``unplaced_penalty``: the exact solvers charge each job
    they leave out although it has a feasible window, so that bound and objective compare
    the same thing.
    """

    solver: str
    status: SolveStatus
    schedule: Schedule
    bound: float | None
    solve_seconds: float
    unplaced_penalty: float = 0.0
    details: dict = field(default_factory=dict)
