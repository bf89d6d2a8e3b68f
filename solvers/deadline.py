"""The time limit as one instant every phase checks: a :func:`time.perf_counter` value.

Why one instant rather than a share per phase: ``greenslot plan --time-limit T`` must end
within T whatever the machine's load, and a phase that reads its own clock (or none) is how a
30 s plan once took 45 s and a 1,942-job plan 829 s against 120 s. So the command starts the
clock, every phase that loops (the baselines' queue, greedy's passes, the model build, the LP,
rounding, local search, the reasons for unplaced jobs) stops at the instant it is handed, and
what is always needed afterwards (validating and writing the plan) keeps time reserved
(:func:`tail_reserve_s`).

``None`` means no limit everywhere.
"""

from __future__ import annotations

import time

TIME_LIMIT_REASON = "not planned: the time limit ran out before the planner reached it"
"""Unplaced reason of a job a phase had no time left to place (a queue, a greedy pass)."""

REASON_NOT_DERIVED = "no room found in its window (reason not derived: the time limit ran out)"
"""Unplaced reason when the time limit leaves no time to derive the precise one."""

TAIL_BASE_S = 1.0
TAIL_PER_JOB_S = 1e-3
"""Time kept for validating, pricing and writing a plan: the fixed part and the part per job.

Measured (see README, "Time limits"): pricing, validating and writing the 1,942-job plan took
0.7 s at load 10; twice that per job, plus a second, covers a busier machine."""


def passed(deadline: float | None) -> bool:
    """Whether ``deadline`` (perf_counter) is set and reached."""
    return deadline is not None and time.perf_counter() >= deadline


def left_s(deadline: float | None) -> float | None:
    """Seconds until ``deadline`` (never negative), or None without one."""
    return None if deadline is None else max(0.0, deadline - time.perf_counter())


def share(deadline: float | None, fraction: float) -> float | None:
    """The instant ``fraction`` of the time left to ``deadline`` from now (None: none)."""
    if deadline is None:
        return None
    now = time.perf_counter()
    return now + fraction * max(0.0, deadline - now)


def tail_reserve_s(n_jobs: int) -> float:
    """Seconds kept after the solve for the always-needed tail (validate, price, write)."""
    return TAIL_BASE_S + TAIL_PER_JOB_S * n_jobs
