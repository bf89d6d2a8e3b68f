"""``ran --history``: which of a night's runs become duration history, and how they are added.

The Slurm side (sacct's comment and user, a real run's length) is covered by
``tests/slurm/test_slurm_accounting.py``; here the records are built by hand on the example's
jobs and curves, so each rule for leaving a run out is checked on its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from greenslot.analysis.realised import JobRealised, Realised
from greenslot.analysis.run_history import COLUMNS, add_to_history, past_runs
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.errors import ScenarioError
from greenslot.model.loader import load_duration_history
from greenslot.slurm.sacct import RunRecord

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nightly"
START = 1_655_168_400  # 2022-06-14T01:00:00Z


def _night(states: dict[str, tuple[int, str, float, str]]):
    """Slurm's records, ``ran``'s result and schedule rows for jobs ``job_id -> (slurm id,
    state, hours run, comment)``, each planned on A40 at 250 W."""
    records, jobs, rows = [], [], []
    for job_id, (slurm_id, state, hours, comment) in states.items():
        ran = state != "PENDING"
        records.append(RunRecord(slurm_id, job_id, state, START if ran else None,
                                 START + round(hours * 3600) if ran else None, ("a40-01",),
                                 None, comment, "alice"))
        jobs.append(JobRealised(job_id, slurm_id, state, "", "", None, None, "a40-01", {},
                                {"energy_kwh": 1.0} if ran else {}, "model" if ran else ""))
        rows.append({"job_id": job_id, "gpu_type": "A40", "power_limit_w": "250"})
    return records, Realised("p1", "sacct", jobs), rows


def test_completed_runs_are_learnt_at_the_fastest_mode_and_the_rest_say_why():
    scenario = load_scenario(EXAMPLE)
    resnet = next(j for j in scenario.jobs if j.workload == "resnet50")
    records, realised, rows = _night({
        resnet.job_id: (11, "COMPLETED", 2.0, ""),
        "slurm-12": (12, "COMPLETED", 1.5, "greenslot:queue,duration_h=1.25,workload=resnet50"),
        "slurm-13": (13, "COMPLETED", 1.0, "greenslot:queue"),  # no estimate declared
        "slurm-14": (14, "TIMEOUT", 3.0, "greenslot:queue,duration_h=2"),  # killed at its limit
        "slurm-15": (15, "PENDING", 0.0, "greenslot:queue,duration_h=2"),  # never ran
        "slurm-16": (16, "COMPLETED", 1.0, "greenslot:queue,duration_h=2,workload=nope"),
    })
    runs, notes = past_runs(scenario, rows, realised, records)

    throughput = scenario.gpu_type("A40").run_mode("resnet50", 250).relative_throughput
    assert throughput < 1  # 250 W is slower than the fastest mode: the ratio must see that
    assert [(r.slurm_job_id, r.workload, r.user) for r in runs] == [
        (11, "resnet50", "alice"), (12, "resnet50", "alice")]
    assert runs[0].duration_h == resnet.duration_h
    assert runs[0].actual_h == pytest.approx(2.0 * throughput, rel=1e-12)
    assert (runs[1].duration_h, runs[1].actual_h) == (1.25, pytest.approx(1.5 * throughput))
    assert len(notes) == 4
    assert "slurm-13: its comment declares no duration_h" in notes[0]
    assert notes[1].startswith("slurm-14: TIMEOUT") and notes[2].startswith("slurm-15: PENDING")
    assert notes[3] == "slurm-16: GPU type A40 has no nope mode at 250 W"


def test_history_is_added_once_and_loads_as_a_duration_history(tmp_path):
    scenario = load_scenario(EXAMPLE)
    records, realised, rows = _night({
        f"slurm-{n}": (n, "COMPLETED", 1.0 + n / 10, "greenslot:queue,duration_h=1,workload=bert")
        for n in range(20, 26)})
    runs, notes = past_runs(scenario, rows, realised, records)
    assert notes == [] and len(runs) == 6
    history = tmp_path / "history.csv"

    assert add_to_history(history, runs[:4]) == 4
    assert add_to_history(history, runs) == 2  # the first four are already there
    assert add_to_history(history, runs) == 0
    lines = history.read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) == 7
    learnt = load_duration_history(history)
    assert sorted(learnt.ratios["bert"]) == pytest.approx(sorted(r.actual_h for r in runs))


def test_a_history_of_another_shape_is_refused_and_left_as_it_was(tmp_path):
    history = tmp_path / "zeus.csv"
    history.write_text("workload,duration_h,actual_h\nbert,1,1.2\n")
    scenario = load_scenario(EXAMPLE)
    records, realised, rows = _night({"slurm-30": (30, "COMPLETED", 1.0,
                                                    "greenslot:queue,duration_h=1")})
    runs, _ = past_runs(scenario, rows, realised, records)
    with pytest.raises(ScenarioError) as raised:
        add_to_history(history, runs)
    assert raised.value.check == "bad_history" and "zeus.csv" in str(raised.value)
    assert history.read_text() == "workload,duration_h,actual_h\nbert,1,1.2\n"
