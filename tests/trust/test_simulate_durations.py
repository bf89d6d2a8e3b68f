"""``simulate`` with real run times: jobs end early or late, late ones hold their GPUs, and a
run past its ``--time`` is killed.

A hand-built cluster checks the event rules one by one (worked out by hand); the shipped SGIP
replay, with run times drawn from the real Zeus epochs-to-target spread, checks that learnt
upper estimates leave no job killed, and that without them Slurm's fixed margin kills some.
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
import yaml

from greenslot.analysis.actual_durations import draw_actual_hours
from greenslot.analysis.execution import Cluster
from greenslot.analysis.simulate import (
    kept_fraction,
    oracle,
    persistence,
    replay_policy,
    replay_scenario,
    sgip_forecaster,
    simulate,
)
from greenslot.cli import main
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.accounting import account
from greenslot.model.loader import load_duration_history
from greenslot.model.schedule import Assignment
from greenslot.model.validator import validate
from tests.helpers.scenarios import START, base_config, hourly_forecast, write_scenario

SAMPLE = Path(__file__).parent / "data" / "sgip-replay-2020-06-01-4d"
HISTORY = Path(str(resources.files("greenslot.data") / "run_times"
                   / "zeus_epochs_to_target.csv"))


def _cluster(tmp_path: Path, jobs: list[dict], actual_h: dict[str, float]) -> Cluster:
    """Two 2-GPU nodes n1, n2, 12 one-hour slots; one 300 W mode (relative throughput 1)."""
    path = write_scenario(tmp_path, forecasts={"forecast-s1.csv": hourly_forecast(
        [100.0] * 12)})
    config = yaml.safe_load(path.read_text())
    config["horizon"] = "12h"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    pd.DataFrame(jobs).to_csv(tmp_path / "jobs.csv", index=False)
    return Cluster(load_scenario(path), actual_h)


def test_a_late_job_holds_its_gpus_and_delays_the_job_planned_after_it(tmp_path):
    jobs = [{"job_id": "long", "gpus": 2, "duration_h": 2, "duration_max_h": 4},
            {"job_id": "next", "gpus": 1, "duration_h": 1},
            {"job_id": "beside", "gpus": 2, "duration_h": 1}]
    cluster = _cluster(tmp_path, jobs, {"long": 3.0, "next": 1.0, "beside": 0.5})
    long = cluster.run(Assignment("long", 0, 2, 300, ("n1",)))
    after = cluster.run(Assignment("next", 2, 3, 300, ("n1",)))
    beside = cluster.run(Assignment("beside", 2, 3, 300, ("n2",)))
    # 'long' runs 3 h (within its 4 h range, not killed), so 'next' starts at 3, not 2;
    # 'beside' on the other node is not held up, and ends after half an hour, in its slot.
    assert (long.assignment.start_slot, long.assignment.end_slot, long.killed) == (0, 3, False)
    assert (after.assignment.start_slot, after.assignment.end_slot) == (3, 4)
    assert (beside.assignment.start_slot, beside.assignment.end_slot) == (2, 3)
    realised = cluster.realised_scenario()
    assert validate(realised, _schedule(cluster)) == []


def test_a_run_past_its_limit_is_killed_and_its_dependant_never_starts(tmp_path):
    """No upper estimate: --time = 2 h + max(10 min, 10 %) = 2 h 12 min; 3 h is killed there."""
    jobs = [{"job_id": "over", "gpus": 1, "duration_h": 2},
            {"job_id": "child", "gpus": 1, "duration_h": 1, "depends_on": "over"}]
    cluster = _cluster(tmp_path, jobs, {"over": 3.0, "child": 1.0})
    over = cluster.run(Assignment("over", 0, 2, 300, ("n1",)))
    assert over.killed and over.hours_in_mode == pytest.approx(2.2)
    assert (over.assignment.start_slot, over.assignment.end_slot) == (0, 3)
    assert cluster.run(Assignment("child", 2, 3, 300, ("n2",))) is None


def _schedule(cluster: Cluster):
    from greenslot.model.schedule import Schedule

    return Schedule(tuple(r.assignment for r in cluster.ran.values()))


def _with_history(tmp_path: Path, quantile: float = 0.5) -> Path:
    folder = tmp_path / "replay"
    shutil.copytree(SAMPLE, folder)
    shutil.copy(HISTORY, folder / "history.csv")
    config = yaml.safe_load((folder / "scenario.yaml").read_text())
    config.update(duration_history="history.csv", duration_quantile=quantile)
    (folder / "scenario.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


@pytest.mark.slow
def test_learnt_upper_estimates_leave_no_job_killed_on_real_moer(tmp_path):
    """Real run times (Zeus seeds' epochs-to-target spread) on the real SGIP replay."""
    plain = load_scenario(SAMPLE)
    learnt = load_scenario(_with_history(tmp_path))
    actual_h = draw_actual_hours(plain, load_duration_history(HISTORY), seed=3)
    ratios = [actual_h[j.job_id] / j.duration_h for j in plain.jobs]
    assert max(ratios) > 1.1 and min(ratios) < 1.0  # some run long, some short
    forecast = sgip_forecaster([SAMPLE / "provider.csv"])
    fixed_margin = simulate(plain, forecast, "sgip", actual_h=actual_h)
    ranged = simulate(learnt, forecast, "sgip", actual_h=actual_h)
    killed = fixed_margin.run("plan on sgip").killed
    # With a fixed 10 % margin the jobs that ran over 1.1 x are killed at their limit ...
    assert killed and all(actual_h[j] > 1.1 * plain.job(j).duration_h for j in killed)
    # ... with the learnt upper estimate every job runs within its range and none is.
    assert all(actual_h[j.job_id] <= j.duration_max_h for j in learnt.jobs)
    plan = ranged.run("plan on sgip")
    assert plan.killed == () and ranged.run("perfect foresight").killed == ()
    assert plan.missed_deadlines <= ranged.run("perfect foresight").missed_deadlines
    for simulation in (fixed_margin, ranged):
        for run in simulation.runs:
            # Realised totals are the exact accounting of the runs as they happened.
            assert run.realised == account(run.scenario, run.schedule).totals
            assert all(v.kind == "window" and "after its deadline" in v.message
                       for v in validate(run.scenario, run.schedule))
    assert 0 < kept_fraction(ranged, "plan on sgip") < 1


@pytest.mark.slow
def test_intra_day_replanning_every_six_hours(tmp_path):
    scenario = load_scenario(SAMPLE)
    actual_h = draw_actual_hours(scenario, load_duration_history(HISTORY), seed=1)
    simulation = simulate(scenario, persistence, "persistence", actual_h=actual_h,
                          replan_hours=6)
    plan = simulation.run("plan on persistence")
    assert plan.nights > 4  # more plans than nights: 4 days replayed, a plan every 6 h
    assert len(plan.schedule.assignments) + len(plan.schedule.unplaced) == 36
    assert plan.realised == account(plan.scenario, plan.schedule).totals


@pytest.mark.slow
def test_simulate_cli_reads_actual_durations(tmp_path, capsys):
    scenario = load_scenario(SAMPLE)
    rows = [{"job_id": j.job_id, "actual_h": j.duration_h * (1.3 if i % 3 == 0 else 0.8)}
            for i, j in enumerate(scenario.jobs)]
    pd.DataFrame(rows).to_csv(tmp_path / "actual.csv", index=False)
    rc = main(["simulate", str(SAMPLE), "--forecaster", "sgip", "--sgip",
               str(SAMPLE / "provider.csv"), "--actual-durations", str(tmp_path / "actual.csv"),
               "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    report = json.loads(captured.out)
    plan = report["plan on sgip"]
    # 1.3 x is past the fixed 10 % margin: every such job the plan started is killed.
    long = {r["job_id"] for r in rows[::3]}
    assert set(plan["killed"]) == long - set(plan["unplaced"])
    assert report["perfect foresight"]["killed"] == []
    assert report["perfect foresight"]["kept_fraction"] == 1.0


@pytest.mark.parametrize(("text", "field", "check"), [
    ("job_id,actual_h\nnobody,1\n", "job_id", "unknown_job"),
    ("job_id,actual_h\nd1-00,-1\n", "actual_h", "bad_number"),
    ("job_id,actual_h\nd1-00,2\n", "job_id", "missing_key"),  # the other jobs lack a row
])
def test_bad_actual_durations_are_one_line_exit_2(tmp_path, capsys, text, field, check):
    (tmp_path / "actual.csv").write_text(text)
    rc = main(["simulate", str(SAMPLE), "--actual-durations", str(tmp_path / "actual.csv")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and f"field '{field}'" in err, err
    assert err.endswith(f"[{check}]")


def test_an_intra_day_replan_sees_the_queue_the_night_before_saw(tmp_path):
    """Worked out by hand: one 1-GPU node; 'long' (10 h) is cheapest from midnight, 'short'
    (2 h) is released at 08:00 and due at 10:00. The nightly queue holds both, so the
    midnight plan keeps 08:00-10:00 free for 'short'. A 6-hourly plan used to see only the
    jobs released in its own 6 h, committed 'long' at midnight, and left 'short' no room."""
    day = pd.Timestamp(START) + pd.Timedelta(days=1)
    config = base_config()
    config["horizon"] = "48h"
    config["nodes"] = [{"names": "n1", "site": "s1", "gpu_type": "G", "gpus": 1,
                        "idle_w": 100, "partition": "gpu"}]
    carbon = [100.0] * 24 + [50.0] * 10 + [300.0] * 14
    path = write_scenario(tmp_path, config, jobs=[
        {"job_id": "long", "gpus": 1, "duration_h": 10, "release": day.isoformat(),
         "deadline": (day + pd.Timedelta(hours=24)).isoformat()},
        {"job_id": "short", "gpus": 1, "duration_h": 2,
         "release": (day + pd.Timedelta(hours=8)).isoformat(),
         "deadline": (day + pd.Timedelta(hours=10)).isoformat()}],
        forecasts={"forecast-s1.csv": hourly_forecast(carbon)})
    scenario = load_scenario(path)
    for hours in (24, 6):
        run = replay_policy(replay_scenario(scenario), scenario, oracle, "plan",
                            replan_hours=hours)
        assert run.schedule.unplaced == (), hours
        starts = {a.job_id: a.start_slot for a in run.schedule.assignments}
        assert starts["short"] == 8 and starts["long"] >= 10, hours


@pytest.mark.parametrize(("deadline_rule", "late"), [("upper", 1), ("limit", 0)])
def test_a_run_past_its_learnt_top_is_on_time_when_guarded_to_its_limit(
        tmp_path, deadline_rule, late):
    """Worked out by hand: one 1-GPU node, carbon falling all day, so the plan ends 'a' as
    late as its guard lets it. resnet50's own runs give the 2 h job a top of 2.12 h, ncf's
    1.75 x run a limit of 3.5 h; it really runs 3.4 h, past its top and within its limit, so
    it is killed under neither rule. Guarded at the top the run is planned to end at 05:00
    (due 06:00) and really ends at 06:24, late; guarded at the limit it is planned to end at
    04:00 and ends at 05:24."""
    runs = [("resnet50", r) for r in (0.95, 1.0, 1.0, 1.02, 1.06)] + \
        [("ncf", r) for r in (0.8, 1.0, 1.0, 1.3, 1.75)]
    pd.DataFrame([{"workload": w, "duration_h": 2, "actual_h": 2 * r} for w, r in runs]
                 ).to_csv(tmp_path / "history.csv", index=False)
    day = pd.Timestamp(START) + pd.Timedelta(days=1)
    config = base_config()
    config.update(horizon="48h", duration_history="history.csv",
                  duration_deadline=deadline_rule)
    config["nodes"] = [{"names": "n1", "site": "s1", "gpu_type": "G", "gpus": 1,
                        "idle_w": 100, "partition": "gpu"}]
    curve = [{"workload": w, "power_limit_w": 300, "power_w": 300, "relative_throughput": 1.0}
             for w in ("default", "resnet50", "ncf")]
    path = write_scenario(tmp_path, config, jobs=[
        {"job_id": "a", "gpus": 1, "duration_h": 2, "workload": "resnet50",
         "release": day.isoformat(), "deadline": (day + pd.Timedelta(hours=6)).isoformat()}],
        curves={"curve-g.csv": curve},
        forecasts={"forecast-s1.csv": hourly_forecast(
            [100.0] * 24 + [300.0 - 10 * i for i in range(24)])})
    scenario = load_scenario(path)
    run = replay_policy(replay_scenario(scenario), scenario, oracle, "plan",
                        actual_h={"a": 3.4})
    assert run.killed == ()
    assert run.missed_deadlines == late
    (ran,) = run.schedule.assignments
    assert ran.start_slot == (3 if deadline_rule == "upper" else 2)
