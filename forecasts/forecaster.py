"""Our own forecaster, for when no provider forecast exists or the provider is down.

Every method forecasts the ``horizon`` intervals that follow a regular history ``y`` (one value
per interval, NaN where missing), from what is known at the end of the history:

- ``persistence``: the last known value, held (the baseline every forecast must beat);
- ``seasonal_daily``: the value one day earlier (two days for leads beyond a day, and so on);
- ``seasonal_weekly``: the value one week earlier;
- ``profile``: a blended profile with a recent level. Over the last four weeks, the mean shape
  of a day (per time of day) and of a week (per day of week and time of day) are taken as
  deviations from the four-week mean and averaged with weight ``DAILY_WEIGHT``; the level is the
  profile's mean error over the last day; and the current anomaly (last value minus what the
  profile says for it) decays as an AR(1) process whose coefficient is fitted on the window's
  residuals, so short leads follow the present and long leads the profile.

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


def _column_means(window: np.ndarray, width: int, empty: float) -> np.ndarray:
    """Mean of each column of ``window`` folded into rows of ``width``; ``empty`` where none."""
    folded = window.reshape(-1, width)
    known = ~np.isnan(folded)
    counts = known.sum(axis=0)
    sums = np.where(known, folded, 0.0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), empty)


def _profile(y: np.ndarray, horizon: int, per_day: int, step: timedelta,
             phase: int) -> np.ndarray:
    """The blended daily/weekly profile plus the recent level and a decaying anomaly.

    ``phase`` is the position within the week of the first forecast interval, counted in
    intervals from Monday 00:00 UTC, so profiles line up with clock time.
    """
    per_week = 7 * per_day
    span = min(len(y) // per_week, PROFILE_WEEKS) * per_week
    if span == 0:  # under a week of history: a daily profile only
        span = (len(y) // per_day) * per_day
    window = y[len(y) - span:]
    if span == 0 or np.all(np.isnan(window)):
        return np.full(horizon, _last_known(y))
    mean = np.nanmean(window)
    # position in the week of every window interval, then of the forecast intervals; the
    # window is whole days (weeks), so column j of a day (week) reshape is position phase + j
    week_pos = (phase - span + np.arange(span + horizon)) % per_week
    day_pos = week_pos % per_day
    daily = np.roll(_column_means(window, per_day, mean) - mean, phase % per_day)
    shape = daily[day_pos]
    if span >= per_week:
        weekly = np.roll(_column_means(window, per_week, mean) - mean, phase)
        shape = DAILY_WEIGHT * shape + (1 - DAILY_WEIGHT) * weekly[week_pos]
    # level: how far the last day sat above or below what the profile expected of it
    fitted = mean + shape[:span]
    recent = (window - fitted)[span - per_day:]
    level = mean + (np.nanmean(recent) if np.any(~np.isnan(recent)) else 0.0)
    baseline = level + shape[span:]
    last = y[-1]
    anomaly = 0.0 if np.isnan(last) else last - (level + shape[span - 1])
    return baseline + anomaly * _persistence_of(window - fitted) ** np.arange(1, horizon + 1)


def forecast_array(y: np.ndarray, horizon: int, method: str, step: timedelta,
                   phase: int = 0) -> np.ndarray:
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
        return _profile(y, horizon, per_day, step, phase)
    raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")


def week_phase(start: pd.Timestamp, step: timedelta) -> int:
    """Intervals from the Monday 00:00 UTC before ``start`` to ``start``."""
    start = pd.Timestamp(start).tz_convert("UTC")
    monday = start.normalize() - pd.Timedelta(days=start.day_of_week)
    return int((start - monday) // step)


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
    values = forecast_array(regular.to_numpy(), n_native, method, native,
                            week_phase(start, native))
    ahead = pd.Series(values, index=pd.date_range(start, periods=n_native, freq=native))
    target = pd.date_range(start, periods=int(horizon // step), freq=step, name="time")
    if step >= native:
        return ahead.resample(step).mean().reindex(target)
    return ahead.reindex(target, method="ffill")
