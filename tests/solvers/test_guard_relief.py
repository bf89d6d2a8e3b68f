"""Guard relief: a job that only its deadline guard leaves out is planned inside the guard.

Worked out by hand on one 1-GPU node held by a pinned run until 04:00: 'a' (2 h typical,
4 h at most, due 06:00) is guarded to end by 04:00, where there is no room.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from greenslot.cli import main
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.schedule import Assignment, Schedule, Unplaced
from greenslot.model.validator import validate
from greenslot.solvers.guard_relief import relieve_guards
from greenslot.solvers.types import SolveResult, SolveStatus
from tests.helpers.scenarios import base_config, hourly_forecast, write_scenario

BUSY = Assignment("busy", 0, 4, 300.0, ("n1",))


def _write(tmp_path: Path, deadline_max_h: float | None) -> Path:
    config = base_config()
    config.update(horizon="8h")
    config["nodes"] = [{"names": "n1", "site": "s1", "gpu_type": "G", "gpus": 1,
                        "idle_w": 100, "partition": "gpu"}]
    jobs = [{"job_id": "busy", "gpus": 1, "duration_h": 4,
             "pinned_start": "2022-06-14T00:00:00+00:00", "pinned_nodes": "n1"},
            {"job_id": "a", "gpus": 1, "duration_h": 2, "duration_max_h": deadline_max_h,
             "deadline": "2022-06-14T06:00:00+00:00"}]
    path = write_scenario(tmp_path, config, jobs=jobs, forecasts={
        "forecast-s1.csv": hourly_forecast([100.0] * 8)})
    pd.DataFrame(jobs).to_csv(tmp_path / "jobs.csv", index=False)
    return path


def _scenario(tmp_path: Path, deadline_max_h: float | None):
    return load_scenario(_write(tmp_path, deadline_max_h))


def _left_out(bound: float | None = 1.0) -> SolveResult:
    return SolveResult("milp", SolveStatus.OPTIMAL,
                       Schedule((BUSY,), (Unplaced("a", "no room before its guard"),)),
                       bound=bound, solve_seconds=0.1, unplaced_penalty=5.0)


def test_a_job_its_guard_leaves_out_is_placed_up_to_its_deadline(tmp_path):
    scenario = _scenario(tmp_path, 4.0)
    assert scenario.job("a").deadline_guard_h == pytest.approx(2.0)
    relieved = relieve_guards(scenario, _left_out())
    assert relieved.schedule.unplaced == ()
    placed = relieved.schedule.by_job()
    assert (placed["a"].start_slot, placed["a"].end_slot) == (4, 6)
    assert placed["busy"] == BUSY  # what was placed stays placed
    # the bound was proven with the guard in place: a relieved plan claims none
    assert relieved.bound is None and relieved.status == SolveStatus.FEASIBLE
    assert relieved.unplaced_penalty == 0.0 and relieved.details["guard_relief"] == ["a"]
    assert validate(scenario, relieved.schedule) == []


def test_a_job_without_a_guard_is_left_as_the_solver_left_it(tmp_path):
    """No upper estimate, no guard: 'a' fits 04:00-06:00 anyway, but relief is only for
    jobs a guard left out; any other left-out job is the solver's business."""
    scenario = _scenario(tmp_path, None)
    assert scenario.job("a").deadline_guard_h == 0.0
    result = _left_out()
    assert relieve_guards(scenario, result) is result


def test_a_plan_past_the_deadline_itself_is_still_rejected(tmp_path):
    """The validator holds a plan to the deadline, not to the guard; past it is invalid."""
    scenario = _scenario(tmp_path, 4.0)
    inside_guard = Schedule((BUSY, Assignment("a", 4, 6, 300.0, ("n1",))))
    past_deadline = Schedule((BUSY, Assignment("a", 5, 7, 300.0, ("n1",))))
    assert validate(scenario, inside_guard) == []
    assert [v.kind for v in validate(scenario, past_deadline)] == ["window"]


@pytest.mark.parametrize("solver", ["greedy", "milp"])
def test_plan_runs_such_a_job_rather_than_leave_it_out(tmp_path, solver):
    """End to end: `plan` runs 'a' 04:00-06:00, on time if it runs its typical length, and
    the plan it writes is one `validate` accepts."""
    path = _write(tmp_path / "s", 4.0)
    out = tmp_path / "plan"
    assert main(["plan", str(path), "--out", str(out), "--solver", solver, "-q"]) == 0
    schedule = pd.read_csv(out / "schedule.csv").set_index("job_id")
    assert pd.Timestamp(schedule.loc["a", "start"]) == pd.Timestamp("2022-06-14T04:00:00+00:00")
    assert pd.Timestamp(schedule.loc["a", "end"]) == pd.Timestamp("2022-06-14T06:00:00+00:00")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["unplaced"] == [] and summary["bound"] is None
    assert main(["validate", str(path), str(out)]) == 0
