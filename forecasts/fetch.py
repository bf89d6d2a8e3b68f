"""Fetch a provider's series for a window, through the cache, into a contract forecast CSV.

Policy for each request the provider plans (why: a nightly run must still get a forecast when
the provider is down, and must say where every number came from):

1. ``offline``: only the cache; a missing entry is a :class:`CacheMissError`.
2. a cache entry younger than ``max_age`` is used without asking the provider;
3. otherwise the provider is asked; a good answer is parsed, then cached;
4. if that fails and an older entry exists, the older entry is used and a warning says so.

Gaps in what the provider sent are never filled: they are reported, and the CSV simply has
no row there (so ``greenslot plan`` raises ``forecast_gap`` if the gap is in its horizon).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from greenslot.atomic import write_text
from greenslot.forecasts.cache import CachedResponse, ResponseCache, default_cache_dir
from greenslot.forecasts.errors import CacheMissError, ProviderError
from greenslot.forecasts.http_client import HttpClient, Request, Response, RetryPolicy
from greenslot.forecasts.provider_base import Credentials, Point, Provider, Query
from greenslot.forecasts.registry import get_provider

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchOptions:
    """How to fetch: where from, whether the network may be used, how fresh the cache must be."""

    base_url: str | None = None
    offline: bool = False
    max_age: timedelta = timedelta(minutes=30)
    cache_dir: Path | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class FetchResult:
    """The series (UTC interval starts as index, contract columns) and where it came from.

    ``sources`` has one entry per request: ``provider``, ``cache`` (fresh enough, or
    ``--offline``) or ``stale-cache`` (the provider failed; an older answer was used);
    ``fetched`` says when each of those answers was fetched (UTC), so a plan can say how old
    its numbers are.
    """

    provider: str
    table: pd.DataFrame
    sources: tuple[str, ...]
    warnings: tuple[str, ...]
    fetched: tuple[pd.Timestamp, ...] = ()

    @property
    def fetched_at(self) -> pd.Timestamp | None:
        """When the oldest answer the series uses was fetched."""
        return min(self.fetched) if self.fetched else None

    @property
    def source(self) -> str:
        """The least fresh source any part of the series came from."""
        for kind in ("stale-cache", "cache"):
            if kind in self.sources:
                return kind
        return "provider"


class _Fetcher:
    """One fetch: a provider, its client and cache, credentials asked for at most once."""

    def __init__(self, provider: Provider, options: FetchOptions, now: pd.Timestamp) -> None:
        self.provider = provider
        self.options = options
        self.now = now
        self.base_url = (options.base_url or provider.default_base_url).rstrip("/")
        hint = (f"check {' and '.join(provider.env_vars)}" if provider.env_vars else None)
        self.client = HttpClient(provider.name, options.policy, sleep=options.sleep,
                                 auth_hint=hint)
        self.cache = ResponseCache(options.cache_dir or default_cache_dir())
        self._credentials: Credentials | None = None
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        logger.warning("%s", message)

    def _age(self, cached: CachedResponse) -> str:
        minutes = (self.now - pd.Timestamp(cached.fetched_at)).total_seconds() / 60
        return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"

    def _ask(self, request: Request, query: Query) -> tuple[Response, list[Point]]:
        if self._credentials is None:
            self._credentials = self.provider.credentials(self.client, self.base_url)
        full = replace(request, secret_params=self._credentials.secret_params,
                       headers=self._credentials.headers)
        response = self.client.get(full)
        return response, self.provider.parse(response, query)

    def one(self, request: Request, query: Query) -> tuple[list[Point], str, pd.Timestamp]:
        """Points for one request, their source, and when the answer was fetched."""
        name = self.provider.name
        cached = self.cache.load(name, request)
        if self.options.offline:
            if cached is None:
                raise CacheMissError(name, request.display_url(), str(self.cache.directory))
            return (self.provider.parse(cached.response, query), "cache",
                    pd.Timestamp(cached.fetched_at))
        if cached is not None and (self.now - pd.Timestamp(cached.fetched_at)
                                   <= self.options.max_age):
            try:
                return (self.provider.parse(cached.response, query), "cache",
                        pd.Timestamp(cached.fetched_at))
            except ProviderError as exc:  # e.g. stored by an older parser: ask again
                self.warn(f"{exc}; ignoring that cached answer")
                cached = None
        try:
            response, points = self._ask(request, query)
        except ProviderError as exc:
            if cached is None:
                raise
            self.warn(f"{exc}; using the cached answer fetched {self._age(cached)} ago")
            return (self.provider.parse(cached.response, query), "stale-cache",
                    pd.Timestamp(cached.fetched_at))
        try:
            self.cache.store(name, request, response, self.now.to_pydatetime())
        except OSError as exc:
            self.warn(f"{name}: could not write the cache at {self.cache.directory}: "
                      f"{exc.strerror}")
        return points, "provider", self.now


def _assemble(points: list[Point], query: Query, provider: Provider, base_url: str,
              warn: Callable[[str], None]) -> pd.DataFrame:
    """Points -> one row per interval start in ``[start, end)``; report gaps, never fill them."""
    values: dict[tuple[pd.Timestamp, str], float] = {}
    conflicts = 0
    for point in points:
        if not query.start <= point.start < query.end:
            continue
        key = (point.start, point.column)
        if key in values and not np.isclose(values[key], point.value, rtol=0, atol=1e-9):
            conflicts += 1
            continue
        values.setdefault(key, point.value)
    if conflicts:
        warn(f"{provider.name}: {conflicts} intervals were sent twice with different values; "
             f"the first value was kept")
    if not values:
        raise ProviderError(provider.name, base_url, None,
                            f"no values for {query.start.isoformat()} to "
                            f"{query.end.isoformat()}")
    order = [s.column for s in provider.signals]
    series = pd.Series(values)
    table = series.unstack()
    table = table[[c for c in order if c in table.columns]].sort_index()
    table.index = pd.DatetimeIndex(table.index, tz="UTC", name="time")
    _report_gaps(table.index, query, provider.name, warn)
    return table


def _report_gaps(index: pd.DatetimeIndex, query: Query, name: str,
                 warn: Callable[[str], None]) -> None:
    if len(index) < 2:
        warn(f"{name}: only one interval in the window; its length is unknown")
        return
    step = pd.Series(index[1:] - index[:-1]).mode().iloc[0]
    expected = pd.date_range(index[0], index[-1], freq=step)
    missing = expected.difference(index)
    inside = len(missing)
    before = int((index[0] - query.start) // step)
    after = int((query.end - (index[-1] + step)) // step)
    if inside or before > 0 or after > 0:
        parts = []
        if inside:
            parts.append(f"{inside} inside (first at {missing[0].isoformat()})")
        if before > 0:
            parts.append(f"{before} before {index[0].isoformat()}")
        if after > 0:
            parts.append(f"{after} after {index[-1].isoformat()}")
        minutes = step.total_seconds() / 60
        warn(f"{name}: intervals of {minutes:g} min missing: {', '.join(parts)}; they are "
             f"left out of the file, not filled")


def fetch(name: str, start: pd.Timestamp, end: pd.Timestamp, region: str | None = None,
          options: FetchOptions | None = None, now: pd.Timestamp | None = None) -> FetchResult:
    """Fetch ``[start, end)`` from provider ``name``; see the module docstring for the policy.

    ``now`` is injected (default: the wall clock) because it decides cache freshness and, for
    some providers, whether the window is history or forecast.
    """
    options = options or FetchOptions()
    provider = get_provider(name)
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now).tz_convert("UTC")
    query = Query(start.tz_convert("UTC"), end.tz_convert("UTC"), region, now)
    fetcher = _Fetcher(provider, options, now)
    points: list[Point] = []
    sources: list[str] = []
    fetched: list[pd.Timestamp] = []
    for request in provider.plan(query, fetcher.base_url):
        got, source, when = fetcher.one(request, query)
        points.extend(got)
        sources.append(source)
        fetched.append(when)
    table = _assemble(points, query, provider, fetcher.base_url, fetcher.warn)
    return FetchResult(provider.name, table, tuple(sources), tuple(fetcher.warnings),
                       tuple(fetched))


def _cell(value: float) -> str:
    """A number as written: integers without ``.0``, others exactly (``repr`` round-trips)."""
    if np.isnan(value):
        return ""
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def forecast_csv_text(table: pd.DataFrame) -> str:
    """The contract forecast CSV (section 1.3): ``time`` with offset, then signal columns."""
    lines = [",".join(["time", *table.columns])]
    for stamp, row in zip(pd.DatetimeIndex(table.index), table.to_numpy(), strict=True):
        lines.append(",".join([stamp.isoformat(), *(_cell(v) for v in row)]))
    return "\n".join(lines) + "\n"


def write_forecast_csv(table: pd.DataFrame, path: Path) -> None:
    """Write the CSV atomically: a reader sees the previous file or the whole new one."""
    write_text(Path(path), forecast_csv_text(table), make_parents=True)
