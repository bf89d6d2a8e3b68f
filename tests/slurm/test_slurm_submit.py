"""``greenslot submit`` and ``submit.sh`` against a real Slurm controller.

Asserted from ``squeue``: every placed job is there exactly once, pending for its planned
begin time on its planned nodes with its GPUs and dependencies; a second run submits nothing;
a run killed between ``sbatch`` and the ledger write, run again, completes each job exactly
once; a job planned a few seconds ahead really runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml

from greenslot.cli import main
from greenslot.slurm.ledger import Ledger
from greenslot.slurm.queue import scenario_key
from tests.helpers.scenarios import _write_csv
from tests.helpers.slurm import (
    begin_of,
    local,
    plan_id_of,
    plan_into,
    queue,
    run_submit_sh,
    slurm_scenario,
    tagged,
)

JOBS = [
    {"job_id": "prep", "gpus": 1, "duration_h": 1, "command": "sleep 1"},
    {"job_id": "train", "gpus": 2, "duration_h": 2, "depends_on": "prep", "command": "sleep 1"},
    {"job_id": "wide", "gpus": 8, "duration_h": 1, "command": "sleep 1"},
    {"job_id": "batch", "gpus": 4, "duration_h": 1, "script": "job.sh"},
    {"job_id": "eval", "gpus": 1, "duration_h": 1, "depends_on": "train;wide",
     "command": "true"},
    {"job_id": "nothing", "gpus": 1, "duration_h": 1},
]


def _write_scenario(folder: Path) -> Path:
    path = slurm_scenario(folder, JOBS)
    (folder / "job.sh").write_text("#!/bin/bash\nsleep 1\n")
    return path


def _settled(slurm, plan_id: str, count: int, timeout_s: float = 15) -> list[dict]:
    """The plan's rows once each has left the transient reason ``None`` (one scheduler pass)."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = tagged(slurm, plan_id)
        if len(rows) >= count and all(r["reason"] != "None" for r in rows):
            return rows
        if time.monotonic() > deadline:
            return rows
        time.sleep(0.3)


def _assert_plan_in_queue(slurm, plan_dir: Path, schedule, plan_id: str) -> dict[str, str]:
    """Every submittable placed job once, pending for its planned start on its nodes."""
    submittable = [j for j in schedule.index if j != "nothing"]
    rows = _settled(slurm, plan_id, len(submittable))
    by_name = {}
    for row in rows:
        assert row["name"] not in by_name, f"{row['name']} submitted twice"
        by_name[row["name"]] = row
    assert sorted(by_name) == sorted(submittable)
    ids = Ledger(plan_dir / "submitted.tsv").ids(plan_id)
    assert {j: by_name[j]["id"] for j in submittable} == ids
    for job_id in submittable:
        row, planned = by_name[job_id], schedule.loc[job_id]
        gpus_each = int(planned["gpus"]) if int(planned["gpus"]) <= 4 else 4
        assert row["state"] == "PENDING"
        assert row["nodes"] == planned["nodes"], job_id
        assert row["gres"] == f"gres:gpu:{gpus_each}", job_id
        deps = {"train": ["prep"], "eval": ["train", "wide"]}.get(job_id)
        if deps:
            assert row["reason"] in ("Dependency", "BeginTime"), row
            want = ",".join(f"afterok:{ids[d]}(unfulfilled)" for d in deps)
            assert row["dependency"].replace("&", ",") == want, row
        else:
            assert row["reason"] == "BeginTime", row
            assert row["start"] == local(planned["start"]), job_id
            assert row["dependency"] == "(null)"
    return ids


def _new(output: str) -> list[str]:
    """The lines that report a new submission (both tools print ``submitted JOB as ...``)."""
    return [line for line in output.splitlines() if line.startswith("submitted ")]


@pytest.mark.parametrize("how", ["greenslot submit", "submit.sh"])
def test_every_placed_job_is_queued_once_as_planned_and_a_rerun_adds_nothing(
        slurm, tmp_path, how, capsys):
    schedule = plan_into(_write_scenario(tmp_path / "s"), tmp_path / "plan")
    plan_id = plan_id_of(tmp_path / "plan")
    assert len(schedule) == len(JOBS)

    def submit():
        if how == "submit.sh":
            done = run_submit_sh(tmp_path / "plan")
            assert done.returncode == 0, done.stderr
            return done.stdout
        assert main(["submit", str(tmp_path / "plan")]) == 0
        return capsys.readouterr().out

    first = submit()
    assert len(_new(first)) == 5
    ids = _assert_plan_in_queue(slurm, tmp_path / "plan", schedule, plan_id)
    for job_id in ("train", "eval"):
        assert begin_of(slurm, ids[job_id]) == local(schedule.loc[job_id, "start"])
    assert (tmp_path / "s" / "job.sh").resolve().as_posix() in slurm.run(
        "scontrol", "show", "job", ids["batch"]).stdout
    second = submit()
    assert _new(second) == []
    assert _assert_plan_in_queue(slurm, tmp_path / "plan", schedule, plan_id) == ids
    # The other tool sees the same ledger and adds nothing either.
    if how == "submit.sh":
        assert main(["submit", str(tmp_path / "plan")]) == 0
        assert "0 submitted, 5 already in Slurm" in capsys.readouterr().out
    else:
        assert _new(run_submit_sh(tmp_path / "plan").stdout) == []
    assert len(tagged(slurm, plan_id)) == 5


def _sbatch_that_hangs_after(folder: Path, calls: int) -> dict[str, str]:
    """An environment whose ``sbatch`` is the real one, but that hangs after the N-th success.

    That is the worst moment to die: Slurm has the job, the ledger does not.
    """
    folder.mkdir()
    real = subprocess.run(["bash", "-c", "command -v sbatch"], capture_output=True, text=True,
                          check=True).stdout.strip()
    counter, hung = folder / "count", folder / "hung"
    wrapper = folder / "sbatch"
    wrapper.write_text(f"""#!/bin/bash
n=$(( $(cat {counter} 2>/dev/null || echo 0) + 1 ))
echo "$n" > {counter}
{real} "$@" || exit $?
if [ "$n" -eq {calls} ]; then touch {hung}; exec sleep 60; fi
""")
    wrapper.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}"}


@pytest.mark.parametrize("how", ["greenslot submit", "submit.sh"])
def test_a_run_killed_after_sbatch_then_rerun_submits_each_job_exactly_once(
        slurm, tmp_path, how):
    schedule = plan_into(_write_scenario(tmp_path / "s"), tmp_path / "plan")
    plan_id = plan_id_of(tmp_path / "plan")
    env = _sbatch_that_hangs_after(tmp_path / "bin", 3)
    command = ([sys.executable, "-m", "greenslot", "submit", str(tmp_path / "plan")]
               if how == "greenslot submit" else ["bash", str(tmp_path / "plan" / "submit.sh")])
    process = subprocess.Popen(command, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (tmp_path / "bin" / "hung").exists():
        assert process.poll() is None and time.monotonic() < deadline, "never reached job 3"
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    ledger = Ledger(tmp_path / "plan" / "submitted.tsv")
    assert len(ledger.ids(plan_id)) == 2  # the third job is in Slurm but not in the ledger
    assert len(tagged(slurm, plan_id)) == 3

    if how == "submit.sh":  # the same tool again: each recognises the other's gap itself
        again = run_submit_sh(tmp_path / "plan")
        assert again.returncode == 0, again.stderr
        assert "already in the queue as Slurm job" in again.stdout
    else:
        assert main(["submit", str(tmp_path / "plan")]) == 0
    _assert_plan_in_queue(slurm, tmp_path / "plan", schedule, plan_id)
    assert len(ledger.entries()) == 5


@pytest.mark.slow
def test_a_job_planned_seconds_ahead_really_runs_and_completes(slurm, tmp_path):
    jobs = [{"job_id": "soon", "gpus": 2, "duration_h": 10 / 3600,
             "command": "echo ran on $SLURMD_NODENAME"}]
    scenario = slurm_scenario(tmp_path / "s", jobs, slot="10s", slots=6,
                              lead=timedelta(seconds=8), carbon=[100, 200, 300, 400, 500, 600])
    schedule = plan_into(scenario, tmp_path / "plan")
    assert main(["submit", str(tmp_path / "plan")]) == 0
    (slurm_id,) = Ledger(tmp_path / "plan" / "submitted.tsv").ids(
        plan_id_of(tmp_path / "plan")).values()
    (row,) = queue(slurm, [slurm_id])
    assert row["state"] == "PENDING" and row["start"] == local(schedule.loc["soon", "start"])
    deadline = time.monotonic() + 60
    while row["state"] != "COMPLETED" and time.monotonic() < deadline:
        assert row["state"] in ("PENDING", "RUNNING", "COMPLETING", "CONFIGURING"), row
        time.sleep(0.5)
        (row,) = queue(slurm, [slurm_id])
    assert row["state"] == "COMPLETED"
    # Started at its begin time: not before, and within a few scheduler passes (2 s each).
    late = pd.Timestamp(row["start"]) - pd.Timestamp(local(schedule.loc["soon", "start"]))
    assert pd.Timedelta(0) <= late <= pd.Timedelta(seconds=10), late
    log = tmp_path / "plan" / "logs" / f"soon-{slurm_id}.out"
    assert log.read_text().strip() == f"ran on {schedule.loc['soon', 'nodes']}"


def test_a_curve_in_clocks_travels_as_gpu_freq(slurm, tmp_path, capsys):
    curve = [
        {"workload": "default", "power_limit_w": 300, "power_w": 300, "relative_throughput": 1.0,
         "gpu_freq_mhz": 1980},
        {"workload": "default", "power_limit_w": 200, "power_w": 200, "relative_throughput": 0.5,
         "gpu_freq_mhz": 1410},
    ]
    jobs = [{"job_id": "fast", "gpus": 1, "duration_h": 1, "command": "true",
             "power_limit_w": 200}]
    path = slurm_scenario(tmp_path / "s", jobs)
    _write_csv(tmp_path / "s" / "curve-g.csv", curve)
    plan_into(path, tmp_path / "plan")
    assert main(["submit", str(tmp_path / "plan")]) == 0
    (slurm_id,) = Ledger(tmp_path / "plan" / "submitted.tsv").ids(
        plan_id_of(tmp_path / "plan")).values()
    shown = slurm.run("scontrol", "show", "job", slurm_id).stdout
    assert "TresFreq=gpu:1410" in shown
    key = scenario_key(yaml.safe_load(path.read_text())["name"])
    assert f"Comment=greenslot:plan={plan_id_of(tmp_path / 'plan')},scenario={key}," \
           "power_limit_w=200,gpu_freq_mhz=1410" in shown


def test_submit_sh_stops_when_squeue_fails(slurm, tmp_path):
    """Without the queue, jobs a killed run submitted cannot be recognised: submit.sh stops
    with one line and exit 4, as greenslot submit does, instead of submitting (issue 7)."""
    jobs = [{"job_id": "a", "gpus": 1, "duration_h": 1, "command": "true"}]
    path = slurm_scenario(tmp_path / "s", jobs)
    plan_into(path, tmp_path / "plan")
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "squeue").write_text("#!/bin/sh\necho 'squeue: error: Unable to contact slurm "
                                 "controller' >&2\nexit 1\n")
    (shim / "squeue").chmod(0o755)
    env = dict(os.environ, PATH=f"{shim}:{os.environ['PATH']}")
    done = run_submit_sh(tmp_path / "plan", env=env)
    assert done.returncode == 4
    assert done.stderr.count("\n") == 1 and "squeue failed" in done.stderr
    assert Ledger(tmp_path / "plan" / "submitted.tsv").entries() == []
