"""The response cache: re-runs reuse it, outages fall back to it, --offline reads only it."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from greenslot.cli import main
from greenslot.forecasts.errors import CacheMissError
from greenslot.forecasts.fetch import FetchOptions, fetch
from greenslot.forecasts.http_client import RetryPolicy
from tests.helpers.gb_api import GbApi
from tests.helpers.provider_server import Reply

START, END = pd.Timestamp("2026-11-30T00:00Z"), pd.Timestamp("2026-11-30T03:00Z")
NOW = pd.Timestamp("2026-11-29T20:00Z")


def opts(server, **kw):
    return FetchOptions(base_url=server.url, sleep=lambda s: None,
                        policy=RetryPolicy(attempts=2, backoff_s=0), **kw)


def test_a_fresh_entry_is_reused_without_asking(server, isolated_cache):
    api = GbApi(seed=21)
    server.handler = api
    first = fetch("uk-carbon-intensity", START, END, options=opts(server), now=NOW)
    again = fetch("uk-carbon-intensity", START, END, options=opts(server),
                  now=NOW + pd.Timedelta("10min"))
    assert len(server.seen) == 1
    assert first.source == "provider" and again.source == "cache"
    pd.testing.assert_frame_equal(first.table, again.table)
    assert len(list(isolated_cache.glob("uk-carbon-intensity/*.json"))) == 1


def test_an_old_entry_is_refreshed(server):
    server.handler = GbApi(seed=21)
    fetch("uk-carbon-intensity", START, END, options=opts(server), now=NOW)
    later = fetch("uk-carbon-intensity", START, END, options=opts(server),
                  now=NOW + pd.Timedelta("31min"))
    assert len(server.seen) == 2 and later.source == "provider"


def test_provider_down_falls_back_to_the_last_answer_with_a_warning(server, caplog):
    api = GbApi(seed=22)
    server.handler = api
    good = fetch("uk-carbon-intensity", START, END, options=opts(server), now=NOW)
    server.handler = lambda seen: Reply(503, "maintenance")
    stale = fetch("uk-carbon-intensity", START, END, options=opts(server),
                  now=NOW + pd.Timedelta("6h"))
    assert stale.source == "stale-cache"
    pd.testing.assert_frame_equal(good.table, stale.table)
    assert "using the cached answer fetched 6.0 h ago" in caplog.text
    assert "HTTP 503" in caplog.text


def test_a_malformed_answer_is_not_cached(server, isolated_cache):
    server.handler = GbApi(seed=23)
    fetch("uk-carbon-intensity", START, END, options=opts(server), now=NOW)
    (entry,) = isolated_cache.glob("uk-carbon-intensity/*.json")
    before = entry.read_text()
    server.handler = lambda seen: Reply(body="{truncated")
    result = fetch("uk-carbon-intensity", START, END, options=opts(server),
                   now=NOW + pd.Timedelta("2h"))
    assert result.source == "stale-cache" and entry.read_text() == before


def test_offline_uses_only_the_cache(server):
    server.handler = GbApi(seed=24)
    online = fetch("uk-carbon-intensity", START, END, options=opts(server), now=NOW)
    server.close()
    offline = fetch("uk-carbon-intensity", START, END, options=opts(server, offline=True),
                    now=NOW + pd.Timedelta("30D"))
    assert offline.source == "cache"
    pd.testing.assert_frame_equal(online.table, offline.table)


def test_offline_without_an_entry_is_a_clear_error(server):
    with pytest.raises(CacheMissError, match=r"not in the cache .* run once without --offline"):
        fetch("uk-carbon-intensity", START, END, options=opts(server, offline=True), now=NOW)
    assert not server.seen


def test_offline_cli_miss_exits_4_and_writes_nothing(server, tmp_path, capsys):
    out = tmp_path / "f.csv"
    code = main(["forecast", "fetch", "uk-carbon-intensity", "--start", START.isoformat(),
                 "--end", END.isoformat(), "--base-url", server.url, "--out", str(out),
                 "--offline", "--cache-dir", str(tmp_path / "empty")])
    err = capsys.readouterr().err
    assert code == 4 and not out.exists() and err.count("\n") == 1
    assert "not in the cache" in err and "Traceback" not in err


def test_cli_cache_dir_is_used(server, tmp_path):
    server.handler = GbApi(seed=25)
    args = ["forecast", "fetch", "uk-carbon-intensity", "--start", START.isoformat(), "--end",
            END.isoformat(), "--base-url", server.url, "--cache-dir", str(tmp_path / "c")]
    assert main([*args, "--out", str(tmp_path / "a.csv")]) == 0
    server.close()
    assert main([*args, "--offline", "--out", str(tmp_path / "b.csv")]) == 0
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_an_unreadable_fresh_entry_is_refetched(server, isolated_cache):
    server.handler = GbApi(seed=26)
    fetch("uk-carbon-intensity", START, END, options=opts(server), now=NOW)
    (entry,) = isolated_cache.glob("uk-carbon-intensity/*.json")
    stored = json.loads(entry.read_text())
    entry.write_text(json.dumps(stored | {"text": "{\"data\": 5}"}))
    again = fetch("uk-carbon-intensity", START, END, options=opts(server),
                  now=NOW + pd.Timedelta("1min"))
    assert again.source == "provider" and len(server.seen) == 2
