"""Sub-MILP rounds: the freed jobs re-solved exactly around the rest, kept only when cheaper.

On the two unequal machines of ``test_unequal_machines`` (case ``one_move``), the rival plan
of ``test_descent`` (0.2560) is one no single move improves; freeing its jobs and solving
them together reaches 0.2495, the optimum the MILP proves there.
"""

from __future__ import annotations

import math

import pytest

from greenslot.model.accounting import account, objective_value
from greenslot.model.schedule import Schedule
from greenslot.model.validator import validate
from greenslot.solvers.driver import _Yield, state_of, sub_milp_share
from greenslot.solvers.exact import prepared
from greenslot.solvers.local_search import move_jobs_one_by_one
from greenslot.solvers.sub_milp import solve_window, sub_milp_rounds
from tests.solvers.test_descent import RIVAL, _plan
from tests.solvers.test_unequal_machines import _scenario


def _cost(scenario, placed) -> float:
    schedule = Schedule(tuple(placed.values()), ())
    assert validate(scenario, schedule) == []
    return objective_value(scenario, account(scenario, schedule).totals)


@pytest.fixture
def rival(tmp_path):
    scenario = _scenario(tmp_path, "one_move")
    prep = prepared(scenario)
    state, placed = state_of(scenario, _plan(scenario, RIVAL))
    # the search the sub-MILP is to go beyond: no single move pays here
    assert move_jobs_one_by_one(state, placed, prep, math.inf) == 0
    return scenario, prep, state, placed


def test_freeing_every_job_reaches_the_optimum(rival):
    scenario, prep, state, placed = rival
    assert _cost(scenario, placed) == pytest.approx(0.256)
    assert solve_window(state, placed, prep, sorted(placed), math.inf)
    assert _cost(scenario, placed) == pytest.approx(0.2495)
    assert state.objective() == pytest.approx(0.2495)


def test_a_round_that_cannot_improve_changes_nothing(rival):
    _, prep, state, placed = rival
    assert solve_window(state, placed, prep, sorted(placed), math.inf)
    kept, objective = dict(placed), state.objective()
    assert not solve_window(state, placed, prep, sorted(placed), math.inf)
    assert placed == kept and state.objective() == pytest.approx(objective)


def test_rounds_around_random_slots_never_raise_the_objective(rival):
    scenario, prep, state, placed = rival
    gains: list[float] = []
    tally: dict[str, int] = {}
    kept = sub_milp_rounds(state, placed, prep, math.inf, seed=3, rounds=6, width=6,
                           on_gain=gains.append, tally=tally)
    assert _cost(scenario, placed) <= 0.256 + 1e-9
    assert gains == sorted(gains, reverse=True) and len(gains) == kept == tally.get("kept", 0)
    assert tally.get("solved", 0) <= 6
    assert _cost(scenario, placed) == pytest.approx(state.objective())


def test_the_sub_milp_share_follows_what_each_neighbourhood_gained():
    """Half a restart's time to begin with; all of it where ruin and recreate gains nothing;
    a fifth where the rounds gain far less per second than ruin and recreate."""
    assert sub_milp_share(_Yield(1.0, 10.0), _Yield()) == pytest.approx(0.6)
    assert sub_milp_share(_Yield(0.0, 10.0), _Yield(0.0, 5.0)) == 1.0
    assert sub_milp_share(_Yield(1.0, 10.0), _Yield(0.01, 10.0)) == pytest.approx(0.2)
    assert sub_milp_share(_Yield(1.0, 10.0), _Yield(0.25, 5.0)) == pytest.approx(0.5)
    assert sub_milp_share(_Yield(1.0, 10.0), _Yield(2.0, 5.0)) == 1.0
