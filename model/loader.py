"""Load a scenario (contract section 1) into checked, immutable entities.

Configuration is parsed once here, at the edge: unknown keys and columns are errors, every value
is converted to its unit-bearing type, and each failure names file, row and field through a
named check (:mod:`greenslot.model.checks`).

Forecasts are the exception: reading files and asking providers is I/O of the layer above, so
the caller injects a :class:`~greenslot.model.forecast_spec.SiteForecasts` that turns each
site's ``forecast`` entry into per-slot signals. The model thus imports only itself.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import yaml

from greenslot.model import hostlist, rules
from greenslot.model.checks import did_you_mean, fail
from greenslot.model.csvfile import read_strict_csv
from greenslot.model.forecast_spec import SiteForecastRequest, SiteForecasts
from greenslot.model.reservations import load_reservations, reserve_nodes
from greenslot.model.scenario import (
    GpuType,
    Job,
    Node,
    Objective,
    PowerMode,
    Scenario,
    Site,
)
from greenslot.model.timegrid import TimeGrid

TOP_KEYS = {"name", "start", "horizon", "slot", "objective", "transfer_kwh_per_gb", "sites",
            "gpu_types", "nodes", "jobs", "reservations", "currency"}
CURRENCY = re.compile(r"[A-Z]{3}")
"""``currency``: an ISO 4217 code (USD, EUR, GBP), the unit of every ``price_per_mwh`` and so
of every cost; only reports and tables show it."""
TOP_REQUIRED = {"start", "horizon", "slot", "sites", "gpu_types", "nodes", "jobs"}
SITE_KEYS = {"name", "pue", "power_cap_kw", "power_down_idle", "forecast", "energy_budget_kwh",
             "carbon_budget_kg"}
SITE_REQUIRED = {"name", "forecast"}
GPU_KEYS = {"name", "gpu_idle_w", "power_curve"}
NODE_KEYS = {"names", "site", "gpu_type", "gpus", "idle_w", "partition", "unavailable"}
NODE_REQUIRED = {"names", "site", "gpu_type", "gpus", "idle_w"}
WINDOW_KEYS = {"from", "to"}
CURVE_COLUMNS = ("workload", "power_limit_w", "power_w", "relative_throughput")
# Optional: the GPU clock that realises the mode; submit then sets it with --gpu-freq.
CURVE_OPTIONAL = ("gpu_freq_mhz",)
JOB_REQUIRED = ("job_id", "gpus", "duration_h")
JOB_OPTIONAL = ("release", "deadline", "workload", "gpu_type", "site", "partition", "priority",
                "depends_on", "script", "command", "data_gb", "data_site", "pinned_start",
                "pinned_nodes", "power_limit_w")
JOB_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]+$")


class RawEdits(Protocol):
    """Edits applied to the raw inputs before any check runs (what-if overrides).

    Why before: an edited value then meets exactly the checks a value typed into the files
    would, so a what-if can never build a scenario the files could not describe.
    """

    def edit_config(self, config: dict, display: str) -> dict:
        """The parsed YAML mapping, edited; ``display`` names the file in errors."""

    def edit_jobs(self, frame: pd.DataFrame, display: str) -> pd.DataFrame:
        """The jobs table (all cells text, ``attrs['lines']`` kept), edited."""


def _display(path: Path) -> str:
    """A path as the user would type it: relative to the working folder when below it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


def resolve_scenario_path(path: str | Path) -> Path:
    """Accept the YAML file or the folder holding ``scenario.yaml``."""
    candidate = Path(path)
    if candidate.is_dir():
        candidate = candidate / "scenario.yaml"
    if not candidate.is_file():
        fail("missing_file", _display(candidate), message="scenario file not found")
    return candidate


class _DuplicateKeyError(yaml.YAMLError):
    """A mapping names one key twice; PyYAML would silently keep the last value."""

    def __init__(self, key: str, line: int, first_line: int) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key, self.line, self.first_line = key, line, first_line


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (YAML 1.2 forbids them; PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                seen = first.get(key)
            except TypeError:  # an unhashable key: let PyYAML report it
                continue
            if seen is not None:
                raise _DuplicateKeyError(str(key), key_node.start_mark.line + 1, seen)
            first[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class _YamlReader:
    """Typed access to a YAML mapping, failing with the file and a YAML path as the row."""

    def __init__(self, display: str) -> None:
        self.display = display

    def mapping(self, value: Any, where: str, keys: set[str], required: set[str]) -> dict:
        if not isinstance(value, Mapping):
            fail("bad_type", self.display, where, None, "expected a mapping of keys to values")
        for key in value:
            if key not in keys:
                fail("unknown_key", self.display, where, str(key),
                     f"unknown key;{did_you_mean(key, keys)} allowed: {', '.join(sorted(keys))}")
        for key in sorted(required):
            if key not in value:
                fail("missing_key", self.display, where, key, "required key is missing")
        return dict(value)

    def number(self, value: Any, where: str, field: str, minimum: float | None = None,
               strict: bool = False) -> float:
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value)):
            fail("bad_number", self.display, where, field,
                 f"expected a finite number, got {_shown(value)}")
        if minimum is not None and (value < minimum or (strict and value == minimum)):
            relation = ">" if strict else ">="
            fail("bad_number", self.display, where, field, f"must be {relation} {minimum}")
        return float(value)

    def text(self, value: Any, where: str, field: str) -> str:
        if not isinstance(value, str) or not value.strip():
            fail("bad_type", self.display, where, field, f"expected text, got {value!r}")
        return value.strip()

    def boolean(self, value: Any, where: str, field: str) -> bool:
        if not isinstance(value, bool):
            fail("bad_type", self.display, where, field, f"expected true or false, got {value!r}")
        return value

    def time(self, value: Any, where: str, field: str) -> datetime:
        return parse_time(value, self.display, where, field)

    def duration(self, value: Any, where: str, field: str) -> pd.Timedelta:
        # pandas reads a bare number as nanoseconds: "48" would silently be a 48 ns horizon.
        if isinstance(value, int | float) or re.fullmatch(r"\s*[-+]?[\d.]+\s*", str(value)):
            fail("bad_duration", self.display, where, field,
                 f"{value!r} has no unit; write it like '48h' or '15min'")
        try:
            delta = pd.Timedelta(str(value))
        except ValueError:
            fail("bad_duration", self.display, where, field,
                 f"not a duration like '48h' or '15min': {value!r}")
        if delta <= pd.Timedelta(0):
            fail("bad_duration", self.display, where, field, "must be positive")
        return delta


def _shown(value: Any) -> str:
    """A YAML value as the user wrote it (YAML turns unquoted times into datetimes)."""
    return repr(value.isoformat()) if isinstance(value, datetime) else repr(value)


def parse_time(value: Any, file: str, row: str | None, field: str) -> datetime:
    """An ISO 8601 time with a UTC offset, as a tz-aware UTC datetime."""
    if isinstance(value, datetime):
        stamp = pd.Timestamp(value)
    else:
        try:
            stamp = pd.Timestamp(str(value).strip())
        except ValueError:
            fail("bad_time", file, row, field, f"not an ISO 8601 time: {value!r}")
    if stamp is pd.NaT:
        fail("bad_time", file, row, field, f"not an ISO 8601 time: {value!r}")
    if stamp.tzinfo is None:
        fail("naive_time", file, row, field,
             f"time {_shown(value)} has no UTC offset; write it like 2022-06-14T01:00:00+00:00")
    return stamp.tz_convert("UTC").to_pydatetime()


def _objective(value: Any, reader: _YamlReader) -> Objective:
    if value is None:
        return Objective.named("carbon")
    if isinstance(value, str):
        if value not in ("carbon", "cost", "energy"):
            fail("bad_objective", reader.display, None, "objective",
                 f"{value!r} is not one of carbon, cost, energy or a weight mapping")
        return Objective.named(value)
    return parse_objective_weights(value, reader.display)


def parse_objective_weights(value: Any, display: str) -> Objective:
    """``{carbon_kg: w1, cost: w2, energy_kwh: w3}``: non-negative weights, one positive.

    ``carbon_price_per_tonne: P`` may stand instead of ``carbon_kg``: carbon priced at P per
    tonne on the scale of ``cost`` is the weight ``P / 1000`` per kg, so
    ``{cost: 1, carbon_price_per_tonne: P}`` minimises cost plus a carbon price and a sweep
    over P traces the carbon/cost trade-off.
    """
    if not isinstance(value, Mapping) or not value:
        fail("bad_objective", display, None, "objective",
             "expected carbon, cost, energy or a mapping like {carbon_kg: 1, cost: 0.1}")
    weights = {}
    for key, weight in value.items():
        if key not in ("carbon_kg", "cost", "energy_kwh", "carbon_price_per_tonne"):
            fail("bad_objective", display, None, "objective",
                 f"unknown weight {key!r}; use carbon_kg, cost, energy_kwh, "
                 "carbon_price_per_tonne")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight >= 0:
            fail("bad_objective", display, None, f"objective.{key}",
                 f"weight must be a number >= 0, got {weight!r}")
        weights[key] = float(weight)
    price = weights.pop("carbon_price_per_tonne", None)
    if price is not None:
        if "carbon_kg" in weights:
            fail("bad_objective", display, None, "objective.carbon_price_per_tonne",
                 "give carbon_kg or carbon_price_per_tonne, not both")
        weights["carbon_kg"] = price / 1000.0
    if not any(w > 0 for w in weights.values()):
        fail("bad_objective", display, None, "objective", "at least one weight must be positive")
    return Objective(**weights, name="weighted", carbon_price_per_tonne=price)


def _load_curve(path: Path, display: str) -> dict[str, tuple[PowerMode, ...]]:
    if not path.is_file():
        fail("missing_file", display, message="power curve file not found")
    frame = read_strict_csv(path, display)
    _require_columns(frame, CURVE_COLUMNS, display, CURVE_COLUMNS + CURVE_OPTIONAL)
    rows: dict[str, list[PowerMode]] = {}
    seen: set[tuple[str, float]] = set()
    for line, record in _numbered(frame):
        where = f"line {line}"
        workload = record["workload"].strip()
        if not workload:
            fail("bad_type", display, where, "workload", "workload name is empty")
        limit = _csv_number(record["power_limit_w"], display, where, "power_limit_w", 0, True)
        power = _csv_number(record["power_w"], display, where, "power_w", 0, True)
        rel = _csv_number(record["relative_throughput"], display, where,
                          "relative_throughput", 0, True)
        if rel > 1 + 1e-9:
            fail("bad_curve", display, where, "relative_throughput",
                 "must be <= 1 (relative to the workload's fastest row)")
        if (workload, limit) in seen:
            fail("bad_curve", display, where, "power_limit_w",
                 f"workload {workload!r} lists power limit {limit:g} W twice")
        seen.add((workload, limit))
        clock = (record.get("gpu_freq_mhz") or "").strip()
        clock_mhz = (_csv_number(clock, display, where, "gpu_freq_mhz", 0, True)
                     if clock else None)
        rows.setdefault(workload, []).append(PowerMode(limit, power, rel, clock_mhz))
    if not rows:
        fail("bad_curve", display, None, None, "power curve has no rows")
    for workload, modes in rows.items():
        if abs(max(m.relative_throughput for m in modes) - 1.0) > 1e-6:
            fail("bad_curve", display, None, "relative_throughput",
                 f"workload {workload!r}: the fastest row must have relative_throughput 1")
    return {w: tuple(sorted(m, key=lambda x: (-x.relative_throughput, x.power_w)))
            for w, m in rows.items()}


def _numbered(frame: pd.DataFrame):
    """Records with their line numbers in the file (header = line 1)."""
    return zip(frame.attrs["lines"], frame.to_dict("records"), strict=True)


def _require_columns(frame: pd.DataFrame, required, display: str, known) -> None:
    for column in frame.columns:
        if column not in known:
            fail("unknown_column", display, "line 1", column,
                 f"unknown column;{did_you_mean(column, known)} allowed: {', '.join(known)}")
    for column in required:
        if column not in frame.columns:
            fail("missing_column", display, "line 1", column, "required column is missing")


def _csv_number(raw: str, display: str, where: str, field: str,
                minimum: float | None = None, strict: bool = False) -> float:
    try:
        value = float(raw)
    except ValueError:
        fail("bad_number", display, where, field, f"not a number: {raw!r}")
    if math.isnan(value) or math.isinf(value):
        fail("bad_number", display, where, field, f"not a finite number: {raw!r}")
    if minimum is not None and (value < minimum or (strict and value == minimum)):
        relation = ">" if strict else ">="
        fail("bad_number", display, where, field, f"must be {relation} {minimum:g}, got {raw}")
    return value


def _load_sites(raw: Any, reader: _YamlReader, folder: Path, grid: TimeGrid,
                forecasts: SiteForecasts):
    if not isinstance(raw, list) or not raw:
        fail("bad_type", reader.display, None, "sites", "expected a non-empty list of sites")
    sites, series, origins = [], {}, {}
    for i, item in enumerate(raw):
        where = f"sites[{i}]"
        data = reader.mapping(item, where, SITE_KEYS, SITE_REQUIRED)
        name = reader.text(data["name"], where, "name")
        if name in series:
            fail("duplicate_name", reader.display, where, "name", f"site {name!r} defined twice")
        pue = reader.number(data.get("pue", 1.0), where, "pue", minimum=1.0)
        cap = data.get("power_cap_kw")
        cap_kw = None if cap is None else reader.number(cap, where, "power_cap_kw", 0, True)
        down = reader.boolean(data.get("power_down_idle", False), where, "power_down_idle")
        signals = forecasts.site_signals(SiteForecastRequest(
            site=name, forecast=data["forecast"], scenario=reader.display, where=where,
            folder=folder, grid=grid, shown=_display))
        series[name], origins[name] = signals.series, signals.sources
        budgets = {key: None if data.get(key) is None
                   else reader.number(data[key], where, key, 0, True)
                   for key in ("energy_budget_kwh", "carbon_budget_kg")}
        sites.append(Site(name=name, pue=pue, power_cap_kw=cap_kw, power_down_idle=down,
                          **budgets))
    return tuple(sites), series, origins


def _load_gpu_types(raw: Any, reader: _YamlReader, folder: Path) -> tuple[GpuType, ...]:
    if not isinstance(raw, list) or not raw:
        fail("bad_type", reader.display, None, "gpu_types", "expected a non-empty list")
    types: dict[str, GpuType] = {}
    for i, item in enumerate(raw):
        where = f"gpu_types[{i}]"
        data = reader.mapping(item, where, GPU_KEYS, GPU_KEYS)
        name = reader.text(data["name"], where, "name")
        if name in types:
            fail("duplicate_name", reader.display, where, "name", f"GPU type {name!r} twice")
        idle = reader.number(data["gpu_idle_w"], where, "gpu_idle_w", minimum=0)
        curve_path = folder / reader.text(data["power_curve"], where, "power_curve")
        curves = _load_curve(curve_path, _display(curve_path))
        types[name] = GpuType(name=name, gpu_idle_w=idle, curves=curves)
    return tuple(types.values())


def _unavailable_slots(raw: Any, reader: _YamlReader, where: str, grid: TimeGrid) -> frozenset:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        fail("bad_type", reader.display, where, "unavailable", "expected a list of windows")
    slots: set[int] = set()
    for j, window in enumerate(raw):
        spot = f"{where}.unavailable[{j}]"
        data = reader.mapping(window, spot, WINDOW_KEYS, WINDOW_KEYS)
        begin = reader.time(data["from"], spot, "from")
        end = reader.time(data["to"], spot, "to")
        if end <= begin:
            fail("bad_window", reader.display, spot, "to", "window end must be after its start")
        first = max(0, math.floor(grid.offset_slots(begin) + 1e-9))
        last = min(grid.n_slots, math.ceil(grid.offset_slots(end) - 1e-9))
        slots.update(range(first, last))
    return frozenset(slots)


def _load_nodes(raw, reader: _YamlReader, sites, gpu_types, grid) -> tuple[Node, ...]:
    if not isinstance(raw, list) or not raw:
        fail("bad_type", reader.display, None, "nodes", "expected a non-empty list of node groups")
    site_names = {s.name for s in sites}
    type_names = {g.name for g in gpu_types}
    nodes: dict[str, Node] = {}
    for i, item in enumerate(raw):
        where = f"nodes[{i}]"
        data = reader.mapping(item, where, NODE_KEYS, NODE_REQUIRED)
        if not isinstance(data["names"], str | list):
            fail("bad_type", reader.display, where, "names",
                 "expected a hostlist like gpu[01-04] or a list of names")
        try:
            names = hostlist.expand(data["names"])
        except hostlist.HostlistError as exc:
            fail("bad_hostlist", reader.display, where, "names", str(exc))
        site = reader.text(data["site"], where, "site")
        if site not in site_names:
            fail("unknown_site", reader.display, where, "site",
                 f"no site named {site!r};{did_you_mean(site, site_names)} define it under sites")
        gpu_type = reader.text(data["gpu_type"], where, "gpu_type")
        if gpu_type not in type_names:
            fail("unknown_gpu_type", reader.display, where, "gpu_type",
                 f"no GPU type named {gpu_type!r};{did_you_mean(gpu_type, type_names)} "
                 "define it under gpu_types")
        gpus = reader.number(data["gpus"], where, "gpus", 1)
        if gpus != int(gpus):
            fail("bad_number", reader.display, where, "gpus", "must be a whole number")
        idle = reader.number(data["idle_w"], where, "idle_w", minimum=0)
        partition = data.get("partition")
        partition = None if partition is None else reader.text(partition, where, "partition")
        unavailable = _unavailable_slots(data.get("unavailable"), reader, where, grid)
        for name in names:
            if name in nodes:
                fail("duplicate_name", reader.display, where, "names", f"node {name!r} twice")
            nodes[name] = Node(name, site, gpu_type, int(gpus), idle, partition, unavailable)
    return tuple(sorted(nodes.values(), key=lambda n: hostlist.natural_key(n.name)))


class _JobReader:
    """Parses the jobs CSV row by row; ``where`` is ``line N`` with the header as line 1."""

    def __init__(self, display: str, folder: Path, grid: TimeGrid) -> None:
        self.display, self.folder, self.grid = display, folder, grid

    def job(self, record: dict[str, str], line: int) -> Job:
        where = f"line {line}"
        get = {k: (v or "").strip() for k, v in record.items()}
        job_id = get["job_id"]
        if not JOB_ID_PATTERN.match(job_id):
            fail("bad_name", self.display, where, "job_id",
                 f"{job_id!r}: use letters, digits, '_', '.', '-' only")
        gpus = _csv_number(get["gpus"], self.display, where, "gpus", 1)
        if gpus != int(gpus):
            fail("bad_number", self.display, where, "gpus", "must be a whole number")
        duration = _csv_number(get["duration_h"], self.display, where, "duration_h", 0, True)
        release = self._time(get.get("release"), where, "release") or self.grid.start
        deadline = self._time(get.get("deadline"), where, "deadline")
        if deadline is None:
            # Default: the horizon end. A job released at or after it (tomorrow's queue) cannot
            # run in this horizon at all; it gets a window after its release so it loads and is
            # listed unplaced ("plan it in a later horizon"), as with an explicit deadline,
            # instead of failing on a deadline the user never wrote.
            deadline = max(self.grid.end, release + self.grid.slot)
        if deadline <= release:
            fail("deadline_before_release", self.display, where, "deadline",
                 f"deadline {deadline.isoformat()} is not after release {release.isoformat()}")
        priority = get.get("priority")
        priority_value = (_csv_number(priority, self.display, where, "priority", 0)
                          if priority else 1.0)
        depends = tuple(d.strip() for d in get.get("depends_on", "").split(";") if d.strip())
        script, command = get.get("script") or None, get.get("command") or None
        if script and command:
            fail("script_and_command", self.display, where, "command",
                 "give either script or command, not both")
        script_path = None
        if script:
            script_path = (self.folder / script).resolve()
            if not script_path.is_file():
                fail("missing_file", self.display, where, "script",
                     f"batch script {script!r} not found")
        data_gb = get.get("data_gb")
        data_value = _csv_number(data_gb, self.display, where, "data_gb", 0) if data_gb else 0.0
        limit = get.get("power_limit_w")
        limit_value = (_csv_number(limit, self.display, where, "power_limit_w", 0, True)
                       if limit else None)
        pinned_start = self._time(get.get("pinned_start"), where, "pinned_start")
        pinned_raw = get.get("pinned_nodes")
        if bool(pinned_start) != bool(pinned_raw):
            fail("pinned_incomplete", self.display, where,
                 "pinned_nodes" if pinned_start else "pinned_start",
                 "a pinned job needs both pinned_start and pinned_nodes")
        pinned_nodes = None
        if pinned_raw:
            try:
                pinned_nodes = tuple(hostlist.expand(pinned_raw))
            except hostlist.HostlistError as exc:
                fail("bad_hostlist", self.display, where, "pinned_nodes", str(exc))
            if not self.grid.is_boundary(pinned_start):
                fail("pinned_not_on_slot", self.display, where, "pinned_start",
                     f"{pinned_start.isoformat()} is not on a slot boundary")
        return Job(
            job_id=job_id, gpus=int(gpus), duration_h=duration, release=release,
            deadline=deadline, workload=get.get("workload") or "default",
            gpu_type=get.get("gpu_type") or None, site=get.get("site") or None,
            partition=get.get("partition") or None, priority=priority_value,
            depends_on=depends, script=script_path, command=command, data_gb=data_value,
            data_site=get.get("data_site") or None, pinned_start=pinned_start,
            pinned_nodes=pinned_nodes, power_limit_w=limit_value, line=line,
        )

    def _time(self, raw: str | None, where: str, field: str) -> datetime | None:
        return parse_time(raw, self.display, where, field) if raw else None


def _load_jobs(path: Path, grid: TimeGrid, edits: RawEdits | None = None) -> tuple[Job, ...]:
    display = _display(path)
    if not path.is_file():
        fail("missing_file", display, message="jobs file not found")
    frame = read_strict_csv(path, display)
    if edits is not None:
        frame = edits.edit_jobs(frame, display)
    _require_columns(frame, JOB_REQUIRED, display, JOB_REQUIRED + JOB_OPTIONAL)
    reader = _JobReader(display, path.parent, grid)
    jobs: dict[str, Job] = {}
    for line, record in _numbered(frame):
        job = reader.job(record, line)
        if job.job_id in jobs:
            fail("duplicate_name", display, f"line {line}", "job_id",
                 f"job {job.job_id!r} also on line {jobs[job.job_id].line}")
        jobs[job.job_id] = job
    return tuple(jobs.values())


def _check_references(scenario: Scenario, jobs_display: str) -> None:
    """Cross-entity checks: restrictions, workloads, dependencies, pinned placements."""
    site_names = {s.name for s in scenario.sites}
    type_names = {g.name for g in scenario.gpu_types}
    partitions = {n.partition for n in scenario.nodes if n.partition}
    for job in scenario.jobs:
        where = f"line {job.line}"
        for field, value, known, check in (
            ("site", job.site, site_names, "unknown_site"),
            ("data_site", job.data_site, site_names, "unknown_site"),
            ("gpu_type", job.gpu_type, type_names, "unknown_gpu_type"),
            ("partition", job.partition, partitions, "unknown_partition"),
        ):
            if value is not None and value not in known:
                fail(check, jobs_display, where, field,
                     f"{value!r} is not defined;{did_you_mean(value, known)} "
                     f"known: {', '.join(sorted(known)) or 'none'}")
        usable = [g for g in scenario.gpu_types if job.gpu_type in (None, g.name)]
        if not any(g.modes(job.workload) for g in usable):
            fail("unknown_workload", jobs_display, where, "workload",
                 f"no power curve has workload {job.workload!r}")
        if job.power_limit_w is not None and not any(
            g.mode(job.workload, job.power_limit_w) for g in usable
        ):
            fail("unknown_power_limit", jobs_display, where, "power_limit_w",
                 f"no curve row for workload {job.workload!r} at {job.power_limit_w:g} W")
        _check_whole_nodes(scenario, job, jobs_display)
        for dep in job.depends_on:
            if not scenario.has_job(dep):
                fail("unknown_dependency", jobs_display, where, "depends_on",
                     f"no job named {dep!r};"
                     f"{did_you_mean(dep, (j.job_id for j in scenario.jobs))} "
                     "separate several ids with ';'")
            if dep == job.job_id:
                fail("dependency_cycle", jobs_display, where, "depends_on",
                     "a job cannot depend on itself")
        if job.pinned:
            _check_pinned(scenario, job, jobs_display)
    _check_cycles(scenario, jobs_display)


def _check_whole_nodes(scenario: Scenario, job: Job, display: str) -> None:
    """A job above every usable node's GPU count must be a whole number of one node size.

    Why an input error and not an unplaced job: the contract states the rule for ``gpus``, and
    no cluster change short of new node sizes would ever place such a job, so the row itself
    is wrong. Only nodes the job's gpu_type, site and partition allow count; when none match,
    the job stays unplaced with a "no node matches" reason, as does a valid count that needs
    more whole nodes than a group has.
    """
    sizes = sorted({n.gpus for n in scenario.nodes
                    if job.gpu_type in (None, n.gpu_type) and job.site in (None, n.site)
                    and job.partition in (None, n.partition)})
    if not sizes or job.gpus <= sizes[-1] or any(job.gpus % s == 0 for s in sizes):
        return
    below = max(s * (job.gpus // s) for s in sizes)
    above = min(s * (job.gpus // s + 1) for s in sizes)
    fail("gpus_not_whole_nodes", display, f"line {job.line}", "gpus",
         f"{job.gpus} GPUs is more than one node holds and not a multiple of any node size "
         f"({'/'.join(map(str, sizes))} GPUs on the nodes it may use); a job above a node's "
         f"size takes whole nodes, so ask for {below} or {above} GPUs")


def _check_pinned(scenario: Scenario, job: Job, display: str) -> None:
    where = f"line {job.line}"
    for name in job.pinned_nodes or ():
        if not scenario.has_node(name):
            fail("unknown_node", display, where, "pinned_nodes",
                 f"no node named {name!r};"
                 f"{did_you_mean(name, (n.name for n in scenario.nodes))} "
                 "pin the job to nodes the scenario defines")
    nodes = [scenario.node(n) for n in job.pinned_nodes or ()]
    first = nodes[0]
    same_kind = all((n.site, n.gpu_type, n.gpus) == (first.site, first.gpu_type, first.gpus)
                    for n in nodes)
    need = rules.nodes_needed(job, first)
    if not same_kind or need is None or need[0] != len(set(nodes)) or len(set(nodes)) != len(nodes):
        fail("pinned_nodes_mismatch", display, where, "pinned_nodes",
             f"{job.gpus} GPUs need whole nodes of one site and GPU type; got "
             f"{len(nodes)} node(s) of {first.gpus} GPUs")
    if not rules.node_allowed(scenario, job, first):
        fail("pinned_nodes_mismatch", display, where, "pinned_nodes",
             "the pinned nodes do not satisfy the job's restrictions or curve")
    mode = rules.allowed_modes(job, scenario.gpu_type(first.gpu_type))[0]
    start = round(scenario.grid.offset_slots(job.pinned_start))
    end = start + rules.run_slots(scenario.grid, job, mode)
    if end <= 0 or start >= scenario.grid.n_slots or end > scenario.grid.n_slots:
        fail("pinned_outside_horizon", display, where, "pinned_start",
             f"the pinned run [{start}, {end}) in slots must overlap the horizon and end "
             f"inside it (0..{scenario.grid.n_slots})")


def _check_cycles(scenario: Scenario, display: str) -> None:
    state: dict[str, int] = {}
    for root in scenario.jobs:
        if state.get(root.job_id):
            continue
        stack = [(root.job_id, iter(root.depends_on))]
        state[root.job_id] = 1
        while stack:
            job_id, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[job_id] = 2
                stack.pop()
            elif state.get(child) == 1:
                cycle = [j for j, _ in stack]
                cycle = [*cycle[cycle.index(child):], child]
                fail("dependency_cycle", display, f"line {scenario.job(child).line}",
                     "depends_on", "cycle: " + " -> ".join(cycle))
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(scenario.job(child).depends_on)))


def load_scenario(path: str | Path, forecasts: SiteForecasts,
                  edits: RawEdits | None = None) -> Scenario:
    """Read and check a scenario; raises :class:`ScenarioError` on the first problem found.

    ``forecasts`` turns each site's ``forecast`` entry into its signals: the model reads no
    forecast itself, so whoever calls decides whether files or providers are reached
    (:func:`greenslot.forecasts.scenario_loading.load_scenario` injects both).
    ``edits`` (see :class:`RawEdits`) change the parsed inputs before they are checked.
    """
    source = resolve_scenario_path(path)
    display = _display(source)
    try:
        raw = yaml.load(source.read_text(encoding="utf-8-sig"), Loader=_UniqueKeyLoader)
    except _DuplicateKeyError as exc:
        fail("bad_yaml", display, f"line {exc.line}", exc.key,
             f"key appears twice in one mapping (first on line {exc.first_line}); keep one")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        row = f"line {mark.line + 1}" if mark else None
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        fail("bad_yaml", display, row, None,
             f"not valid YAML: {problem}; check indentation (spaces, no tabs) and quotes")
    except UnicodeDecodeError as exc:
        fail("bad_yaml", display, None, None,
             f"not UTF-8 text (byte {exc.start}); save the file as UTF-8")
    except OSError as exc:
        fail("missing_file", display, None, None, f"cannot read: {exc.strerror}")
    if not isinstance(raw, dict):
        fail("bad_yaml", display, None, None, "expected a mapping of keys (start, horizon, ...)")
    if edits is not None:
        raw = edits.edit_config(raw, display)
    reader = _YamlReader(display)
    data = reader.mapping(raw, None, TOP_KEYS, TOP_REQUIRED)
    start = reader.time(data["start"], None, "start")
    horizon = reader.duration(data["horizon"], None, "horizon")
    slot = reader.duration(data["slot"], None, "slot")
    if horizon % slot != pd.Timedelta(0):
        fail("horizon_not_multiple", display, None, "horizon",
             f"horizon {data['horizon']} is not a whole number of {data['slot']} slots")
    grid = TimeGrid(start=start, slot=slot.to_pytimedelta(), n_slots=int(horizon // slot))
    objective = _objective(data.get("objective"), reader)
    transfer = reader.number(data.get("transfer_kwh_per_gb", 0.0), None,
                             "transfer_kwh_per_gb", minimum=0)
    currency = None
    if data.get("currency") is not None:
        currency = reader.text(data["currency"], None, "currency")
        if not CURRENCY.fullmatch(currency):
            fail("bad_currency", display, None, "currency",
                 f"{currency!r} is not a three-letter ISO 4217 code such as USD, EUR or GBP")
    folder = source.parent
    sites, series, origins = _load_sites(data["sites"], reader, folder, grid, forecasts)
    gpu_types = _load_gpu_types(data["gpu_types"], reader, folder)
    nodes = _load_nodes(data["nodes"], reader, sites, gpu_types, grid)
    reservations = load_reservations(data.get("reservations"), reader, nodes)
    nodes = reserve_nodes(nodes, reservations, grid)
    jobs_path = folder / reader.text(data["jobs"], None, "jobs")
    jobs = _load_jobs(jobs_path, grid, edits)
    scenario = Scenario(
        name=str(data.get("name") or folder.name),
        source=source.resolve(),
        grid=grid,
        objective=objective,
        transfer_kwh_per_gb=transfer,
        sites=sites,
        gpu_types=gpu_types,
        nodes=nodes,
        jobs=jobs,
        series={k: v for k, v in series.items()},
        reservations=reservations,
        forecast_sources=origins,
        currency=currency,
    )
    _check_references(scenario, _display(jobs_path))
    return scenario


__all__ = ["RawEdits", "load_scenario", "parse_objective_weights", "parse_time",
           "resolve_scenario_path"]
