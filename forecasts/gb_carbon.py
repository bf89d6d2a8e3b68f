"""GB Carbon Intensity API (api.carbonintensity.org.uk): national and regional forecasts.

No key. Times are UTC (``2018-01-20T12:00Z``) and each item is a half-hour interval given by
``from`` and ``to``; ``from`` is already the interval start the contract wants. We use
``intensity.forecast`` (gCO2/kWh), which every item has; ``actual`` exists only nationally and
only for the past, so a plan never depends on it. ``--region`` is a region id (1-17) or the
outward part of a postcode (``RG10``); without it the national series is fetched.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from greenslot.forecasts.errors import QueryError
from greenslot.forecasts.http_client import HttpClient, Request, Response
from greenslot.forecasts.provider_base import (
    Credentials,
    Point,
    Query,
    Signal,
    malformed,
    number_or_none,
    parse_json,
    utc_time,
    windows,
)

NAME = "uk-carbon-intensity"
# The API limits one from/to request to 14 days; longer windows become several requests.
MAX_WINDOW = timedelta(days=14)
_POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?")  # fullmatch: "$" passes "\n"


def _api_time(stamp) -> str:
    return stamp.tz_convert("UTC").strftime("%Y-%m-%dT%H:%MZ")


class GbCarbonIntensity:
    """Adapter for the GB Carbon Intensity API."""

    name = NAME
    default_base_url = "https://api.carbonintensity.org.uk"
    signals = (Signal("intensity.forecast", "gCO2/kWh", "carbon_g_per_kwh", "g/kWh"),)
    env_vars: tuple[str, ...] = ()

    def _scope(self, region: str | None) -> str:
        if region is None or region.strip().lower() in ("", "national", "gb"):
            return ""
        region = region.strip().upper()
        if region.isdigit() and 1 <= int(region) <= 17:
            return f"/regionid/{int(region)}"
        if _POSTCODE.fullmatch(region):
            return f"/postcode/{region}"
        raise QueryError(NAME, f"--region {region!r} is neither a region id 1-17 nor the "
                               f"outward part of a postcode (like RG10)")

    def plan(self, query: Query, base_url: str) -> list[Request]:
        scope = self._scope(query.region)
        prefix = "/regional/intensity" if scope else "/intensity"
        return [Request(f"{base_url}{prefix}/{_api_time(a)}/{_api_time(b)}{scope}")
                for a, b in windows(query.start, query.end, MAX_WINDOW)]

    def credentials(self, client: HttpClient, base_url: str) -> Credentials:
        return Credentials()

    def _periods(self, response: Response, body: Any) -> list[Any]:
        """The list of half-hour items, national or regional (by id or postcode)."""
        if not isinstance(body, dict) or "data" not in body:
            raise malformed(NAME, response, "no top-level 'data'")
        data = body["data"]
        if isinstance(data, dict):  # regional by id: one region object
            data = [data]
        if not isinstance(data, list):
            raise malformed(NAME, response, "'data' is neither a list nor an object")
        periods: list[Any] = []
        for item in data:
            if isinstance(item, dict) and "regionid" in item:  # a region wrapping its items
                inner = item.get("data")
                if not isinstance(inner, list):
                    raise malformed(NAME, response, "a region's 'data' is not a list")
                periods.extend(inner)
            else:
                periods.append(item)
        return periods

    def parse(self, response: Response, query: Query) -> list[Point]:
        (signal,) = self.signals
        points = []
        for i, item in enumerate(self._periods(response, parse_json(NAME, response))):
            if not isinstance(item, dict) or not isinstance(item.get("intensity"), dict):
                raise malformed(NAME, response, f"item {i} has no 'intensity' object")
            start = utc_time(NAME, response, item.get("from"), f"item {i} 'from'")
            stop = utc_time(NAME, response, item.get("to"), f"item {i} 'to'")
            if stop <= start:
                raise malformed(NAME, response, f"item {i} ends before it starts")
            value = number_or_none(NAME, response, item["intensity"].get("forecast"),
                                   f"item {i} intensity.forecast")
            if value is not None:
                points.append(Point(start, signal.column, signal.convert(value)))
        return points
