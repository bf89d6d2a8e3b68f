"""The independent schedule validator: every hard constraint of the contract, checked from scratch.

Every plan passes through here before it is written, whatever solver made it. It rebuilds GPU
occupancy and site power from the schedule alone, so a bug in a solver's bookkeeping cannot hide
itself. Violations are collected (not raised one by one) so a broken schedule is explained whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from greenslot.model import rules
from greenslot.model.accounting import TOTAL_KEYS, Accounting, account
from greenslot.model.scenario import Scenario
from greenslot.model.schedule import Schedule

CAP_TOLERANCE_KW = 1e-6
BUDGET_TOLERANCE = 1e-9

VIOLATION_KINDS = (
    "unknown_job", "duplicate_job", "unaccounted_job", "unknown_node", "bad_mode", "duration",
    "window", "placement", "restriction", "capacity", "maintenance", "dependency", "pinned",
    "power_cap", "budget", "totals", "non_finite", "start_ups",
)


@dataclass(frozen=True)
class Violation:
    """One broken rule: its kind (one of ``VIOLATION_KINDS``), the job if any, and details."""

    kind: str
    job_id: str | None
    message: str

    def __str__(self) -> str:
        who = f"{self.job_id}: " if self.job_id else ""
        return f"[{self.kind}] {who}{self.message}"


def validate(scenario: Scenario, schedule: Schedule,
             accounting: Accounting | None = None) -> list[Violation]:
    """All violations of ``schedule`` against ``scenario``; empty when the plan is valid.

    ``accounting`` is ``account(scenario, schedule)`` where the caller already has it (the plan
    pipeline prices each plan once and hands the figures on); the power cap and budget checks
    read it instead of pricing the schedule again. The checks of placements, windows,
    dependencies and capacity never use it, so a plan cannot pass on figures it brought along.
    """
    found: list[Violation] = []
    found += _check_identity(scenario, schedule)
    if any(v.kind in ("unknown_job", "duplicate_job", "unknown_node", "placement")
           for v in found):
        return found
    found += _check_each_placement(scenario, schedule)
    if any(v.kind in ("bad_mode", "placement") for v in found):
        return found
    found += _check_dependencies(scenario, schedule)
    found += _check_capacity(scenario, schedule)
    figures = account(scenario, schedule) if accounting is None else accounting
    found += _check_start_ups(scenario, schedule, figures)
    found += _check_power_cap(scenario, figures)
    found += _check_budgets(scenario, figures)
    found += _check_finite(figures)
    return found


def _check_finite(figures: Accounting) -> list[Violation]:
    """Every total a finite number.

    Why: the loader's bounds (:mod:`greenslot.model.limits`) keep every input far from
    overflow; should one slip through, a plan with ``inf`` or ``NaN`` totals must never be
    written as if it were valid (it once was, with exit 0).
    """
    return [Violation("non_finite", None, f"total {key} is {value!r}, not a finite number")
            for key, value in figures.totals.items()
            if isinstance(value, float) and not math.isfinite(value)]


def _check_identity(scenario: Scenario, schedule: Schedule) -> list[Violation]:
    found, seen = [], set()
    for a in schedule.assignments:
        if not scenario.has_job(a.job_id):
            found.append(Violation("unknown_job", a.job_id, "not a job of the scenario"))
            continue
        if a.job_id in seen:
            found.append(Violation("duplicate_job", a.job_id, "placed more than once"))
        seen.add(a.job_id)
        if not a.nodes:
            found.append(Violation("placement", a.job_id, "placed on no node"))
        for name in a.nodes:
            if not scenario.has_node(name):
                found.append(Violation("unknown_node", a.job_id, f"node {name!r} does not exist"))
    for u in schedule.unplaced:
        if not scenario.has_job(u.job_id):
            found.append(Violation("unknown_job", u.job_id, "listed unplaced but not a job"))
            continue
        if u.job_id in seen:
            found.append(Violation("duplicate_job", u.job_id, "both placed and listed unplaced"))
        seen.add(u.job_id)
    for job in scenario.jobs:
        if job.job_id not in seen:
            found.append(Violation("unaccounted_job", job.job_id, "neither placed nor unplaced"))
    return found


def _check_each_placement(scenario: Scenario, schedule: Schedule) -> list[Violation]:
    grid = scenario.grid
    found = []
    for a in schedule.assignments:
        job = scenario.job(a.job_id)
        nodes = [scenario.node(n) for n in a.nodes]
        first = nodes[0]
        kinds = {(n.site, n.gpu_type, n.gpus) for n in nodes}
        need = rules.nodes_needed(job, first)
        if len(kinds) > 1:
            found.append(Violation("placement", a.job_id,
                                   "nodes of different sites, GPU types or sizes"))
            continue
        if need is None or need[0] != len(nodes) or len(set(a.nodes)) != len(a.nodes):
            found.append(Violation(
                "placement", a.job_id,
                f"{job.gpus} GPUs on {len(nodes)} node(s) of {first.gpus} GPUs: a job takes one "
                "node up to its GPU count, above it that many whole distinct nodes"))
            continue
        for field, wanted, actual in (("gpu_type", job.gpu_type, first.gpu_type),
                                      ("site", job.site, first.site),
                                      ("partition", job.partition, first.partition)):
            if wanted is not None and wanted != actual:
                found.append(Violation("restriction", a.job_id,
                                       f"restricted to {field} {wanted!r}, placed on {actual!r}"))
        for node in nodes:
            if not rules.fits_node_resources(job, node):
                found.append(Violation("restriction", a.job_id,
                                       f"asks for {job.cpus_per_task or '-'} CPUs and "
                                       f"{job.mem_mb or '-'} MB; node {node.name} declares "
                                       f"{node.cpus or '-'} CPUs and {node.memory_mb or '-'} MB"))
        gpu_type = scenario.gpu_type(first.gpu_type)
        mode = gpu_type.mode(job.workload, a.power_limit_w)
        if mode is None or mode not in rules.allowed_modes(job, gpu_type):
            found.append(Violation("bad_mode", a.job_id,
                                   f"power limit {a.power_limit_w:g} W is not an allowed mode of "
                                   f"workload {job.workload!r} on {gpu_type.name}"))
            continue
        expected = rules.run_slots(grid, job, mode)
        if a.end_slot - a.start_slot != expected:
            found.append(Violation("duration", a.job_id,
                                   f"runs {a.end_slot - a.start_slot} slots, needs {expected}"))
        found += _check_window(scenario, a)
        for node in nodes:
            blocked = node.unavailable_slots.intersection(a.slots_in_horizon(grid.n_slots))
            if blocked:
                found.append(Violation("maintenance", a.job_id,
                                       f"node {node.name} is under maintenance in slot "
                                       f"{min(blocked)}"))
    return found


def _check_window(scenario: Scenario, a) -> list[Violation]:
    grid = scenario.grid
    job = scenario.job(a.job_id)
    if job.pinned:
        pinned_start, pinned_nodes = job.pinned_placement()
        start = round(grid.offset_slots(pinned_start))
        problems = []
        if a.start_slot != start:
            problems.append(f"pinned to slot {start}, placed at {a.start_slot}")
        if set(a.nodes) != set(pinned_nodes):
            problems.append(f"pinned to nodes {','.join(pinned_nodes)}")
        if a.end_slot > grid.n_slots:
            problems.append("runs past the horizon")
        return [Violation("pinned", a.job_id, p) for p in problems]
    problems = []
    if a.start_slot < rules.earliest_start_slot(grid, job):
        problems.append(f"starts at slot {a.start_slot}, before its release "
                        f"(slot {rules.earliest_start_slot(grid, job)})")
    if a.end_slot > rules.deadline_end_slot(grid, job):
        problems.append(f"ends at slot {a.end_slot}, after its deadline or the horizon "
                        f"(slot {rules.deadline_end_slot(grid, job)})")
    return [Violation("window", a.job_id, p) for p in problems]


def _check_dependencies(scenario: Scenario, schedule: Schedule) -> list[Violation]:
    placed = schedule.by_job()
    found = []
    for a in schedule.assignments:
        for dep in scenario.job(a.job_id).depends_on:
            before = placed.get(dep)
            if before is None:
                found.append(Violation("dependency", a.job_id, f"depends on unplaced job {dep}"))
            elif before.end_slot > a.start_slot:
                found.append(Violation("dependency", a.job_id,
                                       f"starts at slot {a.start_slot} before {dep} ends "
                                       f"(slot {before.end_slot})"))
    return found


def _check_capacity(scenario: Scenario, schedule: Schedule) -> list[Violation]:
    """GPUs, and CPU cores and memory where a node declares them, summed over the jobs that
    share each node in each slot (a job's own demand is :func:`rules.shape_on`,
    :func:`rules.cpus_on_node` and :func:`rules.memory_on_node_mb` on each of its nodes)."""
    n_slots = scenario.grid.n_slots
    resources = (("GPUs", lambda job, node: rules.shape_on(job, node)[1],
                  lambda node: node.gpus),
                 ("CPU cores", lambda job, node: rules.cpus_on_node(job),
                  lambda node: node.cpus),
                 ("MB of memory", lambda job, node: rules.memory_on_node_mb(job),
                  lambda node: node.memory_mb))
    found = []
    for unit, demand, capacity in resources:
        limits = [capacity(node) for node in scenario.nodes]
        if all(limit is None for limit in limits):
            continue
        used = np.zeros((len(scenario.nodes), n_slots), dtype=np.int64)
        for a in schedule.assignments:
            job = scenario.job(a.job_id)
            slots = a.slots_in_horizon(n_slots)
            for name in a.nodes:
                used[scenario.node_position(name), slots.start:slots.stop] += (
                    demand(job, scenario.node(name)))
        for i, node in enumerate(scenario.nodes):
            if limits[i] is None:
                continue
            over = np.nonzero(used[i] > limits[i])[0]
            if len(over):
                t = int(over[0])
                who = sorted(a.job_id for a in schedule.assignments
                             if node.name in a.nodes and t in a.slots_in_horizon(n_slots))
                found.append(Violation("capacity", None,
                                       f"node {node.name} holds {used[i, t]} {unit} of "
                                       f"{limits[i]} in slot {t} ({', '.join(who)})"))
    return found


def recount_start_ups(scenario: Scenario, schedule: Schedule) -> list[tuple[str, int]]:
    """Every boot as (node, slot), counted from the schedule alone: node by node, the slots
    where a job runs on it whose previous slot (inside the horizon) runs none, at sites that
    power idle nodes down.

    Why a second count: the accounting finds boots with shifted boolean arrays over all
    nodes; this walks each node's set of busy slots, so an off-by-one in either shows up as a
    mismatch.
    """
    n_slots = scenario.grid.n_slots
    busy: dict[str, set[int]] = {}
    for a in schedule.assignments:
        for name in a.nodes:
            busy.setdefault(name, set()).update(a.slots_in_horizon(n_slots))
    boots = []
    for name, slots in busy.items():
        if scenario.site(scenario.node(name).site).power_down_idle:
            boots += [(name, t) for t in sorted(slots) if t >= 1 and t - 1 not in slots]
    return boots


def _check_start_ups(scenario: Scenario, schedule: Schedule,
                     figures: Accounting) -> list[Violation]:
    """Start-up energy [kWh] per site and slot as the accounting charged it, against
    :func:`recount_start_ups` times each node's ``wake_energy_kwh`` and its site's PUE.

    Checked only where some node declares start-up energy (else both are 0 everywhere).
    """
    if not scenario.declares_boot_energy:
        return []
    expected = np.zeros_like(figures.start_up_kwh)
    count = np.zeros_like(figures.start_up_kwh)
    row = {name: k for k, name in enumerate(figures.site_names)}
    for name, t in recount_start_ups(scenario, schedule):
        node = scenario.node(name)
        expected[row[node.site], t] += scenario.site(node.site).pue * node.wake_energy_kwh
        count[row[node.site], t] += 1
    found = []
    for k, site_name in enumerate(figures.site_names):
        bad = np.nonzero(~np.isclose(expected[k], figures.start_up_kwh[k], rtol=1e-9,
                                     atol=1e-9) | (count[k] != figures.start_ups[k]))[0]
        if len(bad):
            t = int(bad[0])
            found.append(Violation(
                "start_ups", None,
                f"site {site_name} slot {t}: {int(count[k, t])} boot(s) worth "
                f"{expected[k, t]:.6g} kWh, accounted {int(figures.start_ups[k, t])} worth "
                f"{figures.start_up_kwh[k, t]:.6g} kWh"))
    return found


def _check_power_cap(scenario: Scenario, figures: Accounting) -> list[Violation]:
    found = []
    for k, site in enumerate(scenario.sites):
        if site.power_cap_kw is None:
            continue
        over = np.nonzero(figures.node_draw_kw[k] > site.power_cap_kw + CAP_TOLERANCE_KW)[0]
        if len(over):
            t = int(over[0])
            found.append(Violation("power_cap", None,
                                   f"site {site.name} draws {figures.node_draw_kw[k, t]:.3f} kW "
                                   f"in slot {t}, cap {site.power_cap_kw:g} kW "
                                   f"({len(over)} slot(s) over)"))
    return found


def site_carbon_kg(scenario: Scenario, grid_kwh: np.ndarray) -> np.ndarray:
    """Grid carbon per site over the horizon [kg]."""
    return np.array([float(np.dot(grid_kwh[k], scenario.series[s.name].carbon_g_per_kwh))
                     / 1000.0 for k, s in enumerate(scenario.sites)])


def _check_budgets(scenario: Scenario, figures: Accounting) -> list[Violation]:
    if not any(s.energy_budget_kwh or s.carbon_budget_kg for s in scenario.sites):
        return []
    energy = figures.energy_kwh.sum(axis=1)
    carbon = site_carbon_kg(scenario, figures.grid_kwh)
    found = []
    for k, site in enumerate(scenario.sites):
        for what, used, budget, unit in (("energy", energy[k], site.energy_budget_kwh, "kWh"),
                                         ("carbon", carbon[k], site.carbon_budget_kg, "kg")):
            if budget is not None and used > budget * (1 + BUDGET_TOLERANCE):
                found.append(Violation("budget", None, f"site {site.name} uses {used:.6g} {unit} "
                                       f"of {what}, budget {budget:g} {unit}"))
    return found


def check_totals(
    scenario: Scenario, schedule: Schedule, reported: dict[str, float], rel_tol: float = 1e-6
) -> list[Violation]:
    """Compare reported totals with a fresh recomputation of contract section 3."""
    fresh = account(scenario, schedule).totals
    found = []
    for key in TOTAL_KEYS:
        value = reported.get(key)
        if value is None or not math.isclose(value, fresh[key], rel_tol=rel_tol, abs_tol=1e-9):
            found.append(Violation("totals", None,
                                   f"{key} reported {value}, recomputed {fresh[key]:.9g}"))
    return found
