"""The wake cuts: valid for every plan, and they close the LP's gap on a lone job."""

from __future__ import annotations

import pytest

from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.solvers.cuts import WakeCuts
from greenslot.solvers.exact import prepared
from greenslot.solvers.formulation import build
from greenslot.solvers.milp import solve_linear_model_highspy
from greenslot.solvers.relaxation import solve_relaxation
from greenslot.solvers.types import SolveOptions
from tests.helpers.scenarios import write_scenario

TIGHT = SolveOptions(gap=1e-9, time_limit_s=60)


def _model(tmp_path, jobs):
    scenario = load_scenario(write_scenario(tmp_path, None, jobs))
    prep = prepared(scenario)
    model, index = build(prep)
    return prep, model, index


def test_a_lone_one_gpu_job_pays_a_whole_node_in_the_cut_lp(tmp_path):
    # base scenario: 2-GPU nodes that power down; one 1-GPU job. Without the cut the LP wakes
    # half a node (GPUs / 2); any real plan wakes a whole one.
    prep, model, index = _model(tmp_path, [{"job_id": "j1", "gpus": 1, "duration_h": 1}])
    plain = solve_relaxation(model, None)
    cut = solve_relaxation(model, None, separate=WakeCuts(prep, index).separate)
    optimum = solve_linear_model_highspy(model, TIGHT, None)
    assert optimum.optimal
    assert plain.bound < optimum.objective - 1e-6
    assert cut.cuts >= 1
    assert cut.first_bound == pytest.approx(plain.bound, rel=1e-9)
    assert cut.bound == pytest.approx(optimum.objective, rel=1e-9)


def test_cuts_never_cut_off_the_integer_optimum(tmp_path):
    # three jobs sharing two nodes over four slots: the bound with cuts stays below the optimum
    jobs = [{"job_id": f"j{i}", "gpus": g, "duration_h": d}
            for i, (g, d) in enumerate([(1, 2), (1, 1), (2, 1)])]
    prep, model, index = _model(tmp_path, jobs)
    cut = solve_relaxation(model, None, separate=WakeCuts(prep, index).separate)
    optimum = solve_linear_model_highspy(model, TIGHT, None)
    assert optimum.optimal
    assert cut.bound <= optimum.objective + 1e-9
