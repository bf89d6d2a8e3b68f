"""A schedule: which job runs where, when and in which power mode.

This is the one representation every solver returns, the validator checks, the accounting
prices and the writers serialise. Slots are integers on the scenario's grid; a pinned job that
started before the horizon has a negative ``start_slot``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Assignment:
    """One placed job: slots ``[start_slot, end_slot)`` on ``nodes`` at ``power_limit_w``."""

    job_id: str
    start_slot: int
    end_slot: int
    power_limit_w: float
    nodes: tuple[str, ...]

    def slots_in_horizon(self, n_slots: int) -> range:
        """The slots of the run that lie inside the horizon."""
        return range(max(0, self.start_slot), min(n_slots, self.end_slot))


def dependency_not_placed(dependency: str) -> str:
    """The reason given for a job left out because ``dependency`` is not in the plan.

    One wording everywhere (solvers, baselines, diagnosis, replays), so users and tests can
    rely on it.
    """
    return f"depends on {dependency}, which is not placed"


@dataclass(frozen=True)
class Unplaced:
    """A job left out of the plan and the precise reason, for the user to act on."""

    job_id: str
    reason: str


@dataclass(frozen=True)
class Schedule:
    """Placed jobs plus the jobs left out, in a stable order (start, then job_id)."""

    assignments: tuple[Assignment, ...]
    unplaced: tuple[Unplaced, ...] = ()

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.assignments, key=lambda a: (a.start_slot, a.job_id)))
        object.__setattr__(self, "assignments", ordered)

    def by_job(self) -> dict[str, Assignment]:
        return {a.job_id: a for a in self.assignments}
