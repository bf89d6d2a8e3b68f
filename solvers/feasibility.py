"""Feasibility first: place jobs a plan left out by re-packing it exactly with CP-SAT.

Why: with capacity tight, a constructive plan fragments the machines (each job takes its
cheapest slot, leaving gaps no remaining job fits) and leaves jobs out that a full placement
would hold (issue 20: greedy lost 1-14 jobs where published schedules place all; the
make-room repair of :func:`~greenslot.solvers.local_search.repair_unplaced` frees one job's
neighbourhood at a time and cannot undo fragmentation spread over many machines). Here the
packing itself is solved exactly: every movable single-node job (the ones placed and the ones
left out) gets an optional interval on each of its eligible nodes at its fastest mode, nodes
are cumulative resources of their GPUs, a site's power cap a cumulative resource of watts,
dependencies precedences; jobs placed stay placed, and CP-SAT maximises the priority of the
jobs left out that it places, hinted with the current plan. Cost is not modelled: local search
runs after this and brings it back down.

Jobs on several nodes, pinned jobs, and jobs whose dependency stays unplaced keep their place
(they are capacity already taken). The power cap is modelled conservatively (a job's wake draw
counted in full even where it shares a node; the fixed draw per slot as filler intervals), so
a packing found here is within the cap; energy and carbon budgets are checked on the result,
and a packing that breaks one is undone. The caller validates the final plan as always.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from greenslot.model import rules
from greenslot.model.scenario import Job, PowerMode, Scenario
from greenslot.model.schedule import Assignment
from greenslot.solvers.ordering import dependency_order
from greenslot.solvers.state import ClusterState

if TYPE_CHECKING:
    from greenslot.solvers.prepare import Prepared

MAX_SECONDS = 30.0
"""The most one packing solve may take, whatever time is left: a full packing that exists
is found in well under a second on the benchmark classes up to 500 jobs x 40 machines."""
SEED = 20


@dataclass(frozen=True)
class _Option:
    job: Job
    node: int
    mode: PowerMode
    length: int
    earliest: int
    latest_end: int
    gpus_each: int


def _footprint(scenario: Scenario, job: Job, a: Assignment) -> tuple[list[int], float, int]:
    ids = [scenario.node_position(n) for n in a.nodes]
    node = scenario.nodes[ids[0]]
    mode = scenario.gpu_type(node.gpu_type).run_mode(job.workload, a.power_limit_w)
    return ids, mode.power_w, (job.gpus if len(ids) == 1 else node.gpus)


def _single_node_options(state: ClusterState, job: Job, earliest: int,
                         latest_end: int) -> list[_Option]:
    """Each eligible node the job fits on alone, at its fastest mode there."""
    scenario = state.scenario
    options = []
    for group in state.candidate_groups(job):
        if group.count != 1:
            continue
        modes = rules.allowed_modes(job, scenario.gpu_type(group.gpu_type))
        if not modes:
            continue
        length = rules.run_slots(scenario.grid, job, modes[0])
        if latest_end - length < earliest:
            continue
        options += [_Option(job, int(n), modes[0], length, earliest, latest_end,
                            group.gpus_each)
                    for n in group.node_ids]
    return options


def _runs(values: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, end, value) of each maximal run of equal positive values."""
    runs = []
    start = 0
    for t in range(1, len(values) + 1):
        if t == len(values) or values[t] != values[start]:
            if values[start] > 0:
                runs.append((start, t, int(values[start])))
            start = t
    return runs


def repack_unplaced(state: ClusterState, placed: dict[str, Assignment],
                    runnable: set[str], deadline: float, threads: int = 1) -> int:
    """Place jobs of ``runnable`` missing from ``placed`` by re-packing the plan exactly
    (see the module docstring); ``state`` must hold exactly ``placed``, and both are updated
    in place only when more jobs are placed and every budget still holds. Returns the jobs
    newly placed (0: the plan is unchanged). Stops at ``deadline`` (perf_counter).

    First the whole plan, where it is small (:data:`MAX_WHOLE_OPTIONS`); then a best-fit
    packing of every movable job (:func:`best_fit_repack`); then, for each job
    still left out (largest first), a few of its nodes with the most free time in its window
    and the jobs on them, more nodes each round (:data:`NEIGHBOURHOOD_NODES`): a full packing
    of 500 jobs on 40 machines is beyond a few seconds of CP-SAT, a few machines' worth is not.
    """
    scenario = state.scenario
    missing = [j for j in scenario.jobs if j.job_id in runnable and j.job_id not in placed
               and not j.pinned]
    if not missing or time.perf_counter() > deadline:
        return 0
    by_id = {j.job_id: j for j in scenario.jobs}
    movable = [by_id[k] for k, a in placed.items() if len(a.nodes) == 1 and not by_id[k].pinned]
    everything = movable + missing
    repaired = 0
    if _option_count(state, everything) <= MAX_WHOLE_OPTIONS:
        repaired += _attempt(state, placed, everything, None, deadline, threads)
    if any(j.job_id not in placed for j in missing) and time.perf_counter() <= deadline:
        repaired += best_fit_repack(state, placed, everything)  # one pass: a second or so
    for job in sorted(missing, key=lambda j: (-j.gpus * j.duration_h, j.job_id)):
        if job.job_id in placed:
            continue
        for count in NEIGHBOURHOOD_NODES:
            if time.perf_counter() > deadline:
                return repaired
            nodes = _roomiest_nodes(state, job, count)
            if not nodes:
                break
            near = [by_id[k] for k, a in placed.items() if len(a.nodes) == 1
                    and not by_id[k].pinned and scenario.node_position(a.nodes[0]) in nodes]
            found = _attempt(state, placed, [*near, job], nodes, deadline, threads)
            repaired += found
            if found:
                break
    return repaired


NEIGHBOURHOOD_NODES = (2, 3, 4, 6, 8)
"""Nodes re-packed around one job left out, one round each until it is placed."""
MAX_WHOLE_OPTIONS = 2_000
"""(job, node) options up to which the whole plan is re-packed in one model first."""
NEIGHBOURHOOD_SECONDS = 3.0


def _option_count(state: ClusterState, jobs: list[Job]) -> int:
    return sum(len(g.node_ids) for j in jobs for g in state.candidate_groups(j) if g.count == 1)


def _roomiest_nodes(state: ClusterState, job: Job, count: int) -> set[int]:
    """The ``count`` single-node options of ``job`` with the most free GPU-slots in its
    window (ties: node order): where consolidating room is likeliest to make it fit."""
    grid = state.scenario.grid
    lo, hi = rules.earliest_start_slot(grid, job), rules.latest_end_slot(grid, job)
    nodes = [int(n) for g in state.candidate_groups(job) if g.count == 1 for n in g.node_ids]
    if len(nodes) < 1:
        return set()
    room = {n: int(np.where(state.blocked[n, lo:hi], 0, state.free[n, lo:hi]).sum())
            for n in nodes}
    return set(sorted(nodes, key=lambda n: (-room[n], n))[:count])


def _attempt(state: ClusterState, placed: dict[str, Assignment], chosen: list[Job],
             nodes: set[int] | None, deadline: float, threads: int) -> int:
    """One re-packing of ``chosen`` (on ``nodes`` only, if given); the jobs newly placed."""
    from ortools.sat.python import cp_model

    scenario = state.scenario
    grid = scenario.grid
    budget_s = min(MAX_SECONDS if nodes is None else NEIGHBOURHOOD_SECONDS,
                   deadline - time.perf_counter())
    if budget_s <= 0.05:
        return 0
    by_id = {j.job_id: j for j in scenario.jobs}
    successors: dict[str, list[str]] = {}
    for job in scenario.jobs:
        for dep in job.depends_on:
            successors.setdefault(dep, []).append(job.job_id)
    in_model = {j.job_id for j in chosen}
    # dependencies on jobs outside the model bound the window; unplaced outside: no place
    windows: dict[str, tuple[int, int]] = {}
    for job in chosen:
        earliest = rules.earliest_start_slot(grid, job)
        latest = rules.latest_end_slot(grid, job)
        ok = True
        for dep in job.depends_on:
            if dep in in_model:
                continue
            if dep not in placed:
                ok = False
            else:
                earliest = max(earliest, placed[dep].end_slot)
        for child in successors.get(job.job_id, []):
            if child not in in_model and child in placed:
                latest = min(latest, placed[child].start_slot)
        if ok:
            windows[job.job_id] = (earliest, latest)
    chosen = [j for j in chosen if j.job_id in windows]
    options = {j.job_id: [o for o in _single_node_options(state, j, *windows[j.job_id])
                          if nodes is None or o.node in nodes] for j in chosen}
    if any(not options[j.job_id] for j in chosen if j.job_id in placed):
        return 0  # a placed job the model cannot express: keep the plan
    chosen = [j for j in chosen if options[j.job_id]]
    while True:  # a job whose dependency can be neither kept nor placed cannot be placed
        kept = {j.job_id for j in chosen}
        ready = [j for j in chosen if all(d in kept or d in placed for d in j.depends_on)]
        if len(ready) == len(chosen):
            break
        chosen = ready
    if not any(j.job_id not in placed for j in chosen):
        return 0

    old = {j.job_id: placed.pop(j.job_id) for j in chosen if j.job_id in placed}
    for job_id, a in old.items():
        ids, power_w, each = _footprint(scenario, by_id[job_id], a)
        state.remove(by_id[job_id], ids, a.start_slot, a.end_slot, power_w, each)
    try:
        solution = _solve(state, chosen, options, set(old), old, budget_s, threads, cp_model)
    except Exception:  # a failed repair must never lose the plan
        solution = None
    if solution is not None and len(solution) > len(old):
        for option, start in solution.values():
            state.place(option.job, [option.node], start, start + option.length,
                        option.mode.power_w, option.gpus_each)
        if _within_limits(state):
            return _keep(state, placed, solution, len(old))
        return _undo_repack(state, placed, solution, old)
    return _undo_repack(state, placed, {}, old)  # nothing new was placed


def _keep(state: ClusterState, placed: dict[str, Assignment],
          new: dict[str, tuple[_Option, int]], before: int) -> int:
    """Record a re-packing already placed in ``state``; the jobs it newly places."""
    for job_id, (option, start) in new.items():
        placed[job_id] = state.assignment(option.job, [option.node], start,
                                          start + option.length, option.mode.power_limit_w)
    return len(new) - before


def _undo_repack(state: ClusterState, placed: dict[str, Assignment],
                 new: dict[str, tuple[_Option, int]], old: dict[str, Assignment]) -> int:
    """Take a re-packing (``new``, placed in ``state``) back off and put the plan's own
    placements ``old`` back, in ``state`` and ``placed``; 0 jobs newly placed."""
    for option, start in new.values():
        state.remove(option.job, [option.node], start, start + option.length,
                     option.mode.power_w, option.gpus_each)
    for job_id, a in old.items():
        job = state.scenario.job(job_id)
        ids, power_w, each = _footprint(state.scenario, job, a)
        state.place(job, ids, a.start_slot, a.end_slot, power_w, each)
        placed[job_id] = a
    return 0


def _solve(state: ClusterState, jobs: list[Job], options: dict[str, list[_Option]],
           must: set[str], hint: dict[str, Assignment], budget_s: float, threads: int,
           cp_model) -> dict[str, tuple[_Option, int]] | None:
    """The CP-SAT packing; (option, start) per job placed, or None when nothing was found."""
    scenario = state.scenario
    model = cp_model.CpModel()
    node_items: dict[int, tuple[list, list]] = {}
    site_items: dict[int, tuple[list, list]] = {}
    resource_items: dict[tuple[int, str], tuple[list, list]] = {}
    starts: dict[str, Any] = {}
    ends: dict[str, Any] = {}
    chosen_vars: dict[str, list[tuple[Any, _Option]]] = {}
    present: dict[str, Any] = {}
    for job in jobs:
        own = options[job.job_id]
        lo = min(o.earliest for o in own)
        hi = max(o.latest_end for o in own)
        start = model.NewIntVar(lo, hi, f"s_{job.job_id}")
        end = model.NewIntVar(lo, hi, f"e_{job.job_id}")
        starts[job.job_id], ends[job.job_id] = start, end
        pairs = []
        for option in own:
            use = model.NewBoolVar("")
            model.Add(start >= option.earliest).OnlyEnforceIf(use)
            model.Add(end <= option.latest_end).OnlyEnforceIf(use)
            interval = model.NewOptionalIntervalVar(start, option.length, end, use, "")
            node_items.setdefault(option.node, ([], []))
            node_items[option.node][0].append(interval)
            node_items[option.node][1].append(option.gpus_each)
            for kind, need in (("cpus", rules.cpus_on_node(job)),
                               ("memory", rules.memory_on_node_mb(job))):
                resource_items.setdefault((option.node, kind), ([], []))
                resource_items[(option.node, kind)][0].append(interval)
                resource_items[(option.node, kind)][1].append(need)
            site = int(state.node_site[option.node])
            if math.isfinite(state.cap_w[site]):
                site_items.setdefault(site, ([], []))
                site_items[site][0].append(interval)
                site_items[site][1].append(_demand_w(state, job, option))
            pairs.append((use, option))
        uses = [u for u, _ in pairs]
        present[job.job_id] = model.NewBoolVar("")
        model.Add(sum(uses) == present[job.job_id])
        if job.job_id in must:
            model.Add(present[job.job_id] == 1)
        chosen_vars[job.job_id] = pairs
        old = hint.get(job.job_id)
        if old is not None:
            node = scenario.node_position(old.nodes[0])
            model.AddHint(start, old.start_slot)
            for use, option in pairs:
                model.AddHint(use, option.node == node)
    in_model = {j.job_id for j in jobs}
    for job in jobs:
        for dep in job.depends_on:
            if dep in in_model:
                model.AddImplication(present[job.job_id], present[dep])
                model.Add(starts[job.job_id] >= ends[dep]).OnlyEnforceIf(present[job.job_id])
    for node, (intervals, demands) in node_items.items():
        used = state.node_gpus[node] - state.free[node]
        used = np.where(state.blocked[node], state.node_gpus[node], used)
        for lo, hi, value in _runs(used):
            intervals.append(model.NewIntervalVar(lo, hi - lo, hi, ""))
            demands.append(value)
        if state.node_gpus[node] == 1:  # one GPU: the stronger no-overlap propagation
            model.AddNoOverlap(intervals)
        else:
            model.AddCumulative(intervals, demands, int(state.node_gpus[node]))
    for (node, kind), (intervals, demands) in resource_items.items():
        declared = scenario.nodes[node].cpus if kind == "cpus" else scenario.nodes[node].memory_mb
        if declared is None or not any(demands):
            continue  # an undeclared resource never runs short
        free = state.free_cpus[node] if kind == "cpus" else state.free_memory_mb[node]
        used = np.clip(declared - free, 0, declared)
        for lo, hi, value in _runs(used):
            intervals.append(model.NewIntervalVar(lo, hi - lo, hi, ""))
            demands.append(int(value))
        model.AddCumulative(intervals, demands, int(declared))
    for site, (intervals, demands) in site_items.items():
        fixed = np.ceil(state.site_draw_w[site] - 1e-9).astype(np.int64)
        floor = int(fixed.min())
        capacity = math.floor(state.cap_w[site] + 1e-9) - floor
        if capacity < 0:
            return None
        for lo, hi, value in _runs(fixed - floor):
            intervals.append(model.NewIntervalVar(lo, hi - lo, hi, ""))
            demands.append(value)
        model.AddCumulative(intervals, demands, capacity)
    model.Maximize(sum(max(1, round(job.priority)) * present[job.job_id] for job in jobs
                       if job.job_id not in must))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, budget_s)
    solver.parameters.num_workers = max(1, threads)
    solver.parameters.random_seed = SEED
    status = solver.Solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    solution = {}
    for job_id, pairs in chosen_vars.items():
        for use, option in pairs:
            if solver.BooleanValue(use):
                solution[job_id] = (option, int(solver.Value(starts[job_id])))
    order = dependency_order([j for j in jobs if j.job_id in solution], lambda j: (j.job_id,))
    return {j.job_id: solution[j.job_id] for j in order}


def _demand_w(state: ClusterState, job: Job, option: _Option) -> int:
    """An upper bound on the draw [W] the job adds on its node: its GPUs at the mode's
    power, plus the node's whole base draw where the node may be asleep, and its boot
    power (a start may boot it)."""
    node = option.node
    gpu_part = job.gpus * (option.mode.power_w - state.node_gpu_idle_w[node])
    wake = 0.0 if state.always_on[node] else (
        state.node_idle_w[node] + state.node_gpus[node] * state.node_gpu_idle_w[node]
        + state.node_boot_w[node])
    return math.ceil(max(0.0, gpu_part) + wake + 1e-9)


def _within_limits(state: ClusterState) -> bool:
    """Whether every node's cores and memory and every site's draw, energy and carbon budgets
    hold (the packing model counts GPUs and the cap; cores and memory are checked here)."""
    if (state.free_cpus < 0).any() or (state.free_memory_mb < 0).any():
        return False
    if (state.site_draw_w > state.cap_w[:, None] + 1e-6).any():
        return False
    for site in range(len(state.site_names)):
        if state.has_budget(site):
            energy_room, carbon_room = state.budget_room(site)
            if energy_room < -1e-9 or carbon_room < -1e-9:
                return False
    return True


def repack_with_prepared(state: ClusterState, placed: dict[str, Assignment], prep: Prepared,
                         deadline: float) -> int:
    """:func:`repack_unplaced` for the driver: the jobs that may run are ``prep``'s."""
    runnable = {j.job_id for j, ok in zip(prep.jobs, prep.can_run(), strict=True) if ok}
    return repack_unplaced(state, placed, runnable, deadline)


def best_fit_repack(state: ClusterState, placed: dict[str, Assignment], jobs: list[Job]) -> int:
    """Re-place ``jobs`` (single-node ones of the plan and ones left out) by best fit
    decreasing, and keep it if it places more of them; the jobs newly placed.

    Why: greedy puts each job where it costs least, which scatters small gaps over every
    machine; with capacity tight the last jobs find no gap long enough. Best fit takes the
    jobs longest first (dependencies before) and puts each at the left edge of the shortest
    free run it fits in, as bin packing does, leaving the long runs for the long jobs. Its
    plan costs more; local search, which keeps every job placed, brings the cost back down.
    """
    scenario = state.scenario
    grid = scenario.grid
    by_id = {j.job_id: j for j in scenario.jobs}
    before = sum(1 for j in jobs if j.job_id in placed)
    old = {j.job_id: placed.pop(j.job_id) for j in jobs if j.job_id in placed}
    for job_id, a in old.items():
        ids, power_w, each = _footprint(scenario, by_id[job_id], a)
        state.remove(by_id[job_id], ids, a.start_slot, a.end_slot, power_w, each)
    new: dict[str, tuple[_Option, int]] = {}
    order = dependency_order(jobs, lambda j: (-j.gpus * j.duration_h, j.job_id))
    for job in order:
        if any(d not in placed and d not in new for d in job.depends_on):
            continue
        earliest = max([rules.earliest_start_slot(grid, job)]
                       + [new[d][1] + new[d][0].length if d in new else placed[d].end_slot
                          for d in job.depends_on])
        found = _best_fit(state, _single_node_options(
            state, job, earliest, rules.latest_end_slot(grid, job)))
        if found is not None:
            option, start = found
            state.place(job, [option.node], start, start + option.length, option.mode.power_w,
                        option.gpus_each)
            new[job.job_id] = found
    if len(new) > before and all(k in new for k in old) and _within_limits(state):
        return _keep(state, placed, new, before)
    return _undo_repack(state, placed, new, old)


def _best_fit(state: ClusterState, options: list[_Option]) -> tuple[_Option, int] | None:
    """The option and start at the left edge of the shortest free run the job fits in
    (ties: earliest start, then node order), or None where it fits nowhere."""
    best: tuple[tuple[int, int, int], _Option, int] | None = None
    for option in options:
        node, n = option.node, option.length
        site = int(state.node_site[node])
        fits = ~state.short([node], option.gpus_each, rules.cpus_on_node(option.job),
                            rules.memory_on_node_mb(option.job))[0] & ~state.blocked[node]
        delta = state.node_delta_w(np.array([node]), option.gpus_each, option.mode.power_w)[0]
        fits &= state.site_draw_w[site] + delta <= state.cap_w[site] + 1e-9
        t = option.earliest
        while t <= option.latest_end - n:
            if not fits[t]:
                t += 1
                continue
            run_end = t
            while run_end < option.latest_end and fits[run_end]:
                run_end += 1
            if run_end - t >= n:
                key = (run_end - t - n, t, node)
                if best is None or key < best[0]:
                    best = (key, option, t)
            t = run_end
    return None if best is None else (best[1], best[2])
