"""WattTime API v3: marginal emissions (``co2_moer``) forecasts, current and historical.

Login: ``GET /login`` with HTTP basic auth (``WATTTIME_USERNAME``, ``WATTTIME_PASSWORD``) gives
a token for ``Authorization: Bearer``. A window that starts now or later is served from
``/v3/forecast`` (up to 72 h); a window in the past from ``/v3/forecast/historical``, taking
the last forecast generated at or before the window's start, i.e. what a planner would have
known then. ``point_time`` is the UTC start of each interval. Values come in lb/MWh and are
converted to g/kWh (1 lb = 453.59237 g, 1 MWh = 1000 kWh). ``--region`` is the WattTime
region (``CAISO_NORTH``...).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from greenslot.forecasts.errors import ProviderError, QueryError
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
)

NAME = "watttime"
USER_VAR, PASSWORD_VAR = "WATTTIME_USERNAME", "WATTTIME_PASSWORD"
SIGNAL_TYPE = "co2_moer"
MAX_HORIZON_H = 72
# How far before the window's start to look for the forecast that was current then.
ISSUE_LOOKBACK = timedelta(hours=1)
LB_PER_MWH_TO_G_PER_KWH = 0.45359237
UNITS = {"lbs_co2_per_mwh": LB_PER_MWH_TO_G_PER_KWH}


def _api_time(stamp) -> str:
    return stamp.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S+00:00")


class WattTime:
    """Adapter for WattTime's v3 forecast endpoints."""

    name = NAME
    default_base_url = "https://api.watttime.org"
    signals = (Signal("value", "lbs_co2_per_mwh", "carbon_g_per_kwh", "g/kWh",
                      LB_PER_MWH_TO_G_PER_KWH),)
    env_vars = (USER_VAR, PASSWORD_VAR)

    def plan(self, query: Query, base_url: str) -> list[Request]:
        if not query.region:
            raise QueryError(NAME, "needs --region, the WattTime region (like CAISO_NORTH)")
        region = query.region.strip()
        span_h = math.ceil((query.end - max(query.start, query.now)).total_seconds() / 3600)
        if span_h > MAX_HORIZON_H:
            raise QueryError(NAME, f"a forecast reaches {MAX_HORIZON_H} h; the window needs "
                                   f"{span_h} h")
        public = {"region": region, "signal_type": SIGNAL_TYPE,
                  "horizon_hours": str(max(1, span_h))}
        if query.start >= query.now - timedelta(minutes=5):
            return [Request(f"{base_url}/v3/forecast", public)]
        issued = {"start": _api_time(query.start - ISSUE_LOOKBACK),
                  "end": _api_time(query.start)}
        return [Request(f"{base_url}/v3/forecast/historical", public | issued)]

    def credentials(self, client: HttpClient, base_url: str) -> Credentials:
        user, password = env_secret(NAME, USER_VAR, PASSWORD_VAR)
        response = client.get(Request(f"{base_url}/login", auth=(user, password)))
        body = parse_json(NAME, response)
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise malformed(NAME, response, "login answer has no 'token'")
        return Credentials(headers={"Authorization": f"Bearer {token}"})

    def _factor(self, response: Response, body: dict) -> float:
        meta = body.get("meta")
        units = meta.get("units") if isinstance(meta, dict) else None
        if units is None:  # the documented unit of co2_moer
            units = self.signals[0].unit
        if units not in UNITS:
            raise ProviderError(NAME, response.url, response.status,
                                f"unknown units {units!r}; known: {', '.join(UNITS)}")
        return UNITS[units]

    def _points(self, response: Response, items: Any, factor: float) -> list[Point]:
        if not isinstance(items, list):
            raise malformed(NAME, response, "forecast data is not a list")
        column = self.signals[0].column
        points = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise malformed(NAME, response, f"point {i} is not an object")
            start = utc_time(NAME, response, item.get("point_time"), f"point {i} point_time")
            value = number_or_none(NAME, response, item.get("value"), f"point {i} value")
            if value is not None:
                points.append(Point(start, column, value * factor))
        return points

    def parse(self, response: Response, query: Query) -> list[Point]:
        body = parse_json(NAME, response)
        if not isinstance(body, dict) or "data" not in body:
            raise malformed(NAME, response, "no top-level 'data'")
        factor = self._factor(response, body)
        data = body["data"]
        if not (isinstance(data, list) and data and isinstance(data[0], dict)
                and "forecast" in data[0]):
            return self._points(response, data, factor)
        # Historical: a list of {generated_at, forecast}; take the last issued by the start.
        issued = []
        for i, run in enumerate(data):
            if not isinstance(run, dict):
                raise malformed(NAME, response, f"forecast run {i} is not an object")
            issued.append((utc_time(NAME, response, run.get("generated_at"),
                                    f"run {i} generated_at"), i))
        usable = [item for item in issued if item[0] <= query.start]
        _, best = max(usable or issued)
        return self._points(response, data[best].get("forecast"), factor)
