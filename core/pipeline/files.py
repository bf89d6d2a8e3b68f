"""The files a plan leaves (contract section 2), written atomically, and read back for checks.

``schedule.csv`` carries full float precision so a re-check reproduces totals to 1e-6.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from greenslot.atomic import check_target, staged_folder
from greenslot.model import hostlist
from greenslot.model.accounting import account
from greenslot.model.csvfile import read_strict_csv
from greenslot.model.errors import Location, ScenarioError
from greenslot.model.scenario import Scenario
from greenslot.model.schedule import Assignment, Schedule, Unplaced
from greenslot.model.validator import Violation
from greenslot.pipeline.steps import Plan
from greenslot.slurm.ledger import LEDGER_NAME
from greenslot.slurm.script import plan_submissions, render_submit_script, submissions_json

SCHEDULE_COLUMNS = ("job_id", "start", "end", "site", "nodes", "gpus", "gpu_type", "partition",
                    "power_limit_w", "power_w", "energy_kwh", "carbon_kg", "cost", "release",
                    "deadline", "pinned")


def schedule_frame(plan: Plan) -> pd.DataFrame:
    """One row per placed job, in start order."""
    scenario, grid = plan.scenario, plan.scenario.grid
    rows = []
    for a in plan.schedule.assignments:
        job = scenario.job(a.job_id)
        node = scenario.node(a.nodes[0])
        mode = scenario.gpu_type(node.gpu_type).run_mode(job.workload, a.power_limit_w)
        figures = plan.accounting.jobs[a.job_id]
        rows.append({
            "job_id": a.job_id,
            "start": grid.time_of(a.start_slot).isoformat(),
            "end": grid.time_of(a.end_slot).isoformat(),
            "site": node.site,
            "nodes": hostlist.compress(a.nodes),
            "gpus": job.gpus,
            "gpu_type": node.gpu_type,
            "partition": node.partition or "",
            "power_limit_w": a.power_limit_w,
            "power_w": mode.power_w,
            "energy_kwh": figures.energy_kwh,
            "carbon_kg": figures.carbon_kg,
            "cost": figures.cost,
            "release": job.release.isoformat(),
            "deadline": job.deadline.isoformat(),
            "pinned": job.pinned,
        })
    return pd.DataFrame(rows, columns=list(SCHEDULE_COLUMNS))


RUN_DEPENDENT_KEYS = ("solve_seconds", "timings", "forecast_fetch")
"""The only ``summary.json`` keys that differ between two runs of the same inputs and options.

Everything else in the plan folder is byte-identical from run to run (wall-clock timings
cannot be); ``timings`` gathers every ``*_seconds`` figure a solver reports;
``forecast_fetch`` holds when provider answers were fetched, their age and why a provider
failed (see :func:`forecast_source_keys`).
"""

FORECAST_RUN_FIELDS = ("fetched_at", "age_minutes", "reason")
"""Fields of a forecast source record that vary by run (the clock, the network's behaviour)."""


def forecast_source_keys(plan: Plan) -> tuple[dict, dict]:
    """``forecast_source`` (site -> signal -> where it came from) and ``forecast_fetch``.

    The first is stable for the same inputs and cache state (kind, file path, provider,
    region, forecaster method); the second holds the run-dependent rest, only for signals
    that have any, so a file-only scenario's plan folder stays byte-identical run to run.
    """
    stable: dict[str, dict] = {}
    varying: dict[str, dict] = {}
    for site, signals in plan.scenario.forecast_sources.items():
        for signal, record in signals.items():
            stable.setdefault(site, {})[signal] = {
                k: v for k, v in record.items() if k not in FORECAST_RUN_FIELDS}
            run = {k: record[k] for k in FORECAST_RUN_FIELDS if k in record}
            if run:
                varying.setdefault(site, {})[signal] = run
    return stable, varying


def _split_timings(details: dict) -> tuple[dict, dict]:
    """``details`` without its ``*_seconds`` entries (at any depth), and those entries."""
    kept, timings = {}, {}
    for key, value in details.items():
        if isinstance(value, dict):
            inner, inner_timings = _split_timings(value)
            kept[key] = inner
            if inner_timings:
                timings[key] = inner_timings
        elif str(key).endswith("_seconds"):
            timings[key] = value
        else:
            kept[key] = value
    return kept, timings


def summary_dict(plan: Plan, version: str) -> dict:
    """``summary.json``: status, objective and bound, totals, baselines, unplaced jobs."""
    totals = plan.accounting.totals
    saving = {name: {key: (1 - totals[key] / base[key]) if base.get(key) else None
                     for key in ("energy_kwh", "carbon_kg", "cost")}
              for name, base in plan.baselines.items()}
    result = plan.result
    details, timings = _split_timings(
        {k: v for k, v in result.details.items() if k != "fallback"})
    forecast_source, forecast_fetch = forecast_source_keys(plan)
    boots = {}
    if plan.scenario.declares_boot_energy:
        # part of totals already; said apart so the cost of waking nodes can be read off
        boots = {"start_ups": {"count": int(plan.accounting.start_ups.sum()),
                               "energy_kwh": float(plan.accounting.start_up_kwh.sum())}}
    return {
        "status": str(result.status),
        "solver": result.solver,
        "objective": plan.objective,
        "objective_kind": plan.scenario.objective.as_json(),
        "bound": plan.bound,
        "gap": plan.gap,
        "bound_with_penalty": result.bound,
        "gap_with_penalty": plan.gap_with_penalty,
        "solve_seconds": result.solve_seconds,
        "timings": timings,
        "fallback": result.details.get("fallback"),
        "solver_details": details,
        "unplaced_penalty": result.unplaced_penalty,
        "totals": totals,
        **boots,
        "baselines": plan.baselines,
        "saving_vs_fifo": saving["fifo"],
        "saving_vs_best_window": saving.get("best_window"),
        "placed": len(plan.schedule.assignments),
        "unplaced": [{"job_id": u.job_id, "reason": u.reason} for u in plan.schedule.unplaced],
        "scenario": plan.scenario.name,
        "scenario_source": str(plan.scenario.source),
        "overrides": dict(plan.scenario.overrides),
        "plan_id": plan.plan_id,
        "start": plan.scenario.grid.start.isoformat(),
        "end": plan.scenario.grid.end.isoformat(),
        "slot_minutes": plan.scenario.grid.slot.total_seconds() / 60,
        "greenslot_version": version,
        "forecast_source": forecast_source,
        "forecast_fetch": forecast_fetch,
    }


def _finite_or_null(value: object) -> object:
    """``value`` with every float that is not finite (NaN, an infinite bound or saving)
    replaced by None, at any depth."""
    if isinstance(value, dict):
        return {k: _finite_or_null(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_null(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summary_json(plan: Plan, version: str) -> str:
    """``summary.json``'s text: strict JSON, as the contract's "float or null" asks.

    Why here too: Python writes ``NaN`` and ``Infinity`` that strict parsers (jq, browsers,
    Go, Rust) reject; whichever figure turns out not finite, the file must stay JSON.
    """
    return json.dumps(_finite_or_null(summary_dict(plan, version)), indent=2,
                      allow_nan=False) + "\n"


CARRIED_OVER = (LEDGER_NAME, LEDGER_NAME + ".lock", "logs")
"""What a new plan takes over from the folder it replaces: the submission ledger (and its lock)
and the jobs' output logs.

Why: re-planning into the same folder (``nightly.sh`` run twice a night, ``sync --out`` the
same folder) must not forget what was submitted from it. Without the ledger, a job that has
finished and left the queue would look new and be submitted again; without ``logs/``, running
jobs would write into a deleted folder.
"""


PLAN_FILES = ("schedule.csv", "summary.json", "submit.sh", "sbatch.json")
"""What :func:`write_plan` writes."""

OWNED = (*PLAN_FILES, *CARRIED_OVER, "report.html", "gantt.png", "totals.png", "power-*.png",
         ".*.tmp")
"""Everything greenslot puts in a plan folder: the plan, the ledger and logs ``submit`` adds,
the report's page and figures, and a killed atomic file write's temporary file. A folder
holding anything else is not a plan, and :func:`write_plan` refuses to replace it unless
asked to."""


def check_plan_folder(out_dir: Path, replace: bool = False) -> Path:
    """Refuse, before any work, a target :func:`write_plan` would refuse; return it resolved.

    Raises :class:`~greenslot.atomic.TargetError` (see :func:`greenslot.atomic.check_target`).
    """
    return check_target(out_dir, OWNED, replace)


def write_plan(plan: Plan, out_dir: Path, version: str, replace: bool = False) -> None:
    """Write schedule.csv, summary.json, submit.sh and sbatch.json all at once, or nothing.

    Files go to a temporary sibling folder that then replaces ``out_dir``; a failure leaves any
    previous plan in ``out_dir`` untouched. The previous folder's :data:`CARRIED_OVER` entries
    move into the new one (renamed, so a held ledger lock stays the same file), while a
    ``submit`` holding the ledger's lock finishes first. A folder holding what greenslot did
    not write (:data:`OWNED`) is refused unless ``replace``. A symbolic link is followed: the
    folder it names is replaced and the link kept.

    Raises
    ------
    TargetError
        ``out_dir`` is refused or cannot be written; nothing changed.
    """
    with staged_folder(out_dir, carried_over=CARRIED_OVER, owned=OWNED, replace=replace,
                       swap_lock=LEDGER_NAME + ".lock") as staging:
        schedule_frame(plan).to_csv(staging / "schedule.csv", index=False)
        (staging / "summary.json").write_text(summary_json(plan, version))
        planned = plan_submissions(plan.scenario, plan.schedule, plan.plan_id)
        script = staging / "submit.sh"
        script.write_text(render_submit_script(plan.scenario, planned, plan.plan_id, version))
        script.chmod(0o755)
        (staging / "sbatch.json").write_text(
            submissions_json(plan.scenario, planned, plan.plan_id))


@dataclass(frozen=True)
class PlanOnDisk:
    """A written plan read back: the schedule and the figures it claims."""

    schedule: Schedule
    job_figures: dict[str, dict[str, float]]
    summary: dict


def _bad_plan(file: str, row: str | None, field: str | None, message: str) -> ScenarioError:
    return ScenarioError("bad_plan", Location(file, row, field), message)


def read_plan(scenario: Scenario, folder: Path) -> PlanOnDisk:
    """Parse a plan folder back onto the scenario's grid (for ``greenslot validate``)."""
    folder = Path(folder)
    schedule_path, summary_path = folder / "schedule.csv", folder / "summary.json"
    for path in (schedule_path, summary_path):
        if not path.is_file():
            raise _bad_plan(str(path), None, None, "plan file not found")
    try:
        summary = json.loads(summary_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = f"line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else None
        raise _bad_plan(str(summary_path), line, None, "not valid JSON") from None
    if not isinstance(summary, dict):
        raise _bad_plan(str(summary_path), None, None, "expected a JSON object")
    frame = read_strict_csv(schedule_path, str(schedule_path), check="bad_plan")
    missing = [c for c in ("job_id", "start", "end", "nodes", "power_limit_w", "energy_kwh",
                           "carbon_kg", "cost") if c not in frame.columns]
    if missing:
        raise _bad_plan(str(schedule_path), "line 1", missing[0], "required column is missing")
    grid = scenario.grid
    assignments, figures = [], {}
    for line, row in zip(frame.attrs["lines"], frame.to_dict("records"), strict=True):
        where = f"line {line}"
        slots = []
        for field in ("start", "end"):
            try:
                when = pd.Timestamp(row[field]).to_pydatetime()
            except ValueError:
                raise _bad_plan(str(schedule_path), where, field, "not a time") from None
            if when.tzinfo is None or not grid.is_boundary(when):
                raise _bad_plan(str(schedule_path), where, field,
                                "must be a slot boundary with a UTC offset")
            slots.append(round(grid.offset_slots(when)))
        try:
            nodes = tuple(hostlist.expand(row["nodes"]))
            numbers = {k: float(row[k]) for k in ("power_limit_w", "energy_kwh", "carbon_kg",
                                                   "cost")}
        except (hostlist.HostlistError, ValueError) as exc:
            raise _bad_plan(str(schedule_path), where, None, str(exc)) from None
        assignments.append(Assignment(row["job_id"], slots[0], slots[1],
                                      numbers["power_limit_w"], nodes))
        figures[row["job_id"]] = numbers
    unplaced = tuple(Unplaced(u["job_id"], u.get("reason", ""))
                     for u in summary.get("unplaced", []))
    return PlanOnDisk(Schedule(tuple(assignments), unplaced), figures, summary)


def check_reported_figures(scenario: Scenario, on_disk: PlanOnDisk,
                           rel_tol: float = 1e-6) -> list[Violation]:
    """Per-job figures of schedule.csv against a fresh recomputation."""
    fresh = account(scenario, on_disk.schedule).jobs
    found = []
    for job_id, reported in on_disk.job_figures.items():
        if job_id not in fresh:
            continue
        for key in ("energy_kwh", "carbon_kg", "cost"):
            expected = getattr(fresh[job_id], key)
            if not math.isclose(reported[key], expected, rel_tol=rel_tol, abs_tol=1e-9):
                found.append(Violation("totals", job_id,
                                       f"{key} reported {reported[key]}, recomputed "
                                       f"{expected:.9g}"))
    return found


def check_submission_files(scenario: Scenario, on_disk: PlanOnDisk,
                           folder: Path) -> list[Violation]:
    """``sbatch.json`` and ``submit.sh`` against what ``schedule.csv`` gives, kind ``submission``.

    Why: ``submit`` reads ``sbatch.json`` alone and operators run ``submit.sh``; a plan whose
    schedule passes every check but whose submission files say something else (a node, a
    begin time, a power tag edited by hand or left from another plan) would send jobs where
    no check looked. Both files are rendered again from the schedule read back, with the
    ``plan_id`` and version ``summary.json`` records, and must match exactly.
    """
    folder = Path(folder)
    plan_id = on_disk.summary.get("plan_id")
    if not isinstance(plan_id, str):
        return [Violation("submission", None, "summary.json has no plan_id")]
    planned = plan_submissions(scenario, on_disk.schedule, plan_id)
    found: list[Violation] = []
    path = folder / "sbatch.json"
    try:
        actual = json.loads(path.read_text())
    except FileNotFoundError:
        return [Violation("submission", None, f"{path} not found (submit reads it)")]
    except (json.JSONDecodeError, UnicodeDecodeError):
        return [Violation("submission", None, f"{path} is not valid JSON")]
    expected = json.loads(submissions_json(scenario, planned, plan_id))
    if not isinstance(actual, dict):
        return [Violation("submission", None, f"{path} is not a JSON object")]
    listed = actual.get("jobs")
    jobs: list = listed if isinstance(listed, list) else []
    by_id = {job.get("job_id"): job for job in jobs if isinstance(job, dict)}
    for job in expected["jobs"]:
        mine = by_id.pop(job["job_id"], None)
        if mine is None:
            found.append(Violation("submission", job["job_id"],
                                   "placed in schedule.csv but missing from sbatch.json"))
        elif mine != job:
            key = next(k for k in job if mine.get(k) != job[k])
            if key == "args":
                given = mine.get("args")
                theirs: list = given if isinstance(given, list) else []
                extra = [a for a in theirs if a not in job["args"]]
                wanted = [a for a in job["args"] if a not in theirs]
                detail = (f"sbatch.json has {extra[0] if extra else 'no such argument'}, "
                          f"schedule.csv gives {wanted[0] if wanted else 'no such argument'}")
            else:
                detail = f"sbatch.json has {key} {mine.get(key)!r}, schedule.csv gives {job[key]!r}"
            found.append(Violation("submission", job["job_id"], detail))
    for job_id in by_id:
        found.append(Violation("submission", str(job_id),
                               "in sbatch.json but not placed in schedule.csv"))
    for key in ("plan_id", "scenario", "pinned", "skipped", "reservations"):
        if actual.get(key) != expected[key]:
            found.append(Violation("submission", None,
                                   f"sbatch.json's {key} differs from what the plan gives"))
    script = folder / "submit.sh"
    version = str(on_disk.summary.get("greenslot_version", ""))
    if not found and script.is_file():
        text = script.read_text(errors="replace")
        wanted_text = render_submit_script(scenario, planned, plan_id, version)
        if text != wanted_text:
            line = next((i for i, (a, b) in enumerate(
                zip(text.splitlines(), wanted_text.splitlines(), strict=False), 1) if a != b),
                min(len(text.splitlines()), len(wanted_text.splitlines())) + 1)
            found.append(Violation("submission", None, f"submit.sh line {line} differs from "
                                   "what schedule.csv gives"))
    return found


__all__ = ["CARRIED_OVER", "OWNED", "PLAN_FILES", "check_plan_folder",
           "check_reported_figures", "check_submission_files", "read_plan",
           "schedule_frame", "summary_dict", "summary_json", "write_plan"]
