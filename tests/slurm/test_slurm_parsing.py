"""Parts that need no controller: the queue across Slurm's JSON shapes, the ledger, times."""

from __future__ import annotations

import dataclasses
import json
import os
import time

import pytest

from greenslot.slurm.commands import SlurmError, controller_time
from greenslot.slurm.ledger import Ledger
from greenslot.slurm.queue import parse_squeue_json, parse_tag, tagged_jobs

# Slurm 22.05 (openapi v0.0.38), trimmed from the local cluster's own output.
OLD = {"jobs": [{"job_id": 7, "name": "train", "job_state": "PENDING",
                 "state_reason": "BeginTime", "comment": "greenslot:plan=abc,power_limit_w=200",
                 "start_time": 1795927279, "eligible_time": 1795927279, "end_time": 1795930879,
                 "time_limit": 70, "nodes": "", "required_nodes": "gsnode[1-2]",
                 "partition": "gpu", "user_id": os.getuid(), "user_name": "me"}]}
# Slurm 23.02 and later: job_state is a list, numbers are {set, infinite, number}.
NEW = {"jobs": [{"job_id": 7, "name": "train", "job_state": ["PENDING"],
                 "state_reason": "BeginTime", "comment": "greenslot:plan=abc,power_limit_w=200",
                 "start_time": {"set": True, "infinite": False, "number": 1795927279},
                 "eligible_time": {"set": True, "infinite": False, "number": 1795927279},
                 "end_time": {"set": True, "infinite": False, "number": 1795930879},
                 "time_limit": {"set": True, "infinite": False, "number": 70},
                 "nodes": "", "required_nodes": "gsnode[1-2]", "partition": "gpu",
                 "user_id": os.getuid(), "user_name": "me"}]}


@pytest.mark.parametrize("document", [OLD, NEW], ids=["22.05", "23.02+"])
def test_both_squeue_json_shapes_read_the_same(document):
    (job,) = parse_squeue_json(json.dumps(document))
    assert (job.slurm_id, job.name, job.state, job.pending, job.running) == (
        7, "train", "PENDING", True, False)
    assert (job.begin_epoch, job.time_limit_min) == (1795927279, 70)
    assert job.required_nodes == ("gsnode1", "gsnode2") and job.nodes == ()
    assert job.tag == {"plan": "abc", "power_limit_w": "200"}
    assert tagged_jobs([job], "abc") == {"train": job}
    assert tagged_jobs([job], "ab") == {}  # the tag ends the id with a comma
    assert job.owned
    theirs = dataclasses.replace(job, user_id=os.getuid() + 1)
    assert not theirs.owned and tagged_jobs([theirs], "abc") == {}  # a copied tag is not ours


def test_unset_and_infinite_numbers_are_none():
    document = json.loads(json.dumps(NEW))
    document["jobs"][0]["start_time"] = {"set": False, "infinite": False, "number": 0}
    document["jobs"][0]["eligible_time"] = 0
    document["jobs"][0]["time_limit"] = {"set": True, "infinite": True, "number": 0}
    (job,) = parse_squeue_json(json.dumps(document))
    assert job.begin_epoch is None and job.time_limit_min is None


def test_output_that_is_not_squeue_json_is_a_slurm_error():
    with pytest.raises(SlurmError, match="squeue --json"):
        parse_squeue_json("squeue: error: Invalid user")


def test_foreign_comments_carry_no_tag():
    assert parse_tag("greenslot-like but not ours") == {}
    assert parse_tag("") == {}


def test_ledger_ignores_a_torn_line_and_never_glues_onto_it(tmp_path):
    path = tmp_path / "submitted.tsv"
    path.write_text("a\t11\tp1\nb\t12\tp1\nc\t1")  # killed while writing c's line
    ledger = Ledger(path)
    assert ledger.ids("p1") == {"a": "11", "b": "12"}
    ledger.append("c", "13", "p1")
    assert ledger.ids("p1") == {"a": "11", "b": "12", "c": "13"}
    assert ledger.ids("p2") == {}  # another plan's jobs are not this plan's


def test_a_second_submit_on_the_same_ledger_is_refused(tmp_path):
    ledger = Ledger(tmp_path / "submitted.tsv")
    with ledger.locked(), pytest.raises(SlurmError, match="another greenslot submit"), \
            Ledger(tmp_path / "submitted.tsv").locked():
        pass


def test_controller_time_is_utc_whatever_the_host_zone(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert controller_time(1_800_000_000) == "2027-01-15T08:00:00"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_submit_of_a_folder_without_a_plan_is_one_line_exit_2(tmp_path, capsys):
    from greenslot.cli import main

    assert main(["submit", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sbatch.json" in err and "[bad_plan]" in err, err


def test_submit_without_slurm_is_one_line_exit_4_and_records_nothing(tmp_path, capsys,
                                                                     monkeypatch):
    from greenslot.cli import main
    from tests.helpers.scenarios import write_scenario

    path = write_scenario(tmp_path / "s", jobs=[
        {"job_id": "a", "gpus": 1, "duration_h": 1, "command": "true"}])
    assert main(["plan", str(path), "--out", str(tmp_path / "plan"), "-q"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no squeue, no sbatch
    monkeypatch.delenv("GREENSLOT_LEDGER", raising=False)
    assert main(["submit", str(tmp_path / "plan")]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "squeue: not found" in err and "Traceback" not in err, err
    assert Ledger(tmp_path / "plan" / "submitted.tsv").entries() == []


def test_submit_sh_and_greenslot_submit_share_one_lock(tmp_path):
    import subprocess

    from greenslot.cli import main
    from tests.helpers.scenarios import write_scenario

    path = write_scenario(tmp_path / "s", jobs=[
        {"job_id": "a", "gpus": 1, "duration_h": 1, "command": "true"}])
    assert main(["plan", str(path), "--out", str(tmp_path / "plan"), "-q"]) == 0
    with Ledger(tmp_path / "plan" / "submitted.tsv").locked():
        done = subprocess.run(["bash", str(tmp_path / "plan" / "submit.sh")],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 4 and "another submit holds" in done.stderr, done
