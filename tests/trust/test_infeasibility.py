"""Every unplaced job gets a reason that says what holds it back, on hand-built scenarios.

Base cluster (``tests.helpers.scenarios.base_config``): site s1, two nodes n1, n2 of 2 GPUs (G),
partition ``gpu``, 4 one-hour slots from 2022-06-14T00:00Z; a 1-GPU job at full speed draws
300 W + 10 W (idle GPU) + 100 W (node) = 0.41 kW on a powered-down site.
"""

from __future__ import annotations

import pytest

from greenslot.cli import main
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.pipeline.steps import plan
from tests.helpers.scenarios import START
from tests.helpers.trust import Data, at


def _reasons(tmp_path, data: Data, solver: str = "greedy") -> dict[str, str]:
    scenario = load_scenario(data.write(tmp_path / "s"))
    result = plan(scenario, solver=solver)
    return {u.job_id: u.reason for u in result.schedule.unplaced}


def _two_sites(d: Data) -> None:
    """A second site s2 with its own GPU type H and 4-GPU nodes m1, m2 in partition ``big``."""
    d.config["sites"].append({"name": "s2", "forecast": "forecast-s1.csv"})
    d.config["gpu_types"].append({"name": "H", "gpu_idle_w": 10, "power_curve": "curve-g.csv"})
    d.config["nodes"].append({"names": "m[1-2]", "site": "s2", "gpu_type": "H", "gpus": 4,
                              "idle_w": 100, "partition": "big"})


def test_window_shorter_than_fastest_run(tmp_path):
    data = Data(jobs=[{"job_id": "long", "gpus": 1, "duration_h": 3, "release": at(1),
                       "deadline": at(3)}])
    reason = _reasons(tmp_path, data)["long"]
    assert reason.startswith("window too short: needs 3 h at its fastest mode")
    assert "only 2 h" in reason and at(1) in reason and at(3) in reason


@pytest.mark.parametrize(("job", "expected"), [
    ({"gpus": 6}, "needs 3 whole nodes of 2 GPUs at one site and GPU type, but at most 2 "
                  "exist (G at s1)"),
    ({"gpus": 12}, "needs 3 whole nodes of 4 GPUs at one site and GPU type, but at most 2 "
                   "exist (H at s2)"),
    ({"gpus": 4, "site": "s1", "partition": "big"},
     "no node has site=s1 and partition=big; relax the job's partition"),
    ({"gpus": 1, "gpu_type": "H", "site": "s1"}, "no node has gpu_type=H and site=s1"),
    ({"gpus": 6, "gpu_type": "G"}, "needs 3 whole nodes of 2 GPUs"),
])
def test_no_node_matches_names_the_restriction(job, expected, tmp_path):
    data = Data(jobs=[{"job_id": "x", "duration_h": 1, **job}])
    _two_sites(data)
    reason = _reasons(tmp_path, data)["x"]
    assert reason.startswith("no node matches"), reason
    assert expected in reason, reason


@pytest.mark.parametrize(("job", "sizes", "remedy"), [
    ({"gpus": 5}, "2/4 GPUs", "ask for 4 or 6 GPUs"),
    ({"gpus": 3, "gpu_type": "G"}, "2 GPUs", "ask for 2 or 4 GPUs"),
    ({"gpus": 6, "site": "s2"}, "4 GPUs", "ask for 4 or 8 GPUs"),
])
def test_gpus_not_a_whole_number_of_usable_nodes_is_an_input_error(job, sizes, remedy, tmp_path,
                                                                   capsys):
    """Contract: above a node's GPU count a job's GPUs must be a multiple of it; only the nodes
    its own restrictions allow count (3 GPUs fit an H node, 6 are three G nodes)."""
    data = Data(jobs=[{"job_id": "x", "duration_h": 1, **job}])
    _two_sites(data)
    out = tmp_path / "out"
    assert main(["plan", str(data.write(tmp_path / "s")), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[gpus_not_whole_nodes]" in err, err
    assert "jobs.csv, line 2, field 'gpus'" in err and sizes in err and remedy in err, err
    assert not out.exists()


def test_gpu_capacity_names_the_competing_jobs(tmp_path):
    """Three 2-GPU jobs for the whole horizon on two 2-GPU nodes: the third names the two."""
    data = Data(jobs=[{"job_id": f"j{i}", "gpus": 2, "duration_h": 4, "priority": 3 - i}
                      for i in range(3)])
    reason = _reasons(tmp_path, data)["j2"]
    assert reason.startswith("no free GPUs on the 2 matching node(s) (n1, n2)"), reason
    assert "jobs j0, j1 hold them" in reason


def test_power_cap_saturated_by_other_jobs_names_them_and_the_slot(tmp_path):
    """A 0.5 kW cap lets one 1-GPU job (0.41 kW) run at a time; four 1 h slots, five jobs."""
    data = Data(jobs=[{"job_id": f"j{i}", "gpus": 1, "duration_h": 1, "power_limit_w": 300}
                      for i in range(5)])
    data.site["power_cap_kw"] = 0.5
    reasons = _reasons(tmp_path, data)
    assert len(reasons) == 1
    (job_id, reason), = reasons.items()
    assert reason.startswith(f"power cap saturated between {START}"), reason
    named = reason.split(" by ", 1)[1].split(":", 1)[0]  # in start order
    assert sorted(named.split(", ")) == sorted({f"j{i}" for i in range(5)} - {job_id})
    assert "site s1's 0.5 kW cap has 0.09 kW left at its fullest slot" in reason


def test_power_cap_below_one_job(tmp_path):
    data = Data(jobs=[{"job_id": "a", "gpus": 2, "duration_h": 1}])
    data.site["power_cap_kw"] = 0.3
    reason = _reasons(tmp_path, data)["a"]
    assert reason.startswith("the site power cap leaves no room for it"), reason
    assert "even without other jobs" in reason and "raise power_cap_kw" in reason


def test_unplaced_dependency_is_named(tmp_path):
    data = Data(jobs=[{"job_id": "prep", "gpus": 1, "duration_h": 9},
                      {"job_id": "train", "gpus": 1, "duration_h": 1, "depends_on": "prep"}])
    reasons = _reasons(tmp_path, data)
    assert reasons["prep"].startswith("window too short")
    assert reasons["train"] == "depends on prep, which is not placed"


def test_pinned_job_conflict_is_named(tmp_path):
    """A running 4-GPU job holds both nodes to the horizon's end."""
    data = Data(jobs=[{"job_id": "running", "gpus": 4, "duration_h": 5, "pinned_start": at(-1),
                       "pinned_nodes": "n[1-2]"},
                      {"job_id": "new", "gpus": 1, "duration_h": 1}])
    reason = _reasons(tmp_path, data)["new"]
    assert reason.startswith("pinned-job conflict: pinned job(s) running hold the matching "
                             "nodes (n1, n2)"), reason


def test_maintenance_is_named(tmp_path):
    data = Data(jobs=[{"job_id": "a", "gpus": 1, "duration_h": 1}])
    data.config["nodes"][0]["unavailable"] = [{"from": START, "to": at(4)}]
    reason = _reasons(tmp_path, data)["a"]
    assert reason.startswith("maintenance windows leave no room on matching nodes (n1, n2)")


def test_exact_solver_gets_the_same_precise_reasons(tmp_path):
    data = Data(jobs=[{"job_id": f"j{i}", "gpus": 2, "duration_h": 4, "priority": 3 - i}
                      for i in range(3)])
    reason = _reasons(tmp_path, data, solver="milp")["j2"]
    assert "jobs j0, j1 hold them" in reason


def test_strict_exits_3_with_every_reason_and_writes_nothing(tmp_path, capsys):
    data = Data(jobs=[{"job_id": "long", "gpus": 1, "duration_h": 9},
                      {"job_id": "after", "gpus": 1, "duration_h": 1, "depends_on": "long"},
                      {"job_id": "ok", "gpus": 1, "duration_h": 1}])
    out = tmp_path / "out"
    rc = main(["plan", str(data.write(tmp_path / "s")), "--out", str(out), "--strict",
               "--quiet"])
    err = capsys.readouterr().err
    assert rc == 3
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "long: window too short: needs 9 h" in err
    assert "after: depends on long, which is not placed" in err
    assert not out.exists()


def test_a_job_a_solver_skipped_although_it_fits_is_called_that(monkeypatch, tmp_path):
    """A solver that places nothing: the re-derived reason says the job fits, not 'no room'."""
    from greenslot.model.schedule import Schedule, Unplaced
    from greenslot.solvers import registry
    from greenslot.solvers.types import SolveResult, SolveStatus

    def lazy(scenario, options):
        skipped = tuple(Unplaced(j.job_id, "no room") for j in scenario.jobs)
        return SolveResult("lazy", SolveStatus.FEASIBLE, Schedule((), skipped), None, 0.0)

    monkeypatch.setitem(registry.SOLVERS, "greedy", lazy)
    reason = _reasons(tmp_path, Data())["a"]
    assert reason.startswith(f"it fits between {START}"), reason
    assert "the solver left it out" in reason
