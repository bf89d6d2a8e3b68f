"""Hostile script names and commands reach Slurm verbatim and never run in the submitting shell.

Both submitters are checked against the real ``sbatch``: ``greenslot submit`` (argument lists)
and ``submit.sh`` (``shlex.quote``). Each hostile string tries to create a marker file in the
working folder through ``$()``, backticks, ``;`` and a newline; the test asserts no marker
appears and Slurm holds exactly the path and command the scenario gave.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from greenslot.cli import main
from greenslot.slurm.ledger import Ledger
from tests.helpers.slurm import plan_into, run_submit_sh, slurm_scenario

HOSTILE_NAME = "run it's \"$(touch pwned1)\" `touch pwned2`; touch pwned3 &\ntouch pwned4.sh"
HOSTILE_COMMAND = "echo 'hi' \"$(touch pwned5)\"; `touch pwned6` $HOME\ntrue"


def _hostile_scenario(folder: Path) -> Path:
    path = slurm_scenario(folder, [
        {"job_id": "scripted", "gpus": 1, "duration_h": 1},
        {"job_id": "wrapped", "gpus": 1, "duration_h": 1},
    ])
    (folder / HOSTILE_NAME).write_text("#!/bin/bash\ntrue\n")
    # Rewrite the jobs file with proper CSV quoting (the name holds a quote and a newline).
    with (folder / "jobs.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["job_id", "gpus", "duration_h", "script", "command"])
        writer.writerow(["scripted", 1, 1, HOSTILE_NAME, ""])
        writer.writerow(["wrapped", 1, 1, "", HOSTILE_COMMAND])
    return path


@pytest.mark.parametrize("how", ["greenslot submit", "submit.sh"])
def test_hostile_script_name_and_command_stay_inert(slurm, tmp_path, monkeypatch, how):
    scenario = _hostile_scenario(tmp_path / "s")
    plan_into(scenario, tmp_path / "plan")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    if how == "submit.sh":
        done = run_submit_sh(tmp_path / "plan")
        assert done.returncode == 0, done.stderr
    else:
        assert main(["submit", str(tmp_path / "plan")]) == 0
    assert sorted(p.name for p in work.iterdir()) == []
    assert not list((tmp_path / "plan").glob("pwned*"))
    plan_id = json.loads((tmp_path / "plan" / "sbatch.json").read_text())["plan_id"]
    ids = Ledger(tmp_path / "plan" / "submitted.tsv").ids(plan_id)
    assert sorted(ids) == ["scripted", "wrapped"]
    jobs = {j["name"]: j for j in json.loads(slurm.run("squeue", "--json").stdout)["jobs"]
            if str(j["job_id"]) in ids.values()}
    assert jobs["scripted"]["command"] == str((tmp_path / "s" / HOSTILE_NAME).resolve())
    assert jobs["scripted"]["job_state"] == "PENDING"
    script = slurm.run("scontrol", "write", "batch_script", ids["wrapped"], "-").stdout
    assert HOSTILE_COMMAND in script
