"""A GB Carbon Intensity API double: the documented JSON for any from/to the client asks for.

Values come from a seeded generator, so each test serves numbers nobody wrote into the code
under test, and the expected CSV is built from what was actually served.
"""

from __future__ import annotations

import json
import random
import re

import pandas as pd

from tests.helpers.provider_server import Reply, Seen

_PATH = re.compile(r"^(?P<prefix>/intensity|/regional/intensity)/(?P<a>[^/]+)/(?P<b>[^/]+)"
                   r"(?P<scope>/regionid/\d+|/postcode/\w+)?$")


def api_time(stamp: pd.Timestamp) -> str:
    return stamp.strftime("%Y-%m-%dT%H:%MZ")


class GbApi:
    """Serves half-hours in ``[from, to)``; ``served`` maps each start to the value sent."""

    def __init__(self, seed: int = 7, drop: tuple[str, ...] = (), null: tuple[str, ...] = (),
                 extra_before: bool = False) -> None:
        self.rng = random.Random(seed)
        self.served: dict[pd.Timestamp, int] = {}
        self.drop = {pd.Timestamp(t) for t in drop}
        self.null = {pd.Timestamp(t) for t in null}
        self.extra_before = extra_before

    def value(self, start: pd.Timestamp) -> int:
        if start not in self.served:
            self.served[start] = self.rng.randint(20, 420)
        return self.served[start]

    def period(self, start: pd.Timestamp, regional: bool) -> dict:
        forecast = None if start in self.null else self.value(start)
        intensity = {"forecast": forecast, "index": "moderate"}
        if not regional:
            intensity["actual"] = None
        item = {"from": api_time(start), "to": api_time(start + pd.Timedelta("30min")),
                "intensity": intensity}
        if regional:
            item["generationmix"] = [{"fuel": "gas", "perc": 40.1}, {"fuel": "wind", "perc": 59.9}]
        return item

    def __call__(self, seen: Seen) -> Reply:
        match = _PATH.match(seen.path)
        if not match:
            return Reply(400, json.dumps({"error": {"code": "400", "message": "bad path"}}))
        a = pd.Timestamp(match["a"])
        b = pd.Timestamp(match["b"])
        regional = match["prefix"] == "/regional/intensity"
        first = a - pd.Timedelta("30min") if self.extra_before else a
        starts = [t for t in pd.date_range(first, b, freq="30min", inclusive="left")
                  if t not in self.drop]
        periods = [self.period(t, regional) for t in starts]
        if not regional:
            return Reply(body=json.dumps({"data": periods}))
        scope = match["scope"] or ""
        region = {"regionid": 13, "dnoregion": "UKPN London", "shortname": "London",
                  "data": periods}
        if scope.startswith("/postcode/"):
            region["postcode"] = scope.rsplit("/", 1)[-1]
            return Reply(body=json.dumps({"data": [region]}))
        return Reply(body=json.dumps({"data": region}))
