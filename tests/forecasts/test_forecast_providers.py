"""Electricity Maps, WattTime and ENTSO-E adapters against loopback doubles of their formats."""

from __future__ import annotations

import base64
import json

import pandas as pd
import pytest

from greenslot.forecasts.errors import CredentialsError, ProviderError, QueryError
from greenslot.forecasts.fetch import FetchOptions, fetch
from greenslot.forecasts.http_client import RetryPolicy
from tests.helpers.provider_server import Reply

NOW = pd.Timestamp("2026-11-29T10:20:00Z")


def opts(server, **kw):
    return FetchOptions(base_url=server.url, sleep=lambda s: None,
                        policy=RetryPolicy(backoff_s=0), **kw)


def hours(start, n, freq="h"):
    return list(pd.date_range(pd.Timestamp(start), periods=n, freq=freq))


# ---------------------------------------------------------------- Electricity Maps

def em_handler(seen):
    if seen.headers.get("auth-token") != "em-key-123":
        return Reply(401, json.dumps({"message": "invalid token"}))
    zone = seen.query["zone"]
    if seen.path == "/v3/carbon-intensity/past-range":
        times = pd.date_range(pd.Timestamp(seen.query["start"]), pd.Timestamp(seen.query["end"]),
                              freq="h", inclusive="left")
        data = [{"zone": zone, "carbonIntensity": 100 + t.hour, "datetime":
                 t.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "updatedAt": "2026-11-29T09:00:00.000Z",
                 "isEstimated": False, "emissionFactorType": "lifecycle"} for t in times]
        return Reply(body=json.dumps({"zone": zone, "data": data}))
    if seen.path == "/v3/carbon-intensity/forecast":
        times = hours("2026-11-29T10:00Z", int(seen.query["horizonHours"]))
        data = [{"carbonIntensity": 200 + t.hour + 0.5, "datetime":
                 t.strftime("%Y-%m-%dT%H:%M:%S.000Z")} for t in times]
        return Reply(body=json.dumps({"zone": zone, "forecast": data,
                                      "updatedAt": "2026-11-29T10:05:00.000Z"}))
    return Reply(404, "{}")


def test_electricitymaps_joins_history_and_forecast_at_the_current_hour(server, monkeypatch):
    monkeypatch.setenv("ELECTRICITYMAPS_API_KEY", "em-key-123")
    server.handler = em_handler
    result = fetch("electricitymaps", pd.Timestamp("2026-11-29T06:00Z"),
                   pd.Timestamp("2026-11-29T14:00Z"), "DE", opts(server), now=NOW)
    values = result.table["carbon_g_per_kwh"]
    assert list(values.index) == hours("2026-11-29T06:00Z", 8)
    assert values.tolist() == [106, 107, 108, 109, 210.5, 211.5, 212.5, 213.5]
    assert [s.path for s in server.seen] == ["/v3/carbon-intensity/past-range",
                                             "/v3/carbon-intensity/forecast"]
    assert server.seen[1].query == {"zone": "DE", "horizonHours": "6"}
    assert result.source == "provider"


def test_electricitymaps_needs_a_key_and_a_zone(server):
    server.handler = em_handler
    with pytest.raises(CredentialsError, match="ELECTRICITYMAPS_API_KEY"):
        fetch("electricitymaps", NOW, NOW + pd.Timedelta("2h"), "DE", opts(server), now=NOW)
    with pytest.raises(QueryError, match="needs --region"):
        fetch("electricitymaps", NOW, NOW + pd.Timedelta("2h"), None, opts(server), now=NOW)
    assert not server.seen


def test_electricitymaps_wrong_key_is_401_with_the_variable_named(server, monkeypatch):
    monkeypatch.setenv("ELECTRICITYMAPS_API_KEY", "wrong")
    server.handler = em_handler
    with pytest.raises(ProviderError, match="check ELECTRICITYMAPS_API_KEY") as caught:
        fetch("electricitymaps", NOW, NOW + pd.Timedelta("2h"), "DE", opts(server), now=NOW)
    assert caught.value.status == 401 and len(server.seen) == 1
    assert "wrong" not in str(caught.value)


# ---------------------------------------------------------------- WattTime

class WattTimeApi:
    token = "wt-token-xyz"

    def __init__(self):
        self.logins = 0

    def __call__(self, seen):
        if seen.path == "/login":
            expected = base64.b64encode(b"ada:s3cret!").decode()
            if seen.headers.get("authorization") != f"Basic {expected}":
                return Reply(401, json.dumps({"error": "bad login"}))
            self.logins += 1
            return Reply(body=json.dumps({"token": self.token}))
        if seen.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, "{}")
        meta = {"region": seen.query["region"], "signal_type": "co2_moer",
                "units": "lbs_co2_per_mwh", "data_point_period_seconds": 300,
                "generated_at_period_seconds": 300, "model": {"date": "2026-03-01"}}
        if seen.path == "/v3/forecast":
            points = [{"point_time": t.isoformat(), "value": 1000.0 + i}
                      for i, t in enumerate(hours("2026-11-29T10:20Z", 24, "5min"))]
            return Reply(body=json.dumps({"data": points, "meta": meta | {
                "generated_at": "2026-11-29T10:20:00+00:00"}}))
        if seen.path == "/v3/forecast/historical":
            runs = []
            for k, issued in enumerate(["2026-11-01T11:50:00+00:00",
                                        "2026-11-01T11:55:00+00:00",
                                        "2026-11-01T12:00:00+00:00"]):
                base = pd.Timestamp(issued)
                runs.append({"generated_at": issued, "forecast": [
                    {"point_time": (base + pd.Timedelta(minutes=5 * i)).isoformat(),
                     "value": 500.0 + 100 * k + i} for i in range(30)]})
            return Reply(body=json.dumps({"data": runs, "meta": meta}))
        return Reply(404, "{}")


def test_watttime_logs_in_and_converts_lb_per_mwh_to_g_per_kwh(server, monkeypatch):
    monkeypatch.setenv("WATTTIME_USERNAME", "ada")
    monkeypatch.setenv("WATTTIME_PASSWORD", "s3cret!")
    api = WattTimeApi()
    server.handler = api
    result = fetch("watttime", NOW, NOW + pd.Timedelta("1h"), "CAISO_NORTH", opts(server),
                   now=NOW)
    values = result.table["carbon_g_per_kwh"]
    assert len(values) == 12 and values.index[0] == NOW
    assert values.iloc[0] == pytest.approx(1000.0 * 0.45359237)
    assert values.iloc[11] == pytest.approx(1011.0 * 0.45359237)
    assert api.logins == 1
    assert server.seen[1].query == {"region": "CAISO_NORTH", "signal_type": "co2_moer",
                                    "horizon_hours": "1"}


def test_watttime_past_window_uses_the_forecast_issued_by_its_start(server, monkeypatch):
    monkeypatch.setenv("WATTTIME_USERNAME", "ada")
    monkeypatch.setenv("WATTTIME_PASSWORD", "s3cret!")
    server.handler = WattTimeApi()
    start = pd.Timestamp("2026-11-01T11:55Z")
    result = fetch("watttime", start, start + pd.Timedelta("30min"), "CAISO_NORTH",
                   opts(server), now=NOW)
    values = result.table["carbon_g_per_kwh"]
    # run 1 (issued 11:55) is the last issued by the start; run 2 (12:00) came too late
    assert values.iloc[0] == pytest.approx(600.0 * 0.45359237)
    assert server.seen[1].path == "/v3/forecast/historical"
    assert server.seen[1].query["end"] == "2026-11-01T11:55:00+00:00"


def test_watttime_bad_login_fails_before_any_data_request(server, monkeypatch):
    monkeypatch.setenv("WATTTIME_USERNAME", "ada")
    monkeypatch.setenv("WATTTIME_PASSWORD", "nope")
    server.handler = WattTimeApi()
    with pytest.raises(ProviderError, match="refused the credentials") as caught:
        fetch("watttime", NOW, NOW + pd.Timedelta("1h"), "CAISO_NORTH", opts(server), now=NOW)
    assert caught.value.status == 401 and [s.path for s in server.seen] == ["/login"]
    assert "nope" not in str(caught.value)


# ---------------------------------------------------------------- ENTSO-E

NS = "urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:3"


def entsoe_xml(series):
    """``series``: list of (start, end, resolution, {position: price}, curve_type)."""
    parts = []
    for k, (start, end, resolution, points, curve) in enumerate(series, start=1):
        pts = "".join(f"<Point><position>{p}</position><price.amount>{v}</price.amount></Point>"
                      for p, v in points.items())
        curve_tag = f"<curveType>{curve}</curveType>" if curve else ""
        parts.append(
            f"<TimeSeries><mRID>{k}</mRID><businessType>A62</businessType>"
            f"<in_Domain.mRID codingScheme='A01'>10Y1001A1001A82H</in_Domain.mRID>"
            f"<currency_Unit.name>EUR</currency_Unit.name>"
            f"<price_Measure_Unit.name>MWH</price_Measure_Unit.name>{curve_tag}"
            f"<Period><timeInterval><start>{start}</start><end>{end}</end></timeInterval>"
            f"<resolution>{resolution}</resolution>{pts}</Period></TimeSeries>")
    return (f"<?xml version='1.0' encoding='UTF-8'?><Publication_MarketDocument xmlns='{NS}'>"
            f"<mRID>x</mRID><type>A44</type>{''.join(parts)}</Publication_MarketDocument>")


def entsoe_handler(body, status=200):
    def handler(seen):
        if seen.query.get("securityToken") != "tok-ENTSOE-42":
            return Reply(401, "<html>Unauthorized</html>", content_type="text/html")
        return Reply(status, body, content_type="text/xml")
    return handler


@pytest.fixture
def entsoe_key(monkeypatch):
    monkeypatch.setenv("ENTSOE_SECURITY_TOKEN", "tok-ENTSOE-42")


def test_entsoe_hourly_prices_over_the_autumn_dst_day(server, entsoe_key):
    """25 Oct 2026 in CET is 25 hours: 25 positions, each one UTC hour."""
    prices = {p: round(40 + 1.25 * p, 2) for p in range(1, 26)}
    server.handler = entsoe_handler(entsoe_xml([
        ("2026-10-24T22:00Z", "2026-10-25T23:00Z", "PT60M", prices, "A01")]))
    result = fetch("entsoe", pd.Timestamp("2026-10-25T00:00+02:00"),
                   pd.Timestamp("2026-10-26T00:00+01:00"), "de_lu", opts(server), now=NOW)
    values = result.table["price_per_mwh"]
    assert len(values) == 25 and values.index[0] == pd.Timestamp("2026-10-24T22:00Z")
    assert values.index[-1] == pd.Timestamp("2026-10-25T22:00Z")
    assert values.tolist() == [prices[p] for p in range(1, 26)]
    query = server.seen[0].query
    assert query["documentType"] == "A44" and query["in_Domain"] == "10Y1001A1001A82H"
    assert query["periodStart"] == "202610242200" and query["periodEnd"] == "202610252300"


def test_entsoe_quarter_hours_with_a03_hold_a_price_until_the_next_point(server, entsoe_key):
    server.handler = entsoe_handler(entsoe_xml([
        ("2026-11-29T23:00Z", "2026-11-30T01:00Z", "PT15M",
         {1: 50.0, 2: 51.5, 5: -3.25, 8: 60.0}, "A03")]))
    result = fetch("entsoe", pd.Timestamp("2026-11-29T23:00Z"), pd.Timestamp("2026-11-30T01:00Z"),
                   "10Y1001A1001A82H", opts(server), now=NOW)
    assert result.table["price_per_mwh"].tolist() == [50.0, 51.5, 51.5, 51.5, -3.25, -3.25,
                                                      -3.25, 60.0]


def test_entsoe_a01_missing_position_stays_a_gap(server, entsoe_key, caplog):
    server.handler = entsoe_handler(entsoe_xml([
        ("2026-11-29T23:00Z", "2026-11-30T03:00Z", "PT60M", {1: 10, 2: 20, 4: 40}, None)]))
    result = fetch("entsoe", pd.Timestamp("2026-11-29T23:00Z"), pd.Timestamp("2026-11-30T03:00Z"),
                   "DE_LU", opts(server), now=NOW)
    assert result.table["price_per_mwh"].tolist() == [10, 20, 40]
    assert "1 inside (first at 2026-11-30T01:00:00+00:00)" in caplog.text


def test_entsoe_prefers_the_finest_resolution(server, entsoe_key):
    server.handler = entsoe_handler(entsoe_xml([
        ("2026-11-29T23:00Z", "2026-11-30T00:00Z", "PT60M", {1: 99.0}, "A01"),
        ("2026-11-29T23:00Z", "2026-11-30T00:00Z", "PT15M", {1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0},
         "A01")]))
    result = fetch("entsoe", pd.Timestamp("2026-11-29T23:00Z"), pd.Timestamp("2026-11-30T00:00Z"),
                   "DE_LU", opts(server), now=NOW)
    assert result.table["price_per_mwh"].tolist() == [1.0, 2.0, 3.0, 4.0]


def test_entsoe_acknowledgement_and_malformed_xml_are_typed_errors(server, entsoe_key):
    ack = ("<?xml version='1.0'?><Acknowledgement_MarketDocument xmlns='urn:x'><Reason>"
           "<code>999</code><text>No matching data found for Data item Day-ahead Prices"
           "</text></Reason></Acknowledgement_MarketDocument>")
    server.handler = entsoe_handler(ack)
    window = (pd.Timestamp("2026-11-29T23:00Z"), pd.Timestamp("2026-11-30T00:00Z"))
    with pytest.raises(ProviderError, match=r"reason 999.*No matching data"):
        fetch("entsoe", *window, "DE_LU", opts(server), now=NOW)
    server.handler = entsoe_handler("<Publication_MarketDocument><TimeSeries>")
    with pytest.raises(ProviderError, match="malformed response: not XML") as caught:
        fetch("entsoe", *window, "DE_LU", opts(server), now=NOW)
    assert "tok-ENTSOE-42" not in str(caught.value) and "securityToken=***" in str(
        caught.value)


def test_entsoe_unknown_zone_is_a_query_error(server, entsoe_key):
    with pytest.raises(QueryError, match="neither an EIC code"):
        fetch("entsoe", NOW, NOW + pd.Timedelta("1h"), "Narnia", opts(server), now=NOW)
