"""Issue 19's hostile inputs, each through the real CLI: one line, exit 2, nothing written.

Why apart from ``test_bad_inputs.py``: those are mistakes; these are inputs built to hang the
loader (alias bombs, a million nodes), exhaust memory (a 64 GiB grid), overflow (year 9999,
``1e308``) or slip through a pattern (a trailing newline). Before the fix each one hung, gave a
traceback, or planned NaN with exit 0. No test asserts a duration: a hang fails the
subprocess's generous timeout instead.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from greenslot.cli import main
from greenslot.model.checks import CHECKS
from tests.helpers.hostile_cases import FIXED
from tests.helpers.trust import Data


def assert_one_line(err: str, check: str, file: str, field: str | None) -> None:
    assert "Traceback" not in err, err[-3000:]
    assert err.endswith("\n") and err.count("\n") == 1, f"expected one line, got:\n{err[:3000]}"
    assert err.startswith("greenslot: error: ") and f"[{check}]" in err, err
    assert file in err, err
    if field is not None:
        assert f"field '{field}'" in err, err
    assert len(err) < 1000, f"a hostile value was echoed in full ({len(err)} characters)"


def test_every_expected_check_is_registered():
    assert {case[2] for case in FIXED} <= set(CHECKS)


@pytest.mark.parametrize("case", FIXED, ids=[c[0] for c in FIXED])
@pytest.mark.slow
def test_hostile_input_is_one_line_and_writes_nothing(case, tmp_path, capsys):
    _, mutate, check, file, field = case
    data = Data()
    mutate(data)
    scenario = data.write(tmp_path / "scenario")
    out = tmp_path / "out"
    rc = main(["plan", str(scenario), "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert rc == 2, captured.err[:3000]
    assert captured.out == ""
    assert_one_line(captured.err, check, file, field)
    assert not out.exists()


@pytest.mark.parametrize("case_id", ["alias-bomb-930b", "deep-flow-nesting",
                                     "hostlist-ten-parts", "horizon-100000d-1s"])
@pytest.mark.slow
def test_the_installed_command_answers_in_one_line(case_id, tmp_path):
    """Through the entry point, as the probe ran them (they hung or gave tracebacks there)."""
    _, mutate, check, file, field = next(c for c in FIXED if c[0] == case_id)
    data = Data()
    mutate(data)
    scenario = data.write(tmp_path / "scenario")
    done = subprocess.run([sys.executable, "-m", "greenslot", "plan", str(scenario), "--out",
                           str(tmp_path / "out"), "--quiet"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2, done.stderr[-3000:]
    assert_one_line(done.stderr, check, file, field)
    assert not (tmp_path / "out").exists()


def test_a_small_alias_use_still_loads(tmp_path, capsys):
    """Anchors are legitimate YAML: a node group copied with an alias plans as written."""
    data = Data()
    data.raw["scenario.yaml"] = (
        f'start: "{data.config["start"]}"\nhorizon: 4h\nslot: 1h\n'
        "sites: [{name: s1, forecast: forecast-s1.csv}]\n"
        "gpu_types: [{name: G, gpu_idle_w: 10, power_curve: curve-g.csv}]\n"
        "nodes:\n  - &group {names: 'n[1-2]', site: s1, gpu_type: G, gpus: 2, idle_w: 100}\n"
        "  - {names: 'm[1-2]', site: s1, gpu_type: G, gpus: 2, idle_w: 100}\n"
        "jobs: jobs.csv\n")
    assert main(["plan", str(data.write(tmp_path / "s")), "--out", str(tmp_path / "o"),
                 "-q"]) == 0, capsys.readouterr().err
