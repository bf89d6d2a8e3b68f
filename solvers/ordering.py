"""Orders of jobs that respect dependencies, shared by the constructive solvers."""

from __future__ import annotations

import heapq
from collections.abc import Callable

from greenslot.model.scenario import Job


def dependency_order(jobs: list[Job], key: Callable[[Job], tuple]) -> list[Job]:
    """Topological order of ``jobs`` (dependencies first), ``key`` deciding among ready jobs.

    Dependencies on jobs outside ``jobs`` (pinned, already placed) are treated as satisfied.
    """
    by_id = {j.job_id: j for j in jobs}
    waiting = {j.job_id: sum(1 for d in j.depends_on if d in by_id) for j in jobs}
    children: dict[str, list[str]] = {}
    for job in jobs:
        for dep in job.depends_on:
            if dep in by_id:
                children.setdefault(dep, []).append(job.job_id)
    ready = [(key(j), j.job_id) for j in jobs if waiting[j.job_id] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, job_id = heapq.heappop(ready)
        order.append(by_id[job_id])
        for child in children.get(job_id, []):
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (key(by_id[child]), child))
    return order
