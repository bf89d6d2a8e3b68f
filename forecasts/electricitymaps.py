"""Electricity Maps API v3: carbon intensity history and forecast for a zone.

Key: ``ELECTRICITYMAPS_API_KEY``, sent as the ``auth-token`` header. ``datetime`` marks the
start of each (hourly) interval, in UTC. The window is split at the current hour: the past
comes from ``/v3/carbon-intensity/past-range`` (at most 10 days a request, so longer windows
become several), the future from ``/v3/carbon-intensity/forecast``. ``--region`` is the zone
key (``DE``, ``GB``, ``US-CAL-CISO``...).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from greenslot.forecasts.errors import QueryError
from greenslot.forecasts.http_client import HttpClient, Request, Response
from greenslot.forecasts.provider_base import (
    Credentials,
    Point,
    Query,
    Signal,
    env_secret,
    malformed,
    number_or_none,
    parse_json,
    utc_time,
    windows,
)

NAME = "electricitymaps"
KEY_VAR = "ELECTRICITYMAPS_API_KEY"
MAX_PAST_WINDOW = timedelta(days=10)
HORIZONS_H = (6, 24, 48, 72)


def _api_time(stamp) -> str:
    return stamp.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


class ElectricityMaps:
    """Adapter for the Electricity Maps carbon-intensity endpoints."""

    name = NAME
    default_base_url = "https://api.electricitymaps.com"
    signals = (Signal("carbonIntensity", "gCO2eq/kWh", "carbon_g_per_kwh", "g/kWh"),)
    env_vars = (KEY_VAR,)

    def plan(self, query: Query, base_url: str) -> list[Request]:
        if not query.region:
            raise QueryError(NAME, "needs --region, the zone key (like DE or US-CAL-CISO)")
        zone = query.region.strip()
        split = query.now.floor("h")
        requests = [Request(f"{base_url}/v3/carbon-intensity/past-range",
                            {"zone": zone, "start": _api_time(a), "end": _api_time(b)})
                    for a, b in windows(query.start, min(query.end, split), MAX_PAST_WINDOW)]
        if query.end > split:
            need_h = math.ceil((query.end - split).total_seconds() / 3600)
            if need_h > HORIZONS_H[-1]:
                raise QueryError(NAME, f"forecasts reach {HORIZONS_H[-1]} h ahead; the window "
                                       f"ends {need_h} h after now")
            horizon = next(h for h in HORIZONS_H if h >= need_h)
            requests.append(Request(f"{base_url}/v3/carbon-intensity/forecast",
                                    {"zone": zone, "horizonHours": str(horizon)}))
        return requests

    def credentials(self, client: HttpClient, base_url: str) -> Credentials:
        (key,) = env_secret(NAME, KEY_VAR)
        return Credentials(headers={"auth-token": key})

    def parse(self, response: Response, query: Query) -> list[Point]:
        body: Any = parse_json(NAME, response)
        if not isinstance(body, dict):
            raise malformed(NAME, response, "not a JSON object")
        items = next((body[k] for k in ("forecast", "data", "history") if k in body), None)
        if not isinstance(items, list):
            raise malformed(NAME, response, "no 'forecast', 'data' or 'history' list")
        (signal,) = self.signals
        points = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise malformed(NAME, response, f"item {i} is not an object")
            start = utc_time(NAME, response, item.get("datetime"), f"item {i} 'datetime'")
            value = number_or_none(NAME, response, item.get("carbonIntensity"),
                                   f"item {i} carbonIntensity")
            if value is not None:
                points.append(Point(start, signal.column, signal.convert(value)))
        return points
