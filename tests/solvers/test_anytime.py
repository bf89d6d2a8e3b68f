"""Anytime behaviour: every phase within the time limit, a bound where the LP cannot finish,
the steps that ran on record, and the phases told to the progress display as they start.

Every solve is real (HiGHS, the Lagrangian ascent, local search). Where a test needs the LP
relaxation not to finish, as on a slow or busy machine, that one step is replaced by an LP
that ran out of time; timing itself is never asserted.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.accounting import account, objective_value
from greenslot.model.schedule import Schedule, Unplaced
from greenslot.model.validator import validate
from greenslot.solvers import exact, greedy
from greenslot.solvers.driver import checked_bound, locally_improved, valid_candidate
from greenslot.solvers.exact import prepared
from greenslot.solvers.greedy import solve_greedy
from greenslot.solvers.registry import get_solver
from greenslot.solvers.relaxation import Relaxation
from greenslot.solvers.types import SolveOptions, SolveStatus
from tests.helpers.scenarios import hourly_forecast, write_scenario
from tests.helpers.strategies import scenarios, write_spec


def short_sighted(tmp_path):
    """Greedy 0.770 kg, optimum 0.630 (worked out in tests/solvers/test_exact.py)."""
    jobs = [{"job_id": "j0", "gpus": 4, "duration_h": 1},
            {"job_id": "j1", "gpus": 2, "duration_h": 2},
            {"job_id": "j2", "gpus": 4, "duration_h": 1}]
    forecasts = {"forecast-s1.csv": hourly_forecast([100, 100, 200, 300, 300])}
    return load_scenario(write_scenario(tmp_path / "s", None, jobs, forecasts))


def _lp_out_of_time(seconds: float):
    """An LP relaxation that ran ``seconds`` and did not finish: no bound, no solution."""
    def solve(model, time_limit_s, threads=1, separate=None):
        return Relaxation(bound=None, values=None, seconds=seconds)
    return solve


def _objective(scenario, result) -> float:
    return objective_value(scenario, account(scenario, result.schedule).totals) \
        + result.unplaced_penalty


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=scenarios())
@pytest.mark.slow
def test_the_lagrangian_bound_stands_in_when_the_lp_does_not_finish(spec, monkeypatch):
    """With no LP bound, the Lagrangian's is reported, and it never exceeds the optimum
    that the MILP (still run: the LP's zero seconds leave it time) proves."""
    with tempfile.TemporaryDirectory() as folder:
        scenario = load_scenario(write_spec(Path(folder) / "scenario", spec))
    with monkeypatch.context() as patch:
        patch.setattr(exact, "solve_relaxation", _lp_out_of_time(0.0))
        result = get_solver("milp")(scenario, SolveOptions(time_limit_s=60, gap=1e-9))
    assert validate(scenario, result.schedule) == []
    steps = result.details["steps"]
    assert steps["lp bound"]["note"].startswith("no bound")
    assert steps["lagrangian bound"]["ran"]
    stand_in = result.details["lagrangian_bound"]
    if result.status is SolveStatus.OPTIMAL and stand_in is not None:
        assert stand_in <= _objective(scenario, result) + 1e-6 * max(
            1.0, abs(_objective(scenario, result)))


@pytest.mark.slow
def test_without_lp_or_backend_the_plan_still_has_a_proven_bound(tmp_path, monkeypatch):
    """The machine is so slow that the LP did not finish and the backend has no time for
    its root LP: the Lagrangian bound is the reported bound, the steps say the backend did
    not run, and the plan is labelled by where it came from, not ``auto:milp``."""
    scenario = short_sighted(tmp_path)
    monkeypatch.setattr(exact, "solve_relaxation", _lp_out_of_time(1e6))
    result = get_solver("auto")(scenario, SolveOptions(time_limit_s=2))
    assert validate(scenario, result.schedule) == []
    objective = _objective(scenario, result)
    assert result.bound is not None and result.bound <= objective + 1e-9
    assert result.bound == pytest.approx(result.details["lagrangian_bound"])
    assert result.bound <= 0.630 + 1e-9  # the optimum, worked out by hand
    steps = result.details["steps"]
    assert steps["milp"] == {"ran": False, "wall_seconds": 0.0,
                             "note": steps["milp"]["note"]}
    assert steps["milp"]["note"].startswith("skipped")
    assert result.solver == f"auto:{result.details['plan_from']}" != "auto:milp"
    assert not result.details["plan_from"].startswith("milp")


def test_phases_are_told_as_they_start_and_recorded_as_steps(tmp_path, monkeypatch):
    scenario = short_sighted(tmp_path)
    # greedy's polish would find the optimum itself; off, so every later phase has work
    monkeypatch.setattr(greedy._Pass, "polish", lambda self, stop_at: 0)
    phases: list[str] = []
    figures: list[tuple] = []
    result = get_solver("auto")(scenario, SolveOptions(
        time_limit_s=60, on_phase=phases.append,
        progress=lambda plan, bound: figures.append((plan, bound))))
    assert phases == ["prepare", "greedy", "lagrangian bound", "build model", "lp bound",
                      "lp rounding", "lp neighbourhood", "descend candidates",
                      "local search", "milp"]
    assert list(result.details["steps"]) == phases[1:]
    assert all(step["ran"] for step in result.details["steps"].values())
    assert result.status is SolveStatus.OPTIMAL
    # greedy's plan is reported before any bound is known, then bounds as they are proven
    assert figures[0] == (pytest.approx(0.770), None)
    assert any(bound is not None for _, bound in figures[:3])


def test_greedy_starts_no_further_pass_once_its_time_is_up(tmp_path, monkeypatch):
    scenario = short_sighted(tmp_path)
    passes = []
    real_run = greedy._Pass.run

    def counted(self, order, deadline=None):
        passes.append(len(order))
        return real_run(self, order, deadline)

    monkeypatch.setattr(greedy._Pass, "run", counted)
    unbounded = solve_greedy(scenario)
    assert len(passes) == 2  # one per ordering: nothing left out, no repeat
    passes.clear()
    bounded = solve_greedy(scenario, stop_at=0.0)  # a perf_counter value long past
    assert len(passes) == 1
    assert validate(scenario, bounded.schedule) == []
    assert len(bounded.schedule.assignments) == len(unbounded.schedule.assignments)


def test_local_search_keeps_searching_until_the_plan_is_proven(tmp_path):
    """With ``to_deadline``, search restarts after it stalls and stops as soon as the
    bound proves the plan (here on the third check), not at its first stall."""
    scenario = short_sighted(tmp_path)
    prep = prepared(scenario)
    start = valid_candidate(scenario, prep, "greedy", solve_greedy(scenario).schedule)
    checks: list[float] = []

    def proven(total: float) -> bool:
        checks.append(total)
        return len(checks) >= 3

    improved = locally_improved(scenario, prep, start, float("inf"), to_deadline=True,
                                proven=proven)
    assert len(checks) == 3
    best = improved if improved is not None else start
    assert validate(scenario, best.schedule) == []
    assert best.total <= start.total


def test_repair_places_a_job_left_out_by_making_room_for_it(tmp_path):
    """Feasibility first: ``big`` needs both nodes in the first hour (its deadline); a plan
    that put ``small`` there (its cheapest hour) and left ``big`` out is repaired by moving
    ``small`` an hour later, although that costs more carbon."""
    forecasts = {"forecast-s1.csv": hourly_forecast([100, 300, 300, 300, 300])}
    small = {"job_id": "small", "gpus": 2, "duration_h": 1}
    big = {"job_id": "big", "gpus": 4, "duration_h": 1,
           "deadline": "2022-06-14T01:00:00+00:00"}
    alone = load_scenario(write_scenario(tmp_path / "alone", None, [small], forecasts))
    scenario = load_scenario(write_scenario(tmp_path / "both", None, [small, big], forecasts))
    first_hour = solve_greedy(alone).schedule.assignments
    assert [(a.job_id, a.start_slot) for a in first_hour] == [("small", 0)]
    prep = prepared(scenario)
    start = valid_candidate(scenario, prep, "start",
                            Schedule(first_hour, (Unplaced("big", "left out"),)))
    assert start is not None and start.penalty > 0
    repaired = locally_improved(scenario, prep, start, float("inf"))
    assert repaired is not None and repaired.penalty == 0
    assert validate(scenario, repaired.schedule) == []
    where = {a.job_id: a.start_slot for a in repaired.schedule.assignments}
    assert where == {"big": 0, "small": 1}
    assert repaired.total < start.total


def test_the_plan_pipeline_takes_the_baselines_time_off_the_solvers_limit(tmp_path,
                                                                           monkeypatch):
    """The limit is the plan's: the solver gets what the baselines left of it."""
    from greenslot.pipeline import steps

    scenario = short_sighted(tmp_path)
    given: list[SolveOptions] = []
    real = steps.solve_checked

    def spy(scenario, solver, options, deadline=None):
        given.append(options)
        return real(scenario, solver, options, deadline)

    monkeypatch.setattr(steps, "solve_checked", spy)
    steps.plan(scenario, "greedy", SolveOptions(time_limit_s=100.0))
    steps.plan(scenario, "greedy", SolveOptions())
    assert 0 < given[0].time_limit_s < 100.0 and given[0].baselines is not None
    assert given[1].time_limit_s is None


@pytest.mark.parametrize("bound", [float("-inf"), float("nan"), float("inf")])
def test_a_bound_that_is_no_number_is_reported_as_none(tmp_path, bound):
    # issue 17, item 11: a large plan once wrote "bound": -Infinity, "gap": Infinity, which
    # strict JSON parsers reject; a Lagrangian that proved nothing proves no bound
    prep = prepared(short_sighted(tmp_path))
    assert checked_bound(bound, prep, 10.0) is None
    assert checked_bound(9.0, prep, 10.0) == 9.0
