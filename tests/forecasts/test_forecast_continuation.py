"""A provider forecast continued by our forecaster: values worked out by hand, and the real
SGIP MOER forecast continued past its 3 h in ``simulate``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from greenslot.analysis.simulate import persistence, sgip_forecaster
from greenslot.forecasts.continuation import blend_continuation, continue_forecast
from greenslot.forecasts.scenario_loading import load_scenario

HOUR = timedelta(hours=1)
SAMPLE = Path(__file__).parents[1] / "trust" / "data" / "sgip-replay-2020-06-01-4d"


def test_the_seam_gap_fades_linearly_over_the_blend():
    """Provider 300 for 2 h, ours a flat 100: past the seam 300 -> 100 over 4 h."""
    provider = np.array([300.0, 300.0] + [np.nan] * 6)
    out = blend_continuation(provider, np.full(8, 100.0), HOUR, blend_hours=4)
    assert out.tolist() == [300, 300, 250, 200, 150, 100, 100, 100]


def test_empty_slots_before_the_provider_take_ours_and_no_blend_means_ours():
    provider = np.array([np.nan, 200.0, np.nan, np.nan])
    ours = np.array([10.0, 20.0, 30.0, 40.0])
    assert blend_continuation(provider, ours, HOUR, 0).tolist() == [10, 200, 30, 40]
    assert blend_continuation(np.full(4, np.nan), ours, HOUR).tolist() == ours.tolist()


def test_continuation_follows_the_daily_shape_of_the_history():
    """A history that repeats one day: past the provider, the forecast is that day's shape
    (shifted at the seam, the shift fading)."""
    day = 100 + 50 * np.sin(np.arange(24) / 24 * 2 * np.pi)
    history = np.tile(day, 28)
    provider = np.full(48, np.nan)
    provider[:3] = day[:3] + 30
    out = continue_forecast(provider, history, HOUR, "profile", blend_hours=3)
    assert out[:3] == pytest.approx(day[:3] + 30)
    assert out[3] == pytest.approx(day[3] + 20, abs=0.5)  # 2/3 of the gap left
    assert out[6:] == pytest.approx(np.tile(day, 2)[6:], abs=0.5)


def test_sgip_with_continuation_keeps_the_provider_hours_and_fills_the_rest():
    scenario = load_scenario(SAMPLE)
    day = 96
    plain = sgip_forecaster([SAMPLE / "provider.csv"])(scenario, "caiso-pge", day, 96)
    continued = sgip_forecaster([SAMPLE / "provider.csv"], "profile")(
        scenario, "caiso-pge", day, 96)
    base = persistence(scenario, "caiso-pge", day, 96).carbon_g_per_kwh
    # Slots 1..11 are the provider's in both; beyond, one holds the day before, one does not.
    assert np.array_equal(plain.carbon_g_per_kwh[1:12], continued.carbon_g_per_kwh[1:12])
    assert np.array_equal(plain.carbon_g_per_kwh[12:], base[12:])
    assert not np.array_equal(continued.carbon_g_per_kwh[12:], base[12:])
    assert np.isfinite(continued.carbon_g_per_kwh).all()


@pytest.mark.slow
def test_simulate_cli_continues_the_sgip_forecast(capsys):
    import json

    from greenslot.cli import main

    reports = []
    for extra in ([], ["--continuation", "profile"]):
        rc = main(["simulate", str(SAMPLE), "--forecaster", "sgip", "--sgip",
                   str(SAMPLE / "provider.csv"), "--json", *extra])
        captured = capsys.readouterr()
        assert rc == 0, captured.err
        reports.append(json.loads(captured.out))
    held, continued = (r["plan on sgip"] for r in reports)
    assert held["placed"] == continued["placed"] == 36
    assert held["carbon_kg"] != continued["carbon_kg"]  # the forecast past 3 h changed
    assert reports[0]["perfect foresight"] == reports[1]["perfect foresight"]
