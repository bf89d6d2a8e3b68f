"""Our own forecaster, for when no provider forecast exists or the provider is down.

Every method forecasts the ``horizon`` intervals that follow a regular history ``y`` (one value
per interval, NaN where missing), from what is known at the end of the history:

- ``persistence``: the last known value, held (the baseline every forecast must beat);
- ``seasonal_daily``: the value one day earlier (two days for leads beyond a day, and so on);
- ``seasonal_weekly``: the value one week earlier;
- ``profile``: a blended profile with a recent level. Over the last four weeks, the mean shape
  of a day (per time of day, as deviations from each day's mean) and of a week (the same per
  day of week, plus each weekday's level against its week) are blended 0.7 to 0.3, each day
  weighing half as much as one a week more recent; the level is the last day's, net of the
  shape, and reverts with lead towards the window's level at the day-to-day persistence fitted
  on the window's daily levels; the current anomaly (last value minus level and shape) decays
  as an AR(1) process whose coefficient is fitted on the window's within-day residuals, so
  short leads follow the present and long leads the profile at a level between the last
  day's and the month's;
- ``profile_flat``: the first ``profile``: all days alike, daily and weekly shapes half and
  half, the last day's level held for the whole horizon.

Why these: grid carbon intensity is driven by the daily cycle of demand and solar, a weekly
cycle of demand, and weather that persists for hours; each method isolates one of these, and
the backtest (:mod:`greenslot.forecasts.backtest`) measures which earns its place where.
A missing value is never read as zero: seasonal methods step back a further period, and where
nothing is known the forecast falls back to the last known value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

METHODS = ("persistence", "seasonal_daily", "seasonal_weekly", "profile", "profile_flat")
PROFILE_WEEKS = 4
DAY = timedelta(days=1)


@dataclass(frozen=True)
class ProfileSettings:
    """How ``profile`` weighs its window.

    ``daily_weight``: the daily shape's share against the weekly one (the weekly shape has a
    seventh of the samples per column, so it is noisier); ``half_life_days``: age [days] at
    which a day of the window weighs half the last one (None: all days alike);
    ``level_reverts``: whether the last day's level reverts with lead to the window's, at the
    rate fitted on the window's daily levels (False: held for the whole horizon).
    """

    daily_weight: float
    half_life_days: float | None
    level_reverts: bool


# Chosen by backtest on held-out data (EIA-930 2022, and 2020 origins away from the replay
# weeks); see README "Our own forecaster". ``profile_flat`` is the first version, kept.
PROFILES = {
    "profile": ProfileSettings(daily_weight=0.7, half_life_days=7.0, level_reverts=True),
    "profile_flat": ProfileSettings(daily_weight=0.5, half_life_days=None, level_reverts=False),
}


def _last_known(y: np.ndarray) -> float:
    known = np.flatnonzero(~np.isnan(y))
    if not len(known):
        raise ValueError("the history has no known value")
    return float(y[known[-1]])


def _seasonal(y: np.ndarray, horizon: int, period: int) -> np.ndarray:
    """y[T + h - k*period] for the smallest k that lands in the history on a known value."""
    n, out = len(y), np.empty(horizon)
    fallback = _last_known(y)
    for h in range(horizon):
        k = h // period + 1
        value = np.nan
        while n + h - k * period >= 0:
            value = y[n + h - k * period]
            if not np.isnan(value):
                break
            k += 1
        out[h] = fallback if np.isnan(value) else value
    return out


def _persistence_of(residual: np.ndarray) -> float:
    """Lag-one autocorrelation of the profile's residual (an AR(1) coefficient), in [0, 1).

    Why fitted, not fixed: how long a departure from the usual day lasts depends on the grid
    and the interval (weather fronts over hours; 5-minute MOER noise over minutes).
    """
    a, b = residual[1:], residual[:-1]
    both = ~np.isnan(a) & ~np.isnan(b)
    denominator = float(np.sum(b[both] ** 2))
    if denominator <= 0:
        return 0.0
    return float(np.clip(np.sum(a[both] * b[both]) / denominator, 0.0, 0.999))


def _column_means(folded: np.ndarray, half_life_rows: float | None = None) -> np.ndarray:
    """NaN-aware mean of each column; 0 where a column has no value (no deviation known).

    With ``half_life_rows``, row ``i`` from the end (the last row is 0) weighs
    ``0.5 ** (i / half_life_rows)``: recent days (weeks) count more, so a profile follows the
    season (sunrise, heating) instead of averaging a month of it.
    """
    known = ~np.isnan(folded)
    age = np.arange(folded.shape[0])[::-1].astype(float)
    row_weight = np.ones_like(age) if half_life_rows is None else 0.5 ** (age / half_life_rows)
    weights = np.where(known, row_weight[:, None], 0.0)
    counts = weights.sum(axis=0)
    sums = (np.where(known, folded, 0.0) * weights).sum(axis=0)
    return np.where(counts > 0, sums / np.where(counts > 0, counts, 1.0), 0.0)


def _centred_mean(values: np.ndarray, width: int) -> np.ndarray:
    """Centred moving mean over ``width`` intervals; NaN where the window is not full.

    Why not shorter windows at the edges: a half-day mean at the window's end is not a level
    but part of the daily cycle, and would bias the shape there.
    """
    need = max(1, width * 9 // 10)  # a few missing values inside are fine
    mean = pd.Series(values).rolling(width, center=True, min_periods=need).mean().to_numpy(
        copy=True)
    half = width // 2
    mean[:half] = np.nan
    mean[len(mean) - (width - half) + 1:] = np.nan
    return mean


def _profile(y: np.ndarray, horizon: int, per_day: int, settings: ProfileSettings) -> np.ndarray:
    """The blended daily/weekly profile plus the recent level and a decaying anomaly.

    The window is whole days (whole weeks when there are) ending one interval before the
    origin, so column ``j`` of the window folded by days (weeks) is the time of day (of week)
    of the last known interval for ``j = 0`` and of lead ``j`` after it: the last known value
    and the first leads read consecutive columns, with no wrap-around between them. Shapes are
    taken against a centred 24 h moving mean, so a windy week moves the level, not the shape.
    """
    per_week = 7 * per_day
    usable = len(y) - 1
    span = min(usable // per_week, PROFILE_WEEKS) * per_week
    if span == 0:  # under a week of history: a daily profile only
        span = (usable // per_day) * per_day
    window = y[usable - span:usable]
    if span == 0 or np.all(np.isnan(window)):
        return np.full(horizon, _last_known(y))
    trend = _centred_mean(window, per_day)
    deviation = window - trend
    # shape of the window's own intervals, then of the last known one (0) and the leads
    inside, ahead = np.arange(span), np.arange(horizon + 1)
    daily = _column_means(deviation.reshape(-1, per_day), settings.half_life_days)
    shape_in, shape_ahead = daily[inside % per_day], daily[ahead % per_day]
    if span >= per_week:
        # within-week shape of the deviations, plus each day's level against its week
        day_of_week = trend - _centred_mean(window, per_week)
        weekly = _column_means((deviation + day_of_week).reshape(-1, per_week),
                               None if settings.half_life_days is None
                               else settings.half_life_days / 7)
        w = settings.daily_weight
        shape_in = w * shape_in + (1 - w) * weekly[inside % per_week]
        shape_ahead = w * shape_ahead + (1 - w) * weekly[ahead % per_week]
    last_day = (window - shape_in)[span - per_day:]
    level = np.nanmean(last_day) if np.any(~np.isnan(last_day)) else np.nanmean(window)
    last = y[-1]
    anomaly = 0.0 if np.isnan(last) else last - (level + shape_ahead[0])
    decay = _persistence_of(window - level - shape_in) ** np.arange(1, horizon + 1)
    levels = np.full(horizon, level)
    if settings.level_reverts:
        # the last day's level reverts to the window's at the rate the daily levels did, but
        # never faster than a departure within the day fades (else the first leads would
        # drop the present level when daily levels show no day-to-day persistence)
        window_level = float(np.nanmean(window - shape_in))
        by_day = (window - shape_in).reshape(-1, per_day)
        known = (~np.isnan(by_day)).sum(axis=1)
        daily_levels = np.where(known > 0, np.nansum(by_day, axis=1) / np.maximum(known, 1),
                                np.nan)
        phi_per_day = _persistence_of(daily_levels - window_level)
        lead_days = np.arange(1, horizon + 1) / per_day
        kept = np.maximum(phi_per_day ** lead_days, decay)
        levels = window_level + (level - window_level) * kept
    return levels + shape_ahead[1:] + anomaly * decay


def forecast_array(y: np.ndarray, horizon: int, method: str, step: timedelta) -> np.ndarray:
    """Forecast ``horizon`` intervals after the regular history ``y`` [same unit as ``y``]."""
    if step <= timedelta(0) or DAY % step:
        raise ValueError(f"the interval ({step}) must divide a day")
    per_day = DAY // step
    if method == "persistence":
        return np.full(horizon, _last_known(y))
    if method == "seasonal_daily":
        return _seasonal(y, horizon, per_day)
    if method == "seasonal_weekly":
        return _seasonal(y, horizon, 7 * per_day)
    if method in PROFILES:
        return _profile(y, horizon, per_day, PROFILES[method])
    raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")


def forecast(history: pd.Series, horizon: timedelta = timedelta(hours=48),
             method: str = "profile", step: timedelta | None = None) -> pd.Series:
    """The next ``horizon`` after ``history``, at interval ``step`` (default: the history's).

    ``history`` is indexed by tz-aware interval starts; it is put on its own regular grid
    (interval means; an interval without a value is missing, never 0) and forecast there. The
    forecast is then brought to ``step`` as the contract resamples: the mean over a coarser
    interval, the value held over a finer one. Returns a series indexed by interval starts.
    """
    index = pd.DatetimeIndex(history.index).tz_convert("UTC")
    series = pd.Series(history.to_numpy(dtype=float), index=index).sort_index()
    native = pd.Series(index[1:] - index[:-1]).mode().iloc[0].to_pytimedelta()
    step = step or native
    regular = series.resample(native).mean()
    start = regular.index[-1] + native
    n_native = -(-horizon // native) + -(-step // native)  # enough to cover a last coarse slot
    values = forecast_array(regular.to_numpy(), n_native, method, native)
    ahead = pd.Series(values, index=pd.date_range(start, periods=n_native, freq=native))
    target = pd.date_range(start, periods=int(horizon // step), freq=step, name="time")
    if step >= native:
        return ahead.resample(step).mean().reindex(target)
    return ahead.reindex(target, method="ffill")
