"""What actually ran (issue 15, item 5): ``greenslot ran`` reads Slurm's accounting (sacct on a
real slurmdbd with its own MariaDB, both started here) and prices the real runs."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from greenslot.cli import main
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.loader import load_duration_history
from greenslot.slurm.ledger import Ledger
from greenslot.slurm.sacct import read_runs
from tests.helpers.local_slurm import LocalSlurm
from tests.helpers.slurm import as_nobody, plan_into, queue, slurm_scenario

pytestmark = pytest.mark.slurm  # a cluster of its own, not the slurm fixture

MARK = "greenslot:queue"
SLOTS = 12  # of 10 s: the horizon outlasts the run, so all of it is priced


@pytest.fixture(scope="module")
def accounted():
    """The cluster lives outside pytest's own temporary root: another user's job must reach
    its spool folder, and every pytest run of root on a shared host resets that root to 0700."""
    root = Path(tempfile.mkdtemp(prefix="greenslot-acct-"))
    root.chmod(0o755)
    cluster = LocalSlurm(root, {"gsnode1": 4, "gsnode2": 4, "gsnode3": 4}, accounting=True)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def _finished(slurm_id: str, wait_s: float = 120):
    """Slurm's accounting record once the job has ended (a bound on waiting, not a timing)."""
    deadline = time.monotonic() + wait_s
    while True:
        records = read_runs([slurm_id])
        if records and records[0].end_epoch and records[0].state == "COMPLETED":
            return records[0]
        assert time.monotonic() < deadline, records
        time.sleep(1)


def test_ran_reports_realised_energy_and_carbon_from_slurms_record(accounted, tmp_path,
                                                                   monkeypatch, capsys):
    monkeypatch.setenv("SLURM_CONF", accounted.env["SLURM_CONF"])
    monkeypatch.setenv("PATH", accounted.env["PATH"])
    jobs = [{"job_id": "soon", "gpus": 2, "duration_h": 10 / 3600, "command": "sleep 4",
             "power_limit_w": 300}]
    path = slurm_scenario(tmp_path / "s", jobs, slot="10s", slots=SLOTS,
                          lead=timedelta(seconds=8), carbon=[100.0] * SLOTS)
    schedule = plan_into(path, tmp_path / "plan")
    assert main(["submit", str(tmp_path / "plan")]) == 0
    ((_, slurm_id, _),) = Ledger(tmp_path / "plan" / "submitted.tsv").entries()
    record = _finished(slurm_id)
    run_s = record.end_epoch - record.start_epoch
    assert run_s >= 4 and record.nodes == (schedule.loc["soon", "nodes"],)

    # The actual grid was dirtier than forecast: 1000 g/kWh in every slot, price 50.
    actual = tmp_path / "actual.csv"
    rows = ["time,carbon_g_per_kwh,price_per_mwh"]
    origin = pd.Timestamp(pd.read_csv(tmp_path / "s" / "forecast-s1.csv")["time"][0])
    rows += [f"{(origin + pd.Timedelta(seconds=10 * i)).isoformat()},1000,50"
             for i in range(SLOTS)]
    actual.write_text("\n".join(rows) + "\n")

    capsys.readouterr()
    html = tmp_path / "ran.html"
    assert main(["ran", str(path), str(tmp_path / "plan"), "--actual", str(actual), "--json",
                 "--html", str(html)]) == 0
    report = json.loads(capsys.readouterr().out)
    (job,) = report["jobs"]
    assert (job["job_id"], job["slurm_id"], job["state"]) == ("soon", int(slurm_id), "COMPLETED")
    # 2 GPUs at 300 W + half of the node's 100 W idle (2 of 4 GPUs), PUE 1, for the real run.
    expected_kwh = (2 * 300 + 100 * 2 / 4) / 1000 * run_s / 3600
    assert job["energy_source"] == "model"  # no energy plugin on this host
    assert job["realised"]["energy_kwh"] == pytest.approx(expected_kwh, rel=1e-9)
    assert job["realised"]["carbon_kg"] == pytest.approx(expected_kwh * 1000 / 1000, rel=1e-9)
    assert job["realised"]["cost"] == pytest.approx(expected_kwh * 50 / 1000, rel=1e-9)
    assert job["planned"]["energy_kwh"] == pytest.approx(float(schedule.loc["soon",
                                                                            "energy_kwh"]))
    assert report["totals"]["realised"]["carbon_kg"] == job["realised"]["carbon_kg"]
    assert "What ran: plan" in html.read_text() and "soon" in html.read_text()

    assert main(["ran", str(path), str(tmp_path / "plan")]) == 0
    text = capsys.readouterr().out
    assert "soon" in text and slurm_id in text and "total (ran)" in text


@pytest.mark.skipif(os.getuid() != 0, reason="submitting as another user needs root")
def test_the_queue_cycle_moves_runs_and_accounts(accounted, tmp_path, monkeypatch, capsys):
    """Queue -> plan -> move -> run -> account on one cluster: another user's held jobs in the
    opt-in set, planned seconds ahead around a running job outside the set, run, and priced
    from Slurm's record."""
    monkeypatch.setenv("SLURM_CONF", accounted.env["SLURM_CONF"])
    monkeypatch.setenv("PATH", accounted.env["PATH"])
    accounted.cancel_all()
    foreign = accounted.run("sbatch", "--parsable", "-o/dev/null", "-Jtheirs", "-w", "gsnode1",
                            "--gres=gpu:3", "-t", "30", "--wrap", "sleep 600").stdout.strip()
    deadline = time.monotonic() + 60
    while queue(accounted, [foreign])[0]["state"] != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.5)

    def held(*args: str) -> str:
        done = as_nobody("sbatch", "--parsable", "-o/dev/null", "--hold", "-t", "1", *args,
                         "--wrap", "sleep 3")
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    prep = held("-Jprep", "--gres=gpu:2", f"--comment={MARK},duration_h={10 / 3600:.6f}")
    train = held("-Jtrain", "--gres=gpu:4", f"--dependency=afterok:{prep}",
                 f"--comment={MARK},duration_h={10 / 3600:.6f}")
    foreign_before = queue(accounted, [foreign])
    path = slurm_scenario(tmp_path / "s", [], slot="10s", slots=SLOTS,
                          lead=timedelta(seconds=8), carbon=[100.0] * SLOTS)
    capsys.readouterr()
    assert main(["sync", str(path), "--out", str(tmp_path / "plan"), "--queue", "--apply"]) == 0
    out = capsys.readouterr().out
    assert f"moved slurm-{prep} (Slurm job {prep})" in out
    plan = pd.read_csv(tmp_path / "plan" / "schedule.csv", dtype=str).set_index("job_id")
    assert queue(accounted, [foreign]) == foreign_before  # outside the set: untouched

    records = {r.slurm_id: r for r in (_finished(prep), _finished(train))}
    for slurm_id in (prep, train):
        record = records[int(slurm_id)]
        row = plan.loc[f"slurm-{slurm_id}"]
        assert ",".join(record.nodes) == row["nodes"] != "gsnode1"  # the foreign GPUs stay free
        assert record.start_epoch >= pd.Timestamp(row["start"]).timestamp()
    assert records[int(prep)].end_epoch <= records[int(train)].start_epoch

    history = tmp_path / "history.csv"
    assert main(["ran", str(path), str(tmp_path / "plan"), "--json", "--history",
                 str(history)]) == 0
    report = json.loads(capsys.readouterr().out)
    ran = {j["job_id"]: j for j in report["jobs"]}
    assert set(ran) == {f"slurm-{prep}", f"slurm-{train}"}  # the foreign job is not ours
    # Both runs are the cluster's own history now: who ran them, what they declared in their
    # comment and what they took, at the fastest mode (the run times the mode's throughput).
    added = report["history"]
    assert added["added"] == 2 and added["left_out"] == [], added
    learnt = pd.read_csv(history).set_index("slurm_job_id")
    scenario = load_scenario(path)
    for slurm_id in (prep, train):
        record, row = records[int(slurm_id)], plan.loc[f"slurm-{slurm_id}"]
        mode = scenario.gpu_type(row["gpu_type"]).mode("default", float(row["power_limit_w"]))
        run_h = (record.end_epoch - record.start_epoch) / 3600
        past = learnt.loc[int(slurm_id)]
        assert (past["workload"], past["user"]) == ("default", "nobody")
        assert past["duration_h"] == pytest.approx(10 / 3600, rel=1e-3)  # the comment's 6 decimals
        assert past["actual_h"] == pytest.approx(run_h * mode.relative_throughput, rel=1e-9)
    assert load_duration_history(history).ratios["default"]  # loads as a duration history
    # A second look at the same night adds nothing.
    assert main(["ran", str(path), str(tmp_path / "plan"), "--history", str(history)]) == 0
    assert "0 run(s) added, 2 already there" in capsys.readouterr().err
    assert len(pd.read_csv(history)) == 2
    for slurm_id, gpus in ((prep, 2), (train, 4)):
        record = records[int(slurm_id)]
        run_h = (record.end_epoch - record.start_epoch) / 3600
        expected = (gpus * 300 + 100 * gpus / 4) / 1000 * run_h
        job = ran[f"slurm-{slurm_id}"]
        assert job["state"] == "COMPLETED"
        assert job["realised"]["energy_kwh"] == pytest.approx(expected, rel=1e-9)
        assert job["realised"]["carbon_kg"] == pytest.approx(expected * 100 / 1000, rel=1e-9)
    accounted.run("scancel", foreign)
