"""The real queue on the local Slurm (issue 15): another user's held jobs in the opt-in set are
planned and moved in place, a running job outside the set holds its GPUs, a drained node is
out, and nothing outside the set changes."""

from __future__ import annotations

import json
import os
import time

import pandas as pd
import pytest

from greenslot.cli import main
from greenslot.slurm.ledger import Ledger
from tests.helpers.slurm import as_nobody, begin_of, local, queue, slurm_scenario

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="submitting as another user needs root")

MARK = "greenslot:queue"


def _submit(*args: str, user=as_nobody) -> str:
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


def test_submit_refuses_a_plan_that_no_longer_fits_the_cluster(slurm, tmp_path, capsys):
    jobs = [{"job_id": "big", "gpus": 4, "duration_h": 1, "command": "sleep 1"}]
    path = slurm_scenario(tmp_path / "s", jobs)
    night = tmp_path / "night"
    assert main(["plan", str(path), "--out", str(night), "-q"]) == 0
    node = pd.read_csv(night / "schedule.csv").loc[0, "nodes"]
    # After planning, someone starts a long job on the planned node.
    theirs = slurm.run("sbatch", "--parsable", "-o/dev/null", "-Jtheirs", "-w", node,
                       "--gres=gpu:1", "-t", "600", "--wrap", "sleep 3600").stdout.strip()
    _wait_running(slurm, theirs)
    capsys.readouterr()
    assert main(["submit", str(night)]) == 4
    err = capsys.readouterr().err
    assert f"big: node {node} would hold 5 GPUs of 4 (Slurm job {theirs} of root" in err
    assert "nothing submitted" in err and err.count("\n") == 1
    assert not Ledger(night / "submitted.tsv").entries()
    slurm.run("scancel", theirs)
    # A drained node is out for submit too.
    slurm.run("scontrol", "update", f"NodeName={node}", "State=DRAIN", "Reason=issue15-test")
    try:
        assert main(["submit", str(night)]) == 4
        assert f"big: node {node} is out (DRAIN" in capsys.readouterr().err
    finally:
        slurm.run("scontrol", "update", f"NodeName={node}", "State=RESUME")
    assert main(["submit", str(night)]) == 0
    out = capsys.readouterr().out
    assert "1 submitted" in out
    # This cluster has no power saving: the plan's power actions are reported, not applied.
    assert "power saving is off" in out and "not applied" in out


def test_slurm_options_reach_the_controller(slurm, tmp_path, capsys):
    path = slurm_scenario(tmp_path / "s", [], extra={"nodes": [
        {"names": "gsnode[1-3]", "site": "s1", "gpu_type": "G", "gpus": 4, "idle_w": 100,
         "partition": "gpu", "cpus": 8, "memory_mb": 64000}]})
    (tmp_path / "s" / "jobs.csv").write_text(
        "job_id,gpus,duration_h,command,account,mem,cpus_per_task,sbatch_args\n"
        "opts,1,1,true,ml-team,1000M,2,\"--mail-type=NONE '--signal=B:USR1@60'\"\n"
        "huge,1,1,true,,,16,\n")
    night = tmp_path / "night"
    assert main(["plan", str(path), "--out", str(night), "-q"]) == 0
    summary = json.loads((night / "summary.json").read_text())
    # 16 CPUs a task: no node declares that many, so it is unplaced.
    assert [u["job_id"] for u in summary["unplaced"]] == ["huge"]
    assert main(["submit", str(night)]) == 0
    (slurm_id,) = [i for job, i, _ in Ledger(night / "submitted.tsv").entries() if job == "opts"]
    shown = slurm.run("scontrol", "show", "job", slurm_id).stdout
    for wanted in ("Account=ml-team", "MinCPUsNode=2", "MinMemoryNode=1000M"):
        assert wanted in shown, shown
