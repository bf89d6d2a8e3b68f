"""Scenarios on the local cluster's nodes, starting shortly after now, and queue helpers.

Every scenario gets a unique name, so each test's plan id (and Slurm tag) is its own even
though finished jobs of earlier tests stay visible in ``squeue -t all``.
"""

from __future__ import annotations

import math
import os
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from greenslot.cli import main
from tests.helpers.scenarios import base_config, write_scenario


def next_boundary(slot: timedelta, lead: timedelta) -> datetime:
    """The first multiple of ``slot`` (since the epoch) at least ``lead`` from now, in UTC."""
    now = time.time() + lead.total_seconds()
    step = slot.total_seconds()
    return datetime.fromtimestamp(math.ceil(now / step) * step, tz=UTC)


def slurm_scenario(folder: Path, jobs: list[dict], slot: str = "1h", slots: int = 8,
                   lead: timedelta = timedelta(hours=1), carbon: list[float] | None = None,
                   extra: dict | None = None) -> Path:
    """A scenario on ``gsnode[1-3]`` (4 GPUs each, partition ``gpu``) from the next boundary.

    ``carbon`` is one value per slot (default: falling then rising, so plans spread out).
    """
    step = pd.Timedelta(slot).to_pytimedelta()
    start = next_boundary(step, lead)
    config = base_config()
    config.update(name=f"slurm-{uuid.uuid4().hex[:8]}", start=start.isoformat(),
                  horizon=f"{int(step.total_seconds() * slots)}s", slot=slot)
    config["nodes"] = [{"names": "gsnode[1-3]", "site": "s1", "gpu_type": "G", "gpus": 4,
                        "idle_w": 100, "partition": "gpu"}]
    config.update(extra or {})
    carbon = carbon or [300 - 40 * min(i, slots - i) for i in range(slots)]
    rows = [{"time": (start + step * i).isoformat(), "carbon_g_per_kwh": c,
             "price_per_mwh": 100} for i, c in enumerate(carbon)]
    return write_scenario(folder, config, jobs, forecasts={"forecast-s1.csv": rows})


def plan_into(scenario: Path, out: Path) -> pd.DataFrame:
    """Plan with the real CLI and return ``schedule.csv`` (job_id as text, by job_id)."""
    assert main(["plan", str(scenario), "--out", str(out), "-q"]) == 0
    return pd.read_csv(out / "schedule.csv", dtype=str).set_index("job_id")


def local(iso: str) -> str:
    """A plan time as Slurm prints it: local time of this host, no offset."""
    return pd.Timestamp(iso).to_pydatetime().astimezone().strftime("%Y-%m-%dT%H:%M:%S")


FIELDS = ("id", "name", "state", "reason", "start", "nodes", "gres", "dependency", "comment")


def queue(slurm, ids=None) -> list[dict[str, str]]:
    """``squeue -t all`` rows (all states), optionally only the given Slurm ids."""
    args = ["squeue", "-h", "-t", "all", "-o", "%i|%j|%T|%r|%S|%n|%b|%E|%k"]
    rows = [dict(zip(FIELDS, line.split("|", 8), strict=True))
            for line in slurm.run(*args).stdout.splitlines() if line]
    if ids is not None:
        wanted = {str(i) for i in ids}
        rows = [r for r in rows if r["id"] in wanted]
    return rows


def tagged(slurm, plan_id: str) -> list[dict[str, str]]:
    """Queue rows of one plan, by the comment tag."""
    return [r for r in queue(slurm) if r["comment"].startswith(f"greenslot:plan={plan_id},")]


def run_submit_sh(plan_dir: Path, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(plan_dir / "submit.sh")], capture_output=True, text=True,
                          env=env, timeout=120)


def begin_of(slurm, slurm_id: str) -> str:
    """The begin time Slurm holds (``EligibleTime``), shown even for dependency-held jobs."""
    text = slurm.run("scontrol", "show", "job", str(slurm_id)).stdout
    return text.split("EligibleTime=", 1)[1].split()[0]


def plan_id_of(plan_dir: Path) -> str:
    import json

    return json.loads((plan_dir / "sbatch.json").read_text())["plan_id"]


def as_nobody(*args: str) -> subprocess.CompletedProcess:
    """Run a Slurm client as ``nobody``, with the cluster's folders readable to it.

    Why the retry: ``/tmp/pytest-of-root`` is shared by every pytest run of root on the host,
    and another run may reset it to 0700 between our chmod and the call.
    """
    conf = Path(os.environ["SLURM_CONF"])
    for _ in range(5):
        for folder in [conf, *conf.parents]:  # let nobody read slurm.conf and the munge socket
            if str(folder) in ("/", "/tmp"):
                break
            os.chmod(folder, os.stat(folder).st_mode | 0o005)
        done = subprocess.run(["runuser", "-u", "nobody", "--", "env",
                               f"PATH={os.environ['PATH']}", f"SLURM_CONF={conf}", *args],
                              capture_output=True, text=True, cwd="/tmp", timeout=60)
        if "Permission denied" not in done.stderr:
            break
    return done


_RECORD_POWER_CALL = """#!/bin/sh
echo "$(date -u +%s) {what} $1" >> {log}
"""


def recorded_power_conf(root: Path) -> tuple[Path, tuple[str, ...]]:
    """A power-saving ``slurm.conf`` whose suspend and resume programs only record their calls.

    Returns the log the programs append ``EPOCH suspend|resume HOSTLIST`` lines to, and the
    configuration lines; Slurm never suspends a node on its own (``SuspendTime`` a day), so
    every call in the log is one greenslot asked for.
    """
    log = root / "power-calls.log"
    programs = {}
    for what in ("suspend", "resume"):
        program = root / f"record-{what}.sh"
        program.write_text(_RECORD_POWER_CALL.format(what=what, log=log))
        program.chmod(0o755)
        programs[what] = program
    conf = (f"SuspendProgram={programs['suspend']}", f"ResumeProgram={programs['resume']}",
            "SuspendTime=86400", "SuspendTimeout=5", "ResumeTimeout=60",
            "SuspendRate=0", "ResumeRate=0")
    return log, conf
