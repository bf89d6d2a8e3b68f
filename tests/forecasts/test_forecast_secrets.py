"""No key, password or token in any log line, error message or cache file."""

from __future__ import annotations

import base64
import json
import logging

import pandas as pd
import pytest

from greenslot.forecasts.errors import ProviderError
from greenslot.forecasts.fetch import FetchOptions, fetch
from greenslot.forecasts.http_client import RetryPolicy
from tests.helpers.provider_server import Reply

NOW = pd.Timestamp("2026-11-29T10:00Z")
SECRETS = {"ELECTRICITYMAPS_API_KEY": "em-SECRET-key/+=", "WATTTIME_USERNAME": "user-SECRET",
           "WATTTIME_PASSWORD": "pw-SECRET&?", "ENTSOE_SECURITY_TOKEN": "tok-SECRET-99"}
TOKEN = "bearer-SECRET-token"
CASES = [("electricitymaps", "DE"), ("watttime", "CAISO_NORTH"), ("entsoe", "DE_LU")]


def body_for(seen):
    if seen.path == "/login":
        return json.dumps({"token": TOKEN})
    if seen.path.startswith("/v3/carbon-intensity"):
        return json.dumps({"zone": "DE", "forecast": [
            {"carbonIntensity": 300, "datetime": "2026-11-29T10:00:00.000Z"}]})
    if seen.path.startswith("/v3/forecast"):
        return json.dumps({"data": [{"point_time": "2026-11-29T10:00:00+00:00", "value": 900}],
                           "meta": {"units": "lbs_co2_per_mwh"}})
    return ("<Publication_MarketDocument xmlns='urn:x'><TimeSeries>"
            "<price_Measure_Unit.name>MWH</price_Measure_Unit.name><Period><timeInterval>"
            "<start>2026-11-29T10:00Z</start><end>2026-11-29T11:00Z</end></timeInterval>"
            "<resolution>PT60M</resolution><Point><position>1</position><price.amount>80"
            "</price.amount></Point></Period></TimeSeries></Publication_MarketDocument>")


def forms(secret):
    from urllib.parse import quote, quote_plus
    return {secret, quote(secret, safe=""), quote_plus(secret)}


def assert_clean(text):
    basic = base64.b64encode(f"{SECRETS['WATTTIME_USERNAME']}:"
                             f"{SECRETS['WATTTIME_PASSWORD']}".encode()).decode()
    for secret in [*SECRETS.values(), TOKEN, basic]:
        for form in forms(secret):
            assert form not in text


@pytest.mark.parametrize(("provider", "region"), CASES)
@pytest.mark.parametrize("mode", ["ok", "500", "timeout"])
def test_no_secret_in_logs_errors_or_cache(server, monkeypatch, caplog, isolated_cache,
                                           provider, region, mode):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)  # urllib3 logs request lines, query strings included

    def handler(seen):
        if seen.path == "/login" or mode == "ok":
            return Reply(body=body_for(seen))
        if mode == "500":
            return Reply(500, f"echo {seen.query} {seen.headers}")
        return Reply(body="{}", delay_s=0.5)

    server.handler = handler
    options = FetchOptions(base_url=server.url, sleep=lambda s: None,
                           policy=RetryPolicy(attempts=2, backoff_s=0, read_timeout_s=0.2))
    message = ""
    try:
        fetch(provider, NOW, NOW + pd.Timedelta("1h"), region, options, now=NOW)
    except ProviderError as exc:
        message = str(exc)
        assert mode != "ok"
    else:
        assert mode == "ok"
    assert server.seen  # the secrets really were sent
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "127.0.0.1" in logged  # request lines were logged, so the check has teeth
    assert_clean(logged)
    assert_clean(message)
    for entry in isolated_cache.rglob("*.json"):
        assert_clean(entry.read_text())
