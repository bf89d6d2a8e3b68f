"""CPU cores and memory summed over the jobs sharing a node (issue 15, item 4): where GPUs
would let more jobs share a node than its declared cores or memory allow, every solver keeps
to the cores and memory, and the validator rejects a plan that does not."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model import rules
from greenslot.model.schedule import Assignment, Schedule
from greenslot.model.validator import validate
from greenslot.pipeline.steps import plan
from greenslot.solvers.formulation import build
from greenslot.solvers.pinned import place_pinned
from greenslot.solvers.prepare import prepare
from greenslot.solvers.state import ClusterState
from greenslot.solvers.types import SolveOptions
from tests.helpers.scenarios import base_config, hourly_forecast, write_scenario

# Slot 2 is far cleaner than the rest: every job wants it, and by GPUs alone all six fit.
CARBON = [400, 400, 20, 400]
SOLVERS = ["greedy", "fifo", "best_window", pytest.param("milp", marks=pytest.mark.slow),
           pytest.param("cpsat", marks=pytest.mark.slow),
           pytest.param("large", marks=pytest.mark.slow)]


def _options(solver: str) -> SolveOptions | None:
    """A time limit for ``large`` only: its Lagrangian bound drops the core and memory rows,
    so its gap stays open and it would search to its default limit; its rounding is what is
    tested here, and any stop gives a plan."""
    return SolveOptions(time_limit_s=5) if solver == "large" else None


def _scenario(tmp_path, jobs: list[dict], cpus: int | None = 8,
              memory_mb: int | None = 64000):
    config = base_config()
    node = {"names": "n[1-2]", "site": "s1", "gpu_type": "G", "gpus": 4, "idle_w": 100,
            "partition": "gpu"}
    node.update({k: v for k, v in (("cpus", cpus), ("memory_mb", memory_mb)) if v is not None})
    config["nodes"] = [node]
    path = write_scenario(tmp_path / "s", config, jobs=[],
                          forecasts={"forecast-s1.csv": hourly_forecast(CARBON)})
    columns = ["job_id", "gpus", "duration_h", "cpus_per_task", "mem"]
    lines = [",".join(columns)] + [",".join(str(j.get(c, "")) for c in columns) for j in jobs]
    (tmp_path / "s" / "jobs.csv").write_text("\n".join(lines) + "\n")
    return load_scenario(path)


def _peak_use(scenario, schedule) -> dict[str, int]:
    """Most GPUs, cores and MB any node holds in any slot, summed here from the schedule."""
    shape = (len(scenario.nodes), scenario.grid.n_slots)
    used = {"gpus": np.zeros(shape, int), "cpus": np.zeros(shape, int),
            "mem": np.zeros(shape, int)}
    for a in schedule.assignments:
        job = scenario.job(a.job_id)
        for name in a.nodes:
            i = scenario.node_position(name)
            used["gpus"][i, a.start_slot:a.end_slot] += job.gpus // len(a.nodes)
            used["cpus"][i, a.start_slot:a.end_slot] += job.cpus_per_task or 1
            used["mem"][i, a.start_slot:a.end_slot] += job.mem_mb or 0
    return {k: int(v.max()) for k, v in used.items()}


@pytest.mark.parametrize("solver", SOLVERS)
def test_cores_shared_on_a_node_stay_within_its_cpus(tmp_path, solver):
    # 1 GPU and 3 cores each: 4 would share a 4-GPU node, but only 2 fit its 8 cores.
    jobs = [{"job_id": f"j{k}", "gpus": 1, "duration_h": 1, "cpus_per_task": 3}
            for k in range(6)]
    scenario = _scenario(tmp_path, jobs, memory_mb=None)
    schedule = plan(scenario, solver=solver, options=_options(solver)).schedule
    assert validate(scenario, schedule) == []
    assert len(schedule.assignments) == 6  # room enough in the other slots
    peak = _peak_use(scenario, schedule)
    assert peak["cpus"] == 6 and peak["gpus"] == 2
    if solver not in ("fifo", "best_window"):  # the planners fill the clean slot's cores
        in_clean = [a for a in schedule.assignments if a.start_slot == 2]
        assert len(in_clean) == 4


@pytest.mark.parametrize("solver", SOLVERS)
def test_memory_shared_on_a_node_stays_within_its_memory(tmp_path, solver):
    # 40 GB each on 64 GB nodes: one job a node at a time, although the GPUs would take four.
    jobs = [{"job_id": f"m{k}", "gpus": 1, "duration_h": 1, "mem": "40000M"} for k in range(4)]
    scenario = _scenario(tmp_path, jobs)
    schedule = plan(scenario, solver=solver, options=_options(solver)).schedule
    assert validate(scenario, schedule) == []
    assert len(schedule.assignments) == 4
    assert _peak_use(scenario, schedule)["mem"] == 40000


def test_the_validator_rejects_cores_or_memory_summed_over_a_node(tmp_path):
    jobs = [{"job_id": "a", "gpus": 1, "duration_h": 1, "cpus_per_task": 3, "mem": "30000M"},
            {"job_id": "b", "gpus": 1, "duration_h": 1, "cpus_per_task": 3, "mem": "30000M"},
            {"job_id": "c", "gpus": 1, "duration_h": 1, "cpus_per_task": 3, "mem": "30000M"}]
    scenario = _scenario(tmp_path, jobs)
    # Each job alone fits n1 (3 of 8 cores, 30 of 64 GB); three together do not.
    edited = Schedule(tuple(Assignment(j, 1, 2, 300.0, ("n1",)) for j in "abc"))
    found = [str(v) for v in validate(scenario, edited)]
    assert found == ["[capacity] node n1 holds 9 CPU cores of 8 in slot 1 (a, b, c)",
                     "[capacity] node n1 holds 90000 MB of memory of 64000 in slot 1 (a, b, c)"]
    fine = Schedule((Assignment("a", 1, 2, 300.0, ("n1",)),
                     Assignment("b", 1, 2, 300.0, ("n1",)),
                     Assignment("c", 1, 2, 300.0, ("n2",))))
    assert validate(scenario, fine) == []


def test_a_job_without_cpus_per_task_holds_one_core_a_node(tmp_path):
    # Slurm's default: one task a node, one CPU a task. Three such jobs on a 2-core node are
    # one too many, although the node's four GPUs would take them.
    scenario = _scenario(tmp_path, [{"job_id": k, "gpus": 1, "duration_h": 1} for k in "abc"],
                         cpus=2, memory_mb=None)
    assert rules.cpus_on_node(scenario.job("a")) == 1
    edited = Schedule(tuple(Assignment(j, 2, 3, 300.0, ("n1",)) for j in "abc"))
    assert [v.kind for v in validate(scenario, edited)] == ["capacity"]
    schedule = plan(scenario, solver="milp").schedule
    assert _peak_use(scenario, schedule)["cpus"] == 2


def _row_names(scenario) -> list[str]:
    state = ClusterState(scenario)
    pinned = place_pinned(state)
    model, _ = build(prepare(scenario, pinned, state))
    return [row.name for row in model.rows]


def test_rows_for_cores_and_memory_only_where_a_job_could_exceed_them(tmp_path):
    light = [{"job_id": f"j{k}", "gpus": 1, "duration_h": 1, "cpus_per_task": 2,
              "mem": "16000M"} for k in range(3)]
    heavy = [*light, {"job_id": "h", "gpus": 1, "duration_h": 1, "cpus_per_task": 3}]
    undeclared = _row_names(_scenario(tmp_path / "u", light, cpus=None, memory_mb=None))
    within_ratio = _row_names(_scenario(tmp_path / "w", light))
    # 2 cores and 16 GB a GPU on nodes of 2 cores and 16 GB a GPU: the GPU rows imply them.
    assert within_ratio == undeclared
    assert not [n for n in undeclared if n.startswith(("cpus[", "memory["))]
    rows = _row_names(_scenario(tmp_path / "h", heavy))
    assert [n for n in rows if n.startswith("cpus[")] and not [
        n for n in rows if n.startswith("memory[")]


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jobs=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 8), st.integers(0, 64),
                               st.sampled_from([0.5, 1.0, 2.0])), min_size=1, max_size=7))
def test_constructive_plans_never_overfill_cores_or_memory(jobs):
    """Any mix of GPUs, cores (1-8) and memory (0-64 GB) on 8-core, 64 GB nodes: greedy and
    fifo plans keep every node's summed cores and memory within what it declares, counted
    here per node and slot independently of the validator and the solvers' bookkeeping."""
    rows = [{"job_id": f"p{k}", "gpus": g, "duration_h": h, "cpus_per_task": c,
             **({"mem": f"{m * 1000}M"} if m else {})} for k, (g, c, m, h) in enumerate(jobs)]
    with tempfile.TemporaryDirectory() as folder:
        scenario = _scenario(Path(folder), rows)
        for solver in ("greedy", "fifo"):
            schedule = plan(scenario, solver=solver).schedule
            shape = (len(scenario.nodes), scenario.grid.n_slots)
            cores, memory = np.zeros(shape, int), np.zeros(shape, int)
            for a in schedule.assignments:
                job = scenario.job(a.job_id)
                for name in a.nodes:
                    i = scenario.node_position(name)
                    cores[i, a.start_slot:a.end_slot] += job.cpus_per_task
                    memory[i, a.start_slot:a.end_slot] += job.mem_mb or 0
            assert cores.max(initial=0) <= 8 and memory.max(initial=0) <= 64000, solver


def test_a_job_left_out_for_cores_is_explained_as_such(tmp_path):
    # Two 6-core jobs on one 8-core node, both in slot 2's hour only: one fits, the other is
    # left out, and the reason names cores, not GPUs only (3 of the 4 are free).
    jobs = [{"job_id": k, "gpus": 1, "duration_h": 1, "cpus_per_task": 6} for k in "ab"]
    scenario = _scenario(tmp_path, jobs, memory_mb=None)
    one_node = scenario.replace(nodes=scenario.nodes[:1])
    one_slot = one_node.replace(jobs=tuple(
        dataclasses.replace(j, release=one_node.grid.time_of(2),
                            deadline=one_node.grid.time_of(3)) for j in one_node.jobs))
    (lost,) = plan(one_slot, solver="greedy").schedule.unplaced
    assert lost.reason.startswith("no free GPUs, CPU cores or memory on the 1 matching "
                                  "node(s) (n1)"), lost.reason
