"""``greenslot plan`` with a site whose carbon comes from a provider, over real loopback HTTP.

Why: a nightly run must fetch tomorrow's forecast itself and still plan when the provider is
down (cache, then our forecaster from the site's history), saying once, per site, what stood
in, and recording it in summary.json; when nothing can stand in it must write nothing.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from greenslot.cli import main
from greenslot.forecasts.forecaster import forecast
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.forecasts.scenario_source import ProviderForecasts
from tests.helpers.gb_api import GbApi
from tests.helpers.provider_scenarios import (
    CARBON,
    HOURS,
    START,
    history_rows,
    jobs,
    prices,
    provider_scenario,
)
from tests.helpers.provider_server import ProviderServer, Reply
from tests.helpers.scenarios import base_config, write_scenario


def file_scenario(folder: Path, carbon: list[float]) -> Path:
    """The same scenario with the carbon written into a file: the reference plan."""
    config = base_config()
    config.update(start=START.isoformat(), horizon=f"{HOURS}h", slot="1h")
    config["sites"][0]["forecast"] = ["carbon.csv", "prices.csv"]
    rows = [{"time": (START + pd.Timedelta(hours=h)).isoformat(), CARBON: repr(v)}
            for h, v in enumerate(carbon)]
    return write_scenario(folder, config, jobs(), {"carbon.csv": rows, "prices.csv": prices()})


def hourly_served(api: GbApi) -> list[float]:
    """What the loopback server sent, as the hourly means the 1 h slots should hold."""
    return [(api.served[START + pd.Timedelta(minutes=60 * h)]
             + api.served[START + pd.Timedelta(minutes=60 * h + 30)]) / 2 for h in range(HOURS)]


def plan(scenario: Path, out: Path, *extra: str) -> int:
    return main(["plan", str(scenario), "--out", str(out), "-q", "--forecast-retries", "0",
                 *extra])


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_plan_uses_the_served_values_and_records_their_source(server, tmp_path, capsys):
    api = GbApi(seed=11)
    server.handler = api
    out = tmp_path / "plan"
    assert plan(provider_scenario(tmp_path / "s", server.url, history=False), out) == 0
    ref = tmp_path / "ref"
    assert plan(file_scenario(tmp_path / "f", hourly_served(api)), ref) == 0
    got, expected = summary(out), summary(ref)
    assert got["totals"] == expected["totals"] and got["totals"]["carbon_kg"] > 0
    assert got["objective"] == expected["objective"]
    assert ((out / "schedule.csv").read_text() == (ref / "schedule.csv").read_text())
    source = got["forecast_source"]["s1"]
    assert source[CARBON] == {"kind": "provider", "provider": "uk-carbon-intensity",
                              "region": None}
    assert source["price_per_mwh"]["kind"] == "file"
    assert source["price_per_mwh"]["path"].endswith("prices.csv")
    fetched = pd.Timestamp(got["forecast_fetch"]["s1"][CARBON]["fetched_at"])
    assert abs(pd.Timestamp.now(tz="UTC") - fetched) < pd.Timedelta("5min")
    assert "price_per_mwh" not in got["forecast_fetch"]["s1"]
    # validate re-checks against the cached answer, without asking the provider again.
    asked = len(server.seen)
    server.handler = lambda seen: Reply(500, "down")
    assert main(["validate", str(tmp_path / "s"), str(out)]) == 0
    assert len(server.seen) == asked


def test_a_file_only_plan_records_its_files_and_no_fetch(tmp_path):
    out = tmp_path / "plan"
    assert plan(file_scenario(tmp_path / "f", [100.0, 200.0, 50.0, 300.0]), out) == 0
    got = summary(out)
    assert got["forecast_source"]["s1"][CARBON]["kind"] == "file"
    assert got["forecast_fetch"] == {}


def test_provider_down_falls_back_to_the_cache(server, tmp_path, caplog):
    api = GbApi(seed=12)
    server.handler = api
    scenario = provider_scenario(tmp_path / "s", server.url)
    assert plan(scenario, tmp_path / "first") == 0
    server.handler = lambda seen: Reply(500, "down")
    caplog.clear()
    assert plan(scenario, tmp_path / "second", "--max-age", "0") == 0
    lines = warnings(caplog)
    assert len(lines) == 1, lines
    assert lines[0].startswith("site s1: carbon_g_per_kwh from the cache: ")
    assert "HTTP 500" in lines[0] and "fetched" in lines[0]
    got = summary(tmp_path / "second")
    assert got["forecast_source"]["s1"][CARBON]["kind"] == "stale-cache"
    assert "age_minutes" in got["forecast_fetch"]["s1"][CARBON]
    assert got["totals"] == summary(tmp_path / "first")["totals"]


@pytest.mark.parametrize("down", ["http-500", "closed-port"])
def test_provider_down_without_cache_uses_our_forecaster(server, tmp_path, caplog, down):
    server.handler = lambda seen: Reply(500, "down")
    url = server.url if down == "http-500" else closed_port_url()
    scenario = provider_scenario(tmp_path / "s", url)
    assert plan(scenario, tmp_path / "plan") == 0
    lines = warnings(caplog)
    assert len(lines) == 1, lines
    assert "site s1: carbon_g_per_kwh from our forecaster (profile)" in lines[0]
    assert "uk-carbon-intensity" in lines[0]
    record = summary(tmp_path / "plan")["forecast_source"]["s1"][CARBON]
    assert record["kind"] == "forecaster" and record["method"] == "profile"
    assert record["history"].endswith("gb-history.csv")
    # The slots hold our forecaster's answer from the history, never zeros.
    history = pd.DataFrame(history_rows()).set_index("time")[CARBON]
    history.index = pd.DatetimeIndex(pd.to_datetime(history.index, utc=True))
    ahead = forecast(history, pd.Timedelta(hours=HOURS).to_pytimedelta(), "profile")
    expected = ahead.to_numpy().reshape(HOURS, 2).mean(axis=1)
    loaded = load_scenario(scenario, forecast_source=ProviderForecasts(offline=True))
    np.testing.assert_allclose(loaded.series["s1"].carbon_g_per_kwh, expected)
    assert (expected > 0).all()


def test_offline_with_a_warm_cache_needs_no_server(tmp_path, caplog):
    server = ProviderServer()  # its own, so the test can shut it down half way
    server.handler = GbApi(seed=13)
    cache = tmp_path / "my-cache"
    scenario = provider_scenario(tmp_path / "s", server.url, history=False)
    assert plan(scenario, tmp_path / "first", "--cache-dir", str(cache)) == 0
    server.close()
    caplog.clear()
    assert plan(scenario, tmp_path / "second", "--offline", "--cache-dir", str(cache)) == 0
    assert warnings(caplog) == []
    got = summary(tmp_path / "second")
    assert got["forecast_source"]["s1"][CARBON]["kind"] == "cache"
    assert got["totals"] == summary(tmp_path / "first")["totals"]


@pytest.mark.parametrize("offline", [False, True])
def test_nothing_can_stand_in_is_exit_4_and_writes_nothing(server, tmp_path, capsys, offline):
    server.handler = lambda seen: Reply(500, "down")
    scenario = provider_scenario(tmp_path / "s", server.url, history=False)
    out = tmp_path / "plan"
    code = plan(scenario, out, *(["--offline"] if offline else []))
    err = capsys.readouterr().err
    assert code == 4, err
    assert err.count("\n") == 1 and "uk-carbon-intensity" in err and "nothing written" in err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".plan")]


@pytest.mark.slow
def test_the_real_stderr_has_one_line_per_fallback(server, tmp_path):
    """Through the installed entry point: one warning line, naming the site, on stderr."""
    server.handler = lambda seen: Reply(503, "down")
    scenario = provider_scenario(tmp_path / "s", server.url)
    done = subprocess.run(
        [sys.executable, "-m", "greenslot", "plan", str(scenario), "--out",
         str(tmp_path / "plan"), "-q", "--forecast-retries", "0"],
        capture_output=True, text=True, env={**os.environ}, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("greenslot: site s1:"), lines
    assert "from our forecaster (profile)" in lines[0] and "HTTP 503" in lines[0]


def test_a_region_the_provider_rejects_is_one_named_line(server, tmp_path, capsys):
    server.handler = GbApi(seed=14)
    scenario = provider_scenario(tmp_path / "s", server.url)
    text = scenario.read_text().replace("provider: uk-carbon-intensity",
                                        "provider: uk-carbon-intensity\n    region: '99'")
    scenario.write_text(text)
    code = plan(scenario, tmp_path / "plan")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "[bad_forecast_source]" in err and "field 'forecast.region'" in err
    assert "scenario.yaml" in err and not server.seen and not (tmp_path / "plan").exists()
