"""Compare two of our forecasting methods on held-out origins only; print one ratio table.

    python -m benchmarks.forecast_holdout [--data ../shared/data] [--new profile]
                                          [--old profile_flat] [--out t.md]

Why a separate table: the README's replay weeks (``benchmarks.simulate_replays.WEEKS``) must
not choose the forecaster that is then scored on them. Every origin from a day before to nine
days after the start of a replayed week (its 48 h plans look that far) is left out of the 2020
series (GB, DE, CAISO at 30-minute means, as the replays use them); the EIA-930 2022 series
(another year, grids the replays do not use) are kept whole. Origins every 6 h after 28 days
of warm-up, 48 h ahead, as :mod:`benchmarks.forecast_backtest`. Cells: MAE of ``--new``
divided by MAE of ``--old`` per lead bucket (below 1: the new method is closer), with the new
method's MAE in g/kWh in brackets.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._table import finish_table
from benchmarks.forecast_backtest import EIA_BAS, REPO, eia, lets_wait_awhile, sgip
from benchmarks.simulate_replays import WEEKS
from greenslot.forecasts.backtest import BUCKETS_H, _bucket_names, regular
from greenslot.forecasts.forecaster import PROFILE_WEEKS, forecast_array

HORIZON = timedelta(hours=48)
EVERY = timedelta(hours=6)
WARMUP_DAYS = 28
LEFT_OUT_BEFORE, LEFT_OUT_AFTER = timedelta(days=1), timedelta(days=9)


def held_out(times: pd.DatetimeIndex) -> np.ndarray:
    """True where an origin is far enough from every replayed week to be used."""
    keep = np.ones(len(times), dtype=bool)
    for week in WEEKS:
        start = pd.Timestamp(week, tz="UTC")
        keep &= ~((times >= start - LEFT_OUT_BEFORE) & (times <= start + LEFT_OUT_AFTER))
    return keep


def mae_by_bucket(actual: pd.Series, methods: tuple[str, ...],
                  step: timedelta | None) -> dict[str, np.ndarray]:
    """Pooled MAE [series unit] per lead bucket for each method, over held-out origins."""
    y_series = regular(actual, step)
    y, times = y_series.to_numpy(), pd.DatetimeIndex(y_series.index)
    native = pd.Timedelta(y_series.index.freq).to_pytimedelta()
    per_day = timedelta(days=1) // native
    H, per_week = HORIZON // native, 7 * per_day
    lead_h = np.arange(1, H + 1) * native.total_seconds() / 3600.0
    err = {m: np.zeros(H) for m in methods}
    count = np.zeros(H)
    usable = held_out(times)
    for T in range(WARMUP_DAYS * per_day, len(y) - 1, EVERY // native):
        if not usable[T]:
            continue
        target = np.full(H, np.nan)
        ahead = y[T:T + H]
        target[:len(ahead)] = ahead
        known = ~np.isnan(target)
        history = y[max(0, T - (PROFILE_WEEKS + 1) * per_week):T]
        if np.all(np.isnan(history)):
            continue
        count += known
        for m in methods:
            f = forecast_array(history, H, m, native)
            err[m] += np.where(known, np.abs(f - np.nan_to_num(target)), 0.0)
    edges = (0, *BUCKETS_H)
    out = {}
    for m in methods:
        cells = []
        for low, high in itertools.pairwise(edges):
            sel = (lead_h > low) & (lead_h <= high)
            cells.append(err[m][sel].sum() / max(count[sel].sum(), 1.0))
        out[m] = np.array(cells)
    return out


def carbon_series(data: Path) -> list[tuple[str, Callable[[], pd.Series], timedelta | None]]:
    """The real carbon series both forecast tables read: ``(label, load, step)``, ``step``
    the interval they are averaged to (None: their own)."""
    half_hour = timedelta(minutes=30)
    lwa = data / "lets-wait-awhile"
    return [
        ("GB carbon 2020", lambda: lets_wait_awhile(lwa / "gb_ci.csv"), half_hour),
        ("DE carbon 2020", lambda: lets_wait_awhile(lwa / "ger_ci.csv"), half_hour),
        ("CAISO MOER 2020", lambda: sgip(data / "sgip-moer-caiso")[0], half_hour),
    ] + [(f"EIA-930 {ba} 2022", lambda ba=ba: eia(
        data / "eia930-us-ci-2022" / f"{ba}_2022_ci_genmix.csv"), None) for ba in EIA_BAS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--new", default="profile")
    parser.add_argument("--old", default="profile_flat")
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    cases = carbon_series(args.data)
    names = _bucket_names()
    lines = [f"| series ({args.new} / {args.old}) | " + " | ".join(names) + " |",
             "|" + "---|" * (len(names) + 1)]
    for label, load, step in cases:
        mae = mae_by_bucket(load(), (args.new, args.old), step)
        cells = [f"{n / o:.3f} ({n:.3g})" for n, o in zip(mae[args.new], mae[args.old],
                                                           strict=True)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
        print(lines[-1], file=sys.stderr)
    return finish_table(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
