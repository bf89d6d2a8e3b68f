"""Drop dominated power modes (contract 1.4 allows it; the planner never needs them).

A mode is dominated when another mode of the same workload is at least as fast and needs no
more energy per unit of work (``power_w / relative_throughput``): whatever the objective, the
other mode is as good or better, so the planner can only lose time by considering it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from greenslot.power.curves.table import CurveRow


def pareto_front(rows: Sequence[CurveRow]) -> list[CurveRow]:
    """The non-dominated rows of one workload; of exact ties the lower power limit stays."""
    ranked = sorted(rows, key=lambda r: (-r.relative_throughput, r.energy_per_work,
                                         r.power_limit_w))
    keep, best = [], math.inf
    for row in ranked:
        if row.energy_per_work < best:
            keep.append(row)
            best = row.energy_per_work
    return keep


def drop_dominated(rows: Sequence[CurveRow], min_modes: int = 1) -> list[CurveRow]:
    """Keep each workload's non-dominated rows, topped up to ``min_modes`` rows.

    Why the top-up: some workloads (NCF above all) barely react to the power limit, so
    measurement noise leaves one or two non-dominated rows and a planner gets no choice; the
    dominated rows with the least energy per unit of work are added back until ``min_modes``
    remain (the rule ``data/curves`` were built with, ``min_modes=3``).
    """
    if min_modes < 1:
        raise ValueError("min_modes must be >= 1")
    by_workload: dict[str, list[CurveRow]] = {}
    for row in rows:
        by_workload.setdefault(row.workload, []).append(row)
    out: list[CurveRow] = []
    for group in by_workload.values():
        keep = pareto_front(group)
        if len(keep) < min_modes:
            rest = sorted((r for r in group if r not in keep),
                          key=lambda r: (r.energy_per_work, r.power_limit_w))
            keep += rest[: min_modes - len(keep)]
        out += sorted(keep, key=lambda r: r.power_limit_w)
    return out
