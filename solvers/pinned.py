"""Pinned jobs (already running or reserved) go in first, exactly as given.

Every constructive solver starts here. Conflicts between pinned jobs, or with maintenance or
the power cap, cannot be planned around: they raise :class:`InfeasibleError` (exit 3) naming
the jobs and the reason.
"""

from __future__ import annotations

import numpy as np

from greenslot.model import rules
from greenslot.model.errors import Conflict, InfeasibleError
from greenslot.model.schedule import Assignment
from greenslot.solvers.state import ClusterState


def place_pinned(state: ClusterState) -> dict[str, Assignment]:
    """Place every pinned job; return them by job id, or raise with every conflict found."""
    scenario = state.scenario
    grid = scenario.grid
    placed: dict[str, Assignment] = {}
    conflicts: list[Conflict] = []
    owners: dict[tuple[int, int], list[str]] = {}
    for job in (j for j in scenario.jobs if j.pinned):
        pinned_start, pinned_nodes = job.pinned_placement()
        ids = [scenario.node_position(n) for n in pinned_nodes]
        node = scenario.nodes[ids[0]]
        mode = rules.allowed_modes(job, scenario.gpu_type(node.gpu_type))[0]
        start = round(grid.offset_slots(pinned_start))
        end = start + rules.run_slots(grid, job, mode)
        each = rules.shape_on(job, node)[1]
        lo, hi = max(0, start), min(grid.n_slots, end)
        for i in ids:
            if state.blocked[i, lo:hi].any():
                conflicts.append(Conflict((job.job_id,), f"pinned on {scenario.nodes[i].name} "
                                          "during its maintenance window"))
            short = np.nonzero(state.short([i], each, rules.cpus_on_node(job),
                                           rules.memory_on_node_mb(job), slice(lo, hi))[0])[0]
            if len(short):
                t = lo + int(short[0])
                others = sorted({o for o in owners.get((i, t), [])})
                conflicts.append(Conflict(tuple([job.job_id, *others]),
                                          "pinned jobs need more GPUs, CPU cores or memory "
                                          f"than node {scenario.nodes[i].name} has in slot {t}"))
            for t in range(lo, hi):
                owners.setdefault((i, t), []).append(job.job_id)
        state.place(job, ids, start, end, mode.power_w, each)
        placed[job.job_id] = state.assignment(job, ids, start, end, mode.power_limit_w)
    over = np.nonzero(state.site_draw_w > state.cap_w[:, None] + 1e-6)
    if len(over[0]):
        site, t = int(over[0][0]), int(over[1][0])
        name = state.site_names[site]
        who = tuple(sorted(j for j, a in placed.items()
                           if scenario.node(a.nodes[0]).site == name
                           and t in a.slots_in_horizon(grid.n_slots)))
        facility_kw = state.site_draw_w[site, t] * state.pue[site] / 1000.0
        cap_kw = state.cap_w[site] * state.pue[site] / 1000.0
        if who:
            reason = (f"site {name} is over its power cap in slot {t} with only pinned jobs "
                      f"and always-on nodes ({facility_kw:.2f} kW against {cap_kw:.2f} kW)")
        else:
            reason = (f"site {name}'s always-on idle nodes alone draw {facility_kw:.2f} kW in "
                      f"slot {t}, above its power cap of {cap_kw:.2f} kW: raise power_cap_kw "
                      "or set power_down_idle: true")
        conflicts.append(Conflict(who, reason))
    for job_id, a in placed.items():
        for dep in scenario.job(job_id).depends_on:
            before = placed.get(dep)
            if before is not None and before.end_slot > a.start_slot:
                conflicts.append(Conflict((dep, job_id), f"pinned {job_id} starts before its "
                                          f"dependency {dep} ends"))
    if conflicts:
        raise InfeasibleError(conflicts)
    return placed


def latest_end_before_pinned(state: ClusterState, placed: dict[str, Assignment]) -> dict:
    """For jobs that a pinned job depends on: the slot they must end by (its start)."""
    limits: dict[str, int] = {}
    for job_id, a in placed.items():
        for dep in state.scenario.job(job_id).depends_on:
            limits[dep] = min(limits.get(dep, a.start_slot), a.start_slot)
    return limits
