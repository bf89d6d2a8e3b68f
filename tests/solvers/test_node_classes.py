"""Costing one node per class of alike nodes gives the placement costing every node gives.

Why: ``ClusterState.node_classes`` is what lets greedy, rounding and local search place
20,000 jobs on 4,096 nodes (issue 20); it is only allowed because it changes no placement.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarks.instances import write_instance
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model import rules
from greenslot.solvers import state as state_module
from greenslot.solvers.greedy import latest_finish
from greenslot.solvers.placement import best_placement
from greenslot.solvers.state import ClusterState


@pytest.fixture(autouse=True)
def key_every_group(monkeypatch):
    """Key groups of any size into classes: M and L's groups are below the size from which
    placement bothers, and the point here is that keying changes nothing."""
    monkeypatch.setattr(state_module, "KEY_FROM_NODES", 0)


def _walk(scenario, finish, take_every: int):
    """Place every ``take_every``-th job at its best placement, checking at each step that
    the classes' answer is the every-node answer; how many placements were compared and
    how many nodes the classes dropped in all."""
    state = ClusterState(scenario)
    groups = {j.job_id: state.candidate_groups(j) for j in scenario.jobs}
    compared = dropped = 0
    for job in scenario.jobs[::take_every]:
        if job.depends_on or job.pinned:
            continue
        earliest = rules.earliest_start_slot(scenario.grid, job)
        latest = finish[job.job_id]
        fast = best_placement(state, job, earliest, latest, groups[job.job_id])
        full = best_placement(state, job, earliest, latest, groups[job.job_id],
                              every_node=True)
        assert fast == full, job.job_id
        span = slice(0, min(state.n_slots, latest))
        dropped += sum(len(g.node_ids) - len(state.node_classes(g, span).node_ids)
                       for g in groups[job.job_id])
        compared += 1
        if full is not None:
            state.place(job, full.node_ids, full.start, full.end, full.mode.power_w,
                        full.gpus_each)
    return compared, dropped


@pytest.mark.slow
@pytest.mark.parametrize("name", ["M", "L"])
def test_classes_place_every_job_as_costing_every_node_does(tmp_path, name):
    scenario = load_scenario(write_instance(name, tmp_path))
    probe = ClusterState(scenario)
    finish = latest_finish(scenario, {j.job_id: probe.candidate_groups(j)
                                      for j in scenario.jobs})
    compared, dropped = _walk(scenario, finish, take_every=1)
    assert compared > 50
    assert dropped > 0   # the classes did collapse nodes, so the comparison means something


def test_classes_keep_the_first_nodes_of_each_class_in_name_order(tmp_path):
    scenario = load_scenario(write_instance("M", tmp_path))
    state = ClusterState(scenario)
    job = next(j for j in scenario.jobs if not j.depends_on)
    group = next(g for g in state.candidate_groups(job) if len(g.node_ids) > g.count + 1)
    span = slice(0, state.n_slots)
    assert list(state.node_classes(group, span).node_ids) == list(group.node_ids[:group.count])
    # a job on the second node makes it (and only it) a class of its own over its run
    second = int(group.node_ids[1])
    state.place(job, (second,), 3, 7, rules.allowed_modes(
        job, scenario.gpu_type(group.gpu_type))[0].power_w, group.gpus_each)
    kept = state.node_classes(group, span).node_ids
    assert second in kept
    assert list(kept) == sorted(kept)
    untouched = [i for i in group.node_ids if i != second]
    assert [i for i in kept if i != second] == untouched[:group.count]
    # outside the job's run the second node is like the others again
    later = state.node_classes(group, slice(10, state.n_slots)).node_ids
    assert list(later) == list(group.node_ids[:group.count])
    # a node of another idle draw is never merged with the rest
    other = dataclasses.replace(group)
    state.node_idle_w[int(group.node_ids[-1])] += 1.0
    assert int(group.node_ids[-1]) in state.node_classes(other, slice(10, state.n_slots)).node_ids
    assert np.all(np.diff(state.node_classes(other, span).node_ids) > 0)
