"""What-if overrides: ``plan --set KEY=VALUE`` edits the inputs before the checks run."""

from __future__ import annotations

import json

import pytest

from greenslot import load_scenario, plan
from greenslot.analysis.whatif import load_with_overrides, parse_override
from greenslot.analysis.whatif.overrides import recorded_overrides
from greenslot.cli import main
from greenslot.model.loader import parse_objective_weights
from tests.helpers.analysts import cap_scenario, conflict_scenario, two_sites


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_power_cap_override_parts_jobs_and_is_recorded(tmp_path, capsys):
    scenario = cap_scenario(tmp_path / "s")
    free = plan(load_scenario(scenario))
    assert free.accounting.node_draw_kw.max() > 0.5  # uncapped, both run in the clean slot

    rc, _, err = run(["plan", str(scenario), "--out", str(tmp_path / "p"),
                      "--set", "sites.s1.power_cap_kw=0.5", "-q"], capsys)
    assert rc == 0, err
    summary = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert summary["overrides"] == {"sites.s1.power_cap_kw": "0.5"}

    edited = load_with_overrides(scenario, recorded_overrides(tmp_path / "p"))
    assert edited.site("s1").power_cap_kw == 0.5
    capped = plan(edited)
    assert capped.accounting.node_draw_kw.max() <= 0.5 + 1e-9
    # validate re-applies the recorded overrides, so the plan checks against the edited scenario
    rc, out, err = run(["validate", str(scenario), str(tmp_path / "p")], capsys)
    assert rc == 0 and "sites.s1.power_cap_kw=0.5" in out, err


def test_validate_with_explicit_set_checks_against_those_edits(tmp_path, capsys):
    scenario = cap_scenario(tmp_path / "s")
    assert run(["plan", str(scenario), "--out", str(tmp_path / "p"), "-q"], capsys)[0] == 0
    # the uncapped plan draws 0.7 kW in one slot, so it breaks a 0.5 kW cap
    rc, _, err = run(["validate", str(scenario), str(tmp_path / "p"),
                      "--set", "sites.s1.power_cap_kw=0.5"], capsys)
    assert rc == 1 and "cap" in err.lower(), err


def test_job_deadline_override_moves_the_job(tmp_path, capsys):
    scenario = two_sites(tmp_path / "s")
    edited = load_with_overrides(scenario, [parse_override(
        "jobs.c.deadline=2022-06-14T03:00:00+00:00")])
    result = plan(edited)
    c = result.schedule.by_job()["c"]
    assert c.end_slot <= 3
    assert plan(load_scenario(scenario)).schedule.by_job()["c"].end_slot > 3


def test_node_unavailable_override_empties_one_node_of_a_group(tmp_path):
    scenario = two_sites(tmp_path / "s")
    baseline = plan(load_scenario(scenario))
    used = {n for a in baseline.schedule.assignments for n in a.nodes}
    assert "w1" in used
    edited = load_with_overrides(scenario, [parse_override("nodes.w1.unavailable=true")])
    assert {n.name for n in edited.nodes} == {"w1", "w2", "e1"}
    assert edited.node("w1").unavailable_slots == frozenset(range(8))
    assert edited.node("w2").unavailable_slots == frozenset()
    result = plan(edited)
    assert all("w1" not in a.nodes for a in result.schedule.assignments)
    window = load_with_overrides(scenario, [parse_override(
        "nodes.w2.unavailable=2022-06-14T01:00:00+00:00/2022-06-14T03:00:00+00:00")])
    assert window.node("w2").unavailable_slots == frozenset({1, 2})


def test_carbon_price_traces_the_trade_off(tmp_path):
    scenario = conflict_scenario(tmp_path / "s")
    starts = {}
    for price in (0, 10_000):
        edited = load_with_overrides(scenario, [
            parse_override(f"objective={{cost: 1, carbon_price_per_tonne: {price}}}")])
        assert edited.objective.carbon_kg == pytest.approx(price / 1000)
        starts[price] = plan(edited).schedule.by_job()["a"].start_slot
    assert starts == {0: 1, 10_000: 0}  # cheap-but-dirty slot, then clean-but-dear


def test_objective_weight_override_builds_on_a_named_objective(tmp_path):
    scenario = conflict_scenario(tmp_path / "s")  # objective: carbon
    edited = load_with_overrides(scenario, [parse_override("objective.cost=2")])
    assert (edited.objective.carbon_kg, edited.objective.cost) == (1.0, 2.0)
    priced = load_with_overrides(scenario, [parse_override("objective=cost"),
                                            parse_override("objective.carbon_price_per_tonne=50")])
    assert (priced.objective.carbon_kg, priced.objective.cost) == (0.05, 1.0)
    assert priced.objective.as_json()["carbon_price_per_tonne"] == 50.0


def test_carbon_price_weight_parsing():
    objective = parse_objective_weights({"cost": 1, "carbon_price_per_tonne": 80}, "x")
    assert objective.value(carbon_kg=10, cost=5, energy_kwh=0) == pytest.approx(5 + 0.8)


@pytest.mark.parametrize(("override", "check", "named"), [
    ("sites.s1.power_cap_kw=-3", "bad_number", "--set sites.s1.power_cap_kw=-3"),
    ("sites.nowhere.pue=1.2", "bad_override", "no site named 'nowhere'"),
    ("jobs.zz.deadline=2022-06-14T02:00:00+00:00", "bad_override", "no job 'zz'"),
    ("jobs.a.deadline=2022-06-13T00:00:00+00:00", "deadline_before_release", "--set jobs.a"),
    ("jobs.a.gpus=two", "bad_number", "--set jobs.a.gpus=two"),
    ("nodes.n9.unavailable=true", "bad_override", "no node named 'n9'"),
    ("nodes.n1.unavailable=2022-06-14T03:00:00+00:00/2022-06-14T01:00:00+00:00",
     "bad_window", "--set nodes.n1.unavailable"),
    ("objective={cost: 1, carbon_kg: 1, carbon_price_per_tonne: 5}", "bad_objective",
     "not both"),
    ("objective.carbon_price_per_tonne=-1", "bad_objective", "--set objective."),
    ("sites.s1.colour=red", "bad_override", "unknown sites field 'colour'"),
    ("power_cap_kw", "bad_override", "expected KEY=VALUE"),
    ("sites.s1.pue=[1", "bad_override", "not a YAML value"),
    ("horizon=3h30min", "horizon_not_multiple", "--set horizon=3h30min: horizon"),
    ("slot=7min", "horizon_not_multiple", "field 'horizon': horizon 4h is not a whole number of "
     "7min slots (with --set slot=7min)"),
])
def test_bad_override_is_one_line_naming_it_and_writes_nothing(override, check, named,
                                                               tmp_path, capsys):
    scenario = conflict_scenario(tmp_path / "s")
    rc, _, err = run(["plan", str(scenario), "--out", str(tmp_path / "p"), "--set", override],
                     capsys)
    assert rc == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"[{check}]" in err and named in err, err
    assert not (tmp_path / "p").exists()
