"""Write small contract scenarios to disk for tests.

Tests describe a scenario as plain Python data (YAML mapping, job rows, forecast rows, curve
rows); :func:`write_scenario` lays it out exactly as a user would, so the real loader and its
checks run on every test.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

START = "2022-06-14T00:00:00+00:00"

JOB_COLUMNS = ("job_id", "gpus", "duration_h", "release", "deadline", "workload", "gpu_type",
               "site", "partition", "priority", "depends_on", "script", "command", "data_gb",
               "data_site", "pinned_start", "pinned_nodes", "power_limit_w")


def base_config() -> dict[str, Any]:
    """A 4-slot, 1-hour-slot scenario: one site, one GPU type, two 2-GPU nodes."""
    return {
        "name": "tiny",
        "start": START,
        "horizon": "4h",
        "slot": "1h",
        "objective": "carbon",
        "transfer_kwh_per_gb": 0.0,
        "sites": [{"name": "s1", "pue": 1.0, "power_down_idle": True,
                   "forecast": "forecast-s1.csv"}],
        "gpu_types": [{"name": "G", "gpu_idle_w": 10, "power_curve": "curve-g.csv"}],
        "nodes": [{"names": "n[1-2]", "site": "s1", "gpu_type": "G", "gpus": 2, "idle_w": 100,
                   "partition": "gpu"}],
        "jobs": "jobs.csv",
    }


def base_curve() -> list[dict[str, Any]]:
    """Two modes: 300 W at full speed, 200 W at half speed."""
    return [
        {"workload": "default", "power_limit_w": 300, "power_w": 300, "relative_throughput": 1.0},
        {"workload": "default", "power_limit_w": 200, "power_w": 200, "relative_throughput": 0.5},
    ]


def hourly_forecast(carbon: list[float], price: list[float] | None = None,
                    renewable: list[float] | None = None, start: str = START) -> list[dict]:
    """Hourly forecast rows from ``start``."""
    import pandas as pd

    base = pd.Timestamp(start)
    rows = []
    for i, value in enumerate(carbon):
        row = {"time": (base + pd.Timedelta(hours=i)).isoformat(), "carbon_g_per_kwh": value,
               "price_per_mwh": (price or [100.0] * len(carbon))[i]}
        if renewable is not None:
            row["renewable_kw"] = renewable[i]
        rows.append(row)
    return rows


def _write_csv(path: Path, rows: list[dict[str, Any]], columns: tuple[str, ...] | None = None):
    cols = list(columns or (rows[0].keys() if rows else ()))
    lines = [",".join(cols)]
    for row in rows:
        lines.append(",".join("" if row.get(c) is None else str(row.get(c)) for c in cols))
    path.write_text("\n".join(lines) + "\n")


def write_scenario(folder: Path, config: dict | None = None, jobs: list[dict] | None = None,
                   forecasts: dict[str, list[dict]] | None = None,
                   curves: dict[str, list[dict]] | None = None) -> Path:
    """Write ``scenario.yaml`` and its files into ``folder``; return the YAML path."""
    folder.mkdir(parents=True, exist_ok=True)
    config = copy.deepcopy(config or base_config())
    jobs = jobs if jobs is not None else [{"job_id": "a", "gpus": 1, "duration_h": 1}]
    forecasts = forecasts or {"forecast-s1.csv": hourly_forecast([100, 200, 50, 300, 300])}
    curves = curves or {"curve-g.csv": base_curve()}
    for name, rows in forecasts.items():
        _write_csv(folder / name, rows)
    for name, rows in curves.items():
        _write_csv(folder / name, rows)
    _write_csv(folder / "jobs.csv", jobs, JOB_COLUMNS)
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
