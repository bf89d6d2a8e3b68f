"""A small scenario whose carbon comes from a provider over loopback HTTP, for the plan tests
of forecasts (``test_plan_providers.py``) and of slow providers (``test_slow_providers.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tests.helpers.scenarios import base_config, write_scenario

START = pd.Timestamp("2026-11-30T00:00:00+00:00")
HOURS = 4
CARBON = "carbon_g_per_kwh"


def prices() -> list[dict]:
    """Hourly prices from a file, so one site mixes a provider and a file."""
    return [{"time": (START + pd.Timedelta(hours=h)).isoformat(), "price_per_mwh": 80 + 7 * h}
            for h in range(HOURS)]


def history_rows() -> list[dict]:
    """Four weeks of half-hourly carbon up to the planning start (for our forecaster)."""
    index = pd.date_range(START - pd.Timedelta("28D"), START, freq="30min", inclusive="left")
    values = 150 + 60 * np.sin(2 * np.pi * (index.hour + index.minute / 60) / 24)
    return [{"time": t.isoformat(), CARBON: round(float(v), 3)}
            for t, v in zip(index, values, strict=True)]


def jobs() -> list[dict]:
    return [{"job_id": "a", "gpus": 2, "duration_h": 1}, {"job_id": "b", "gpus": 2,
                                                          "duration_h": 2}]


def provider_scenario(folder: Path, base_url: str, history: bool = True) -> Path:
    config = base_config()
    config.update(start=START.isoformat(), horizon=f"{HOURS}h", slot="1h")
    entry = {"provider": "uk-carbon-intensity", "base_url": base_url}
    if history:
        entry["history"] = "gb-history.csv"
    config["sites"][0]["forecast"] = [entry, "prices.csv"]
    files = {"prices.csv": prices()}
    if history:
        files["gb-history.csv"] = history_rows()
    return write_scenario(folder, config, jobs(), files)
