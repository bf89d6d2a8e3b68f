"""Shared preparation for the exact backends (MILP and CP-SAT): one time-indexed model.

Nodes of one site, GPU type and size form a *pool* (the nodes a multi-node job may combine);
a column is one way to run a job: (job, power mode, pool, start slot). Both backends build the
same rows from these arrays, so they solve the same problem, and
:mod:`greenslot.solvers.decode` turns either answer into concrete nodes.

Pooling is a relaxation of per-node packing: GPUs of a pool are summed per slot, maintenance
and pinned jobs reduce the pool's counts, partition restrictions only limit how many nodes a
column may take, and waking a node is charged at the pool's cheapest node. So a bound proven on
this model is a valid lower bound of the full problem; decoding to concrete nodes may cost more
than the model predicted, which the reported gap then shows honestly. On the usual cluster
(identical nodes per pool) the model is exact apart from packing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from greenslot.model import rules
from greenslot.model.scenario import Job, Scenario
from greenslot.solvers.state import ClusterState


@dataclass(frozen=True)
class Pool:
    """Nodes of one site, GPU type and size. ``available[t]``: nodes outside maintenance.

    ``fixed_gpus[t]``, ``fixed_active[t]`` and ``fixed_extra_w[t]`` describe pinned jobs: GPUs
    they hold, nodes they keep on, and their GPUs' draw above idle. ``base_w`` is the draw of
    all nodes on with idle GPUs; ``wake_w`` the cheapest node's (what waking one costs at
    least). ``boot_w`` is the cheapest node's boot energy as average power over a slot [W]
    (0 where the site never powers nodes down or no node declares ``wake_energy_kwh``).
    """

    index: int
    site: int
    gpu_type: str
    gpus: int
    node_ids: tuple[int, ...]
    gpu_idle_w: float
    always_on: bool
    base_w: float
    wake_w: float
    available: np.ndarray
    fixed_gpus: np.ndarray
    fixed_active: np.ndarray
    fixed_extra_w: np.ndarray
    # CPU cores and memory [MB] each node declares (None: not declared, never checked), and
    # what pinned jobs hold of them per slot, summed over the pool's nodes.
    cpus: int | None = None
    memory_mb: int | None = None
    fixed_cpus: np.ndarray | None = None
    fixed_memory_mb: np.ndarray | None = None
    boot_w: float = 0.0

    @property
    def size(self) -> int:
        return len(self.node_ids)

    def constant_w(self) -> np.ndarray:
        """Draw per slot that no decision changes: always-on nodes and pinned GPUs [W]."""
        on = self.base_w if self.always_on else 0.0
        return on + self.fixed_extra_w


@dataclass(frozen=True)
class Column:
    """One way to run job ``job``: ``mode`` on ``count`` nodes of pool ``pool`` from ``start``."""

    job: int
    pool: int
    mode_index: int
    power_limit_w: float
    start: int
    length: int
    count: int
    gpus_each: int
    extra_w: float          # draw above idle of all its GPUs [W]
    transfer_kwh: float     # data moved at the start slot
    cpus_each: int = 0      # CPU cores it holds on each node (rules.cpus_on_node)
    memory_each_mb: int = 0  # memory it holds on each node [MB] (rules.memory_on_node_mb)

    @property
    def end(self) -> int:
        return self.start + self.length

    @property
    def multi_node(self) -> bool:
        return self.count > 1


@dataclass
class Prepared:
    """Everything both backends need, as plain arrays and lists."""

    scenario: Scenario
    jobs: list[Job]
    pools: list[Pool]
    columns: list[Column]
    columns_of_job: list[list[int]]
    penalty: np.ndarray
    dependencies: list[tuple[int, int]]          # (before, after) job indices
    pue: np.ndarray
    cap_w: np.ndarray                            # node-draw cap per site before PUE [W]
    max_draw_w: np.ndarray                       # every node on at its highest draw [W]
    energy_budget_kwh: np.ndarray                # per site, inf when none
    carbon_budget_kg: np.ndarray
    carbon_kg_per_kwh: np.ndarray                # (sites, slots)
    renewable_kwh: np.ndarray                    # (sites, slots)
    grid_weight: np.ndarray                      # objective per grid kWh (sites, slots)
    energy_weight: float
    hours: float
    n_slots: int
    earliest_start: dict[str, int] = field(default_factory=dict)
    latest_end: dict[str, int] = field(default_factory=dict)
    dependants: dict[str, list[str]] = field(default_factory=dict)
    # per job: whether it has any way to run at all; from its columns, or set by whoever
    # prices runs without listing them (:func:`greenslot.solvers.large.prepared_families`)
    runnable: np.ndarray | None = None

    @property
    def n_sites(self) -> int:
        return len(self.pue)

    def can_run(self) -> np.ndarray:
        if self.runnable is None:
            raise ValueError("prepared without columns: set runnable from the families")
        return self.runnable


def pooled_wake_is_a_relaxation(prep: Prepared) -> bool:
    """Whether charging a woken node at its pool's cheapest node can only under-charge.

    True unless a pool that powers idle nodes down mixes nodes of different idle draw while
    some price is negative: there more draw lowers the objective, and the cheapest node's
    draw over-charges plans that wake the dearer ones (found in review). Likewise where nodes
    boot on energy (``wake_energy_kwh``) and some price is negative: the Lagrangian leaves
    boots out, which is a relaxation only while every kWh costs >= 0, so no bound is claimed.
    """
    if (prep.grid_weight >= 0).all() and prep.energy_weight >= 0:
        return True
    scenario = prep.scenario
    if any(n.wake_energy_kwh > 0 and scenario.site(n.site).power_down_idle
           for n in scenario.nodes):
        return False
    return all(pool.always_on or abs(pool.base_w - pool.wake_w * pool.size) <= 1e-9
               for pool in prep.pools)


def _pinned_usage(scenario: Scenario, state: ClusterState, pinned: dict):
    """Per node: GPUs, CPU cores and memory held and draw above idle of pinned jobs, per
    slot."""
    gpus = np.zeros((len(scenario.nodes), state.n_slots))
    extra = np.zeros_like(gpus)
    cpus = np.zeros_like(gpus)
    memory = np.zeros_like(gpus)
    for a in pinned.values():
        job = scenario.job(a.job_id)
        for name in a.nodes:
            i = scenario.node_position(name)
            node = scenario.nodes[i]
            mode = scenario.gpu_type(node.gpu_type).run_mode(job.workload, a.power_limit_w)
            used = rules.shape_on(job, node)[1]
            slots = a.slots_in_horizon(state.n_slots)
            gpus[i, slots.start:slots.stop] += used
            extra[i, slots.start:slots.stop] += used * (mode.power_w - state.node_gpu_idle_w[i])
            cpus[i, slots.start:slots.stop] += rules.cpus_on_node(job)
            memory[i, slots.start:slots.stop] += rules.memory_on_node_mb(job)
    return gpus, extra, cpus, memory


def build_pools(scenario: Scenario, state: ClusterState, pinned: dict) -> list[Pool]:
    grouped: dict[tuple, list[int]] = {}
    for i, node in enumerate(scenario.nodes):
        # nodes of a pool are alike in what capacity rows count: GPUs, cores and memory
        grouped.setdefault((node.site, node.gpu_type, node.gpus, node.cpus, node.memory_mb),
                           []).append(i)
    gpus, extra, cpus, memory = _pinned_usage(scenario, state, pinned)
    pools = []
    for index, ids in enumerate(grouped.values()):
        first = scenario.nodes[ids[0]]
        node_base = state.node_idle_w[ids] + state.node_gpus[ids] * state.node_gpu_idle_w[ids]
        pools.append(Pool(
            index=index, site=int(state.node_site[ids[0]]), gpu_type=first.gpu_type,
            gpus=first.gpus, node_ids=tuple(ids),
            gpu_idle_w=float(state.node_gpu_idle_w[ids[0]]),
            always_on=bool(state.always_on[ids[0]]), base_w=float(node_base.sum()),
            wake_w=float(node_base.min()),
            available=(~state.blocked[ids]).sum(axis=0).astype(int),
            fixed_gpus=gpus[ids].sum(axis=0), fixed_active=(gpus[ids] > 0).sum(axis=0),
            fixed_extra_w=extra[ids].sum(axis=0), cpus=first.cpus, memory_mb=first.memory_mb,
            fixed_cpus=cpus[ids].sum(axis=0), fixed_memory_mb=memory[ids].sum(axis=0),
            boot_w=float(state.node_boot_w[ids].min()),
        ))
    return pools


def _max_draw_w(scenario: Scenario, state: ClusterState) -> np.ndarray:
    """Per site: every node on, every GPU at the highest power of any curve, every node
    booting [W]."""
    max_power = np.array([max(m.power_w for curve in scenario.gpu_type(n.gpu_type)
                              .curves.values() for m in curve) for n in scenario.nodes])
    node_max_w = state.node_idle_w + state.node_gpus * np.maximum(max_power,
                                                                  state.node_gpu_idle_w)
    if state.has_boots:   # a node booting in the slot adds its boot's average power
        node_max_w = node_max_w + state.node_boot_w
    return np.bincount(state.node_site, weights=node_max_w, minlength=len(state.pue))


def _penalties(scenario: Scenario, state: ClusterState, jobs: list[Job]) -> np.ndarray:
    """Per-job penalty for leaving it out: above any objective change one job can cause.

    The ceiling is the objective of every node at its highest draw in every slot plus every
    transfer; twice that (times the job's priority) makes placing a job beat leaving it out
    whenever it fits at all.
    """
    site_max_kwh = (state.pue * _max_draw_w(scenario, state) / 1000.0 * state.hours)[:, None]
    transfers = sum(j.data_gb for j in jobs) * scenario.transfer_kwh_per_gb
    # absolute values: negative prices (real markets have them) must not cancel positive
    # ones, or the penalty collapses and leaving a job out looks free
    weights = np.abs(state.grid_weight) + abs(state.energy_weight)
    ceiling = float((weights * site_max_kwh).sum() + weights.max(initial=0.0) * transfers)
    return np.array([job.priority * max(2.0 * ceiling, 1e-9) for job in jobs])


def prepare(scenario: Scenario, pinned: dict, state: ClusterState,
            with_columns: bool = True) -> Prepared:
    """Build pools and columns for every non-pinned job.

    ``state`` holds only pinned jobs and always-on nodes (as after ``place_pinned``). A job with
    no column at all (no matching node, window too short) keeps an empty column list and can
    only be left out. Without ``with_columns`` every job's list stays empty: the large-scale
    pipeline (:mod:`greenslot.solvers.large`) prices columns in bulk instead of listing them.
    """
    pools = build_pools(scenario, state, pinned)
    grid = scenario.grid
    jobs = [j for j in scenario.jobs if not j.pinned]
    columns: list[Column] = []
    columns_of_job: list[list[int]] = []
    earliest_of: dict[str, int] = {}
    latest_of: dict[str, int] = {}
    for j_index, job in enumerate(jobs):
        own: list[int] = []
        earliest = max([rules.earliest_start_slot(grid, job)]
                       + [pinned[d].end_slot for d in job.depends_on if d in pinned])
        # the deadline only: dependency rows order jobs exactly, and a tighter window (like
        # greedy's critical-path finish) would cut off plans and make the bound invalid
        latest = rules.latest_end_slot(grid, job)
        for limit in (pinned[p].start_slot for p in pinned
                      if job.job_id in scenario.job(p).depends_on):
            latest = min(latest, limit)
        earliest_of[job.job_id], latest_of[job.job_id] = earliest, latest
        for pool in pools if with_columns else ():
            allowed = [i for i in pool.node_ids
                       if rules.node_allowed(scenario, job, scenario.nodes[i])]
            if not allowed:
                continue
            count, each = rules.shape_on(job, scenario.nodes[allowed[0]])
            usable = (~state.blocked[allowed]).sum(axis=0)
            if count > len(allowed):
                continue
            site_name = state.site_names[pool.site]
            transfer = (job.data_gb * scenario.transfer_kwh_per_gb
                        if rules.needs_transfer(job, site_name) else 0.0)
            for m_index, mode in enumerate(rules.allowed_modes(job, scenario.gpu_type(
                    pool.gpu_type))):
                length = rules.run_slots(grid, job, mode)
                for start in range(earliest, latest - length + 1):
                    if usable[start:start + length].min() < count:
                        continue
                    own.append(len(columns))
                    columns.append(Column(
                        job=j_index, pool=pool.index, mode_index=m_index,
                        power_limit_w=mode.power_limit_w, start=start, length=length,
                        count=count, gpus_each=each,
                        extra_w=count * each * (mode.power_w - pool.gpu_idle_w),
                        transfer_kwh=transfer, cpus_each=rules.cpus_on_node(job),
                        memory_each_mb=rules.memory_on_node_mb(job)))
        columns_of_job.append(own)
    index = {j.job_id: k for k, j in enumerate(jobs)}
    dependencies = [(index[d], index[j.job_id]) for j in jobs for d in j.depends_on
                    if d in index]
    return Prepared(
        scenario=scenario, jobs=jobs, pools=pools, columns=columns,
        columns_of_job=columns_of_job, penalty=_penalties(scenario, state, jobs),
        dependencies=dependencies, pue=state.pue, cap_w=state.cap_w,
        max_draw_w=_max_draw_w(scenario, state), energy_budget_kwh=state.energy_budget_kwh,
        carbon_budget_kg=state.carbon_budget_kg, carbon_kg_per_kwh=state.carbon_kg_per_kwh,
        renewable_kwh=state.renewable_kwh, grid_weight=state.grid_weight,
        energy_weight=state.energy_weight, hours=state.hours, n_slots=state.n_slots,
        earliest_start=earliest_of, latest_end=latest_of,
        runnable=np.array([bool(own) for own in columns_of_job], dtype=bool)
        if with_columns else None,
        dependants=_dependants(scenario),
    )


def _dependants(scenario: Scenario) -> dict[str, list[str]]:
    """Per job, the jobs that depend on it, in scenario order: one pass over the jobs, where
    asking every job about every other took minutes at 20,000 jobs."""
    found: dict[str, list[str]] = {j.job_id: [] for j in scenario.jobs}
    for d in scenario.jobs:
        for before in dict.fromkeys(d.depends_on):
            if before in found:
                found[before].append(d.job_id)
    return found
