"""Incremental cluster state for constructive solvers (fifo, greedy).

Holds free GPUs (and, where nodes declare them, free CPU cores and memory) per node and slot,
which nodes are powered, and each site's draw and energy,
so the marginal objective of a candidate placement is exact given what is already placed. This
bookkeeping is the solvers' own; the validator and the accounting recompute from scratch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from greenslot.model import rules
from greenslot.model.scenario import Job, Scenario
from greenslot.model.schedule import Assignment
from greenslot.solvers.node_kinds import NodeKinds


@dataclass(frozen=True)
class NodeGroup:
    """Nodes a job may use that are interchangeable in kind: one site, GPU type and size.

    ``count`` nodes are needed, using ``gpus_each`` GPUs, ``cpus_each`` CPU cores and
    ``memory_each_mb`` MB of memory on each.
    """

    site: int
    gpu_type: str
    node_ids: np.ndarray
    count: int
    gpus_each: int
    cpus_each: int = 0
    memory_each_mb: int = 0


KEY_FROM_NODES = 64
"""Fewer nodes than this (after :meth:`ClusterState.distinct_nodes`) are costed without
keying them into classes: on so few rows numpy's cost is per call, not per row, so the
keying would cost more than the rows it saves (the placement is the same either way)."""


class ClusterState:
    """Occupancy and site energy as placements are added, all as numpy arrays."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        grid = scenario.grid
        self.n_slots = grid.n_slots
        self.hours = grid.slot_hours
        self.site_names = [s.name for s in scenario.sites]
        site_index = {name: k for k, name in enumerate(self.site_names)}
        nodes = scenario.nodes
        self.node_site = np.array([site_index[n.site] for n in nodes], dtype=int)
        self.node_gpus = np.array([n.gpus for n in nodes], dtype=int)
        self.node_idle_w = np.array([n.idle_w for n in nodes], dtype=float)
        self.node_gpu_idle_w = np.array(
            [scenario.gpu_type(n.gpu_type).gpu_idle_w for n in nodes], dtype=float)
        self.always_on = np.array(
            [not scenario.site(n.site).power_down_idle for n in nodes], dtype=bool)
        # A boot's energy as average power over its slot [W] (0 where the site never powers
        # nodes down); see greenslot.model.accounting.start_ups for when a node boots.
        self.node_boot_w = np.array(
            [0.0 if not scenario.site(n.site).power_down_idle
             else n.wake_energy_kwh * 1000.0 / grid.slot_hours for n in nodes], dtype=float)
        self.has_boots = bool((self.node_boot_w > 0).any())
        self.blocked = np.zeros((len(nodes), self.n_slots), dtype=bool)
        for i, node in enumerate(nodes):
            self.blocked[i, sorted(node.unavailable_slots)] = True
        self._maintenance_of: np.ndarray | None = None   # the blocked array it was read from
        self._maintenance: np.ndarray = np.zeros(len(nodes), dtype=bool)
        self.free = np.tile(self.node_gpus[:, None], (1, self.n_slots))
        # Free cores and memory per node and slot; a node that declares none never runs short.
        self.free_cpus = _capacity([n.cpus for n in nodes], self.n_slots)
        self.free_memory_mb = _capacity([n.memory_mb for n in nodes], self.n_slots)
        self.running = np.zeros((len(nodes), self.n_slots), dtype=int)
        self._kinds: NodeKinds | None = None
        # nodes nothing was ever placed on (all GPUs free, never woken by a job)
        self.untouched = np.ones(len(nodes), dtype=bool)
        self.pue = np.array([s.pue for s in scenario.sites])
        cap_kw = np.array([np.inf if s.power_cap_kw is None else s.power_cap_kw
                           for s in scenario.sites])
        self.cap_w = cap_kw * 1000.0 / self.pue
        self.site_draw_w = np.zeros((len(self.site_names), self.n_slots))
        self.energy_kwh = np.zeros_like(self.site_draw_w)
        series = [scenario.series[name] for name in self.site_names]
        self.renewable_kwh = np.array([s.renewable_kw for s in series]) * self.hours
        self.carbon_kg_per_kwh = np.array([s.carbon_g_per_kwh for s in series]) / 1000.0
        self.energy_budget_kwh = np.array([np.inf if s.energy_budget_kwh is None
                                           else s.energy_budget_kwh for s in scenario.sites])
        self.carbon_budget_kg = np.array([np.inf if s.carbon_budget_kg is None
                                          else s.carbon_budget_kg for s in scenario.sites])
        weights = scenario.objective
        self.grid_weight = (np.array([s.carbon_g_per_kwh for s in series]) * weights.carbon_kg
                            + np.array([s.price_per_mwh for s in series]) * weights.cost) / 1000.0
        self.energy_weight = weights.energy_kwh
        base_w = self.node_idle_w + self.node_gpus * self.node_gpu_idle_w
        for i in np.nonzero(self.always_on)[0].tolist():
            self._add_draw(self.node_site[i], np.arange(self.n_slots), base_w[i])

    @property
    def has_maintenance(self) -> np.ndarray:
        """Per node: whether any slot is blocked (re-read if ``blocked`` was replaced)."""
        if self._maintenance_of is not self.blocked:
            self._maintenance = np.asarray(self.blocked.any(axis=1))
            self._maintenance_of = self.blocked
        return self._maintenance

    def _add_draw(self, site: int, slots: np.ndarray, watts: np.ndarray | float) -> None:
        self.site_draw_w[site, slots] += watts
        self.energy_kwh[site, slots] += self.pue[site] * np.asarray(watts) / 1000.0 * self.hours

    def objective_terms(self, site: int, extra_kwh: np.ndarray, slots=slice(None)) -> np.ndarray:
        """Marginal objective per slot of adding ``extra_kwh`` to ``site``'s facility energy."""
        energy = self.energy_kwh[site, slots]
        renewable = self.renewable_kwh[site, slots]
        before = np.maximum(0.0, energy - renewable)
        after = np.maximum(0.0, energy + extra_kwh - renewable)
        return self.grid_weight[site, slots] * (after - before) + self.energy_weight * extra_kwh

    def has_budget(self, site: int) -> bool:
        return bool(np.isfinite(self.energy_budget_kwh[site])
                    or np.isfinite(self.carbon_budget_kg[site]))

    def carbon_terms(self, site: int, extra_kwh: np.ndarray, slots=slice(None)) -> np.ndarray:
        """Extra grid carbon per slot [kg] of adding ``extra_kwh`` to ``site``."""
        energy = self.energy_kwh[site, slots]
        renewable = self.renewable_kwh[site, slots]
        more = (np.maximum(0.0, energy + extra_kwh - renewable)
                - np.maximum(0.0, energy - renewable))
        return self.carbon_kg_per_kwh[site, slots] * more

    def budget_room(self, site: int) -> tuple[float, float]:
        """Energy [kWh] and carbon [kg] the site may still add within its budgets."""
        grid = np.maximum(0.0, self.energy_kwh[site] - self.renewable_kwh[site])
        carbon = float(np.dot(grid, self.carbon_kg_per_kwh[site]))
        return (float(self.energy_budget_kwh[site] - self.energy_kwh[site].sum()),
                float(self.carbon_budget_kg[site] - carbon))

    def node_delta_w(self, node_ids: np.ndarray, gpus_each: int, power_w: float,
                     slots: slice = slice(None)) -> np.ndarray:
        """Extra draw [W] per slot of ``slots``, shape ``(len(node_ids), slots)``, if a job
        ran there.

        A powered-down node that the job wakes adds its whole base draw.
        """
        ids = np.asarray(node_ids)
        gpu_part = gpus_each * (power_w - self.node_gpu_idle_w[ids])[:, None]
        asleep = (self.running[ids, slots] == 0) & ~self.always_on[ids, None]
        wake = (self.node_idle_w[ids] + self.node_gpus[ids] * self.node_gpu_idle_w[ids])[:, None]
        return gpu_part + np.where(asleep, wake, 0.0)

    def run_draw_w(self, node_ids, gpus_each: int, power_w: float, start: int,
                   end: int) -> np.ndarray:
        """Extra draw [W] per slot of ``start .. end - 1`` of one run over all of
        ``node_ids``: :meth:`node_delta_w` summed over the nodes and, where nodes boot on
        energy, the boots the run brings at its start less those it joins (see
        :meth:`boot_if_started_w`)."""
        ids = np.asarray(node_ids)
        joint = self.node_delta_w(ids, gpus_each, power_w)[:, start:end].sum(axis=0)
        if self.has_boots:
            joint = joint - self.boots_w(ids, start, end).sum(axis=0)
            joint[0] += self.boot_if_started_w(ids, start, start + 1).sum()
        return joint

    def _on(self, ids: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """Whether each node of ``ids`` is on in slots ``lo - 1 .. hi - 1`` (``hi - lo + 1``
        columns); before the horizon every node counts as on (the accounting's rule)."""
        on = self.running[ids, max(0, lo - 1):hi] > 0
        if lo == 0:
            on = np.concatenate([np.ones((len(ids), 1), dtype=bool), on], axis=1)
        return on

    def boots_w(self, node_ids, lo: int, hi: int) -> np.ndarray:
        """Boot power [W] already due per node of ``node_ids`` and slot ``lo .. hi - 1``: the
        node's boot power where it is on in the slot and off in the one before."""
        ids = np.asarray(node_ids)
        on = self._on(ids, lo, hi)
        return np.where(on[:, 1:] & ~on[:, :-1], self.node_boot_w[ids, None], 0.0)

    def boot_if_started_w(self, node_ids, lo: int, hi: int) -> np.ndarray:
        """Boot power [W] a job starting in slot ``t`` of ``lo .. hi - 1`` brings per node of
        ``node_ids``: the node's boot power where it is off in ``t - 1``.

        With :meth:`boots_w` this is a placement's whole change in boots: a run over
        ``[s, e)`` adds this at ``s``, removes :meth:`boots_w` in every slot of ``[s, e]``
        (runs it joins no longer start there) and nothing else.
        """
        ids = np.asarray(node_ids)
        on = self._on(ids, lo, hi)
        return np.where(~on[:, :-1], self.node_boot_w[ids, None], 0.0)

    def _change_boots(self, ids: np.ndarray, lo: int, hi: int, before: np.ndarray) -> None:
        """Book the change in boot power over ``lo .. hi - 1`` from ``before`` to now."""
        change = (self.boots_w(ids, lo, hi) - before).sum(axis=0)
        self._add_draw(int(self.node_site[ids[0]]), np.arange(lo, hi), change)

    def candidate_groups(self, job: Job) -> list[NodeGroup]:
        """The job's eligible nodes, grouped by (site, GPU type, GPUs per node), name order."""
        if self._kinds is None:
            self._kinds = NodeKinds(self.scenario)   # eligibility per node kind, not per node
        result = []
        for ids in self._kinds.allowed_groups(job):
            first = self.scenario.nodes[int(ids[0])]
            count, each = rules.shape_on(job, first)
            if len(ids) >= count:
                result.append(NodeGroup(self.site_names.index(first.site), first.gpu_type,
                                        ids, count, each, rules.cpus_on_node(job),
                                        rules.memory_on_node_mb(job)))
        return result

    def short(self, node_ids, gpus_each: int, cpus_each: int = 0,
              memory_each_mb: int = 0, slots=slice(None)) -> np.ndarray:
        """Per node of ``node_ids`` and slot of ``slots``: whether the node lacks the GPUs,
        CPU cores or memory a job needs there, given what is already placed."""
        ids = np.asarray(node_ids)
        lacking = self.free[ids, slots] < gpus_each
        if cpus_each:
            lacking |= self.free_cpus[ids, slots] < cpus_each
        if memory_each_mb:
            lacking |= self.free_memory_mb[ids, slots] < memory_each_mb
        return lacking

    def short_for(self, group: NodeGroup) -> np.ndarray:
        """:meth:`short` for a node group's nodes over the whole horizon."""
        return self.short(group.node_ids, group.gpus_each, group.cpus_each,
                          group.memory_each_mb)

    def distinct_nodes(self, group: NodeGroup) -> NodeGroup:
        """``group`` without the nodes a placement cannot tell apart from an earlier one.

        Why: at fleet scale (1,024 nodes a group) costing every node for every job is most of
        greedy's time, yet early on most nodes are empty and alike. Untouched nodes without
        maintenance and of equal idle draw have identical rows in every array a placement
        reads, so only the first ``group.count`` of each such class (in name order) can be
        chosen: ties go to the earlier node, and a run takes at most ``count`` of them. The
        placement found is therefore exactly the one costing every node would find.
        """
        ids = group.node_ids
        alike = self.untouched[ids] & ~self.has_maintenance[ids]
        if alike.sum() <= group.count:
            return group
        keep = ~alike
        idle = self.node_idle_w[ids]
        if self.has_boots:   # nodes that boot on different energy are not alike either
            boot = self.node_boot_w[ids]
            for pair in sorted(set(zip(idle[alike].tolist(), boot[alike].tolist(),
                                       strict=True))):
                same = alike & (idle == pair[0]) & (boot == pair[1])
                keep[np.flatnonzero(same)[: group.count]] = True
            return dataclasses.replace(group, node_ids=ids[keep])
        for value in np.unique(idle[alike]).tolist():
            keep[np.flatnonzero(alike & (idle == value))[: group.count]] = True
        return dataclasses.replace(group, node_ids=ids[keep])

    def room_and_sleep(self, group: NodeGroup, slots: slice) -> tuple[np.ndarray, np.ndarray]:
        """Per node of ``group`` and slot of ``slots``: whether the node lacks room for the
        group's share of a job (GPUs, cores, memory, maintenance), and whether it sleeps
        (a job there wakes it)."""
        ids = group.node_ids
        unusable = (self.short(ids, group.gpus_each, group.cpus_each, group.memory_each_mb,
                               slots) | self.blocked[ids, slots])
        asleep = (self.running[ids, slots] == 0) & ~self.always_on[ids, None]
        return unusable, asleep

    def node_classes(self, group: NodeGroup, slots: slice) -> NodeGroup:
        """``group`` with only the first ``group.count`` nodes (name order) of each class of
        nodes a placement within ``slots`` cannot tell apart (see :meth:`classes_and_rows`)."""
        return self.classes_and_rows(group, slots)[0]

    def classes_and_rows(self, group: NodeGroup, slots: slice
                         ) -> tuple[NodeGroup, np.ndarray, np.ndarray]:
        """:meth:`node_classes`' group, with :meth:`room_and_sleep`'s rows of its nodes
        (read once: the keying needs them and so does the costing that follows).

        Why: at fleet scale (1,024 nodes a group, 20,000 jobs) costing every node for every
        job is nearly all of greedy's time (issue 20), yet over one job's window most nodes
        look alike: a placement there reads, per node, only whether each slot lacks room
        (GPUs, cores, memory, maintenance), whether the node sleeps in it, and its idle draw
        (the rest is shared by the group or the site); where nodes boot on energy, also
        their boot power and whether they sleep in the slot just after the window. Nodes
        equal in all of these give identical cost and feasibility rows, bit for bit, for
        every start and power mode; ties
        go to the earlier node and a placement takes at most ``count`` nodes of a class, so
        the placement found among the kept nodes is exactly the one costing every node
        finds. Keying costs a few boolean passes over nodes x window; the float costing it
        saves is several times that.
        """
        group = self.distinct_nodes(group)   # cheap: untouched nodes need no keying
        ids = group.node_ids
        unusable, asleep = self.room_and_sleep(group, slots)
        if len(ids) <= max(group.count, KEY_FROM_NODES):
            return group, unusable, asleep
        parts = [unusable, asleep]
        if self.has_boots and slots.stop < self.n_slots:
            # a run ending at the window's end reads whether the node is on just after it
            parts.append(self.running[ids, slots.stop:slots.stop + 1] == 0)
        rows = np.packbits(np.concatenate(parts, axis=1), axis=1)
        idle = self.node_idle_w[ids].astype(np.float64).view(np.uint8).reshape(len(ids), 8)
        if self.has_boots:
            boot = self.node_boot_w[ids].astype(np.float64).view(np.uint8).reshape(len(ids), 8)
            idle = np.concatenate([idle, boot], axis=1)
        keys = np.ascontiguousarray(np.concatenate([rows, idle], axis=1))
        as_void = keys.view(np.dtype((np.void, keys.shape[1]))).ravel()
        _, inverse = np.unique(as_void, return_inverse=True)
        inverse = inverse.ravel()
        by_class = np.argsort(inverse, kind="stable")   # name order within each class
        sorted_class = inverse[by_class]
        run_start = np.flatnonzero(np.r_[True, sorted_class[1:] != sorted_class[:-1]])
        rank = np.arange(len(ids)) - np.repeat(run_start, np.diff(np.r_[run_start, len(ids)]))
        keep = np.zeros(len(ids), dtype=bool)
        keep[by_class[rank < group.count]] = True
        if keep.all():
            return group, unusable, asleep
        return dataclasses.replace(group, node_ids=ids[keep]), unusable[keep], asleep[keep]

    def place(self, job: Job, node_ids, start: int, end: int, power_w: float,
              gpus_each: int) -> None:
        """Record a placement (slots clipped to the horizon for pinned jobs)."""
        lo, hi = max(0, start), min(self.n_slots, end)
        slots = np.arange(lo, hi)
        ids = np.asarray(node_ids)
        delta = self.node_delta_w(ids, gpus_each, power_w)[:, lo:hi]
        site = int(self.node_site[ids[0]])
        self._add_draw(site, slots, delta.sum(axis=0))
        self.free[ids, lo:hi] -= gpus_each
        self.free_cpus[ids, lo:hi] -= rules.cpus_on_node(job)
        self.free_memory_mb[ids, lo:hi] -= rules.memory_on_node_mb(job)
        boots = self.has_boots and hi > lo
        if boots:
            before = self.boots_w(ids, lo, min(self.n_slots, hi + 1))
        self.running[ids, lo:hi] += 1
        if boots:
            self._change_boots(ids, lo, min(self.n_slots, hi + 1), before)
        self.untouched[ids] = False
        site_name = self.site_names[site]
        if 0 <= start < self.n_slots and rules.needs_transfer(job, site_name):
            self.energy_kwh[site, start] += job.data_gb * self.scenario.transfer_kwh_per_gb

    def remove(self, job: Job, node_ids, start: int, end: int, power_w: float,
               gpus_each: int) -> None:
        """Undo :meth:`place` exactly (the same state gives the same draw to take off)."""
        lo, hi = max(0, start), min(self.n_slots, end)
        ids = np.asarray(node_ids)
        self.free[ids, lo:hi] += gpus_each
        self.free_cpus[ids, lo:hi] += rules.cpus_on_node(job)
        self.free_memory_mb[ids, lo:hi] += rules.memory_on_node_mb(job)
        boots = self.has_boots and hi > lo
        if boots:
            before = self.boots_w(ids, lo, min(self.n_slots, hi + 1))
        self.running[ids, lo:hi] -= 1
        if boots:
            self._change_boots(ids, lo, min(self.n_slots, hi + 1), before)
        delta = self.node_delta_w(ids, gpus_each, power_w)[:, lo:hi]
        site = int(self.node_site[ids[0]])
        self._add_draw(site, np.arange(lo, hi), -delta.sum(axis=0))
        if 0 <= start < self.n_slots and rules.needs_transfer(job, self.site_names[site]):
            self.energy_kwh[site, start] -= job.data_gb * self.scenario.transfer_kwh_per_gb

    def objective(self) -> float:
        """The scenario's objective of everything placed so far."""
        grid_kwh = (self.energy_kwh - self.renewable_kwh).clip(min=0.0)
        return float((self.grid_weight * grid_kwh).sum()
                     + self.energy_weight * self.energy_kwh.sum())

    def assignment(self, job: Job, node_ids, start: int, end: int, power_limit_w: float):
        names = tuple(self.scenario.nodes[i].name for i in node_ids)
        return Assignment(job.job_id, int(start), int(end), float(power_limit_w), names)


# Free amount of a resource a node does not declare: never short, and far from overflow.
UNDECLARED = 2 ** 60


def _capacity(declared: list[int | None], n_slots: int) -> np.ndarray:
    """Free amount per node and slot of a resource, :data:`UNDECLARED` where not declared."""
    column = np.array([UNDECLARED if d is None else d for d in declared], dtype=np.int64)
    return np.tile(column[:, None], (1, n_slots))


def window_sums(values: np.ndarray, length: int) -> np.ndarray:
    """Sums of every window of ``length`` consecutive slots along the last axis.

    Entry ``s`` covers slots ``s .. s+length-1``; the result has ``T - length + 1`` entries.
    """
    padded = np.concatenate([np.zeros((*values.shape[:-1], 1)), np.cumsum(values, axis=-1)],
                            axis=-1)
    return padded[..., length:] - padded[..., :-length]
