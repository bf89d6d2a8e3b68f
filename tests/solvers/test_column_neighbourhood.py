"""The Lagrangian's columns written out as a small model: its LP, rounding and neighbourhood,
on real HiGHS, on instances from ``benchmarks/instance_classes.py`` whose optima the full
MILP proved (``benchmarks/class_optima.csv``). The ascent runs a fixed number of rounds,
so nothing here depends on the machine's speed."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from benchmarks.class_table import read_optima
from benchmarks.instance_classes import write_class_instance
from greenslot.cli import main
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.accounting import account, objective_value
from greenslot.model.validator import validate
from greenslot.solvers import column_neighbourhood, exact
from greenslot.solvers.auto import solve_auto
from greenslot.solvers.decode import encode
from greenslot.solvers.formulation import build
from greenslot.solvers.greedy import solve_greedy
from greenslot.solvers.lagrange import LagrangianBound
from greenslot.solvers.large import prepared_families
from greenslot.solvers.types import SolveOptions


def _ascended(name, tmp_path, rounds=300):
    scenario = load_scenario(write_class_instance(name, tmp_path))
    prep, families = prepared_families(scenario)
    greedy = solve_greedy(scenario).schedule
    greedy_value = objective_value(scenario, account(scenario, greedy).totals)
    lagrangian = LagrangianBound(prep, families)
    lagrangian.ascend(greedy_value, math.inf, max_rounds=rounds)
    return scenario, prep, families, lagrangian, greedy, greedy_value


def test_the_chosen_runs_give_a_valid_plan_near_the_proven_optimum(tmp_path):
    # tou-L: 200 jobs on 20 machines of five speeds, 288 slots. Greedy is 3.2 % above the
    # optimum the MILP proved in 440 s (73.3944); the chosen runs' neighbourhood is
    # measured 0.23 % above it (73.5638), solved to its own optimum.
    scenario, prep, families, lagrangian, greedy, greedy_value = _ascended("tou-L", tmp_path)
    outcome = column_neighbourhood.search(prep, families, lagrangian, [greedy],
                                          time.perf_counter() + 600.0)
    assert outcome is not None and not outcome.stopped
    best = outcome.best
    assert best is not None and best.source == "lagrangian-neighbourhood"
    assert not validate(scenario, best.schedule)
    assert not best.schedule.unplaced
    assert best.total == pytest.approx(
        objective_value(scenario, account(scenario, best.schedule).totals))
    assert best.total < greedy_value
    assert best.total <= read_optima()["tou-L"] * 1.005
    # far fewer columns than the full model's, which lists every feasible start
    assert outcome.columns < families.start_ok.sum() / 10


def test_a_plan_s_runs_join_the_chosen_ones_so_it_stays_encodable(tmp_path):
    _, prep, families, lagrangian, greedy, _ = _ascended("tou-M", tmp_path, rounds=50)
    runs = column_neighbourhood.chosen_runs(lagrangian)
    assert all(len(own) <= column_neighbourhood.KEEP_RUNS for own in runs)
    column_neighbourhood.add_plan_runs(prep, families, runs, greedy)
    small = column_neighbourhood.restricted(prep, families, runs)
    model, index = build(small)
    assert encode(model, small, index, greedy) is not None
    # which jobs can run at all stays the full problem's: penalties are counted as there
    assert np.array_equal(small.can_run(), prep.can_run())
    assert sum(len(own) for own in runs) == len(small.columns)


def test_lp_weights_carry_over_to_the_same_runs_of_a_wider_model(tmp_path):
    _, prep, families, lagrangian, greedy, _ = _ascended("tou-M", tmp_path, rounds=50)
    runs = column_neighbourhood.chosen_runs(lagrangian, keep=2)
    small = column_neighbourhood.restricted(prep, families, runs)
    model, index = build(small)
    values = np.zeros(model.n_vars)
    values[index.x] = np.linspace(0.1, 0.9, len(small.columns))
    column_neighbourhood.add_plan_runs(prep, families, runs, greedy)
    wider = column_neighbourhood.restricted(prep, families, runs)
    wider_model, wider_index = build(wider)
    carried = column_neighbourhood.carried_values(small, index, values, wider, wider_index,
                                                  wider_model.n_vars)
    old = {(c.job, c.pool, c.power_limit_w, c.start): values[index.x[k]]
           for k, c in enumerate(small.columns)}
    assert len(wider.columns) > len(small.columns)
    for k, c in enumerate(wider.columns):
        assert carried[wider_index.x[k]] == old.get((c.job, c.pool, c.power_limit_w,
                                                     c.start), 0.0)


def test_auto_uses_the_chosen_runs_when_the_full_model_is_not_built(tmp_path, monkeypatch):
    # as if the build were slow (XL at 60 s): the exact pipeline skips the model and plans
    # from the Lagrangian; the step then writes out the chosen runs
    monkeypatch.setattr(exact, "BUILD_SECONDS_PER_NONZERO", 1.0)
    scenario = load_scenario(write_class_instance("tou-M", tmp_path))
    result = solve_auto(scenario, SolveOptions(time_limit_s=20.0, threads=1))
    steps = result.details["steps"]
    assert not steps["build model"]["ran"]
    assert steps[column_neighbourhood.STEP]["ran"]
    assert "runs" in steps[column_neighbourhood.STEP]["note"]
    assert not validate(scenario, result.schedule)
    assert not result.schedule.unplaced


def test_plan_with_the_large_solver_reports_the_step(tmp_path, capsys):
    folder = write_class_instance("tou-M", tmp_path / "scenario")
    assert main(["plan", str(folder), "--out", str(tmp_path / "plan"), "--solver", "large",
                 "--time-limit", "15", "--threads", "1"]) == 0
    assert column_neighbourhood.STEP in capsys.readouterr().out
    assert main(["validate", str(folder), str(tmp_path / "plan")]) == 0
