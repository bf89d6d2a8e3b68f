"""The large-scale pipeline: families list the same runs as the columns, the Lagrangian value
is a proven lower bound (never above the LP bound), and its plans pass the validator."""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from benchmarks.instance_classes import write_class_instance
from greenslot.cli import main
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.validator import validate
from greenslot.solvers.auto import model_nonzeros
from greenslot.solvers.exact import prepared
from greenslot.solvers.formulation import build
from greenslot.solvers.lagrange import LagrangianBound
from greenslot.solvers.large import prepared_families, solve_large, with_columns
from greenslot.solvers.milp import solve_linear_model_highspy
from greenslot.solvers.relaxation import solve_relaxation
from greenslot.solvers.types import SolveOptions
from tests.helpers.scenarios import base_config, hourly_forecast, write_scenario
from tests.helpers.strategies import scenarios, write_spec

# The large pipeline on generated and large scenarios: seconds per test.
pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("GREENSLOT_EXACT_EXAMPLES", "25"))


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=scenarios())
def test_lagrangian_value_never_exceeds_the_lp_bound(spec):
    with tempfile.TemporaryDirectory() as folder:
        scenario = load_scenario(write_spec(Path(folder) / "scenario", spec))
    prep = prepared(scenario)
    frame, families = prepared_families(scenario)
    # the families enumerate exactly the columns the written model would have
    assert families.nonzeros() == model_nonzeros(scenario, prep)
    model, _ = build(prep)
    lp = solve_relaxation(model, None)
    lagrangian = LagrangianBound(frame, families)
    upper = float(prep.penalty.sum()) + 1.0
    bound, _, rounds = lagrangian.ascend(upper, deadline=float("inf"), max_rounds=60)
    assert rounds >= 1
    assert bound <= lp.bound + 1e-7 * max(1.0, abs(lp.bound))
    # a step target estimated from the jobs' cheapest runs moves the steps, never the bound's
    # validity: every value the ascent reports is weak duality's
    estimated, _, _ = LagrangianBound(frame, families).ascend(
        float(frame.penalty.sum()), deadline=float("inf"), max_rounds=60,
        left_out=frame.can_run())
    assert estimated <= lp.bound + 1e-7 * max(1.0, abs(lp.bound))


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=scenarios())
def test_columns_read_off_the_families_are_the_prepared_columns(spec):
    # what lets auto prepare once: the same columns, in the same order, as preparing again
    with tempfile.TemporaryDirectory() as folder:
        scenario = load_scenario(write_spec(Path(folder) / "scenario", spec))
    again = prepared(scenario)
    once = with_columns(*prepared_families(scenario))
    assert once.columns == again.columns
    assert once.columns_of_job == again.columns_of_job
    assert list(once.can_run()) == list(again.can_run())
    assert once.earliest_start == again.earliest_start
    assert once.latest_end == again.latest_end


def test_lagrangian_reaches_the_lp_bound_when_nothing_couples(tmp_path):
    # two nodes, two small jobs, no cap: each job alone at its cheapest slot is optimal, so the
    # bound at the first multipliers (grid at full price) is already the LP bound
    jobs = [{"job_id": "a", "gpus": 1, "duration_h": 1}, {"job_id": "b", "gpus": 1,
                                                         "duration_h": 2}]
    config = base_config()
    config["sites"][0]["power_down_idle"] = False
    scenario = load_scenario(write_scenario(tmp_path, config, jobs))
    frame, families = prepared_families(scenario)
    lagrangian = LagrangianBound(frame, families)
    first = lagrangian.evaluate(lagrangian.initial()).bound
    lp = solve_relaxation(build(prepared(scenario))[0], None)
    assert first == pytest.approx(lp.bound, rel=1e-9)


def test_a_plan_with_jobs_left_out_still_steers_the_ascent_to_the_lp_bound(tmp_path):
    # tight-S: jobs cut from a packing of 98 % of every machine, so the LP bound (4.2785) is
    # the proven optimum. A plan that placed all but two jobs at that cost carries their
    # penalties (8.557 each), three times the plan: as the Polyak target it oversizes every
    # step. Told which jobs are out, the ascent aims at their cheapest runs instead.
    scenario = load_scenario(write_class_instance("tight-S", tmp_path))
    frame, families = prepared_families(scenario)
    lp = solve_relaxation(build(prepared(scenario))[0], None).bound
    left_out = np.zeros(len(frame.jobs), dtype=bool)
    left_out[:2] = True
    upper = lp + float(frame.penalty[left_out].sum())
    plain, _, _ = LagrangianBound(frame, families).ascend(
        upper, deadline=float("inf"), max_rounds=100)
    steered, _, _ = LagrangianBound(frame, families).ascend(
        upper, deadline=float("inf"), max_rounds=100, left_out=left_out)
    assert plain < 0.95 * lp                     # 4.026 after 100 rounds
    assert 0.98 * lp <= steered <= lp + 1e-9     # 4.213
    assert steered > plain


def test_large_plans_are_valid_with_an_honest_bound(tmp_path):
    # a power cap and a carbon trough that all jobs want: the cap forces some to move
    jobs = [{"job_id": f"j{i}", "gpus": 2, "duration_h": 1} for i in range(3)]
    config = base_config()
    config["sites"][0]["power_cap_kw"] = 0.9
    forecasts = {"forecast-s1.csv": hourly_forecast([300, 20, 300, 40])}
    scenario = load_scenario(write_scenario(tmp_path, config, jobs, forecasts))
    result = solve_large(scenario, SolveOptions(time_limit_s=5))
    assert validate(scenario, result.schedule) == []
    assert len(result.schedule.assignments) == 3
    exact = solve_relaxation(build(prepared(scenario))[0], None)
    assert result.bound is not None and result.bound <= exact.bound + 1e-9


def test_large_is_reachable_from_the_cli(tmp_path, capsys):
    jobs = [{"job_id": "a", "gpus": 1, "duration_h": 1}]
    path = write_scenario(tmp_path / "scenario", None, jobs)
    assert main(["plan", str(path), "--out", str(tmp_path / "plan"), "--solver", "large",
                 "--time-limit", "3", "-q"]) == 0
    assert "solver large" in capsys.readouterr().out


def test_a_job_that_cannot_run_is_the_only_unavoidable_penalty(tmp_path):
    # j2 needs 8 GPUs on 2-GPU nodes of one group of two: no way to run; j1 runs
    jobs = [{"job_id": "j1", "gpus": 1, "duration_h": 1},
            {"job_id": "j2", "gpus": 8, "duration_h": 1}]
    scenario = load_scenario(write_scenario(tmp_path, None, jobs))
    frame, _ = prepared_families(scenario)
    assert list(frame.can_run()) == list(prepared(scenario).can_run()) == [True, False]
    result = solve_large(scenario, SolveOptions(time_limit_s=3))
    assert [a.job_id for a in result.schedule.assignments] == ["j1"]
    assert result.unplaced_penalty == 0.0
    assert result.bound is not None and result.bound > 0


def test_negative_prices_keep_the_lagrangian_a_lower_bound(tmp_path):
    # objective cost with a negative-price hour: multipliers of the grid rows must stay >= 0,
    # so the value stays below the exact optimum (the grid's upper bound limits "buying")
    jobs = [{"job_id": f"j{i}", "gpus": 1, "duration_h": 1} for i in range(3)]
    config = base_config()
    config["objective"] = "cost"
    forecasts = {"forecast-s1.csv": hourly_forecast([100, 200, 50, 300],
                                                    price=[40.0, -30.0, 60.0, 80.0])}
    scenario = load_scenario(write_scenario(tmp_path, config, jobs, forecasts))
    frame, families = prepared_families(scenario)
    lagrangian = LagrangianBound(frame, families)
    assert (lagrangian.initial().sigma >= 0).all()
    bound, mult, _ = lagrangian.ascend(1e3, deadline=float("inf"), max_rounds=200)
    assert (mult.sigma >= 0).all()
    optimum = solve_linear_model_highspy(build(prepared(scenario))[0], SolveOptions(gap=1e-9), None)
    assert optimum.optimal
    assert bound <= optimum.objective + 1e-9


def test_large_reports_progress_with_a_rising_bound(tmp_path):
    jobs = [{"job_id": f"j{i}", "gpus": 1, "duration_h": 1} for i in range(4)]
    scenario = load_scenario(write_scenario(tmp_path, None, jobs))
    heard: list[tuple[float | None, float | None]] = []
    result = solve_large(scenario, SolveOptions(time_limit_s=3,
                                                progress=lambda i, b: heard.append((i, b))))
    bounds = [b for _, b in heard if b is not None]
    assert len(bounds) >= 2
    assert bounds[-1] == pytest.approx(result.bound)
    assert all(a <= b + 1e-6 * max(1.0, abs(b)) for a, b in itertools.pairwise(bounds))
