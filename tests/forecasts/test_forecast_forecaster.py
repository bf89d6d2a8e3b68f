"""Our forecasting methods on series whose future is known by construction."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from greenslot.forecasts.backtest import backtest
from greenslot.forecasts.forecaster import METHODS, forecast, forecast_array

START = pd.Timestamp("2026-01-05T00:00Z")  # a Monday


def daily(index):
    return 200 + 80 * np.sin(2 * np.pi * (index.hour + index.minute / 60) / 24)


def weekly(index):
    return np.asarray(daily(index)) + 40 * np.asarray(index.day_of_week >= 5)


def history(pattern, weeks=5, freq="h", extra="7h"):
    index = pd.date_range(START, START + pd.Timedelta(weeks=weeks) + pd.Timedelta(extra),
                          freq=freq, inclusive="left")
    return pd.Series(np.asarray(pattern(index), dtype=float), index=index)


@pytest.mark.parametrize("method", ["seasonal_daily", "seasonal_weekly", "profile"])
def test_a_pure_daily_cycle_is_forecast_exactly(method):
    past = history(daily)
    ahead = forecast(past, method=method)
    assert len(ahead) == 48 and ahead.index[0] == past.index[-1] + pd.Timedelta("1h")
    np.testing.assert_allclose(ahead.to_numpy(), daily(ahead.index), atol=1e-9)


def test_a_weekly_cycle_needs_the_weekly_method():
    past = history(weekly, extra="5D")  # ends Saturday 00:00: the next 48 h are the weekend
    truth = weekly(forecast(past, method="seasonal_weekly").index)
    np.testing.assert_allclose(forecast(past, method="seasonal_weekly").to_numpy(), truth)
    daily_error = np.abs(forecast(past, method="seasonal_daily").to_numpy() - truth).mean()
    profile_error = np.abs(forecast(past, method="profile").to_numpy() - truth).mean()
    assert daily_error == pytest.approx(40.0)  # it sees Friday where the weekend comes
    assert 0 < profile_error < daily_error


def test_persistence_holds_the_last_value():
    past = history(daily)
    ahead = forecast(past, method="persistence", horizon=timedelta(hours=5))
    assert ahead.tolist() == [past.iloc[-1]] * 5


def test_the_flat_profile_follows_a_level_shift_and_a_current_anomaly():
    past = history(daily)
    shifted = past.copy()
    shifted.iloc[-24:] += 30  # the last day sat 30 above the usual day
    ahead = forecast(shifted, method="profile_flat")
    lift = ahead.to_numpy() - daily(ahead.index)
    # the level comes from the last day (which holds the shift) and the shape is untouched,
    # so every lead is lifted by about 30, not by 30/28 as a four-week mean would
    assert lift.min() > 29 and lift.max() < 31


def test_missing_values_are_skipped_never_read_as_zero():
    past = history(daily)
    hole = past.index[-24]  # exactly one day before the first forecast interval
    past[hole] = np.nan
    ahead = forecast(past, method="seasonal_daily", horizon=timedelta(hours=2))
    assert ahead.iloc[0] == pytest.approx(daily(pd.DatetimeIndex([hole]))[0])
    for method in METHODS:
        assert not forecast(past, method=method).isna().any()


def test_slot_length_coarser_is_a_mean_finer_is_held():
    past = history(daily, freq="15min")
    hourly = forecast(past, method="seasonal_daily", step=timedelta(hours=1))
    quarter = forecast(past, method="seasonal_daily")
    assert len(hourly) == 48 and len(quarter) == 192
    np.testing.assert_allclose(hourly.to_numpy(), quarter.to_numpy().reshape(48, 4).mean(1))
    five = forecast(past, method="seasonal_daily", step=timedelta(minutes=5))
    assert len(five) == 576
    np.testing.assert_allclose(five.to_numpy(), np.repeat(quarter.to_numpy(), 3))


def test_bad_arguments_are_errors():
    with pytest.raises(ValueError, match="unknown method"):
        forecast_array(np.ones(48), 4, "oracle", timedelta(hours=1))
    with pytest.raises(ValueError, match="must divide a day"):
        forecast_array(np.ones(48), 4, "profile", timedelta(hours=7))
    with pytest.raises(ValueError, match="no known value"):
        forecast_array(np.full(48, np.nan), 4, "persistence", timedelta(hours=1))


MISO = Path(__file__).parent / "data" / "eia930_miso_2022-01-01_03-11.csv"


def _miso() -> pd.Series:
    frame = pd.read_csv(MISO)
    return pd.Series(frame["carbon_g_per_kwh"].to_numpy(float),
                     index=pd.to_datetime(frame["time"], utc=True))


def _pooled_mae(result, buckets):
    """MAE over the lead buckets' forecasts (each bucket's MAE weighted by its leads)."""
    leads = {"12-24h": 12, "24-48h": 24}
    return sum(result.mae.loc[:, b] * leads[b] for b in buckets) / sum(leads[b] for b in buckets)


@pytest.mark.slow
def test_the_profile_beats_its_first_version_and_persistence_a_day_or_two_ahead():
    """Ten weeks of real hourly MISO carbon intensity (EIA-930, 2022, not a week the README
    replays): from every origin 12 h apart after four weeks, the default profile (recency-
    weighted shapes, reverting level) is closer 12-48 h ahead, where nightly plans place most
    work, than the first profile and than persistence."""
    result = backtest(_miso(), every=timedelta(hours=12),
                      methods=("persistence", "profile", "profile_flat"))
    assert result.origins > 70
    pooled = _pooled_mae(result, ("12-24h", "24-48h"))
    assert pooled["profile"] < pooled["profile_flat"] < pooled["persistence"]


def test_a_day_off_its_level_fades_back_while_a_lasting_shift_is_kept():
    """One day lifted by 30 on a steady grid is weather: ``profile`` lets it fade towards the
    month's level on the second day (``profile_flat`` holds it for 48 h); a shift that lasted
    the whole last week persisted day to day, so its level is kept."""
    clean = history(daily)
    noise = np.random.default_rng(0).normal(0.0, 3.0, len(clean))  # hour-to-hour, no memory
    past = clean + noise
    usual = np.asarray(daily(forecast(past).index))
    one_day = past.copy()
    one_day.iloc[-24:] += 30
    lift = forecast(one_day, method="profile").to_numpy() - usual
    flat = forecast(one_day, method="profile_flat").to_numpy() - usual
    assert flat.min() > 25 and lift[-24:].mean() < flat[-24:].mean() - 5
    week = past.copy()
    week.iloc[-24 * 7:] += 30
    kept = forecast(week, method="profile").to_numpy() - usual
    assert kept.min() > 25
