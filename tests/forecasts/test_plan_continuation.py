"""``greenslot plan`` with a provider whose forecast ends before the plan does.

Why: providers forecast hours (SGIP's MOER 3 h) while a nightly plan looks 48 h ahead. With the
site's ``history`` given, the plan's series is the provider's where it reaches and our
forecaster's after, blended from the provider's last value; without ``history`` the gap is
still ``forecast_gap``. Served over real loopback HTTP by the GB API double.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from greenslot.cli import main
from greenslot.forecasts.continuation import DEFAULT_BLEND_HOURS
from greenslot.forecasts.forecaster import forecast
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.forecasts.scenario_source import ProviderForecasts
from tests.helpers.gb_api import GbApi
from tests.helpers.provider_scenarios import CARBON, START, history_rows
from tests.helpers.scenarios import base_config, write_scenario

PLAN_HOURS = 48
PROVIDER_HOURS = 6


def short_provider(seed: int) -> GbApi:
    """Serves half-hours only for the first six hours: the provider's forecast ends there."""
    beyond = pd.date_range(START + pd.Timedelta(hours=PROVIDER_HOURS),
                           START + pd.Timedelta(hours=PLAN_HOURS + 24), freq="30min")
    return GbApi(seed=seed, drop=tuple(t.isoformat() for t in beyond))


def scenario(folder, base_url: str, history: bool = True):
    config = base_config()
    config.update(start=START.isoformat(), horizon=f"{PLAN_HOURS}h", slot="30min")
    entry = {"provider": "uk-carbon-intensity", "base_url": base_url}
    files = {}
    if history:
        entry["history"] = "gb-history.csv"
        files["gb-history.csv"] = history_rows()
    config["sites"][0]["forecast"] = [entry, "prices.csv"]
    files["prices.csv"] = [{"time": (START + pd.Timedelta(hours=h)).isoformat(),
                            "price_per_mwh": 80.0 + h % 24} for h in range(PLAN_HOURS)]
    jobs = [{"job_id": "a", "gpus": 2, "duration_h": 3}, {"job_id": "b", "gpus": 2,
                                                          "duration_h": 5}]
    return write_scenario(folder, config, jobs, files)


def test_a_short_provider_forecast_is_continued_to_the_plans_end(server, tmp_path, caplog):
    api = short_provider(seed=21)
    server.handler = api
    path = scenario(tmp_path / "s", server.url)
    out = tmp_path / "plan"
    rc = main(["plan", str(path), "--out", str(out), "-q", "--forecast-retries", "0"])
    assert rc == 0
    record = json.loads((out / "summary.json").read_text())["forecast_source"]["s1"][CARBON]
    seam = START + pd.Timedelta(hours=PROVIDER_HOURS)
    assert record["kind"] == "provider" and record["continued_by"] == "profile"
    assert pd.Timestamp(record["continued_from"]) == seam
    assert any("then our forecaster (profile)" in r.getMessage() for r in caplog.records
               if r.levelno >= logging.WARNING)
    # The plan's 48 h series: the first six hours are exactly what the provider served ...
    carbon = load_scenario(path, forecast_source=ProviderForecasts(offline=True)) \
        .series["s1"].carbon_g_per_kwh
    assert len(carbon) == 2 * PLAN_HOURS
    served = [api.served[START + pd.Timedelta(minutes=30 * i)] for i in range(12)]
    np.testing.assert_allclose(carbon[:12], served)
    # ... and after them our profile forecast from the history, blended from the provider's
    # last value: the gap at the seam fades linearly and is gone after the blend hours.
    history = pd.DataFrame(history_rows()).set_index("time")[CARBON]
    history.index = pd.DatetimeIndex(pd.to_datetime(history.index, utc=True))
    ours = forecast(history, pd.Timedelta(hours=PLAN_HOURS).to_pytimedelta(), "profile") \
        .to_numpy()
    gap = served[-1] - ours[11]
    lead_h = np.arange(1, 2 * PLAN_HOURS - 11) * 0.5
    weight = np.clip(1 - lead_h / DEFAULT_BLEND_HOURS, 0, 1)
    np.testing.assert_allclose(carbon[12:], ours[12:] + weight * gap)
    assert weight[-1] == 0 and np.isfinite(carbon).all() and (carbon > 0).all()


def test_without_history_a_short_provider_forecast_is_still_a_gap(server, tmp_path, capsys):
    server.handler = short_provider(seed=22)
    path = scenario(tmp_path / "s", server.url, history=False)
    out = tmp_path / "plan"
    rc = main(["plan", str(path), "--out", str(out), "-q", "--forecast-retries", "0"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.endswith("[forecast_gap]"), err
    assert not out.exists()
