"""Begin times reach Slurm exactly, whatever the submitting host's time zone (issue 7 review).

sbatch and scontrol read times without an offset in the *client's* zone. In New York the hour
01:00-02:00 on 2027-11-07 happens twice; a time written in local time there is ambiguous, and
Slurm takes the first (EDT) reading. greenslot writes UTC and runs the clients with TZ=UTC.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from greenslot.cli import main
from greenslot.slurm.ledger import Ledger
from tests.helpers.slurm import plan_id_of, plan_into, run_submit_sh, slurm_scenario

REPEATED = 1825569000  # 2027-11-07T06:30Z: 01:30 EST, the second 01:30 of that New York night
JOBS = [{"job_id": "a", "gpus": 1, "duration_h": 1, "command": "true", "power_limit_w": 300}]


@pytest.fixture
def new_york(monkeypatch):
    """This process (and the Slurm clients it starts) in America/New_York."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _begin_in_the_repeated_hour(plan_dir: Path) -> None:
    """Move the plan's only job to the repeated hour, in sbatch.json and in submit.sh."""
    data = json.loads((plan_dir / "sbatch.json").read_text())
    planned = data["jobs"][0]["begin_epoch"]
    data["jobs"][0]["begin_epoch"] = REPEATED
    (plan_dir / "sbatch.json").write_text(json.dumps(data))
    script = (plan_dir / "submit.sh").read_text()
    assert f"begin_time {planned})" in script
    (plan_dir / "submit.sh").write_text(script.replace(f"begin_time {planned})",
                                                       f"begin_time {REPEATED})"))


@pytest.mark.parametrize("how", ["greenslot submit", "submit.sh"])
def test_a_begin_in_the_repeated_hour_reaches_slurm_exactly(slurm, tmp_path, new_york, how):
    path = slurm_scenario(tmp_path / "s", JOBS)
    plan_dir = tmp_path / "plan"
    plan_into(path, plan_dir)
    _begin_in_the_repeated_hour(plan_dir)
    if how == "greenslot submit":
        assert main(["submit", str(plan_dir)]) == 0
    else:
        done = run_submit_sh(plan_dir, env=dict(os.environ))
        assert done.returncode == 0, done.stderr
    slurm_id = Ledger(plan_dir / "submitted.tsv").ids(plan_id_of(plan_dir))["a"]
    document = json.loads(slurm.run("squeue", "--json").stdout)
    (job,) = [j for j in document["jobs"] if str(j["job_id"]) == slurm_id]
    eligible = job["eligible_time"]
    eligible = eligible["number"] if isinstance(eligible, dict) else eligible
    assert eligible == REPEATED
