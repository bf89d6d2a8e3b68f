"""Load a scenario with its sites' forecasts read from files and, where named, providers.

Why here and not in the model: :mod:`greenslot.model.loader` checks the scenario but does no
forecast I/O; it asks an injected :class:`~greenslot.model.forecast_spec.SiteForecasts` for
each site's signals. :class:`ScenarioForecasts` is that object for the contract's entries
(forecast CSV files and ``{provider: ...}`` mappings), and :func:`load_scenario` wires it in
for every caller (the CLI, what-if, sweep, reports, Slurm, tests), so they keep one call.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from greenslot.forecasts.files import ForecastTable, join_site_signals, read_forecast
from greenslot.forecasts.provider_entry import ForecastSource, parse_provider_entry
from greenslot.model import loader
from greenslot.model.checks import fail
from greenslot.model.forecast_spec import SiteForecastRequest, SiteSignals
from greenslot.model.loader import RawEdits
from greenslot.model.scenario import Scenario, SiteSeries


def _default_source() -> ForecastSource:
    """The provider resolver for callers that pass none (reports, what-if, sweep, submit).

    Imported late so file-only scenarios load without the HTTP stack; ``greenslot plan`` and
    ``validate`` pass their own (``--offline``, cache).
    """
    from greenslot.forecasts.scenario_source import ProviderForecasts

    return ProviderForecasts()


class ScenarioForecasts:
    """Reads sites' forecast files and resolves their provider entries through ``providers``.

    ``providers`` (default: online, default cache) is created on first use, so a scenario of
    files only never builds one; it may raise the provider layer's errors when no stand-in for
    a provider exists.
    """

    def __init__(self, providers: ForecastSource | None = None) -> None:
        self._providers = providers

    def _source(self) -> ForecastSource:
        if self._providers is None:
            self._providers = _default_source()
        return self._providers

    def site_signals(self, request: SiteForecastRequest) -> SiteSignals:
        """Join the entry's tables on the grid; each signal must come from one of them."""
        tables, origin = self._tables(request)
        signals = join_site_signals(tables, request.grid,
                                    f"{request.scenario}, {request.where}")
        series = SiteSeries(
            carbon_g_per_kwh=signals["carbon_g_per_kwh"],
            price_per_mwh=signals["price_per_mwh"],
            renewable_kw=signals["renewable_kw"],
        )
        return SiteSignals(series, origin)

    def _tables(self, request: SiteForecastRequest) -> tuple[list[ForecastTable], dict]:
        """The entry's tables (files and provider answers) and where each signal came from."""
        forecast = request.forecast
        entries = forecast if isinstance(forecast, list) else [forecast]
        tables: list[ForecastTable] = []
        origin: dict[str, dict[str, Any]] = {}
        for entry in entries:
            if isinstance(entry, Mapping):
                spec = parse_provider_entry(entry, request.site, request.scenario,
                                            request.where, request.folder, request.shown,
                                            self._source())
                resolved = self._source().resolve(spec, request.grid)
                tables.append(resolved.table)
                origin.update({c: dict(r) for c, r in resolved.sources.items()})
                continue
            path = request.folder / _file_name(entry, request)
            table = read_forecast(path, request.shown(path))
            tables.append(table)
            origin.update({c: {"kind": "file", "path": table.display} for c in table.columns})
        return tables, origin


def _file_name(value: Any, request: SiteForecastRequest) -> str:
    """A file entry's name; the same check and message as the loader's other text fields."""
    if not isinstance(value, str) or not value.strip():
        fail("bad_type", request.scenario, request.where, "forecast",
             f"expected text, got {value!r}")
    return value.strip()


def load_scenario(path: str | Path, edits: RawEdits | None = None,
                  forecast_source: ForecastSource | None = None) -> Scenario:
    """Read and check a scenario; raises :class:`ScenarioError` on the first problem found.

    ``edits`` (see :class:`~greenslot.model.loader.RawEdits`) change the parsed inputs before
    they are checked. ``forecast_source`` resolves sites' provider entries (default: online,
    default cache); it may raise the provider layer's errors when no stand-in for a provider
    exists.
    """
    with _site_warnings_if_loaded():
        return loader.load_scenario(path, ScenarioForecasts(forecast_source), edits)


@contextlib.contextmanager
def _site_warnings_if_loaded() -> Iterator[None]:
    """Hold each site's forecast warnings until the scenario has loaded; drop them if not.

    Why: sites are read before GPU types, nodes and jobs, so a provider fallback used to print
    its warning line and then a bad value further down its error line: two lines for bad
    input, where the contract promises one. A warning about a scenario that cannot be planned
    helps nobody; once it loads, the warnings appear as they were logged.
    """
    source_logger = logging.getLogger("greenslot.forecasts.scenario_source")
    held: list[logging.LogRecord] = []
    handler = _Holder(held)
    propagates = source_logger.propagate
    source_logger.addHandler(handler)
    source_logger.propagate = False
    try:
        yield
    finally:
        source_logger.removeHandler(handler)
        source_logger.propagate = propagates
    for record in held:  # reached only when the load succeeded
        source_logger.handle(record)


class _Holder(logging.Handler):
    def __init__(self, held: list[logging.LogRecord]) -> None:
        super().__init__()
        self.held = held

    def emit(self, record: logging.LogRecord) -> None:
        self.held.append(record)


__all__ = ["ScenarioForecasts", "load_scenario"]
