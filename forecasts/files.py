"""Forecast CSV files of the contract (section 1.3): read, check and resample onto slots.

The file layer knows nothing about providers: whatever fetched the numbers (an API adapter, an
operator's export) writes this format, and the planner reads only this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from greenslot.model import limits
from greenslot.model.checks import did_you_mean, fail
from greenslot.model.csvfile import read_strict_csv
from greenslot.model.timegrid import TimeGrid

REQUIRED_SIGNALS = ("carbon_g_per_kwh", "price_per_mwh")
OPTIONAL_SIGNALS = ("renewable_kw",)
KNOWN_SIGNALS = REQUIRED_SIGNALS + OPTIONAL_SIGNALS
NON_NEGATIVE = ("carbon_g_per_kwh", "renewable_kw")


@dataclass(frozen=True)
class ForecastTable:
    """One forecast file: UTC interval starts and the signal columns it carries."""

    path: Path
    display: str
    times: pd.DatetimeIndex
    columns: dict[str, np.ndarray]
    lines: list[int]


def read_forecast(path: Path, display: str) -> ForecastTable:
    """Read one forecast CSV and check its times and values.

    ``display`` is how the file is named in errors (as the user wrote it in the scenario).
    """
    if not path.is_file():
        fail("missing_file", display, None, None, "forecast file not found")
    frame = read_strict_csv(path, display)
    lines = frame.attrs["lines"]
    if "time" not in frame.columns:
        fail("missing_column", display, "line 1", "time", "forecast needs a 'time' column")
    for column in frame.columns:
        if column != "time" and column not in KNOWN_SIGNALS:
            # A misspelt signal would otherwise be dropped and the site planned without it.
            fail("unknown_column", display, "line 1", column,
                 f"unknown column;{did_you_mean(column, KNOWN_SIGNALS)} allowed: time, "
                 f"{', '.join(KNOWN_SIGNALS)}")
    if not lines:
        fail("forecast_gap", display, "line 2", "time",
             "the file has a header but no rows; add one row per interval of the horizon")
    signals = [c for c in frame.columns if c in KNOWN_SIGNALS]
    if not signals:
        fail(
            "missing_column", display, "line 1", None,
            f"no signal column; expected some of {', '.join(KNOWN_SIGNALS)}",
        )
    times = []
    for i, raw in enumerate(frame["time"]):
        line = lines[i]
        try:
            stamp = pd.Timestamp(raw)
        except ValueError:
            fail("bad_time", display, f"line {line}", "time", f"not an ISO 8601 time: {raw!r}")
        if stamp.tzinfo is None:
            fail(
                "naive_time", display, f"line {line}", "time",
                f"time {raw!r} has no UTC offset; write it like 2022-06-14T01:00:00+00:00",
            )
        times.append(stamp.tz_convert("UTC"))
    index = pd.DatetimeIndex(times)
    for i in range(1, len(index)):
        if index[i] <= index[i - 1]:
            fail(
                "forecast_not_increasing", display, f"line {lines[i]}", "time",
                "times must be strictly increasing (no duplicates)",
            )
    columns: dict[str, np.ndarray] = {}
    for name in signals:
        values = pd.to_numeric(frame[name].replace("", np.nan), errors="coerce")
        bad = frame[name][(values.isna() & (frame[name] != "")) | np.isinf(values)]
        if len(bad):
            row = lines[int(bad.index[0])]
            fail("bad_number", display, f"line {row}", name,
                 f"not a finite number: {bad.iloc[0]!r}; write plain decimals like 212.5")
        negative = values[values < 0]
        if name in NON_NEGATIVE and len(negative):
            row = lines[int(negative.index[0])]
            fail("negative_signal", display, f"line {row}", name,
                 f"must be >= 0, got {negative.iloc[0]:g}")
        columns[name] = values.to_numpy(dtype=float)
    return ForecastTable(path=path, display=display, times=index, columns=columns,
                         lines=lines)


def _coverage(times: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Start and end [s since epoch] of each row's interval.

    A row lasts until the next row, but never longer than the file's regular interval (the most
    common spacing): a longer spacing is a gap, and the last row lasts one regular interval.
    """
    seconds = np.array([stamp.timestamp() for stamp in times], dtype=float)
    if len(seconds) < 2:
        return seconds, seconds
    steps = np.diff(seconds)
    values, counts = np.unique(steps, return_counts=True)
    regular = values[np.argmax(counts)]
    ends = np.append(np.minimum(seconds[1:], seconds[:-1] + regular), seconds[-1] + regular)
    return seconds, ends


def resample_to_grid(table: ForecastTable, grid: TimeGrid) -> dict[str, np.ndarray]:
    """Time-weighted mean of each signal over each slot (values held over finer slots).

    Raises ``forecast_gap`` where part of the horizon is not covered, and ``forecast_nan`` where
    a row that covers the horizon has an empty value.
    """
    starts, ends = _coverage(table.times)
    slot_s = grid.slot.total_seconds()
    origin = pd.Timestamp(grid.start).timestamp()
    out = {name: np.empty(grid.n_slots) for name in table.columns}
    for t in range(grid.n_slots):
        a, b = origin + t * slot_s, origin + (t + 1) * slot_s
        rows = np.nonzero((starts < b) & (ends > a))[0]
        overlap = np.minimum(ends[rows], b) - np.maximum(starts[rows], a)
        if overlap.sum() < slot_s - 1e-6:
            when = pd.Timestamp(a, unit="s", tz="UTC").isoformat()
            fail(
                "forecast_gap", table.display, None, "time",
                f"no value covers the slot starting {when} (the horizon runs to "
                f"{grid.end.isoformat()}); extend the forecast or shorten the horizon",
            )
        for name, values in table.columns.items():
            chunk = values[rows]
            if np.isnan(chunk).any():
                row = table.lines[int(rows[np.isnan(chunk)][0])]
                fail("forecast_nan", table.display, f"line {row}", name, "empty value in horizon")
            out[name][t] = float(np.dot(chunk, overlap) / overlap.sum())
    return out


def _check_bounds(table: ForecastTable) -> None:
    """Every value within its signal's physical bounds (:data:`greenslot.model.limits.SIGNALS`).

    Why here and not only in :func:`read_forecast`: a provider's answer joins through this
    function too, and a finite but absurd value (``1e308`` g/kWh) would overflow the accounting
    into ``inf``/``NaN`` and place no job. Empty cells (NaN) are left to ``forecast_nan``,
    which knows whether they lie in the horizon. The first bad row is named.
    """
    for name, values in table.columns.items():
        bound = limits.SIGNALS.get(name)
        if bound is None:
            continue
        bad = np.flatnonzero(~np.isnan(values) & ((values < bound.low) | (values > bound.high)))
        if len(bad):
            row = table.lines[int(bad[0])] if int(bad[0]) < len(table.lines) else None
            if values[bad[0]] < 0 and name in NON_NEGATIVE:
                fail("negative_signal", table.display,
                     None if row is None else f"line {row}", name,
                     f"must be >= 0, got {values[bad[0]]:g}")
            fail("bad_number", table.display, None if row is None else f"line {row}", name,
                 f"{values[bad[0]]:g} is outside its bounds: must be {bound.describe()}")


def load_site_signals(
    files: Sequence[tuple[Path, str]], grid: TimeGrid, site_display: str
) -> dict[str, np.ndarray]:
    """Join one site's forecast files on time; together they must give both required signals."""
    return join_site_signals([read_forecast(path, display) for path, display in files], grid,
                             site_display)


def join_site_signals(
    tables: Sequence[ForecastTable], grid: TimeGrid, site_display: str
) -> dict[str, np.ndarray]:
    """Join one site's tables (files, or provider answers) on the grid; each signal from one."""
    joined: dict[str, np.ndarray] = {}
    owner: dict[str, str] = {}
    for table in tables:
        display = table.display
        _check_bounds(table)
        for name, values in resample_to_grid(table, grid).items():
            if name in joined:
                fail(
                    "forecast_duplicate_column", display, "line 1", name,
                    f"also given by {owner[name]}; each signal must come from one file",
                )
            joined[name], owner[name] = values, display
    for name in REQUIRED_SIGNALS:
        if name not in joined:
            fail(
                "missing_column", site_display, None, "forecast",
                f"the site's forecast files give no '{name}' column",
            )
    joined.setdefault("renewable_kw", np.zeros(grid.n_slots))
    return joined
