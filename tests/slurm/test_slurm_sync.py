"""``greenslot sync`` against a real queue: pending jobs move, running jobs are pinned, and
jobs greenslot did not submit are never touched."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import pandas as pd
import yaml

from greenslot.cli import main
from greenslot.slurm.ledger import Ledger
from greenslot.slurm.queue import scenario_key
from tests.helpers.slurm import (
    begin_of,
    local,
    plan_id_of,
    plan_into,
    queue,
    slurm_scenario,
    tagged,
)

JOBS = [
    {"job_id": "a", "gpus": 1, "duration_h": 1, "command": "sleep 1", "power_limit_w": 300},
    {"job_id": "b", "gpus": 3, "duration_h": 1, "depends_on": "a", "command": "sleep 1",
     "power_limit_w": 300},
]
LATE_LOW = [500, 500, 500, 500, 500, 100, 100, 500]
EARLY_LOW = [100, 100, 500, 500, 500, 500, 500, 500]


def _foreign(slurm, name: str, begin: str, node: str) -> str:
    """A job someone else submitted (no greenslot tag), named like a scenario job."""
    return slurm.run("sbatch", "--parsable", f"--begin={begin}", f"--nodelist={node}",
                     "--gres=gpu:1", "-t", "60", f"-J{name}", "-o/dev/null",
                     "--wrap", "sleep 1").stdout.strip()


def test_sync_moves_pending_jobs_and_leaves_foreign_ones_alone(slurm, tmp_path, capsys):
    path = slurm_scenario(tmp_path / "s", JOBS, carbon=LATE_LOW)
    first = plan_into(path, tmp_path / "plan")
    assert main(["submit", str(tmp_path / "plan")]) == 0
    ids = Ledger(tmp_path / "plan" / "submitted.tsv").ids(plan_id_of(tmp_path / "plan"))
    stranger = _foreign(slurm, "a", "now+7200", "gsnode3")
    stranger_before = queue(slurm, [stranger])[0]

    # The forecast changes: the clean hours are now the first ones.
    forecast = pd.read_csv(tmp_path / "s" / "forecast-s1.csv")
    forecast["carbon_g_per_kwh"] = EARLY_LOW
    forecast.to_csv(tmp_path / "s" / "forecast-s1.csv", index=False)
    jobs = pd.read_csv(tmp_path / "s" / "jobs.csv", dtype=str, keep_default_na=False)
    new_job = {c: "" for c in jobs.columns} | {"job_id": "c", "gpus": "2", "duration_h": "1",
                                                "command": "true"}
    pd.concat([jobs, pd.DataFrame([new_job])]).to_csv(tmp_path / "s" / "jobs.csv", index=False)

    capsys.readouterr()
    assert main(["sync", str(path), "--out", str(tmp_path / "dry")]) == 0
    dry = capsys.readouterr().out
    assert "would update a (Slurm job" in dry and "StartTime" in dry
    assert begin_of(slurm, ids["a"]) == local(first.loc["a", "start"])  # nothing moved yet

    assert main(["sync", str(path), "--out", str(tmp_path / "new"), "--apply"]) == 0
    assert "updated a (Slurm job" in capsys.readouterr().out
    new = pd.read_csv(tmp_path / "new" / "schedule.csv", dtype=str).set_index("job_id")
    assert new.loc["a", "start"] != first.loc["a", "start"]
    new_id = plan_id_of(tmp_path / "new")
    for job_id in ("a", "b"):
        assert begin_of(slurm, ids[job_id]) == local(new.loc[job_id, "start"]), job_id
        (row,) = queue(slurm, [ids[job_id]])
        assert row["nodes"] == new.loc[job_id, "nodes"] and row["state"] == "PENDING"
        assert row["comment"].startswith(f"greenslot:plan={new_id},")
    assert queue(slurm, [stranger]) == [stranger_before]  # same start, nodes, comment

    # Submitting the new plan adds only the new job: a and b keep their Slurm ids.
    assert main(["submit", str(tmp_path / "new")]) == 0
    assert "1 submitted, 2 already in Slurm" in capsys.readouterr().out
    rows = tagged(slurm, new_id)
    assert sorted(r["name"] for r in rows) == ["a", "b", "c"]
    assert {r["name"]: r["id"] for r in rows if r["name"] != "c"} == ids


def test_a_running_job_is_pinned_where_it_runs(slurm, tmp_path, capsys):
    now = pd.Timestamp.now(tz="UTC")
    hour = now.floor("1h")
    jobs = [{"job_id": "live", "gpus": 2, "duration_h": 2, "command": "sleep 1"},
            {"job_id": "later", "gpus": 4, "duration_h": 1, "command": "true",
             "release": (hour + timedelta(hours=3)).isoformat()}]
    path = slurm_scenario(tmp_path / "s", jobs, lead=timedelta(0))
    config = yaml.safe_load(path.read_text())
    config["start"] = hour.isoformat()  # the horizon began before the running job started
    forecast = pd.read_csv(tmp_path / "s" / "forecast-s1.csv")
    forecast["time"] = [(hour + timedelta(hours=i)).isoformat() for i in range(len(forecast))]
    forecast.to_csv(tmp_path / "s" / "forecast-s1.csv", index=False)
    path.write_text(yaml.safe_dump(config))
    live = slurm.run("sbatch", "--parsable", "--nodelist=gsnode2", "--gres=gpu:2", "-t", "120",
                     "-Jlive", "-o/dev/null", "--comment=greenslot:plan=0123456789ab,"
                     f"scenario={scenario_key(config['name'])},power_limit_w=200",
                     "--wrap", "sleep 300").stdout.strip()
    stranger = _foreign(slurm, "later", "now+18000", "gsnode1")
    stranger_before = queue(slurm, [stranger])[0]
    deadline = time.monotonic() + 20
    while queue(slurm, [live])[0]["state"] != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    started = datetime.strptime(queue(slurm, [live])[0]["start"], "%Y-%m-%dT%H:%M:%S")
    slot_of_start = pd.Timestamp(started.astimezone()).tz_convert("UTC").floor("1h")

    assert main(["sync", str(path), "--out", str(tmp_path / "new"), "--apply"]) == 0
    capsys.readouterr()
    new = pd.read_csv(tmp_path / "new" / "schedule.csv", dtype=str).set_index("job_id")
    assert new.loc["live", "pinned"] == "True"
    assert new.loc["live", "nodes"] == "gsnode2"
    assert float(new.loc["live", "power_limit_w"]) == 200  # the mode it was submitted with
    assert pd.Timestamp(new.loc["live", "start"]) == slot_of_start
    assert queue(slurm, [live])[0]["state"] == "RUNNING"
    assert queue(slurm, [stranger]) == [stranger_before]
    assert main(["submit", str(tmp_path / "new")]) == 0
    out = capsys.readouterr().out
    assert "submitted later as Slurm job" in out and "1 submitted" in out


def test_a_finished_and_purged_job_is_not_submitted_again(slurm, tmp_path, capsys, monkeypatch):
    """nightly.sh run twice a night: sync into the same folder after the first night's job
    finished and left the queue (MinJobAge), then submit (review of issue 7)."""
    import greenslot.slurm.submit as submit_module
    import greenslot.slurm.sync as sync_module
    from greenslot.slurm.queue import read_queue

    jobs = [{"job_id": "a", "gpus": 1, "duration_h": 1, "command": "true", "power_limit_w": 300}]
    path = slurm_scenario(tmp_path / "s", jobs)
    night = tmp_path / "night"
    plan_into(path, night)
    earlier = {r["id"] for r in queue(slurm)}  # finished jobs of earlier tests stay listed
    assert main(["submit", str(night)]) == 0
    (first,) = Ledger(night / "submitted.tsv").entries()
    (night / "logs" / "kept.out").write_text("a running job's output\n")
    hidden = {int(first[1])}  # the purge: squeue no longer shows the job

    def purged(runner=None):
        return [j for j in read_queue() if j.slurm_id not in hidden]

    monkeypatch.setattr(sync_module, "read_queue", purged)
    monkeypatch.setattr(submit_module, "read_queue", purged)
    capsys.readouterr()
    assert main(["sync", str(path), "--out", str(night), "--apply"]) == 0
    out = capsys.readouterr().out
    assert f"a: Slurm job {first[1]} (in the ledger) is no longer in the queue" in out
    assert Ledger(night / "submitted.tsv").entries()[0] == first  # carried over
    assert (night / "logs" / "kept.out").read_text() == "a running job's output\n"
    assert main(["submit", str(night)]) == 0
    assert "0 submitted" in capsys.readouterr().out
    assert [r["id"] for r in queue(slurm) if r["id"] not in earlier] == [first[1]]


def test_a_job_in_the_ledger_of_the_folder_is_adopted_without_the_scenario_key(
        slurm, tmp_path, capsys):
    """Jobs submitted before the tag carried ``scenario=`` are still this scenario's when the
    output folder's ledger records them."""
    path = slurm_scenario(tmp_path / "s", JOBS[:1], carbon=LATE_LOW)
    old = slurm.run("sbatch", "--parsable", "--begin=now+20000", "--nodelist=gsnode3",
                    "--gres=gpu:1", "-t", "600", "-Ja", "-o/dev/null",
                    "--comment=greenslot:plan=ffffffffffff,power_limit_w=300",
                    "--wrap", "sleep 1").stdout.strip()
    Ledger(tmp_path / "new" / "submitted.tsv").append("a", old, "ffffffffffff")
    assert main(["sync", str(path), "--out", str(tmp_path / "new"), "--apply"]) == 0
    assert f"updated a (Slurm job {old})" in capsys.readouterr().out


def test_sync_takes_the_solve_and_what_if_options_plan_takes(slurm, tmp_path):
    # issue 17, item 10: sync lacked --threads, --gap, --set, --offline and --cache-dir
    path = slurm_scenario(tmp_path / "s", JOBS, carbon=LATE_LOW)
    out = tmp_path / "new"
    assert main(["sync", str(path), "--out", str(out), "--solver", "milp", "--threads", "2",
                 "--gap", "0.01", "--time-limit", "60", "--set", "sites.s1.pue=1.5",
                 "--offline", "--cache-dir", str(tmp_path / "cache")]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overrides"] == {"sites.s1.pue": "1.5"}
    assert summary["solver"].startswith("milp")
    # validate re-applies the recorded --set and recomputes every total: had sync recorded the
    # what-if without planning with it, the totals (PUE 1 against 1.5) would not recompute
    assert main(["validate", str(path), str(out)]) == 0
