"""Is our forecast's shape within a plan's horizon calibrated? One table per run.

    python -m benchmarks.forecast_calibration [--data ../shared/data] [--method profile]
                                              [--out t.md]

Why: a planner that picks the hours with the lowest forecast picks, among equals, the hours
whose forecast erred low (the optimiser's curse), and the more so the less reliable the
forecast is at that lead. Where the forecast's deviations from its own horizon mean
over-state the realised ones (a regression slope below 1), shrinking them by the slope is the
expected-value correction, and planning on forecast scenarios drawn from the error cannot do
better than planning on that corrected mean while the objective is linear in the signal. So
this measures, per lead bucket, the slope of ``actual - m`` on ``forecast - m`` (``m``: the
forecast's mean over its 48 h), pooled over origins every 6 h after 28 days of warm-up, and
how far the realised value sits above the forecast in the forecast's cleanest quarter of
hours (where a plan puts its jobs), in the series' unit and as a share of its mean.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._table import finish_table
from benchmarks.forecast_backtest import REPO
from benchmarks.forecast_holdout import carbon_series
from greenslot.forecasts.backtest import BUCKETS_H, _bucket_names, regular
from greenslot.forecasts.forecaster import PROFILE_WEEKS, forecast_array

HORIZON = timedelta(hours=48)
EVERY = timedelta(hours=6)
WARMUP_DAYS = 28
CLEANEST = 0.25  # share of a horizon's hours a plan is taken to use


def calibration(actual: pd.Series, method: str, step: timedelta | None
                ) -> tuple[np.ndarray, float, float]:
    """Slope per lead bucket, and the realised-minus-forecast mean in the cleanest quarter
    [series unit] with the series' mean."""
    y_series = regular(actual, step)
    y = y_series.to_numpy()
    native = pd.Timedelta(y_series.index.freq).to_pytimedelta()
    per_day = timedelta(days=1) // native
    horizon, per_week = HORIZON // native, 7 * per_day
    lead_h = np.arange(1, horizon + 1) * native.total_seconds() / 3600.0
    sxy, sxx = np.zeros(horizon), np.zeros(horizon)
    clean_error: list[np.ndarray] = []
    for origin in range(WARMUP_DAYS * per_day, len(y) - horizon, EVERY // native):
        target = y[origin:origin + horizon]
        history = y[max(0, origin - (PROFILE_WEEKS + 1) * per_week):origin]
        if np.isnan(target).any() or np.all(np.isnan(history)):
            continue
        predicted = forecast_array(history, horizon, method, native)
        mean = predicted.mean()
        sxy += (predicted - mean) * (target - mean)
        sxx += (predicted - mean) ** 2
        chosen = predicted <= np.quantile(predicted, CLEANEST)
        clean_error.append(target[chosen] - predicted[chosen])
    slopes = []
    for low, high in itertools.pairwise((0, *BUCKETS_H)):
        sel = (lead_h > low) & (lead_h <= high)
        slopes.append(sxy[sel].sum() / sxx[sel].sum() if sxx[sel].sum() > 0 else np.nan)
    return np.array(slopes), float(np.concatenate(clean_error).mean()), float(np.nanmean(y))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--method", default="profile")
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    cases = carbon_series(args.data)
    names = _bucket_names()
    lines = [f"| series ({args.method}): slope of realised on forecast deviations | "
             + " | ".join(names) + " | realised - forecast, cleanest quarter |",
             "|" + "---|" * (len(names) + 2)]
    for label, load, step in cases:
        slopes, error, mean = calibration(load(), args.method, step)
        lines.append(f"| {label} | " + " | ".join(f"{s:.2f}" for s in slopes)
                     + f" | {error:+.3g} ({100 * error / mean:+.1f} %) |")
        print(lines[-1], file=sys.stderr)
    return finish_table(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
