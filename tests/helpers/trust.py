"""Small fixture builders for the trust tests: a scenario as mutable plain data.

A case edits the data (a key, a cell, a whole file as raw text or bytes), then
:meth:`Data.write` lays it out on disk exactly as a user would, so the real loader and CLI run on
it. The check catalogue (``tests/model/test_input_checks.py``), the bad-input corpus and the
hostile cases all build on this one class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tests.helpers.scenarios import START, base_config, base_curve, hourly_forecast, write_scenario

FORECAST = "forecast-s1.csv"
CURVE = "curve-g.csv"


@dataclass
class Data:
    """A scenario as plain data, plus raw file overrides for input that is broken as text."""

    config: dict[str, Any] = field(default_factory=base_config)
    jobs: list[dict[str, Any]] = field(
        default_factory=lambda: [{"job_id": "a", "gpus": 1, "duration_h": 1}])
    forecasts: dict[str, list[dict]] = field(
        default_factory=lambda: {FORECAST: hourly_forecast([100, 200, 50, 300, 300])})
    curves: dict[str, list[dict]] = field(default_factory=lambda: {CURVE: base_curve()})
    raw: dict[str, str | bytes] = field(default_factory=dict)
    append: dict[str, str] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)

    def write(self, folder: Path) -> Path:
        path = write_scenario(folder, self.config, self.jobs, self.forecasts, self.curves)
        for name in self.remove:
            (folder / name).unlink()
        for name, content in self.raw.items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        for name, text in self.append.items():
            with (folder / name).open("a") as handle:
                handle.write(text)
        return path

    @property
    def site(self) -> dict:
        return self.config["sites"][0]

    @property
    def gpu_type(self) -> dict:
        return self.config["gpu_types"][0]

    @property
    def node(self) -> dict:
        return self.config["nodes"][0]

    @property
    def job(self) -> dict:
        return self.jobs[0]

    @property
    def forecast(self) -> list[dict]:
        return self.forecasts[FORECAST]

    @property
    def curve(self) -> list[dict]:
        return self.curves[CURVE]


Mutation = Callable[[Data], None]


def at(hours: float) -> str:
    """ISO time ``hours`` after the scenario start (negative: before it)."""
    return (pd.Timestamp(START) + pd.Timedelta(hours=hours)).isoformat()


def set_job(**values: Any) -> Mutation:
    return lambda d: d.job.update(values)


def set_site(**values: Any) -> Mutation:
    return lambda d: d.site.update(values)


def set_node(**values: Any) -> Mutation:
    return lambda d: d.node.update(values)


def set_gpu_type(**values: Any) -> Mutation:
    return lambda d: d.gpu_type.update(values)


def set_config(**values: Any) -> Mutation:
    return lambda d: d.config.update(values)


def rename_key(mapping: Callable[[Data], dict], old: str, new: str) -> Mutation:
    def mutate(d: Data) -> None:
        target = mapping(d)
        target[new] = target.pop(old)
    return mutate


def raw_file(name: str, content: str | bytes) -> Mutation:
    return lambda d: d.raw.update({name: content})


def append_text(name: str, text: str) -> Mutation:
    return lambda d: d.append.update({name: text})


def remove_file(name: str) -> Mutation:
    return lambda d: d.remove.append(name)


def forecast_cell(row: int, column: str, value: Any) -> Mutation:
    return lambda d: d.forecast[row].update({column: value})


def curve_cell(row: int, column: str, value: Any) -> Mutation:
    return lambda d: d.curve[row].update({column: value})


def add_jobs(*rows: dict[str, Any], **first: Any) -> Mutation:
    def mutate(d: Data) -> None:
        d.job.update(first)
        d.jobs.extend({"gpus": 1, "duration_h": 1, **row} for row in rows)
    return mutate


def chain(*mutations: Mutation) -> Mutation:
    def mutate(d: Data) -> None:
        for m in mutations:
            m(d)
    return mutate
