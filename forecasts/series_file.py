"""Read a history series for the backtest and the forecaster from CSV.

Format: a ``time`` (or ``timestamp``) column of interval starts with a UTC offset, one value
column, and optionally the provider's forecasts ``f1 .. fK`` issued at each row for ``k``
intervals ahead (the SGIP MOER files' layout). Empty cells are missing values, never zeros.
Every problem is a one-line :class:`~greenslot.model.errors.ScenarioError` naming file, line and
field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from greenslot.model.checks import fail
from greenslot.model.csvfile import read_strict_csv

TIME_COLUMNS = ("time", "timestamp")


@dataclass(frozen=True)
class HistoryFile:
    """The value column as a series, and the provider's forecasts by lead (in intervals)."""

    name: str
    values: pd.Series
    provider: dict[int, pd.Series]


def _numbers(frame: pd.DataFrame, column: str, lines: list[int], display: str) -> np.ndarray:
    raw = frame[column]
    values = pd.to_numeric(raw.replace("", np.nan), errors="coerce")
    bad = raw[values.isna() & (raw != "")]
    if len(bad):
        fail("bad_number", display, f"line {lines[int(bad.index[0])]}", column,
             f"not a number: {bad.iloc[0]!r}")
    return values.to_numpy(dtype=float)


def read_history(path: Path, display: str, column: str | None = None,
                 forecast_prefix: str = "f") -> HistoryFile:
    """Read ``path``; ``column`` names the value column when the file has several."""
    if not Path(path).is_file():
        fail("missing_file", display, None, None, "series file not found")
    frame = read_strict_csv(Path(path), display)
    lines = frame.attrs["lines"]
    time_column = next((c for c in TIME_COLUMNS if c in frame.columns), None)
    if time_column is None:
        fail("missing_column", display, "line 1", "time", "needs a 'time' column")
    pattern = re.compile(rf"{re.escape(forecast_prefix)}(\d+)")
    leads = {int(m[1]): c for c in frame.columns if (m := pattern.fullmatch(c))}
    others = [c for c in frame.columns if c != time_column and c not in leads.values()]
    if column is None:
        if len(others) != 1:
            fail("missing_column", display, "line 1", None,
                 f"pick the value column with --column (one of {', '.join(others) or 'none'})")
        column = others[0]
    elif column not in frame.columns:
        fail("missing_column", display, "line 1", column, "no such column")
    if not len(frame):
        fail("bad_csv", display, "line 2", None, "no rows")
    times = []
    for i, raw in enumerate(frame[time_column]):
        try:
            stamp = pd.Timestamp(raw)
        except ValueError:
            fail("bad_time", display, f"line {lines[i]}", time_column,
                 f"not an ISO 8601 time: {raw!r}")
        if stamp is pd.NaT or stamp.tzinfo is None:
            fail("naive_time", display, f"line {lines[i]}", time_column,
                 f"time {raw!r} has no UTC offset; write it like 2022-06-14T01:00:00+00:00")
        times.append(stamp.tz_convert("UTC"))
    index = pd.DatetimeIndex(times)
    repeated = np.flatnonzero(index.duplicated())
    if len(repeated):
        fail("forecast_not_increasing", display, f"line {lines[int(repeated[0])]}", time_column,
             "a time appears twice")
    values = pd.Series(_numbers(frame, column, lines, display), index=index).sort_index()
    provider = {k: pd.Series(_numbers(frame, c, lines, display), index=index).sort_index()
                for k, c in sorted(leads.items())}
    return HistoryFile(column, values, provider)
