"""The plan pipeline: solve -> validate -> account, returning everything the writers need.

Each step is a public function so an analyst can run them one at a time from Python.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from greenslot.model.accounting import Accounting, account, objective_value
from greenslot.model.errors import Conflict, InfeasibleError, InvalidScheduleError
from greenslot.model.scenario import Scenario
from greenslot.model.schedule import Schedule
from greenslot.model.validator import validate
from greenslot.solvers.best_window import solve_best_window
from greenslot.solvers.fifo import solve_fifo
from greenslot.solvers.queue import missed_deadlines
from greenslot.solvers.registry import get_solver
from greenslot.solvers.types import SolveOptions, SolveResult

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())


@dataclass(frozen=True)
class Plan:
    """A validated, priced plan plus the baselines it is compared with.

    ``objective`` is the scenario's objective on the plan's totals, plus the exact solvers'
    penalty for jobs left out although they had a feasible window (zero when none are).
    """

    scenario: Scenario
    result: SolveResult
    accounting: Accounting
    objective: float
    baselines: dict[str, dict[str, float]]

    @property
    def schedule(self) -> Schedule:
        return self.result.schedule

    @property
    def plan_id(self) -> str:
        """A short stable id of this schedule, used to tag Slurm submissions.

        The horizon's start is part of it: slots are relative, so without it tonight's plan
        of a recurring scenario could share yesterday's id, and ``submit`` would take
        yesterday's jobs (still in the ledger or the queue) for tonight's.
        """
        text = "|".join(f"{a.job_id}@{a.start_slot}:{a.power_limit_w}:{','.join(a.nodes)}"
                        for a in self.schedule.assignments)
        start = self.scenario.grid.start.isoformat()
        digest = hashlib.sha256(f"{self.scenario.name}|{start}|{text}".encode()).hexdigest()
        return digest[:12]


def check_schedule(scenario: Scenario, schedule: Schedule) -> None:
    """Raise :class:`InvalidScheduleError` unless the independent validator accepts."""
    violations = validate(scenario, schedule)
    if violations:
        raise InvalidScheduleError(violations)


def baseline_totals(scenario: Scenario) -> dict[str, dict[str, float]]:
    """Totals of the baselines, for an honest comparison.

    The contract's ``fifo`` and ``best_window`` (per-job ``--begin`` shifting, issue 4), each
    with how many jobs it placed and how many of those end after their deadline (both queue
    jobs without looking at deadlines, so a saving they show may come from late jobs).
    """
    baselines = {}
    for name, solve in (("fifo", solve_fifo), ("best_window", solve_best_window)):
        schedule = solve(scenario, SolveOptions()).schedule
        baselines[name] = account(scenario, schedule).totals | {
            "placed": len(schedule.assignments),
            "missed_deadlines": missed_deadlines(scenario, schedule)}
    return baselines


def plan(scenario: Scenario, solver: str = "greedy", options: SolveOptions | None = None,
         strict: bool = False) -> Plan:
    """Solve, validate and price ``scenario``.

    Raises
    ------
    InfeasibleError
        Pinned jobs conflict, or ``strict`` and some job could not be placed.
    InvalidScheduleError
        The solver returned a schedule the validator rejects (a bug; nothing is written).
    """
    options = options or SolveOptions()
    result = get_solver(solver)(scenario, options)
    logger.info("%s placed %d jobs in %.2f s", solver, len(result.schedule.assignments),
                result.solve_seconds)
    check_schedule(scenario, result.schedule)
    if strict and result.schedule.unplaced:
        raise InfeasibleError(Conflict((u.job_id,), u.reason) for u in result.schedule.unplaced)
    figures = account(scenario, result.schedule)
    return Plan(
        scenario=scenario,
        result=result,
        accounting=figures,
        objective=objective_value(scenario, figures.totals) + result.unplaced_penalty,
        baselines=baseline_totals(scenario),
    )
