"""Why a job could not be placed: precise reasons a user can act on.

Each reason is tested against a cluster holding only pinned jobs, so "no room" is split into
what other jobs took (a capacity question) and what the scenario itself forbids (maintenance,
power cap, a window too short).
"""

from __future__ import annotations

import numpy as np

from greenslot.model import rules
from greenslot.model.scenario import Job
from greenslot.solvers.pinned import place_pinned
from greenslot.solvers.search import best_candidate
from greenslot.solvers.state import ClusterState


def _when(state: ClusterState, slot: int) -> str:
    return state.scenario.grid.time_of(slot).isoformat()


def explain_no_fit(state: ClusterState, job: Job, earliest: int, latest_end: int) -> str:
    """Reason for a job no feasible start was found for within ``[earliest, latest_end)``."""
    scenario = state.scenario
    grid = scenario.grid
    groups = state.candidate_groups(job)
    if not groups:
        wanted = [f"{job.gpus} GPU(s)"]
        wanted += [f"{k}={v}" for k, v in (("gpu_type", job.gpu_type), ("site", job.site),
                                            ("partition", job.partition)) if v]
        return (f"no node matches ({', '.join(wanted)}, workload {job.workload!r}); a job takes "
                "one node up to its GPU count, above it whole nodes of one site and GPU type")
    if earliest >= grid.n_slots:
        return f"released at {_when(state, earliest)}, at or after the horizon end"
    fastest = min(rules.run_slots(grid, job, rules.allowed_modes(job, scenario.gpu_type(
        g.gpu_type))[0]) for g in groups)
    if latest_end - earliest < fastest:
        return (f"window too short: needs {fastest * grid.slot_hours:g} h at its fastest mode "
                f"(whole slots), but only {max(0, latest_end - earliest) * grid.slot_hours:g} h "
                f"lie between {_when(state, earliest)} (release or dependencies' end) and "
                f"{_when(state, latest_end)} (deadline or horizon end)")
    span = f"between {_when(state, earliest)} and {_when(state, latest_end)}"
    empty = ClusterState(scenario)
    place_pinned(empty)
    if best_candidate(empty, job, earliest, latest_end, groups) is not None:
        return (f"no free GPUs or power under the cap on matching nodes {span}: other jobs "
                "hold them (a higher priority or a wider window would help)")
    empty.cap_w = np.full_like(empty.cap_w, np.inf)
    if best_candidate(empty, job, earliest, latest_end, groups) is not None:
        return f"the site power cap leaves no room for it on matching nodes {span}"
    return f"maintenance windows or pinned jobs leave no room on matching nodes {span}"
