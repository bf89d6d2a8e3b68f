"""The time grid: a start, a slot length and a number of slots.

Why slots: every formulation (greedy, MILP, CP-SAT) and the accounting of the contract work on
the same discrete grid, so a plan is exactly reproducible from start slot, mode and nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class TimeGrid:
    """Slots ``t = 0 .. n_slots-1``; slot ``t`` covers ``[start + t*slot, start + (t+1)*slot)``.
    """

    start: datetime
    slot: timedelta
    n_slots: int

    @property
    def slot_hours(self) -> float:
        """Slot length D in hours."""
        return self.slot.total_seconds() / 3600.0

    @property
    def end(self) -> datetime:
        return self.start + self.slot * self.n_slots

    def time_of(self, slot: int) -> datetime:
        """Start time of ``slot`` (any integer; negative slots lie before the horizon)."""
        return self.start + self.slot * slot

    def offset_slots(self, when: datetime) -> float:
        """Position of ``when`` on the grid, in slots (fractional)."""
        return (when - self.start) / self.slot

    def slot_at_or_after(self, when: datetime) -> int:
        """First slot boundary not before ``when`` (a release time rounds up)."""
        return math.ceil(self.offset_slots(when) - 1e-9)

    def slot_at_or_before(self, when: datetime) -> int:
        """Last slot boundary not after ``when`` (a deadline rounds down)."""
        return math.floor(self.offset_slots(when) + 1e-9)

    def is_boundary(self, when: datetime) -> bool:
        position = self.offset_slots(when)
        return abs(position - round(position)) < 1e-9

    def slots_for_hours(self, hours: float) -> int:
        """Slots a run of ``hours`` occupies: ``ceil(hours / D - 1e-9)``, as the contract fixes."""
        return math.ceil(hours / self.slot_hours - 1e-9)
