"""ENTSO-E Transparency Platform: day-ahead prices (document type A44), XML.

Key: ``ENTSOE_SECURITY_TOKEN``, sent as the ``securityToken`` query parameter (and therefore
scrubbed from every URL we show). ``--region`` is a bidding zone's EIC code
(``10Y1001A1001A82H``) or one of the short names in :data:`ZONES`.

Each ``TimeSeries`` holds ``Period`` s with a ``timeInterval`` (UTC), a ``resolution``
(``PT15M``, ``PT30M``, ``PT60M``) and ``Point`` s numbered by ``position`` from 1: point ``p``
starts at ``start + (p - 1) * resolution``. That makes DST days (23 or 25 hourly points in a
CET day) come out right without any local time. With ``curveType`` A03 a point is omitted when
its price equals the previous one, so a point's price holds until the next given position or
the period's end; with A01 (the default) an omitted position is a real gap and stays one.
Prices are in the series' currency per MWh (EUR for all euro zones).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import timedelta

import pandas as pd

from greenslot.forecasts.errors import ProviderError, QueryError
from greenslot.forecasts.http_client import HttpClient, Request, Response
from greenslot.forecasts.provider_base import (
    Credentials,
    Point,
    Query,
    Signal,
    env_secret,
    malformed,
    windows,
)

NAME = "entsoe"
KEY_VAR = "ENTSOE_SECURITY_TOKEN"
MAX_WINDOW = timedelta(days=365)  # the platform's limit for one query
ZONES = {
    "DE_LU": "10Y1001A1001A82H",
    "FR": "10YFR-RTE------C",
    "NL": "10YNL----------L",
    "BE": "10YBE----------2",
    "AT": "10YAT-APG------L",
    "CZ": "10YCZ-CEPS-----N",
    "PL": "10YPL-AREA-----S",
    "ES": "10YES-REE------0",
    "DK1": "10YDK-1--------W",
    "CH": "10YCH-SWISSGRIDZ",
}
_EIC = re.compile(r"[0-9]{2}[A-Z0-9-]{14}")  # fullmatch: "$" passes "\n"
_RESOLUTION = re.compile(r"PT(\d+)([MH])")


def _api_time(stamp: pd.Timestamp) -> str:
    return stamp.tz_convert("UTC").strftime("%Y%m%d%H%M")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(node: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in node if _local(c.tag) == name), None)


def _children(node: ET.Element, name: str) -> Iterable[ET.Element]:
    return (c for c in node if _local(c.tag) == name)


def _text(node: ET.Element | None) -> str | None:
    return node.text.strip() if node is not None and node.text else None


class Entsoe:
    """Adapter for ENTSO-E day-ahead prices."""

    name = NAME
    default_base_url = "https://web-api.tp.entsoe.eu"
    signals = (Signal("price.amount", "EUR/MWh", "price_per_mwh", "currency/MWh"),)
    env_vars = (KEY_VAR,)

    def plan(self, query: Query, base_url: str) -> list[Request]:
        if not query.region:
            raise QueryError(NAME, f"needs --region, an EIC code or one of {', '.join(ZONES)}")
        zone = ZONES.get(query.region.strip().upper(), query.region.strip())
        if not _EIC.fullmatch(zone):
            raise QueryError(NAME, f"--region {query.region!r} is neither an EIC code like "
                                   f"10Y1001A1001A82H nor one of {', '.join(ZONES)}")
        start, end = query.start.floor("h"), query.end.ceil("h")
        return [Request(f"{base_url}/api", {"documentType": "A44", "in_Domain": zone,
                                            "out_Domain": zone, "periodStart": _api_time(a),
                                            "periodEnd": _api_time(b)})
                for a, b in windows(start, end, MAX_WINDOW)]

    def credentials(self, client: HttpClient, base_url: str) -> Credentials:
        (token,) = env_secret(NAME, KEY_VAR)
        return Credentials(secret_params={"securityToken": token})

    def parse(self, response: Response, query: Query) -> list[Point]:
        try:
            root = ET.fromstring(response.text)
        except ET.ParseError as exc:
            raise malformed(NAME, response, f"not XML ({exc})") from None
        if _local(root.tag) == "Acknowledgement_MarketDocument":
            reason = _child(root, "Reason")
            code = _text(_child(reason, "code")) if reason is not None else None
            text = _text(_child(reason, "text")) if reason is not None else None
            raise ProviderError(NAME, response.url, response.status,
                                f"the platform answered with an acknowledgement "
                                f"(reason {code}): {text}")
        if _local(root.tag) != "Publication_MarketDocument":
            raise malformed(NAME, response, f"root element {_local(root.tag)!r}")
        series = [self._series(response, ts) for ts in _children(root, "TimeSeries")]
        if not series:
            return []
        # Finest resolution wins where a zone publishes several (15-min and hourly auctions),
        # then the first classification sequence: one price per interval start.
        finest = min(step for step, _, _ in series)
        chosen = sorted((s for s in series if s[0] == finest), key=lambda s: s[1])
        prices: dict[pd.Timestamp, float] = {}
        for _, _, values in chosen:
            for start, price in values:
                prices.setdefault(start, price)
        column = self.signals[0].column
        return [Point(start, column, price) for start, price in sorted(prices.items())]

    def _series(self, response: Response, ts: ET.Element):
        unit = _text(_child(ts, "price_Measure_Unit.name"))
        if unit is not None and unit.upper() != "MWH":
            raise ProviderError(NAME, response.url, response.status,
                                f"prices per {unit}, expected per MWH")
        curve = _text(_child(ts, "curveType")) or "A01"
        sequence_node = _child(ts, "classificationSequence_AttributeInstanceComponent.position")
        sequence = int(_text(sequence_node) or 1)
        steps, values = set(), []
        for period in _children(ts, "Period"):
            step, points = self._period(response, period, curve)
            steps.add(step)
            values.extend(points)
        if len(steps) > 1:
            raise malformed(NAME, response, "one TimeSeries with several resolutions")
        return (steps.pop() if steps else timedelta(hours=1)), sequence, values

    def _period(self, response: Response, period: ET.Element, curve: str):
        interval = _child(period, "timeInterval")
        start_text = _text(_child(interval, "start")) if interval is not None else None
        end_text = _text(_child(interval, "end")) if interval is not None else None
        if start_text is None or end_text is None:
            raise malformed(NAME, response, "a Period has no valid timeInterval")
        try:
            start = pd.Timestamp(start_text)
            end = pd.Timestamp(end_text)
        except (TypeError, ValueError):
            raise malformed(NAME, response, "a Period's timeInterval is not ISO 8601") from None
        if start is pd.NaT or end is pd.NaT or end <= start:
            raise malformed(NAME, response, "a Period has no valid timeInterval")
        start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
        end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
        raw = _text(_child(period, "resolution")) or ""
        match = _RESOLUTION.fullmatch(raw)
        if not match:
            raise malformed(NAME, response, f"resolution {raw!r} (expected like PT15M, PT60M)")
        step = timedelta(minutes=int(match[1]) * (60 if match[2] == "H" else 1))
        count = int((end - start) / pd.Timedelta(step))
        given: dict[int, float] = {}
        for point in _children(period, "Point"):
            try:
                position = int(_text(_child(point, "position")) or "")
                price = float(_text(_child(point, "price.amount")) or "")
            except ValueError:
                raise malformed(NAME, response, "a Point without a numeric position and "
                                                "price.amount") from None
            if not 1 <= position <= count:
                raise malformed(NAME, response, f"Point position {position} outside 1..{count}")
            given[position] = price
        positions = sorted(given)
        values = []
        for k, position in enumerate(positions):
            if curve == "A03":  # holds until the next given position or the period's end
                stop = positions[k + 1] if k + 1 < len(positions) else count + 1
            else:
                stop = position + 1
            for p in range(position, stop):
                values.append((start + (p - 1) * step, given[position]))
        return step, values
