"""Idle power-down that happens (issue 15, item 3), on a local Slurm with power saving on.

The cluster's ``SuspendProgram`` and ``ResumeProgram`` only record each call (time, program,
node list), so the test sees exactly what slurmctld asked the site to do. The plan's actions
are applied with an injected clock (``greenslot power --at``), so nothing waits for the night.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime

import pytest

from greenslot.cli import main
from greenslot.model import hostlist
from tests.helpers.local_slurm import LocalSlurm
from tests.helpers.slurm import recorded_power_conf, slurm_scenario

pytestmark = pytest.mark.slurm  # a cluster of its own, not the slurm fixture


@pytest.fixture(scope="module")
def power_cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("slurm-power")
    log, power_conf = recorded_power_conf(root)
    cluster = LocalSlurm(root / "cluster", {"gsnode1": 4, "gsnode2": 4, "gsnode3": 4},
                         extra_conf=power_conf)
    cluster.start()
    cluster.power_log = log
    yield cluster
    cluster.stop()


def _calls(log, what: str, wait_s: float = 90, want: int = 1) -> list[str]:
    """Nodes of the recorded ``what`` calls, once at least ``want`` nodes were recorded
    (slurmctld's power thread runs them asynchronously; the wait is a bound, not a timing)."""
    deadline = time.monotonic() + wait_s
    while True:
        lines = log.read_text().splitlines() if log.exists() else []
        nodes = [n for line in lines if line.split()[1] == what
                 for n in hostlist.expand(line.split()[2])]
        if len(nodes) >= want or time.monotonic() > deadline:
            return nodes
        time.sleep(0.5)


def _wait_powered_down(cluster, nodes: set[str], wait_s: float = 90) -> None:
    deadline = time.monotonic() + wait_s
    while True:
        shown = cluster.run("sinfo", "-h", "-N", "-o", "%N %T").stdout.split("\n")
        states = dict(line.split() for line in shown if line.strip())
        if all(states.get(n, "").endswith("~") for n in nodes):
            return
        assert time.monotonic() < deadline, states
        time.sleep(0.5)


def test_planned_idle_windows_suspend_and_resume_nodes(power_cluster, tmp_path, monkeypatch,
                                                       capsys):
    monkeypatch.setenv("SLURM_CONF", power_cluster.env["SLURM_CONF"])
    monkeypatch.setenv("PATH", power_cluster.env["PATH"])
    jobs = [{"job_id": "a", "gpus": 4, "duration_h": 1, "command": "true",
             "power_limit_w": 300}]
    path = slurm_scenario(tmp_path / "s", jobs)
    night = tmp_path / "night"
    assert main(["plan", str(path), "--out", str(night), "-q"]) == 0
    data = json.loads((night / "sbatch.json").read_text())
    used = set(hostlist.expand(next(a for a in data["jobs"][0]["args"]
                                    if a.startswith("--nodelist=")).split("=", 1)[1]))
    idle_all_night = {"gsnode1", "gsnode2", "gsnode3"} - used
    windows = {(p["node"], p["suspend_epoch"], p["resume_epoch"]) for p in data["power"]}
    start = min(p["suspend_epoch"] for p in data["power"])
    for node in idle_all_night:  # idle the whole horizon: down at its start, up before its end
        assert (node, start, start + 8 * 3600 - 300) in windows
    at_start = datetime.fromtimestamp(start + 1, tz=UTC).isoformat()

    capsys.readouterr()
    assert main(["power", str(night), "--at", at_start]) == 0  # dry run: nothing happens
    assert "would power" in capsys.readouterr().out
    assert _calls(power_cluster.power_log, "suspend", wait_s=0) == []

    assert main(["power", str(night), "--apply", "--at", at_start]) == 0
    suspended = set(_calls(power_cluster.power_log, "suspend", want=len(idle_all_night)))
    assert idle_all_night <= suspended
    assert not used & suspended or all(  # the job's node only where a window is open at start
        any(p["node"] == n and p["suspend_epoch"] <= start < p["resume_epoch"]
            for p in data["power"]) for n in used & suspended)

    # Again at the same instant: converged, nothing new.
    capsys.readouterr()
    assert main(["power", str(night), "--apply", "--at", at_start]) == 0
    assert "power down" not in capsys.readouterr().out

    # Slurm takes SuspendTimeout to finish powering down; only then can a node be resumed.
    _wait_powered_down(power_cluster, suspended)
    # Resume time of the all-night windows: the nodes come back before the horizon ends.
    at_resume = datetime.fromtimestamp(start + 8 * 3600 - 300, tz=UTC).isoformat()
    assert main(["power", str(night), "--apply", "--at", at_resume]) == 0
    resumed = set(_calls(power_cluster.power_log, "resume", want=len(idle_all_night)))
    assert idle_all_night <= resumed
    assert os.access(power_cluster.power_log, os.R_OK)
