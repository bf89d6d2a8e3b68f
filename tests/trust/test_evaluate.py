"""``greenslot evaluate``: a written plan priced on actual signals, on real SGIP data.

The sample (``data/sgip-2020-06-02``, see its README) is planned on a persistence forecast
(the previous day's measured MOER) and evaluated on the day's measured MOER. Realised carbon
is recomputed here on an independent path (pandas' own 15-minute means of the 5-minute file
times the plan's per-slot grid energy) and must match to 1e-9.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from greenslot.cli import main
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.accounting import account
from greenslot.pipeline.files import read_plan

SAMPLE = Path(__file__).parent / "data" / "sgip-2020-06-02"


@pytest.fixture(scope="module")
def planned(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sgip") / "plan"
    assert main(["plan", str(SAMPLE), "--out", str(out), "--quiet"]) == 0
    return out


def _evaluate(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(["evaluate", *args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def _actual_slot_means() -> np.ndarray:
    frame = pd.read_csv(SAMPLE / "actual.csv")
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.set_index("time")["carbon_g_per_kwh"].resample("15min").mean().to_numpy()


@pytest.mark.slow
def test_realised_carbon_on_real_moer(planned, capsys):
    rc, out, err = _evaluate(capsys, str(SAMPLE), str(planned), "--actual",
                             str(SAMPLE / "actual.csv"), "--json", "--hindsight", "greedy")
    assert rc == 0, err
    report = json.loads(out)
    summary = json.loads((planned / "summary.json").read_text())
    for key, value in summary["totals"].items():
        assert report["planned"][key] == pytest.approx(value, rel=1e-9)

    scenario = load_scenario(SAMPLE)
    grid_kwh = account(scenario, read_plan(scenario, planned).schedule).grid_kwh[0]
    expected = float(np.dot(grid_kwh, _actual_slot_means()) / 1000)
    assert report["realised"]["carbon_kg"] == pytest.approx(expected, rel=1e-9)
    # The actual file carries no prices: energy and cost are as planned.
    for key in ("energy_kwh", "grid_kwh", "cost"):
        assert report["realised"][key] == pytest.approx(report["planned"][key], rel=1e-12)
    # A persistence forecast is wrong on this day: the realised saving is smaller than the
    # planned one, but the plan still beats fifo on actual carbon, and planning with hindsight
    # (greedy on the actual MOER) would have done better still.
    saving = report["saving_vs_fifo"]["carbon_kg"]
    assert 0 < saving["realised"] < saving["planned"]
    assert report["hindsight"]["carbon_kg"] < report["realised"]["carbon_kg"]
    (error,) = report["signal_error"]
    assert error["signal"] == "carbon_g_per_kwh" and error["mean_abs_error"] > 10


def test_actual_prices_replace_planned_ones(planned, tmp_path, capsys):
    """Doubling every price doubles the realised cost and leaves carbon as planned."""
    forecast = pd.read_csv(SAMPLE / "forecast.csv")
    actual = forecast.assign(price_per_mwh=forecast["price_per_mwh"] * 2)
    actual[["time", "price_per_mwh"]].to_csv(tmp_path / "prices.csv", index=False)
    rc, out, err = _evaluate(capsys, str(SAMPLE), str(planned), "--actual",
                             str(tmp_path / "prices.csv"), "--json")
    assert rc == 0, err
    report = json.loads(out)
    assert report["realised"]["cost"] == pytest.approx(2 * report["planned"]["cost"], rel=1e-9)
    assert report["realised"]["carbon_kg"] == pytest.approx(report["planned"]["carbon_kg"],
                                                            rel=1e-12)


def test_table_names_planned_and_realised(planned, capsys):
    rc, out, _ = _evaluate(capsys, str(SAMPLE), str(planned), "--actual",
                           str(SAMPLE / "actual.csv"))
    assert rc == 0
    assert "planned" in out and "realised" in out
    # signed as `plan` prints its change vs fifo (issue 17: evaluate said "saving +24.9 %"
    # where plan said "-24.9 %" for the same figure)
    line = next(x for x in out.splitlines() if x.startswith("change vs fifo on carbon_kg"))
    report = json.loads(_evaluate(capsys, str(SAMPLE), str(planned), "--actual",
                                  str(SAMPLE / "actual.csv"), "--json")[1])
    saving = report["saving_vs_fifo"]["carbon_kg"]["planned"]
    assert saving > 0 and f"planned {-saving:+.1%}" in line


def test_actual_with_a_gap_exits_2(planned, tmp_path, capsys):
    rows = (SAMPLE / "actual.csv").read_text().splitlines()
    (tmp_path / "gap.csv").write_text("\n".join(rows[:100] + rows[130:]) + "\n")
    rc, out, err = _evaluate(capsys, str(SAMPLE), str(planned), "--actual",
                             str(tmp_path / "gap.csv"))
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and "gap.csv" in err and "[forecast_gap]" in err


def test_unknown_site_suggests_the_right_one(planned, capsys):
    rc, _, err = _evaluate(capsys, str(SAMPLE), str(planned), "--actual",
                           str(SAMPLE / "actual.csv"), "--site", "caiso_pge")
    assert rc == 2 and "did you mean 'caiso-pge'" in err and err.count("\n") == 1


def test_tampered_plan_is_not_evaluated(planned, tmp_path, capsys):
    plan = tmp_path / "plan"
    shutil.copytree(planned, plan)
    frame = pd.read_csv(plan / "schedule.csv", dtype=str, keep_default_na=False)
    frame.loc[0, "start"] = "2020-06-01T20:00:00+00:00"  # before the horizon
    frame.to_csv(plan / "schedule.csv", index=False)
    rc, out, err = _evaluate(capsys, str(SAMPLE), str(plan), "--actual",
                             str(SAMPLE / "actual.csv"))
    assert rc == 1 and out == "" and "Traceback" not in err
    assert err.startswith("invalid: ")
