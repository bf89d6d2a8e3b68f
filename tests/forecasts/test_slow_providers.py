"""Providers that misbehave slowly, over real loopback HTTP: every request has a total deadline
and a body-size cap, and ``plan`` falls back from them in one stderr line (issue 19, item 1).

Why: a read timeout bounds one wait for bytes, so a server that drip-feeds a byte at a time
used to hold ``plan`` forever, and an endless body ended in a MemoryError traceback. No test
here asserts how long anything took; each only has to finish (a hang fails the subprocess's
generous timeout), with the typed error or the fallback it must give.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from greenslot.forecasts.errors import ProviderError
from greenslot.forecasts.fetch import FetchOptions, fetch
from greenslot.forecasts.http_client import RetryPolicy
from tests.helpers.hostile_server import HostileServer
from tests.helpers.provider_scenarios import provider_scenario
from tests.helpers.provider_server import Reply

START, END = pd.Timestamp("2026-11-30T00:00Z"), pd.Timestamp("2026-11-30T02:00Z")


@pytest.fixture
def hostile(request):
    servers: list[HostileServer] = []

    def start(kind: str, **kwargs) -> HostileServer:
        servers.append(HostileServer(kind, **kwargs))
        return servers[-1]

    yield start
    for srv in servers:
        srv.close()


def fetch_from(url: str, **policy) -> None:
    settings = {"attempts": 3, "backoff_s": 0.0} | policy
    fetch("uk-carbon-intensity", START, END,
          options=FetchOptions(base_url=url, sleep=lambda s: None,
                               policy=RetryPolicy(**settings)))


@pytest.mark.slow
def test_a_drip_feeding_provider_hits_the_total_deadline(hostile):
    """Each byte arrives well inside the 30 s read timeout; only the deadline stops it."""
    srv = hostile("drip")
    with pytest.raises(ProviderError, match=r"no complete answer within the deadline of 1 s"):
        fetch_from(srv.url, deadline_s=1.0, read_timeout_s=30.0)
    assert srv.requests == 1  # the deadline covers the retries too: none is made after it


def test_an_endless_body_is_cut_at_the_size_cap(hostile):
    srv = hostile("endless")
    with pytest.raises(ProviderError, match=r"larger than 1 MiB") as caught:
        fetch_from(srv.url, max_body_bytes=2**20, deadline_s=600.0)
    assert caught.value.status is None and srv.requests == 1  # not retried: it would recur


def test_a_declared_length_over_the_cap_is_refused_before_reading(hostile):
    srv = hostile("huge_length")
    with pytest.raises(ProviderError, match=r"larger than 32 MiB"):
        fetch_from(srv.url, deadline_s=600.0)


def test_the_cap_counts_decoded_bytes_of_a_compressed_body(hostile):
    """8 MiB of gzip-compressed spaces travel as a few KiB; the cap still applies."""
    srv = hostile("gzip_bomb", bomb_bytes=8 * 2**20)
    with pytest.raises(ProviderError, match=r"larger than 1 MiB"):
        fetch_from(srv.url, max_body_bytes=2**20, deadline_s=600.0)


def test_no_retry_is_started_that_the_deadline_would_cut(server):
    """A backoff that would end past the deadline is not slept: the request fails at once."""
    server.handler = lambda seen: Reply(503, "busy")
    waits: list[float] = []
    with pytest.raises(ProviderError, match="no time left for a retry"):
        fetch("uk-carbon-intensity", START, END,
              options=FetchOptions(base_url=server.url, sleep=waits.append,
                                   policy=RetryPolicy(attempts=4, backoff_s=120.0,
                                                      max_wait_s=600.0, deadline_s=60.0)))
    assert waits == [] and len(server.seen) == 1


def run_plan(scenario, out, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "greenslot", "plan", str(scenario), "--out", str(out), "-q",
         *extra], capture_output=True, text=True, env={**os.environ}, timeout=300)


@pytest.mark.parametrize("kind", ["drip", "endless"])
@pytest.mark.slow
def test_plan_falls_back_from_a_slow_provider_in_one_line(hostile, tmp_path, kind):
    """Through the installed entry point: the site's history stands in, one stderr line."""
    srv = hostile(kind)
    scenario = provider_scenario(tmp_path / "s", srv.url)
    done = run_plan(scenario, tmp_path / "plan", "--forecast-deadline", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("greenslot: site s1:"), lines
    assert "from our forecaster (profile)" in lines[0]
    reason = "deadline of 2 s" if kind == "drip" else "larger than 32 MiB"
    assert reason in lines[0]
    summary = json.loads((tmp_path / "plan" / "summary.json").read_text())
    assert "NaN" not in json.dumps(summary)


@pytest.mark.slow
def test_retries_before_a_fallback_print_no_lines_of_their_own(server, tmp_path):
    """Issue 19: three retry warnings and then the fallback were four lines; now one."""
    server.handler = lambda seen: Reply(503, "down")
    scenario = provider_scenario(tmp_path / "s", server.url)
    done = run_plan(scenario, tmp_path / "plan", "--forecast-retries", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "HTTP 503" in lines[0], lines
    assert len(server.seen) == 3


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1", "1e9"])
def test_the_deadline_option_is_checked(tmp_path, value):
    done = run_plan(tmp_path / "none.yaml", tmp_path / "plan", "--forecast-deadline", value)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "--forecast-deadline" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_bad_input_after_a_fallback_is_still_one_line(server, tmp_path):
    """Found by the hostile fuzzer: sites load first, so a fallback's warning used to come
    before the error of a bad value further down, two lines for bad input. A warning about a
    scenario that does not load is dropped; the error is the one line."""
    server.handler = lambda seen: Reply(503, "down")
    scenario = provider_scenario(tmp_path / "s", server.url)
    jobs = scenario.parent / "jobs.csv"
    jobs.write_text(jobs.read_text().replace("a,2,1", "a,1e30,1"))
    done = run_plan(scenario, tmp_path / "plan", "--forecast-retries", "0")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "[bad_number]" in lines[0] and "field 'gpus'" in lines[0], lines
