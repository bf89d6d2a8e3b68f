"""Local search descends every candidate, not only the one ahead before the moves.

Why: ``auto`` once ended worse than a stand-alone greedy (issue 20, ``tou-L`` at load 13:
77.51 against 75.78): inside ``auto`` greedy stops before its polish, its plan ranked behind
the rounded one, and only the rounded one was searched. Here, on the two unequal machines of
``test_unequal_machines`` (case ``one_move``), greedy cut before its polish costs 0.2765 and
a rival plan 0.2560 that no single move improves; one move takes greedy's plan to 0.2495,
the optimum (proven by the MILP in ``test_unequal_machines``).
"""

from __future__ import annotations

import math

import pytest

from greenslot.model import rules
from greenslot.model.schedule import Schedule
from greenslot.model.validator import validate
from greenslot.solvers import greedy
from greenslot.solvers.driver import best_descended, descended, valid_candidate
from greenslot.solvers.exact import prepared
from greenslot.solvers.state import ClusterState
from tests.solvers.test_unequal_machines import _scenario

RIVAL = {"j1": ("e", 0), "j2": ("h", 1), "j3": ("e", 4), "j4": ("h", 5), "j5": ("e", 8)}
"""(machine, start hour) per job: 0.2560, found by enumerating every plan of the case."""


def _plan(scenario, where: dict[str, tuple[str, int]]) -> Schedule:
    state = ClusterState(scenario)
    assignments = []
    for job in scenario.jobs:
        name, start = where[job.job_id]
        node = scenario.node_position(name)
        mode = rules.allowed_modes(job, scenario.gpu_type(scenario.nodes[node].gpu_type))[0]
        end = start + rules.run_slots(scenario.grid, job, mode)
        state.place(job, [node], start, end, mode.power_w, job.gpus)
        assignments.append(state.assignment(job, [node], start, end, mode.power_limit_w))
    return Schedule(tuple(assignments), ())


@pytest.fixture
def starts(tmp_path, monkeypatch):
    """The scenario, its preparation, greedy's plan cut before its polish, and the rival."""
    scenario = _scenario(tmp_path, "one_move")
    prep = prepared(scenario)
    with monkeypatch.context() as patch:
        patch.setattr(greedy._Pass, "polish", lambda self, stop_at: 0)
        cut = valid_candidate(scenario, prep, "greedy", greedy.solve_greedy(scenario).schedule)
    rival = valid_candidate(scenario, prep, "lp-rounding", _plan(scenario, RIVAL))
    assert cut is not None and rival is not None
    assert rival.total == pytest.approx(0.256) and cut.total == pytest.approx(0.2765)
    return scenario, prep, cut, rival


def test_the_candidate_behind_before_its_moves_wins_after_them(starts):
    scenario, prep, cut, rival = starts
    # searching only the candidate ahead (the old rule) ends at the rival's 0.2560
    assert descended(scenario, prep, rival, math.inf) is rival
    candidates = [cut, rival]
    best, notes = best_descended(scenario, prep, candidates, math.inf)
    assert best.source == "greedy+moves"
    assert best.total == pytest.approx(0.2495)
    # as good as greedy's own polish, which the cut plan did not have
    polished = valid_candidate(scenario, prep, "greedy", greedy.solve_greedy(scenario).schedule)
    assert polished is not None and best.total == pytest.approx(polished.total)
    assert validate(scenario, best.schedule) == []
    assert best in candidates and len(notes) == 2


def test_a_plan_polished_already_is_taken_as_it_is(starts):
    """Greedy's plan whose own polish ran to the end is not descended again (its single
    moves are the same): here, told so of the cut plan, the rival stays the best."""
    scenario, prep, cut, rival = starts
    best, notes = best_descended(scenario, prep, [cut, rival], math.inf, polished=(cut,))
    assert best is rival
    assert notes == ["lp-rounding 0.256: no move"]
