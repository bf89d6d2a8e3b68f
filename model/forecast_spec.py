"""What the loader asks of forecasts: a site's ``forecast`` entry in, per-slot signals out.

Why a protocol here: the model layer must not do forecast I/O. Reading forecast files,
resampling them onto slots, and asking a provider over HTTP (with its cache and our
forecaster) live in :mod:`greenslot.forecasts`; the layer above the model injects an object
with this shape into :func:`greenslot.model.loader.load_scenario`
(:func:`greenslot.forecasts.scenario_loading.load_scenario` is the default wiring). The model
then imports nothing but itself, and loading a scenario reaches the network only through
what its caller chose to inject.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from greenslot.model.scenario import SiteSeries
from greenslot.model.timegrid import TimeGrid


@dataclass(frozen=True)
class SiteForecastRequest:
    """One site's ``forecast`` entry with what is needed to read it and to name it in errors.

    ``forecast`` is the entry as parsed from the YAML (a file name, a provider mapping, or a
    list of them), unchecked. ``scenario`` names the scenario file and ``where`` the site in
    it (``sites[0]``), as every error about the entry must. Relative file names are read
    from ``folder``; ``shown`` turns a path into how the user would type it (for messages).
    """

    site: str
    forecast: Any
    scenario: str
    where: str
    folder: Path
    grid: TimeGrid
    shown: Callable[[Path], str]


@dataclass(frozen=True)
class SiteSignals:
    """A site's signals on the grid and, per signal column, a record of where it came from.

    ``sources`` maps a column (``carbon_g_per_kwh``...) to a JSON-ready record such as
    ``{"kind": "file", "path": "forecast.csv"}``; plans write it to ``summary.json``.
    """

    series: SiteSeries
    sources: Mapping[str, Mapping[str, Any]]


class SiteForecasts(Protocol):
    """Turns a site's ``forecast`` entry into its per-slot signals over the grid.

    Every problem with the entry or what it names is raised as a
    :class:`~greenslot.model.errors.ScenarioError` (through
    :func:`greenslot.model.checks.fail`), so the loader's callers see one error type.
    """

    def site_signals(self, request: SiteForecastRequest) -> SiteSignals:
        """Carbon intensity [g/kWh], price [per MWh] and renewables [kW] for every slot."""


__all__ = ["SiteForecastRequest", "SiteForecasts", "SiteSignals"]
