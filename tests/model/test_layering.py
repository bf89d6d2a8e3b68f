"""The model layer does no forecast I/O: it reads the forecasts it is given.

That ``model/`` imports only itself (functions included) is checked with every other layer
rule in ``tests/test_layers.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from greenslot.model.forecast_spec import SiteForecastRequest, SiteSignals
from greenslot.model.loader import load_scenario
from greenslot.model.scenario import SiteSeries
from tests.helpers.scenarios import base_config, write_scenario

ROOT = Path(__file__).resolve().parents[2]


class _Flat:
    """A stand-in source: the same signals for every site, and a record of what was asked."""

    def __init__(self) -> None:
        self.asked: list[SiteForecastRequest] = []

    def site_signals(self, request: SiteForecastRequest) -> SiteSignals:
        self.asked.append(request)
        n = request.grid.n_slots
        series = SiteSeries(np.full(n, 7.0), np.full(n, 3.0), np.zeros(n))
        return SiteSignals(series, {"carbon_g_per_kwh": {"kind": "stub"}})


def test_loader_takes_signals_from_the_injected_source(tmp_path):
    config = base_config()
    config["sites"][0]["forecast"] = "never-read.csv"
    source = _Flat()

    scenario = load_scenario(write_scenario(tmp_path, config), source)

    [request] = source.asked
    assert (request.site, request.forecast, request.where) == ("s1", "never-read.csv",
                                                                "sites[0]")
    assert request.folder == tmp_path and request.grid == scenario.grid
    assert scenario.series["s1"].carbon_g_per_kwh.tolist() == [7.0] * 4
    assert scenario.forecast_sources == {"s1": {"carbon_g_per_kwh": {"kind": "stub"}}}
