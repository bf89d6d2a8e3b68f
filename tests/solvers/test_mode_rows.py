"""A power mode's cost rows, computed once per distinct draw, are node-by-node costing's bits.

Why: :class:`~greenslot.solvers.placement._ModeRows` replaces costing every (node, slot) with
costing each distinct draw once and spreading the rows over the nodes by where they sleep
(issue 20: fleet-scale greedy). Ties between starts and nodes are decided on these numbers, so
equal values are not enough: every bit must match, or plans change.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.instances import write_instance
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model import rules
from greenslot.solvers.placement import _group_window, _ModeRows, best_placement
from greenslot.solvers.state import ClusterState


@pytest.fixture(scope="module")
def busy_state(tmp_path_factory) -> ClusterState:
    """Benchmark M with its first 40 free jobs at their best placements: nodes awake and
    asleep, full and with room, in different slots."""
    scenario = load_scenario(write_instance("M", tmp_path_factory.mktemp("m")))
    state = ClusterState(scenario)
    for job in [j for j in scenario.jobs if not j.depends_on and not j.pinned][:40]:
        found = best_placement(state, job, rules.earliest_start_slot(scenario.grid, job),
                               rules.latest_end_slot(scenario.grid, job))
        if found is not None:
            state.place(job, found.node_ids, found.start, found.end, found.mode.power_w,
                        found.gpus_each)
    return state


def test_rows_are_node_by_node_costing_bit_for_bit(busy_state):
    state = busy_state
    scenario = state.scenario
    compared = asleep_and_awake = 0
    for job in scenario.jobs[40:70]:
        for group in state.candidate_groups(job):
            span = slice(0, state.n_slots - 3)
            unusable, asleep = state.room_and_sleep(group, span)
            view = _group_window(state, group, unusable, asleep, span)
            for mode in rules.allowed_modes(job, scenario.gpu_type(group.gpu_type)):
                rows = _ModeRows(state, group, view, mode, span)
                delta_w = state.node_delta_w(group.node_ids, group.gpus_each, mode.power_w,
                                             span)
                kwh = state.pue[group.site] * delta_w / 1000.0 * state.hours
                cost = state.objective_terms(group.site, kwh, span)
                assert np.array_equal(rows.delta_w(), delta_w)
                assert np.array_equal(rows.kwh(), kwh)
                assert np.array_equal(rows.cost(), cost)
                transfer = 0.37
                assert np.array_equal(
                    rows.transfer_correction(transfer),
                    state.objective_terms(group.site, kwh + transfer, span)
                    - state.objective_terms(group.site, kwh, span))
                exceeds = (state.site_draw_w[group.site, span] + delta_w
                           > state.cap_w[group.site] + 1e-9).any()
                assert rows.may_exceed_cap() or not exceeds   # False only where none does
                compared += 1
                asleep_and_awake += bool(asleep.any() and (~asleep).any())
    assert compared > 50
    assert asleep_and_awake > 0   # both kinds of row were spread, so the check means something


def test_unusable_sums_are_the_window_sums_of_the_rows(busy_state):
    state = busy_state
    job = next(j for j in state.scenario.jobs[40:] if not j.depends_on)
    group = state.candidate_groups(job)[0]
    span = slice(0, state.n_slots)
    unusable, asleep = state.room_and_sleep(group, span)
    view = _group_window(state, group, unusable, asleep, span)
    assert unusable.any()
    for n in (1, 4, 17):
        expected = np.array([[row[s:s + n].sum() for s in range(state.n_slots - n + 1)]
                             for row in unusable])
        assert np.array_equal(view.unusable_sums(n), expected)


def test_pruned_pairs_change_no_placement(busy_state, monkeypatch):
    """Skipping the (group, mode) pairs whose lower bound cannot beat the best found gives
    the placement costing every pair gives, and the bound is below every pair's cost."""
    from greenslot.solvers import placement

    state = busy_state
    scenario = state.scenario
    costed = []
    real = placement._single_node

    def counted(*args):
        costed.append(args[3])
        return real(*args)

    monkeypatch.setattr(placement, "_single_node", counted)
    margin = placement.PRUNE_MARGIN
    pruned_calls = every_calls = 0
    for job in scenario.jobs[40:80]:
        earliest = rules.earliest_start_slot(scenario.grid, job)
        latest = rules.latest_end_slot(scenario.grid, job)
        costed.clear()
        pruned = best_placement(state, job, earliest, latest)
        pruned_calls += len(costed)
        monkeypatch.setattr(placement, "PRUNE_MARGIN", float("inf"))
        costed.clear()
        every = best_placement(state, job, earliest, latest)
        every_calls += len(costed)
        monkeypatch.setattr(placement, "PRUNE_MARGIN", margin)
        assert pruned == every, job.job_id
        span = slice(0, min(state.n_slots, latest))
        for group in state.candidate_groups(job):
            if group.count != 1:
                continue
            unusable, asleep = state.room_and_sleep(group, span)
            view = _group_window(state, group, unusable, asleep, span)
            for mode in rules.allowed_modes(job, scenario.gpu_type(group.gpu_type)):
                n = rules.run_slots(scenario.grid, job, mode)
                if span.stop - n < earliest:
                    continue
                found = real(state, group, view, mode, n, span, earliest, 0.0)
                if found is not None:
                    assert placement._cheapest_run(state, group, mode, n, span,
                                                   earliest) <= found[0]
    assert 0 < pruned_calls < every_calls   # some pairs were skipped: the check means something
