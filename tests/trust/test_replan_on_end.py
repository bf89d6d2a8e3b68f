"""``simulate --replan-on-end``: the planner runs again when a job really ends off its plan.

A hand-built day checks the rule (worked out by hand): a job that ends two hours early frees
all four GPUs, and the job planned behind it moves up only when the planner re-plans at that
end; the shipped SGIP replay with real run-time noise checks it end to end.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from greenslot.analysis.actual_durations import draw_actual_hours
from greenslot.analysis.simulate import oracle, replay_policy, replay_scenario, simulate
from greenslot.cli import main
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.accounting import account
from greenslot.model.loader import load_duration_history
from tests.helpers.scenarios import hourly_forecast
from tests.helpers.trust import FORECAST, Data

SAMPLE = Path(__file__).parent / "data" / "sgip-replay-2020-06-01-4d"
HISTORY = Path(str(resources.files("greenslot.data") / "run_times"
                   / "zeus_epochs_to_target.csv"))
DAY1 = "2022-06-15T"


def _one_day(tmp_path: Path):
    """Day 0 history, day 1 replayed; flat 300 g, so every plan starts jobs as early as it can.

    'long' takes all 4 GPUs for a declared 3 h (up to 4 h) but really runs 1 h; 'next' needs
    all 4 GPUs for 1 h, so the plan puts it behind 'long', at 03:00.
    """
    jobs = [{"job_id": "long", "gpus": 4, "duration_h": 3, "duration_max_h": 4,
             "release": f"{DAY1}00:00:00+00:00", "deadline": f"{DAY1}23:00:00+00:00"},
            {"job_id": "next", "gpus": 4, "duration_h": 1, "duration_max_h": 1,
             "release": f"{DAY1}00:00:00+00:00", "deadline": f"{DAY1}23:00:00+00:00"}]
    data = Data(forecasts={FORECAST: hourly_forecast([300.0] * 49)})
    data.config["horizon"] = "48h"
    path = data.write(tmp_path / "s")
    pd.DataFrame(jobs).to_csv(tmp_path / "s" / "jobs.csv", index=False)  # with duration_max_h
    scenario = load_scenario(path)
    assert scenario.job("long").duration_max_h == 4
    return scenario, replay_scenario(scenario)


def _start(replay, run, job_id: str) -> str:
    return replay.grid.time_of(run.schedule.by_job()[job_id].start_slot).isoformat()


def test_a_job_ending_early_lets_the_next_plan_move_its_successor_up(tmp_path):
    scenario, replay = _one_day(tmp_path)
    actual_h = {"long": 1.0, "next": 1.0}
    nightly = replay_policy(replay, scenario, oracle, "nightly", actual_h=actual_h)
    on_end = replay_policy(replay, scenario, oracle, "on end", actual_h=actual_h,
                           replan_on_end=True)
    # Nightly: both committed at midnight; 'next' waits for the planned end of 'long'.
    assert _start(replay, nightly, "next") == f"{DAY1}03:00:00+00:00"
    assert nightly.nights == 1
    # On end: 'long' ends at 01:00, off its plan, so 'next' is not committed at midnight; the
    # plan made at 01:00 sees the free GPUs and starts it then.
    assert _start(replay, on_end, "long") == f"{DAY1}00:00:00+00:00"
    assert _start(replay, on_end, "next") == f"{DAY1}01:00:00+00:00"
    assert on_end.nights == 2


def test_runs_on_plan_trigger_no_extra_plan(tmp_path):
    scenario, replay = _one_day(tmp_path)
    exact = {"long": 3.0, "next": 1.0}
    on_end = replay_policy(replay, scenario, oracle, "on end", actual_h=exact,
                           replan_on_end=True)
    assert on_end.nights == 1 and _start(replay, on_end, "next") == f"{DAY1}03:00:00+00:00"


def test_a_run_past_its_planned_end_is_seen_then_and_pinned_to_its_limit(tmp_path):
    """'long' is declared 3 h (up to 4 h) and runs 4 h; its limit is 4 h 5 min (5 slots)."""
    scenario, replay = _one_day(tmp_path)
    actual_h = {"long": 4.0, "next": 1.0}
    nightly = replay_policy(replay, scenario, oracle, "nightly", actual_h=actual_h)
    on_end = replay_policy(replay, scenario, oracle, "on end", actual_h=actual_h,
                           replan_on_end=True)
    # Nightly: 'next' was committed for 03:00 and Slurm holds it behind 'long' until 04:00.
    assert _start(replay, nightly, "next") == f"{DAY1}04:00:00+00:00"
    # On end: at 03:00 'long' is seen still running, so 'next' is not committed for then;
    # the plan made at 03:00 keeps it waiting, and the plan made when 'long' really ends, at
    # 04:00, starts it at once. Three plans: 00:00, 03:00, 04:00; nothing killed.
    assert _start(replay, on_end, "next") == f"{DAY1}04:00:00+00:00"
    assert on_end.nights == 3 and on_end.killed == () and nightly.killed == ()


@pytest.mark.slow
def test_replan_on_end_on_real_moer_with_real_run_time_noise(tmp_path):
    scenario = load_scenario(SAMPLE)
    actual_h = draw_actual_hours(scenario, load_duration_history(HISTORY), seed=1)
    simulation = simulate(scenario, oracle, "oracle", actual_h=actual_h, replan_on_end=True)
    plan = simulation.run("plan on oracle")
    # Runs end off plan, so there are more plans than the four nights; every job is either
    # run or reported, and the realised totals are the accounting of what ran.
    assert plan.nights > 4
    assert len(plan.schedule.assignments) + len(plan.schedule.unplaced) == 36
    assert plan.realised == account(plan.scenario, plan.schedule).totals
    # Perfect foresight (which re-plans nightly) is not surprised by any end: its count stays.
    assert simulation.run("perfect foresight").nights == 4


def test_simulate_cli_replans_on_end(tmp_path, capsys):
    _one_day(tmp_path)
    (tmp_path / "actual.csv").write_text("job_id,actual_h\nlong,1\nnext,1\n")
    args = ["simulate", str(tmp_path / "s"), "--forecaster", "oracle", "--actual-durations",
            str(tmp_path / "actual.csv"), "--json"]
    assert main(args) == 0
    nightly = json.loads(capsys.readouterr().out)["plan on oracle"]
    assert main([*args, "--replan-on-end"]) == 0
    on_end = json.loads(capsys.readouterr().out)["plan on oracle"]
    assert (nightly["nights"], on_end["nights"]) == (1, 2)
    # 'next' ran two hours earlier, at the same flat 300 g: the same carbon, all placed.
    assert on_end["placed"] == nightly["placed"] == 2
    assert on_end["carbon_kg"] == pytest.approx(nightly["carbon_kg"])
