"""A site's ``forecast`` entry that names a provider instead of a file, and who resolves it.

A scenario may say ``forecast: {provider: uk-carbon-intensity, history: gb-history.csv}``.
:func:`parse_provider_entry` checks the entry's shape against a :class:`ForecastSource`
(``greenslot plan`` passes one built from its ``--offline``/``--cache-dir`` options,
:class:`greenslot.forecasts.scenario_source.ProviderForecasts`), which returns a table of the
same kind a forecast file gives plus a record of where each number came from.

Why apart from that implementation: reading a scenario's forecasts
(:mod:`greenslot.forecasts.scenario_loading`) needs these types but not the HTTP stack, its
cache and our forecaster, which it imports only when an entry names a provider and the caller
injected no source; tests inject their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from greenslot.forecasts.files import ForecastTable
from greenslot.model.checks import did_you_mean, fail
from greenslot.model.timegrid import TimeGrid

PROVIDER_KEYS = {"provider", "region", "history", "base_url", "method"}


@dataclass(frozen=True)
class ProviderEntry:
    """One provider entry of a site's ``forecast``, checked for shape only.

    ``display``/``where`` locate it in the scenario for error messages; ``history`` is the
    site's past series (a contract forecast CSV), used by our forecaster when the provider and
    the cache both fail.
    """

    site: str
    provider: str
    region: str | None
    history: Path | None
    history_display: str | None
    base_url: str | None
    method: str
    display: str
    where: str


@dataclass(frozen=True)
class ResolvedForecast:
    """A provider entry turned into a table, with one source record per signal column."""

    table: ForecastTable
    sources: Mapping[str, Mapping[str, Any]]


class ForecastSource(Protocol):
    """Turns provider entries into tables for the planning window."""

    providers: tuple[str, ...]
    methods: tuple[str, ...]

    def resolve(self, entry: ProviderEntry, grid: TimeGrid) -> ResolvedForecast:
        """The entry's series covering ``grid`` (provider, else cache, else forecaster)."""


def _text(value: Any, display: str, where: str, key: str) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        fail("bad_forecast_source", display, where, f"forecast.{key}",
             f"expected text, got {value!r}")
    return str(value).strip()


def parse_provider_entry(value: Mapping, site: str, display: str, where: str, folder: Path,
                         shown: Any, source: ForecastSource) -> ProviderEntry:
    """Check a ``{provider: ..., region: ..., history: ...}`` mapping against ``source``.

    ``shown`` turns a path into how the user would type it (for messages). Every problem is a
    ``bad_forecast_source`` naming the scenario file, the site and the key.
    """
    for key in value:
        if key not in PROVIDER_KEYS:
            fail("bad_forecast_source", display, where, f"forecast.{key}",
                 f"unknown key;{did_you_mean(key, PROVIDER_KEYS)} allowed: "
                 f"{', '.join(sorted(PROVIDER_KEYS))}")
    if "provider" not in value:
        fail("bad_forecast_source", display, where, "forecast.provider",
             "a forecast mapping needs 'provider' (or give a file name instead)")
    provider = _text(value["provider"], display, where, "provider")
    if provider not in source.providers:
        fail("bad_forecast_source", display, where, "forecast.provider",
             f"unknown provider {provider!r};{did_you_mean(provider, source.providers)} "
             f"known: {', '.join(sorted(source.providers))}")
    region = None if value.get("region") is None else _text(value["region"], display, where,
                                                            "region")
    base_url = value.get("base_url")
    if base_url is not None:
        base_url = _text(base_url, display, where, "base_url")
        if not base_url.startswith(("http://", "https://")):
            fail("bad_forecast_source", display, where, "forecast.base_url",
                 f"must start with http:// or https://, got {base_url!r}")
    method = _text(value.get("method", "profile"), display, where, "method")
    if method not in source.methods:
        fail("bad_forecast_source", display, where, "forecast.method",
             f"unknown method {method!r}; known: {', '.join(source.methods)}")
    history = history_display = None
    if value.get("history") is not None:
        history = folder / _text(value["history"], display, where, "history")
        history_display = shown(history)
        if not history.is_file():
            fail("bad_forecast_source", display, where, "forecast.history",
                 f"history file {history_display} not found")
    return ProviderEntry(site, provider, region, history, history_display, base_url, method,
                         display, where)


__all__ = ["PROVIDER_KEYS", "ForecastSource", "ProviderEntry", "ResolvedForecast",
           "parse_provider_entry"]
