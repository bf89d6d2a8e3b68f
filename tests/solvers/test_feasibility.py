"""Feasibility first (issue 20): where a full placement exists, every job is placed.

The instances are ``benchmarks.instance_classes``' class (d): jobs cut from a known packing
that fills every machine up to 2 % of its horizon (rounded down: ``tight-S``'s horizon is
exactly the packing's makespan), so a plan placing all of them exists by construction.
Greedy's cost-led passes fragment the machines and leave a job out on ``tight-S`` (checked
first, so the tests cannot pass vacuously); the repairs place it, and the plan is valid.
"""

from __future__ import annotations

import pytest

from benchmarks.instance_classes import CLASS_INSTANCES, packed_slots, write_class_instance
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.validator import validate
from greenslot.solvers import feasibility, greedy
from greenslot.solvers.local_search import _drop
from greenslot.solvers.state import ClusterState

pytestmark = pytest.mark.slow  # each solves a scenario several times: over 0.6 s


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    return load_scenario(write_class_instance("tight-S", tmp_path_factory.mktemp("tight")))


def _greedy_passes_only(scenario, monkeypatch):
    """Greedy's plan without its repair, and its state."""
    monkeypatch.setattr(greedy, "repack_unplaced", lambda *args, **kwargs: 0)
    schedule = greedy.solve_greedy(scenario).schedule
    state, placed = ClusterState(scenario), {}
    for a in schedule.assignments:
        _drop(state, scenario, scenario.job(a.job_id), a)
        placed[a.job_id] = a
    return schedule, state, placed


def test_the_class_is_built_from_a_full_packing(tight):
    spec = CLASS_INSTANCES["tight-S"]
    busy_slots = sum(round(j.duration_h * 60 / spec.slot_min) for j in tight.jobs)
    assert busy_slots == spec.machines * packed_slots(spec) <= spec.machines * spec.slots


def test_greedy_passes_leave_a_job_out_and_greedy_places_it(tight, monkeypatch):
    alone, _, _ = _greedy_passes_only(tight, monkeypatch)
    assert alone.unplaced  # the problem the repair is for
    monkeypatch.undo()
    result = greedy.solve_greedy(tight)
    assert result.schedule.unplaced == ()
    assert validate(tight, result.schedule) == []


@pytest.mark.parametrize("repair", ["whole", "best_fit", "neighbourhood"])
def test_each_repair_places_every_job(tight, monkeypatch, repair):
    schedule, state, placed = _greedy_passes_only(tight, monkeypatch)
    missing = {u.job_id for u in schedule.unplaced}
    everything = [tight.job(k) for k in placed] + [tight.job(k) for k in missing]
    if repair == "whole":
        added = feasibility._attempt(state, placed, everything, None, float("inf"), 1)
    elif repair == "best_fit":
        added = feasibility.best_fit_repack(state, placed, everything)
    else:  # only the rounds on a few nodes: no whole model, no best fit
        monkeypatch.setattr(feasibility, "MAX_WHOLE_OPTIONS", 0)
        monkeypatch.setattr(feasibility, "best_fit_repack", lambda *args: 0)
        added = feasibility.repack_unplaced(state, placed, missing, float("inf"))
    assert added == len(missing) and set(placed) == {j.job_id for j in tight.jobs}
    rebuilt = ClusterState(tight)
    for a in placed.values():
        _drop(rebuilt, tight, tight.job(a.job_id), a)
    assert rebuilt.objective() == pytest.approx(state.objective())  # state kept exact
    from greenslot.model.schedule import Schedule
    assert validate(tight, Schedule(tuple(placed.values()), ())) == []


def test_a_repair_that_cannot_place_more_leaves_the_plan_as_it_was(tight, monkeypatch):
    schedule, state, placed = _greedy_passes_only(tight, monkeypatch)
    before = (dict(placed), state.objective(), state.free.copy())
    # the jobs left out may not run anywhere: nothing to gain, nothing may change
    real = feasibility._single_node_options
    out = {u.job_id for u in schedule.unplaced}
    monkeypatch.setattr(feasibility, "_single_node_options",
                        lambda st, job, lo, hi: [] if job.job_id in out else real(st, job, lo, hi))
    assert feasibility.repack_unplaced(state, placed, {u.job_id for u in schedule.unplaced},
                                       float("inf")) == 0
    assert placed == before[0] and state.objective() == before[1]
    assert (state.free == before[2]).all()


def test_auto_places_every_job_on_a_tight_instance(tight):
    from greenslot.solvers.auto import solve_auto
    from greenslot.solvers.types import SolveOptions

    result = solve_auto(tight, SolveOptions(time_limit_s=20, threads=1))
    assert result.schedule.unplaced == ()
    assert validate(tight, result.schedule) == []
