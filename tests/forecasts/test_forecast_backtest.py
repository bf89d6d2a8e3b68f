"""The backtest and the ``backtest``/``predict`` verbs, on synthetic and real (SGIP) series."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from greenslot.cli import main
from greenslot.forecasts.backtest import backtest
from greenslot.forecasts.files import read_forecast
from greenslot.forecasts.series_file import read_history

DATA = Path(__file__).parent / "data"
SGIP = DATA / "sgip_caiso_pge_2020-03-01_02.csv"


def cycle(days=35, freq="h"):
    start = pd.Timestamp("2026-01-05T00:00Z")
    index = pd.date_range(start, start + pd.Timedelta(days=days), freq=freq, inclusive="left")
    return pd.Series(200 + 80 * np.sin(2 * np.pi * index.hour / 24), index=index)


def test_scores_are_zero_where_the_method_is_exact_and_a_perfect_provider_scores_zero():
    actual = cycle()
    provider = {k: actual.shift(-k) for k in range(1, 4)}  # issued at t for t + k hours
    result = backtest(actual, provider)
    assert result.mae.loc["seasonal_daily"].max() == pytest.approx(0, abs=1e-9)
    assert result.mae.loc["provider", "<=1h"] == pytest.approx(0, abs=1e-9)
    assert result.mae.loc["provider", "1-3h"] == pytest.approx(0, abs=1e-9)
    assert np.isnan(result.mae.loc["provider", "3-6h"])  # it has no forecast that far
    assert result.mae.loc["persistence", "12-24h"] > 50
    assert result.origins == len(range(28 * 24, len(actual) - 1, 6))


def test_provider_and_persistence_scores_match_an_independent_count_on_real_sgip_data():
    history = read_history(SGIP, "sgip.csv", "moer")
    result = backtest(history.values, history.provider, horizon=timedelta(hours=1),
                      every=timedelta(hours=1), warmup=timedelta(days=1))
    y = history.values.to_numpy()
    f = {k: s.to_numpy() for k, s in history.provider.items()}
    provider_errors, persistence_errors = [], []
    for origin in range(288, len(y) - 1, 12):
        for h in range(1, 13):
            if origin + h - 1 < len(y):
                provider_errors.append(abs(f[h][origin - 1] - y[origin + h - 1]))
                persistence_errors.append(abs(y[origin - 1] - y[origin + h - 1]))
    assert result.mae.loc["provider", "<=1h"] == pytest.approx(np.mean(provider_errors))
    assert result.mae.loc["persistence", "<=1h"] == pytest.approx(np.mean(persistence_errors))


def test_mape_skips_near_zero_actuals():
    actual = cycle()
    actual[actual.index.hour == 6] = 0.0
    result = backtest(actual, methods=("persistence",))
    assert np.isfinite(result.mape.to_numpy()).all()


def test_cli_backtest_prints_a_table(capsys):
    code = main(["forecast", "backtest", str(SGIP), "--column", "moer", "--warmup", "1D",
                 "--horizon", "3h", "--every", "1h"])
    out = capsys.readouterr().out
    assert code == 0
    assert "| method | <=1h | 1-3h |" in out
    assert "| provider |" in out and "| profile |" in out


def test_cli_backtest_bad_series_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "s.csv"
    bad.write_text("time,value\n2026-01-01 00:00:00,1\n")
    assert main(["forecast", "backtest", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 2, field 'time'" in err and "[naive_time]" in err
    two = tmp_path / "two.csv"
    two.write_text("time,a,b\n2026-01-01T00:00:00+00:00,1,2\n")
    assert main(["forecast", "backtest", str(two)]) == 2
    assert "--column (one of a, b)" in capsys.readouterr().err
    assert main(["forecast", "backtest", str(SGIP), "--column", "moer"]) == 2
    assert "shorter than the warm-up" in capsys.readouterr().err


def test_cli_predict_writes_a_contract_forecast(tmp_path):
    past = cycle(days=30, freq="30min")
    src = tmp_path / "history.csv"
    pd.DataFrame({"time": [t.isoformat() for t in past.index],
                  "carbon_g_per_kwh": past.to_numpy()}).to_csv(src, index=False)
    out = tmp_path / "f.csv"
    assert main(["forecast", "predict", str(src), "--out", str(out), "--slot", "15min"]) == 0
    table = read_forecast(out, "f.csv")
    assert len(table.times) == 192 and table.times[0] == past.index[-1] + pd.Timedelta("30min")
    assert set(table.columns) == {"carbon_g_per_kwh"}
    expected = 200 + 80 * np.sin(2 * np.pi * table.times.hour / 24)
    np.testing.assert_allclose(table.columns["carbon_g_per_kwh"], expected, atol=1e-6)


def test_cli_predict_needs_a_contract_column(tmp_path, capsys):
    out = tmp_path / "f.csv"
    assert main(["forecast", "predict", str(SGIP), "--column", "moer", "--out", str(out)]) == 2
    assert "--as" in capsys.readouterr().err and not out.exists()


def _hourly_file(tmp_path: Path, days: int) -> Path:
    series = cycle(days=days)
    path = tmp_path / "hourly.csv"
    pd.DataFrame({"time": [t.isoformat() for t in series.index],
                  "carbon_g_per_kwh": series.to_numpy()}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("options", "field", "check", "words"), [
    ([], "--warmup", "series_shorter_than_warmup",
     "the series (3 d: 72 intervals of 1 h) is shorter than the warm-up of 28 d"),
    (["--warmup", "1D", "--slot", "7min"], "--slot", "slot_not_dividing_day",
     "the interval of 7 min does not divide a day"),
    (["--warmup", "1D", "--horizon", "30min"], "--horizon", "horizon_below_slot",
     "the horizon of 30 min is shorter than one interval of 1 h"),
])
def test_cli_backtest_errors_name_file_option_and_check_in_human_durations(
        tmp_path, capsys, options, field, check, words):
    path = _hourly_file(tmp_path, days=3)
    assert main(["forecast", "backtest", str(path), *options]) == 2
    err = capsys.readouterr().err
    assert err == f"greenslot: error: {path}, field '{field}': {words}" + err[err.index(words)
                                                                              + len(words):]
    assert err.count("\n") == 1 and err.endswith(f" [{check}]\n")
    assert "0:00" not in err and "days," not in err  # no raw timedeltas


def test_cli_backtest_one_row_is_too_few(tmp_path, capsys):
    path = tmp_path / "one.csv"
    path.write_text("time,value\n2026-01-01T00:00:00+00:00,1\n")
    assert main(["forecast", "backtest", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[too_few_rows]" in err and str(path) in err


def test_cli_backtest_header_says_durations_as_written(tmp_path, capsys):
    path = _hourly_file(tmp_path, days=3)
    assert main(["forecast", "backtest", str(path), "--warmup", "1D", "--horizon", "3h"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "origins every 6 h, interval 1 h;" in first


def test_cli_backtest_json_is_the_table(tmp_path, capsys):
    import json

    path = _hourly_file(tmp_path, days=3)
    args = ["forecast", "backtest", str(path), "--warmup", "1D", "--horizon", "3h"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["name"] == "carbon_g_per_kwh" and doc["step_s"] == 3600.0
    assert f"{doc['origins']} origins" in text
    mae = doc["mae"]["persistence"]["<=1h"]
    mape = doc["mape_percent"]["persistence"]["<=1h"]
    assert f"| persistence | {mae:.3g} ({mape:.1f} %) |" in text
