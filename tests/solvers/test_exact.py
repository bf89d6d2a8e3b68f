"""MILP and CP-SAT: hand-derived optima, agreement with each other, and the order of solvers.

Every case is solved for real (HiGHS through Pyomo, and CP-SAT), and every plan goes through the
validator.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings

from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.accounting import account, objective_value
from greenslot.model.validator import validate
from greenslot.solvers.cpsat import solve_linear_model_cpsat
from greenslot.solvers.driver import REASON_PENDING
from greenslot.solvers.exact import prepared
from greenslot.solvers.fifo import solve_fifo
from greenslot.solvers.formulation import build
from greenslot.solvers.milp import solve_linear_model_highspy, solve_linear_model_pyomo
from greenslot.solvers.registry import get_solver
from greenslot.solvers.types import SolveOptions, SolveStatus
from tests.helpers.scenarios import base_config, hourly_forecast, write_scenario
from tests.helpers.strategies import scenarios, write_spec

EXACT = ("milp", "cpsat")
TIGHT = SolveOptions(gap=1e-9, time_limit_s=60)


def solve(scenario, name, options=TIGHT):
    result = get_solver(name)(scenario, options)
    assert validate(scenario, result.schedule) == []
    totals = account(scenario, result.schedule).totals
    objective = objective_value(scenario, totals) + result.unplaced_penalty
    if result.bound is not None:
        assert result.bound <= objective + 1e-9
    return result, totals, objective


@pytest.mark.parametrize("name", EXACT)
def test_slower_power_mode_wins_when_the_fast_one_wastes_energy(tmp_path, name):
    # Always-on node, flat carbon 100 g/kWh. Fast mode: 800 W for 1 h; slow: 200 W for 2 h.
    # Extra energy over idle (10 W GPU idle): fast 790 Wh, slow 2 x 190 = 380 Wh.
    config = base_config()
    config["sites"][0]["power_down_idle"] = False
    curves = {"curve-g.csv": [
        {"workload": "default", "power_limit_w": 300, "power_w": 800, "relative_throughput": 1},
        {"workload": "default", "power_limit_w": 200, "power_w": 200,
         "relative_throughput": 0.5}]}
    forecasts = {"forecast-s1.csv": hourly_forecast([100] * 5)}
    scenario = load_scenario(write_scenario(tmp_path, config, None, forecasts, curves))
    result, totals, _ = solve(scenario, name)
    (a,) = result.schedule.assignments
    assert a.power_limit_w == 200.0 and result.status == SolveStatus.OPTIMAL
    # Two nodes x 120 W idle for 4 h = 0.96 kWh, plus the job's 0.38 kWh above idle.
    assert totals["carbon_kg"] == pytest.approx((0.96 + 0.38) * 100 / 1000, rel=1e-9)


@pytest.mark.parametrize("name", EXACT)
def test_renewables_move_the_job_to_the_covered_slot(tmp_path, name):
    # Carbon is lowest in slot 0, but 0.5 kW of solar in slot 3 covers a 410 W job entirely.
    forecasts = {"forecast-s1.csv": hourly_forecast([50, 100, 100, 300, 300],
                                                    renewable=[0, 0, 0, 0.5, 0])}
    scenario = load_scenario(write_scenario(tmp_path, None, None, forecasts))
    result, totals, _ = solve(scenario, name)
    (a,) = result.schedule.assignments
    assert a.start_slot == 3 and totals["carbon_kg"] == pytest.approx(0.0, abs=1e-12)
    assert result.status == SolveStatus.OPTIMAL


@pytest.mark.parametrize("name", EXACT)
def test_power_cap_forces_the_second_job_to_the_next_cleanest_slot(tmp_path, name):
    # Both 1-GPU jobs want slot 2 (50 g). Together on one node they draw 100 + 600 + 0 = 700 W,
    # on two nodes 2 x 410 W = 820 W; a 0.5 kW cap admits one 410 W node only. The next
    # cleanest slot is 0 (100 g): carbon = 0.41 x (50 + 100) g.
    config = base_config()
    config["sites"][0]["power_cap_kw"] = 0.5
    jobs = [{"job_id": "a", "gpus": 1, "duration_h": 1},
            {"job_id": "b", "gpus": 1, "duration_h": 1}]
    scenario = load_scenario(write_scenario(tmp_path, config, jobs))
    result, totals, _ = solve(scenario, name)
    assert sorted(a.start_slot for a in result.schedule.assignments) == [0, 2]
    assert totals["carbon_kg"] == pytest.approx(0.41 * 150 / 1000, rel=1e-9)


@pytest.mark.parametrize("name", EXACT)
def test_multi_node_job_takes_both_nodes_in_the_cleanest_slot(tmp_path, name):
    jobs = [{"job_id": "big", "gpus": 4, "duration_h": 1}]
    scenario = load_scenario(write_scenario(tmp_path, None, jobs))
    result, totals, _ = solve(scenario, name)
    (a,) = result.schedule.assignments
    assert a.nodes == ("n1", "n2") and a.start_slot == 2
    assert totals["carbon_kg"] == pytest.approx(2 * 0.7 * 50 / 1000, rel=1e-9)


@pytest.mark.parametrize("name", EXACT)
def test_exact_beats_greedy_where_greedy_is_short_sighted(tmp_path, name, monkeypatch):
    # Carbon 100, 100, 200, 300. Two 4-GPU jobs (both nodes, 1.4 kWh an hour) and one 2-GPU job
    # for 2 h (0.7 kWh an hour). Greedy puts the long job in slots 1-2 and the second wide job
    # in slot 3: 140 + 70 + 140 + 420 = 770 g. The optimum runs both wide jobs in the clean
    # slots 0 and 1 and the long one in 2-3: 140 + 140 + 140 + 210 = 630 g. (Greedy's polish,
    # moving pairs of jobs, finds the optimum too: off here, so the exact solver must.)
    from greenslot.solvers import greedy

    monkeypatch.setattr(greedy._Pass, "polish", lambda self, stop_at: 0)
    jobs = [{"job_id": "j0", "gpus": 4, "duration_h": 1},
            {"job_id": "j1", "gpus": 2, "duration_h": 2},
            {"job_id": "j2", "gpus": 4, "duration_h": 1}]
    forecasts = {"forecast-s1.csv": hourly_forecast([100, 100, 200, 300, 300])}
    scenario = load_scenario(write_scenario(tmp_path, None, jobs, forecasts))
    _, greedy_totals, _ = solve(scenario, "greedy")
    result, totals, _ = solve(scenario, name)
    assert greedy_totals["carbon_kg"] == pytest.approx(0.770, rel=1e-9)
    assert totals["carbon_kg"] == pytest.approx(0.630, rel=1e-9)
    assert result.details["warm_start"] and result.status == SolveStatus.OPTIMAL


def test_budget_is_kept_by_every_solver(tmp_path):
    # Without a budget the job runs at 300 W for 1 h in slot 2 (0.41 kWh). An energy budget of
    # 0.40 kWh forbids that; the half-speed mode uses 2 x 0.31 = 0.62 kWh, so nothing fits.
    config = base_config()
    config["sites"][0]["energy_budget_kwh"] = 0.40
    scenario = load_scenario(write_scenario(tmp_path, config))
    for name in ("greedy", *EXACT):
        result, _, _ = solve(scenario, name)
        assert [u.job_id for u in result.schedule.unplaced] == ["a"]


def test_pyomo_and_highspy_routes_agree(tmp_path):
    from greenslot.solvers.formulation import build
    from greenslot.solvers.pinned import place_pinned
    from greenslot.solvers.prepare import prepare
    from greenslot.solvers.state import ClusterState

    jobs = [{"job_id": f"j{i}", "gpus": g, "duration_h": d}
            for i, (g, d) in enumerate([(1, 1), (2, 2), (4, 1), (1, 0.5), (2, 1)])]
    scenario = load_scenario(write_scenario(tmp_path, None, jobs))
    state = ClusterState(scenario)
    model, _ = build(prepare(scenario, place_pinned(state), state))
    via_pyomo = solve_linear_model_pyomo(model, TIGHT, None)
    via_highspy = solve_linear_model_highspy(model, TIGHT, None)
    assert via_pyomo.optimal and via_highspy.optimal
    assert via_pyomo.objective == pytest.approx(via_highspy.objective, rel=1e-9)


def lost(scenario, result) -> float:
    return sum(scenario.job(u.job_id).priority for u in result.schedule.unplaced)


def plain_objective(scenario, result) -> float:
    return objective_value(scenario, account(scenario, result.schedule).totals)


# Found by Hypothesis: CP-SAT's rounded pue x draw coefficient pushed a full site's grid
# energy past the grid variable's upper bound, so CP-SAT left the only job out.
FULL_SITE = {
    "slot_h": 1.0, "hours": 2, "n_slots": 2, "transfer": 0.0,
    "sites": [{"name": "s1", "pue": 1.046875, "power_down_idle": False, "carbon": [0.0, 1.0],
               "price": [0.0, 0.0], "renewable": None, "power_cap_kw": 1.3072578125},
              {"name": "s2", "pue": 1.0, "power_down_idle": False, "carbon": [0.0, 0.0],
               "price": [0.0, 0.0], "renewable": None, "power_cap_kw": 1.0}],
    "gpu_types": [{"name": "T1", "gpu_idle_w": 0.0, "workloads": {"default": [
        {"power_limit_w": 100, "power_w": 50.0, "relative_throughput": 1.0}]}}],
    "groups": [{"prefix": "g1n", "names": ["g1n1"], "site": "s1", "gpu_type": "T1", "gpus": 1,
                "idle_w": 293.5, "partition": None, "maintenance": None}],
    "jobs": [{"job_id": "j1", "gpus": 1, "duration_h": 0.25, "workload": "default",
              "power_limit_w": 100, "data_gb": 0.0, "data_site": "s1"}],
}


# Found by Hypothesis: a slot at 0.004 g/kWh, whose cost rounds to zero in CP-SAT's integer
# objective, so CP-SAT left its grid variable above the draw; the model objective it reported
# was 60 times the optimum although the plan was the same.
NEAR_ZERO_CARBON = {'slot_h': 0.5,
                    'hours': 2,
                    'n_slots': 4,
                    'transfer': 0.0,
                    'sites': [{'name': 's1',
                               'pue': 1.21875,
                               'power_down_idle': True,
                               'carbon': [191.0, 0.00390625],
                               'price': [0.0, 0.0],
                               'renewable': None,
                               'power_cap_kw': 1.0},
                              {'name': 's2',
                               'pue': 1.0,
                               'power_down_idle': False,
                               'carbon': [0.0, 0.0],
                               'price': [0.0, 0.0],
                               'renewable': [0.0, 0.0],
                               'power_cap_kw': None}],
                    'gpu_types': [{'name': 'T1',
                                   'gpu_idle_w': 0.0,
                                   'workloads': {'default': [{'power_limit_w': 100,
                                                              'power_w': 50.0,
                                                              'relative_throughput': 1.0}],
                                                 'w2': [{'power_limit_w': 100,
                                                         'power_w': 226.0,
                                                         'relative_throughput': 1.0}]}}],
                    'groups': [{'prefix': 'g1n',
                                'names': ['g1n1', 'g1n2', 'g1n3'],
                                'site': 's1',
                                'gpu_type': 'T1',
                                'gpus': 1,
                                'idle_w': 218.0,
                                'partition': None,
                                'maintenance': None},
                               {'prefix': 'g2n',
                                'names': ['g2n1', 'g2n2', 'g2n3'],
                                'site': 's1',
                                'gpu_type': 'T1',
                                'gpus': 8,
                                'idle_w': 239.0,
                                'partition': None,
                                'maintenance': None},
                               {'prefix': 'g3n',
                                'names': ['g3n1', 'g3n2'],
                                'site': 's1',
                                'gpu_type': 'T1',
                                'gpus': 1,
                                'idle_w': 233.0,
                                'partition': None,
                                'maintenance': None}],
                    'jobs': [{'job_id': 'j1',
                              'gpus': 1,
                              'duration_h': 0.25,
                              'workload': 'default',
                              'power_limit_w': 100,
                              'data_gb': 0.0,
                              'data_site': 's1'}]}


@pytest.mark.slow
@settings(max_examples=int(os.environ.get("GREENSLOT_EXACT_EXAMPLES", "25")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@example(spec=FULL_SITE)
@example(spec=NEAR_ZERO_CARBON)
@given(spec=scenarios())
def test_milp_and_cpsat_agree_and_order_exact_greedy_fifo(spec):
    with tempfile.TemporaryDirectory() as folder:
        scenario = load_scenario(write_spec(Path(folder) / "scenario", spec))
        milp, _, _ = solve(scenario, "milp")
        cpsat, _, _ = solve(scenario, "cpsat")
        greedy, _, _ = solve(scenario, "greedy")
        # The two backends solve the same model: their model optima agree, up to CP-SAT's
        # integer units (0.1 mW of draw, 1 mWh of grid energy).
        model_optima = [r.details["backend_objective"] for r in (milp, cpsat)]
        assert model_optima[0] == pytest.approx(model_optima[1], rel=1e-4, abs=1e-5)
        # Exact plans place at least what greedy places (by priority), and cost no more.
        for exact in (milp, cpsat):
            assert lost(scenario, exact) <= lost(scenario, greedy) + 1e-9
            if lost(scenario, exact) == lost(scenario, greedy):
                assert plain_objective(scenario, exact) <= (
                    plain_objective(scenario, greedy) * (1 + 1e-9) + 1e-12)
        greedy_objective = plain_objective(scenario, greedy)
        fifo = solve_fifo(scenario).schedule
        if not fifo.unplaced and not validate(scenario, fifo):
            fifo_objective = objective_value(scenario, account(scenario, fifo).totals)
            assert greedy_objective <= fifo_objective * (1 + 1e-9) + 1e-12


@pytest.mark.parametrize("name", EXACT)
def test_pinned_job_maintenance_and_dependency_hold_in_exact_plans(tmp_path, name):
    # n1 is held by a running job until slot 1; n2 is under maintenance in slot 2 (the
    # cleanest). 'train' needs both nodes for an hour after 'prep' ends.
    config = base_config()
    config["nodes"] = [
        {"names": "n1", "site": "s1", "gpu_type": "G", "gpus": 2, "idle_w": 100},
        {"names": "n2", "site": "s1", "gpu_type": "G", "gpus": 2, "idle_w": 100,
         "unavailable": [{"from": "2022-06-14T02:00:00+00:00",
                          "to": "2022-06-14T03:00:00+00:00"}]},
    ]
    jobs = [
        {"job_id": "running", "gpus": 2, "duration_h": 2,
         "pinned_start": "2022-06-13T23:00:00+00:00", "pinned_nodes": "n1"},
        {"job_id": "prep", "gpus": 1, "duration_h": 1},
        {"job_id": "train", "gpus": 4, "duration_h": 1, "depends_on": "prep"},
    ]
    scenario = load_scenario(write_scenario(tmp_path, config, jobs))
    result, _, _ = solve(scenario, name)
    placed = result.schedule.by_job()
    assert (placed["running"].start_slot, placed["running"].end_slot) == (-1, 1)
    assert placed["prep"].end_slot <= placed["train"].start_slot
    # train cannot use slot 2 (n2 down) nor slot 0 (n1 held): slot 1 or 3; with prep first,
    # the optimum runs prep on n2 in slot 0 (100 g) and train in slot 1 (200 g).
    assert (placed["prep"].start_slot, placed["train"].start_slot) == (0, 1)
    assert result.status == SolveStatus.OPTIMAL


@pytest.mark.parametrize("name", ["milp", "cpsat"])
def test_negative_prices_are_proven_optimal(name, tmp_path):
    # under the cost objective a -30/MWh hour: grid energy there is exactly what the plan
    # draws (not its upper bound), so the bound meets the plan and optimality is proven
    config = base_config()
    config["objective"] = "cost"
    forecasts = {"forecast-s1.csv": hourly_forecast([100, 200, 50, 300],
                                                    price=[40.0, -30.0, 60.0, 80.0])}
    jobs = [{"job_id": f"j{i}", "gpus": 1, "duration_h": 1} for i in range(3)]
    scenario = load_scenario(write_scenario(tmp_path, config, jobs, forecasts))
    result, _, _ = solve(scenario, name)
    assert validate(scenario, result.schedule) == []
    assert result.status == SolveStatus.OPTIMAL
    true_cost = plain_objective(scenario, result)
    assert result.bound == pytest.approx(true_cost, rel=1e-6, abs=1e-9)
    assert true_cost < 0


@pytest.mark.parametrize("name", ["milp", "cpsat", "large"])
@pytest.mark.slow
def test_a_negative_price_hour_does_not_make_leaving_a_job_out_free(name, tmp_path):
    # the job must run in slot 0 (price 10); slot 1 pays -20: the penalty must still beat it
    config = base_config()
    config.update(horizon="2h", objective="cost")
    config["gpu_types"][0]["gpu_idle_w"] = 0
    config["nodes"] = [{"names": "n1", "site": "s1", "gpu_type": "G", "gpus": 1, "idle_w": 0}]
    curve = [{"workload": "default", "power_limit_w": 1000, "power_w": 1000,
              "relative_throughput": 1.0}]
    jobs = [{"job_id": "a", "gpus": 1, "duration_h": 1,
             "deadline": "2022-06-14T01:00:00+00:00"}]
    scenario = load_scenario(write_scenario(
        tmp_path, config, jobs, {"forecast-s1.csv": hourly_forecast([100, 100], [10, -20])},
        {"curve-g.csv": curve}))
    result, _, _ = solve(scenario, name)
    assert [a.job_id for a in result.schedule.assignments] == ["a"]
    assert result.bound is None or result.bound <= plain_objective(scenario, result) + 1e-12


def test_cpsat_keeps_plans_that_buy_at_a_negative_price(tmp_path):
    # found in review: odd draws (987.6543 W, pue 1.1, 0.314 kW renewables) left no integer
    # grid energy between the two rows that hold it exact, and CP-SAT proved the wrong plan
    config = base_config()
    config.update(horizon="2h", objective="cost")
    config["sites"][0]["pue"] = 1.1
    config["gpu_types"][0]["gpu_idle_w"] = 0
    config["nodes"] = [{"names": "n1", "site": "s1", "gpu_type": "G", "gpus": 1, "idle_w": 0}]
    curve = [{"workload": "default", "power_limit_w": 1000, "power_w": 987.6543,
              "relative_throughput": 1.0}]
    forecasts = {"forecast-s1.csv": hourly_forecast([100, 100], [10, -10], [0, 0.3141592])}
    scenario = load_scenario(write_scenario(tmp_path, config, [{"job_id": "a", "gpus": 1,
                                                                "duration_h": 1}],
                                            forecasts, {"curve-g.csv": curve}))
    model, _ = build(prepared(scenario))
    highs = solve_linear_model_highspy(model, TIGHT, None)
    cpsat = solve_linear_model_cpsat(model, TIGHT, None)
    assert highs.optimal and cpsat.optimal
    assert cpsat.objective == pytest.approx(highs.objective, rel=1e-5)
    assert cpsat.bound <= highs.objective + 1e-12


def test_a_plan_meeting_its_budget_exactly_keeps_the_bound_valid(tmp_path):
    # found in review: 1 kWh at 500 g is exactly the 0.5 kg budget (cost 0.01); the model's
    # tightened budget cut that plan off and its optimum, 0.04, was reported as a bound
    config = base_config()
    config.update(horizon="2h", objective="cost")
    config["sites"][0]["carbon_budget_kg"] = 0.5
    config["gpu_types"][0]["gpu_idle_w"] = 0
    config["nodes"] = [{"names": "n1", "site": "s1", "gpu_type": "G", "gpus": 1, "idle_w": 0}]
    curve = [{"workload": "default", "power_limit_w": 1000, "power_w": 1000,
              "relative_throughput": 1.0}]
    scenario = load_scenario(write_scenario(
        tmp_path, config, [{"job_id": "a", "gpus": 1, "duration_h": 1}],
        {"forecast-s1.csv": hourly_forecast([500, 250], [10, 40])}, {"curve-g.csv": curve}))
    for name in ("milp", "cpsat", "large"):
        result, _, _ = solve(scenario, name)
        assert result.bound is None or result.bound <= 0.01 + 1e-12, name


@pytest.mark.parametrize("name", ["milp", pytest.param("large", marks=pytest.mark.slow)])
def test_no_bound_where_pooled_wake_overcharges(name, tmp_path):
    # found in review: nodes of 100 W and 500 W idle in one pool, price -100/MWh. The pool
    # charges waking at the cheaper node, which over-charges the dearer one when more draw
    # pays; no bound is claimed then, and the plan is still valid
    config = base_config()
    config.update(horizon="1h", objective="cost")
    config["gpu_types"][0]["gpu_idle_w"] = 0
    config["nodes"] = [{"names": "n1", "site": "s1", "gpu_type": "G", "gpus": 1, "idle_w": 100},
                       {"names": "n2", "site": "s1", "gpu_type": "G", "gpus": 1, "idle_w": 500}]
    curve = [{"workload": "default", "power_limit_w": 100, "power_w": 100,
              "relative_throughput": 1.0}]
    scenario = load_scenario(write_scenario(
        tmp_path, config, [{"job_id": "a", "gpus": 1, "duration_h": 1}],
        {"forecast-s1.csv": hourly_forecast([100, 100], [-100, -100])}, {"curve-g.csv": curve}))
    result, _, _ = solve(scenario, name)
    assert validate(scenario, result.schedule) == []
    assert result.bound is None


@pytest.mark.parametrize("name", ["milp", "cpsat", "large"])
@pytest.mark.slow
def test_the_returned_plan_explains_each_job_left_out(name, tmp_path):
    # j2 needs 8 GPUs on 2-GPU nodes: no way to run. Reasons are derived for the returned
    # plan only, never for the candidates thrown away, and never left as a placeholder
    jobs = [{"job_id": "j1", "gpus": 1, "duration_h": 1},
            {"job_id": "j2", "gpus": 8, "duration_h": 1}]
    scenario = load_scenario(write_scenario(tmp_path, None, jobs))
    result, _, _ = solve(scenario, name)
    (left_out,) = result.schedule.unplaced
    assert left_out.job_id == "j2"
    assert left_out.reason != REASON_PENDING
    assert left_out.reason.startswith("no node matches (8 GPU(s))")
