"""The contract's ``fifo`` baseline: what Slurm would do without a plan (section 3).

Pinned jobs first as pinned; then jobs by release (then priority high to low, then job_id),
each at its fastest mode, at the earliest slot where it fits on the first fitting nodes in name
order, respecting restrictions, dependencies, GPU capacity, maintenance and the power cap but
ignoring deadlines. A job that does not fit inside the horizon is left out. A job whose
dependency comes later in that order waits for it (dependencies first, order otherwise kept).
The queue itself is :func:`greenslot.solvers.queue.run_queue`, shared with ``best_window``.
"""

from __future__ import annotations

import time

from greenslot.model import rules
from greenslot.model.scenario import Job, Scenario
from greenslot.solvers.ordering import dependency_order
from greenslot.solvers.queue import run_queue
from greenslot.solvers.types import SolveOptions, SolveResult, SolveStatus


def fifo_order(scenario: Scenario) -> list[Job]:
    """Release order (then priority high to low, then job_id), dependencies first."""
    position = {j.job_id: (j.release, -j.priority, j.job_id) for j in scenario.jobs}
    return dependency_order([j for j in scenario.jobs if not j.pinned],
                            lambda j: position[j.job_id])


def solve_fifo(scenario: Scenario, options: SolveOptions | None = None,
               stop_at: float | None = None) -> SolveResult:
    """Run the baseline; it ignores deadlines, so its schedule may miss them by design.

    Jobs not yet queued at ``stop_at`` (perf_counter) are left out (see ``run_queue``)."""
    started = time.perf_counter()
    if stop_at is None and options is not None and options.time_limit_s is not None:
        stop_at = started + options.time_limit_s
    order = fifo_order(scenario)
    release = {j.job_id: rules.earliest_start_slot(scenario.grid, j) for j in order}
    return SolveResult(
        solver="fifo",
        status=SolveStatus.FEASIBLE,
        schedule=run_queue(scenario, order, release, stop_at),
        bound=None,
        solve_seconds=time.perf_counter() - started,
    )
