"""``--json`` on every verb that prints a result: one strict JSON document on stdout whose
fields equal what the text output and the written files say; notes stay on stderr.

Slurm's verbs (submit, sync, power, ran) are checked in tests/slurm/test_slurm_json.py, the
forecast verbs in tests/forecasts (backtest, fetch) and here (predict).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from greenslot.cli import build_parser, main
from greenslot.cli.jsonout import dumps
from greenslot.power.curves import CurveRow
from greenslot.power.curves.table import read_curve, write_curve
from tests.helpers.analysts import two_sites

SGIP_SAMPLE = Path(__file__).parent / "trust" / "data" / "sgip-2020-06-02"


def _strict_loads(text: str):
    """``json.loads`` that refuses NaN and Infinity, as strict parsers do."""
    def refuse(name: str):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_every_verb_that_prints_a_result_takes_json():
    """The verbs a machine reads: all take --json (profile only measures into files)."""
    verbs = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    missing = []
    for name, parser in verbs.items():
        subs = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
        leaves = ({f"{name} {k}": p for k, p in subs[0].choices.items()} if subs
                  else {name: parser})
        for label, leaf in leaves.items():
            if label != "profile" and not any("--json" in a.option_strings
                                               for a in leaf._actions):
                missing.append(label)
    assert missing == []


def test_the_helper_writes_strict_json_for_numpy_pandas_and_non_finite_numbers():
    import numpy as np

    doc = {"a": float("nan"), "b": float("-inf"), "c": np.float64(1.5), "d": np.int64(3),
           "e": pd.Timestamp("2026-01-01T00:00Z"), "f": Path("/x"), "g": (1, 2), "h": {3},
           "i": np.float64("inf"), "j": pd.Timedelta("6h")}
    back = _strict_loads(dumps(doc))
    assert back == {"a": None, "b": None, "c": 1.5, "d": 3, "e": "2026-01-01T00:00:00+00:00",
                    "f": "/x", "g": [1, 2], "h": [3], "i": None, "j": 21600.0}


@pytest.fixture
def planned(tmp_path, capsys):
    scenario = two_sites(tmp_path / "s")
    out = tmp_path / "plan"
    code, text, _ = _run(capsys, "plan", str(scenario), "--out", str(out), "-q")
    assert code == 0
    return scenario, out, text


def test_plan_json_is_the_summary_and_agrees_with_the_text(planned, tmp_path, capsys):
    scenario, _, text = planned
    again = tmp_path / "again"
    code, stdout, _ = _run(capsys, "plan", str(scenario), "--out", str(again), "-q", "--json")
    assert code == 0
    doc = _strict_loads(stdout)
    summary = _strict_loads((again / "summary.json").read_text())
    run_dependent = {"solve_seconds", "timings"}
    assert {k: v for k, v in doc.items() if k not in run_dependent | {"plan_dir"}} == \
        {k: v for k, v in summary.items() if k not in run_dependent}
    assert doc["plan_dir"] == str(again)
    head = re.match(r"plan (\w+): (\d+) placed, (\d+) unplaced", text)
    assert head is not None
    assert (doc["plan_id"], doc["placed"], len(doc["unplaced"])) == \
        (head[1], int(head[2]), int(head[3]))
    carbon = next(line for line in text.splitlines() if line.startswith("carbon_kg"))
    assert f"{doc['totals']['carbon_kg']:.2f}" == carbon.split()[1]


def test_validate_json_says_valid_or_lists_violations(planned, tmp_path, capsys):
    scenario, out, _ = planned
    code, stdout, _ = _run(capsys, "validate", str(scenario), str(out), "--json")
    doc = _strict_loads(stdout)
    summary = _strict_loads((out / "summary.json").read_text())
    assert code == 0 and doc["valid"] is True and doc["violations"] == []
    assert doc["plan_id"] == summary["plan_id"] and doc["placed"] == summary["placed"]
    assert doc["unplaced"] == len(summary["unplaced"])
    frame = pd.read_csv(out / "schedule.csv")
    frame.loc[0, "energy_kwh"] *= 1.01
    frame.to_csv(out / "schedule.csv", index=False)
    code, stdout, err = _run(capsys, "validate", str(scenario), str(out), "--json")
    doc = _strict_loads(stdout)
    assert code == 1 and doc["valid"] is False
    assert [f"invalid: [{v['kind']}] {v['job_id'] + ': ' if v['job_id'] else ''}"
            f"{v['message']}" for v in doc["violations"]] == err.splitlines()


def test_compare_json_matches_the_text(planned, tmp_path, capsys):
    scenario, out, _ = planned
    other = tmp_path / "other"
    assert main(["plan", str(scenario), "--out", str(other), "-q", "--objective", "cost"]) == 0
    capsys.readouterr()
    code, text, _ = _run(capsys, "compare", str(out), str(other))
    code_json, stdout, _ = _run(capsys, "compare", str(out), str(other), "--json")
    doc = _strict_loads(stdout)
    assert code == code_json == 0
    assert f"moved: {len(doc['moved'])} of {doc['jobs_in_both']} jobs" in text
    carbon = next(line for line in text.splitlines() if line.startswith("carbon_kg")).split()
    row = doc["totals"]["carbon_kg"]
    assert carbon[1:4] == [f"{row['a']:.2f}", f"{row['b']:.2f}", f"{row['delta']:+.2f}"]


@pytest.mark.slow
def test_report_json_names_the_page_and_figures(planned, capsys):
    _, out, _ = planned
    code, stdout, _ = _run(capsys, "report", str(out), "--json")
    doc = _strict_loads(stdout)
    assert code == 0 and doc["report"] == str(out / "report.html")
    assert doc["bytes"] == (out / "report.html").stat().st_size
    assert doc["figures"] == sorted(p.name for p in out.glob("*.png")) != []


@pytest.mark.slow
def test_evaluate_json_equals_the_table(tmp_path, capsys):
    out = tmp_path / "plan"
    assert main(["plan", str(SGIP_SAMPLE), "--out", str(out), "-q"]) == 0
    args = ["evaluate", str(SGIP_SAMPLE), str(out), "--actual", str(SGIP_SAMPLE / "actual.csv")]
    capsys.readouterr()
    _, text, _ = _run(capsys, *args)
    code, stdout, _ = _run(capsys, *args, "--json")
    doc = _strict_loads(stdout)
    assert code == 0
    assert f"{doc['realised']['carbon_kg']:.3f}" in text  # the table's three decimals


def test_curves_json_lists_what_was_written(tmp_path, capsys):
    rows = [CurveRow("w", 100, 80.0, 0.8), CurveRow("w", 150, 110.0, 0.8),
            CurveRow("w", 250, 200.0, 1.0)]
    src = tmp_path / "in.csv"
    write_curve(rows, src)
    out = tmp_path / "out.csv"
    code, stdout, _ = _run(capsys, "curves", "fit", str(src), "--out", str(out), "--limits",
                           "200", "--json")
    doc = _strict_loads(stdout)
    written = read_curve(out)
    assert code == 0 and doc["out"] == str(out) and doc["modes"] == len(written) == 4
    assert doc["workloads"] == {"w": 4}
    assert {(r["power_limit_w"], r["power_w"]) for r in doc["rows"]} == \
        {(r.power_limit_w, r.power_w) for r in written}
    code, stdout, _ = _run(capsys, "curves", "prune", str(out), "--out", str(out), "--json")
    assert code == 0 and _strict_loads(stdout)["modes"] == len(read_curve(out)) == 3


def test_forecast_predict_json_describes_the_file(tmp_path, capsys):
    index = pd.date_range("2026-01-05T00:00Z", periods=24 * 30, freq="h")
    history = tmp_path / "h.csv"
    pd.DataFrame({"time": [t.isoformat() for t in index],
                  "carbon_g_per_kwh": [200 + (t.hour % 12) for t in index]}).to_csv(
        history, index=False)
    out = tmp_path / "f.csv"
    code, stdout, _ = _run(capsys, "forecast", "predict", str(history), "--out", str(out),
                           "--json")
    doc = _strict_loads(stdout)
    written = pd.read_csv(out)
    assert code == 0 and doc["rows"] == len(written) == 48
    assert doc["column"] == "carbon_g_per_kwh" and doc["method"] == "profile"
    assert pd.Timestamp(doc["start"]) == pd.Timestamp(written["time"].iloc[0])


@pytest.mark.dask
def test_sweep_json_is_the_table(tmp_path, capsys):
    scenario = two_sites(tmp_path / "s")
    out = tmp_path / "sweep"
    code, stdout, _ = _run(capsys, "sweep", str(scenario), "--vary",
                           "sites.west.power_cap_kw=0.8,2", "--out", str(out), "--workers",
                           "1", "-q", "--json")
    doc = _strict_loads(stdout)
    table = pd.read_csv(out / "sweep.csv")
    assert code == 0 and doc["out_dir"] == str(out) and len(doc["points"]) == len(table) == 2
    for point, (_, row) in zip(doc["points"], table.iterrows(), strict=True):
        assert point["carbon_kg"] == pytest.approx(row["carbon_kg"], rel=1e-12)


def test_a_failed_json_run_prints_no_document(tmp_path, capsys):
    code, stdout, err = _run(capsys, "plan", str(tmp_path / "missing"), "--out",
                             str(tmp_path / "o"), "--json")
    assert code == 2 and stdout == "" and err.count("\n") == 1
