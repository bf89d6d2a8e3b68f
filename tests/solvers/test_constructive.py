"""fifo and greedy on hand-sized scenarios whose best plan is obvious by hand."""

from __future__ import annotations

import pytest

from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.accounting import account
from greenslot.model.errors import InfeasibleError
from greenslot.model.validator import validate
from greenslot.solvers.fifo import solve_fifo
from greenslot.solvers.greedy import latest_finish, solve_greedy
from greenslot.solvers.state import ClusterState
from greenslot.solvers.types import SolveOptions
from tests.helpers.scenarios import base_config, hourly_forecast, write_scenario


def plan_both(tmp_path, config=None, jobs=None, forecasts=None):
    scenario = load_scenario(write_scenario(tmp_path, config, jobs, forecasts))
    greedy = solve_greedy(scenario, SolveOptions()).schedule
    fifo = solve_fifo(scenario, SolveOptions()).schedule
    assert validate(scenario, greedy) == []
    return scenario, greedy, fifo


def test_greedy_moves_a_job_to_the_cleanest_slot_and_fifo_runs_it_at_once(tmp_path):
    # Carbon 100, 200, 50, 300: one 1-GPU hour is cleanest in slot 2 at full speed
    # (410 W for 1 h beats 310 W for 2 h at half speed).
    scenario, greedy, fifo = plan_both(tmp_path)
    (a,) = greedy.assignments
    assert (a.start_slot, a.end_slot, a.power_limit_w, a.nodes) == (2, 3, 300.0, ("n1",))
    assert account(scenario, greedy).totals["carbon_kg"] == pytest.approx(0.41 * 50 / 1000)
    (f,) = fifo.assignments
    assert (f.start_slot, f.power_limit_w, f.nodes) == (0, 300.0, ("n1",))
    assert account(scenario, fifo).totals["carbon_kg"] == pytest.approx(0.41 * 100 / 1000)


def test_greedy_picks_the_slow_mode_when_it_saves_carbon(tmp_path):
    # Flat carbon, always-on nodes: the half-speed mode draws 200 W x 2 h = 400 Wh of GPU
    # energy against 300 Wh, but the node's idle 100 W + 10 W idle GPU is paid either way.
    config = base_config()
    config["sites"][0]["power_down_idle"] = False
    forecasts = {"forecast-s1.csv": hourly_forecast([100] * 5)}
    scenario, greedy, _ = plan_both(tmp_path, config, None, forecasts)
    (a,) = greedy.assignments
    assert a.power_limit_w == 300.0
    # Now make the fast mode expensive: it draws 800 W.
    curves = {"curve-g.csv": [
        {"workload": "default", "power_limit_w": 300, "power_w": 800, "relative_throughput": 1},
        {"workload": "default", "power_limit_w": 200, "power_w": 200,
         "relative_throughput": 0.5},
    ]}
    scenario = load_scenario(write_scenario(tmp_path / "b", config, None, forecasts, curves))
    (a,) = solve_greedy(scenario, SolveOptions()).schedule.assignments
    assert (a.power_limit_w, a.end_slot - a.start_slot) == (200.0, 2)


def test_fifo_follows_release_then_priority_then_job_id(tmp_path):
    jobs = [
        {"job_id": "c", "gpus": 2, "duration_h": 1, "release": "2022-06-14T01:00:00+00:00"},
        {"job_id": "b", "gpus": 2, "duration_h": 1, "priority": 5},
        {"job_id": "a", "gpus": 2, "duration_h": 1},
        {"job_id": "d", "gpus": 2, "duration_h": 1},
    ]
    scenario = load_scenario(write_scenario(tmp_path, jobs=jobs))
    placed = {a.job_id: (a.start_slot, a.nodes[0]) for a in
              solve_fifo(scenario, SolveOptions()).schedule.assignments}
    # b (priority 5) then a then d at release 0 on n1, n2, then the next free slot; c later.
    assert placed == {"b": (0, "n1"), "a": (0, "n2"), "d": (1, "n1"), "c": (1, "n2")}


def test_power_cap_spreads_jobs_that_would_all_pick_the_same_clean_slot(tmp_path):
    config = base_config()
    config["sites"][0]["power_cap_kw"] = 0.5   # one busy node (410 W) fits, two (820 W) do not
    jobs = [{"job_id": "a", "gpus": 1, "duration_h": 1}, {"job_id": "b", "gpus": 1,
                                                          "duration_h": 1}]
    scenario, greedy, fifo = plan_both(tmp_path, config, jobs)
    starts = sorted(a.start_slot for a in greedy.assignments)
    # Both share n1 in slot 2 (100 + 300 + 300 = 700 W > 500 W is over the cap), so the
    # second job goes to the next cleanest slot, 0.
    assert starts == [0, 2]
    assert validate(scenario, fifo) == []


def test_multi_node_job_takes_whole_nodes_at_once(tmp_path):
    jobs = [{"job_id": "big", "gpus": 4, "duration_h": 1}]
    _scenario, greedy, fifo = plan_both(tmp_path, jobs=jobs)
    (a,) = greedy.assignments
    assert a.nodes == ("n1", "n2") and a.start_slot == 2
    assert fifo.assignments[0].nodes == ("n1", "n2")


def test_dependency_chain_leaves_room_for_the_second_stage(tmp_path):
    # The cleanest slot for 'prep' is 2, but 'train' needs 2 slots before the 4 h deadline.
    jobs = [
        {"job_id": "prep", "gpus": 2, "duration_h": 1},
        {"job_id": "train", "gpus": 2, "duration_h": 2, "depends_on": "prep",
         "power_limit_w": 300},
    ]
    _scenario, greedy, _ = plan_both(tmp_path, jobs=jobs)
    placed = greedy.by_job()
    assert placed["prep"].end_slot <= placed["train"].start_slot
    assert not greedy.unplaced


def test_unplaceable_job_gets_a_precise_reason(tmp_path):
    jobs = [
        {"job_id": "long", "gpus": 1, "duration_h": 3, "deadline": "2022-06-14T02:00:00+00:00"},
        {"job_id": "wide", "gpus": 6, "duration_h": 1},
        {"job_id": "after", "gpus": 1, "duration_h": 1, "depends_on": "long"},
    ]
    _, greedy, _ = plan_both(tmp_path, jobs=jobs)
    reasons = {u.job_id: u.reason for u in greedy.unplaced}
    assert reasons["long"].startswith("window too short: needs 3 h")
    assert reasons["wide"].startswith("no node matches (6 GPU(s)")
    assert reasons["after"] == "depends on long, which is not placed"


def test_capacity_shortage_is_told_apart_from_a_short_window(tmp_path):
    jobs = [{"job_id": f"j{i}", "gpus": 2, "duration_h": 4} for i in range(3)]
    _, greedy, _ = plan_both(tmp_path, jobs=jobs)
    (lost,) = greedy.unplaced
    assert lost.reason.startswith("no free GPUs or power under the cap on matching nodes")


def test_pinned_job_keeps_its_place_and_others_plan_around_it(tmp_path):
    jobs = [
        {"job_id": "running", "gpus": 2, "duration_h": 2, "pinned_start":
         "2022-06-13T23:00:00+00:00", "pinned_nodes": "n1"},
        {"job_id": "next", "gpus": 2, "duration_h": 1, "gpu_type": "G"},
    ]
    _scenario, greedy, _ = plan_both(tmp_path, jobs=jobs)
    placed = greedy.by_job()
    assert (placed["running"].start_slot, placed["running"].end_slot) == (-1, 1)
    assert placed["next"].start_slot == 2


def test_conflicting_pinned_jobs_are_infeasible_with_both_named(tmp_path):
    jobs = [
        {"job_id": "p1", "gpus": 2, "duration_h": 2, "pinned_start": "2022-06-14T00:00:00+00:00",
         "pinned_nodes": "n1"},
        {"job_id": "p2", "gpus": 1, "duration_h": 1, "pinned_start": "2022-06-14T01:00:00+00:00",
         "pinned_nodes": "n1"},
    ]
    scenario = load_scenario(write_scenario(tmp_path, jobs=jobs))
    with pytest.raises(InfeasibleError) as caught:
        solve_greedy(scenario, SolveOptions())
    (conflict,) = caught.value.conflicts
    assert set(conflict.job_ids) == {"p1", "p2"} and "n1" in conflict.reason


def test_a_dependant_that_can_never_run_does_not_hold_back_its_dependency(tmp_path):
    # b needs 8 GPUs (nodes have 2): it can never run, so a need not end before b's deadline
    jobs = [{"job_id": "a", "gpus": 1, "duration_h": 1},
            {"job_id": "b", "gpus": 8, "duration_h": 1, "depends_on": "a",
             "deadline": "2022-06-14T02:00:00+00:00"}]
    scenario = load_scenario(write_scenario(tmp_path, None, jobs))
    state = ClusterState(scenario)
    finish = latest_finish(scenario, {j.job_id: state.candidate_groups(j) for j in scenario.jobs})
    assert finish["a"] == scenario.grid.n_slots


def test_always_on_nodes_above_the_cap_say_so_without_naming_a_job(tmp_path):
    # two always-on nodes idle at 2 x (100 + 2 x 10) W = 0.24 kW against a 0.2 kW cap
    config = base_config()
    config["sites"][0]["power_down_idle"] = False
    config["sites"][0]["power_cap_kw"] = 0.2
    scenario = load_scenario(write_scenario(tmp_path, config, [{"job_id": "a", "gpus": 1,
                                                                "duration_h": 1}]))
    with pytest.raises(InfeasibleError) as caught:
        solve_greedy(scenario, SolveOptions())
    message = str(caught.value)
    assert "(no job)" not in message
    assert "always-on idle nodes alone draw 0.24 kW in slot 0, above its power cap of " \
           "0.20 kW" in message
