"""The shipped prolog/epilog pair (``examples/slurm/``) applies and restores ``nvidia-smi -pl``.

There are no GPUs here, so ``nvidia-smi`` is a recorder (``GREENSLOT_NVIDIA_SMI``); the jobs
and their comments are real, read back from the local controller with ``scontrol`` exactly as
on a node. The session cluster also runs both scripts for every job it starts, so a prolog
that failed would drain the nodes and fail the job tests.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "slurm"


@pytest.fixture
def nvidia_smi(tmp_path) -> tuple[Path, Path]:
    calls = tmp_path / "calls"
    fake = tmp_path / "nvidia-smi"
    limit = tmp_path / "limit"  # limit-<gpu>: that GPU's current power.limit
    fake.write_text(f"""#!/bin/bash
echo "$*" >> {calls}
if [[ "$3" == -pl ]]; then echo "$4" > {limit}-$2; fi
if [[ "$*" == *power.default_limit* ]]; then
  echo " 300.00, $(cat {limit}-$2 2>/dev/null || echo 300.00)"
fi
""")
    fake.chmod(0o755)
    return fake, calls


def _job(slurm, comment: str | None) -> str:
    args = ["sbatch", "--parsable", "--begin=now+3600", "--gres=gpu:2", "-t", "60", "-Jp",
            "-o/dev/null"]
    if comment:
        args.append(f"--comment={comment}")
    return slurm.run(*args, "--wrap", "true").stdout.strip()


QUERY = "--query-gpu=power.default_limit,power.limit --format=csv,noheader,nounits"


def _run(script: str, job_id: str, fake: Path, gpus: str = "0,3",
         **extra: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "SLURM_CONF": os.environ["SLURM_CONF"],
           "SLURM_JOB_ID": job_id, "SLURM_JOB_GPUS": gpus, "GREENSLOT_NVIDIA_SMI": str(fake),
           **extra}
    return subprocess.run(["bash", str(EXAMPLES / script)], env=env, capture_output=True,
                          text=True, timeout=30)


def _calls(calls: Path) -> list[str]:
    return calls.read_text().splitlines() if calls.exists() else []


def test_prolog_applies_and_epilog_restores_the_planned_limit(slurm, nvidia_smi):
    fake, calls = nvidia_smi
    job = _job(slurm, "greenslot:plan=abcdef012345,power_limit_w=200")
    assert _run("greenslot-prolog.sh", job, fake).returncode == 0
    assert _calls(calls) == ["-i 0 -pl 200", "-i 3 -pl 200"]
    calls.unlink()
    assert _run("greenslot-epilog.sh", job, fake).returncode == 0
    assert _calls(calls) == [f"-i 0 {QUERY}", "-i 0 -pl 300.00", f"-i 3 {QUERY}", "-i 3 -pl 300.00"]


@pytest.mark.parametrize("how", ["comment changed", "scontrol fails"])
def test_the_epilog_restores_whatever_the_comment_says_now(slurm, nvidia_smi, how):
    """The owner may edit the comment after the prolog ran, or scontrol may not answer: the
    limit the prolog set must not outlive the job either way (review of issue 7)."""
    fake, calls = nvidia_smi
    job = _job(slurm, "greenslot:plan=abcdef012345,power_limit_w=100")
    assert _run("greenslot-prolog.sh", job, fake).returncode == 0
    calls.unlink()
    extra = {}
    if how == "comment changed":
        slurm.run("scontrol", "update", f"JobId={job}", "Comment=changed by user")
    else:
        extra["GREENSLOT_SCONTROL"] = "/bin/false"
    assert _run("greenslot-epilog.sh", job, fake, **extra).returncode == 0
    assert _calls(calls) == [f"-i 0 {QUERY}", "-i 0 -pl 300.00", f"-i 3 {QUERY}", "-i 3 -pl 300.00"]


@pytest.mark.parametrize("comment", [None, "someone else's comment power_limit_w=100",
                                     "greenslot:plan=abcdef012345,power_limit_w=200,"
                                     "gpu_freq_mhz=1410"])
def test_foreign_jobs_and_clock_modes_are_left_alone(slurm, nvidia_smi, comment):
    """The prolog sets nothing; the epilog only checks that the limit is the default."""
    fake, calls = nvidia_smi
    job = _job(slurm, comment)
    assert _run("greenslot-prolog.sh", job, fake).returncode == 0
    assert _calls(calls) == []
    assert _run("greenslot-epilog.sh", job, fake).returncode == 0
    assert _calls(calls) == [f"-i 0 {QUERY}", f"-i 3 {QUERY}"]


def test_a_missing_nvidia_smi_never_fails_the_job(slurm, tmp_path):
    job = _job(slurm, "greenslot:plan=abcdef012345,power_limit_w=200")
    for script in ("greenslot-prolog.sh", "greenslot-epilog.sh"):
        done = _run(script, job, tmp_path / "no-such-nvidia-smi")
        assert done.returncode == 0
