"""Never without a plan: a failing solver falls back to a valid one, and says so.

The failure is injected through the solver registry (the one seam every solver is looked up
through), replacing an entry with a function that raises or returns a broken schedule; the
fallback that then runs, the validator and the writers are the real ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from greenslot.cli import main
from greenslot.model.schedule import Assignment, Schedule
from greenslot.solvers import registry
from greenslot.solvers.types import SolveResult, SolveStatus
from tests.helpers.trust import Data

REPO = Path(__file__).resolve().parents[2]


def _explodes(scenario, options):
    raise RuntimeError("HiGHS returned status kError\nwith a second line")


def _double_books(scenario, options):
    """Every job on n1 at slot 0: two 2-GPU jobs on one 2-GPU node (an invalid schedule)."""
    assignments = tuple(Assignment(j.job_id, 0, 1, 300.0, ("n1",)) for j in scenario.jobs)
    return SolveResult("milp", SolveStatus.OPTIMAL, Schedule(assignments), bound=0.0,
                       solve_seconds=0.0)


def _two_jobs() -> Data:
    return Data(jobs=[{"job_id": "a", "gpus": 2, "duration_h": 1},
                      {"job_id": "b", "gpus": 2, "duration_h": 1}])


def _run(tmp_path, capsys, solver: str) -> tuple[int, str, dict | None]:
    scenario = _two_jobs().write(tmp_path / "s")
    out = tmp_path / "out"
    rc = main(["plan", str(scenario), "--out", str(out), "--solver", solver, "--quiet"])
    err = capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text()) if out.exists() else None
    if summary is not None:
        assert main(["validate", str(scenario), str(out)]) == 0, capsys.readouterr().err
    return rc, err, summary


@pytest.mark.parametrize(("broken", "says"), [
    (_explodes, "milp failed (RuntimeError: HiGHS returned status kError with a second line)"),
    (_double_books, "milp returned a schedule the validator rejects"),
])
def test_failing_exact_solver_falls_back_to_greedy(broken, says, monkeypatch, tmp_path, capsys,
                                                  caplog):
    monkeypatch.setitem(registry.SOLVERS, "milp", broken)
    rc, err, summary = _run(tmp_path, capsys, "milp")
    assert rc == 0
    assert summary["status"] == "feasible" and summary["solver"] == "greedy"
    assert summary["bound"] is None and summary["placed"] == 2
    assert summary["fallback"]["requested"] == "milp" and summary["fallback"]["used"] == "greedy"
    assert says in summary["fallback"]["reason"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [f"{summary['fallback']['reason']}; wrote the greedy plan instead "
                        "(status feasible)"]
    assert "Traceback" not in err


INJECT = """
import sys
from pathlib import Path
from greenslot.cli import main
from greenslot.solvers import registry
def explode(scenario, options):
    raise MemoryError("out of memory building the model")
registry.SOLVERS["cpsat"] = explode
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_the_warning_reaches_stderr_of_the_real_command(tmp_path):
    """Outside pytest's log capture: one warning line on stderr, the plan written, exit 0."""
    scenario = _two_jobs().write(tmp_path / "s")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-c", INJECT, "plan", str(scenario), "--out",
                           str(out), "--solver", "cpsat", "--quiet"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ("greenslot: cpsat failed (MemoryError: out of memory building the "
                           "model); wrote the greedy plan instead (status feasible)\n")
    assert json.loads((out / "summary.json").read_text())["fallback"]["used"] == "greedy"


def test_failing_greedy_falls_back_to_a_valid_fifo(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(registry.SOLVERS, "greedy", _explodes)
    rc, _err, summary = _run(tmp_path, capsys, "greedy")
    assert rc == 0
    assert summary["solver"] == "fifo" and summary["fallback"]["used"] == "fifo"


def test_no_valid_plan_at_all_exits_70_and_writes_nothing(monkeypatch, tmp_path, capsys):
    for name in ("milp", "greedy", "fifo"):
        monkeypatch.setitem(registry.SOLVERS, name, _double_books if name == "fifo"
                            else _explodes)
    rc, err, summary = _run(tmp_path, capsys, "milp")
    assert rc == 70 and summary is None
    assert err.count("\n") == 1 and "nothing written" in err
    assert "milp failed" in err and "fifo returned a schedule the validator rejects" in err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_a_working_solver_reports_no_fallback(tmp_path, capsys):
    rc, err, summary = _run(tmp_path, capsys, "greedy")
    assert rc == 0 and err == "" and summary["fallback"] is None


def test_the_python_api_refuses_an_unknown_solver_name(monkeypatch):
    """Issue 17.5: ``solver="milpp"`` once returned a greedy plan without a word."""
    from greenslot import load_scenario, plan
    from greenslot.pipeline import steps

    monkeypatch.setattr(steps, "solve_baselines", _must_not_run)
    with pytest.raises(ValueError, match=r"unknown solver 'milpp'; choose one of greedy"):
        plan(load_scenario(REPO / "examples" / "nightly"), solver="milpp")


def _must_not_run(*args, **kwargs):
    raise AssertionError("a misspelt solver should be refused before any work")


@pytest.mark.slow
def test_the_python_api_warns_when_it_writes_another_solvers_plan(tmp_path):
    """Issue 17.5: ``solver="fifo"`` gave the greedy plan silently (fifo misses a deadline)."""
    from greenslot import load_scenario, plan
    from greenslot.pipeline.steps import FallbackWarning

    scenario = load_scenario(REPO / "examples" / "nightly")
    with pytest.warns(FallbackWarning, match=r"^fifo returned a schedule the validator "
                      r"rejects .*; wrote the greedy plan instead \(status feasible\)$"):
        result = plan(scenario, solver="fifo")
    assert result.result.solver == "greedy"
    assert result.result.details["fallback"]["requested"] == "fifo"
