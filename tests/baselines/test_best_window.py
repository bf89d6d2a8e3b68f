"""best_window on hand-sized scenarios whose result is derived by hand in each comment.

The base scenario (``tests.helpers.scenarios.base_config``): 1-hour slots, carbon 100, 200, 50, 300
(then 300) g/kWh, nodes n1, n2 with 2 GPUs each, idle 100 W, powered down when idle, PUE 1;
modes 300 W at full speed and 200 W at half speed. A 2-GPU hour at full speed draws
100 + 2 x 300 = 700 W, i.e. 0.7 kWh.
"""

from __future__ import annotations

import json

import pytest

from greenslot.cli import main
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.accounting import TOTAL_KEYS, account
from greenslot.pipeline.files import summary_dict
from greenslot.pipeline.steps import plan
from greenslot.solvers.best_window import best_window_begins, solve_best_window
from greenslot.solvers.fifo import solve_fifo
from greenslot.solvers.greedy import solve_greedy
from greenslot.solvers.queue import missed_deadlines
from greenslot.solvers.registry import get_solver
from tests.helpers.scenarios import base_config, hourly_forecast, write_scenario


def _placed(scenario) -> dict[str, tuple[int, int, tuple[str, ...]]]:
    schedule = solve_best_window(scenario).schedule
    return {a.job_id: (a.start_slot, a.end_slot, a.nodes) for a in schedule.assignments}


def _one_node(config: dict) -> dict:
    config["nodes"][0]["names"] = "n1"
    return config


def test_two_jobs_wanting_the_same_clean_slot_queue_one_after_the_other(tmp_path):
    # Alone, each 2-GPU hour is cleanest in slot 2 (50 g). One node: a (job_id first) gets
    # slot 2, b the earliest slot at or after its begin where n1 is free: 3 (300 g).
    jobs = [{"job_id": "b", "gpus": 2, "duration_h": 1}, {"job_id": "a", "gpus": 2,
                                                          "duration_h": 1}]
    scenario = load_scenario(write_scenario(tmp_path, _one_node(base_config()), jobs))
    assert best_window_begins(scenario) == {"a": 2, "b": 2}
    assert _placed(scenario) == {"a": (2, 3, ("n1",)), "b": (3, 4, ("n1",))}
    assert get_solver("best_window") is solve_best_window  # --solver best_window
    schedule = solve_best_window(scenario).schedule
    carbon = account(scenario, schedule).totals["carbon_kg"]
    assert carbon == pytest.approx(0.7 * (50 + 300) / 1000)
    # Herding: worse than fifo's slots 0 and 1 (0.7 x (100 + 200)), and greedy beats both by
    # spreading to slots 2 and 0 (0.7 x (50 + 100)).
    fifo = account(scenario, solve_fifo(scenario).schedule).totals["carbon_kg"]
    greedy = account(scenario, solve_greedy(scenario).schedule).totals["carbon_kg"]
    assert fifo == pytest.approx(0.7 * 300 / 1000)
    assert greedy == pytest.approx(0.7 * 150 / 1000)


def test_begin_is_the_lowest_carbon_window_inside_release_and_deadline(tmp_path):
    # late: released at 1 h, window starts 1..3 cost 200, 50, 300 -> 2 (later than release).
    # early: deadline 2 h, starts 0..1 cost 100, 200 -> 0.
    # long: 2 h, starts 0..2 cost 300, 250, 350 -> 1.
    # tie: released at 3 h, starts 3..4 (horizon 5 h) cost 300, 300 -> the earliest, 3.
    config = base_config()
    config["horizon"] = "5h"
    jobs = [
        {"job_id": "late", "gpus": 1, "duration_h": 1, "release": "2022-06-14T01:00:00+00:00"},
        {"job_id": "early", "gpus": 1, "duration_h": 1,
         "deadline": "2022-06-14T02:00:00+00:00"},
        {"job_id": "long", "gpus": 1, "duration_h": 2, "deadline": "2022-06-14T04:00:00+00:00"},
        {"job_id": "tie", "gpus": 1, "duration_h": 1, "release": "2022-06-14T03:00:00+00:00"},
    ]
    scenario = load_scenario(write_scenario(tmp_path, config, jobs))
    assert best_window_begins(scenario) == {"late": 2, "early": 0, "long": 1, "tie": 3}
    # Order early(0), long(1), late(2), tie(3); 1-GPU jobs share n1 while it has a GPU free.
    assert _placed(scenario) == {"early": (0, 1, ("n1",)), "long": (1, 3, ("n1",)),
                                 "late": (2, 3, ("n1",)), "tie": (3, 4, ("n1",))}


def test_the_scenario_objective_picks_the_window(tmp_path):
    # Objective cost with prices 100, 10, 100, 100: the cheapest hour is 1, not the cleanest 2.
    config = base_config()
    config["objective"] = "cost"
    forecasts = {"forecast-s1.csv": hourly_forecast([100, 200, 50, 300, 300],
                                                    price=[100, 10, 100, 100, 100])}
    scenario = load_scenario(write_scenario(tmp_path, config, None, forecasts))
    assert best_window_begins(scenario) == {"a": 1}


def test_a_dependant_waits_for_its_dependency_past_its_own_begin(tmp_path):
    # prep is released at 3 h: starts 3..4 both cost 300 -> 3. train alone picks 2 (50 g), but
    # it is queued after prep and may start only when prep ends: slot 4.
    config = _one_node(base_config())
    config["horizon"] = "5h"
    jobs = [
        {"job_id": "prep", "gpus": 2, "duration_h": 1, "release": "2022-06-14T03:00:00+00:00"},
        {"job_id": "train", "gpus": 2, "duration_h": 1, "depends_on": "prep"},
    ]
    scenario = load_scenario(write_scenario(tmp_path, config, jobs))
    assert best_window_begins(scenario) == {"prep": 3, "train": 2}
    assert _placed(scenario) == {"prep": (3, 4, ("n1",)), "train": (4, 5, ("n1",))}


def test_a_job_without_a_window_begins_at_release_and_may_end_late(tmp_path):
    # 3 h of work before a 2 h deadline: no window, so it begins at release (0) and runs 0..3
    # like fifo would; it misses its deadline, which the baseline counts.
    jobs = [{"job_id": "late", "gpus": 1, "duration_h": 3,
             "deadline": "2022-06-14T02:00:00+00:00"}]
    scenario = load_scenario(write_scenario(tmp_path, None, jobs))
    assert _placed(scenario) == {"late": (0, 3, ("n1",))}
    assert missed_deadlines(scenario, solve_best_window(scenario).schedule) == 1


def test_pinned_jobs_are_ignored_when_choosing_but_occupy_the_queue(tmp_path):
    # pinned holds n1 in slot 2; a alone still picks 2 and the queue puts it on n2.
    jobs = [
        {"job_id": "held", "gpus": 2, "duration_h": 1, "pinned_start":
         "2022-06-14T02:00:00+00:00", "pinned_nodes": "n1"},
        {"job_id": "a", "gpus": 2, "duration_h": 1},
    ]
    scenario = load_scenario(write_scenario(tmp_path, None, jobs))
    assert best_window_begins(scenario) == {"a": 2}
    assert _placed(scenario) == {"held": (2, 3, ("n1",)), "a": (2, 3, ("n2",))}


def test_summary_carries_best_window_beside_fifo(tmp_path):
    # The first scenario above: plan (greedy) 0.105 kg, fifo 0.21 kg, best_window 0.245 kg.
    jobs = [{"job_id": "a", "gpus": 2, "duration_h": 1}, {"job_id": "b", "gpus": 2,
                                                          "duration_h": 1}]
    scenario = load_scenario(write_scenario(tmp_path, _one_node(base_config()), jobs))
    summary = json.loads(json.dumps(summary_dict(plan(scenario), "test")))
    best = summary["baselines"]["best_window"]
    assert set(TOTAL_KEYS) <= set(best) and set(summary["baselines"]["fifo"]) == set(best)
    assert best["carbon_kg"] == pytest.approx(0.245)
    assert (best["placed"], best["missed_deadlines"]) == (2, 0)
    assert summary["saving_vs_best_window"]["carbon_kg"] == pytest.approx(1 - 0.105 / 0.245)
    assert summary["saving_vs_fifo"]["carbon_kg"] == pytest.approx(1 - 0.105 / 0.21)


def test_cli_table_shows_the_best_window_column(tmp_path, capsys):
    jobs = [{"job_id": "a", "gpus": 2, "duration_h": 1}, {"job_id": "b", "gpus": 2,
                                                          "duration_h": 1}]
    path = write_scenario(tmp_path / "s", _one_node(base_config()), jobs)
    assert main(["plan", str(path), "--out", str(tmp_path / "out"), "-q"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].split() == ["plan", "fifo", "change", "best_window", "change"]
    carbon = next(line.split() for line in table if line.startswith("carbon_kg"))
    # 0.105 kg against 0.21 and 0.245 kg (two decimals), -50 % and -57.1 %.
    assert [carbon[0], carbon[3], carbon[5]] == ["carbon_kg", "-50.0%", "-57.1%"]
    assert [float(carbon[i]) for i in (1, 2, 4)] == pytest.approx(
        [0.105, 0.21, 0.245], abs=0.006)
