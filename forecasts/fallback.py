"""A site's forecast that degrades instead of failing: provider, else cache, else our own.

Why: a nightly plan must still be made when a provider is down. :func:`site_forecast` asks
the provider through the cache (so a stale answer already stands in, see
:mod:`greenslot.forecasts.fetch`); if nothing from the provider can be had, it forecasts each
column from the site's history with :func:`greenslot.forecasts.forecaster.forecast`. It never
fills anything with zeros, says which source was used, and logs a warning when it degrades.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from greenslot.forecasts.errors import ProviderError
from greenslot.forecasts.fetch import FetchOptions, fetch
from greenslot.forecasts.forecaster import forecast

logger = logging.getLogger(__name__)

SOURCES = ("provider", "cache", "stale-cache", "forecaster")


@dataclass(frozen=True)
class SiteForecast:
    """Rows for ``[start, end)`` by interval start (UTC) and where they came from."""

    table: pd.DataFrame
    source: str
    warnings: tuple[str, ...]
    fetched_at: pd.Timestamp | None = None  # oldest provider answer used; None: forecaster
    failure: str | None = None  # the provider's error, when our forecaster stood in


def site_forecast(provider: str, start: pd.Timestamp, end: pd.Timestamp,
                  region: str | None = None, history: pd.DataFrame | None = None,
                  method: str = "profile", options: FetchOptions | None = None,
                  now: pd.Timestamp | None = None) -> SiteForecast:
    """The provider's series for ``[start, end)``, or our forecast from ``history``.

    ``history`` (UTC interval starts as index, contract columns) is what the site saw up to
    now; it is used only if the provider and the cache both fail. Its values inside the window
    are kept as they are, and the forecast covers the rest.
    """
    try:
        result = fetch(provider, start, end, region, options, now)
    except ProviderError as exc:
        if history is None or history.empty:
            raise
        message = (f"{exc}; no cached answer either, so using our own forecaster ({method}) "
                   f"from history up to {history.index[-1].isoformat()}")
        logger.warning("%s", message)
        return SiteForecast(from_history(history, start, end, method), "forecaster",
                            (message,), failure=str(exc))
    return SiteForecast(result.table, result.source, result.warnings, result.fetched_at)


def from_history(history: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
                  method: str) -> pd.DataFrame:
    """History inside the window as it is, then each column forecast to the window's end."""
    index = pd.DatetimeIndex(history.index).tz_convert("UTC")
    history = history.set_axis(index).sort_index()
    step = pd.Series(index[1:] - index[:-1]).mode().iloc[0]
    first_unknown = index[-1] + step
    if end <= first_unknown:
        table = history[(history.index >= start) & (history.index < end)]
    else:
        steps = -(-(end - first_unknown) // step)  # whole intervals, rounding up
        horizon = (steps * step).to_pytimedelta()
        ahead = pd.DataFrame({column: forecast(history[column], horizon, method,
                                               step.to_pytimedelta())
                              for column in history.columns})
        table = pd.concat([history, ahead])
        table = table[(table.index >= start) & (table.index < end)]
    return table.rename_axis("time")
