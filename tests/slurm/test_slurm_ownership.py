"""``sync`` adopts only the jobs this scenario's plans submitted (review of issue 7).

A ``greenslot:`` comment proves nothing: any user can write it, and ``sync`` may run as root,
which Slurm lets move anyone's job. These jobs are real, on the local controller; the other
user's job is submitted as ``nobody`` with ``runuser``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from greenslot.cli import main
from greenslot.slurm.queue import scenario_key
from tests.helpers.slurm import queue, slurm_scenario

JOBS = [{"job_id": "a", "gpus": 1, "duration_h": 1, "command": "sleep 1", "power_limit_w": 300}]


def _key(path: Path) -> str:
    return scenario_key(yaml.safe_load(path.read_text())["name"])


def _pending(run, comment: str) -> str:
    """A pending job named like the scenario's job ``a``, far from where the plan puts it."""
    done = run("sbatch", "--parsable", "--begin=now+20000", "--nodelist=gsnode3", "--gres=gpu:1",
               "-t", "600", "-Ja", "-o/dev/null", f"--comment={comment}", "--wrap", "sleep 1")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_job_of_another_scenario_is_left_alone(slurm, tmp_path, capsys):
    path = slurm_scenario(tmp_path / "s", JOBS)
    other = _pending(slurm.run, "greenslot:plan=ffffffffffff,scenario=000000000000,"
                                "power_limit_w=300")
    untagged_scenario = _pending(slurm.run, "greenslot:plan=ffffffffffff,power_limit_w=300")
    before = queue(slurm, [other, untagged_scenario])
    assert main(["sync", str(path), "--out", str(tmp_path / "new"), "--apply"]) == 0
    assert "updated" not in capsys.readouterr().out
    assert queue(slurm, [other, untagged_scenario]) == before


def test_a_job_of_this_scenario_is_moved(slurm, tmp_path, capsys):
    path = slurm_scenario(tmp_path / "s", JOBS)
    mine = _pending(slurm.run, f"greenslot:plan=ffffffffffff,scenario={_key(path)},"
                               "power_limit_w=300")
    assert main(["sync", str(path), "--out", str(tmp_path / "new"), "--apply"]) == 0
    assert f"updated a (Slurm job {mine})" in capsys.readouterr().out


@pytest.mark.skipif(os.getuid() != 0, reason="submitting as another user needs root")
def test_another_users_job_with_this_scenarios_tag_is_left_alone(slurm, tmp_path, capsys):
    conf = Path(os.environ["SLURM_CONF"])
    for folder in [conf, *conf.parents]:  # let nobody read slurm.conf
        if str(folder) in ("/", "/tmp"):
            break
        os.chmod(folder, os.stat(folder).st_mode | 0o005)

    def as_nobody(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["runuser", "-u", "nobody", "--", "env",
                               f"PATH={os.environ['PATH']}", f"SLURM_CONF={conf}", *args],
                              capture_output=True, text=True, cwd="/tmp", timeout=60)

    path = slurm_scenario(tmp_path / "s", JOBS)
    theirs = _pending(as_nobody, f"greenslot:plan=ffffffffffff,scenario={_key(path)},"
                                 "power_limit_w=300")
    before = queue(slurm, [theirs])
    assert main(["sync", str(path), "--out", str(tmp_path / "new"), "--apply"]) == 0
    out = capsys.readouterr().out
    assert "updated" not in out and "0 pending in Slurm" in out
    assert queue(slurm, [theirs]) == before
