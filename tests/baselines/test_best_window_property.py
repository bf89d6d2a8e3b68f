"""Property: the global plan (greedy) is never worse than per-job shifting (best_window).

Whenever best_window's own schedule is a valid plan (it met every deadline; it ignores them in
the queue), greedy places at least as much priority and, placing as much, scores no worse on the
scenario's objective. Scenarios come from the generator of ``tests/test_properties.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from test_properties import EXAMPLES, scenarios
from test_properties import _write as write_spec

from greenslot.model.accounting import account, objective_value
from greenslot.model.loader import load_scenario
from greenslot.model.validator import validate
from greenslot.solvers.best_window import solve_best_window
from greenslot.solvers.greedy import solve_greedy


def _score(scenario, schedule) -> tuple[float, float]:
    """Priority of the jobs left out, then the objective: lower is better, as greedy ranks."""
    lost = sum(scenario.job(u.job_id).priority for u in schedule.unplaced)
    return lost, objective_value(scenario, account(scenario, schedule).totals)


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=scenarios())
def test_greedy_is_never_worse_than_a_valid_best_window_plan(spec):
    with tempfile.TemporaryDirectory() as folder:
        scenario = load_scenario(write_spec(Path(folder) / "scenario", spec))
        shifted = solve_best_window(scenario).schedule
        if validate(scenario, shifted):
            event("best_window missed a deadline")
            return  # not a plan greedy has to beat
        event("best_window valid: compared")
        greedy = solve_greedy(scenario).schedule
        lost, value = _score(scenario, greedy)
        base_lost, base_value = _score(scenario, shifted)
        assert lost <= base_lost + 1e-12
        if lost == base_lost:
            assert value <= base_value + 1e-9 * max(1.0, abs(base_value))
