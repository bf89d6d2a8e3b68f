"""Sub-MILP rounds on random scenarios (multi-node jobs, dependencies, power caps, budgets,
pinned jobs, power modes, as the strategies draw them): the plan stays valid and never
costs more."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.errors import InfeasibleError
from greenslot.model.schedule import Schedule
from greenslot.model.validator import validate
from greenslot.solvers.driver import state_of
from greenslot.solvers.exact import prepared
from greenslot.solvers.greedy import solve_greedy
from greenslot.solvers.sub_milp import sub_milp_rounds
from tests.helpers.strategies import scenarios, write_spec


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=scenarios())
def test_rounds_keep_the_plan_valid_and_never_dearer(spec):
    with tempfile.TemporaryDirectory() as folder:
        scenario = load_scenario(write_spec(Path(folder) / "scenario", spec))
    try:
        start = solve_greedy(scenario).schedule
    except InfeasibleError:
        return  # pinned jobs in conflict: nothing to plan
    prep = prepared(scenario)
    state, placed = state_of(scenario, start)
    before = state.objective()
    for seed in range(3):
        sub_milp_rounds(state, placed, prep, math.inf, seed=seed, rounds=3,
                        width=scenario.grid.n_slots)
    after = Schedule(tuple(placed.values()), start.unplaced)
    assert validate(scenario, after) == []
    assert state.objective() <= before + 1e-9 * max(1.0, abs(before))
