"""A time limit that holds: every phase stops at the deadline it is handed, and a plan whose
time ran out everywhere is still valid, written, and says what was cut.

No test measures time. Each hands a phase a deadline already past (a perf_counter value of
0.0, or a plan whose clock started long ago) and checks what the phase does then: the
outcome is the same on an idle laptop and on a CI runner at load 10.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.schedule import Schedule, Unplaced
from greenslot.model.validator import validate
from greenslot.pipeline.files import write_plan
from greenslot.pipeline.steps import plan, with_explained_unplaced
from greenslot.solvers.baselines import solve_baselines
from greenslot.solvers.deadline import (
    REASON_NOT_DERIVED,
    TIME_LIMIT_REASON,
    left_s,
    passed,
    share,
    tail_reserve_s,
)
from greenslot.solvers.diagnose import explain_unplaced
from greenslot.solvers.driver import explained, valid_candidate
from greenslot.solvers.exact import prepared, solve_with_milp
from greenslot.solvers.fifo import fifo_order
from greenslot.solvers.greedy import solve_greedy
from greenslot.solvers.large import prepared_families, solve_large
from greenslot.solvers.queue import run_queue
from greenslot.solvers.rounding import round_support
from greenslot.solvers.types import SolveOptions, SolveResult, SolveStatus
from tests.helpers.scenarios import hourly_forecast, write_scenario

PAST = 0.0  # a perf_counter instant long gone: the deadline has passed before the phase starts
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nightly"


def crowded(tmp_path):
    """Four 2-GPU jobs of 3 h for two 2-GPU nodes and a 4 h horizon: two run, two cannot."""
    jobs = [{"job_id": f"j{k}", "gpus": 2, "duration_h": 3} for k in range(4)]
    forecasts = {"forecast-s1.csv": hourly_forecast([100, 200, 300, 300])}
    return load_scenario(write_scenario(tmp_path / "s", None, jobs, forecasts))


@pytest.fixture(scope="module")
def nightly():
    return load_scenario(EXAMPLE / "scenario.yaml")


def test_the_deadline_helpers_read_none_as_no_limit():
    assert not passed(None) and left_s(None) is None and share(None, 0.5) is None
    assert passed(PAST) and left_s(PAST) == 0.0
    later = time.perf_counter() + 1e6
    assert not passed(later) and share(later, 0.5) < later
    assert tail_reserve_s(2000) > tail_reserve_s(10) > 0


def test_the_queue_leaves_the_jobs_it_has_no_time_for_out(nightly):
    order = fifo_order(nightly)
    schedule = run_queue(nightly, order, {j.job_id: 0 for j in order}, stop_at=PAST)
    assert not [a for a in schedule.assignments if not nightly.job(a.job_id).pinned]
    assert {u.reason for u in schedule.unplaced} == {TIME_LIMIT_REASON}
    assert len(schedule.unplaced) == len(order)
    assert validate(nightly, schedule) == []


@pytest.mark.slow
def test_baselines_cut_by_the_deadline_still_price_a_valid_plan(nightly):
    cut = solve_baselines(nightly, stop_at=PAST)
    for baseline in cut.by_name.values():
        assert baseline.summary()["placed"] == sum(j.pinned for j in nightly.jobs)
    full = solve_baselines(nightly)
    assert full.by_name["fifo"].summary()["placed"] > 0


def test_greedys_first_pass_stops_at_the_deadline_with_a_reason_per_job(nightly):
    result = solve_greedy(nightly, deadline=PAST)
    free = [j for j in nightly.jobs if not j.pinned]
    assert {u.reason for u in result.schedule.unplaced} == {TIME_LIMIT_REASON}
    assert len(result.schedule.unplaced) == len(free)
    assert validate(nightly, result.schedule) == []


def test_greedy_derives_no_reason_after_the_deadline(tmp_path, monkeypatch):
    from greenslot.solvers import greedy

    scenario = crowded(tmp_path)
    state_of_pass = {}
    real_run = greedy._Pass.run

    def run_then_expire(self, order, deadline=None):
        real_run(self, order, None)  # the pass places what it can ...
        state_of_pass["done"] = True

    monkeypatch.setattr(greedy._Pass, "run", run_then_expire)
    result = solve_greedy(scenario, deadline=PAST)  # ... and the reasons find no time left
    assert state_of_pass and len(result.schedule.assignments) == 2
    assert {u.reason for u in result.schedule.unplaced} == {REASON_NOT_DERIVED}
    precise = solve_greedy(scenario)
    assert REASON_NOT_DERIVED not in {u.reason for u in precise.schedule.unplaced}


def test_the_final_reasons_are_kept_as_the_solver_gave_them_after_the_deadline(tmp_path):
    scenario = crowded(tmp_path)
    schedule = solve_greedy(scenario).schedule
    given = Schedule(schedule.assignments,
                     tuple(Unplaced(u.job_id, "solver's own reason") for u in schedule.unplaced))
    assert {u.reason for u in explain_unplaced(scenario, given, PAST).unplaced} == {
        "solver's own reason"}
    assert "solver's own reason" not in {u.reason for u in explain_unplaced(
        scenario, given).unplaced}
    result = SolveResult("greedy", SolveStatus.FEASIBLE, given, None, 0.0)
    kept = with_explained_unplaced(scenario, result, PAST)
    assert kept.schedule == given


def test_a_candidates_reasons_are_cheap_after_the_deadline(tmp_path):
    from greenslot.solvers.driver import candidate_from_state
    from greenslot.solvers.state import ClusterState

    scenario = crowded(tmp_path)
    prep = prepared(scenario)
    candidate = candidate_from_state(scenario, prep, "empty", ClusterState(scenario), {})
    assert candidate is not None
    assert {u.reason for u in explained(candidate, prep, PAST).unplaced} == {
        REASON_NOT_DERIVED}
    assert REASON_NOT_DERIVED not in {u.reason for u in explained(candidate, prep).unplaced}


@pytest.mark.slow
def test_rounding_stops_at_the_deadline(nightly):
    prep, families = prepared_families(nightly)
    from greenslot.solvers.lagrange import LagrangianBound

    support = LagrangianBound(prep, families).preferred_columns()
    _, placed, lost = round_support(prep, support, PAST)
    assert not [j for j in placed if not nightly.job(j).pinned]
    assert len(lost) == sum(not j.pinned for j in prep.jobs)
    _, placed, _ = round_support(prep, support)
    assert len(placed) > 0


def test_the_exact_pipeline_skips_the_model_it_has_no_time_to_build(tmp_path):
    """With the limit gone before the model is built, no model, LP or MILP is tried; the
    Lagrangian's rounding and local search give a valid plan, and the steps say why."""
    scenario = crowded(tmp_path)
    result = solve_with_milp(scenario, SolveOptions(time_limit_s=1.0), began=PAST)
    steps = result.details["steps"]
    assert not steps["build model"]["ran"] and "skipped" in steps["build model"]["note"]
    assert not steps["lp bound"]["ran"] and not steps["milp"]["ran"]
    assert "cut by the time limit" in steps["greedy"]["note"]
    assert result.details["variables"] is None
    assert validate(scenario, result.schedule) == []
    # rounding and local search had no time either: nothing placed, each job says why
    assert not result.schedule.assignments
    assert {u.reason for u in result.schedule.unplaced} == {TIME_LIMIT_REASON}
    unbounded = solve_with_milp(scenario, SolveOptions())
    assert unbounded.details["steps"]["build model"]["ran"]


@pytest.mark.slow
def test_the_large_pipeline_honours_a_deadline_already_past(nightly):
    result = solve_large(nightly, SolveOptions(time_limit_s=1.0), began=PAST)
    assert validate(nightly, result.schedule) == []
    assert "cut by the time limit" in result.details["steps"]["greedy"]["note"]
    prep = prepared(nightly)
    assert valid_candidate(nightly, prep, "x", result.schedule) is not None


@pytest.mark.parametrize("solver", ["greedy", pytest.param("auto", marks=pytest.mark.slow),
                                    pytest.param("milp", marks=pytest.mark.slow)])
def test_a_plan_out_of_time_everywhere_is_still_valid_and_written(nightly, tmp_path, solver,
                                                                  caplog):
    """The clock started long ago: baselines, greedy and reasons are all cut, and the plan
    written is the validator's and says so in its steps."""
    result = plan(nightly, solver, SolveOptions(time_limit_s=5.0), began=PAST)
    assert validate(nightly, result.schedule) == []
    reasons = {u.reason for u in result.schedule.unplaced}
    assert TIME_LIMIT_REASON in reasons
    write_plan(result, tmp_path / "out", "test")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["baselines"]["fifo"]["placed"] == sum(j.pinned for j in nightly.jobs)
    if solver != "greedy":
        steps = summary["solver_details"]["steps"]
        assert "cut by the time limit" in steps["greedy"]["note"]
    assert "baselines cut short by the time limit" in caplog.text


def test_local_search_makes_no_move_after_the_deadline(tmp_path):
    from greenslot.solvers.driver import locally_improved

    scenario = crowded(tmp_path)
    prep = prepared(scenario)
    start = valid_candidate(scenario, prep, "greedy", solve_greedy(scenario).schedule)
    assert start is not None
    assert locally_improved(scenario, prep, start, PAST, to_deadline=True) is None


def test_the_cli_counts_the_limit_from_its_own_start_so_loading_counts(tmp_path, monkeypatch,
                                                                        capsys):
    from greenslot.cli.app import main
    from greenslot.pipeline import steps

    crowded(tmp_path)
    seen: list[float | None] = []
    real = steps.plan

    def spy(scenario, *args, began=None, **kwargs):
        seen.append(began)
        assert began is not None and began < time.perf_counter()
        return real(scenario, *args, began=began, **kwargs)

    monkeypatch.setattr(steps, "plan", spy)
    before = time.perf_counter()
    code = main(["plan", str(tmp_path / "s" / "scenario.yaml"), "--out", str(tmp_path / "out"),
                 "--time-limit", "30", "--quiet"])
    assert code == 0 and len(seen) == 1 and seen[0] is not None and seen[0] >= before
    assert (tmp_path / "out" / "summary.json").exists()
