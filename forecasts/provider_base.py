"""What every provider adapter declares and the helpers they share.

An adapter separates the three steps (STYLE.md, practice 8): *plan* the requests for a window,
*fetch* them (the shared client and cache do that, not the adapter), and *parse* each answer
into :class:`Point` s in contract units, through a declared :class:`Signal` map. Every time
leaves an adapter as the UTC start of its interval.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import pandas as pd

from greenslot.forecasts.errors import CredentialsError, ProviderError
from greenslot.forecasts.http_client import HttpClient, Request, Response


@dataclass(frozen=True)
class Signal:
    """One provider field and how it becomes a contract column.

    ``value_in_contract_unit = value_in_provider_unit * factor``; e.g. WattTime's MOER in
    lb/MWh times 0.45359237 is g/kWh.
    """

    field: str
    unit: str
    column: str
    contract_unit: str
    factor: float = 1.0

    def convert(self, value: float) -> float:
        return float(value) * self.factor


@dataclass(frozen=True)
class Point:
    """One value of one contract column for the interval starting at ``start`` (UTC)."""

    start: pd.Timestamp
    column: str
    value: float


@dataclass(frozen=True)
class Query:
    """What the user asked for: the window ``[start, end)`` (tz-aware), a region, the clock."""

    start: pd.Timestamp
    end: pd.Timestamp
    region: str | None
    now: pd.Timestamp


@dataclass(frozen=True)
class Credentials:
    """Secrets to add to every request of a fetch; never logged, cached or shown."""

    secret_params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


class Provider(Protocol):
    """The interface every adapter implements (see the module docstring)."""

    # Read-only (properties here, plain class attributes in an adapter), so an adapter's
    # narrower tuple type still satisfies the protocol.
    @property
    def name(self) -> str: ...

    @property
    def default_base_url(self) -> str: ...

    @property
    def signals(self) -> tuple[Signal, ...]: ...

    @property
    def env_vars(self) -> tuple[str, ...]: ...

    def plan(self, query: Query, base_url: str) -> list[Request]:
        """The requests (public parameters only) that together cover the window."""

    def credentials(self, client: HttpClient, base_url: str) -> Credentials:
        """Read keys from the environment (and log in, where the provider needs it)."""

    def parse(self, response: Response, query: Query) -> list[Point]:
        """Points in contract units; raise :class:`ProviderError` on a malformed answer."""


def env_secret(provider: str, *names: str) -> tuple[str, ...]:
    """The values of environment variables ``names``; :class:`CredentialsError` if any unset."""
    values = tuple(os.environ.get(name, "") for name in names)
    if not all(values):
        raise CredentialsError(provider, names)
    return values


def malformed(provider: str, response: Response, what: str) -> ProviderError:
    """The error for an answer we cannot read (it names the response's URL and status)."""
    return ProviderError(provider, response.url, response.status, f"malformed response: {what}")


def parse_json(provider: str, response: Response) -> Any:
    try:
        return json.loads(response.text)
    except json.JSONDecodeError as exc:
        raise malformed(provider, response, f"not JSON ({exc.msg} at char {exc.pos})") from None


def utc_time(provider: str, response: Response, raw: Any, what: str) -> pd.Timestamp:
    """An ISO 8601 time from a provider as tz-aware UTC.

    A time without an offset is read as UTC: every provider here documents its times in UTC.
    """
    if not isinstance(raw, str):
        raise malformed(provider, response, f"{what} is {raw!r}, not a time")
    try:
        stamp = pd.Timestamp(raw)
    except ValueError:
        raise malformed(provider, response, f"{what} {raw!r} is not ISO 8601") from None
    if stamp is pd.NaT:
        raise malformed(provider, response, f"{what} is empty")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def number_or_none(provider: str, response: Response, raw: Any, what: str) -> float | None:
    """A numeric value, ``None`` for JSON null (a missing value), an error for anything else."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise malformed(provider, response, f"{what} is {raw!r}, not a number")
    return float(raw)


def windows(start: datetime, end: datetime, longest: timedelta) -> Iterator[tuple[Any, Any]]:
    """``[start, end)`` cut into consecutive windows no longer than ``longest``."""
    cursor = start
    while cursor < end:
        stop = min(end, cursor + longest)
        yield cursor, stop
        cursor = stop
