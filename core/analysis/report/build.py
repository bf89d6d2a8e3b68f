"""``greenslot report DIR``: read a written plan back, draw it, and write ``report.html``.

The plan is re-read against its scenario (with the overrides it records) and re-validated, so
the report never draws a plan that does not fit its inputs.
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from greenslot.analysis.report.html import Image, page, table, totals_table
from greenslot.analysis.whatif import load_with_overrides, recorded_overrides
from greenslot.atomic import write_bytes
from greenslot.model import hostlist
from greenslot.model.accounting import account
from greenslot.model.errors import Location, ScenarioError
from greenslot.model.scenario import Scenario
from greenslot.model.schedule import Schedule
from greenslot.model.validator import validate
from greenslot.pipeline.files import read_plan
from greenslot.solvers.fifo import solve_fifo
from greenslot.solvers.types import SolveOptions


@dataclass(frozen=True)
class Report:
    """The page and the images it embeds (also written beside it as PNG files)."""

    html: str
    images: tuple[Image, ...]


def _bad_plan(folder: Path, message: str) -> ScenarioError:
    return ScenarioError("bad_plan", Location(str(folder)), message)


def _scenario_of(plan_dir: Path, scenario_path: str | Path | None) -> Scenario:
    """The scenario the plan was made for, with the overrides it records."""
    summary_path = plan_dir / "summary.json"
    if scenario_path is None:
        try:
            summary = json.loads(summary_path.read_text())
        except (OSError, ValueError):
            raise ScenarioError("bad_plan", Location(str(summary_path)),
                                "plan file not found or not valid JSON") from None
        scenario_path = summary.get("scenario_source") if isinstance(summary, dict) else None
        if not scenario_path:
            raise _bad_plan(plan_dir, "summary.json does not name its scenario (a plan from an "
                            "older greenslot); pass --scenario")
    return load_with_overrides(scenario_path, recorded_overrides(plan_dir))


def _hours(scenario: Scenario, slots: float) -> float:
    return slots * scenario.grid.slot_hours


def job_rows(scenario: Scenario, schedule: Schedule, fifo: Schedule, per_job: dict):
    """Per-job rows: where and how each job runs, how far it moved, and its figures."""
    grid = scenario.grid
    fifo_at = fifo.by_job()
    rows, classes = [], []
    for a in schedule.assignments:
        job = scenario.job(a.job_id)
        earliest = max(0, grid.slot_at_or_after(job.release))
        base = fifo_at.get(a.job_id)
        moved_node = "" if base is None else ("yes" if set(base.nodes) != set(a.nodes) else "")
        rows.append([
            a.job_id, scenario.node(a.nodes[0]).site, hostlist.compress(a.nodes),
            grid.time_of(a.start_slot).strftime("%d %b %H:%M"),
            grid.time_of(a.end_slot).strftime("%d %b %H:%M"),
            a.power_limit_w, job.gpus,
            _hours(scenario, a.start_slot - earliest) if not job.pinned else 0.0,
            None if base is None else _hours(scenario, a.start_slot - base.start_slot),
            moved_node,
            None if base is None else base.power_limit_w,
            _hours(scenario, grid.slot_at_or_before(job.deadline) - a.end_slot)
            if job.deadline < grid.end else None,
            per_job[a.job_id].energy_kwh, per_job[a.job_id].carbon_kg, per_job[a.job_id].cost,
        ])
        classes.append("")
    for u in schedule.unplaced:
        rows.append([u.job_id, "", "", "", "", None, scenario.job(u.job_id).gpus, None, None,
                     "", None, None, None, None, f"unplaced: {u.reason}"])
        classes.append("unplaced")
    columns = ["job", "site", "nodes", "start (UTC)", "end (UTC)", "power limit [W]", "GPUs",
               "after release [h]", "shift vs fifo [h]", "other nodes than fifo",
               "fifo power limit [W]", "slack to deadline [h]", "energy [kWh]",
               "carbon [kg]", f"cost [{scenario.currency}]" if scenario.currency else "cost"]
    return columns, rows, classes


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def build_report(plan_dir: str | Path, scenario_path: str | Path | None = None) -> Report:
    """Read, re-validate and draw the plan in ``plan_dir``."""
    plan_dir = Path(plan_dir)
    scenario = _scenario_of(plan_dir, scenario_path)
    on_disk = read_plan(scenario, plan_dir)
    violations = validate(scenario, on_disk.schedule)
    if violations:
        raise _bad_plan(plan_dir, f"the plan does not fit its scenario ({violations[0]}; "
                        f"{len(violations)} in all): run greenslot validate")
    schedule, summary = on_disk.schedule, on_disk.summary
    accounting = account(scenario, schedule)
    baselines = _recorded_baselines(summary, plan_dir)
    fifo = solve_fifo(scenario, SolveOptions()).schedule

    # Imported here: matplotlib takes about a second to import, which every `greenslot` command
    # (the CLI registers `report`) would otherwise pay before doing anything.
    from greenslot.analysis.report import figures

    images = [Image("gantt.png", "Jobs by node and GPU over time",
                    figures.png_bytes(figures.gantt(scenario, schedule)))]
    for site in scenario.sites:
        images.append(Image(f"power-{_file_name(site.name)}.png",
                            f"{site.name}: facility power, renewables, carbon intensity, price",
                            figures.png_bytes(figures.site_power(scenario, accounting,
                                                                 site.name))))
    images.append(Image("totals.png", "Totals of the plan against the baselines",
                        figures.png_bytes(figures.totals_against_baselines(
                            accounting.totals, baselines, scenario.currency))))
    columns, rows, classes = job_rows(scenario, schedule, fifo, accounting.jobs)
    overrides = summary.get("overrides") or {}
    override_text = ("<p>What-if overrides: " + ", ".join(
        f"<code>{_escape(k)}={_escape(v)}</code>" for k, v in overrides.items()) + "</p>"
        if overrides else "<p>No what-if overrides.</p>")
    objective = _recorded_number(summary, "objective", plan_dir)
    status = (f"solver {_escape(summary.get('solver'))}, status {_escape(summary.get('status'))}"
              f", objective {'-' if objective is None else format(objective, '.6g')}")
    gap = _recorded_number(summary, "gap", plan_dir)
    if gap is not None:
        status += f", proven gap {gap:.2%}"
    meta = (f"plan {_escape(summary.get('plan_id'))} of scenario {_escape(scenario.name)}; "
            f"{scenario.grid.start:%Y-%m-%d %H:%M} to {scenario.grid.end:%Y-%m-%d %H:%M} UTC in "
            f"{scenario.grid.slot_hours * 60:g}-minute slots; {len(schedule.assignments)} jobs "
            f"placed, {len(schedule.unplaced)} unplaced; {status}; "
            + (f"costs and prices in {_escape(scenario.currency)}."
               if scenario.currency else "costs in the unit of the forecasts' price_per_mwh "
               "(the scenario names no currency:)."))
    sections = [
        ("Totals against the baselines", override_text
         + totals_table(accounting.totals, baselines, scenario.currency) + images[-1].tag()),
        ("Schedule", images[0].tag()),
        ("Power by site", "".join(image.tag() for image in images[1:-1])),
        ("Jobs", "<p>Shift vs fifo: hours later (+) or earlier (-) than the fifo baseline "
         "starts the job; after release: hours between the earliest start and the start. "
         "Click a column's heading to sort by it (again to reverse).</p>"
         + table(columns, rows, text_columns=5, row_classes=classes, sortable=True)),
    ]
    return Report(page(f"greenslot plan report: {scenario.name}", meta, sections),
                  tuple(images))


def _recorded_number(summary: dict, key: str, plan_dir: Path,
                     shown: str | None = None) -> float | None:
    """``summary[key]`` as a finite number, or None when absent; anything else is bad_plan.

    Why: summary.json is a file a user can edit; a string where a number belongs must be one
    line naming the file and key, not a format traceback.
    """
    value = summary.get(key)
    if value is None:
        return None
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value)):
        raise ScenarioError("bad_plan",
                            Location(str(plan_dir / "summary.json"), None, shown or key),
                            f"expected a finite number, got {str(value)[:60]!r}")
    return float(value)


def _recorded_baselines(summary: dict, plan_dir: Path) -> dict[str, dict[str, float]]:
    """The baselines' totals summary.json records, each a finite number (else bad_plan)."""
    raw = summary.get("baselines") or {}
    if not isinstance(raw, dict):
        raise ScenarioError("bad_plan", Location(str(plan_dir / "summary.json"), None,
                                                 "baselines"), "expected a mapping")
    found: dict[str, dict[str, float]] = {}
    for name, values in raw.items():
        if not isinstance(values, dict):
            continue
        found[str(name)] = {}
        for key in ("energy_kwh", "grid_kwh", "renewable_kwh", "carbon_kg", "cost"):
            number = _recorded_number(values, key, plan_dir, f"baselines.{name}.{key}")
            if number is not None:
                found[str(name)][key] = number
    return found


def _escape(value: object) -> str:
    return html.escape("" if value is None else str(value))


def write_report(plan_dir: str | Path, scenario_path: str | Path | None = None) -> Path:
    """Write the PNGs and then ``report.html`` into ``plan_dir``; return the page's path.

    Everything is built in memory first, so bad input writes nothing; each file then replaces
    its old version atomically.
    """
    plan_dir = Path(plan_dir)
    report = build_report(plan_dir, scenario_path)
    for image in report.images:
        write_bytes(plan_dir / image.name, image.png)
    target = plan_dir / "report.html"
    write_bytes(target, report.html.encode("utf-8"))
    return target
