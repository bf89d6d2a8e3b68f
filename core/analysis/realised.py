"""What actually ran, priced: Slurm's record of a plan's jobs against what the plan said.

For each job the plan submitted (its ledger maps job to Slurm id) the accounting record gives
the real start, end and nodes, and the energy where Slurm measured it. The job is priced the
way ``schedule.csv`` attributes energy to a job (its GPUs at the planned power mode plus its GPU
share of each node's ``idle_w``, times the site's PUE), over its *real* run to the second, at
the scenario's signals of the slots it overlapped: the actual ones where ``--actual`` replaced
the forecast. Where Slurm measured the job's energy (an ``AcctGatherEnergyType`` plugin), that
measured IT energy times the PUE replaces the model's, spread evenly over the run
(``energy_source`` says which). Totals are sums over the jobs, planned and realised alike, so the
two compare like for like (the site-level totals of ``summary.json`` also hold idle nodes).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime

from greenslot.analysis.report.html import page, table
from greenslot.model.scenario import Scenario
from greenslot.slurm.sacct import RunRecord

KEYS = ("energy_kwh", "carbon_kg", "cost")


@dataclass(frozen=True)
class JobRealised:
    """One job: the plan's figures and Slurm's run priced (``realised`` empty if it never ran)."""

    job_id: str
    slurm_id: int
    state: str
    planned_start: str
    planned_end: str
    start: str | None
    end: str | None
    nodes: str
    planned: dict[str, float]
    realised: dict[str, float]
    energy_source: str  # "slurm" (measured), "model" (power mode), or "" (did not run)
    outside_horizon_h: float = 0.0

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in (
            "job_id", "slurm_id", "state", "planned_start", "planned_end", "start", "end",
            "nodes", "planned", "realised", "energy_source", "outside_horizon_h")}


@dataclass
class Realised:
    """Every submitted job of a plan, and the totals over them."""

    plan_id: str
    source: str
    jobs: list[JobRealised] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def totals(self, which: str) -> dict[str, float]:
        ran = [j for j in self.jobs if j.realised]
        return {k: sum(getattr(j, which)[k] for j in ran) for k in KEYS}

    def as_dict(self) -> dict:
        return {"plan_id": self.plan_id, "source": self.source,
                "jobs": [j.as_dict() for j in self.jobs],
                "totals": {"planned": self.totals("planned"),
                           "realised": self.totals("realised")},
                "notes": list(self.notes)}


def _iso(epoch: int | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC).isoformat()


def price_run(scenario: Scenario, record: RunRecord, gpus: int,
              power_w: float) -> tuple[dict[str, float], str, float]:
    """``({energy_kwh, carbon_kg, cost}, energy_source, hours outside the horizon)``.

    ``gpus`` and ``power_w`` (one GPU's draw in the planned mode) come from ``schedule.csv``,
    so a job the plan took from the queue prices the same as one of the scenario's.
    """
    grid = scenario.grid
    nodes = [scenario.node(n) for n in record.nodes if scenario.has_node(n)]
    site = scenario.site(nodes[0].site)
    series = scenario.series[site.name]
    draw_w = 0.0
    for node in nodes:
        used = gpus if len(nodes) == 1 else node.gpus
        draw_w += used * power_w + node.idle_w * used / node.gpus
    start, end = float(record.start_epoch or 0), float(record.end_epoch or 0)
    run_h = max(end - start, 0.0) / 3600
    model_kwh = site.pue * draw_w / 1000 * run_h
    energy_j = record.energy_j
    measured = energy_j is not None and energy_j > 0
    total_kwh = site.pue * energy_j / 3.6e6 if energy_j is not None and measured else model_kwh
    slot_s = grid.slot.total_seconds()
    origin = grid.start.timestamp()
    carbon = cost = inside_h = 0.0
    for t in range(grid.n_slots):
        lo, hi = origin + t * slot_s, origin + (t + 1) * slot_s
        overlap_h = max(0.0, min(end, hi) - max(start, lo)) / 3600
        if overlap_h <= 0:
            continue
        inside_h += overlap_h
        kwh = total_kwh * overlap_h / run_h
        carbon += kwh * float(series.carbon_g_per_kwh[t]) / 1000
        cost += kwh * float(series.price_per_mwh[t]) / 1000
    figures = {"energy_kwh": total_kwh, "carbon_kg": carbon, "cost": cost}
    return figures, "slurm" if measured else "model", run_h - inside_h


def realise(scenario: Scenario, plan_id: str, schedule_rows: list[dict],
            slurm_ids: dict[str, str], records: list[RunRecord], source: str) -> Realised:
    """Planned against realised for every job of ``schedule_rows`` that Slurm got an id for.

    ``schedule_rows``: ``schedule.csv`` rows (``job_id, start, end, gpus, power_w,
    energy_kwh, carbon_kg, cost``); ``slurm_ids``: job -> Slurm id (the ledger, and the
    ``slurm-<id>`` jobs the plan took from the queue).
    """
    result = Realised(plan_id, source)
    by_id = {r.slurm_id: r for r in records}
    for row in schedule_rows:
        job_id = row["job_id"]
        if job_id not in slurm_ids:
            continue
        slurm_id = int(slurm_ids[job_id])
        planned = {k: float(row[k]) for k in KEYS}
        record = by_id.get(slurm_id)
        base = dict(job_id=job_id, slurm_id=slurm_id, planned_start=row["start"],
                    planned_end=row["end"], planned=planned)
        if record is None:
            result.notes.append(f"{job_id}: Slurm job {slurm_id} is not in the accounting")
            result.jobs.append(JobRealised(**base, state="UNKNOWN", start=None, end=None,
                                           nodes="", realised={}, energy_source=""))
            continue
        ran = (record.start_epoch is not None and record.end_epoch is not None
               and any(scenario.has_node(n) for n in record.nodes))
        if not ran:
            why = "did not run" if record.start_epoch is None or record.end_epoch is None \
                else "ran on nodes the scenario does not have"
            result.notes.append(f"{job_id}: Slurm job {slurm_id} ({record.state}) {why}")
            result.jobs.append(JobRealised(**base, state=record.state,
                                           start=_iso(record.start_epoch),
                                           end=_iso(record.end_epoch),
                                           nodes=",".join(record.nodes), realised={},
                                           energy_source=""))
            continue
        figures, energy_source, outside_h = price_run(scenario, record, int(row["gpus"]),
                                                      float(row["power_w"]))
        if outside_h > 1e-9:
            result.notes.append(f"{job_id}: {outside_h:.2f} h of its run lie outside the "
                                "horizon and are priced at 0 carbon and cost")
        result.jobs.append(JobRealised(**base, state=record.state,
                                       start=_iso(record.start_epoch),
                                       end=_iso(record.end_epoch), nodes=",".join(record.nodes),
                                       realised=figures, energy_source=energy_source,
                                       outside_horizon_h=outside_h))
    return result


def realised_table(result: Realised) -> str:
    """The text report: one line a job, then the totals."""
    lines = [f"{'job':<16} {'slurm':>7} {'state':<10} {'start (actual)':<25} "
             f"{'kWh plan':>9} {'kWh real':>9} {'kg plan':>8} {'kg real':>8} {'cost plan':>9} "
             f"{'cost real':>9}  energy"]
    for j in result.jobs:
        real = [f"{j.realised[k]:.4f}" if j.realised else "-" for k in KEYS]
        lines.append(f"{j.job_id:<16} {j.slurm_id:>7} {j.state:<10} {(j.start or '-'):<25} "
                     f"{j.planned['energy_kwh']:>9.4f} {real[0]:>9} "
                     f"{j.planned['carbon_kg']:>8.4f} {real[1]:>8} {j.planned['cost']:>9.4f} "
                     f"{real[2]:>9}  {j.energy_source or '-'}")
    planned, realised = result.totals("planned"), result.totals("realised")
    lines.append(f"{'total (ran)':<16} {'':>7} {'':<10} {'':<25} "
                 f"{planned['energy_kwh']:>9.4f} {realised['energy_kwh']:>9.4f} "
                 f"{planned['carbon_kg']:>8.4f} {realised['carbon_kg']:>8.4f} "
                 f"{planned['cost']:>9.4f} {realised['cost']:>9.4f}")
    return "\n".join(lines + [f"note: {n}" for n in result.notes])


def realised_html(result: Realised) -> str:
    """The same comparison as an HTML report (the report module's tables and page)."""
    columns = ["job", "Slurm id", "state", "planned start", "actual start", "actual end",
               "nodes", "energy", *(f"{k} planned" for k in KEYS),
               *(f"{k} realised" for k in KEYS)]
    rows = [[j.job_id, str(j.slurm_id), j.state, j.planned_start, j.start or "", j.end or "",
             j.nodes, j.energy_source, *(j.planned[k] for k in KEYS),
             *((j.realised[k] if j.realised else None) for k in KEYS)] for j in result.jobs]
    planned, realised = result.totals("planned"), result.totals("realised")
    totals = [[k, planned[k], realised[k],
               f"{(realised[k] / planned[k] - 1) * 100:+.1f} %" if planned[k] else ""]
              for k in KEYS]
    sections = [("Per job", table(columns, rows, text_columns=8)),
                ("Totals over the jobs that ran",
                 table(["total", "planned", "realised", "realised vs planned"], totals))]
    if result.notes:
        sections.append(("Notes", "<ul>" + "".join(f"<li>{html.escape(n)}</li>"
                                                   for n in result.notes) + "</ul>"))
    return page(f"What ran: plan {result.plan_id}", html.escape(result.source), sections)
