"""``greenslot forecast fetch uk-carbon-intensity`` against a loopback GB API double."""

from __future__ import annotations

import pandas as pd
import pytest

from greenslot.cli import main
from tests.helpers.gb_api import GbApi


def read_csv(path):
    frame = pd.read_csv(path)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame


def fetch_gb(server, tmp_path, start, end, *extra):
    out = tmp_path / "f.csv"
    code = main(["forecast", "fetch", "uk-carbon-intensity", "--start", start, "--end", end,
                 "--base-url", server.url, "--out", str(out), *extra])
    return code, out


def test_national_returns_exactly_the_served_values_slot_for_slot(server, tmp_path):
    api = GbApi(seed=11)
    server.handler = api
    code, out = fetch_gb(server, tmp_path, "2026-11-30T00:00:00+00:00",
                         "2026-12-02T00:00:00+00:00")
    assert code == 0
    frame = read_csv(out)
    assert list(frame.columns) == ["time", "carbon_g_per_kwh"]
    assert len(frame) == 96
    assert frame["time"].tolist() == sorted(api.served)
    assert frame["carbon_g_per_kwh"].tolist() == [api.served[t] for t in frame["time"]]
    assert [s.path for s in server.seen] == ["/intensity/2026-11-30T00:00Z/2026-12-02T00:00Z"]
    text = out.read_text().splitlines()
    assert text[1].startswith("2026-11-30T00:00:00+00:00,")


def test_rows_outside_the_window_are_dropped(server, tmp_path):
    """The API may include the half-hour ending at ``from``; it is not part of the window."""
    api = GbApi(seed=3, extra_before=True)
    server.handler = api
    code, out = fetch_gb(server, tmp_path, "2026-11-30T00:00:00Z", "2026-11-30T02:00:00Z")
    frame = read_csv(out)
    assert code == 0 and len(frame) == 4
    assert frame["time"].iloc[0] == pd.Timestamp("2026-11-30T00:00Z")


@pytest.mark.parametrize(("region", "path_tail"), [("13", "/regionid/13"),
                                                   ("rg10", "/postcode/RG10")])
def test_regional_by_id_and_by_postcode(server, tmp_path, region, path_tail):
    api = GbApi(seed=5)
    server.handler = api
    code, out = fetch_gb(server, tmp_path, "2026-11-30T06:00:00Z", "2026-11-30T12:00:00Z",
                         "--region", region)
    assert code == 0
    frame = read_csv(out)
    assert server.seen[0].path.startswith("/regional/intensity/")
    assert server.seen[0].path.endswith(path_tail)
    assert frame["carbon_g_per_kwh"].tolist() == [api.served[t] for t in frame["time"]]
    assert len(frame) == 12


def test_bad_region_is_a_usage_error(server, tmp_path, capsys):
    server.handler = GbApi()
    code, out = fetch_gb(server, tmp_path, "2026-11-30T06:00:00Z", "2026-11-30T12:00:00Z",
                         "--region", "99")
    err = capsys.readouterr().err
    assert code == 2 and not out.exists() and not server.seen
    assert err.count("\n") == 1 and "region id 1-17" in err


def test_dst_change_in_london_gives_25_hours_of_utc_half_hours(server, tmp_path):
    """26 Oct 2025 local day in London (BST -> GMT) is 25 hours: 50 half-hours, none twice."""
    api = GbApi(seed=9)
    server.handler = api
    code, out = fetch_gb(server, tmp_path, "2025-10-26T00:00:00+01:00",
                         "2025-10-27T00:00:00+00:00")
    assert code == 0
    frame = read_csv(out)
    assert len(frame) == 50
    assert frame["time"].iloc[0] == pd.Timestamp("2025-10-25T23:00Z")
    assert frame["time"].is_monotonic_increasing and frame["time"].is_unique
    assert set(frame["time"].diff().dropna()) == {pd.Timedelta("30min")}
    assert all(line.split(",")[0].endswith("+00:00")
               for line in out.read_text().splitlines()[1:])


def test_missing_and_null_intervals_are_reported_not_filled(server, tmp_path, caplog):
    api = GbApi(seed=4, drop=("2026-11-30T01:00Z", "2026-11-30T01:30Z"),
                null=("2026-11-30T03:00Z",))
    server.handler = api
    code, out = fetch_gb(server, tmp_path, "2026-11-30T00:00:00Z", "2026-11-30T05:00:00Z")
    assert code == 0
    frame = read_csv(out)
    times = set(frame["time"])
    assert pd.Timestamp("2026-11-30T01:00Z") not in times
    assert pd.Timestamp("2026-11-30T03:00Z") not in times
    assert len(frame) == 7 and (frame["carbon_g_per_kwh"] > 0).all()
    assert ("intervals of 30 min missing: 3 inside (first at 2026-11-30T01:00:00+00:00)"
            in caplog.text)


def test_a_long_window_is_split_into_14_day_requests(server, tmp_path):
    api = GbApi(seed=2)
    server.handler = api
    code, out = fetch_gb(server, tmp_path, "2026-11-01T00:00:00Z", "2026-11-20T00:00:00Z")
    assert code == 0
    assert [s.path for s in server.seen] == [
        "/intensity/2026-11-01T00:00Z/2026-11-15T00:00Z",
        "/intensity/2026-11-15T00:00Z/2026-11-20T00:00Z",
    ]
    assert len(read_csv(out)) == 19 * 48


def test_written_csv_is_a_valid_contract_forecast(server, tmp_path):
    from greenslot.forecasts.files import read_forecast

    server.handler = GbApi(seed=1)
    code, out = fetch_gb(server, tmp_path, "2026-11-30T00:00:00Z", "2026-11-30T06:00:00Z")
    table = read_forecast(out, "f.csv")
    assert code == 0 and len(table.times) == 12 and list(table.columns) == ["carbon_g_per_kwh"]
