"""The queue as input and foreign load, without a controller: Slurm's JSON shapes read the same,
queued jobs map to jobs (or one line why not), and foreign load is capacity every solver and the
validator respect."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta

import pandas as pd
import pytest

from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.scenario import Job
from greenslot.model.schedule import Assignment, Schedule
from greenslot.model.validator import validate
from greenslot.pipeline.steps import plan
from greenslot.slurm.foreign import (
    ForeignLoad,
    Hold,
    Outage,
    foreign_holds,
    node_outages,
    parse_reservations,
    parse_sinfo_json,
    with_foreign_load,
)
from greenslot.slurm.intake import OptIn, comment_fields, queue_moves, take_queue
from greenslot.slurm.power import PowerAction, power_actions
from greenslot.slurm.queue import gpu_count, parse_squeue_json
from tests.helpers.scenarios import START, base_config, hourly_forecast, write_scenario

T0 = int(datetime.fromisoformat(START).timestamp())  # the scenarios' start


def _num(value):
    return {"set": True, "infinite": False, "number": value}


def _job(slurm_id, shape="22.05", **extra):
    """One squeue --json job of ``shape`` (22.05: plain numbers; 23.02+: number objects)."""
    raw = {"job_id": slurm_id, "name": f"j{slurm_id}", "job_state": "PENDING",
           "state_reason": "JobHeldUser", "comment": "greenslot:queue", "time_limit": 60,
           "node_count": 1, "tres_per_node": "gres:gpu:1", "partition": "gpu",
           "user_id": 1000, "user_name": "alice", "account": "ml", "deadline": 0,
           "dependency": "", "nodes": "", "start_time": 0, "end_time": 0}
    raw.update(extra)
    if shape != "22.05":
        raw["job_state"] = [raw["job_state"]]
        for key in ("time_limit", "node_count", "deadline", "start_time", "end_time"):
            raw[key] = _num(raw[key]) if raw[key] else {"set": False, "infinite": False,
                                                        "number": 0}
        if isinstance(raw["tres_per_node"], str):
            raw["tres_per_node"] = raw["tres_per_node"].replace("gres:", "gres/")
    return raw


@pytest.mark.parametrize("text, gpus", [
    ("gres:gpu:2", 2), ("gres/gpu:2", 2), ("gpu:a100:4", 4), ("gres:gpu:a100:4", 4),
    ("cpu=1,mem=8000M,gres/gpu=3", 3), ("gpu:1(IDX:0)", 1), ("", None), (None, None),
    ("gres:shard:2", None)])
def test_gpu_requests_in_every_shape(text, gpus):
    assert gpu_count(text) == gpus


@pytest.mark.parametrize("shape", ["22.05", "23.02+"])
def test_queue_fields_read_the_same_in_both_shapes(shape):
    raw = _job(5, shape, node_count=2, tres_per_node="gres:gpu:2", deadline=T0 + 7200,
               dependency="afterok:4(unfulfilled)", time_limit=90)
    (job,) = parse_squeue_json(json.dumps({"jobs": [raw]}))
    assert (job.held, job.node_count, job.gpus_per_node, job.deadline_epoch) == (
        True, 2, 2, T0 + 7200)
    assert (job.account, job.user_name, job.dependency, job.time_limit_min) == (
        "ml", "alice", "afterok:4(unfulfilled)", 90)


@pytest.mark.parametrize("node", [
    {"name": "n1", "state": "idle", "state_flags": ["DRAIN"], "reason": "fan"},  # 22.05
    {"name": "n1", "state": ["IDLE", "DRAIN"], "reason": "fan"},  # 23.02+
    {"name": "n1", "state": "down*", "reason": "fan"},
])
def test_nodes_out_in_both_sinfo_shapes(node):
    nodes = parse_sinfo_json(json.dumps({"nodes": [node, {"name": "n2", "state": "mixed"}]}))
    (outage,) = node_outages(nodes)
    assert outage.node == "n1" and "fan" in outage.why


def test_reservations_of_others_are_outages_ours_are_not():
    text = ("ReservationName=maint StartTime=2020-03-02T19:00:00 EndTime=2020-03-02T20:00:00 "
            "Duration=01:00:00 Nodes=n[1-2] NodeCnt=2\n"
            "ReservationName=greenslot-hold StartTime=2020-03-02T19:00:00 "
            "EndTime=2020-03-02T20:00:00 Nodes=n1\n")
    at_19 = 1583175600  # 2020-03-02T19:00:00Z
    outages = parse_reservations(text)
    assert [(o.node, o.start_epoch, o.end_epoch) for o in outages] == [
        ("n1", at_19, at_19 + 3600), ("n2", at_19, at_19 + 3600)]


@pytest.fixture
def scenario(tmp_path):
    config = base_config() | {"horizon": "6h"}
    rows = hourly_forecast([100, 100, 500, 500, 50, 50])
    return load_scenario(write_scenario(tmp_path / "s", config, jobs=[],
                                        forecasts={"forecast-s1.csv": rows}))


@pytest.mark.parametrize("shape", ["22.05", "23.02+"])
def test_queued_jobs_map_to_jobs_and_bad_ones_get_one_line(scenario, shape):
    queue = parse_squeue_json(json.dumps({"jobs": [
        _job(1, shape, comment="greenslot:queue,duration_h=1.5", deadline=T0 + 5 * 3600),
        _job(2, shape, dependency="afterok:1(unfulfilled)", node_count=2,
             tres_per_node="gres:gpu:2"),
        _job(3, shape, tres_per_node=""),  # no GPUs
        _job(4, shape, time_limit=0),  # no limit, no estimate
        _job(5, shape, comment="greenslot:queue,duration_h=soon"),
        _job(6, shape, dependency="afterok:99(unfulfilled)"),  # outside the set
        _job(7, shape, dependency="afterok:3(unfulfilled)"),  # after a job left out
        _job(8, shape, dependency="after:1(unfulfilled)"),  # "after start": not plannable
        _job(9, shape, node_count=2, tres_per_node="gres:gpu:1"),  # half of two nodes
        _job(10, shape, comment="something else"),  # not opted in
        _job(11, shape, job_state="RUNNING", state_reason="None"),  # not pending
        _job(12, shape, partition="other"),  # another partition, filtered out below
    ]}))
    live, intake = take_queue(scenario, queue, OptIn(partition="gpu"))
    assert sorted(intake.jobs) == ["slurm-1", "slurm-2"]
    first, second = live.job("slurm-1"), live.job("slurm-2")
    assert (first.gpus, first.duration_h, first.deadline.timestamp()) == (1, 1.5, T0 + 18000)
    assert (second.gpus, second.duration_h, second.depends_on) == (4, 1.0, ("slurm-1",))
    assert intake.rejected == {
        3: "requests no GPUs (--gres=gpu:N or --gpus)",
        4: "no time limit (unset or UNLIMITED) and no duration_h in the comment",
        5: "duration_h='soon' in the comment is not a positive number of hours",
        6: "depends on Slurm job 99, which is outside the opt-in set",
        7: "depends on Slurm job 3, which is left out",
        8: "dependency after cannot be planned (only afterok and afterany)",
        9: "2 GPUs on 2 nodes: a multi-node job must take every GPU of each node",
    }
    assert all(line.endswith("left as it is in Slurm") for line in intake.lines())

    result = plan(live, solver="greedy")
    assert validate(result.scenario, result.schedule) == []
    moves = {m.job_id: m for m in queue_moves(live, result.schedule, "p1", intake)}
    a, b = result.schedule.by_job()["slurm-1"], result.schedule.by_job()["slurm-2"]
    assert a.end_slot <= b.start_slot and len(b.nodes) == 2
    start = (live.grid.start + timedelta(hours=a.start_slot)).strftime("%Y-%m-%dT%H:%M:%S")
    assert moves["slurm-1"].commands()[0][3] == f"StartTime={start}"
    assert moves["slurm-1"].commands()[1] == ["scontrol", "release", "1"]
    comment = moves["slurm-1"].commands()[0][-1].removeprefix("Comment=")
    assert comment.startswith("greenslot:queue,duration_h=1.5,plan=p1,power_limit_w=")
    assert comment_fields(comment)["duration_h"] == "1.5"


@pytest.mark.parametrize("solver", ["greedy", "milp", "cpsat"])
def test_foreign_load_is_capacity_for_every_solver(scenario, solver):
    """n1 has 1 of its 2 GPUs held all night and n2 is drained: a 2-GPU job has no room, and a
    1-GPU job may only share n1."""
    jobs = (Job("two", 2, 1.0, scenario.grid.start, scenario.grid.end),
            Job("one", 1, 1.0, scenario.grid.start, scenario.grid.end))
    running = parse_squeue_json(json.dumps({"jobs": [_job(
        20, job_state="RUNNING", state_reason="None", nodes="n1", start_time=T0 - 3600,
        end_time=T0 + 10 * 3600, gres_detail=["gpu:1(IDX:0)"], comment="")]}))
    load = ForeignLoad(tuple(foreign_holds(running, frozenset())),
                       (Outage("n2", None, None, "DRAIN (fan)"),))
    live, notes = with_foreign_load(scenario.replace(jobs=jobs), load)
    assert any("Slurm job 20 of alice holds 1 GPU(s) of n1" in n for n in notes)
    result = plan(live, solver=solver)
    assert validate(live, result.schedule) == []
    placed = result.schedule.by_job()
    assert placed["foreign-20-n1"].start_slot == -1 and placed["foreign-20-n1"].nodes == ("n1",)
    assert placed["one"].nodes == ("n1",) and "two" not in placed
    assert {u.job_id for u in result.schedule.unplaced} == {"two"}


def test_a_draining_node_keeps_its_running_job_and_lends_nothing(scenario):
    """n2 drains while a foreign job holds 1 GPU until slot 2: its other GPU is blocked in
    those slots, and the whole node after them."""
    hold = Hold(30, "n2", 1, T0, T0 + 2 * 3600, "bob")
    load = ForeignLoad((hold,), (Outage("n2", None, None, "DRAIN"),))
    live, _ = with_foreign_load(scenario, load)
    assert live.node("n2").unavailable_slots == frozenset({2, 3, 4, 5})
    blockers = [j for j in live.jobs if j.job_id.startswith("unavailable-n2-")]
    assert [(j.gpus, j.pinned_start.timestamp()) for j in blockers] == [(1, T0), (1, T0 + 3600)]
    extra = tuple(Job(f"j{i}", 1, 1.0, live.grid.start, live.grid.end) for i in range(3))
    result = plan(live.replace(jobs=live.jobs + extra), "greedy")
    assert validate(result.scenario, result.schedule) == []
    assert all(a.nodes == ("n1",) for a in result.schedule.assignments
               if a.job_id.startswith("j"))


def test_power_actions_are_the_idle_windows_of_power_down_sites(scenario):
    """6 one-hour slots; n1 runs a job in slots 2-3 and n2 is in maintenance in slot 5."""
    nodes = (scenario.node("n1"),
             dataclasses.replace(scenario.node("n2"), unavailable_slots=frozenset({5})))
    live = scenario.replace(nodes=nodes)
    schedule = Schedule((Assignment("x", 2, 4, 300.0, ("n1",)),))
    hour = 3600
    assert power_actions(live, schedule, lead_s=300) == (
        PowerAction("n1", T0, T0 + 2 * hour - 300),
        PowerAction("n1", T0 + 4 * hour, T0 + 6 * hour - 300),
        PowerAction("n2", T0, T0 + 5 * hour - 300))
    # A window shorter than twice the lead is left alone; a site that never powers down has none.
    assert power_actions(live, schedule, lead_s=1800)[0] == PowerAction(
        "n1", T0, T0 + 2 * hour - 1800)
    assert power_actions(live, schedule, lead_s=3601) == (  # n1's 2-hour windows < 2 leads
        PowerAction("n2", T0, T0 + 5 * hour - 3601),)
    always_on = live.replace(sites=tuple(dataclasses.replace(s, power_down_idle=False)
                                         for s in live.sites))
    assert power_actions(always_on, schedule) == ()


def test_a_move_raises_the_time_limit_only_when_the_planned_mode_outlasts_it(scenario):
    queue = parse_squeue_json(json.dumps({"jobs": [_job(1, time_limit=60)]}))
    live, intake = take_queue(scenario, queue, OptIn())
    fast = Schedule((Assignment("slurm-1", 1, 2, 300.0, ("n1",)),))
    slow = Schedule((Assignment("slurm-1", 1, 3, 200.0, ("n1",)),))  # half speed: 2 hours
    (move,) = queue_moves(live, fast, "p1", intake)
    assert not [f for f in move.fields if f.startswith("TimeLimit=")]
    (move,) = queue_moves(live, slow, "p1", intake)
    assert "TimeLimit=0-02:12:00" in move.fields  # 120 min + 10 % margin


def test_a_queued_jobs_range_sets_its_time_limit_in_the_planned_mode(scenario):
    """The comment's duration_max_h, or the user's own limit where the comment declares the
    typical duration_h, is the top of the run's range: a plan that slows the run down raises
    the limit so a run within that range is not killed for the plan's choice of mode."""
    queue = parse_squeue_json(json.dumps({"jobs": [
        _job(1, comment="greenslot:queue,duration_h=1", time_limit=90),
        _job(2, comment="greenslot:queue,duration_h=1,duration_max_h=2", time_limit=60),
        _job(3, comment="greenslot:queue,duration_h=1,duration_max_h=0.5"),
    ]}))
    live, intake = take_queue(scenario, queue, OptIn())
    assert intake.rejected == {3: "duration_max_h='0.5' in the comment is not a number of "
                                  "hours at least duration_h (1)"}
    assert (live.job("slurm-1").duration_max_h, live.job("slurm-2").duration_max_h) == (1.5, 2)
    assert live.job("slurm-1").planned_h == 1.0  # the median is reserved (duration_quantile)
    fast = Schedule((Assignment("slurm-1", 0, 1, 300.0, ("n1",)),
                     Assignment("slurm-2", 0, 1, 300.0, ("n2",))))
    limits = {m.job_id: [f for f in m.fields if f.startswith("TimeLimit=")]
              for m in queue_moves(live, fast, "p1", intake)}
    # Full speed: job 1's range ends at its own 90 min; job 2's declared 2 h do not fit 60.
    assert limits == {"slurm-1": [], "slurm-2": ["TimeLimit=0-02:05:00"]}
    slow = Schedule((Assignment("slurm-1", 0, 2, 200.0, ("n1",)),))  # half speed
    (move,) = [m for m in queue_moves(live, slow, "p1", intake) if m.job_id == "slurm-1"]
    assert "TimeLimit=0-03:05:00" in move.fields  # 1.5 h at half speed, plus 5 min


def test_a_queued_job_learns_from_its_users_past_runs(tmp_path):
    """With a duration history (what ``ran --history`` writes), alice's queued job gets the
    upper estimate her own runs teach, not her generous ten-hour limit."""
    folder = tmp_path / "s"
    config = base_config() | {"horizon": "6h", "duration_history": "history.csv"}
    path = write_scenario(folder, config, jobs=[], forecasts={
        "forecast-s1.csv": hourly_forecast([100, 100, 500, 500, 50, 50])})
    pd.DataFrame([{"workload": "default", "duration_h": 1, "actual_h": 1 + 0.05 * i,
                   "slurm_job_id": 100 + i, "user": "alice"} for i in range(5)]).to_csv(
        folder / "history.csv", index=False)
    queue = parse_squeue_json(json.dumps({"jobs": [
        _job(1, comment="greenslot:queue,duration_h=1", time_limit=600),
        _job(2, comment="greenslot:queue,duration_h=1", time_limit=600, user_name="bob")]}))
    live, _intake = take_queue(load_scenario(path), queue, OptIn())
    alice, bob = live.job("slurm-1"), live.job("slurm-2")
    assert (alice.user, alice.duration_max_h) == ("alice", pytest.approx(1.2))
    assert alice.planned_h == pytest.approx(1.1)  # the median of her five runs
    # bob has no runs, the workload has only alice's five: learnt from them too.
    assert bob.duration_max_h == pytest.approx(1.2)
