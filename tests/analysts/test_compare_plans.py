"""``greenslot compare``: totals with deltas and the jobs that moved, from plan files alone."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from greenslot.cli import main
from tests.helpers.analysts import two_sites


@pytest.fixture(scope="module")
def two_plans(tmp_path_factory):
    """The two-site scenario planned for carbon (A) and for cost with a tighter cap (B)."""
    root = tmp_path_factory.mktemp("compare")
    scenario = two_sites(root / "s")
    assert main(["plan", str(scenario), "--out", str(root / "a"), "-q"]) == 0
    assert main(["plan", str(scenario), "--out", str(root / "b"), "-q", "--set", "objective=cost",
                 "--set", "sites.west.power_cap_kw=0.8"]) == 0
    return root / "a", root / "b"


def _json(argv, capsys) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_totals_and_deltas_match_the_summaries(two_plans, capsys):
    a, b = two_plans
    result = _json(["compare", str(a), str(b), "--json"], capsys)
    sa = json.loads((a / "summary.json").read_text())
    sb = json.loads((b / "summary.json").read_text())
    for key in ("energy_kwh", "grid_kwh", "renewable_kwh", "carbon_kg", "cost"):
        row = result["totals"][key]
        assert (row["a"], row["b"]) == (sa["totals"][key], sb["totals"][key])
        assert row["delta"] == pytest.approx(sb["totals"][key] - sa["totals"][key])
    assert result["totals"]["carbon_kg"]["delta"] != 0
    assert result["totals"]["unplaced"]["a"] == len(sa["unplaced"]) == 1
    assert result["overrides"]["b"] == {"objective": "cost", "sites.west.power_cap_kw": "0.8"}


def test_moved_jobs_are_exactly_those_whose_start_nodes_or_mode_differ(two_plans, capsys):
    a, b = two_plans
    result = _json(["compare", str(a), str(b), "--json"], capsys)
    fa = pd.read_csv(a / "schedule.csv").set_index("job_id")
    fb = pd.read_csv(b / "schedule.csv").set_index("job_id")
    expected = {}
    for job in fa.index.intersection(fb.index):
        shift = (pd.Timestamp(fb.at[job, "start"]) - pd.Timestamp(fa.at[job, "start"]))
        if (shift.total_seconds() or fa.at[job, "nodes"] != fb.at[job, "nodes"]
                or fa.at[job, "power_limit_w"] != fb.at[job, "power_limit_w"]):
            expected[job] = shift.total_seconds() / 3600
    assert expected, "the two plans should differ"
    assert {m["job_id"]: m["shift_h"] for m in result["moved"]} == expected


def test_text_output_shows_the_carbon_delta(two_plans, capsys):
    a, b = two_plans
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    result = _json(["compare", str(a), str(b), "--json"], capsys)
    carbon = result["totals"]["carbon_kg"]
    line = next(line for line in out.splitlines() if line.startswith("carbon_kg"))
    assert f"{carbon['delta']:+.2f}" in line
    assert "moved:" in out


def test_a_plan_compared_with_itself_has_no_change(two_plans, capsys):
    a, _ = two_plans
    result = _json(["compare", str(a), str(a), "--json"], capsys)
    assert result["moved"] == [] and all(r["delta"] == 0 for r in result["totals"].values())


@pytest.mark.parametrize("breakage", ["missing", "bad_json", "bad_start"])
def test_broken_plan_folder_is_one_line_exit_2(breakage, two_plans, tmp_path, capsys):
    a, _ = two_plans
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "summary.json").write_text((a / "summary.json").read_text())
    (broken / "schedule.csv").write_text((a / "schedule.csv").read_text())
    if breakage == "missing":
        (broken / "schedule.csv").unlink()
    elif breakage == "bad_json":
        (broken / "summary.json").write_text("{")
    else:
        frame = pd.read_csv(broken / "schedule.csv")
        frame.loc[0, "start"] = "tomorrow"
        frame.to_csv(broken / "schedule.csv", index=False)
    assert main(["compare", str(a), str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[bad_plan]" in err and "Traceback" not in err, err
