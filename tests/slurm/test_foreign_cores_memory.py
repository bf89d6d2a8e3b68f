"""Foreign load in cores and memory, not GPUs only (issue 15, item 4): a running job outside
the plan holds the CPUs and memory of its Slurm allocation, the planner plans around them,
and ``submit``'s last look counts them where the plan's nodes declare cores and memory."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime

import pytest

from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.schedule import Schedule
from greenslot.model.validator import validate
from greenslot.pipeline.steps import plan
from greenslot.slurm.capacity import conflicts
from greenslot.slurm.foreign import ForeignLoad, Hold, foreign_holds, with_foreign_load
from greenslot.slurm.intake import OptIn, take_queue
from greenslot.slurm.queue import parse_squeue_json, tres_cpus_memory
from tests.helpers.scenarios import START, base_config, hourly_forecast, write_scenario

T0 = int(datetime.fromisoformat(START).timestamp())
HOUR = 3600


@pytest.mark.parametrize("text, expected", [
    ("cpu=1,mem=8000M,node=1,billing=1", (1, 8000)),  # what the local 22.05 shows
    ("cpu=16,mem=64G,node=2,billing=16,gres/gpu=8", (16, 65536)),
    ("cpu=2,mem=1.5G", (2, 1536)), ("node=1", (None, None)), ("", (None, None)),
    (None, (None, None))])
def test_allocation_cores_and_memory_in_tres_text(text, expected):
    assert tres_cpus_memory(text) == expected


def test_a_running_job_holds_its_share_of_cores_and_memory_on_each_node():
    raw = {"job_id": 7, "name": "theirs", "job_state": "RUNNING", "state_reason": "None",
           "comment": "", "nodes": "n[1-2]", "start_time": T0 - 600, "end_time": T0 + HOUR,
           "user_name": "bob", "tres_per_node": "gres:gpu:1",
           "tres_alloc_str": "cpu=12,mem=40000M,node=2,billing=12"}
    (job,) = parse_squeue_json(json.dumps({"jobs": [raw]}))
    holds = foreign_holds([job], frozenset())
    assert [(h.node, h.gpus, h.cpus, h.memory_mb) for h in holds] == [
        ("n1", 1, 6, 20000), ("n2", 1, 6, 20000)]


@pytest.fixture
def scenario(tmp_path):
    config = base_config() | {"horizon": "4h"}
    config["nodes"] = [{"names": "n[1-2]", "site": "s1", "gpu_type": "G", "gpus": 2,
                        "idle_w": 100, "partition": "gpu", "cpus": 8, "memory_mb": 32000}]
    path = write_scenario(tmp_path / "s", config, jobs=[],
                          forecasts={"forecast-s1.csv": hourly_forecast([50, 400, 400, 400])})
    (tmp_path / "s" / "jobs.csv").write_text(
        "job_id,gpus,duration_h,cpus_per_task,mem\none,1,1,4,8000M\n")
    return load_scenario(path)


@pytest.mark.parametrize("solver", ["greedy", "milp", "cpsat"])
def test_the_planner_leaves_a_foreign_jobs_cores_alone(scenario, solver):
    # bob's job holds 1 of n1's 2 GPUs but 6 of its 8 cores through slot 0, the clean slot:
    # by GPUs "one" would share n1 there; by cores it goes to n2.
    hold = Hold(9, "n1", 1, T0 - 600, T0 + HOUR, "bob", cpus=6, memory_mb=4000)
    live, _ = with_foreign_load(scenario, ForeignLoad((hold,)))
    pinned = live.job("foreign-9-n1")
    assert (pinned.cpus_per_task, pinned.mem_mb) == (6, 4000)
    result = plan(live, solver=solver)
    assert validate(live, result.schedule) == []
    placed = result.schedule.by_job()["one"]
    assert (placed.start_slot, placed.nodes) == (0, ("n2",))
    # Moved onto n1 beside bob's job, "one" breaks the cores; against a GPU-only hold it fits.
    moved = Schedule(tuple(dataclasses.replace(a, nodes=("n1",)) if a.job_id == "one" else a
                           for a in result.schedule.assignments), result.schedule.unplaced)
    assert [v.kind for v in validate(live, moved)] == ["capacity"]
    bare, _ = with_foreign_load(scenario, ForeignLoad((dataclasses.replace(hold, cpus=0),)))
    assert validate(bare, moved) == []


def test_submit_counts_a_foreign_jobs_cores_and_memory(scenario):
    job = {"job_id": "one", "begin_epoch": T0, "end_epoch": T0 + HOUR,
           "args": ["--nodelist=n1"], "gpus_per_node": 1, "cpus_per_node": 4,
           "memory_per_node_mb": 8000}
    declared = {"node_cpus": {"n1": 8}, "node_memory_mb": {"n1": 32000}}
    cores = Hold(9, "n1", 1, T0 - 600, T0 + HOUR, "bob", cpus=6, memory_mb=4000)
    (line,) = conflicts([job], [job], {"n1": 2}, ForeignLoad((cores,)), declared)
    assert line == ("one: node n1 would hold 10 CPU cores of 8 (Slurm job 9 of bob started "
                    "after the plan was made)")
    memory = dataclasses.replace(cores, cpus=2, memory_mb=30000)
    (line,) = conflicts([job], [job], {"n1": 2}, ForeignLoad((memory,)), declared)
    assert "would hold 38000 MB of memory of 32000" in line
    fits = dataclasses.replace(cores, cpus=4, memory_mb=24000)
    assert conflicts([job], [job], {"n1": 2}, ForeignLoad((fits,)), declared) == []
    # A plan whose nodes declare neither is checked on GPUs only, as before.
    assert conflicts([job], [job], {"n1": 2}, ForeignLoad((cores,))) == []


@pytest.mark.parametrize("shape", ["22.05", "23.02+"])
def test_a_queued_job_asks_for_its_cores_and_memory(scenario, shape):
    def number(value):
        return value if shape == "22.05" else {"set": True, "infinite": False, "number": value}

    base = {"name": "q", "job_state": "PENDING" if shape == "22.05" else ["PENDING"],
            "state_reason": "JobHeldUser", "comment": "greenslot:queue,duration_h=1",
            "time_limit": number(60), "node_count": number(1), "user_name": "alice",
            "tres_per_node": "gres:gpu:1" if shape == "22.05" else "gres/gpu:1",
            "partition": "gpu", "nodes": ""}
    raw = [base | {"job_id": 11, "cpus_per_task": number(6), "memory_per_node": number(20000)},
           # --mem-per-cpu (or DefMemPerCPU) times the CPUs of its one task a node
           base | {"job_id": 12, "cpus_per_task": number(3), "memory_per_cpu": number(9000)},
           base | {"job_id": 13}]
    live, _ = take_queue(scenario, parse_squeue_json(json.dumps({"jobs": raw})), OptIn())
    asked = {j.job_id: (j.cpus_per_task, j.mem_mb) for j in live.jobs}
    assert asked["slurm-11"] == (6, 20000) and asked["slurm-12"] == (3, 27000)
    assert asked["slurm-13"] == (None, None)
    # By GPUs (3 of 4) and default cores, "one", slurm-11 and slurm-12 would all take the clean
    # slot 0; by what they ask (4, 6 and 3 of 8 cores; 8, 20 and 27 of 32 GB) no two can share
    # a node, so only two run there.
    live = live.replace(jobs=tuple(j for j in live.jobs if j.job_id != "slurm-13"))
    result = plan(live, solver="greedy")
    assert validate(live, result.schedule) == []
    in_first = [a.job_id for a in result.schedule.assignments if a.start_slot == 0]
    assert len(result.schedule.assignments) == 3 and len(in_first) == 2
