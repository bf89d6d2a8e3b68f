"""``KEY=VALUE`` overrides of a scenario's inputs, and loading a scenario with them.

Keys address what the scenario files hold:

``objective``, ``horizon``, ``start``, ``slot``, ``transfer_kwh_per_gb``, ``name``,
``duration_quantile``, ``duration_history``, ``duration_deadline``
    top-level YAML keys;
``objective.<weight>``
    one weight (``carbon_kg``, ``cost``, ``energy_kwh``, ``carbon_price_per_tonne``) added to
    the scenario's objective (a named objective such as ``cost`` becomes ``{cost: 1}`` first);
``sites.<name>.<key>``, ``gpu_types.<name>.<key>``
    a key of one site or GPU type;
``nodes.<name>.<key>``
    a key of one node (split out of its hostlist group) or of a group written as in the YAML;
``jobs.<job_id>.<column>``
    one cell of the jobs CSV.

YAML keys take YAML values (``30``, ``null`` to remove a key, ``{cost: 1}``); job cells take
the text as written in the CSV. ``nodes.<name>.unavailable`` also takes ``true`` (down for the
whole horizon), ``false`` (no window) or ``FROM/TO`` (one window).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd

from greenslot.forecasts.provider_entry import ForecastSource
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model import hostlist
from greenslot.model.checks import fail
from greenslot.model.errors import Location, ScenarioError
from greenslot.model.loader import (
    GPU_KEYS,
    JOB_OPTIONAL,
    JOB_REQUIRED,
    NODE_KEYS,
    SITE_KEYS,
)
from greenslot.model.scenario import Scenario
from greenslot.model.yamlfile import load_yaml

TOP_LEVEL = ("name", "start", "horizon", "slot", "objective", "transfer_kwh_per_gb",
             "duration_quantile", "duration_history", "duration_deadline")
WEIGHTS = ("carbon_kg", "cost", "energy_kwh", "carbon_price_per_tonne")
KEY_PATTERN = re.compile(r"[A-Za-z0-9_.\-\[\],]+")  # fullmatch: "$" would pass a final "\n"


@dataclass(frozen=True)
class Override:
    """One edit: ``key`` (dotted path) set to ``text`` (the value as the user typed it).

    ``flag`` is the option it came from (``--set`` or ``--vary``), used to name it in errors.
    """

    key: str
    text: str
    flag: str = "--set"

    @property
    def label(self) -> str:
        """``--set KEY=VALUE`` as errors name it; a long value is cut (it may be hostile)."""
        text = self.text if len(self.text) <= 80 else f"{self.text[:80]}...({len(self.text)})"
        key = self.key if len(self.key) <= 80 else f"{self.key[:80]}...({len(self.key)})"
        return f"{self.flag} {key}={text}"

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]

    def target(self) -> tuple[str | None, str]:
        """``(name, field)``: the entity named between section and field, and the field."""
        parts = self.key.split(".")
        if len(parts) == 1:
            return None, parts[0]
        if self.section == "objective":
            return None, ".".join(parts[1:])
        return ".".join(parts[1:-1]), parts[-1]

    def yaml_value(self) -> Any:
        """The value read as YAML (``null`` and an empty value remove the key)."""
        if not self.text.strip():
            return None
        try:
            return load_yaml(self.text, self.label)
        except ScenarioError as exc:
            if exc.check != "bad_yaml":
                raise  # too_large: an alias bomb or deep nesting on the command line
            self.fail("not a YAML value; quote text, write lists as [a, b], maps as {k: v}")

    def fail(self, message: str) -> NoReturn:
        fail("bad_override", self.label, message=message)


def parse_override(text: str, flag: str = "--set") -> Override:
    """Read ``KEY=VALUE``; the key's shape is checked here, the names when it is applied."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        fail("bad_override", f"{flag} {text}", message="expected KEY=VALUE")
    override = Override(key, value.strip(), flag)
    if not KEY_PATTERN.fullmatch(key) or "" in key.split("."):
        override.fail("a key is dotted names, like sites.<name>.power_cap_kw")
    parts = key.split(".")
    section = parts[0]
    if len(parts) == 1:
        if section not in TOP_LEVEL:
            override.fail(f"unknown key; use one of {', '.join(TOP_LEVEL)}, or "
                          "sites.<name>.<key>, gpu_types.<name>.<key>, nodes.<name>.<key>, "
                          "jobs.<job_id>.<column>, objective.<weight>")
        return override
    if section == "objective":
        if len(parts) != 2 or parts[1] not in WEIGHTS:
            override.fail(f"objective.<weight> takes one of {', '.join(WEIGHTS)}")
        return override
    fields = {"sites": SITE_KEYS - {"name"}, "gpu_types": GPU_KEYS - {"name"},
              "nodes": NODE_KEYS - {"names"},
              "jobs": set(JOB_REQUIRED + JOB_OPTIONAL) - {"job_id"}}
    if section not in fields or len(parts) < 3:
        override.fail("expected sites.<name>.<key>, gpu_types.<name>.<key>, "
                      "nodes.<name>.<key>, jobs.<job_id>.<column> or objective.<weight>")
    if parts[-1] not in fields[section]:
        override.fail(f"unknown {section} field {parts[-1]!r}; allowed: "
                      f"{', '.join(sorted(fields[section]))}")
    return override


class OverrideEdits:
    """Applies overrides to the raw inputs (:class:`greenslot.model.loader.RawEdits`).

    Records where each edited value sits (file, YAML path or CSV line, field) so that a check
    failing on it can be reported against the override rather than the untouched file.
    """

    def __init__(self, overrides: Sequence[Override]) -> None:
        self.overrides = tuple(overrides)
        self.touched: list[tuple[Override, str, str | None, str]] = []

    def edit_config(self, config: dict, display: str) -> dict:
        config = copy.deepcopy(config)
        for override in self.overrides:
            if override.section == "jobs":
                continue
            name, field = override.target()
            if override.section == "objective" and name is None and field != "objective":
                self._set_weight(config, override, field)
                self.touched.append((override, display, None, "objective"))
            elif name is None:
                _put(config, field, override.yaml_value())
                self.touched.append((override, display, None, field))
            else:
                row = self._entity(config, override, name)
                self.touched.append((override, display, row, field))

        return config

    def edit_jobs(self, frame: pd.DataFrame, display: str) -> pd.DataFrame:
        edits = [o for o in self.overrides if o.section == "jobs"]
        if not edits:
            return frame
        lines = frame.attrs.get("lines", [])
        frame = frame.copy()
        frame.attrs["lines"] = lines
        for override in edits:
            job_id, column = override.target()
            rows = [i for i, value in enumerate(frame["job_id"]) if value == job_id] \
                if "job_id" in frame.columns else []
            if not rows:
                override.fail(f"no job {job_id!r} in {display}")
            if column not in frame.columns:
                frame[column] = ""
            frame.loc[frame.index[rows[0]], column] = override.text
            self.touched.append((override, display, f"line {lines[rows[0]]}", column))
        return frame

    @staticmethod
    def _set_weight(config: dict, override: Override, weight: str) -> None:
        current = config.get("objective", "carbon")
        if current is None:
            current = "carbon"
        if isinstance(current, str):
            named = {"carbon": "carbon_kg", "cost": "cost", "energy": "energy_kwh"}
            current = {named[current]: 1} if current in named else current
        if not isinstance(current, dict):
            override.fail(f"the scenario's objective {current!r} is not a weight mapping")
        value = override.yaml_value()
        current = dict(current)
        if value is None:
            current.pop(weight, None)
        else:
            if weight == "carbon_price_per_tonne":
                current.pop("carbon_kg", None)
            if weight == "carbon_kg":
                current.pop("carbon_price_per_tonne", None)
            current[weight] = value
        config["objective"] = current

    def _entity(self, config: dict, override: Override, name: str) -> str:
        """Edit the named site, GPU type or node; return its YAML path for error matching."""
        section, field = override.section, override.target()[1]
        items = config.get(section)
        if not isinstance(items, list):
            override.fail(f"the scenario has no list of {section}")
        if section == "nodes":
            index = _node_group(items, name, override)
        else:
            found = [i for i, item in enumerate(items)
                     if isinstance(item, dict) and str(item.get("name")) == name]
            if not found:
                known = ", ".join(str(i.get("name")) for i in items if isinstance(i, dict))
                override.fail(f"no {section[:-1].replace('_', ' ')} named {name!r}; "
                              f"known: {known}")
            index = found[0]
        value = override.yaml_value()
        if section == "nodes" and field == "unavailable":
            value = _windows(value, config, override)
        _put(items[index], field, value)
        return f"{section}[{index}]"


def _put(mapping: dict, key: str, value: Any) -> None:
    if value is None:
        mapping.pop(key, None)
    else:
        mapping[key] = value


def _node_group(groups: list, name: str, override: Override) -> int:
    """Index of the group to edit: the group written as ``name``, or ``name`` split out."""
    for i, group in enumerate(groups):
        if isinstance(group, dict) and str(group.get("names")) == name:
            return i
    for i, group in enumerate(groups):
        if not isinstance(group, dict) or not isinstance(group.get("names"), str | list):
            continue
        try:
            members = hostlist.expand(group["names"])
        except hostlist.HostlistError:
            continue
        if name in members:
            rest = [m for m in members if m != name]
            if not rest:
                return i
            group["names"] = hostlist.compress(rest)
            groups.append({**copy.deepcopy(group), "names": name})
            return len(groups) - 1
    override.fail(f"no node named {name!r}")


def _windows(value: Any, config: dict, override: Override) -> Any:
    """``true``/``false``/``FROM/TO``/one mapping as the list of windows the YAML holds."""
    if value is False:
        return []
    if value is True:
        try:
            start = pd.Timestamp(str(config["start"]))
            end = start + pd.Timedelta(str(config["horizon"]))
        except (KeyError, ValueError):
            override.fail("true needs the scenario's start and horizon to be readable")
        return [{"from": start.isoformat(), "to": end.isoformat()}]
    if isinstance(value, str) and "/" in value:
        begin, _, until = value.partition("/")
        return [{"from": begin.strip(), "to": until.strip()}]
    if isinstance(value, dict):
        return [value]
    return value


def _matches(location: Location, display: str, row: str | None, field: str) -> bool:
    if location.file != display:
        return False
    if location.row == row:
        return location.field is not None and (
            location.field == field or location.field.startswith(f"{field}."))
    prefix = f"{row}.{field}" if row else field
    return location.row is not None and (location.row == prefix
                                         or location.row.startswith((f"{prefix}[", f"{prefix}.")))


def recorded_overrides(plan_dir: str | Path) -> list[Override]:
    """The overrides a written plan records in ``summary.json`` (none when unreadable: the
    plan reader reports a broken folder with its own error)."""
    try:
        summary = json.loads((Path(plan_dir) / "summary.json").read_text())
    except (OSError, ValueError):
        return []
    recorded = summary.get("overrides") if isinstance(summary, dict) else None
    if not isinstance(recorded, dict):
        return []
    return [parse_override(f"{key}={value}", flag="recorded --set")
            for key, value in recorded.items()]


def load_with_overrides(path: str | Path, overrides: Sequence[Override],
                        forecast_source: ForecastSource | None = None) -> Scenario:
    """:func:`load_scenario` with ``overrides`` applied; the scenario records them.

    ``forecast_source`` resolves sites' provider entries (see :func:`load_scenario`).

    A check that fails on an overridden value names the override (``--set KEY=VALUE: ...``);
    any other failure says which overrides were in force.
    """
    if not overrides:
        return load_scenario(path, forecast_source=forecast_source)
    edits = OverrideEdits(overrides)
    try:
        scenario = load_scenario(path, edits, forecast_source)
    except ScenarioError as exc:
        if exc.check == "bad_override":
            raise
        for override, display, row, field in reversed(edits.touched):
            if _matches(exc.location, display, row, field):
                raise ScenarioError(exc.check, Location(override.label), exc.message) from None
        labels = ", ".join(o.label for o in overrides)
        raise ScenarioError(exc.check, exc.location, f"{exc.message} (with {labels})") from None
    return scenario.replace(overrides=tuple((o.key, o.text) for o in overrides))
