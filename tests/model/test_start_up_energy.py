"""Start-up energy of powered-down nodes (``wake_energy_kwh``): accounting and validator.

Every number here is worked out by hand from the rule in
:func:`greenslot.model.accounting.start_ups`: a node of a ``power_down_idle`` site boots in
slot ``t`` when a job runs on it in ``t`` and none in ``t - 1``; slot 0 never boots (nodes
count as on before the horizon); the boot's energy times PUE falls in slot ``t``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from greenslot.cli import main
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.accounting import account
from greenslot.model.schedule import Assignment, Schedule
from greenslot.model.validator import recount_start_ups, validate
from tests.helpers.scenarios import base_config, hourly_forecast, write_scenario

CARBON = [100, 200, 50, 300]


def _scenario(tmp_path, wake_kwh=0.2, cap_kw=None, power_down=True):
    """Base scenario (4 one-hour slots, n1 and n2 with 2 GPUs, 100 W idle, GPU 10 W idle,
    300 W busy) at PUE 1.5 with ``wake_kwh`` per boot."""
    config = base_config()
    config["sites"][0].update(pue=1.5, power_down_idle=power_down)
    if cap_kw is not None:
        config["sites"][0]["power_cap_kw"] = cap_kw
    if wake_kwh is not None:
        config["nodes"][0]["wake_energy_kwh"] = wake_kwh
    jobs = [{"job_id": j, "gpus": 1, "duration_h": h}
            for j, h in (("a", 2), ("b", 1), ("c", 2), ("d", 2))]
    path = write_scenario(tmp_path, config, jobs,
                          {"forecast-s1.csv": hourly_forecast(CARBON)})
    schedule = Schedule((
        Assignment("a", 0, 2, 300.0, ("n1",)),   # slot 0: on before the horizon, no boot
        Assignment("b", 3, 4, 300.0, ("n1",)),   # n1 off in slot 2: boots in slot 3
        Assignment("c", 1, 3, 300.0, ("n2",)),   # n2 off in slot 0: boots in slot 1
        Assignment("d", 2, 4, 300.0, ("n2",)),   # extends n2's run: no boot
    ))
    return load_scenario(path), schedule


def test_start_ups_are_counted_and_charged_in_their_slot(tmp_path):
    scenario, schedule = _scenario(tmp_path)
    figures = account(scenario, schedule)
    assert validate(scenario, schedule, figures) == []
    assert figures.start_ups[0].tolist() == [0, 1, 0, 1]
    # one GPU busy: 100 + 300 + 10 = 410 W; two: 100 + 600 = 700 W. Site draw per slot
    # [410, 820, 700, 820] W x PUE 1.5 over 1 h, plus 1.5 x 0.2 kWh per boot.
    assert figures.start_up_kwh[0] == pytest.approx([0, 0.3, 0, 0.3])
    assert figures.energy_kwh[0] == pytest.approx([0.615, 1.53, 1.05, 1.53])
    assert figures.totals["energy_kwh"] == pytest.approx(4.725, rel=1e-12)
    # carbon 0.615 x 100 + 1.53 x 200 + 1.05 x 50 + 1.53 x 300 g
    assert figures.totals["carbon_kg"] == pytest.approx(0.879, rel=1e-12)
    assert figures.totals["cost"] == pytest.approx(0.4725, rel=1e-12)


def test_without_wake_energy_or_power_down_nothing_is_charged(tmp_path):
    plain, schedule = _scenario(tmp_path / "plain", wake_kwh=None)
    assert account(plain, schedule).totals["energy_kwh"] == pytest.approx(4.125, rel=1e-12)
    always_on, schedule = _scenario(tmp_path / "on", power_down=False)
    figures = account(always_on, schedule)
    assert figures.start_ups.sum() == 0
    assert figures.start_up_kwh.sum() == 0.0


def test_the_power_cap_sees_a_boot_as_average_power_over_its_slot(tmp_path):
    # node draw 1.23 kW in slot 1 plus 0.3 kWh over one hour: 1.53 kW
    scenario, schedule = _scenario(tmp_path / "ok", cap_kw=1.53)
    assert validate(scenario, schedule) == []
    scenario, schedule = _scenario(tmp_path / "tight", cap_kw=1.5)
    found = validate(scenario, schedule)
    assert [v.kind for v in found] == ["power_cap"]
    assert "slot 1" in str(found[0]) and "2 slot(s) over" in str(found[0])


def test_a_job_after_maintenance_boots_its_node(tmp_path):
    """Maintenance slots without a job are off (0 W), so the next job boots the node."""
    config = base_config()
    config["nodes"][0]["wake_energy_kwh"] = 0.5
    config["nodes"][0]["unavailable"] = [{"from": "2022-06-14T00:00:00+00:00",
                                          "to": "2022-06-14T01:00:00+00:00"}]
    path = write_scenario(tmp_path, config, [{"job_id": "a", "gpus": 1, "duration_h": 1}])
    scenario = load_scenario(path)
    schedule = Schedule((Assignment("a", 1, 2, 300.0, ("n1",)),))
    assert recount_start_ups(scenario, schedule) == [("n1", 1)]
    assert account(scenario, schedule).start_up_kwh[0].tolist() == [0, 0.5, 0, 0]


def test_the_validator_recounts_boots_on_its_own(tmp_path):
    scenario, schedule = _scenario(tmp_path)
    assert sorted(recount_start_ups(scenario, schedule)) == [("n1", 3), ("n2", 1)]
    figures = account(scenario, schedule)
    moved = np.array([[0.0, 0.3, 0.3, 0.0]])   # a boot booked a slot late
    spoilt = dataclasses.replace(figures, start_up_kwh=moved)
    found = validate(scenario, schedule, spoilt)
    assert [v.kind for v in found] == ["start_ups"]
    assert "slot 2: 0 boot(s) worth 0 kWh, accounted 0 worth 0.3 kWh" in str(found[0])


@pytest.mark.parametrize("value", [-0.1, 1000, "lots", ".nan"])
def test_a_bad_wake_energy_is_a_named_input_error(tmp_path, capsys, value):
    config = base_config()
    config["nodes"][0]["wake_energy_kwh"] = float("nan") if value == ".nan" else value
    path = write_scenario(tmp_path, config)
    assert main(["plan", str(path), "--out", str(tmp_path / "plan")]) == 2
    err = capsys.readouterr().err
    assert "scenario.yaml" in err and "nodes[0]" in err and "wake_energy_kwh" in err
    assert "[bad_number]" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "plan").exists()


def test_boots_on_the_example_are_counted_where_a_node_comes_on():
    """The shipped example (ca-west powers idle nodes down, PUE 1.2, 15-min slots) with
    0.3 kWh a boot: j001 on caw-a40-01 from slot 4, j004 right after it on the same node,
    j005 on caw-a40-02 from slot 10. Two boots: slot 4 and slot 10, 0.36 kWh each."""
    from pathlib import Path

    from greenslot.model import rules
    from greenslot.model.schedule import Unplaced

    example = Path(__file__).resolve().parents[2] / "examples" / "nightly"
    plain = load_scenario(example)
    booting = plain.replace(nodes=tuple(
        dataclasses.replace(n, wake_energy_kwh=0.3) if n.site == "ca-west" else n
        for n in plain.nodes))
    a40 = plain.gpu_type("A40")
    placed, start = [], {"j001": 4, "j004": None, "j005": 10}
    node = {"j001": "caw-a40-01", "j004": "caw-a40-01", "j005": "caw-a40-02"}
    for job_id in ("j001", "j004", "j005"):
        job = plain.job(job_id)
        mode = rules.allowed_modes(job, a40)[0]
        begin = start[job_id] if start[job_id] is not None else placed[-1].end_slot
        placed.append(Assignment(job_id, begin, begin + rules.run_slots(plain.grid, job, mode),
                                 mode.power_limit_w, (node[job_id],)))
    assert placed[1].start_slot == placed[0].end_slot   # back to back: no boot between
    schedule = Schedule(tuple(placed), tuple(Unplaced(j.job_id, "not in this test")
                                             for j in plain.jobs if j.job_id not in start))
    with_boots, without = account(booting, schedule), account(plain, schedule)
    assert validate(booting, schedule, with_boots) == []
    ca = with_boots.site_names.index("ca-west")
    assert np.flatnonzero(with_boots.start_ups[ca]).tolist() == [4, 10]
    extra = with_boots.energy_kwh - without.energy_kwh
    expected = np.zeros_like(extra)
    expected[ca, [4, 10]] = 1.2 * 0.3
    assert np.allclose(extra, expected, rtol=0, atol=1e-12)
    # in the cap's terms: 0.36 kWh over a quarter hour is 1.44 kW
    assert (with_boots.node_draw_kw - without.node_draw_kw)[ca, 4] == pytest.approx(1.44)
    assert with_boots.totals["carbon_kg"] > without.totals["carbon_kg"]
