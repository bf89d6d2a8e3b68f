"""Our own forecaster, for when no provider forecast exists or the provider is down.

Every method forecasts the ``horizon`` intervals that follow a regular history ``y`` (one value
per interval, NaN where missing), from what is known at the end of the history:

- ``persistence``: the last known value, held (the baseline every forecast must beat);
- ``seasonal_daily``: the value one day earlier (two days for leads beyond a day, and so on);
- ``seasonal_weekly``: the value one week earlier;
- ``profile``: a blended profile with a recent level. Over the last four weeks, the mean shape
  of a day (per time of day, as deviations from each day's mean) and of a week (the same per
  day of week, plus each weekday's level against its week) are averaged with weight
  ``DAILY_WEIGHT``; the level is the last day's, net of the shape; and the current anomaly
  (last value minus level and shape) decays as an AR(1) process whose coefficient is fitted on
  the window's within-day residuals, so short leads follow the present and long leads the
  profile at the recent level.

Why these: grid carbon intensity is driven by the daily cycle of demand and solar, a weekly
cycle of demand, and weather that persists for hours; each method isolates one of these, and
the backtest (:mod:`greenslot.forecasts.backtest`) measures which earns its place where.
A missing value is never read as zero: seasonal methods step back a further period, and where
nothing is known the forecast falls back to the last known value.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

METHODS = ("persistence", "seasonal_daily", "seasonal_weekly", "profile")
DAILY_WEIGHT = 0.5
PROFILE_WEEKS = 4
DAY = timedelta(days=1)


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


def _column_means(folded: np.ndarray) -> np.ndarray:
    """NaN-aware mean of each column; 0 where a column has no value (no deviation known)."""
    known = ~np.isnan(folded)
    counts = known.sum(axis=0)
    sums = np.where(known, folded, 0.0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)


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


def _profile(y: np.ndarray, horizon: int, per_day: int) -> np.ndarray:
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
    daily = _column_means(deviation.reshape(-1, per_day))
    shape_in, shape_ahead = daily[inside % per_day], daily[ahead % per_day]
    if span >= per_week:
        # within-week shape of the deviations, plus each day's level against its week
        day_of_week = trend - _centred_mean(window, per_week)
        weekly = _column_means((deviation + day_of_week).reshape(-1, per_week))
        w = DAILY_WEIGHT
        shape_in = w * shape_in + (1 - w) * weekly[inside % per_week]
        shape_ahead = w * shape_ahead + (1 - w) * weekly[ahead % per_week]
    last_day = (window - shape_in)[span - per_day:]
    level = np.nanmean(last_day) if np.any(~np.isnan(last_day)) else np.nanmean(window)
    last = y[-1]
    anomaly = 0.0 if np.isnan(last) else last - (level + shape_ahead[0])
    decay = _persistence_of(window - level - shape_in) ** np.arange(1, horizon + 1)
    return level + shape_ahead[1:] + anomaly * decay


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
    if method == "profile":
        return _profile(y, horizon, per_day)
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
