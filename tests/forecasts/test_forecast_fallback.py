"""Degradation, never silence: provider, else cache, else our forecaster, always named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from greenslot.forecasts.errors import ProviderError
from greenslot.forecasts.fallback import site_forecast
from greenslot.forecasts.fetch import FetchOptions
from greenslot.forecasts.forecaster import forecast
from greenslot.forecasts.http_client import RetryPolicy
from tests.helpers.gb_api import GbApi
from tests.helpers.provider_server import Reply

START, END = pd.Timestamp("2026-11-30T00:00Z"), pd.Timestamp("2026-12-01T00:00Z")
NOW = pd.Timestamp("2026-11-29T22:00Z")


def opts(server):
    return FetchOptions(base_url=server.url, sleep=lambda s: None,
                        policy=RetryPolicy(attempts=2, backoff_s=0))


def history():
    index = pd.date_range("2026-10-20T00:00Z", NOW, freq="30min", inclusive="left")
    values = 150 + 60 * np.sin(2 * np.pi * (index.hour + index.minute / 60) / 24)
    return pd.DataFrame({"carbon_g_per_kwh": np.asarray(values)}, index=index)


def test_a_working_provider_is_used(server):
    server.handler = GbApi(seed=3)
    got = site_forecast("uk-carbon-intensity", START, END, history=history(),
                        options=opts(server), now=NOW)
    assert got.source == "provider" and len(got.table) == 48


def test_provider_down_and_no_cache_falls_back_to_our_forecaster(server, caplog):
    server.handler = lambda seen: Reply(503, "down")
    past = history()
    got = site_forecast("uk-carbon-intensity", START, END, history=past,
                        options=opts(server), now=NOW)
    assert got.source == "forecaster" and "our own forecaster (profile)" in caplog.text
    table = got.table["carbon_g_per_kwh"]
    assert list(table.index) == list(pd.date_range(START, END, freq="30min",
                                                   inclusive="left"))
    assert not table.isna().any() and (table > 0).all()
    ours = forecast(past["carbon_g_per_kwh"], pd.Timedelta("26h").to_pytimedelta())
    np.testing.assert_allclose(table.to_numpy(), ours.loc[START:END].iloc[:48].to_numpy())


def test_provider_down_with_a_stale_cache_uses_the_cache(server):
    server.handler = GbApi(seed=4)
    site_forecast("uk-carbon-intensity", START, END, options=opts(server), now=NOW)
    server.handler = lambda seen: Reply(500, "down")
    got = site_forecast("uk-carbon-intensity", START, END, history=history(),
                        options=opts(server), now=NOW + pd.Timedelta("3h"))
    assert got.source == "stale-cache"


def test_without_history_the_provider_error_stands(server):
    server.handler = lambda seen: Reply(500, "down")
    with pytest.raises(ProviderError):
        site_forecast("uk-carbon-intensity", START, END, options=opts(server), now=NOW)
