"""Backtest our forecasting methods on the real series in ../shared/data; print one table.

    python -m benchmarks.forecast_backtest [--data ../shared/data] [--every 6h] [--out t.md]

Series (see ../shared/data/SOURCES.md for origin and licence; read here, never shipped):

- GB and DE carbon intensity 2020 (lets-wait-awhile ``gb_ci.csv``, ``ger_ci.csv``; naive
  timestamps that are UTC; GB switches from 30- to 15-minute steps on 2020-10-31, so it is put
  on 30 minutes; DE on its own 15 minutes);
- CAISO (PG&E) MOER 2020 from SGIP (12 monthly files, overlapping by a day, de-duplicated on
  ``time``; kg/kWh converted to g/kWh), with the provider's own 5-minute to 3-hour forecasts;
- EIA-930 average carbon intensity 2022, hourly, seven balancing authorities (``avg_CI``).

Every series is cut to its calendar year; the first 28 days are warm-up, then a 48 h forecast
from every origin 6 h apart. Cells are MAE in g/kWh and MAPE.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd

from benchmarks._table import finish_table
from greenslot.forecasts.backtest import backtest, header

REPO = Path(__file__).resolve().parents[1]
EIA_BAS = ("AZPS", "BPAT", "CISO", "MISO", "NYIS", "PJM", "SOCO")


def _year(series: pd.Series, year: int) -> pd.Series:
    return series[(series.index >= f"{year}-01-01") & (series.index < f"{year + 1}-01-01")]


def lets_wait_awhile(path: Path) -> pd.Series:
    frame = pd.read_csv(path)
    index = pd.to_datetime(frame["Time"]).dt.tz_localize("UTC")
    return _year(pd.Series(frame["Carbon Intensity"].to_numpy(float), index=index), 2020)


def sgip(folder: Path) -> tuple[pd.Series, dict[int, pd.Series]]:
    frames = [pd.read_csv(p) for p in sorted(folder.glob("SGIP_CAISO_PGE_2020-*.csv.gz"))]
    frame = pd.concat(frames).drop_duplicates("time").sort_values("time")
    index = pd.DatetimeIndex(pd.to_datetime(frame["time"], utc=True))
    g_per_kwh = 1000.0  # kg/kWh -> g/kWh
    actual = pd.Series(frame["moer"].to_numpy(float) * g_per_kwh, index=index)
    provider = {k: _year(pd.Series(frame[f"f{k}"].to_numpy(float) * g_per_kwh, index=index),
                         2020) for k in range(1, 37)}
    return _year(actual, 2020), provider


def eia(path: Path) -> pd.Series:
    frame = pd.read_csv(path)
    index = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], utc=True))
    return _year(pd.Series(frame["avg_CI"].to_numpy(float), index=index), 2022)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--every", default="6h", help="time between origins (default 6h)")
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    every = pd.Timedelta(args.every).to_pytimedelta()
    cases = [
        ("GB carbon 2020 (30 min)", lambda: (lets_wait_awhile(
            args.data / "lets-wait-awhile" / "gb_ci.csv"), None), timedelta(minutes=30)),
        ("DE carbon 2020 (15 min)", lambda: (lets_wait_awhile(
            args.data / "lets-wait-awhile" / "ger_ci.csv"), None), None),
        ("CAISO MOER 2020 (5 min)", lambda: sgip(args.data / "sgip-moer-caiso"), None),
    ] + [(f"EIA-930 {ba} 2022 (1 h)", lambda ba=ba: (eia(
        args.data / "eia930-us-ci-2022" / f"{ba}_2022_ci_genmix.csv"), None), None)
        for ba in EIA_BAS]
    lines = [header("series")]
    for label, load, step in cases:
        started = time.monotonic()
        actual, provider = load()
        result = backtest(actual, provider, every=every, step=step)
        lines.extend(result.rows(label))
        print(f"{label}: {result.origins} origins, {time.monotonic() - started:.1f} s",
              file=sys.stderr)
    return finish_table(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
