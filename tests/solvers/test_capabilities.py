"""Declared capabilities: every solver has one, and the registry rejects a scenario feature a
solver does not declare before the solver runs, with a remedy.

Today every solver accepts every feature, so the rejection is tested with a fabricated
declaration that leaves one out.
"""

from __future__ import annotations

import pytest

from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.errors import FallbackWarning
from greenslot.model.scenario import Scenario
from greenslot.pipeline.steps import solve_checked
from greenslot.solvers import registry
from greenslot.solvers.best_window import solve_best_window
from greenslot.solvers.capabilities import (
    ALL_FEATURES,
    Capabilities,
    Feature,
    UnsupportedFeatureError,
    features,
)
from greenslot.solvers.fifo import solve_fifo
from greenslot.solvers.types import SolveOptions, SolveResult
from tests.helpers.scenarios import base_config, hourly_forecast, write_scenario

JOBS = [{"job_id": "a", "gpus": 1, "duration_h": 1},
        {"job_id": "b", "gpus": 1, "duration_h": 1, "depends_on": "a"}]


def _must_not_run(scenario: Scenario, options: SolveOptions) -> SolveResult:
    raise AssertionError("the solver ran although its capabilities were not checked")


def test_every_registered_solver_declares_its_capabilities():
    assert set(registry.SOLVERS) == set(registry.CAPABILITIES)


def test_features_name_where_the_scenario_has_them(tmp_path):
    config = base_config()
    config["sites"][0]["power_cap_kw"] = 5.0
    config["sites"][0]["carbon_budget_kg"] = 10.0
    config["objective"] = "cost"
    forecasts = {"forecast-s1.csv": hourly_forecast([100, 200, 50, 300],
                                                    price=[40.0, -30.0, 60.0, 80.0],
                                                    renewable=[0, 0.5, 0, 0])}
    scenario = load_scenario(write_scenario(tmp_path, config, JOBS, forecasts))
    found = features(scenario)
    assert found[Feature.DEPENDENCIES] == "job b"
    assert found[Feature.POWER_CAPS] == "site s1"
    assert found[Feature.CARBON_BUDGETS] == "site s1"
    assert found[Feature.NEGATIVE_PRICES] == "site s1"
    assert found[Feature.RENEWABLES] == "site s1"
    assert Feature.ENERGY_BUDGETS not in found and Feature.PINNED_JOBS not in found


def test_an_undeclared_feature_is_rejected_before_the_solver_runs(tmp_path, monkeypatch):
    scenario = load_scenario(write_scenario(tmp_path, None, JOBS))
    monkeypatch.setitem(registry.SOLVERS, "cpsat", _must_not_run)
    monkeypatch.setitem(registry.CAPABILITIES, "cpsat",
                        Capabilities(ALL_FEATURES - {Feature.DEPENDENCIES}))
    with pytest.raises(UnsupportedFeatureError) as caught:
        registry.get_solver("cpsat")(scenario, SolveOptions())
    message = str(caught.value)
    assert caught.value.missing == (Feature.DEPENDENCIES,)
    assert "'cpsat' does not support job dependencies (job b)" in message
    # the remedy: solvers that take the scenario, or what to drop from it
    assert "use --solver greedy or" in message and "milp" in message
    assert "drop depends_on from the jobs" in message


def test_a_scenario_without_the_feature_reaches_the_solver(tmp_path, monkeypatch):
    scenario = load_scenario(write_scenario(tmp_path, None, JOBS[:1]))
    heard: list[str] = []

    def solve(scenario: Scenario, options: SolveOptions) -> SolveResult:
        heard.append(scenario.name)
        return registry.SOLVERS["greedy"](scenario, options)

    monkeypatch.setitem(registry.SOLVERS, "cpsat", solve)
    monkeypatch.setitem(registry.CAPABILITIES, "cpsat",
                        Capabilities(ALL_FEATURES - {Feature.DEPENDENCIES}))
    registry.get_solver("cpsat")(scenario, SolveOptions())
    assert heard == [scenario.name]


def test_the_plan_pipeline_falls_back_with_the_remedy(tmp_path, monkeypatch, caplog):
    scenario = load_scenario(write_scenario(tmp_path, None, JOBS))
    monkeypatch.setitem(registry.SOLVERS, "cpsat", _must_not_run)
    monkeypatch.setitem(registry.CAPABILITIES, "cpsat",
                        Capabilities(ALL_FEATURES - {Feature.DEPENDENCIES}))
    with pytest.warns(FallbackWarning, match="UnsupportedFeatureError"):
        result = solve_checked(scenario, "cpsat", SolveOptions()).result
    fallback = result.details["fallback"]
    assert fallback["used"] == "greedy"
    assert "UnsupportedFeatureError" in fallback["reason"]
    assert "job dependencies" in fallback["reason"]


def test_the_baselines_accept_budgets_they_ignore_and_are_returned_as_registered():
    # the queue ignores site budgets by design (Slurm has none); the validator judges the plan
    assert Feature.ENERGY_BUDGETS in registry.CAPABILITIES["fifo"].ignores
    assert Feature.CARBON_BUDGETS not in registry.CAPABILITIES["best_window"].enforces
    assert registry.get_solver("fifo") is solve_fifo
    assert registry.get_solver("best_window") is solve_best_window


def test_auto_promises_what_both_of_its_pipelines_do():
    both = registry.CAPABILITIES["milp"] & registry.CAPABILITIES["large"]
    assert registry.CAPABILITIES["auto"] == both
    narrower = Capabilities(ALL_FEATURES - {Feature.RESERVATIONS})
    assert Feature.RESERVATIONS not in (registry.CAPABILITIES["milp"] & narrower).accepts
