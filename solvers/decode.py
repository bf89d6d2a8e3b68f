"""Between the time-indexed model and schedules: warm-start vectors and node assignment.

``encode`` maps a valid schedule (the greedy plan) to a complete variable vector, so both
backends start from it. ``decode`` turns chosen columns into concrete nodes: pools only count
GPUs, so each job is given real nodes of its pool here, and a job that no longer fits because
of fragmentation is re-inserted by the greedy search. The result always goes through the
independent validator afterwards.
"""

from __future__ import annotations

import logging

import numpy as np

from greenslot.model import rules
from greenslot.model.schedule import Assignment, Schedule
from greenslot.solvers.formulation import Index
from greenslot.solvers.linear import LinearModel
from greenslot.solvers.placement import best_placement, within_budget
from greenslot.solvers.prepare import Prepared
from greenslot.solvers.state import ClusterState

logger = logging.getLogger(__name__)


def pool_of_node(prep: Prepared) -> dict[int, int]:
    """Node position -> the index of its pool."""
    return {node: pool.index for pool in prep.pools for node in pool.node_ids}


def encode(model: LinearModel, prep: Prepared, index: Index,
           schedule: Schedule) -> np.ndarray | None:
    """A complete, feasible variable vector for ``schedule``, or None if it has no columns."""
    scenario = prep.scenario
    pool_of = pool_of_node(prep)
    lookup = {(c.job, c.pool, c.power_limit_w, c.start): k for k, c in enumerate(prep.columns)}
    job_index = {j.job_id: k for k, j in enumerate(prep.jobs)}
    values = np.zeros(model.n_vars)
    values[index.z] = 1.0
    hosts: dict[tuple[int, int], set[int]] = {}
    for a in schedule.assignments:
        node_ids = [scenario.node_position(n) for n in a.nodes]
        pools = {pool_of[i] for i in node_ids}
        if scenario.job(a.job_id).pinned:
            # pinned GPUs count with the single-node hosts of their pool
            for t in a.slots_in_horizon(prep.n_slots):
                for i in node_ids:
                    hosts.setdefault((pool_of[i], t), set()).add(i)
            continue
        key = (job_index[a.job_id], pools.pop(), a.power_limit_w, a.start_slot)
        if pools or key not in lookup:
            logger.info("warm start skipped: %s has no matching column", a.job_id)
            return None
        column = prep.columns[lookup[key]]
        values[index.x[lookup[key]]] = 1.0
        values[index.z[key[0]]] = 0.0
        if not column.multi_node:
            for t in range(column.start, column.end):
                hosts.setdefault((column.pool, t), set()).update(node_ids)
    for (p, t), var in index.w.items():
        values[var] = len(hosts.get((p, t), ()))
    _complete_derived(model, values)
    problems = model.violations(values)
    if problems:
        logger.info("warm start skipped: %s", problems[0])
        return None
    return values


def _complete_derived(model: LinearModel, values: np.ndarray) -> None:
    """Set boots and grid (>= rows, at their least) and draw (equality rows) from the
    decisions."""
    for row in model.rows:
        if row.name.startswith("boots["):
            own = row.indices[0]
            values[own] = max(0.0, row.lower - float(np.dot(row.coefs[1:],
                                                            values[row.indices[1:]])))
    for row in model.rows:
        if row.name.startswith("draw["):
            own = row.indices[0]
            values[own] = row.lower - float(np.dot(row.coefs[1:], values[row.indices[1:]]))
    for row in model.rows:
        if row.name.startswith("grid["):
            own = row.indices[0]
            rest = float(np.dot(row.coefs[1:], values[row.indices[1:]]))
            values[own] = max(0.0, row.lower - rest)
    for row in model.rows:
        if row.name.startswith("buying["):
            # buys where the grid supplies anything (negative-price slots only)
            values[row.indices[1]] = 1.0 if values[row.indices[0]] > 0 else 0.0


def chosen_columns(prep: Prepared, index: Index, values: np.ndarray) -> list[int]:
    return [k for k in range(len(prep.columns)) if values[index.x[k]] > 0.5]


def decode(prep: Prepared, columns: list[int], pinned: dict[str, Assignment],
           state: ClusterState) -> tuple[dict[str, Assignment], list[str]]:
    """Concrete nodes for the chosen columns; jobs that do not fit are re-inserted greedily.

    ``state`` holds the pinned jobs; placements are added to it. Returns the assignments
    (pinned included) and the ids of jobs that could not be placed at all.
    """
    placed = dict(pinned)
    order = sorted(columns, key=lambda k: (prep.columns[k].start, -prep.columns[k].count,
                                           -prep.columns[k].gpus_each))
    leftovers = []
    for k in order:
        column = prep.columns[k]
        job = prep.jobs[column.job]
        assignment = place_column(state, prep, column)
        if assignment is None:
            leftovers.append(job)
            continue
        placed[job.job_id] = assignment
    lost = [job.job_id for job in leftovers if place_anywhere(state, prep, job, placed) is None]
    if leftovers:
        logger.info("decode re-inserted %d job(s), %d lost", len(leftovers), len(lost))
    return placed, lost


def place_column(state: ClusterState, prep: Prepared, column) -> Assignment | None:
    """Put ``column`` on concrete nodes if they are free and the power cap and budgets hold."""
    job = prep.jobs[column.job]
    ids = _pick_nodes(state, prep, column)
    if ids is None:
        return None
    mode = prep.scenario.gpu_type(prep.pools[column.pool].gpu_type).run_mode(
        job.workload, column.power_limit_w)
    window = slice(column.start, column.end)
    joint_w = state.run_draw_w(ids, column.gpus_each, mode.power_w, column.start, column.end)
    site = prep.pools[column.pool].site
    if (state.site_draw_w[site, window] + joint_w > state.cap_w[site] + 1e-9).any():
        return None
    joint_kwh = state.pue[site] * joint_w / 1000.0 * state.hours
    if not within_budget(state, site, joint_kwh, window, column.transfer_kwh):
        return None
    state.place(job, ids, column.start, column.end, mode.power_w, column.gpus_each)
    return state.assignment(job, ids, column.start, column.end, column.power_limit_w)


def window_around(prep: Prepared, job, placed: dict[str, Assignment]) -> tuple[int, int]:
    """First start and last end slot for ``job`` given the placed jobs it depends on (it
    starts after they end) and the placed jobs that depend on it (it ends before they start).
    """
    earliest = max([prep.earliest_start[job.job_id]]
                   + [placed[d].end_slot for d in job.depends_on if d in placed])
    latest = min([prep.latest_end[job.job_id]]
                 + [placed[c].start_slot for c in prep.dependants.get(job.job_id, [])
                    if c in placed])
    return earliest, latest


def place_anywhere(state: ClusterState, prep: Prepared, job, placed: dict[str, Assignment],
                   groups=None) -> Assignment | None:
    """The greedy search's best place for ``job`` around what is placed, placed there."""
    earliest, latest = window_around(prep, job, placed)
    found = best_placement(state, job, earliest, latest, groups)
    if found is None:
        return None
    state.place(job, found.node_ids, found.start, found.end, found.mode.power_w,
                found.gpus_each)
    placed[job.job_id] = state.assignment(job, found.node_ids, found.start, found.end,
                                          found.mode.power_limit_w)
    return placed[job.job_id]


def _pick_nodes(state: ClusterState, prep: Prepared, column) -> tuple[int, ...] | None:
    """Nodes of the column's pool free for its whole run: busy-but-fitting nodes first.

    Preferring nodes that are already on (and the fullest of them) keeps powered-down nodes
    asleep and leaves whole nodes free for multi-node jobs.
    """
    job = prep.jobs[column.job]
    ids = np.array([i for i in prep.pools[column.pool].node_ids
                    if rules.node_allowed(prep.scenario, job, prep.scenario.nodes[i])])
    window = slice(column.start, column.end)
    fits = ~state.short(ids, column.gpus_each, rules.cpus_on_node(job),
                        rules.memory_on_node_mb(job), window).any(axis=1)
    fits &= ~state.blocked[ids, window].any(axis=1)
    candidates = ids[fits]
    if len(candidates) < column.count:
        return None
    awake = (state.running[candidates, window] > 0).sum(axis=1)
    spare = state.free[candidates, window].min(axis=1)
    order = np.lexsort((candidates, spare, -awake))
    return tuple(sorted(int(i) for i in candidates[order][: column.count]))
