"""Backtest: how far off each forecasting method is, by lead time, on a real series.

From each origin (every ``every``, after ``warmup`` of history) every method forecasts the next
``horizon`` from the history before the origin only, and its errors against what then happened
are pooled by lead time. Reported per lead bucket: MAE (in the series' unit) and MAPE (%).
MAPE skips actuals whose magnitude is under 1 % of the series' mean magnitude: near zero it
measures nothing but the denominator (CAISO's MOER is exactly 0 in about 4.5 % of 2020).

Where the data carries the provider's own forecasts (columns ``f1 .. fK``: the forecast issued
at row ``t`` for ``t + k`` intervals), they are scored on the same targets: the provider's
lead-``h`` forecast is ``f_h`` issued at the last known interval, which is the information our
methods have.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from greenslot.forecasts.forecaster import METHODS, PROFILE_WEEKS, forecast_array

BUCKETS_H = (1, 3, 6, 12, 24, 48)  # lead buckets (previous edge, edge] in hours
PROVIDER = "provider"


class BacktestError(ValueError):
    """A backtest that cannot run on this series with these options.

    ``check`` is a stable name for scripts and tests, ``field`` the option (``--warmup``...)
    the user has to change; the message gives durations as people write them (``6 h``).
    """

    def __init__(self, check: str, field: str, message: str) -> None:
        self.check, self.field, self.message = check, field, message
        super().__init__(message)


def human_duration(value: timedelta) -> str:
    """``timedelta(hours=6)`` -> ``"6 h"``; ``28 days`` -> ``"28 d"``; ``90 min`` -> ``"1.5 h"``.

    Why: ``str(timedelta)`` reads ``28 days, 0:00:00`` and ``0:05:00``, which a user has to
    decode; an error message must say it as the options are written.
    """
    seconds = value.total_seconds()
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if abs(seconds) >= size:
            return f"{seconds / size:.4g} {unit}"
    return f"{seconds:.4g} s"


@dataclass(frozen=True)
class Backtest:
    """Scores by method (rows) and lead bucket (columns ``"<=1h"``, ``"1-3h"``...)."""

    mae: pd.DataFrame
    mape: pd.DataFrame
    origins: int
    step: timedelta

    def rows(self, label: str | None = None) -> list[str]:
        """Markdown rows, one per method, each cell ``MAE (MAPE %)``; ``label`` leads each."""
        lines = []
        for method in self.mae.index:
            cells = [] if label is None else [label]
            cells.append(method)
            for bucket in self.mae.columns:
                mae, mape = self.mae.loc[method, bucket], self.mape.loc[method, bucket]
                cells.append("" if np.isnan(mae) else f"{mae:.3g} ({mape:.1f} %)")
            lines.append("| " + " | ".join(cells) + " |")
        return lines

    def markdown(self) -> str:
        """The whole table: a header, then :meth:`rows`."""
        return "\n".join([header(), *self.rows()])


def header(label: str | None = None) -> str:
    """The markdown header for :meth:`Backtest.rows` (with a leading ``label`` column)."""
    names = ([] if label is None else [label]) + ["method", *_bucket_names()]
    return "| " + " | ".join(names) + " |\n|" + "---|" * len(names)


def _bucket_names() -> list[str]:
    names, low = [], 0
    for high in BUCKETS_H:
        names.append(f"<={high}h" if low == 0 else f"{low}-{high}h")
        low = high
    return names


def regular(series: pd.Series, step: timedelta | None = None) -> pd.Series:
    """The series on a regular UTC grid of ``step`` (interval means; empty intervals NaN)."""
    index = pd.DatetimeIndex(series.index).tz_convert("UTC")
    clean = pd.Series(series.to_numpy(dtype=float), index=index).sort_index()
    clean = clean[~clean.index.duplicated()]
    if step is None:
        step = pd.Series(clean.index[1:] - clean.index[:-1]).mode().iloc[0].to_pytimedelta()
    return clean.resample(step).mean()


def backtest(actual: pd.Series, provider: Mapping[int, pd.Series] | None = None,
             horizon: timedelta = timedelta(hours=48), every: timedelta = timedelta(hours=6),
             warmup: timedelta = timedelta(days=28), step: timedelta | None = None,
             methods: tuple[str, ...] = METHODS) -> Backtest:
    """Score ``methods`` (and the provider's forecasts, if given) on ``actual``."""
    if len(actual) < 2 and step is None:
        raise BacktestError("too_few_rows", "time",
                            f"the series has {len(actual)} row(s); a backtest needs a history "
                            "of many intervals")
    y_series = regular(actual, step)
    if step is None:
        freq = pd.DatetimeIndex(y_series.index).freq  # regular() resampled it to a fixed step
        if not isinstance(freq, pd.offsets.Tick):
            raise BacktestError("no_fixed_step", "--slot",
                                "the series has no fixed interval between rows; give one "
                                "with --slot (like 30min or 1h)")
        step = pd.Timedelta(freq).to_pytimedelta()
    if timedelta(days=1) % step:
        raise BacktestError("slot_not_dividing_day", "--slot",
                            f"the interval of {human_duration(step)} does not divide a day; "
                            "the daily and weekly methods need one that does (like 30 min)")
    if horizon < step:
        raise BacktestError("horizon_below_slot", "--horizon",
                            f"the horizon of {human_duration(horizon)} is shorter than one "
                            f"interval of {human_duration(step)}")
    y, times = y_series.to_numpy(), y_series.index
    n, H = len(y), int(horizon // step)
    per_week = int(timedelta(days=7) // step)
    first, stride = int(warmup // step), max(1, int(every // step))
    if first >= n - 1:
        raise BacktestError("series_shorter_than_warmup", "--warmup",
                            f"the series ({human_duration(step * n)}: {n} intervals of "
                            f"{human_duration(step)}) is shorter than the warm-up of "
                            f"{human_duration(warmup)}; lower --warmup or give a longer "
                            "series")
    threshold = 0.01 * np.nanmean(np.abs(y))
    leads_hours = np.arange(1, H + 1) * step.total_seconds() / 3600.0
    names = list(methods)
    issued: dict[int, np.ndarray | None] = {}
    if provider:
        names.append(PROVIDER)
        for k, values in provider.items():
            issued[k] = values.reindex(times).to_numpy(dtype=float) if k <= H else None
    abs_sum = {m: np.zeros(H) for m in names}
    abs_n = {m: np.zeros(H) for m in names}
    pct_sum = {m: np.zeros(H) for m in names}
    pct_n = {m: np.zeros(H) for m in names}
    origins = range(first, n - 1, stride)
    for T in origins:
        target = np.full(H, np.nan)
        avail = y[T:T + H]
        target[:len(avail)] = avail
        known = ~np.isnan(target)
        scaled = known & (np.abs(np.nan_to_num(target)) >= threshold)
        history = y[max(0, T - (PROFILE_WEEKS + 1) * per_week):T]
        if np.all(np.isnan(history)):
            continue
        forecasts = {m: forecast_array(history, H, m, step) for m in methods}
        if provider:
            forecasts[PROVIDER] = np.array([row[T - 1] if (row := issued.get(h)) is not None
                                            else np.nan for h in range(1, H + 1)])
        for m, f in forecasts.items():
            ok = known & ~np.isnan(f)
            err = np.abs(np.where(ok, f - target, 0.0))
            abs_sum[m] += err
            abs_n[m] += ok
            good = ok & scaled
            pct_sum[m] += np.where(good, err / np.where(good, np.abs(target), 1.0), 0.0)
            pct_n[m] += good
    columns = _bucket_names()
    mae = pd.DataFrame(np.nan, index=names, columns=columns)
    mape = mae.copy()
    low = 0.0
    for high, column in zip(BUCKETS_H, columns, strict=True):
        sel = (leads_hours > low) & (leads_hours <= high)
        low = high
        for m in names:
            if abs_n[m][sel].sum() and (m != PROVIDER or abs_n[m][sel].all()):
                mae.loc[m, column] = abs_sum[m][sel].sum() / abs_n[m][sel].sum()
                mape.loc[m, column] = 100 * pct_sum[m][sel].sum() / max(pct_n[m][sel].sum(), 1)
    return Backtest(mae, mape, len(origins), step)
