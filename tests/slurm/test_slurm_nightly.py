"""The documented nightly wiring (``examples/slurm/nightly.sh``) on the real cluster."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.slurm import plan_id_of, queue, slurm_scenario, tagged

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "slurm" / "nightly.sh"
JOBS = [{"job_id": "n1", "gpus": 2, "duration_h": 1, "command": "true"},
        {"job_id": "n2", "gpus": 4, "duration_h": 2, "depends_on": "n1", "command": "true"}]


def _nightly(scenario: Path, root: Path, fetch: Path | None = None,
             history: Path | None = None) -> int:
    env = {**os.environ, "GREENSLOT": str(Path(sys.executable).with_name("greenslot"))}
    if fetch:
        env["GREENSLOT_FETCH"] = str(fetch)
    if history:
        env["GREENSLOT_HISTORY"] = str(history)
    return subprocess.run(["bash", str(SCRIPT), str(scenario), str(root)], env=env,
                          timeout=300).returncode


@pytest.mark.slow
def test_nightly_runs_twice_a_night_without_duplicates(slurm, tmp_path):
    scenario = slurm_scenario(tmp_path / "s", JOBS).parent
    fetch = tmp_path / "fetch"
    fetch.write_text(f"#!/bin/bash\necho fetched \"$1\" >> {tmp_path}/fetched\n")
    fetch.chmod(0o755)
    root = tmp_path / "plans"
    assert _nightly(scenario, root, fetch) == 0
    assert _nightly(scenario, root, fetch) == 0
    (log,) = (root / "logs").iterdir()
    text = log.read_text()
    assert text.count("step done: plan in") == 2, text
    assert (tmp_path / "fetched").read_text() == f"fetched {scenario}\n" * 2
    (plan_dir,) = [p for p in root.iterdir() if p.name != "logs"]
    ours = [r for r in queue(slurm) if r["comment"].startswith("greenslot:")
            and r["state"] == "PENDING"]
    assert sorted(r["name"] for r in ours) == ["n1", "n2"]  # twice run, once queued
    assert sorted(r["name"] for r in tagged(slurm, plan_id_of(plan_dir))) == ["n1", "n2"]


def test_a_failing_step_stops_the_night_with_its_exit_code(slurm, tmp_path):
    scenario = slurm_scenario(tmp_path / "s", JOBS).parent
    (scenario / "jobs.csv").write_text("job_id,gpus,duration_h\nbad id,1,1\n")
    root = tmp_path / "plans"
    assert _nightly(scenario, root) == 2
    (log,) = (root / "logs").iterdir()
    text = log.read_text()
    assert "[bad_name]" in text and "step sync FAILED (exit 2)" in text
    assert "step submit" not in text


def test_learning_from_past_nights_never_stops_the_night(slurm, tmp_path):
    """GREENSLOT_HISTORY asks for the earlier nights' runs first; this cluster has no slurmdbd,
    so ``ran`` fails: the failure is logged, nothing is written, and the night is planned."""
    scenario = slurm_scenario(tmp_path / "s", JOBS).parent
    root = tmp_path / "plans"
    assert _nightly(scenario, root) == 0
    (tonight,) = [p for p in root.iterdir() if p.name != "logs"]
    shutil.copytree(tonight, root / "2000-01-01")  # an earlier night's plan
    history = tmp_path / "past-runs.csv"
    assert _nightly(scenario, root, history=history) == 0
    (log,) = (root / "logs").iterdir()
    text = log.read_text()
    assert f"ran {scenario} {root / '2000-01-01'} --history {history}" in text
    assert f"step history FAILED for {root / '2000-01-01'}" in text
    assert f"ran {scenario} {tonight} " not in text  # tonight's own plan is not history yet
    assert text.count("step done: plan in") == 2 and not history.exists()
