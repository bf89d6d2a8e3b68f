"""The exact solvers from the command line: summary fields, auto's choice, progress line."""

from __future__ import annotations

import io
import json

import pytest

from greenslot.cli import main
from greenslot.cli.progress import ProgressLine
from greenslot.solvers.auto import AUTO_MAX_NONZEROS, model_nonzeros
from tests.helpers.scenarios import base_config, hourly_forecast, write_scenario


def short_sighted(tmp_path):
    """The case worked out in tests/solvers/test_exact.py: greedy 0.770 kg, optimum 0.630."""
    jobs = [{"job_id": "j0", "gpus": 4, "duration_h": 1},
            {"job_id": "j1", "gpus": 2, "duration_h": 2},
            {"job_id": "j2", "gpus": 4, "duration_h": 1}]
    forecasts = {"forecast-s1.csv": hourly_forecast([100, 100, 200, 300, 300])}
    return write_scenario(tmp_path / "s", None, jobs, forecasts)


@pytest.mark.parametrize("solver", ["milp", "cpsat", "auto"])
def test_exact_solvers_write_a_proven_optimum(tmp_path, solver, capsys):
    out = tmp_path / "out"
    assert main(["plan", str(short_sighted(tmp_path)), "--out", str(out), "--solver", solver,
                 "--time-limit", "60", "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "optimal"
    assert summary["objective"] == pytest.approx(0.630, rel=1e-9)
    assert summary["bound"] <= summary["objective"] + 1e-12
    assert summary["gap"] <= 1e-4
    assert summary["solver"] == ("auto:" + summary["solver_details"]["plan_from"]
                                 if solver == "auto" else solver)
    assert summary["solver_details"]["warm_start"] is True
    screen = capsys.readouterr().out
    assert "optimal, bound" in screen
    # which steps ran, and where the plan came from, are on screen too (issue 17.3)
    steps = next(line for line in screen.splitlines() if line.startswith("steps: "))
    assert f"plan from {summary['solver_details']['plan_from']}" in steps
    assert "greedy" in steps and "lagrangian bound" in steps and "lp bound" in steps
    assert main(["validate", str(short_sighted(tmp_path)), str(out)]) == 0


def test_auto_chooses_the_exact_pipeline_while_the_model_is_small(tmp_path):
    path = short_sighted(tmp_path)
    from greenslot.forecasts.scenario_loading import load_scenario

    assert model_nonzeros(load_scenario(path)) <= AUTO_MAX_NONZEROS
    out = tmp_path / "out"
    assert main(["plan", str(path), "--out", str(out), "--solver", "auto", "-q"]) == 0
    auto = json.loads((out / "summary.json").read_text())["solver_details"]["auto"]
    assert auto["chose"] == "milp" and auto["nonzeros"] == model_nonzeros(load_scenario(path))


def test_budget_from_the_scenario_file_is_kept(tmp_path):
    config = base_config()
    config["sites"][0]["energy_budget_kwh"] = 0.40   # one job needs 0.41 kWh at least
    path = write_scenario(tmp_path / "s", config)
    out = tmp_path / "out"
    assert main(["plan", str(path), "--out", str(out), "--solver", "milp", "-q"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [u["job_id"] for u in summary["unplaced"]] == ["a"]


@pytest.mark.parametrize("flag", [["--gap", "0"], ["--time-limit", "-1"], ["--threads", "1.5"]])
def test_bad_solver_options_are_usage_errors(tmp_path, flag, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as stop:
        main(["plan", str(short_sighted(tmp_path)), "--out", str(out), *flag])
    assert stop.value.code == 2 and not out.exists()
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_shows_incumbent_bound_and_gap_on_a_terminal_only():
    terminal = _Terminal()
    with ProgressLine("milp", stream=terminal, delay_s=0.0) as line:
        line.update(110.0, None)
        line.update(100.0, 90.0)
        line.update(105.0, 80.0)   # neither improves: kept at 100 / 90
        text = line.text()
    assert "plan 100" in text and "bound 90" in text and "gap 10.00%" in text
    piped = io.StringIO()
    with ProgressLine("milp", stream=piped, delay_s=0.0) as line:
        line.update(1.0, 0.5)
    assert piped.getvalue() == ""


def test_progress_line_shows_the_phase_and_the_time_left_before_any_figure():
    with ProgressLine("auto", stream=_Terminal(), delay_s=0.0, time_limit_s=60.0) as line:
        before = line.text()
        line.phase("lp bound")
        line.update(None, 480.2)
        during = line.text()
    assert before.startswith("[auto] ") and "plan -" in before and "bound -" in before
    assert "s left" in before
    assert during.startswith("[auto] lp bound ") and "bound 480.2" in during
    assert "plan -" in during and "gap" not in during
