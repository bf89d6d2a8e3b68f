"""Exit codes and one-line errors of ``greenslot forecast fetch``; nothing half-written."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from greenslot.cli import main
from tests.helpers.gb_api import GbApi
from tests.helpers.provider_server import Reply

WINDOW = ["--start", "2026-11-30T00:00:00+00:00", "--end", "2026-11-30T02:00:00+00:00"]


def run(server, tmp_path, provider="uk-carbon-intensity", *extra):
    out = tmp_path / "f.csv"
    code = main(["forecast", "fetch", provider, *WINDOW, "--base-url", server.url,
                 "--out", str(out), "--retries", "1", *extra])
    return code, out


def exit_code(argv):
    """The exit code, whether main returns it or argparse raises SystemExit."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize(("args", "needle"), [
    (["--start", "2026-11-30T00:00:00", "--end", "2026-11-30T02:00:00+00:00"], "UTC offset"),
    (["--start", "tomorrow", "--end", "2026-11-30T02:00:00+00:00"], "not an ISO 8601 time"),
    (["--start", "2026-11-30T02:00:00Z", "--end", "2026-11-30T00:00:00Z"], "is not after"),
])
def test_bad_window_is_exit_2(server, tmp_path, capsys, args, needle):
    out = tmp_path / "f.csv"
    code = exit_code(["forecast", "fetch", "uk-carbon-intensity", *args,
                      "--base-url", server.url, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and err.count("\n") == 1 and not out.exists()
    assert not server.seen


def test_unknown_provider_and_bad_base_url_are_usage_errors(tmp_path, capsys):
    for args in (["nope", *WINDOW], ["uk-carbon-intensity", *WINDOW, "--base-url", "ftp://x"]):
        assert exit_code(["forecast", "fetch", *args, "--out", str(tmp_path / "f.csv")]) == 2
        assert capsys.readouterr().err.count("\n") == 1


def test_missing_key_is_exit_2_naming_the_variable(server, tmp_path, capsys):
    code, out = run(server, tmp_path, "entsoe", "--region", "DE_LU")
    err = capsys.readouterr().err
    assert code == 2 and "ENTSOE_SECURITY_TOKEN" in err and err.count("\n") == 1
    assert not out.exists() and not server.seen


@pytest.mark.slow
def test_provider_failure_is_exit_4_and_keeps_the_previous_file(server, tmp_path, capsys):
    server.handler = GbApi(seed=1)
    code, out = run(server, tmp_path)
    assert code == 0
    before = out.read_text()
    server.handler = lambda seen: Reply(500, "down")
    code, _ = run(server, tmp_path, "uk-carbon-intensity", "--max-age", "0",
                  "--cache-dir", str(tmp_path / "empty-cache"))
    err = capsys.readouterr().err
    assert code == 4 and out.read_text() == before
    lines = [line for line in err.splitlines() if "provider error" in line]
    assert len(lines) == 1 and "HTTP 500" in lines[0] and "Traceback" not in err


def test_success_prints_one_summary_line(server, tmp_path, capsys):
    server.handler = GbApi(seed=2)
    code, out = run(server, tmp_path)
    assert out.is_file()
    stdout = capsys.readouterr().out
    assert code == 0 and stdout.count("\n") == 1
    assert "4 rows of carbon_g_per_kwh" in stdout and "(source: provider)" in stdout


def _run_main(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_forecast_fetch_json_describes_the_file(server, tmp_path, capsys):
    server.handler = GbApi(seed=2)
    out = tmp_path / "f.csv"
    code, stdout, _ = _run_main(capsys, "forecast", "fetch", "uk-carbon-intensity", "--start",
                           "2026-11-30T00:00:00+00:00", "--end", "2026-11-30T02:00:00+00:00",
                           "--base-url", server.url, "--out", str(out), "--retries", "1",
                           "--cache-dir", str(tmp_path / "cache"), "--json")
    doc = json.loads(stdout)
    written = pd.read_csv(out)
    assert code == 0 and doc["rows"] == len(written) == 4 and doc["source"] == "provider"
    assert doc["columns"] == ["carbon_g_per_kwh"]
    assert pd.Timestamp(doc["start"]) == pd.Timestamp(written["time"].iloc[0])
