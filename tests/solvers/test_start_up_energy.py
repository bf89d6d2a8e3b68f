"""Solvers see start-up energy (``wake_energy_kwh``): greedy's placement cost, the MILP's boots.

Hand-sized scenarios worked out by hand, then the shipped example (real grid signals and
power curves) with its power-down site's nodes given a boot energy by ``--set``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from greenslot.cli import main
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model import rules
from greenslot.model.accounting import account, objective_value
from greenslot.model.schedule import Assignment, Schedule
from greenslot.model.validator import validate
from greenslot.pipeline.files import read_plan
from greenslot.solvers.pinned import place_pinned
from greenslot.solvers.placement import best_placement
from greenslot.solvers.registry import get_solver
from greenslot.solvers.state import ClusterState
from greenslot.solvers.types import SolveOptions
from tests.helpers.scenarios import base_config, hourly_forecast, write_scenario

TIGHT = SolveOptions(time_limit_s=60, gap=0.0)
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nightly"
CA_NODES = ("caw-a40-[01-08]", "caw-rtx-[01-04]")   # the site that powers idle nodes down


def _two_one_gpu_nodes(tmp_path, wake_kwh, carbon=(500, 100, 100, 500), jobs=None,
                       price=None):
    """n1, n2: one GPU each, 100 W idle, powered down when idle; a job draws 400 W."""
    config = base_config()
    config["nodes"] = [{"names": "n[1-2]", "site": "s1", "gpu_type": "G", "gpus": 1,
                        "idle_w": 100, "wake_energy_kwh": wake_kwh}]
    if price is not None:
        config["objective"] = "cost"
    jobs = jobs or [{"job_id": "a", "gpus": 1, "duration_h": 1},
                    {"job_id": "b", "gpus": 1, "duration_h": 1}]
    forecast = hourly_forecast(list(carbon), None if price is None else list(price))
    return load_scenario(write_scenario(tmp_path, config, jobs, {"forecast-s1.csv": forecast}))


def _solve(scenario, name):
    result = get_solver(name)(scenario, TIGHT)
    figures = account(scenario, result.schedule)
    assert validate(scenario, result.schedule, figures) == []
    objective = objective_value(scenario, figures.totals)
    if result.bound is not None:
        assert result.bound <= objective + 1e-9
    return result, figures, objective


@pytest.mark.parametrize("name", ["greedy", "milp", "cpsat"])
def test_a_large_boot_energy_runs_jobs_back_to_back_on_one_node(tmp_path, name):
    # Slots 1 and 2 are clean (100 g/kWh). Without boot energy both jobs run in slot 1 on
    # their own node: 2 x 0.4 kWh x 100 g = 0.08 kg, two boots. With 0.5 kWh a boot, the
    # second job waits a slot on the first's node: one boot, 0.08 + 0.05 kg, instead of
    # 0.08 + 0.10 kg for two.
    free = _two_one_gpu_nodes(tmp_path / "free", 0.0)
    result, figures, objective = _solve(free, name)
    assert objective == pytest.approx(0.08, rel=1e-9)
    assert figures.start_ups.sum() == 2
    costly = _two_one_gpu_nodes(tmp_path / "costly", 0.5)
    result, figures, objective = _solve(costly, name)
    assert sorted((a.start_slot, a.nodes) for a in result.schedule.assignments) == [
        (1, ("n1",)), (2, ("n1",))]
    assert figures.start_ups.sum() == 1
    assert objective == pytest.approx(0.13, rel=1e-9)
    if name != "greedy":
        assert result.bound == pytest.approx(0.13, rel=1e-4)


@pytest.mark.parametrize("name", ["greedy", "milp", "cpsat"])
def test_a_multi_node_run_boots_each_of_its_nodes_once(tmp_path, name):
    # c takes both 1-GPU nodes for 2 h. In slots 1-2 (100 g/kWh) it boots both in slot 1:
    # 4 x 0.4 kWh + 2 x 0.5 kWh at 100 g = 0.26 kg; in slots 0-1 it would boot nothing but
    # pay 0.8 kWh at 500 g. Found in review: a column running in both t-1 and t once gave
    # the model's boots row the same variable twice, which HiGHS refused.
    jobs = [{"job_id": "c", "gpus": 2, "duration_h": 2}]
    scenario = _two_one_gpu_nodes(tmp_path, 0.5, jobs=jobs)
    result, figures, objective = _solve(scenario, name)
    assert [(a.start_slot, a.nodes) for a in result.schedule.assignments] == [
        (1, ("n1", "n2"))]
    assert figures.start_ups.sum() == 2
    assert objective == pytest.approx(0.26, rel=1e-9)
    if name != "greedy":
        assert result.bound == pytest.approx(0.26, rel=1e-4)


def test_a_run_that_joins_a_later_one_is_credited_with_the_boot_it_saves(tmp_path):
    # b is already placed at slot 2 on n1 (booted there). a placed in slot 1 on n1 moves the
    # boot to slot 1 (same energy, same carbon): cost 0.04 kg, where n2 in slot 1 costs a
    # boot more (0.09 kg); greedy picks n1 and the books agree with the accounting.
    scenario = _two_one_gpu_nodes(tmp_path, 0.5, carbon=(500, 100, 100, 500))
    state = ClusterState(scenario)
    place_pinned(state)
    b, a = scenario.job("b"), scenario.job("a")
    state.place(b, (0,), 2, 3, 300.0, 1)
    found = best_placement(state, a, 1, 2)
    assert found is not None and found.node_ids == (0,)
    assert found.cost == pytest.approx(0.04, rel=1e-12)
    before = state.objective()
    state.place(a, found.node_ids, found.start, found.end, 300.0, 1)
    assert state.objective() - before == pytest.approx(found.cost, rel=1e-12)
    schedule = Schedule((Assignment("a", 1, 2, 300.0, ("n1",)),
                         Assignment("b", 2, 3, 300.0, ("n1",))))
    assert state.objective() == pytest.approx(
        objective_value(scenario, account(scenario, schedule).totals), rel=1e-12)
    state.remove(a, found.node_ids, found.start, found.end, 300.0, 1)
    assert state.objective() == pytest.approx(before, rel=1e-12)


def test_pooled_boots_under_count_so_the_bound_stays_below_the_plan(tmp_path):
    # a must run in slot 0 (deadline), b in slot 2 (release); one GPU each on 1-GPU nodes.
    # Every plan boots once at slot 2 if b takes a node that was off in slot 1. The pool's
    # awake count reads 1, 0, 1: the model charges the same boot, and its bound is valid.
    jobs = [{"job_id": "a", "gpus": 1, "duration_h": 1,
             "deadline": "2022-06-14T01:00:00+00:00"},
            {"job_id": "b", "gpus": 1, "duration_h": 1,
             "release": "2022-06-14T02:00:00+00:00",
             "deadline": "2022-06-14T03:00:00+00:00"}]
    scenario = _two_one_gpu_nodes(tmp_path, 0.5, carbon=(100, 100, 100, 100), jobs=jobs)
    for name in ("milp", "cpsat"):
        result, figures, objective = _solve(scenario, name)
        assert figures.start_ups.sum() == 1
        # 2 x 0.4 kWh + 0.5 kWh at 100 g/kWh
        assert objective == pytest.approx(0.13, rel=1e-9)
        assert result.bound is not None and result.bound <= objective + 1e-9


def test_pooled_counts_miss_a_node_swap_so_the_bound_stays_below_the_plan(tmp_path):
    # n1 (partition p1) and n2 (p2) form one pool. a must run on n1 in slots 0-1 and b on
    # n2 in slots 2-3: n2 boots in slot 2, but the pool's awake count reads 1, 1, 1, 1, so
    # the model sees no boot. Its bound is the plan without that boot: below the plan by
    # exactly 0.3 kWh x 100 g/kWh, a valid bound that is not tight.
    config = base_config()
    config["nodes"] = [{"names": name, "site": "s1", "gpu_type": "G", "gpus": 1,
                        "idle_w": 100, "wake_energy_kwh": 0.3, "partition": part}
                       for name, part in (("n1", "p1"), ("n2", "p2"))]
    jobs = [{"job_id": "a", "gpus": 1, "duration_h": 2, "partition": "p1",
             "deadline": "2022-06-14T02:00:00+00:00"},
            {"job_id": "b", "gpus": 1, "duration_h": 2, "partition": "p2",
             "release": "2022-06-14T02:00:00+00:00"}]
    scenario = load_scenario(write_scenario(tmp_path, config, jobs, {
        "forecast-s1.csv": hourly_forecast([100, 100, 100, 100])}))
    for name in ("milp", "cpsat"):
        result, figures, objective = _solve(scenario, name)
        assert figures.start_ups.sum() == 1
        # 4 slots x 0.4 kWh + one 0.3 kWh boot, at 100 g/kWh
        assert objective == pytest.approx(0.19, rel=1e-9)
        assert result.bound == pytest.approx(0.16, rel=1e-4)


@pytest.mark.parametrize("name", ["milp", pytest.param("large", marks=pytest.mark.slow)])
def test_no_bound_when_boots_meet_a_negative_price(tmp_path, name):
    # Under a negative price more energy pays; the Lagrangian leaves boots out, so it could
    # claim too much: no bound is reported (the plan is still valid and fully priced).
    scenario = _two_one_gpu_nodes(tmp_path, 0.5, price=(-50, 10, 10, -50))
    result, figures, _ = _solve(scenario, name)
    assert result.bound is None
    assert figures.start_up_kwh.sum() == pytest.approx(0.5 * figures.start_ups.sum())


def _example_with_boots(wake_kwh: float):
    scenario = load_scenario(EXAMPLE)
    site = {s.name: s for s in scenario.sites}
    nodes = tuple(dataclasses.replace(n, wake_energy_kwh=wake_kwh)
                  if site[n.site].power_down_idle else n for n in scenario.nodes)
    return scenario.replace(nodes=nodes)


def test_greedy_costs_are_exact_on_the_example_with_boots():
    """Every placement's cost is the objective change it makes, boots included, and the
    books end where the accounting does (real signals, curves, multi-node jobs)."""
    scenario = _example_with_boots(0.3)
    state = ClusterState(scenario)
    placed = place_pinned(state)
    grid = scenario.grid
    for job in scenario.jobs[:60]:
        if job.pinned or job.depends_on:
            continue
        found = best_placement(state, job, rules.earliest_start_slot(grid, job),
                               rules.latest_end_slot(grid, job))
        if found is None:
            continue
        before = state.objective()
        state.place(job, found.node_ids, found.start, found.end, found.mode.power_w,
                    found.gpus_each)
        assert state.objective() - before == pytest.approx(found.cost, rel=1e-9, abs=1e-9)
        placed[job.job_id] = state.assignment(job, found.node_ids, found.start, found.end,
                                              found.mode.power_limit_w)
    figures = account(scenario, Schedule(tuple(placed.values())))
    assert figures.start_ups.sum() > 0
    assert state.objective() == pytest.approx(objective_value(scenario, figures.totals),
                                              rel=1e-9)
    assert np.allclose(state.energy_kwh, figures.energy_kwh, rtol=1e-9, atol=1e-9)


def test_the_example_plans_fewer_boots_when_they_cost_energy(tmp_path):
    """``--set`` a 0.3 kWh boot on ca-west's nodes: greedy boots fewer nodes than the plan
    made without it, and that plan priced with boots is worse than the boot-aware one."""
    wake = [f"--set=nodes.{group}.wake_energy_kwh=0.3" for group in CA_NODES]
    aware = tmp_path / "aware"
    assert main(["plan", str(EXAMPLE), "--out", str(aware), "-q", "--solver", "greedy",
                 *wake]) == 0
    summary = json.loads((aware / "summary.json").read_text())
    boots = summary["start_ups"]
    assert boots["energy_kwh"] == pytest.approx(1.2 * 0.3 * boots["count"])   # PUE 1.2
    scenario = _example_with_boots(0.3)
    assert read_plan(scenario, aware).schedule.assignments   # the --set scenario's plan
    blind_schedule = get_solver("greedy")(load_scenario(EXAMPLE), SolveOptions()).schedule
    blind_figures = account(scenario, blind_schedule)
    assert boots["count"] < blind_figures.start_ups.sum()
    assert summary["objective"] < objective_value(scenario, blind_figures.totals)


@pytest.mark.parametrize("name", ["fifo", "greedy"])
def test_the_boot_counts_toward_the_power_cap(tmp_path, name):
    # Cap 0.7 kW. a (released at slot 1) draws 400 W (300 W in its half-speed mode) on a
    # node that is off before it, so it boots: + 0.5 kWh over the hour = 900 W (800 W) in
    # its first slot, over the cap at every start. It cannot run; without its boot it would
    # fit, and the plan would break the cap. At 0.9 kW it runs.
    from greenslot.solvers.fifo import solve_fifo

    config = base_config()
    config["sites"][0]["power_cap_kw"] = 0.7
    config["nodes"] = [{"names": "n1", "site": "s1", "gpu_type": "G", "gpus": 1,
                        "idle_w": 100, "wake_energy_kwh": 0.5}]
    jobs = [{"job_id": "a", "gpus": 1, "duration_h": 1,
             "release": "2022-06-14T01:00:00+00:00"}]
    scenario = load_scenario(write_scenario(tmp_path, config, jobs))
    solve = solve_fifo if name == "fifo" else get_solver("greedy")
    schedule = solve(scenario, TIGHT).schedule
    assert validate(scenario, schedule) == []
    assert [u.job_id for u in schedule.unplaced] == ["a"]
    roomy = load_scenario(write_scenario(tmp_path / "roomy", {
        **config, "sites": [{**config["sites"][0], "power_cap_kw": 0.9}]}, jobs))
    schedule = solve(roomy, TIGHT).schedule
    assert validate(roomy, schedule) == [] and not schedule.unplaced
