"""The exact energy, carbon and cost accounting of contract section 3.

This module prices a schedule; it does not check it (that is :mod:`greenslot.model.validator`).
It is deliberately written as a direct transcription of the contract with plain loops over
placements, so that it can serve as the reference that solvers' incremental bookkeeping is
compared against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from greenslot.model import rules
from greenslot.model.scenario import Scenario
from greenslot.model.schedule import Assignment, Schedule

TOTAL_KEYS = ("energy_kwh", "grid_kwh", "renewable_kwh", "carbon_kg", "cost")


@dataclass(frozen=True)
class JobFigures:
    """A job's own facility energy [kWh] and its price at the grid's signals (an attribution).

    The job's draw is its GPUs at the mode's power plus its GPU share of each node's ``idle_w``,
    times PUE, plus its data transfer; renewables are ignored (contract section 2).
    """

    energy_kwh: float
    carbon_kg: float
    cost: float


@dataclass(frozen=True)
class Accounting:
    """Site-level figures per slot and their totals.

    ``node_draw_kw[s, t]`` is the facility node draw of site ``s`` in slot ``t`` (PUE included,
    transfers excluded): the quantity the power cap bounds. It includes the start-up energy of
    the nodes that boot in the slot, spread over the slot as average power
    (``start_up_kwh[s, t]``, facility energy, PUE included; ``start_ups[s, t]`` boots).
    """

    site_names: tuple[str, ...]
    node_draw_kw: np.ndarray
    energy_kwh: np.ndarray
    grid_kwh: np.ndarray
    totals: dict[str, float]
    jobs: dict[str, JobFigures]
    start_ups: np.ndarray
    start_up_kwh: np.ndarray


def node_draw_w(scenario: Scenario, schedule: Schedule) -> np.ndarray:
    """Draw of every node in every slot [W], shape ``(nodes, slots)``, per section 3.

    Start-up energy is not in it (see :func:`start_up_w`)."""
    return _node_use(scenario, schedule)[0]


def _node_use(scenario: Scenario, schedule: Schedule) -> tuple[np.ndarray, np.ndarray]:
    """:func:`node_draw_w` and whether each node runs a job in each slot."""
    n_slots = scenario.grid.n_slots
    busy_gpu_w = np.zeros((len(scenario.nodes), n_slots))
    busy_gpus = np.zeros((len(scenario.nodes), n_slots))
    running = np.zeros((len(scenario.nodes), n_slots), dtype=bool)
    for placement in schedule.assignments:
        job = scenario.job(placement.job_id)
        for name in placement.nodes:
            node = scenario.node(name)
            gpu_type = scenario.gpu_type(node.gpu_type)
            mode = gpu_type.run_mode(job.workload, placement.power_limit_w)
            used = rules.shape_on(job, node)[1]
            i = scenario.node_position(name)
            slots = placement.slots_in_horizon(n_slots)
            busy_gpu_w[i, slots.start:slots.stop] += used * mode.power_w
            busy_gpus[i, slots.start:slots.stop] += used
            running[i, slots.start:slots.stop] = True
    draw = np.zeros_like(busy_gpu_w)
    for i, node in enumerate(scenario.nodes):
        site = scenario.site(node.site)
        idle_gpu_w = scenario.gpu_type(node.gpu_type).gpu_idle_w
        active = running[i] | (not site.power_down_idle)
        full = node.idle_w + busy_gpu_w[i] + (node.gpus - busy_gpus[i]) * idle_gpu_w
        draw[i] = np.where(active, full, 0.0)
    return draw, running


def start_ups(scenario: Scenario, running: np.ndarray) -> np.ndarray:
    """Where a node boots: shape ``(nodes, slots)``, True in slot ``t`` when the node is on in
    ``t`` and off in ``t - 1`` (an extension of the contract, with ``wake_energy_kwh``).

    *On* is the accounting's *active*: a node of a ``power_down_idle`` site is on exactly in
    the slots where a job runs on it (maintenance and idle slots are off, priced at 0 W), so
    the boots charged are the ends of the idle windows the plan's ``power`` actions suspend.
    Every node counts as on just before the horizon starts: the actions suspend a node idle at
    the start from the start (it is up then) and resume every suspended node by the horizon's
    end, so a job in slot 0 boots nothing and the resume at the horizon's end (the handover to
    the next horizon, which again starts with the node up) is not charged. Nodes of sites
    without power-down never boot.

    ``running`` is the nodes x slots array of "a job runs on it" (:func:`_node_use`).
    """
    booted = np.zeros_like(running, dtype=bool)
    booted[:, 1:] = running[:, 1:] & ~running[:, :-1]
    for i, node in enumerate(scenario.nodes):
        if not scenario.site(node.site).power_down_idle:
            booted[i] = False
    return booted


def start_up_w(scenario: Scenario, booted: np.ndarray) -> np.ndarray:
    """Start-up energy as average IT power over its slot [W], shape ``(nodes, slots)``.

    Why as power: the boot's energy falls in the slot the node comes on (it is priced at that
    slot's carbon and price), and the power cap, which bounds average draw per slot, then sees
    it too: a boot is minutes at high draw, and a slot's average is what the cap constrains.
    """
    wake_kwh = np.array([n.wake_energy_kwh for n in scenario.nodes])
    return booted * (wake_kwh * 1000.0 / scenario.grid.slot_hours)[:, None]


def account(scenario: Scenario, schedule: Schedule) -> Accounting:
    """Price ``schedule`` exactly as contract section 3 defines."""
    grid = scenario.grid
    hours = grid.slot_hours
    site_names = tuple(s.name for s in scenario.sites)
    site_row = {name: k for k, name in enumerate(site_names)}
    draw, running = _node_use(scenario, schedule)
    booted = start_ups(scenario, running)
    node_draw_kw = np.zeros((len(site_names), grid.n_slots))
    boots = np.zeros((len(site_names), grid.n_slots))
    boot_kw = np.zeros((len(site_names), grid.n_slots))
    wakes = scenario.declares_boot_energy
    if wakes:
        boot_w = start_up_w(scenario, booted)
    for i, node in enumerate(scenario.nodes):
        node_draw_kw[site_row[node.site]] += draw[i]
        boots[site_row[node.site]] += booted[i]
        if wakes:
            boot_kw[site_row[node.site]] += boot_w[i]
    for k, site in enumerate(scenario.sites):
        node_draw_kw[k] *= site.pue / 1000.0
        boot_kw[k] *= site.pue / 1000.0
    if wakes:
        # added last, so a scenario without start-up energy is priced bit for bit as before
        node_draw_kw += boot_kw
    energy = node_draw_kw * hours
    for placement in schedule.assignments:
        job = scenario.job(placement.job_id)
        site_name = scenario.node(placement.nodes[0]).site
        if 0 <= placement.start_slot < grid.n_slots and rules.needs_transfer(job, site_name):
            energy[site_row[site_name], placement.start_slot] += (
                job.data_gb * scenario.transfer_kwh_per_gb
            )
    renewable = np.array([scenario.series[n].renewable_kw * hours for n in site_names])
    grid_kwh = np.maximum(0.0, energy - renewable)
    carbon = np.array([scenario.series[n].carbon_g_per_kwh for n in site_names])
    price = np.array([scenario.series[n].price_per_mwh for n in site_names])
    totals = {
        "energy_kwh": float(energy.sum()),
        "grid_kwh": float(grid_kwh.sum()),
        "renewable_kwh": float((energy - grid_kwh).sum()),
        "carbon_kg": float((grid_kwh * carbon).sum() / 1000.0),
        "cost": float((grid_kwh * price).sum() / 1000.0),
    }
    return Accounting(
        site_names=site_names,
        node_draw_kw=node_draw_kw,
        energy_kwh=energy,
        grid_kwh=grid_kwh,
        totals=totals,
        jobs={a.job_id: job_figures(scenario, a) for a in schedule.assignments},
        start_ups=boots,
        start_up_kwh=boot_kw * hours,
    )


def job_figures(scenario: Scenario, placement: Assignment) -> JobFigures:
    """The per-job attribution written to ``schedule.csv`` (see :class:`JobFigures`)."""
    grid = scenario.grid
    job = scenario.job(placement.job_id)
    draw_w = 0.0
    for name in placement.nodes:
        node = scenario.node(name)
        mode = scenario.gpu_type(node.gpu_type).run_mode(job.workload, placement.power_limit_w)
        used = rules.shape_on(job, node)[1]
        draw_w += used * mode.power_w + node.idle_w * used / node.gpus
    site_name = scenario.node(placement.nodes[0]).site
    site = scenario.site(site_name)
    series = scenario.series[site_name]
    energy = carbon = cost = 0.0
    slot_kwh = site.pue * draw_w / 1000.0 * grid.slot_hours
    for t in placement.slots_in_horizon(grid.n_slots):
        kwh = slot_kwh
        if t == placement.start_slot and rules.needs_transfer(job, site_name):
            kwh += job.data_gb * scenario.transfer_kwh_per_gb
        energy += kwh
        carbon += kwh * series.carbon_g_per_kwh[t] / 1000.0
        cost += kwh * series.price_per_mwh[t] / 1000.0
    return JobFigures(energy_kwh=energy, carbon_kg=carbon, cost=cost)


def objective_value(scenario: Scenario, totals: dict[str, float]) -> float:
    """The scenario's objective evaluated on site-level totals."""
    return scenario.objective.value(totals["carbon_kg"], totals["cost"], totals["energy_kwh"])
