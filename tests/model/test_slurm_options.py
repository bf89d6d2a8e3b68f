"""Per-job Slurm options (issue 15, item 4): read from jobs.csv, passed to sbatch as single
quoted arguments, and CPUs/memory keep a job off nodes that declare too few."""

from __future__ import annotations

import json
import shlex

import pytest

from greenslot.cli import main
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.schedule import Assignment, Schedule
from greenslot.model.validator import validate
from greenslot.pipeline.steps import plan
from tests.helpers.scenarios import base_config, write_scenario

JOBS = ("job_id,gpus,duration_h,command,account,qos,mem,cpus_per_task,constraint,sbatch_args\n"
        "big,1,1,true,ml-team,green,48G,24,a100&ib,"
        "\"--mail-type=END --export=NONE '--signal=B:USR1@60' '--mail-user=a b;$(rm -rf ~)'\"\n"
        "small,1,1,true,,,,,,\n")


@pytest.fixture
def scenario_path(tmp_path):
    config = base_config()
    # n1 is a small node (8 CPUs, 32 GB); n2 a big one (32 CPUs, 256 GB).
    config["nodes"] = [
        {"names": "n1", "site": "s1", "gpu_type": "G", "gpus": 2, "idle_w": 100,
         "partition": "gpu", "cpus": 8, "memory_mb": 32000},
        {"names": "n2", "site": "s1", "gpu_type": "G", "gpus": 2, "idle_w": 100,
         "partition": "gpu", "cpus": 32, "memory_mb": 256000}]
    path = write_scenario(tmp_path / "s", config, jobs=[])
    (tmp_path / "s" / "jobs.csv").write_text(JOBS)
    return path


def test_options_are_read(scenario_path):
    job = load_scenario(scenario_path).job("big")
    assert (job.account, job.qos, job.mem_mb, job.cpus_per_task, job.constraint) == (
        "ml-team", "green", 48 * 1024, 24, "a100&ib")
    assert job.sbatch_args == ("--mail-type=END", "--export=NONE", "--signal=B:USR1@60",
                               "--mail-user=a b;$(rm -rf ~)")


@pytest.mark.parametrize("solver", ["greedy", "milp", "cpsat"])
def test_a_job_too_big_for_a_node_is_not_placed_there(scenario_path, solver):
    scenario = load_scenario(scenario_path)
    result = plan(scenario, solver=solver)
    assert result.schedule.by_job()["big"].nodes == ("n2",)
    bad = Schedule((Assignment("big", 0, 1, 300.0, ("n1",)),
                    Assignment("small", 0, 1, 300.0, ("n1",))))
    (violation,) = [v for v in validate(scenario, bad) if v.kind == "restriction"]
    assert violation.job_id == "big" and "node n1 declares 8 CPUs" in str(violation)


def test_options_reach_sbatch_as_single_quoted_arguments(scenario_path, tmp_path):
    out = tmp_path / "plan"
    assert main(["plan", str(scenario_path), "--out", str(out), "-q"]) == 0
    data = json.loads((out / "sbatch.json").read_text())
    args = next(j["args"] for j in data["jobs"] if j["job_id"] == "big")
    for wanted in ("--account=ml-team", "--qos=green", f"--mem={48 * 1024}M",
                   "--cpus-per-task=24", "--constraint=a100&ib", "--mail-type=END",
                   "--export=NONE", "--signal=B:USR1@60", "--mail-user=a b;$(rm -rf ~)"):
        assert wanted in args
    script = (out / "submit.sh").read_text()
    line = next(x for x in script.splitlines() if x.startswith("submit big "))
    assert shlex.quote("--mail-user=a b;$(rm -rf ~)") in line
    assert shlex.quote("--constraint=a100&ib") in line
    small = next(j["args"] for j in data["jobs"] if j["job_id"] == "small")
    assert not [a for a in small if a.startswith(("--account", "--qos", "--mem", "--cpus"))]
