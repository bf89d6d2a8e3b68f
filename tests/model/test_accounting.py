"""Contract section 3 on hand-sized scenarios, every number worked out by hand."""

from __future__ import annotations

import pytest

from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.accounting import account
from greenslot.model.schedule import Assignment, Schedule
from greenslot.model.validator import validate
from tests.helpers.scenarios import base_config, hourly_forecast, write_scenario


def two_site_scenario(tmp_path, cap_kw=None):
    """s1: PUE 1.5, always on, 0.5 kW solar in slot 0; s2: PUE 1.0, powers down idle nodes."""
    config = base_config()
    config["transfer_kwh_per_gb"] = 0.01
    config["sites"] = [
        {"name": "s1", "pue": 1.5, "power_down_idle": False, "forecast": "f1.csv"},
        {"name": "s2", "pue": 1.0, "power_down_idle": True, "forecast": "f2.csv"},
    ]
    if cap_kw is not None:
        config["sites"][0]["power_cap_kw"] = cap_kw
    config["nodes"] = [
        {"names": "n1", "site": "s1", "gpu_type": "G", "gpus": 2, "idle_w": 100},
        {"names": "n2", "site": "s2", "gpu_type": "G", "gpus": 2, "idle_w": 100},
    ]
    jobs = [
        {"job_id": "a", "gpus": 2, "duration_h": 1.5},
        {"job_id": "b", "gpus": 1, "duration_h": 1.0, "data_gb": 100, "data_site": "s1"},
    ]
    forecasts = {
        "f1.csv": hourly_forecast([100, 200, 50, 300], [100] * 4, [0.5, 0, 0, 0]),
        "f2.csv": hourly_forecast([400] * 4, [50, 60, 70, 80]),
    }
    path = write_scenario(tmp_path, config, jobs, forecasts)
    schedule = Schedule((
        Assignment("a", 1, 3, 300.0, ("n1",)),   # 1.5 h at full speed -> 2 slots
        Assignment("b", 0, 2, 200.0, ("n2",)),   # half speed -> 2 h -> 2 slots
    ))
    return load_scenario(path), schedule


def test_site_totals_match_hand_computation(tmp_path):
    scenario, schedule = two_site_scenario(tmp_path)
    assert validate(scenario, schedule) == []
    figures = account(scenario, schedule)
    # s1 node draw: idle 100 + 2 x 10 = 120 W; busy 100 + 2 x 300 = 700 W; x PUE 1.5.
    assert figures.energy_kwh[0] == pytest.approx([0.18, 1.05, 1.05, 0.18])
    # s2: 100 + 200 + 10 idle GPU = 310 W in slots 0-1, plus 100 GB x 0.01 kWh at the start.
    assert figures.energy_kwh[1] == pytest.approx([1.31, 0.31, 0.0, 0.0])
    totals = figures.totals
    assert totals["energy_kwh"] == pytest.approx(4.08, rel=1e-12)
    assert totals["grid_kwh"] == pytest.approx(3.90, rel=1e-12)
    assert totals["renewable_kwh"] == pytest.approx(0.18, rel=1e-12)
    # s1: 1.05x200 + 1.05x50 + 0.18x300 = 316.5 g; s2: 1.31x400 + 0.31x400 = 648 g.
    assert totals["carbon_kg"] == pytest.approx(0.9645, rel=1e-12)
    # s1: 2.28 kWh x 100/MWh; s2: 1.31x50 + 0.31x60 per MWh.
    assert totals["cost"] == pytest.approx(0.228 + 0.0841, rel=1e-12)


def test_per_job_attribution_matches_hand_computation(tmp_path):
    scenario, schedule = two_site_scenario(tmp_path)
    jobs = account(scenario, schedule).jobs
    # a: 2 x 300 W + all of n1's 100 W idle, x 1.5 -> 1.05 kWh per slot, slots 1-2.
    assert jobs["a"].energy_kwh == pytest.approx(2.1)
    assert jobs["a"].carbon_kg == pytest.approx((1.05 * 200 + 1.05 * 50) / 1000)
    assert jobs["a"].cost == pytest.approx(0.21)
    # b: 200 W + half of n2's idle -> 0.25 kWh per slot, plus 1 kWh transfer in slot 0.
    assert jobs["b"].energy_kwh == pytest.approx(1.5)
    assert jobs["b"].carbon_kg == pytest.approx(0.6)
    assert jobs["b"].cost == pytest.approx((1.25 * 50 + 0.25 * 60) / 1000)


def test_power_cap_at_exact_draw_is_allowed_and_below_it_is_not(tmp_path):
    scenario, schedule = two_site_scenario(tmp_path / "ok", cap_kw=1.05)
    assert validate(scenario, schedule) == []
    scenario, schedule = two_site_scenario(tmp_path / "tight", cap_kw=1.0)
    kinds = [v.kind for v in validate(scenario, schedule)]
    assert kinds == ["power_cap"]


def test_empty_schedule_draws_only_always_on_nodes(tmp_path):
    scenario, _ = two_site_scenario(tmp_path)
    figures = account(scenario, Schedule(()))
    assert figures.totals["energy_kwh"] == pytest.approx(4 * 0.18)
    assert figures.totals["renewable_kwh"] == pytest.approx(0.18)
    assert figures.totals["carbon_kg"] == pytest.approx(0.18 * (200 + 50 + 300) / 1000)
