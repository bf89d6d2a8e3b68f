"""Why a job could not be placed: precise reasons a user can act on.

A reason names what to change. The diagnosis lifts one constraint at a time and asks the same
placement search (:func:`~greenslot.solvers.placement.best_placement`) whether the job would
then fit:

1. no node matches at all (which restriction or GPU count rules every node out);
2. the window is shorter than the fastest run;
3. with only the pinned jobs on the cluster the job fits: other jobs took the room, so the
   reason names them and the resource they exhaust (GPUs, the power cap, a site budget);
4. it does not fit even then: the scenario itself forbids it (power cap below the job's draw,
   maintenance windows, pinned jobs), named in that order.

:func:`explain_unplaced` re-derives every reason from a *final* schedule, so the reasons name
the jobs that really compete in the plan that is written, whichever solver made it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from greenslot.model import rules
from greenslot.model.scenario import Job, Scenario
from greenslot.model.schedule import Assignment, Schedule, Unplaced, dependency_not_placed
from greenslot.solvers.deadline import passed
from greenslot.solvers.pinned import place_pinned
from greenslot.solvers.placement import best_placement
from greenslot.solvers.state import ClusterState

MAX_NAMED = 6
"""Competing jobs or nodes named in a reason before the rest are counted."""


def _when(scenario: Scenario, slot: int) -> str:
    return scenario.grid.time_of(slot).isoformat()


def _names(items: Iterable[str]) -> str:
    items = list(items)
    shown = ", ".join(items[:MAX_NAMED])
    return shown + (f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else "")


def _no_node_reason(scenario: Scenario, job: Job) -> str:
    """Which restriction, GPU count or missing curve rules every node out."""
    nodes = list(scenario.nodes)
    applied: list[str] = []
    for key, value in (("gpu_type", job.gpu_type), ("site", job.site),
                       ("partition", job.partition)):
        if value is None:
            continue
        applied.append(f"{key}={value}")
        kept = [n for n in nodes if getattr(n, key) == value]
        if not kept:
            return (f"no node matches ({job.gpus} GPU(s), {', '.join(applied)}): no node has "
                    f"{' and '.join(applied)}; relax the job's {key} or add such nodes")
        nodes = kept
    with_curve = [n for n in nodes
                  if rules.allowed_modes(job, scenario.gpu_type(n.gpu_type))]
    if not with_curve:
        return (f"no node matches ({job.gpus} GPU(s), workload {job.workload!r}): no power "
                "curve row for it on the GPU types it may use"
                + (f" at {job.power_limit_w:g} W" if job.power_limit_w is not None else ""))
    sizes = sorted({n.gpus for n in with_curve})
    fitting = [n for n in with_curve if rules.nodes_needed(job, n) is not None]
    if not fitting:
        return (f"no node matches ({job.gpus} GPU(s)): matching nodes hold "
                f"{'/'.join(map(str, sizes))} GPUs, and a job above a node's GPU count takes "
                "whole nodes, so its GPUs must be a multiple of that; a job takes "
                "one node up to its GPU count, above it whole nodes of one site and GPU type")
    kinds: dict[tuple, int] = {}
    for n in fitting:
        kinds[(n.site, n.gpu_type, n.gpus)] = kinds.get((n.site, n.gpu_type, n.gpus), 0) + 1
    most = max(kinds.items(), key=lambda kv: kv[1] * kv[0][2])
    (site, gpu_type, size), count = most
    return (f"no node matches ({job.gpus} GPU(s)): it needs {job.gpus // size} whole nodes of "
            f"{size} GPUs at one site and GPU type, but at most {count} exist ({gpu_type} at "
            f"{site}); a job takes one node up to its GPU count, above it whole nodes of one "
            "site and GPU type")


def _fits(state: ClusterState, job: Job, earliest: int, latest_end: int) -> bool:
    return best_placement(state, job, earliest, latest_end,
                          state.candidate_groups(job)) is not None


def _state(scenario: Scenario, assignments: Iterable[Assignment]) -> ClusterState:
    """A cluster holding ``assignments`` exactly (pinned runs clipped to the horizon)."""
    state = ClusterState(scenario)
    for a in assignments:
        job = scenario.job(a.job_id)
        ids = [scenario.node_position(n) for n in a.nodes]
        node = scenario.nodes[ids[0]]
        mode = scenario.gpu_type(node.gpu_type).run_mode(job.workload, a.power_limit_w)
        state.place(job, ids, a.start_slot, a.end_slot, mode.power_w,
                    rules.shape_on(job, node)[1])
    return state


def _lift(state: ClusterState, cap: bool = False, budgets: bool = False,
          maintenance: bool = False) -> ClusterState:
    """The same state with some constraints lifted (arrays replaced, never mutated)."""
    if cap:
        state.cap_w = np.full_like(state.cap_w, np.inf)
    if budgets:
        state.energy_budget_kwh = np.full_like(state.energy_budget_kwh, np.inf)
        state.carbon_budget_kg = np.full_like(state.carbon_budget_kg, np.inf)
    if maintenance:
        state.blocked = np.zeros_like(state.blocked)
    return state


def _matching_nodes(state: ClusterState, job: Job) -> list[str]:
    nodes = state.scenario.nodes
    return [nodes[int(i)].name for g in state.candidate_groups(job) for i in g.node_ids]


def _overlapping(scenario: Scenario, placed: Mapping[str, Assignment], nodes: set[str] | None,
                 sites: set[str] | None, earliest: int, latest_end: int,
                 skip: str) -> list[str]:
    """Placed jobs that run in ``[earliest, latest_end)`` on ``nodes`` or at ``sites``."""
    found = []
    for job_id, a in sorted(placed.items(), key=lambda kv: (kv[1].start_slot, kv[0])):
        if job_id == skip or a.end_slot <= earliest or a.start_slot >= latest_end:
            continue
        on_nodes = nodes is not None and nodes & set(a.nodes)
        at_site = sites is not None and scenario.node(a.nodes[0]).site in sites
        if on_nodes or at_site:
            found.append(job_id)
    return found


def _cap_slots(state: ClusterState, sites: list[int], earliest: int, latest_end: int) -> str:
    """The window's slots where the power cap is closest to full, as the user reads them."""
    scenario = state.scenario
    parts = []
    for site in sites:
        cap = state.cap_w[site]
        if not np.isfinite(cap):
            continue
        draw = state.site_draw_w[site, earliest:latest_end]
        room = cap - draw
        tight = earliest + int(np.argmin(room))
        left_kw = room.min() * state.pue[site] / 1000
        parts.append(f"site {state.site_names[site]}'s {scenario.sites[site].power_cap_kw:g} kW "
                     f"cap has {left_kw:.3g} kW left at its fullest slot {_when(scenario, tight)}")
    return "; ".join(parts)


def explain_no_fit(state: ClusterState, job: Job, earliest: int, latest_end: int,
                   placed: Mapping[str, Assignment] | None = None) -> str:
    """Reason for a job no feasible start was found for within ``[earliest, latest_end)``.

    ``placed`` (the plan's placements) lets the reason name the competing jobs; without it
    they are inferred from ``state`` only as far as counts go.
    """
    scenario = state.scenario
    grid = scenario.grid
    groups = state.candidate_groups(job)
    if not groups:
        return _no_node_reason(scenario, job)
    if earliest >= grid.n_slots:
        return (f"released at {_when(scenario, earliest)}, at or after the horizon end; "
                "plan it in a later horizon")
    fastest = min(rules.run_slots(grid, job, rules.allowed_modes(job, scenario.gpu_type(
        g.gpu_type))[0]) for g in groups)
    if latest_end - earliest < fastest:
        return (f"window too short: needs {fastest * grid.slot_hours:g} h at its fastest mode "
                f"(whole slots), but only {max(0, latest_end - earliest) * grid.slot_hours:g} h "
                f"lie between {_when(scenario, earliest)} (release or dependencies' end) and "
                f"{_when(scenario, latest_end)} (deadline or horizon end); move the deadline "
                "or shorten the job")
    span = f"between {_when(scenario, earliest)} and {_when(scenario, latest_end)}"
    site_ids = sorted({g.site for g in groups})
    site_names = {state.site_names[s] for s in site_ids}
    matching = _matching_nodes(state, job)
    final = placed is not None  # a finished plan: its placements can be named
    placed = dict(placed or {})
    pinned = {j: a for j, a in placed.items() if scenario.job(j).pinned}

    only_pinned = _state_like(scenario, pinned, final)
    if _fits(only_pinned, job, earliest, latest_end):
        return _taken_by_others(state, job, earliest, latest_end, placed if final else None,
                                span, site_ids, site_names, matching)
    if _fits(_lift(_state_like(scenario, pinned, final), cap=True), job, earliest, latest_end):
        return (f"the site power cap leaves no room for it on matching nodes {span} even "
                f"without other jobs ({_cap_slots(only_pinned, site_ids, earliest, latest_end)});"
                " raise power_cap_kw or widen the window")
    if _fits(_lift(_state_like(scenario, pinned, final), budgets=True), job, earliest,
             latest_end):
        return (f"the energy or carbon budget of site(s) {_names(sorted(site_names))} is too "
                f"small for it even without other jobs; raise the budget")
    if pinned or not final:
        holders = _overlapping(scenario, pinned, set(matching), None, earliest, latest_end,
                               job.job_id)
        if holders and _fits(_lift(ClusterState(scenario)), job, earliest, latest_end):
            no_maintenance = _lift(_state_like(scenario, pinned, final), maintenance=True)
            if not _fits(no_maintenance, job, earliest, latest_end):
                return (f"pinned-job conflict: pinned job(s) {_names(holders)} hold the "
                        f"matching nodes ({_names(matching)}) {span}; move the pinned job or "
                        "widen this job's window")
    return (f"maintenance windows leave no room on matching nodes ({_names(matching)}) {span}"
            + (f" beside pinned job(s) {_names(h)}" if (h := _overlapping(
                scenario, pinned, set(matching), None, earliest, latest_end, job.job_id))
               else "")
            + "; widen the window or move the maintenance")


def _state_like(scenario: Scenario, pinned: Mapping[str, Assignment],
                final: bool) -> ClusterState:
    """A fresh cluster with only the pinned jobs placed (from the plan when it is final)."""
    if final:
        return _state(scenario, pinned.values())
    state = ClusterState(scenario)
    place_pinned(state)
    return state


def _taken_by_others(state: ClusterState, job: Job, earliest: int, latest_end: int,
                     placed: Mapping[str, Assignment] | None, span: str,
                     site_ids: list[int],
                     site_names: set[str], matching: list[str]) -> str:
    """The job fits beside the pinned jobs alone: say which resource the others exhaust."""
    scenario = state.scenario
    if placed is None:  # a solver asking mid-search: it cannot say who holds the room yet
        return (f"no free GPUs or power under the cap on matching nodes {span}: other jobs "
                "hold them (a higher priority or a wider window would help)")
    current = _state(scenario, placed.values())
    if _fits(current, job, earliest, latest_end):
        return (f"it fits {span} beside the planned jobs, but the solver left it out (a "
                "heuristic's order, or the time limit); try --solver milp or a longer "
                "--time-limit")
    gpus_free = _fits(_lift(_copy(current), cap=True, budgets=True), job, earliest, latest_end)
    if gpus_free:
        cap_only = _fits(_lift(_copy(current), cap=True), job, earliest, latest_end)
        others = _overlapping(scenario, placed, None, site_names, earliest, latest_end,
                              job.job_id)
        who = f" by {_names(others)}" if others else " by other jobs"
        if cap_only:
            return (f"power cap saturated {span}{who}: free GPUs exist but "
                    f"{_cap_slots(current, site_ids, earliest, latest_end)}; raise "
                    "power_cap_kw, widen the window or give the job a higher priority")
        return (f"site budget used up{who}: the energy or carbon budget of "
                f"{_names(sorted(site_names))} has no room left for it; raise the budget or "
                "give the job a higher priority")
    others = _overlapping(scenario, placed, set(matching), None, earliest, latest_end,
                          job.job_id)
    who = f"jobs {_names(others)} hold them" if others else "other jobs hold them"
    # where nodes declare cores or memory, those may be what the others hold (summed per node)
    what = ("GPUs, CPU cores or memory" if any(
        scenario.node(n).cpus is not None or scenario.node(n).memory_mb is not None
        for n in matching) else "GPUs")
    return (f"no free {what} on the {len(matching)} matching node(s) ({_names(matching)}) "
            f"{span}: {who}; a higher priority or a wider window would help")


def _copy(state: ClusterState) -> ClusterState:
    """A shallow copy whose lifted arrays do not leak back into ``state``."""
    clone = object.__new__(ClusterState)
    clone.__dict__.update(state.__dict__)
    return clone


def explain_unplaced(scenario: Scenario, schedule: Schedule,
                     deadline: float | None = None) -> Schedule:
    """``schedule`` with every unplaced job's reason re-derived from the final placements.

    Solvers explain a job when they give up on it, against the cluster as it stood then; this
    names the jobs that hold the room in the plan that is actually written. From ``deadline``
    (perf_counter) on, a job keeps the solver's reason: each derivation is a search over the
    cluster, and the plan must still be written within its time limit.
    """
    if not schedule.unplaced:
        return schedule
    placed = schedule.by_job()
    state = _state(scenario, schedule.assignments)
    grid = scenario.grid
    unplaced = []
    for u in schedule.unplaced:
        job = scenario.job(u.job_id)
        missing = [d for d in job.depends_on if d not in placed]
        if missing:
            unplaced.append(Unplaced(u.job_id, dependency_not_placed(missing[0])))
            continue
        if passed(deadline):
            unplaced.append(u)
            continue
        earliest = max([rules.earliest_start_slot(grid, job)]
                       + [placed[d].end_slot for d in job.depends_on])
        latest_end = rules.latest_end_slot(grid, job)
        unplaced.append(Unplaced(u.job_id, explain_no_fit(_copy(state), job, earliest,
                                                          latest_end, placed)))
    return Schedule(schedule.assignments, tuple(unplaced))
