"""Retries, timeouts and typed errors of the shared client, over real loopback HTTP."""

from __future__ import annotations

import json
import socket
from email.utils import format_datetime

import pandas as pd
import pytest

from greenslot.forecasts.errors import ProviderError
from greenslot.forecasts.fetch import FetchOptions, fetch
from greenslot.forecasts.http_client import RetryPolicy, retry_after_s
from tests.helpers.gb_api import GbApi
from tests.helpers.provider_server import Reply

START, END = pd.Timestamp("2026-11-30T00:00Z"), pd.Timestamp("2026-11-30T02:00Z")


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def options(server, sleeps, **policy):
    return FetchOptions(base_url=server.url, sleep=sleeps,
                        policy=RetryPolicy(**({"backoff_s": 0.5} | policy)))


def sequence(*replies):
    """A handler that answers with ``replies`` in turn, then the last one forever."""
    queue = list(replies)

    def handler(seen):
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        return reply(seen) if callable(reply) else reply

    return handler


def test_429_with_retry_after_seconds_is_honoured(server):
    api, sleeps = GbApi(), Sleeps()
    server.handler = sequence(Reply(429, "slow down", {"Retry-After": "3"}), api)
    result = fetch("uk-carbon-intensity", START, END, options=options(server, sleeps))
    assert sleeps == [3.0] and len(server.seen) == 2
    assert result.table["carbon_g_per_kwh"].tolist() == [api.served[t] for t in result.table.index]


def test_429_with_an_http_date_retry_after():
    now = pd.Timestamp("2026-11-30T00:00:00Z").to_pydatetime()
    later = format_datetime(now + pd.Timedelta("7s").to_pytimedelta(), usegmt=True)
    assert retry_after_s(later, now=now) == pytest.approx(7.0)
    assert retry_after_s("soon") is None and retry_after_s(None) is None


def test_5xx_is_retried_with_exponential_backoff(server):
    api, sleeps = GbApi(), Sleeps()
    server.handler = sequence(Reply(500, "oops"), Reply(503, "busy"), api)
    fetch("uk-carbon-intensity", START, END, options=options(server, sleeps))
    assert sleeps == [0.5, 1.0] and len(server.seen) == 3


def test_persistent_500_raises_a_typed_error_after_all_attempts(server):
    sleeps = Sleeps()
    server.handler = lambda seen: Reply(500, "oops")
    with pytest.raises(ProviderError) as caught:
        fetch("uk-carbon-intensity", START, END, options=options(server, sleeps, attempts=3))
    err = caught.value
    assert err.status == 500 and err.provider == "uk-carbon-intensity"
    assert err.url.startswith(f"{server.url}/intensity/2026-11-30T00:00Z/")
    assert len(server.seen) == 3 and sleeps == [0.5, 1.0]
    assert "still failing after 3 attempts" in str(err)


def test_retry_after_longer_than_we_wait_fails_at_once(server):
    sleeps = Sleeps()
    server.handler = lambda seen: Reply(429, "", {"Retry-After": "3600"})
    with pytest.raises(ProviderError, match="retry after 3600 s") as caught:
        fetch("uk-carbon-intensity", START, END, options=options(server, sleeps))
    assert caught.value.status == 429 and sleeps == [] and len(server.seen) == 1


def test_4xx_is_not_retried(server):
    server.handler = lambda seen: Reply(400, json.dumps({"error": {"message": "bad from"}}))
    with pytest.raises(ProviderError, match=r"request refused: .*bad from") as caught:
        fetch("uk-carbon-intensity", START, END, options=options(server, Sleeps()))
    assert caught.value.status == 400 and len(server.seen) == 1


def test_read_timeout_is_retried_then_reported(server):
    sleeps = Sleeps()
    server.handler = lambda seen: Reply(body="{}", delay_s=0.6)
    with pytest.raises(ProviderError, match=r"read timeout of 0\.2 s") as caught:
        fetch("uk-carbon-intensity", START, END,
              options=options(server, sleeps, attempts=2, read_timeout_s=0.2))
    assert caught.value.status is None and len(server.seen) == 2 and sleeps == [0.5]


def test_connection_refused_is_a_provider_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the request: nothing listens
    opts = FetchOptions(base_url=f"http://127.0.0.1:{port}", sleep=Sleeps(),
                        policy=RetryPolicy(attempts=2, backoff_s=0))
    with pytest.raises(ProviderError, match="cannot connect") as caught:
        fetch("uk-carbon-intensity", START, END, options=opts)
    assert caught.value.status is None


@pytest.mark.parametrize("body", ["{not json", json.dumps({"data": [{"from": "x"}]}),
                                  json.dumps({"nodata": []}),
                                  json.dumps({"data": [{"from": "2026-11-30T00:00Z",
                                                        "to": "2026-11-30T00:30Z",
                                                        "intensity": {"forecast": "high"}}]})])
def test_malformed_json_is_a_typed_error(server, body):
    server.handler = lambda seen: Reply(body=body)
    with pytest.raises(ProviderError, match="malformed response") as caught:
        fetch("uk-carbon-intensity", START, END, options=options(server, Sleeps()))
    assert caught.value.status == 200 and len(server.seen) == 1


def test_redirects_are_not_followed(server, monkeypatch):
    """A key header must not travel to whatever host a redirect names."""
    monkeypatch.setenv("ELECTRICITYMAPS_API_KEY", "em-key")
    server.handler = lambda seen: Reply(302, "", {"Location": "http://example.invalid/x"})
    with pytest.raises(ProviderError, match="redirected") as caught:
        fetch("electricitymaps", START, END, "DE", options(server, Sleeps()),
              now=pd.Timestamp("2026-11-29T00:00Z"))
    assert caught.value.status == 302 and len(server.seen) == 1


def test_an_empty_answer_is_an_error_naming_the_host(server):
    server.handler = lambda seen: Reply(body='{"data": []}')
    with pytest.raises(ProviderError, match="no values for") as caught:
        fetch("uk-carbon-intensity", START, END, options=options(server, Sleeps()))
    assert caught.value.url == server.url
