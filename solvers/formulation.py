"""The time-indexed formulation of the whole contract, as small ``add_*`` functions.

Variables: ``x[c]`` (run column c: job, mode, pool, start), ``z[j]`` (job j left out, paid
with its penalty), ``w[p, t]`` (nodes of pool p holding single-node jobs in slot t),
``boots[p, t]`` (nodes of pool p that come on in slot t, where its nodes boot on energy),
``draw[s, t]`` (site node draw before PUE [W]) and ``grid[s, t]`` (grid energy [kWh]).

Every ``add_*`` takes ``(model, prep, index)`` and writes its rows; none depends on the
backend. Reading them in order gives the whole model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from greenslot.solvers.linear import INF, LinearModel
from greenslot.solvers.prepare import Prepared


@dataclass
class Index:
    """Where each family of variables sits in the model's variable vector."""

    x: np.ndarray
    z: np.ndarray
    w: dict[tuple[int, int], int]
    draw: np.ndarray
    grid: np.ndarray
    # (column, slot) pairs of every column's run, built once and shared by the add_* functions
    cover_column: np.ndarray
    cover_slot: np.ndarray
    boots: dict[tuple[int, int], int] = dataclasses.field(default_factory=dict)


def _coverage(prep: Prepared) -> tuple[np.ndarray, np.ndarray]:
    starts = np.array([c.start for c in prep.columns], dtype=np.int64)
    lengths = np.array([c.length for c in prep.columns], dtype=np.int64)
    column = np.repeat(np.arange(len(prep.columns)), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return column, starts[column] + offsets


def _groups(keys: np.ndarray):
    """Yield (key, positions) for each distinct key, positions into ``keys``."""
    if len(keys) == 0:
        return
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    cuts = np.nonzero(np.diff(sorted_keys))[0] + 1
    for chunk in np.split(order, cuts):
        yield int(keys[chunk[0]]), chunk


def add_variables(model: LinearModel, prep: Prepared) -> Index:
    """x and z for every column and job; draw and grid for every site and slot; w on demand."""
    column, slot = _coverage(prep)
    x = np.array([model.add_var(f"x[{k}]", 0, 1, integer=True, group=c.job)
                  for k, c in enumerate(prep.columns)], dtype=np.int64)
    z = np.array([model.add_var(f"z[{j.job_id}]", 0, 1, cost=float(prep.penalty[k]))
                  for k, j in enumerate(prep.jobs)], dtype=np.int64)
    kwh_per_w = prep.hours / 1000.0
    moved_kwh = sum(max((c.transfer_kwh for c in prep.columns if c.job == j), default=0.0)
                    for j in range(len(prep.jobs)))
    most_kwh = prep.pue * prep.max_draw_w * kwh_per_w + moved_kwh
    draw = np.zeros((prep.n_sites, prep.n_slots), dtype=np.int64)
    grid = np.zeros_like(draw)
    for s in range(prep.n_sites):
        for t in range(prep.n_slots):
            draw[s, t] = model.add_var(f"draw[{s},{t}]", 0,
                                       min(prep.cap_w[s], prep.max_draw_w[s]),
                                       cost=prep.energy_weight * prep.pue[s] * kwh_per_w)
            grid[s, t] = model.add_var(f"grid[{s},{t}]", 0, most_kwh[s],
                                       cost=prep.grid_weight[s, t])
    index = Index(x=x, z=z, w={}, draw=draw, grid=grid, cover_column=column, cover_slot=slot)
    singles = np.array([not c.multi_node for c in prep.columns], dtype=bool)
    needs_w = set()
    for key, _ in _groups(np.array([prep.columns[c].pool for c in column[singles[column]]],
                                   dtype=np.int64) * prep.n_slots + slot[singles[column]]):
        needs_w.add(divmod(key, prep.n_slots))
    for pool in prep.pools:
        needs_w.update((pool.index, int(t)) for t in np.nonzero(pool.fixed_active)[0])
    for p, t in sorted(needs_w):
        pool = prep.pools[p]
        index.w[(p, t)] = model.add_var(f"w[{p},{t}]", float(pool.fixed_active[t]),
                                        float(pool.available[t]), integer=True)
    if prep.energy_weight:
        for k, col in enumerate(prep.columns):
            model.objective[x[k]] += prep.energy_weight * col.transfer_kwh
    for p, t in sorted(_boot_slots(prep, index)):
        # continuous: at integer awake counts the least boots satisfying its row is integer
        index.boots[(p, t)] = model.add_var(f"boots[{p},{t}]", 0,
                                            float(prep.pools[p].available[t]))
    return index


def _awake_terms(prep: Prepared, index: Index) -> dict[tuple[int, int], list[tuple[int, float]]]:
    """Per (pool, slot) of pools whose nodes boot on energy: the variables and coefficients
    that sum to its awake nodes, ``w`` plus ``count x`` of the multi-node columns running."""
    terms: dict[tuple[int, int], list[tuple[int, float]]] = {}
    booting = {p.index for p in prep.pools if not p.always_on and p.boot_w > 0}
    if not booting:
        return terms
    for (p, t), var in index.w.items():
        if p in booting:
            terms.setdefault((p, t), []).append((var, 1.0))
    for c, t in zip(index.cover_column.tolist(), index.cover_slot.tolist(), strict=True):
        col = prep.columns[c]
        if col.multi_node and col.pool in booting:
            terms.setdefault((col.pool, t), []).append((int(index.x[c]), float(col.count)))
    return terms


def _boot_slots(prep: Prepared, index: Index) -> set[tuple[int, int]]:
    """Where a boot can happen: slot t >= 1 of a booting pool with awake nodes possible in t
    (slot 0 never: every node counts as on before the horizon)."""
    return {(p, t) for p, t in _awake_terms(prep, index) if t >= 1}


def add_assignment(model: LinearModel, prep: Prepared, index: Index) -> None:
    """Each job runs in exactly one column, or is left out (z = 1) at its penalty."""
    for j, columns in enumerate(prep.columns_of_job):
        model.add_row([*index.x[columns], index.z[j]], [1.0] * (len(columns) + 1), 1.0, 1.0,
                      name=f"assign[{prep.jobs[j].job_id}]")


def _pool_slot_keys(prep: Prepared, index: Index) -> np.ndarray:
    pools = np.array([c.pool for c in prep.columns], dtype=np.int64)
    return pools[index.cover_column] * prep.n_slots + index.cover_slot


def add_pool_capacity(model: LinearModel, prep: Prepared, index: Index) -> None:
    """GPUs of single-node jobs fit on the w nodes that hold them; whole nodes for the rest.

    Per pool and slot: ``sum(gpus x over single-node columns) + pinned GPUs <= gpus_per_node
    * w`` and ``sum(node count x over multi-node columns) + w <= available nodes``; where the
    nodes declare CPU cores or memory and a job could exceed them, the same row for those.
    """
    keys = _pool_slot_keys(prep, index)
    binding = _binding_resources(prep)
    seen = set()
    for key, positions in _groups(keys):
        p, t = divmod(key, prep.n_slots)
        seen.add((p, t))
        _pool_slot_rows(model, prep, index, p, t, index.cover_column[positions], binding[p])
    for p, t in index.w:
        if (p, t) not in seen:
            _pool_slot_rows(model, prep, index, p, t, np.zeros(0, dtype=np.int64), binding[p])


# The per-node resources beside GPUs: row name, Column field, Pool capacity, Pool pinned use.
RESOURCES = (("cpus", "cpus_each", "cpus", "fixed_cpus"),
             ("memory", "memory_each_mb", "memory_mb", "fixed_memory_mb"))


def _binding_resources(prep: Prepared) -> list[tuple[tuple[str, str, str, str], ...]]:
    """Per pool: the resources (of :data:`RESOURCES`) that need rows of their own.

    A node that declares no CPU cores or memory gets no row for it. Nor does one where no
    single-node column and no pinned job asks for more of it per GPU than the node has per
    GPU: then the GPU row already implies it (``sum(cpus) <= cpus per GPU * sum(gpus) <=
    cpus * w``), so models of scenarios whose jobs fit their nodes' ratio keep their size.
    """
    found: list[list[tuple[str, str, str, str]]] = [[] for _ in prep.pools]
    for resource in RESOURCES:
        _, demand, capacity, fixed = resource
        for pool in prep.pools:
            have = getattr(pool, capacity)
            if have is None:
                continue
            pinned = getattr(pool, fixed)
            if (pinned is not None and (pinned * pool.gpus > have * pool.fixed_gpus).any()) or any(
                    getattr(c, demand) * pool.gpus > have * c.gpus_each
                    for c in prep.columns if c.pool == pool.index and not c.multi_node):
                found[pool.index].append(resource)
    return [tuple(f) for f in found]


def _pool_slot_rows(model, prep, index, p, t, columns, binding=()) -> None:
    pool = prep.pools[p]
    single = [c for c in columns if not prep.columns[c].multi_node]
    multi = [c for c in columns if prep.columns[c].multi_node]
    w = index.w.get((p, t))
    if w is not None:
        model.add_row([*index.x[single], w],
                      [*(prep.columns[c].gpus_each for c in single), -pool.gpus],
                      -INF, -float(pool.fixed_gpus[t]), name=f"gpus[{p},{t}]")
        # Cores and memory of single-node jobs fit on the same w nodes (summed, as GPUs are);
        # multi-node jobs take whole nodes, which fit them alone (rules.node_allowed).
        for name, demand, capacity, fixed in binding:
            model.add_row([*index.x[single], w],
                          [*(getattr(prep.columns[c], demand) for c in single),
                           -float(getattr(pool, capacity))],
                          -INF, -float(getattr(pool, fixed)[t]), name=f"{name}[{p},{t}]")
    if multi:
        extra = [w] if w is not None else []
        model.add_row([*index.x[multi], *extra],
                      [*(prep.columns[c].count for c in multi), *[1.0] * len(extra)],
                      -INF, float(pool.available[t]), name=f"nodes[{p},{t}]")


def add_start_ups(model: LinearModel, prep: Prepared, index: Index) -> None:
    """boots[p, t] >= awake[p, t] - awake[p, t-1]: nodes that come on in slot t.

    Pooled counts under-count node-level boots (a node going off while another comes on
    nets to none), and charge each at the pool's cheapest boot, so with prices >= 0 the model
    stays a relaxation; with a negative price no bound is claimed
    (:func:`~greenslot.solvers.prepare.pooled_wake_is_a_relaxation`).
    """
    if not index.boots:
        return
    awake = _awake_terms(prep, index)
    for (p, t), var in index.boots.items():
        # a multi-node column running in both slots cancels out: one entry a variable
        coef: dict[int, float] = {}
        for v, c in awake.get((p, t), []):
            coef[v] = coef.get(v, 0.0) - c
        for v, c in awake.get((p, t - 1), []):
            coef[v] = coef.get(v, 0.0) + c
        terms = [(v, c) for v, c in coef.items() if c != 0.0]
        model.add_row([var, *(v for v, _ in terms)], [1.0, *(c for _, c in terms)],
                      0.0, INF, name=f"boots[{p},{t}]")


def add_site_draw(model: LinearModel, prep: Prepared, index: Index) -> None:
    """draw[s, t] = constant draw + GPU draw above idle + base draw of nodes woken up.

    A node of a site that powers idle nodes down draws its base load only while it holds a
    job: multi-node columns wake ``count`` nodes, single-node jobs wake the ``w`` nodes; a
    node that boots adds its boot energy as average power over the slot.
    """
    sites = np.array([prep.pools[c.pool].site for c in prep.columns], dtype=np.int64)
    extra = np.array([c.extra_w for c in prep.columns])
    wake = np.array([0.0 if prep.pools[c.pool].always_on or not c.multi_node
                     else c.count * prep.pools[c.pool].wake_w for c in prep.columns])
    keys = sites[index.cover_column] * prep.n_slots + index.cover_slot
    by_key = dict(_groups(keys))
    constant = np.zeros((prep.n_sites, prep.n_slots))
    for pool in prep.pools:
        constant[pool.site] += pool.constant_w()
    woken: dict[tuple[int, int], list[tuple[int, float]]] = {}
    for (p, t), var in index.w.items():
        pool = prep.pools[p]
        if not pool.always_on:
            woken.setdefault((pool.site, t), []).append((var, -pool.wake_w))
    for (p, t), var in index.boots.items():
        woken.setdefault((prep.pools[p].site, t), []).append((var, -prep.pools[p].boot_w))
    for s in range(prep.n_sites):
        for t in range(prep.n_slots):
            positions = by_key.get(s * prep.n_slots + t, np.zeros(0, dtype=np.int64))
            columns = index.cover_column[positions]
            w_vars = [var for var, _ in woken.get((s, t), [])]
            w_coefs = [coef for _, coef in woken.get((s, t), [])]
            model.add_row([index.draw[s, t], *index.x[columns], *w_vars],
                          [1.0, *(-(extra[columns] + wake[columns])), *w_coefs],
                          constant[s, t], constant[s, t], name=f"draw[{s},{t}]")


def add_grid_draw(model: LinearModel, prep: Prepared, index: Index) -> None:
    """grid >= facility energy - renewables (and grid >= 0 by its bound).

    Facility energy is PUE x draw over the slot plus the data moved by jobs starting then.
    """
    transfer_at: dict[tuple[int, int], list[int]] = {}
    for k, col in enumerate(prep.columns):
        if col.transfer_kwh > 0:
            transfer_at.setdefault((prep.pools[col.pool].site, col.start), []).append(k)
    for s in range(prep.n_sites):
        factor = prep.pue[s] * prep.hours / 1000.0
        for t in range(prep.n_slots):
            moved = transfer_at.get((s, t), [])
            model.add_row([index.grid[s, t], index.draw[s, t], *index.x[moved]],
                          [1.0, -factor, *(-prep.columns[k].transfer_kwh for k in moved)],
                          -float(prep.renewable_kwh[s, t]), INF, name=f"grid[{s},{t}]")
            if prep.grid_weight[s, t] < 0:
                _grid_exactly(model, prep, index, s, t, factor, moved)


def _grid_exactly(model, prep, index, s, t, factor, moved) -> None:
    """Where grid energy is paid a negative price, hold it at max(0, energy - renewables).

    Elsewhere minimising keeps ``grid`` at that value by itself; a negative price would pull
    it up to its upper bound instead, an energy purchase no plan makes. A binary ``buys``
    chooses the side: 1 forces ``grid <= energy - renewables`` (equality with the row above),
    0 forces ``grid = 0``, which the row above allows only when renewables cover the energy.
    """
    most = float(model.upper[index.grid[s, t]])
    buys = model.add_var(f"buys[{s},{t}]", 0, 1, integer=True)
    model.add_row([index.grid[s, t], buys], [1.0, -most], -INF, 0.0, name=f"buying[{s},{t}]")
    renewable = float(prep.renewable_kwh[s, t])
    model.add_row([index.grid[s, t], index.draw[s, t], *index.x[moved], buys],
                  [1.0, -factor, *(-prep.columns[k].transfer_kwh for k in moved), renewable],
                  -INF, 0.0, name=f"grid_at_most[{s},{t}]")


def add_dependencies(model: LinearModel, prep: Prepared, index: Index) -> None:
    """A job starts only after its dependency ended, and runs only if the dependency runs.

    Time-indexed (strong) form: for every slot t, the chance that the later job has started by
    t is at most the chance that the earlier one has ended by t.
    """
    for before, after in prep.dependencies:
        later = prep.columns_of_job[after]
        earlier = prep.columns_of_job[before]
        ends = np.array([prep.columns[c].end for c in earlier], dtype=np.int64)
        starts = np.array([prep.columns[c].start for c in later], dtype=np.int64)
        name = f"after[{prep.jobs[before].job_id},{prep.jobs[after].job_id}"
        for t in np.unique(starts):
            started = [c for c, s in zip(later, starts, strict=True) if s <= t]
            ended = [c for c, e in zip(earlier, ends, strict=True) if e <= t]
            model.add_row([*index.x[started], *index.x[ended]],
                          [1.0] * len(started) + [-1.0] * len(ended), -INF, 0.0,
                          name=f"{name},{t}]")
        # over the whole horizon: the later job runs only if the earlier one does
        model.add_row([*index.x[later], *index.x[earlier]],
                      [1.0] * len(later) + [-1.0] * len(earlier), -INF, 0.0, name=f"{name}]")


BUILD_SECONDS_PER_NONZERO = 6e-6
"""Model build time per nonzero, a busy machine's: benchmark L's 1.4 M nonzeros built in
7.5 s at load 8 (5.3 us each). The callers skip a build that would not fit their time."""
BUDGET_MARGIN = 1e-7  # relative: keeps solver tolerances from crossing the exact budget


def add_budgets(model: LinearModel, prep: Prepared, index: Index) -> None:
    """Per-site energy and carbon budgets over the horizon (hard caps).

    Energy counts PUE x draw plus transfers; carbon counts grid energy only. Both are tightened
    by ``BUDGET_MARGIN`` so a plan within solver tolerances still meets the exact budget.
    """
    for s in range(prep.n_sites):
        factor = prep.pue[s] * prep.hours / 1000.0
        moved = [k for k, c in enumerate(prep.columns)
                 if c.transfer_kwh > 0 and prep.pools[c.pool].site == s]
        if np.isfinite(prep.energy_budget_kwh[s]):
            model.add_row([*index.draw[s], *index.x[moved]],
                          [factor] * prep.n_slots + [prep.columns[k].transfer_kwh for k in moved],
                          -INF, prep.energy_budget_kwh[s] * (1 - BUDGET_MARGIN),
                          name=f"energy_budget[{s}]")
        if np.isfinite(prep.carbon_budget_kg[s]):
            model.add_row(index.grid[s], prep.carbon_kg_per_kwh[s], -INF,
                          prep.carbon_budget_kg[s] * (1 - BUDGET_MARGIN),
                          name=f"carbon_budget[{s}]")


BUDGET_ROWS = ("energy_budget[", "carbon_budget[")


def has_budgets(model: LinearModel) -> bool:
    return any(row.name.startswith(BUDGET_ROWS) for row in model.rows)


def unmargined(model: LinearModel) -> LinearModel:
    """``model`` with budgets at their exact value: the relaxation whose LP bound is valid.

    The tightened budgets keep solver tolerances inside the real budget when planning, but
    they cut off plans that meet a budget exactly, so a bound proven with them could exceed
    the true optimum (found in review: 0.04 against a valid plan worth 0.01).
    """
    if not has_budgets(model):
        return model
    rows = [dataclasses.replace(row, upper=row.upper / (1 - BUDGET_MARGIN))
            if row.name.startswith(BUDGET_ROWS) else row for row in model.rows]
    return dataclasses.replace(model, rows=rows)


FORMULATION = (add_assignment, add_pool_capacity, add_start_ups, add_site_draw, add_grid_draw,
               add_dependencies, add_budgets)


def build(prep: Prepared) -> tuple[LinearModel, Index]:
    """The whole model: variables, then every ``add_*`` in order."""
    model = LinearModel()
    index = add_variables(model, prep)
    for add in FORMULATION:
        add(model, prep, index)
    model.rescale_objective(float(prep.penalty.max()) if len(prep.penalty) else 0.0)
    return model, index
