"""Load a scenario (contract section 1) into checked, immutable entities.

Configuration is parsed once here, at the edge: unknown keys and columns are errors, every value
is converted to its unit-bearing type, and each failure names file, row and field through a
named check (:mod:`greenslot.model.checks`).

Forecasts are the exception: reading files and asking providers is I/O of the layer above, so
the caller injects a :class:`~greenslot.model.forecast_spec.SiteForecasts` that turns each
site's ``forecast`` entry into per-slot signals. The model thus imports only itself.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import re
import shlex
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from greenslot.model import hostlist, limits, rules
from greenslot.model.checks import did_you_mean, fail
from greenslot.model.csvfile import read_strict_csv
from greenslot.model.durations import (
    DEFAULT_QUANTILE,
    GUARD_TO_LIMIT,
    DeadlineGuard,
    DurationHistory,
    DurationPolicy,
)
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
from greenslot.model.yamlfile import load_yaml

TOP_KEYS = {"name", "start", "horizon", "slot", "objective", "transfer_kwh_per_gb", "sites",
            "gpu_types", "nodes", "jobs", "reservations", "duration_quantile",
            "duration_history", "duration_deadline", "currency"}
CURRENCY = re.compile(r"[A-Z]{3}")
"""``currency``: an ISO 4217 code (USD, EUR, GBP), the unit of every ``price_per_mwh`` and so
of every cost; only reports and tables show it."""
TOP_REQUIRED = {"start", "horizon", "slot", "sites", "gpu_types", "nodes", "jobs"}
SITE_KEYS = {"name", "pue", "power_cap_kw", "power_down_idle", "forecast", "energy_budget_kwh",
             "carbon_budget_kg"}
SITE_REQUIRED = {"name", "forecast"}
GPU_KEYS = {"name", "gpu_idle_w", "power_curve"}
NODE_KEYS = {"names", "site", "gpu_type", "gpus", "idle_w", "partition", "unavailable", "cpus",
             "memory_mb", "wake_energy_kwh"}
NODE_REQUIRED = {"names", "site", "gpu_type", "gpus", "idle_w"}
WINDOW_KEYS = {"from", "to"}
CURVE_COLUMNS = ("workload", "power_limit_w", "power_w", "relative_throughput")
# Optional: the GPU clock that realises the mode; submit then sets it with --gpu-freq.
CURVE_OPTIONAL = ("gpu_freq_mhz",)
JOB_REQUIRED = ("job_id", "gpus", "duration_h")
JOB_OPTIONAL = ("release", "deadline", "workload", "gpu_type", "site", "partition", "priority",
                "depends_on", "script", "command", "data_gb", "data_site", "pinned_start",
                "pinned_nodes", "power_limit_w", "account", "qos", "mem", "cpus_per_task",
                "constraint", "sbatch_args", "duration_max_h", "user")
# Options greenslot writes itself from the plan: a job's sbatch_args may not set them.
RESERVED_SBATCH = ("--begin", "-b", "--nodelist", "-w", "--nodes", "-N", "--gres", "--gpus",
                   "-G", "--time", "-t", "--job-name", "-J", "--comment", "--dependency", "-d",
                   "--output", "-o", "--wrap", "--partition", "-p", "--hold", "-H",
                   "--parsable", "--account", "-A", "--qos", "-q", "--mem", "--cpus-per-task",
                   "-c", "--constraint", "-C", "--gpu-freq")
MEM_UNITS_MB = {"": 1, "K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}
# Past runs, for learning run-time uncertainty by workload (scenario key duration_history).
HISTORY_COLUMNS = ("workload", "duration_h", "actual_h")
# Written by ``ran --history`` (greenslot.analysis.run_history): which Slurm job and who ran it.
HISTORY_OPTIONAL_COLUMNS = ("slurm_job_id", "user")
JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9_.\-]+")  # used with fullmatch


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


class _YamlReader:
    """Typed access to a YAML mapping, failing with the file and a YAML path as the row."""

    def __init__(self, display: str) -> None:
        self.display = display

    def mapping(self, value: Any, where: str | None, keys: set[str],
                required: set[str]) -> dict:
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

    def number(self, value: Any, where: str | None, field: str,
               bound: limits.Bound) -> float:
        """A finite number inside ``bound``; YAML's ``.inf``/``.nan`` and huge ints refused."""
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not _finite(value)):
            fail("bad_number", self.display, where, field,
                 f"expected a finite number, got {_shown(value)}")
        return _in_bound(float(value), bound, self.display, where, field, repr(value))

    def whole(self, value: Any, where: str | None, field: str, bound: limits.Bound) -> int:
        """A whole number inside ``bound`` (``4.0`` reads as 4)."""
        number = self.number(value, where, field, bound)
        if number != int(number):
            fail("bad_number", self.display, where, field, "must be a whole number")
        return int(number)

    def text(self, value: Any, where: str | None, field: str,
             max_chars: int = limits.MAX_TEXT_CHARS) -> str:
        if not isinstance(value, str) or not value.strip():
            fail("bad_type", self.display, where, field,
                 f"expected text, got {_shown_short(value)}")
        if len(value.strip()) > max_chars:
            fail("too_large", self.display, where, field,
                 f"{len(value.strip())} characters; at most {max_chars}")
        return value.strip()

    def boolean(self, value: Any, where: str | None, field: str) -> bool:
        if not isinstance(value, bool):
            fail("bad_type", self.display, where, field, f"expected true or false, got {value!r}")
        return value

    def time(self, value: Any, where: str | None, field: str) -> datetime:
        return parse_time(value, self.display, where, field)

    def duration(self, value: Any, where: str | None, field: str) -> pd.Timedelta:
        # pandas reads a bare number as nanoseconds: "48" would silently be a 48 ns horizon.
        if isinstance(value, int | float) or re.fullmatch(r"\s*[-+]?[\d.]+\s*", str(value)):
            fail("bad_duration", self.display, where, field,
                 f"{_shown_short(value)} has no unit; write it like '48h' or '15min'")
        if not isinstance(value, str) or len(value) > 64:
            fail("bad_duration", self.display, where, field,
                 f"not a duration like '48h' or '15min': {_shown_short(value)}")
        try:
            delta = pd.Timedelta(value)
        except (pd.errors.OutOfBoundsTimedelta, OverflowError):
            fail("too_large", self.display, where, field,
                 f"{_shown_short(value)} is longer than any horizon (pandas ends in 2262)")
        except ValueError:
            fail("bad_duration", self.display, where, field,
                 f"not a duration like '48h' or '15min': {_shown_short(value)}")
        if delta <= pd.Timedelta(0):
            fail("bad_duration", self.display, where, field, "must be positive")
        return delta


def _finite(value: int | float) -> bool:
    """Finite as a float: a YAML int past 1e308 overflows float() and counts as not finite."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _in_bound(value: float, bound: limits.Bound, display: str, where: str | None,
              field: str, shown: str) -> float:
    if not bound.contains(value):
        fail("bad_number", display, where, field,
             f"{_short(shown)} is outside its bounds: must be {bound.describe()}")
    return value


def _short(text: str, chars: int = 60) -> str:
    """Text cut for a one-line message: a hostile value must not flood the terminal."""
    return text if len(text) <= chars else f"{text[:chars]}... ({len(text)} characters)"


def _shown(value: Any) -> str:
    """A YAML value as the user wrote it (YAML turns unquoted times into datetimes)."""
    return repr(value.isoformat()) if isinstance(value, datetime) else _shown_short(value)


def _shown_short(value: Any) -> str:
    """``repr`` of a scalar, or the type of a container: a nested value is never printed."""
    if isinstance(value, Mapping | list | tuple | set):
        return f"a {type(value).__name__}"
    return _short(repr(value))


def parse_time(value: Any, file: str, row: str | None, field: str) -> datetime:
    """An ISO 8601 time with a UTC offset, as a tz-aware UTC datetime."""
    if isinstance(value, datetime):
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, OverflowError):
            fail("time_out_of_range", file, row, field,
                 f"{_shown(value)} is outside {limits.EARLIEST.year}..{limits.LATEST.year - 1}")
    else:
        try:
            stamp = pd.Timestamp(str(value).strip())
        except (ValueError, OverflowError):
            # pandas raises OutOfBoundsDatetime (a ValueError) past 2262
            fail("bad_time", file, row, field,
                 f"not an ISO 8601 time between {limits.EARLIEST.year} and "
                 f"{limits.LATEST.year - 1}: {_shown_short(value)}")
    if stamp is pd.NaT:
        fail("bad_time", file, row, field, f"not an ISO 8601 time: {_shown_short(value)}")
    if stamp.tzinfo is None:
        fail("naive_time", file, row, field,
             f"time {_shown(value)} has no UTC offset; write it like 2022-06-14T01:00:00+00:00")
    # Times are kept to the microsecond, as Python's datetime holds them: finer digits are
    # dropped (floored) here, quietly, before the slot rounding (issue 17, item 15).
    when = stamp.tz_convert("UTC").floor("us").to_pydatetime()
    if not limits.time_in_range(when):
        fail("time_out_of_range", file, row, field,
             f"{when.isoformat()} is outside {limits.EARLIEST.year}..{limits.LATEST.year - 1}")
    return when


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
                 f"unknown weight {_shown_short(key)}; use carbon_kg, cost, energy_kwh, "
                 "carbon_price_per_tonne")
        bound = (limits.CARBON_PRICE_PER_TONNE if key == "carbon_price_per_tonne"
                 else limits.OBJECTIVE_WEIGHT)
        if (isinstance(weight, bool) or not isinstance(weight, int | float)
                or not _finite(weight) or not bound.contains(float(weight))):
            fail("bad_objective", display, None, f"objective.{key}",
                 f"weight must be a finite number {bound.describe()}, got "
                 f"{_shown_short(weight)}")
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
    require_columns(frame, CURVE_COLUMNS, display, CURVE_COLUMNS + CURVE_OPTIONAL)
    rows: dict[str, list[PowerMode]] = {}
    seen: set[tuple[str, float]] = set()
    for line, record in _numbered(frame):
        where = f"line {line}"
        workload = record["workload"].strip()
        if not workload:
            fail("bad_type", display, where, "workload", "workload name is empty")
        limit = _csv_number(record["power_limit_w"], display, where, "power_limit_w",
                            limits.CURVE_POWER_W)
        power = _csv_number(record["power_w"], display, where, "power_w", limits.CURVE_POWER_W)
        rel = _csv_number(record["relative_throughput"], display, where,
                          "relative_throughput", _POSITIVE)
        if rel > 1 + 1e-9:
            fail("bad_curve", display, where, "relative_throughput",
                 "must be <= 1 (relative to the workload's fastest row)")
        if (workload, limit) in seen:
            fail("bad_curve", display, where, "power_limit_w",
                 f"workload {workload!r} lists power limit {limit:g} W twice")
        seen.add((workload, limit))
        clock = (record.get("gpu_freq_mhz") or "").strip()
        clock_mhz = (_csv_number(clock, display, where, "gpu_freq_mhz", limits.CURVE_FREQ_MHZ)
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


def require_columns(frame: pd.DataFrame, required, display: str, known) -> None:
    """Every column of ``frame`` known (with a did-you-mean) and every ``required`` one there,
    or one ``unknown_column``/``missing_column`` line naming the file and the header."""
    for column in frame.columns:
        if column not in known:
            fail("unknown_column", display, "line 1", column,
                 f"unknown column;{did_you_mean(column, known)} allowed: {', '.join(known)}")
    for column in required:
        if column not in frame.columns:
            fail("missing_column", display, "line 1", column, "required column is missing")


_POSITIVE = limits.Bound(0.0, math.inf, low_open=True)  # relative_throughput (<= 1 checked apart)


def _csv_number(raw: str, display: str, where: str, field: str, bound: limits.Bound) -> float:
    try:
        value = float(raw)
    except ValueError:
        fail("bad_number", display, where, field, f"not a number: {_short(repr(raw))}")
    if math.isnan(value) or math.isinf(value):
        fail("bad_number", display, where, field, f"not a finite number: {_short(repr(raw))}")
    return _in_bound(value, bound, display, where, field, raw)


def _load_sites(raw: Any, reader: _YamlReader, folder: Path, grid: TimeGrid,
                forecasts: SiteForecasts):
    if not isinstance(raw, list) or not raw:
        fail("bad_type", reader.display, None, "sites", "expected a non-empty list of sites")
    sites, series, origins = [], {}, {}
    for i, item in enumerate(raw):
        where = f"sites[{i}]"
        data = reader.mapping(item, where, SITE_KEYS, SITE_REQUIRED)
        name = reader.text(data["name"], where, "name", limits.MAX_NAME_CHARS)
        if name in series:
            fail("duplicate_name", reader.display, where, "name", f"site {name!r} defined twice")
        pue = reader.number(data.get("pue", 1.0), where, "pue", limits.PUE)
        cap = data.get("power_cap_kw")
        cap_kw = (None if cap is None
                  else reader.number(cap, where, "power_cap_kw", limits.POWER_CAP_KW))
        down = reader.boolean(data.get("power_down_idle", False), where, "power_down_idle")
        signals = forecasts.site_signals(SiteForecastRequest(
            site=name, forecast=data["forecast"], scenario=reader.display, where=where,
            folder=folder, grid=grid, shown=_display))
        series[name], origins[name] = signals.series, signals.sources
        budgets = {key: None if data.get(key) is None
                   else reader.number(data[key], where, key, bound)
                   for key, bound in (("energy_budget_kwh", limits.ENERGY_BUDGET_KWH),
                                      ("carbon_budget_kg", limits.CARBON_BUDGET_KG))}
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
        name = reader.text(data["name"], where, "name", limits.MAX_NAME_CHARS)
        if name in types:
            fail("duplicate_name", reader.display, where, "name", f"GPU type {name!r} twice")
        idle = reader.number(data["gpu_idle_w"], where, "gpu_idle_w", limits.GPU_IDLE_W)
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
            names = hostlist.expand(data["names"], limit=limits.MAX_NODES - len(nodes))
        except hostlist.TooManyHostsError:
            fail("bad_hostlist", reader.display, where, "names",
                 f"the node groups name more than {limits.MAX_NODES} nodes in all")
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
        gpus = reader.whole(data["gpus"], where, "gpus", limits.NODE_GPUS)
        idle = reader.number(data["idle_w"], where, "idle_w", limits.NODE_IDLE_W)
        partition = data.get("partition")
        partition = None if partition is None else reader.text(partition, where, "partition")
        unavailable = _unavailable_slots(data.get("unavailable"), reader, where, grid)
        declared = {key: reader.whole(data[key], where, key, bound)
                    for key, bound in (("cpus", limits.NODE_CPUS),
                                       ("memory_mb", limits.NODE_MEMORY_MB))
                    if data.get(key) is not None}
        wake_kwh = (0.0 if data.get("wake_energy_kwh") is None else
                    reader.number(data["wake_energy_kwh"], where, "wake_energy_kwh",
                                  limits.NODE_WAKE_ENERGY_KWH))
        for name in names:
            if name in nodes:
                fail("duplicate_name", reader.display, where, "names", f"node {name!r} twice")
            nodes[name] = Node(name, site, gpu_type, gpus, idle, partition, unavailable,
                               **declared, wake_energy_kwh=wake_kwh)
    return tuple(sorted(nodes.values(), key=lambda n: hostlist.natural_key(n.name)))


class _JobReader:
    """Parses the jobs CSV row by row; ``where`` is ``line N`` with the header as line 1.

    Why the caches: a queue of 200,000 jobs has a few thousand distinct times and numbers and
    a handful of scripts and pinned hostlists. Parsing a time costs ~20 us and resolving a
    script path ~300 us, so each distinct text is parsed (and range-checked) once per field; a
    failure is never cached, so it is raised for the first row that has it, naming that row,
    exactly as without the cache.
    """

    def __init__(self, display: str, folder: Path, grid: TimeGrid) -> None:
        self.display, self.folder, self.grid = display, folder, grid
        self._times: dict[str, datetime] = {}
        self._numbers: dict[tuple[str, str], float] = {}
        self._scripts: dict[str, Path] = {}
        self._hostlists: dict[str, tuple[str, ...]] = {}

    def job(self, get: dict[str, str], line: int) -> Job:
        """One row's job; ``get`` maps every column to its stripped cell text."""
        where = f"line {line}"
        job_id = get["job_id"]
        if not JOB_ID_PATTERN.fullmatch(job_id) or len(job_id) > limits.MAX_NAME_CHARS:
            fail("bad_name", self.display, where, "job_id",
                 f"{_short(repr(job_id))}: use letters, digits, '_', '.', '-' only, at most "
                 f"{limits.MAX_NAME_CHARS} of them")
        gpus = self._number(get["gpus"], where, "gpus", limits.JOB_GPUS)
        if gpus != int(gpus):
            fail("bad_number", self.display, where, "gpus", "must be a whole number")
        duration = self._number(get["duration_h"], where, "duration_h", limits.JOB_DURATION_H)
        if duration < limits.MIN_JOB_DURATION_H:
            fail("bad_number", self.display, where, "duration_h",
                 f"{_short(get['duration_h'])} h is shorter than a second, the shortest run "
                 "Slurm can time")
        top = get.get("duration_max_h")
        top_value = None
        if top:
            top_value = self._number(top, where, "duration_max_h", limits.JOB_DURATION_H)
            if top_value < duration:
                fail("bad_number", self.display, where, "duration_max_h",
                     f"the upper estimate {top_value:g} h is below duration_h {duration:g} h; "
                     "give the longest the job may run at its fastest mode")
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
        priority_value = (self._number(priority, where, "priority", limits.JOB_PRIORITY)
                          if priority else 1.0)
        depends = tuple(d.strip() for d in get.get("depends_on", "").split(";") if d.strip())
        script, command = get.get("script") or None, get.get("command") or None
        if script and command:
            fail("script_and_command", self.display, where, "command",
                 "give either script or command, not both")
        script_path = self._script(script, where) if script else None
        data_gb = get.get("data_gb")
        data_value = (self._number(data_gb, where, "data_gb", limits.JOB_DATA_GB)
                      if data_gb else 0.0)
        limit = get.get("power_limit_w")
        limit_value = (self._number(limit, where, "power_limit_w", limits.JOB_POWER_LIMIT_W)
                       if limit else None)
        pinned_start = self._time(get.get("pinned_start"), where, "pinned_start")
        pinned_raw = get.get("pinned_nodes")
        if bool(pinned_start) != bool(pinned_raw):
            fail("pinned_incomplete", self.display, where,
                 "pinned_nodes" if pinned_start else "pinned_start",
                 "a pinned job needs both pinned_start and pinned_nodes")
        pinned_nodes = None
        if pinned_raw:
            pinned_nodes = self._pinned(pinned_raw, where)
            if pinned_start is not None and not self.grid.is_boundary(pinned_start):
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
            **self._slurm_options(get, where),
            duration_max_h=top_value, user=(get.get("user") or "").strip() or None,
        )

    def _slurm_options(self, get: dict[str, str], where: str) -> dict:
        """``account``, ``qos``, ``constraint``, ``cpus_per_task``, ``mem`` and ``sbatch_args``."""
        options: dict = {k: get.get(k) or None for k in ("account", "qos", "constraint")}
        cpus = get.get("cpus_per_task")
        if cpus:
            value = self._number(cpus, where, "cpus_per_task", limits.JOB_CPUS_PER_TASK)
            if value != int(value):
                fail("bad_number", self.display, where, "cpus_per_task", "must be a whole number")
            options["cpus_per_task"] = int(value)
        mem = get.get("mem")
        if mem:
            match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)B?", mem.upper())
            if match is None or float(match.group(1)) <= 0:
                fail("bad_number", self.display, where, "mem",
                     f"{mem!r}: give memory per node as Slurm does, e.g. 64G or 16000M")
            options["mem_mb"] = math.ceil(float(match.group(1)) * MEM_UNITS_MB[match.group(2)])
        raw_args = get.get("sbatch_args")
        if raw_args:
            try:
                args = tuple(shlex.split(raw_args))
            except ValueError as exc:
                fail("bad_sbatch_arg", self.display, where, "sbatch_args", f"{exc}")
            for arg in args:
                name = arg.split("=", 1)[0]
                if not arg.startswith("-") or name in RESERVED_SBATCH or (
                        len(name) > 2 and not name.startswith("--")
                        and name[:2] in RESERVED_SBATCH):
                    fail("bad_sbatch_arg", self.display, where, "sbatch_args",
                         f"{arg!r}: give options as --name=value; greenslot sets "
                         "--begin, --nodelist, --gres, --time, --job-name, --comment, "
                         "--dependency, --partition and the account/qos/mem/cpus/constraint "
                         "columns itself")
            options["sbatch_args"] = args
        return options

    def _number(self, raw: str, where: str, field: str, bound: limits.Bound) -> float:
        value = self._numbers.get((field, raw))
        if value is None:
            value = self._numbers[field, raw] = _csv_number(raw, self.display, where, field,
                                                            bound)
        return value

    def _time(self, raw: str | None, where: str, field: str) -> datetime | None:
        if not raw:
            return None
        when = self._times.get(raw)
        if when is None:
            when = self._times[raw] = parse_time(raw, self.display, where, field)
        return when

    def _script(self, script: str, where: str) -> Path:
        path = self._scripts.get(script)
        if path is None:
            path = (self.folder / script).resolve()
            if not path.is_file():
                fail("missing_file", self.display, where, "script",
                     f"batch script {_short(repr(script))} not found")
            self._scripts[script] = path
        return path

    def _pinned(self, raw: str, where: str) -> tuple[str, ...]:
        if raw not in self._hostlists:
            try:
                self._hostlists[raw] = tuple(hostlist.expand(raw))
            except hostlist.HostlistError as exc:
                fail("bad_hostlist", self.display, where, "pinned_nodes", str(exc))
        return self._hostlists[raw]


def _load_jobs(path: Path, grid: TimeGrid, edits: RawEdits | None = None) -> tuple[Job, ...]:
    display = _display(path)
    if not path.is_file():
        fail("missing_file", display, message="jobs file not found")
    frame = read_strict_csv(path, display)
    if edits is not None:
        frame = edits.edit_jobs(frame, display)
    require_columns(frame, JOB_REQUIRED, display, JOB_REQUIRED + JOB_OPTIONAL)
    reader = _JobReader(display, path.parent, grid)
    # pandas deep-copies attrs into every column it hands out: 200,000 line numbers per access.
    lines = frame.attrs.pop("lines")
    names = list(frame.columns)
    columns = [[(v or "").strip() for v in frame[name].tolist()] for name in names]
    jobs: dict[str, Job] = {}
    with _no_cycle_collection():
        for line, cells in zip(lines, zip(*columns, strict=True), strict=True):
            job = reader.job(dict(zip(names, cells, strict=True)), line)
            if job.job_id in jobs:
                fail("duplicate_name", display, f"line {line}", "job_id",
                     f"job {job.job_id!r} also on line {jobs[job.job_id].line}")
            jobs[job.job_id] = job
    return tuple(jobs.values())


def load_duration_history(path: Path) -> DurationHistory:
    """Past runs (CSV ``workload, duration_h, actual_h``) as ratios by workload.

    ``duration_h`` is what the run declared, ``actual_h`` how long it really ran, both at the
    fastest mode (hours, > 0). Why ratios: a workload's jobs differ in size, but how far their
    real run times stray from the declared one is what carries over to a new job.
    """
    display = _display(path)
    if not path.is_file():
        fail("missing_file", display, message="duration history file not found")
    frame = read_strict_csv(path, display)
    require_columns(frame, HISTORY_COLUMNS, display, HISTORY_COLUMNS + HISTORY_OPTIONAL_COLUMNS)
    ratios: dict[str, list[float]] = {}
    by_user: dict[tuple[str, str], list[float]] = {}
    for line, record in _numbered(frame):
        where = f"line {line}"
        workload = (record["workload"] or "").strip()
        if not workload:
            fail("bad_type", display, where, "workload", "workload name is empty")
        declared = _csv_number(record["duration_h"], display, where, "duration_h",
                               limits.JOB_DURATION_H)
        actual = _csv_number(record["actual_h"], display, where, "actual_h", limits.JOB_DURATION_H)
        ratios.setdefault(workload, []).append(actual / declared)
        user = (record.get("user") or "").strip()
        if user:
            by_user.setdefault((user, workload), []).append(actual / declared)
    return DurationHistory({w: tuple(sorted(r)) for w, r in ratios.items()}, display,
                           {k: tuple(sorted(r)) for k, r in by_user.items()})


def _duration_policy(data: dict, reader: _YamlReader, folder: Path) -> DurationPolicy:
    """``duration_quantile``, ``duration_history`` and ``duration_deadline``
    (:mod:`greenslot.model.durations`)."""
    quantile = DEFAULT_QUANTILE
    if data.get("duration_quantile") is not None:
        quantile = reader.number(data["duration_quantile"], None, "duration_quantile",
                                 limits.DURATION_QUANTILE)
    history = None
    if data.get("duration_history") is not None:
        history = load_duration_history(
            folder / reader.text(data["duration_history"], None, "duration_history"))
    deadline = data.get("duration_deadline", GUARD_TO_LIMIT)
    guard: DeadlineGuard
    if deadline == "upper":
        guard = 1.0
    elif deadline == "reserved":
        guard = None
    elif deadline == GUARD_TO_LIMIT:
        guard = GUARD_TO_LIMIT
    elif isinstance(deadline, int | float) and not isinstance(deadline, bool) \
            and 0.5 <= deadline <= 1:
        guard = float(deadline)
    else:
        fail("bad_type", reader.display, None, "duration_deadline",
             "expected upper (the upper estimate meets the deadline), limit (the time "
             "limit does), reserved, or a quantile between 0.5 and 1; got "
             f"{deadline!r}")
    return DurationPolicy(quantile, history, guard)


def _uncertain_jobs(policy: DurationPolicy, jobs: tuple[Job, ...]) -> tuple[Job, ...]:
    """Jobs with their upper estimates and reserved lengths, as ``policy`` says."""
    if policy.history is None and all(j.duration_max_h is None for j in jobs):
        return jobs
    return tuple(policy.apply(j) for j in jobs)

@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector while a big queue's rows become jobs.

    Why: every few hundred new objects the collector scans the survivors, and 200,000 jobs
    with their times and tuples are millions of survivors: a quarter of the load time went
    there. Jobs hold no reference cycles, so nothing is left for it to find; it resumes (as it
    was) afterwards, error or not.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _check_references(scenario: Scenario, jobs_display: str) -> None:
    """Cross-entity checks: restrictions, workloads, dependencies, pinned placements."""
    site_names = {s.name for s in scenario.sites}
    type_names = {g.name for g in scenario.gpu_types}
    partitions = {n.partition for n in scenario.nodes if n.partition}
    # Per distinct (gpu_type, workload, power limit) and (gpu_type, site, partition): a big
    # queue repeats a few of each, and scanning GPU types and nodes once per job made loading
    # 200,000 jobs on a large cluster take minutes.
    curve_ok: dict[tuple, tuple[bool, bool]] = {}
    node_sizes: dict[tuple, list[int]] = {}
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
        key = (job.gpu_type, job.workload, job.power_limit_w)
        if key not in curve_ok:
            usable = [g for g in scenario.gpu_types if job.gpu_type in (None, g.name)]
            curve_ok[key] = (any(g.modes(job.workload) for g in usable),
                             job.power_limit_w is None
                             or any(g.mode(job.workload, job.power_limit_w) for g in usable))
        has_workload, has_limit = curve_ok[key]
        if not has_workload:
            fail("unknown_workload", jobs_display, where, "workload",
                 f"no power curve has workload {_short(repr(job.workload))}")
        if not has_limit:
            fail("unknown_power_limit", jobs_display, where, "power_limit_w",
                 f"no curve row for workload {job.workload!r} at {job.power_limit_w:g} W")
        restriction = (job.gpu_type, job.site, job.partition)
        if restriction not in node_sizes:
            node_sizes[restriction] = sorted({
                n.gpus for n in scenario.nodes
                if job.gpu_type in (None, n.gpu_type) and job.site in (None, n.site)
                and job.partition in (None, n.partition)})
        _check_whole_nodes(node_sizes[restriction], job, jobs_display)
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


def _check_whole_nodes(sizes: list[int], job: Job, display: str) -> None:
    """A job above every usable node's GPU count must be a whole number of one node size.

    Why an input error and not an unplaced job: the contract states the rule for ``gpus``, and
    no cluster change short of new node sizes would ever place such a job, so the row itself
    is wrong. Only nodes the job's gpu_type, site and partition allow count; when none match,
    the job stays unplaced with a "no node matches" reason, as does a valid count that needs
    more whole nodes than a group has. ``sizes``: the GPU counts of those nodes, ascending.
    """
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
    start = round(scenario.grid.offset_slots(job.pinned_placement()[0]))
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


def _scenario_name(value: Any, folder: Path, reader: _YamlReader) -> str:
    """``name:`` as text (a bare number like ``2026`` is read as its text), else the folder's.

    Why checked: the name travels into every job's Slurm comment and summary.json, so a list
    (an alias bomb's favourite shape) or a megabyte of text must stop here.
    """
    if value is None or value == "":
        return folder.name
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    return reader.text(value, None, "name", limits.MAX_NAME_CHARS)


def _grid(start: datetime, horizon: pd.Timedelta, slot: pd.Timedelta, data: dict,
          display: str) -> TimeGrid:
    """The time grid, with the slot count and the horizon's end inside their limits."""
    if slot < limits.MIN_SLOT:
        fail("bad_duration", display, None, "slot",
             f"{data['slot']} is shorter than {limits.MIN_SLOT.total_seconds():g} s, the "
             "resolution Slurm schedules at")
    if horizon % slot != pd.Timedelta(0):
        fail("horizon_not_multiple", display, None, "horizon",
             f"horizon {_short(str(data['horizon']))} is not a whole number of "
             f"{_short(str(data['slot']))} slots")
    n_slots = int(horizon // slot)
    if n_slots > limits.MAX_SLOTS:
        fail("too_large", display, None, "horizon",
             f"{n_slots} slots of {data['slot']}; at most {limits.MAX_SLOTS}: use longer slots "
             "or a shorter horizon")
    if not limits.time_in_range(start + horizon.to_pytimedelta()):
        fail("time_out_of_range", display, None, "horizon",
             f"the horizon ends after {limits.LATEST.isoformat()}")
    return TimeGrid(start=start, slot=slot.to_pytimedelta(), n_slots=n_slots)


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
        text = source.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        fail("bad_yaml", display, None, None,
             f"not UTF-8 text (byte {exc.start}); save the file as UTF-8")
    except OSError as exc:
        fail("missing_file", display, None, None, f"cannot read: {exc.strerror}")
    raw = load_yaml(text, display)
    if not isinstance(raw, dict):
        fail("bad_yaml", display, None, None, "expected a mapping of keys (start, horizon, ...)")
    if edits is not None:
        raw = edits.edit_config(raw, display)
    reader = _YamlReader(display)
    data = reader.mapping(raw, None, TOP_KEYS, TOP_REQUIRED)
    start = reader.time(data["start"], None, "start")
    horizon = reader.duration(data["horizon"], None, "horizon")
    slot = reader.duration(data["slot"], None, "slot")
    grid = _grid(start, horizon, slot, data, display)
    objective = _objective(data.get("objective"), reader)
    transfer = reader.number(data.get("transfer_kwh_per_gb", 0.0), None,
                             "transfer_kwh_per_gb", limits.TRANSFER_KWH_PER_GB)
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
    if len(nodes) * grid.n_slots > limits.MAX_NODE_SLOTS:
        fail("too_large", display, None, "nodes",
             f"{len(nodes)} nodes x {grid.n_slots} slots is more than "
             f"{limits.MAX_NODE_SLOTS:,} node-slots; use longer slots, a shorter horizon or "
             "fewer nodes")
    reservations = load_reservations(data.get("reservations"), reader, nodes)
    nodes = reserve_nodes(nodes, reservations, grid)
    jobs_path = folder / reader.text(data["jobs"], None, "jobs")
    policy = _duration_policy(data, reader, folder)
    jobs = _uncertain_jobs(policy, _load_jobs(jobs_path, grid, edits))
    scenario = Scenario(
        name=_scenario_name(data.get("name"), folder, reader),
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
        duration_policy=policy,
    )
    _check_references(scenario, _display(jobs_path))
    return scenario


__all__ = ["RawEdits", "load_duration_history", "load_scenario", "parse_objective_weights",
           "parse_time", "resolve_scenario_path"]
