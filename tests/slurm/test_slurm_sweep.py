"""``greenslot sweep --cluster slurm``: Dask workers started as jobs on the real test Slurm."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers.slurm import slurm_scenario

# Dask workers started as jobs of the local Slurm: seconds per test.
pytestmark = [pytest.mark.dask, pytest.mark.slow]

JOBS = [{"job_id": "a", "gpus": 2, "duration_h": 1}, {"job_id": "b", "gpus": 4, "duration_h": 2}]


def _sweep(scenario: Path, out: Path, logs: Path, *extra: str) -> subprocess.CompletedProcess:
    """The installed command in its own process, with the fixture's Slurm on PATH."""
    return subprocess.run(
        [sys.executable, "-m", "greenslot", "sweep", str(scenario),
         "--vary", "objective=carbon,cost", "--out", str(out), "--cluster", "slurm",
         "--workers", "2", "--slurm-partition", "gpu", "--slurm-memory", "1GB",
         "--slurm-walltime", "00:10:00", "--slurm-log-dir", str(logs), *extra],
        env=dict(os.environ), capture_output=True, text=True, timeout=300)


def test_sweep_runs_its_points_on_slurm_worker_jobs(slurm, tmp_path):
    scenario = slurm_scenario(tmp_path / "s", JOBS)
    run = _sweep(scenario, tmp_path / "sweep", tmp_path / "logs")
    assert run.returncode == 0, run.stderr
    table = pd.read_csv(tmp_path / "sweep" / "sweep.csv")
    assert list(table["objective"]) == ["carbon", "cost"]
    assert set(table["status"]) == {"feasible"} and set(table["placed"]) == {2}
    # the points ran in Dask workers that Slurm started: their job logs name the scheduler
    worker_logs = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert worker_logs and all(name.startswith("dask-worker-") for name in worker_logs)
    assert any("Registered to" in p.read_text() for p in (tmp_path / "logs").glob("*.err"))


def test_a_partition_slurm_refuses_is_one_line_exit_2(slurm, tmp_path):
    scenario = slurm_scenario(tmp_path / "s", JOBS)
    run = _sweep(scenario, tmp_path / "sweep", tmp_path / "logs",
                 "--slurm-partition", "nosuch", "--slurm-start-timeout", "10")
    assert run.returncode == 2, run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("greenslot: error: no Dask worker started on Slurm"), run.stderr
    assert not (tmp_path / "sweep").exists()
