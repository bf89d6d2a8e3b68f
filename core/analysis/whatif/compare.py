"""``greenslot compare DIR_A DIR_B``: what changed between two written plans.

Works on the plan files alone (no scenario needed), so two plans of edited scenarios, or from
two greenslot versions, compare directly. Deltas are B minus A.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from greenslot.model.csvfile import read_strict_csv
from greenslot.model.errors import Location, ScenarioError

TOTAL_KEYS = ("energy_kwh", "grid_kwh", "renewable_kwh", "carbon_kg", "cost")
JOB_COLUMNS = ("job_id", "start", "end", "nodes", "power_limit_w", "energy_kwh", "carbon_kg",
               "cost")


@dataclass(frozen=True)
class PlanFiles:
    """A plan folder as written: its summary and one row per placed job."""

    folder: Path
    summary: dict
    jobs: dict[str, dict]


def _fail(path: Path, row: str | None, field: str | None, message: str) -> ScenarioError:
    return ScenarioError("bad_plan", Location(str(path), row, field), message)


def read_plan_files(folder: str | Path) -> PlanFiles:
    """Read ``summary.json`` and ``schedule.csv``; a broken folder is a one-line error."""
    folder = Path(folder)
    summary_path, schedule_path = folder / "summary.json", folder / "schedule.csv"
    for path in (summary_path, schedule_path):
        if not path.is_file():
            raise _fail(path, None, None, "plan file not found")
    try:
        summary = json.loads(summary_path.read_text())
    except (ValueError, UnicodeDecodeError):
        raise _fail(summary_path, None, None, "not valid JSON") from None
    totals = summary.get("totals") if isinstance(summary, dict) else None
    if not isinstance(totals, dict):
        raise _fail(summary_path, None, "totals", "missing or not a mapping")
    for key in TOTAL_KEYS:
        if not isinstance(totals.get(key), int | float):
            raise _fail(summary_path, None, f"totals.{key}", "missing or not a number")
    frame = read_strict_csv(schedule_path, str(schedule_path), check="bad_plan")
    missing = [c for c in JOB_COLUMNS if c not in frame.columns]
    if missing:
        raise _fail(schedule_path, "line 1", missing[0], "required column is missing")
    jobs = {}
    for line, row in zip(frame.attrs["lines"], frame.to_dict("records"), strict=True):
        try:
            start, end = pd.Timestamp(row["start"]), pd.Timestamp(row["end"])
        except ValueError:
            raise _fail(schedule_path, f"line {line}", "start", "not a time") from None
        if start.tzinfo is None or end.tzinfo is None:
            raise _fail(schedule_path, f"line {line}", "start", "time without a UTC offset")
        record = {"start": start, "end": end, "nodes": row["nodes"]}
        for key in ("power_limit_w", "energy_kwh", "carbon_kg", "cost"):
            try:
                record[key] = float(row[key])
            except ValueError:
                raise _fail(schedule_path, f"line {line}", key, "not a number") from None
        jobs[row["job_id"]] = record
    return PlanFiles(folder, summary, jobs)


def _relative(a: float, b: float) -> float | None:
    return (b - a) / abs(a) if a else None


def compare(a: PlanFiles, b: PlanFiles) -> dict:
    """Totals with deltas, unplaced jobs, and every job that moved in time, node or mode."""
    totals = {}
    for key in TOTAL_KEYS:
        va, vb = float(a.summary["totals"][key]), float(b.summary["totals"][key])
        totals[key] = {"a": va, "b": vb, "delta": vb - va, "relative": _relative(va, vb)}
    unplaced_a = {u.get("job_id") for u in a.summary.get("unplaced", [])}
    unplaced_b = {u.get("job_id") for u in b.summary.get("unplaced", [])}
    totals["unplaced"] = {"a": len(unplaced_a), "b": len(unplaced_b),
                          "delta": len(unplaced_b) - len(unplaced_a),
                          "relative": _relative(len(unplaced_a), len(unplaced_b))}
    moved = []
    for job_id in sorted(set(a.jobs) & set(b.jobs)):
        ja, jb = a.jobs[job_id], b.jobs[job_id]
        shift_h = (jb["start"] - ja["start"]).total_seconds() / 3600
        what = [name for name, changed in (
            ("time", shift_h != 0), ("nodes", ja["nodes"] != jb["nodes"]),
            ("mode", not math.isclose(ja["power_limit_w"], jb["power_limit_w"])),
        ) if changed]
        if what:
            moved.append({
                "job_id": job_id, "changed": what, "shift_h": shift_h,
                "start_a": ja["start"].isoformat(), "start_b": jb["start"].isoformat(),
                "nodes_a": ja["nodes"], "nodes_b": jb["nodes"],
                "power_limit_w_a": ja["power_limit_w"], "power_limit_w_b": jb["power_limit_w"],
                "carbon_kg_delta": jb["carbon_kg"] - ja["carbon_kg"],
                "cost_delta": jb["cost"] - ja["cost"],
            })
    moved.sort(key=lambda m: (-abs(m["shift_h"]), m["job_id"]))
    return {
        "a": str(a.folder), "b": str(b.folder),
        "overrides": {"a": a.summary.get("overrides", {}), "b": b.summary.get("overrides", {})},
        "totals": totals,
        "jobs_in_both": len(set(a.jobs) & set(b.jobs)),
        "moved": moved,
        "placed_only_in_a": sorted(set(a.jobs) - set(b.jobs)),
        "placed_only_in_b": sorted(set(b.jobs) - set(a.jobs)),
        "unplaced_only_in_a": sorted(unplaced_a - unplaced_b),
        "unplaced_only_in_b": sorted(unplaced_b - unplaced_a),
    }


def format_comparison(result: dict, limit: int | None = 30) -> str:
    """The comparison as a terminal table (``limit`` moved jobs at most; None for all)."""
    lines = [f"A = {result['a']}", f"B = {result['b']}"]
    for side in ("a", "b"):
        overrides = result["overrides"][side]
        if overrides:
            lines.append(f"{side.upper()} overrides: "
                         + ", ".join(f"{k}={v}" for k, v in overrides.items()))
    lines.append(f"{'':14}{'A':>14}{'B':>14}{'B - A':>14}{'change':>9}")
    for key, row in result["totals"].items():
        change = f"{row['relative'] * 100:+.1f}%" if row["relative"] is not None else "-"
        if key == "unplaced":  # a count of jobs, not a quantity with decimals
            lines.append(f"{key:14}{row['a']:14d}{row['b']:14d}{row['delta']:+14d}{change:>9}")
        else:
            lines.append(f"{key:14}{row['a']:14.2f}{row['b']:14.2f}{row['delta']:+14.2f}"
                         f"{change:>9}")
    moved = result["moved"]
    counts = {what: sum(what in m["changed"] for m in moved) for what in ("time", "nodes", "mode")}
    lines.append(f"moved: {len(moved)} of {result['jobs_in_both']} jobs placed in both "
                 f"({counts['time']} in time, {counts['nodes']} to other nodes, "
                 f"{counts['mode']} to another power mode)")
    for label, key in (("placed only in A", "placed_only_in_a"),
                       ("placed only in B", "placed_only_in_b")):
        if result[key]:
            lines.append(f"{label}: {', '.join(result[key])}")
    shown = moved if limit is None else moved[:limit]
    if shown:
        lines.append(f"{'job':14}{'shift h':>9}  {'start A -> B':33}  {'nodes A -> B':30}"
                     f"{'W A -> B':>12}{'carbon kg':>11}")
    for m in shown:
        times = f"{m['start_a'][5:16]} -> {m['start_b'][5:16]}"
        nodes = (f"{m['nodes_a']} -> {m['nodes_b']}" if m["nodes_a"] != m["nodes_b"]
                 else m["nodes_a"])
        watts = f"{m['power_limit_w_a']:g} -> {m['power_limit_w_b']:g}"
        lines.append(f"{m['job_id']:14}{m['shift_h']:+9.2f}  {times:33}  {nodes:30}"
                     f"{watts:>12}{m['carbon_kg_delta']:+11.3f}")
    if len(shown) < len(moved):
        lines.append(f"... {len(moved) - len(shown)} more (--all lists every job, --json "
                     "gives them all)")
    return "\n".join(lines)
