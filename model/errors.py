"""Domain errors that the CLI maps to exit codes in one place.

Why typed errors: a nightly job must fail with one line that names the file, row and field, and
the CLI must distinguish bad input (exit 2) from an over-constrained problem (exit 3) without
parsing messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class GreenslotError(Exception):
    """Base of every error greenslot raises on purpose."""


@dataclass(frozen=True)
class Location:
    """Where in the user's input a problem sits.

    ``row`` is a human-readable position: ``"line 7"`` in a CSV (the header is line 1) or a
    YAML path such as ``"sites[1]"``.
    """

    file: str
    row: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.row:
            parts.append(self.row)
        if self.field:
            parts.append(f"field '{self.field}'")
        return ", ".join(parts)


class ScenarioError(GreenslotError):
    """Bad input: a named check failed. Exit code 2.

    Parameters
    ----------
    check
        Stable name of the failed check (``deadline_before_release``, ``forecast_gap``...), so
        tests and scripts can match on it rather than on wording.
    location
        File, row and field the user has to fix.
    message
        What is wrong and, where it is not obvious, how to fix it.
    """

    def __init__(self, check: str, location: Location, message: str) -> None:
        self.check = check
        self.location = location
        self.message = message
        super().__init__(f"{location}: {message} [{check}]")


@dataclass(frozen=True)
class Conflict:
    """One reason why the hard constraints cannot all hold."""

    job_ids: tuple[str, ...]
    reason: str

    def __str__(self) -> str:
        return f"{', '.join(self.job_ids)}: {self.reason}" if self.job_ids else self.reason


class InfeasibleError(GreenslotError):
    """The hard constraints cannot all hold (pinned jobs in conflict, or ``--strict``). Exit 3."""

    def __init__(self, conflicts: Iterable[Conflict]) -> None:
        self.conflicts = tuple(conflicts)
        super().__init__("infeasible: " + "; ".join(str(c) for c in self.conflicts))


class InvalidScheduleError(GreenslotError):
    """A solver produced a schedule the independent validator rejects: a bug, never emitted."""

    def __init__(self, violations: Iterable[object]) -> None:
        self.violations = tuple(violations)
        shown = "; ".join(str(v) for v in self.violations[:5])
        more = len(self.violations) - 5
        suffix = f" (+{more} more)" if more > 0 else ""
        super().__init__(f"schedule failed validation: {shown}{suffix}")


class FallbackWarning(UserWarning):
    """The plan comes from a fallback solver, not the one asked for; the result's
    ``details["fallback"]`` says which and why (see ``greenslot.pipeline.steps``)."""
