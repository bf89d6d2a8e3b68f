"""The real queue on the local Slurm (issue 15): another user's held jobs in the opt-in set are
planned and moved in place, a running job outside the set holds its GPUs, a drained node is
out, and nothing outside the set changes."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from slurm_scenarios import begin_of, local, queue, slurm_scenario

from greenslot.cli import main

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="submitting as another user needs root")

MARK = "greenslot:queue"


def _as_nobody(*args: str) -> subprocess.CompletedProcess:
    conf = Path(os.environ["SLURM_CONF"])
    for folder in [conf, *conf.parents]:  # let nobody read slurm.conf
        if str(folder) in ("/", "/tmp"):
            break
        os.chmod(folder, os.stat(folder).st_mode | 0o005)
    return subprocess.run(["runuser", "-u", "nobody", "--", "env", f"PATH={os.environ['PATH']}",
                           f"SLURM_CONF={conf}", *args],
                          capture_output=True, text=True, cwd="/tmp", timeout=60)


def _submit(*args: str, user=_as_nobody) -> str:
    done = user("sbatch", "--parsable", "-o/dev/null", *args, "--wrap", "sleep 1")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().split(";")[0]


def _settled(slurm, slurm_id: str, wait_s: float = 60) -> dict[str, str]:
    """The job's queue row once the scheduler has looked at it since its release (it shows
    reason ``None`` until the next scheduling pass)."""
    deadline = time.monotonic() + wait_s
    while (row := queue(slurm, [slurm_id])[0])["reason"] == "None":
        assert time.monotonic() < deadline, row
        time.sleep(0.5)
    return row


def _wait_running(slurm, slurm_id: str, wait_s: float = 120) -> None:
    """Until the scheduler has started the job (a bound on waiting, not a timed assertion)."""
    deadline = time.monotonic() + wait_s
    while queue(slurm, [slurm_id])[0]["state"] != "RUNNING":
        assert time.monotonic() < deadline, queue(slurm, [slurm_id])
        time.sleep(0.5)


@pytest.fixture
def drained(slurm):
    slurm.run("scontrol", "update", "NodeName=gsnode3", "State=DRAIN", "Reason=issue15-test")
    yield "gsnode3"
    slurm.run("scontrol", "update", "NodeName=gsnode3", "State=RESUME")


def test_the_queue_is_planned_moved_and_foreign_load_respected(slurm, drained, tmp_path,
                                                               capsys):
    path = slurm_scenario(tmp_path / "s", [])
    # Someone else's running job outside the set: 3 of gsnode1's 4 GPUs for 10 hours.
    done = slurm.run("sbatch", "--parsable", "-o/dev/null", "-Jtheirs", "-w", "gsnode1",
                     "--gres=gpu:3", "-t", "600", "--wrap", "sleep 3600")
    foreign = done.stdout.strip()
    _wait_running(slurm, foreign)
    # Held jobs of another user in the opt-in set: one with an estimate, one after it.
    first = _submit("--hold", "-Jprep", "--gres=gpu:2", "-t", "120",
                    f"--comment={MARK},duration_h=1")
    second = _submit("--hold", "-Jtrain", "--gres=gpu:4", "-t", "90",
                     f"--dependency=afterok:{first}", f"--comment={MARK}")
    # Bad queue input: no GPUs; a dependency outside the set; a job after a bad one.
    no_gpus = _submit("--hold", "-Jnogpu", "-t", "60", f"--comment={MARK}")
    outside = _submit("--hold", "-Jafterforeign", "--gres=gpu:1", "-t", "60",
                      f"--dependency=afterany:{foreign}", f"--comment={MARK}")
    after_bad = _submit("--hold", "-Jafterbad", "--gres=gpu:1", "-t", "60",
                        f"--dependency=afterok:{no_gpus}", f"--comment={MARK}")
    # Pending jobs outside the set: no marker, and the marker in another partition's filter.
    unmarked = _submit("--hold", "-Jplain", "--gres=gpu:1", "-t", "60")
    left_alone = [foreign, no_gpus, outside, after_bad, unmarked]
    before = queue(slurm, left_alone)

    capsys.readouterr()
    assert main(["sync", str(path), "--out", str(tmp_path / "plan"), "--queue", "--apply"]) == 0
    out = capsys.readouterr().out
    assert f"queue: Slurm job {no_gpus}: requests no GPUs" in out
    assert (f"queue: Slurm job {outside}: depends on Slurm job {foreign}, which is outside the "
            "opt-in set; left as it is in Slurm") in out
    assert f"queue: Slurm job {after_bad}: depends on Slurm job {no_gpus}, which is left out" in out
    assert f"Slurm job {foreign} of root holds 3 GPU(s) of gsnode1" in out
    assert "node gsnode3: DRAIN" in out

    plan = pd.read_csv(tmp_path / "plan" / "schedule.csv", dtype=str).set_index("job_id")
    moved = {f"slurm-{first}": first, f"slurm-{second}": second}
    for job_id, slurm_id in moved.items():
        row = plan.loc[job_id]
        live = _settled(slurm, slurm_id)
        assert live["state"] == "PENDING", live
        assert live["reason"] in ("BeginTime", "Dependency"), live
        assert begin_of(slurm, slurm_id) == local(row["start"])
        assert live["nodes"] == row["nodes"] and "gsnode3" not in row["nodes"]
        assert live["gres"].endswith(f"gpu:{row['gpus']}"), live
        assert "plan=" in live["comment"] and live["comment"].startswith(MARK)
    assert plan.loc[f"slurm-{first}", "end"] <= plan.loc[f"slurm-{second}", "start"]
    # The 4-GPU job cannot share gsnode1 with the foreign job, and gsnode3 is drained.
    assert plan.loc[f"slurm-{second}", "nodes"] == "gsnode2"
    foreign_rows = plan[plan.index.str.startswith(f"foreign-{foreign}-")]
    assert list(foreign_rows["nodes"]) == ["gsnode1"]
    ours_on_1 = plan[(plan["nodes"] == "gsnode1") & ~plan.index.str.startswith("foreign-")]
    assert ours_on_1["gpus"].astype(int).sum() <= 1
    assert queue(slurm, left_alone) == before  # nothing outside the set changed
