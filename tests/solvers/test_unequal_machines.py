"""Unequal machines under time-of-use prices: greedy's polish reaches the proven optimum.

Two one-GPU machines, ``e`` drawing 250 W and ``h`` 400 W at full speed (rates 1.0 and 1.6,
as in ``benchmarks.instance_classes``' ``tou`` class), 12 one-hour slots, off-peak 40 until
07:00 and 90 after, objective cost; five jobs of 2-4 h that fill the machines 85 %. Greedy's
passes give a late job the hungry machine at peak price (cost 0.2765 against 0.2495 optimal
on ``one_move``: the issue's 2,755 against 2,515; 0.3485 against 0.2945 on ``pair``); one
move fixes the first, only moving two jobs together fixes the second (``j4`` may leave the
hungry machine only once ``j5`` has left its cheap hours). The optimum is proven by the MILP
in the test itself, so no number here is taken on trust.
"""

from __future__ import annotations

import pytest

from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.accounting import account, objective_value
from greenslot.model.validator import validate
from greenslot.solvers import greedy
from greenslot.solvers.registry import get_solver
from greenslot.solvers.types import SolveOptions, SolveStatus
from tests.helpers.scenarios import base_config, hourly_forecast, write_scenario

pytestmark = pytest.mark.slow  # each solves a scenario several times: over 0.6 s

CASES = {  # (duration h, release h, deadline h) per job
    "one_move": [(4, 0, 12), (4, 1, 10), (4, 2, 11), (2, 4, 12), (3, 0, 12)],
    "pair": [(4, 0, 12), (3, 0, 12), (4, 2, 10), (4, 0, 12), (4, 3, 11)],
}


def _scenario(tmp_path, case):
    config = base_config()
    config["horizon"] = "12h"
    config["objective"] = "cost"
    config["gpu_types"] = [{"name": t, "gpu_idle_w": 0, "power_curve": f"curve-{t}.csv"}
                           for t in ("E", "H")]
    config["nodes"] = [{"names": t.lower(), "site": "s1", "gpu_type": t, "gpus": 1,
                        "idle_w": 0, "partition": "gpu"} for t in ("E", "H")]
    jobs = [{"job_id": f"j{k + 1}", "gpus": 1, "duration_h": d,
             "release": f"2022-06-14T{r:02d}:00:00+00:00",
             "deadline": f"2022-06-14T{e:02d}:00:00+00:00" if e < 12
             else "2022-06-14T12:00:00+00:00"} for k, (d, r, e) in enumerate(CASES[case])]
    prices = [40.0] * 7 + [90.0] * 6
    curves = {f"curve-{t}.csv": [{"workload": "default", "power_limit_w": 400, "power_w": w,
                                  "relative_throughput": 1.0}]
              for t, w in (("E", 250), ("H", 400))}
    return load_scenario(write_scenario(tmp_path / case, config, jobs, {
        "forecast-s1.csv": hourly_forecast([300.0] * 13, price=prices)}, curves))


def _cost(scenario, schedule) -> float:
    assert validate(scenario, schedule) == [] and schedule.unplaced == ()
    return objective_value(scenario, account(scenario, schedule).totals)


@pytest.mark.parametrize("case", sorted(CASES))
def test_greedy_reaches_the_proven_optimum(tmp_path, monkeypatch, case):
    scenario = _scenario(tmp_path, case)
    exact = get_solver("milp")(scenario, SolveOptions(time_limit_s=60, threads=1))
    assert exact.status == SolveStatus.OPTIMAL
    optimum = _cost(scenario, exact.schedule)
    assert _cost(scenario, greedy.solve_greedy(scenario).schedule) == pytest.approx(optimum)
    # without the polish, greedy's passes (and the baselines) are worse: the test can fail
    monkeypatch.setattr(greedy._Pass, "polish", lambda self, stop_at: 0)
    assert _cost(scenario, greedy.solve_greedy(scenario).schedule) > optimum + 0.01


def test_pair_moves_are_what_the_pair_case_needs(tmp_path, monkeypatch):
    scenario = _scenario(tmp_path, "pair")
    optimum = _cost(scenario, get_solver("milp")(scenario, SolveOptions(threads=1)).schedule)
    monkeypatch.setattr(greedy, "PAIR_MOVES_UP_TO_JOBS", 0)
    assert _cost(scenario, greedy.solve_greedy(scenario).schedule) > optimum + 0.01


@pytest.mark.parametrize("case", sorted(CASES))
def test_auto_reaches_the_optimum(tmp_path, case):
    scenario = _scenario(tmp_path, case)
    optimum = _cost(scenario, get_solver("milp")(scenario, SolveOptions(threads=1)).schedule)
    result = get_solver("auto")(scenario, SolveOptions(time_limit_s=30, threads=1))
    assert result.status == SolveStatus.OPTIMAL
    assert _cost(scenario, result.schedule) == pytest.approx(optimum)
