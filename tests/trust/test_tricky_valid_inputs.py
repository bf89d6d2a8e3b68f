"""Inputs that look odd but are valid: each must give the *right* plan, not merely run.

Why: rejecting real data is as bad as accepting broken data. Markets have negative prices;
Windows tools write CRLF and a byte-order mark; a quiet night has no jobs; operators export
forecasts in local time with the offset, which jumps at daylight-saving changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from greenslot.cli import main
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.pipeline.steps import plan
from tests.helpers.scenarios import START, hourly_forecast
from tests.helpers.trust import CURVE, FORECAST, Data


def _plan(tmp_path: Path, data: Data, *args: str) -> tuple[pd.DataFrame, dict]:
    out = tmp_path / "out"
    rc = main(["plan", str(data.write(tmp_path / "s")), "--out", str(out), "--quiet", *args])
    assert rc == 0
    schedule = pd.read_csv(out / "schedule.csv", dtype={"nodes": str})
    return schedule, json.loads((out / "summary.json").read_text())


@pytest.mark.parametrize("solver", ["greedy", "milp"])
def test_negative_price_is_used_not_rejected(solver, tmp_path):
    """At -30 per MWh the cost objective runs the job in that hour and the cost is negative."""
    data = Data()
    data.config["objective"] = "cost"
    data.forecasts[FORECAST] = hourly_forecast([100, 200, 50, 300, 300],
                                               price=[50, -30, 40, 60, 60])
    schedule, summary = _plan(tmp_path, data, "--solver", solver, "--threads", "1")
    assert list(schedule["start"]) == ["2022-06-14T01:00:00+00:00"]
    # 1 GPU at 300 W + 1 idle GPU at 10 W + node 100 W for 1 h = 0.41 kWh at -30 / MWh.
    assert summary["totals"]["cost"] == pytest.approx(0.41 * -30 / 1000)


def _dos(text: str) -> bytes:
    return b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()


def test_crlf_and_bom_in_every_csv(tmp_path):
    """The same plan as from plain files, byte for byte."""
    plain = Data()
    schedule, summary = _plan(tmp_path / "plain", plain)
    folder = tmp_path / "dos" / "s"
    plain.write(folder)
    dos = Data()
    for name in ("jobs.csv", FORECAST, CURVE):
        dos.raw[name] = _dos((folder / name).read_text())
    schedule_dos, summary_dos = _plan(tmp_path / "dos", dos)
    pd.testing.assert_frame_equal(schedule, schedule_dos)
    assert summary_dos["totals"] == summary["totals"]


def test_empty_job_list_plans_an_idle_cluster(tmp_path):
    data = Data(jobs=[])
    data.site["power_down_idle"] = False  # the idle draw is then the whole bill
    schedule, summary = _plan(tmp_path, data)
    assert schedule.empty and summary["unplaced"] == [] and summary["placed"] == 0
    # Two nodes of 100 W + 2 idle GPUs of 10 W each, always on, for 4 h: 0.96 kWh.
    assert summary["totals"]["energy_kwh"] == pytest.approx(2 * 120 * 4 / 1000)


def test_other_utc_offsets_give_the_same_plan(tmp_path):
    """Start, forecast rows and job times written in +05:30 and -07:00 name the same instants."""
    utc = Data()
    utc.job.update(release="2022-06-14T01:00:00+00:00", deadline="2022-06-14T04:00:00+00:00")
    schedule, summary = _plan(tmp_path / "utc", utc)

    shifted = Data()
    shifted.config["start"] = "2022-06-13T17:00:00-07:00"
    for row in shifted.forecast:
        row["time"] = pd.Timestamp(row["time"]).tz_convert("+05:30").isoformat()
    shifted.job.update(release="2022-06-14T06:30:00+05:30", deadline="2022-06-13T21:00:00-07:00")
    schedule_shifted, summary_shifted = _plan(tmp_path / "shifted", shifted)
    pd.testing.assert_frame_equal(schedule, schedule_shifted)
    assert summary_shifted["totals"] == summary["totals"]
    assert list(schedule["start"]) == ["2022-06-14T02:00:00+00:00"]  # the 50 g hour


def test_nanosecond_times_round_quietly_by_the_slot_rule(tmp_path):
    """Issue 17, item 15: times finer than a microsecond loaded with a pandas UserWarning
    (an error under this suite's warning filter); they now plan as the slot rule says."""
    plain = Data()
    plain.job.update(release="2022-06-14T01:00:00+00:00", deadline="2022-06-14T04:00:00+00:00")
    schedule, summary = _plan(tmp_path / "plain", plain)

    fine = Data()
    fine.job.update(release="2022-06-14T00:59:59.999999999+00:00",
                    deadline="2022-06-14T04:35:41.999999999+00:00")
    schedule_fine, summary_fine = _plan(tmp_path / "fine", fine)
    pd.testing.assert_frame_equal(schedule.drop(columns=["release", "deadline"]),
                                  schedule_fine.drop(columns=["release", "deadline"]))
    assert summary_fine["totals"] == summary["totals"]
    assert list(schedule_fine["deadline"]) == ["2022-06-14T04:35:41.999999+00:00"]


def _local_rows(stamps: list[pd.Timestamp], carbon: list[float]) -> list[dict]:
    """Forecast rows in Europe/London local time with the offset of the day."""
    return [{"time": t.tz_convert("Europe/London").isoformat(), "carbon_g_per_kwh": c,
             "price_per_mwh": 100.0} for t, c in zip(stamps, carbon, strict=True)]


def test_spring_forward_local_times_map_to_the_right_slot(tmp_path):
    """Across 2022-03-27 01:00 UTC (London 01:00 -> 02:00) slots stay one hour apart."""
    start = pd.Timestamp("2022-03-26T22:00:00+00:00")
    stamps = [start + pd.Timedelta(hours=h) for h in range(7)]
    rows = _local_rows(stamps, [300, 300, 300, 20, 300, 300, 300])
    assert rows[3]["time"] == "2022-03-27T02:00:00+01:00"  # the clean hour, after the jump
    data = Data(forecasts={FORECAST: rows})
    data.config.update(start=start.isoformat(), horizon="6h")
    data.job.update(release="2022-03-27T00:00:00+00:00", deadline="2022-03-27T05:00:00+01:00")
    schedule, _ = _plan(tmp_path, data)
    assert list(schedule["start"]) == ["2022-03-27T01:00:00+00:00"]
    assert list(schedule["end"]) == ["2022-03-27T02:00:00+00:00"]


def test_fall_back_repeated_local_hour_is_two_slots(tmp_path):
    """London shows 01:00 twice on 2022-10-30; the clean one is the second (+00:00)."""
    start = pd.Timestamp("2022-10-29T22:00:00+00:00")
    stamps = [start + pd.Timedelta(hours=h) for h in range(7)]
    rows = _local_rows(stamps, [300, 300, 300, 20, 300, 300, 300])
    assert [r["time"] for r in rows[2:4]] == ["2022-10-30T01:00:00+01:00",
                                              "2022-10-30T01:00:00+00:00"]
    data = Data(forecasts={FORECAST: rows})
    data.config.update(start=start.isoformat(), horizon="6h")
    scenario = load_scenario(data.write(tmp_path / "s"))
    assert list(scenario.series["s1"].carbon_g_per_kwh) == [300, 300, 300, 20, 300, 300]
    result = plan(scenario)
    (placed,) = result.schedule.assignments
    assert scenario.grid.time_of(placed.start_slot).isoformat() == "2022-10-30T01:00:00+00:00"


def test_start_written_in_local_summer_time(tmp_path):
    """``start`` with +01:00 is the same grid as the UTC hour before it."""
    data = Data()
    data.config["start"] = "2022-06-14T01:00:00+01:00"
    scenario = load_scenario(data.write(tmp_path / "s"))
    assert scenario.grid.start.isoformat() == START


@pytest.mark.parametrize("release", ["2022-06-14T04:00:00+00:00", "2022-06-15T09:00:00+00:00"])
def test_job_released_after_the_horizon_without_deadline_is_unplaced(release, tmp_path):
    """Tomorrow's job in tonight's queue, no deadline given: found by the fuzzer.

    The deadline defaults to the horizon end, which is then not after the release; that was
    exit 2 on a field the user left empty. Like the same job with an explicit later deadline, it
    is listed unplaced, to be planned in a later horizon.
    """
    data = Data(jobs=[{"job_id": "a", "gpus": 1, "duration_h": 1},
                      {"job_id": "later", "gpus": 1, "duration_h": 1, "release": release}])
    schedule, summary = _plan(tmp_path, data)
    assert list(schedule["job_id"]) == ["a"]
    (unplaced,) = summary["unplaced"]
    assert unplaced["job_id"] == "later"
    assert "at or after the horizon end; plan it in a later horizon" in unplaced["reason"]
