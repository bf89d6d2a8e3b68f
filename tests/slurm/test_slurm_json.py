"""``--json`` on the Slurm verbs against the real test Slurm: submit, sync and power print one
JSON document whose fields are the ledger's and the queue's, with their notes on stderr."""

from __future__ import annotations

import json

from greenslot.cli import main
from greenslot.slurm.ledger import Ledger
from tests.helpers.slurm import plan_id_of, plan_into, queue, slurm_scenario

JOBS = [
    {"job_id": "a", "gpus": 1, "duration_h": 1, "command": "sleep 1", "power_limit_w": 300},
    {"job_id": "b", "gpus": 2, "duration_h": 1, "command": "sleep 1", "power_limit_w": 300},
]


def _strict(text: str):
    def refuse(name: str):
        raise ValueError(name)
    return json.loads(text, parse_constant=refuse)


def test_submit_sync_and_power_print_one_json_document(slurm, tmp_path, capsys):
    path = slurm_scenario(tmp_path / "s", JOBS)
    plan_dir = tmp_path / "plan"
    plan_into(path, plan_dir)
    capsys.readouterr()

    assert main(["submit", str(plan_dir), "--json"]) == 0
    captured = capsys.readouterr()
    doc = _strict(captured.out)
    plan_id = plan_id_of(plan_dir)
    ledger = {job: slurm_id for job, slurm_id, plan in Ledger(plan_dir / "submitted.tsv")
              .entries() if plan == plan_id}
    assert doc["plan_id"] == plan_id and doc["submitted"] == ledger and doc["skipped"] == {}
    assert {row["id"] for row in queue(slurm, list(ledger.values()))} == set(ledger.values())

    assert main(["submit", str(plan_dir), "--json"]) == 0  # again: all already in Slurm
    doc = _strict(capsys.readouterr().out)
    assert doc["submitted"] == {} and set(doc["skipped"]) == set(ledger)

    assert main(["sync", str(path), "--out", str(tmp_path / "dry"), "--json"]) == 0
    captured = capsys.readouterr()
    doc = _strict(captured.out)
    summary = _strict((tmp_path / "dry" / "summary.json").read_text())
    assert doc["plan_id"] == summary["plan_id"] and doc["applied"] is False
    assert doc["pending"] + doc["running"] == len(ledger)
    assert [f"would update {c}" for c in doc["changes"]] == \
        [line for line in captured.err.splitlines() if line.startswith("would update")]

    assert main(["power", str(plan_dir)]) == 0
    text = capsys.readouterr().out.splitlines()[-1]
    assert main(["power", str(plan_dir), "--json"]) == 0
    doc = _strict(capsys.readouterr().out)
    assert doc["plan_id"] == plan_id and doc["applied"] is False
    assert text.startswith(f"plan {plan_id}: {doc['actions']} power action(s) on "
                           f"{len(doc['nodes'])} node(s); {len(doc['changed'])} node(s) to change")
