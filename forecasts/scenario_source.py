"""Resolve a scenario's provider entries into forecast tables for ``greenslot plan``.

Why apart from the entry's shape check (:mod:`greenslot.forecasts.provider_entry`): asking the
provider, falling back to the cache and then to our forecaster from the site's history is
:func:`greenslot.forecasts.fallback.site_forecast`, and this module adapts its answer to what
:mod:`greenslot.forecasts.scenario_loading` joins with the site's files (a
:class:`~greenslot.forecasts.files.ForecastTable`) plus a record per signal of where the
numbers came from. A degraded source is one warning line naming the site, never silence.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from greenslot.forecasts.continuation import DEFAULT_BLEND_HOURS, continue_table
from greenslot.forecasts.errors import QueryError
from greenslot.forecasts.fallback import SiteForecast, site_forecast
from greenslot.forecasts.fetch import FetchOptions
from greenslot.forecasts.files import ForecastTable, read_forecast
from greenslot.forecasts.forecaster import METHODS
from greenslot.forecasts.http_client import RetryPolicy
from greenslot.forecasts.provider_entry import ProviderEntry, ResolvedForecast
from greenslot.forecasts.registry import PROVIDERS, get_provider
from greenslot.model.checks import fail
from greenslot.model.timegrid import TimeGrid

logger = logging.getLogger(__name__)

# The library logs each degradation as it happens; a plan says it once, per site, itself.
_QUIETED = ("greenslot.forecasts.http_client", "greenslot.forecasts.fetch",
            "greenslot.forecasts.fallback")


@contextlib.contextmanager
def _library_quiet() -> Iterator[None]:
    """Hold the fetch/fallback warnings back unless -v asked for everything."""
    loggers = [logging.getLogger(name) for name in _QUIETED]
    if any(lg.isEnabledFor(logging.INFO) for lg in loggers):
        yield
        return
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


@dataclass
class ProviderForecasts:
    """A :class:`~greenslot.forecasts.provider_entry.ForecastSource` over HTTP, cache and history.

    ``now`` (default: the wall clock) decides cache freshness and ages; ``policy`` and
    ``sleep`` are the HTTP retry settings (tests shorten them).
    """

    offline: bool = False
    cache_dir: Path | None = None
    max_age: timedelta = timedelta(minutes=30)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    now: pd.Timestamp | None = None
    sleep: Callable[[float], None] = time.sleep
    providers: tuple[str, ...] = tuple(sorted(PROVIDERS))
    methods: tuple[str, ...] = METHODS

    def resolve(self, entry: ProviderEntry, grid: TimeGrid) -> ResolvedForecast:
        """The entry's series over the grid's window, and where each column came from."""
        now = pd.Timestamp.now(tz="UTC") if self.now is None else pd.Timestamp(self.now)
        options = FetchOptions(base_url=entry.base_url, offline=self.offline,
                               max_age=self.max_age, cache_dir=self.cache_dir,
                               policy=self.policy, sleep=self.sleep)
        history = _history(entry)
        try:
            with _library_quiet():
                got = site_forecast(entry.provider, pd.Timestamp(grid.start),
                                    pd.Timestamp(grid.end), entry.region, history,
                                    entry.method, options, now)
        except QueryError as exc:
            fail("bad_forecast_source", entry.display, entry.where, "forecast.region", str(exc))
        columns = [c for c in got.table.columns]
        record = _record(entry, got, now)
        _warn(entry, got, record, columns)
        table = got.table
        if got.source != "forecaster" and history is not None:
            table = _continued(entry, table, history, pd.Timestamp(grid.end), record)
        return ResolvedForecast(_as_table(entry, table), {c: record for c in columns})


def _continued(entry: ProviderEntry, table: pd.DataFrame, history: pd.DataFrame,
               end: pd.Timestamp, record: dict[str, Any]) -> pd.DataFrame:
    """The provider's answer continued by our forecaster where it ends before ``end``.

    Why: providers forecast hours (SGIP 3 h, others a day or two) while a plan may look 48 h
    ahead; without this the plan fails with ``forecast_gap``, or, holding the last value,
    plans the tail on nothing. Past its last row the series is ours from the site's history,
    blended from the provider's last value
    (:func:`greenslot.forecasts.continuation.continue_table`); the record says from when.
    """
    table, first = continue_table(table, history, end, entry.method)
    if first is not None:
        record.update(continued_from=first.isoformat(), continued_by=entry.method,
                      continued_blend_hours=DEFAULT_BLEND_HOURS)
        logger.warning("site %s: %s from %s until %s, then our forecaster (%s) on %s, "
                       "blended over %g h", entry.site, ", ".join(table.columns),
                       entry.provider, first.isoformat(), entry.method, entry.history_display,
                       DEFAULT_BLEND_HOURS)
    return table


def _history(entry: ProviderEntry) -> pd.DataFrame | None:
    """The site's past values of the signals this provider gives (for our forecaster)."""
    if entry.history is None:
        return None
    table = read_forecast(entry.history, entry.history_display or str(entry.history))
    wanted = [s.column for s in get_provider(entry.provider).signals]
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        fail("bad_forecast_source", entry.display, entry.where, "forecast.history",
             f"{entry.history_display} has no '{missing[0]}' column, which "
             f"{entry.provider} gives and our forecaster would have to stand in for")
    return pd.DataFrame({c: table.columns[c] for c in wanted}, index=table.times)


def _record(entry: ProviderEntry, got: SiteForecast, now: pd.Timestamp) -> dict[str, Any]:
    """Where the numbers came from.

    ``fetched_at``, ``age_minutes`` and ``reason`` vary by run (the clock; the failure's wording
    carries the URL and what the network did); summary.json keeps them under
    ``forecast_fetch`` (``greenslot.pipeline.files.FORECAST_RUN_FIELDS``).
    """
    record: dict[str, Any] = {"kind": got.source, "provider": entry.provider,
                              "region": entry.region}
    if got.source == "forecaster":
        record.update(method=entry.method, history=entry.history_display,
                      reason=got.failure)
    elif got.fetched_at is not None:
        fetched = pd.Timestamp(got.fetched_at).tz_convert("UTC")
        record["fetched_at"] = fetched.isoformat()
        if got.source != "provider":
            record["age_minutes"] = round((now - fetched).total_seconds() / 60, 1)
            if got.source == "stale-cache" and got.warnings:
                record["reason"] = got.warnings[0]
    return record


def _warn(entry: ProviderEntry, got: SiteForecast, record: dict, columns: list[str]) -> None:
    """One line per degraded site entry (and one per other provider remark)."""
    what = ", ".join(columns)
    if got.source == "forecaster":
        logger.warning("site %s: %s from our forecaster (%s) on %s, with no cached answer: %s",
                       entry.site, what, entry.method, entry.history_display, got.failure)
    elif got.source == "stale-cache":
        logger.warning("site %s: %s from the cache: %s", entry.site, what,
                       record.get("reason"))
    else:
        for remark in got.warnings:
            logger.warning("site %s: %s", entry.site, remark)


def _as_table(entry: ProviderEntry, frame: pd.DataFrame) -> ForecastTable:
    """The series as the loader joins it; errors about it name the scenario entry."""
    index = pd.DatetimeIndex(frame.index).tz_convert("UTC")
    display = f"{entry.display}, {entry.where}, {entry.provider} forecast"
    columns = {c: np.asarray(frame[c], dtype=float) for c in frame.columns}
    return ForecastTable(path=Path(entry.provider), display=display, times=index,
                         columns=columns, lines=list(range(2, len(index) + 2)))


__all__ = ["ProviderForecasts"]
