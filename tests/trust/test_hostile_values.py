"""Issue 19, items 5 and 6: command-line values and plan files built to break the tools.

Each must be one stderr line with exit 2 and no traceback: ``--objective`` JSON that is not a
weight mapping or carries NaN/Infinity, thread counts and time limits past anything real, a
site name that matplotlib would read as TeX, a summary.json with text where numbers belong.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from greenslot.cli import main
from tests.helpers.trust import Data, set_site


def plan_argv(tmp_path, *extra: str) -> list[str]:
    scenario = Data().write(tmp_path / "scenario")
    return ["plan", str(scenario), "--out", str(tmp_path / "out"), "-q", *extra]


@pytest.mark.parametrize("extra", [
    ("--objective", '{"carbon_kg": NaN}'),
    ("--objective", '{"carbon_kg": Infinity}'),
    ("--objective", '{"carbon_kg": 1e999}'),
    ("--objective", '{"carbon_kg": 1e300}'),
    ("--objective", "[1,2]"),
    ("--objective", '"carbon"'),
    ("--objective", "{}"),
    ("--objective", '{"carbon_kg": -1}'),
    ("--objective", '{"x" : 1}'),
    ("--objective", "[" * 100_000 + "]" * 100_000),
    ("--threads", "1e9"),
    ("--threads", "257"),
    ("--threads", "nan"),
    ("--threads", "0"),
    ("--time-limit", "inf"),
    ("--time-limit", "nan"),
    ("--time-limit", "1e300"),
    ("--gap", "inf"),
    ("--gap", "nan"),
], ids=lambda e: f"{e[0]}={e[1][:24]}")
def test_bad_command_line_values_are_one_line(tmp_path, capsys, extra):
    with pytest.raises(SystemExit) as stopped:
        main(plan_argv(tmp_path, *extra))
    err = capsys.readouterr().err
    assert stopped.value.code == 2
    assert err.count("\n") == 1 and extra[0] in err and "Traceback" not in err, err[:2000]
    assert len(err) < 600
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_entry_point_gives_the_same_line_for_a_nan_weight(tmp_path):
    """The probe saw a 48-line traceback here."""
    done = subprocess.run([sys.executable, "-m", "greenslot",
                           *plan_argv(tmp_path, "--objective", '{"carbon_kg": NaN}')],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "--objective" in done.stderr


def test_limits_at_the_edge_are_accepted(tmp_path, capsys):
    assert main(plan_argv(tmp_path, "--threads", "256", "--time-limit", "604800",
                          "--objective", '{"carbon_kg": 1e6, "cost": 0}')) == 0, \
        capsys.readouterr().err


@pytest.fixture
def tex_plan(tmp_path, capsys):
    """A plan of a scenario whose site is named like TeX that matplotlib cannot parse."""
    data = Data()
    set_site(name="tx$\\frac{$")(data)
    for node in data.config["nodes"]:
        node["site"] = "tx$\\frac{$"
    scenario = data.write(tmp_path / "scenario")
    out = tmp_path / "plan"
    assert main(["plan", str(scenario), "--out", str(out), "-q"]) == 0, capsys.readouterr().err
    return out


@pytest.mark.slow
def test_report_draws_a_site_named_like_tex(tex_plan, capsys):
    assert main(["report", str(tex_plan)]) == 0, capsys.readouterr().err
    page = (tex_plan / "report.html").read_text()
    assert "tx$\\frac{$" in page  # the name as written, escaped for HTML only where needed
    assert len(list(tex_plan.glob("power-*.png"))) == 1


@pytest.mark.parametrize(("key", "value"), [
    ("objective", "lots"), ("objective", [1]), ("gap", "small"), ("gap", True),
])
@pytest.mark.slow
def test_report_of_a_summary_with_text_for_numbers_is_one_line(tex_plan, capsys, key, value):
    summary_path = tex_plan / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary[key] = value
    summary_path.write_text(json.dumps(summary))
    rc = main(["report", str(tex_plan)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "[bad_plan]" in err, err
    assert "summary.json" in err and f"field '{key}'" in err
    assert not (tex_plan / "report.html").exists()


def test_report_of_a_summary_with_text_in_a_baseline_is_one_line(tex_plan, capsys):
    summary_path = tex_plan / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["baselines"]["fifo"]["carbon_kg"] = "much"
    summary_path.write_text(json.dumps(summary))
    rc = main(["report", str(tex_plan)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "baselines.fifo.carbon_kg" in err, err


@pytest.mark.slow
def test_a_hostile_override_value_is_not_echoed_in_full(tmp_path, capsys):
    """Found by the hostile fuzzer: ``--set name=[[[...`` (5,000 levels) is refused as
    too_large, and the line names the override without repeating its 10,000 characters."""
    rc = main(plan_argv(tmp_path, "--set", "name=" + "[" * 5000 + "]" * 5000))
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "[too_large]" in err, err[:500]
    assert "--set name=[[[" in err and len(err) < 600
