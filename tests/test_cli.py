"""The CLI end to end: plan, validate, submit.sh and exit codes, on real data and tiny cases."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from greenslot.cli import main
from tests.helpers.scenarios import write_scenario

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "nightly"


@pytest.fixture(scope="module")
def example_plan(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan") / "nightly"
    assert main(["plan", str(EXAMPLE), "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_example_plan_is_complete_valid_and_beats_fifo_on_carbon(example_plan, capsys):
    summary = json.loads((example_plan / "summary.json").read_text())
    schedule = pd.read_csv(example_plan / "schedule.csv")
    jobs = pd.read_csv(EXAMPLE / "jobs.csv")
    assert summary["status"] == "feasible" and summary["solver"] == "greedy"
    assert summary["unplaced"] == [] and len(schedule) == len(jobs)
    assert summary["totals"]["carbon_kg"] < summary["baselines"]["fifo"]["carbon_kg"]
    assert summary["objective"] == pytest.approx(summary["totals"]["carbon_kg"])
    assert main(["validate", str(EXAMPLE), str(example_plan)]) == 0
    assert "totals match" in capsys.readouterr().out


@pytest.mark.slow
def test_example_power_cap_binds_somewhere(example_plan):
    """The example is built so the cap matters: some site-slot sits at the cap."""
    from greenslot.forecasts.scenario_loading import load_scenario
    from greenslot.model.accounting import account
    from greenslot.pipeline.files import read_plan

    scenario = load_scenario(EXAMPLE)
    figures = account(scenario, read_plan(scenario, example_plan).schedule)
    headroom = [site.power_cap_kw - figures.node_draw_kw[k].max()
                for k, site in enumerate(scenario.sites) if site.power_cap_kw]
    assert min(headroom) < 1.0  # kW: within one node's draw of the cap


@pytest.mark.slow
def test_validate_rejects_a_tampered_plan(example_plan, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(example_plan, broken)
    frame = pd.read_csv(broken / "schedule.csv")
    frame.loc[0, "energy_kwh"] *= 1.01
    frame.to_csv(broken / "schedule.csv", index=False)
    assert main(["validate", str(EXAMPLE), str(broken)]) == 1
    assert "[totals]" in capsys.readouterr().err


def fake_sbatch(folder: Path) -> dict[str, str]:
    """A recording ``sbatch`` for checking the script's calls (the real one is issue 7's)."""
    folder.mkdir()
    log = folder / "calls.jsonl"
    script = folder / "sbatch"
    script.write_text(
        "#!/usr/bin/env python3\n"
        "import json, sys, pathlib\n"
        f"log = pathlib.Path({str(log)!r})\n"
        "n = len(log.read_text().splitlines()) if log.exists() else 0\n"
        "with log.open('a') as f:\n"
        "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "print(f'{1000 + n};cluster')\n")
    script.chmod(0o755)
    queue = folder / "squeue"  # an empty queue: submit.sh stops when squeue fails
    queue.write_text("#!/bin/sh\nexit 0\n")
    queue.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}", "TZ": "America/New_York"}


@pytest.mark.slow
def test_submit_script_is_idempotent_and_writes_begin_in_utc(example_plan, tmp_path):
    env = fake_sbatch(tmp_path / "bin")
    script = example_plan / "submit.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    env["GREENSLOT_LEDGER"] = str(tmp_path / "ledger.tsv")
    first = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    calls = [json.loads(x) for x in (tmp_path / "bin" / "calls.jsonl").read_text().splitlines()]
    schedule = pd.read_csv(example_plan / "schedule.csv")
    assert len(calls) == len(schedule)
    second = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    assert second.returncode == 0
    assert not [line for line in second.stdout.splitlines() if line.startswith("submitted")]
    assert len((tmp_path / "bin" / "calls.jsonl").read_text().splitlines()) == len(calls)
    by_name = {next(a for a in c if a.startswith("--job-name=")).split("=", 1)[1]: c
               for c in calls}
    row = schedule.iloc[0]
    utc = pd.Timestamp(row["start"]).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S")
    assert f"--begin={utc}" in by_name[row["job_id"]]  # in UTC, whatever the host's TZ
    assert f"--nodelist={row['nodes']}" in by_name[row["job_id"]]
    jobs = pd.read_csv(EXAMPLE / "jobs.csv", dtype=str, keep_default_na=False)
    dependent = jobs[jobs["depends_on"] != ""].iloc[0]
    dep_ids = [str(1000 + [c for c in calls].index(by_name[d]))
               for d in dependent["depends_on"].split(";")]
    assert f"--dependency=afterok:{':'.join(dep_ids)}" in by_name[dependent["job_id"]]


def test_hostile_command_stays_inert(tmp_path):
    marker = tmp_path / "pwned"
    command = f"echo 'hi'; touch {marker} $(touch {marker}) `touch {marker}`"
    path = write_scenario(tmp_path / "s", jobs=[
        {"job_id": "x", "gpus": 1, "duration_h": 1, "command": f'"{command}"'}])
    out = tmp_path / "out"
    assert main(["plan", str(path), "--out", str(out)]) == 0
    env = fake_sbatch(tmp_path / "bin")
    subprocess.run(["bash", str(out / "submit.sh")], env=env, check=True, capture_output=True)
    (call,) = [json.loads(x) for x in (tmp_path / "bin" / "calls.jsonl").read_text().split("\n")
               if x]
    assert f"--wrap={command}" in call
    assert not marker.exists()


def test_strict_with_an_unplaceable_job_exits_3_and_writes_nothing(tmp_path, capsys):
    path = write_scenario(tmp_path / "s", jobs=[{"job_id": "huge", "gpus": 6, "duration_h": 1}])
    out = tmp_path / "out"
    assert main(["plan", str(path), "--out", str(out), "--strict"]) == 3
    assert "huge" in capsys.readouterr().err and not out.exists()
    assert main(["plan", str(path), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["unplaced"][0]["job_id"] == "huge"


def test_conflicting_pinned_jobs_exit_3_naming_them(tmp_path, capsys):
    jobs = [{"job_id": p, "gpus": 2, "duration_h": 1, "pinned_start": "2022-06-14T00:00:00+00:00",
             "pinned_nodes": "n2"} for p in ("p1", "p2")]
    path = write_scenario(tmp_path / "s", jobs=jobs)
    assert main(["plan", str(path), "--out", str(tmp_path / "out")]) == 3
    err = capsys.readouterr().err
    assert "p1" in err and "p2" in err and "n2" in err
    assert len(err.strip().splitlines()) == 1


def test_objective_override_is_recorded(tmp_path):
    path = write_scenario(tmp_path / "s")
    out = tmp_path / "out"
    assert main(["plan", str(path), "--out", str(out), "--objective", "cost"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objective_kind"] == "cost"
    assert summary["objective"] == pytest.approx(summary["totals"]["cost"])


@pytest.mark.slow
def test_console_script_runs_as_installed(tmp_path):
    exe = shutil.which("greenslot") or str(REPO / ".venv" / "bin" / "greenslot")
    result = subprocess.run([exe, "plan", str(tmp_path / "nothing"), "--out",
                             str(tmp_path / "o")], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "scenario file not found" in result.stderr


@pytest.mark.slow
def test_validate_checks_the_files_submit_reads(example_plan, tmp_path, capsys):
    """Issue 17.6: a node edited in schedule.csv (still a valid schedule) or in sbatch.json
    made the two disagree, and validate said valid while submit would send the job elsewhere."""
    from greenslot.forecasts.scenario_loading import load_scenario
    from greenslot.model.validator import validate
    from greenslot.pipeline.files import read_plan

    scenario = load_scenario(EXAMPLE)
    frame = pd.read_csv(example_plan / "schedule.csv", dtype=str)
    schedule = read_plan(scenario, example_plan).schedule
    moved = None
    for row, a in enumerate(schedule.assignments):  # a single-node job, moved to a free twin
        if len(a.nodes) != 1:
            continue
        node = scenario.node(a.nodes[0])
        for other in scenario.nodes:
            if other.name == node.name or (other.site, other.gpu_type, other.partition) != (
                    node.site, node.gpu_type, node.partition):
                continue
            edited = list(schedule.assignments)
            edited[row] = dataclasses.replace(a, nodes=(other.name,))
            if not validate(scenario, dataclasses.replace(schedule, assignments=tuple(edited))):
                moved = (row, a.job_id, node.name, other.name)
                break
        if moved:
            break
    assert moved is not None
    row, job_id, before, after = moved
    edited_dir = tmp_path / "edited-schedule"
    shutil.copytree(example_plan, edited_dir)
    frame.loc[row, "nodes"] = after
    frame.to_csv(edited_dir / "schedule.csv", index=False)
    assert main(["validate", str(EXAMPLE), str(edited_dir)]) == 1
    err = capsys.readouterr().err
    assert (f"[submission] {job_id}: sbatch.json has --nodelist={before}, schedule.csv gives "
            f"--nodelist={after}") in err

    edited_dir = tmp_path / "edited-sbatch"
    shutil.copytree(example_plan, edited_dir)
    data = json.loads((edited_dir / "sbatch.json").read_text())
    data["jobs"][0]["begin_epoch"] += 3600
    (edited_dir / "sbatch.json").write_text(json.dumps(data))
    assert main(["validate", str(EXAMPLE), str(edited_dir)]) == 1
    assert f"[submission] {data['jobs'][0]['job_id']}: sbatch.json has begin_epoch" in \
        capsys.readouterr().err

    edited_dir = tmp_path / "edited-script"
    shutil.copytree(example_plan, edited_dir)
    script = (edited_dir / "submit.sh").read_text().replace("--nodelist=", "--nodelist=x", 1)
    (edited_dir / "submit.sh").write_text(script)
    assert main(["validate", str(EXAMPLE), str(edited_dir)]) == 1
    assert "[submission] submit.sh line" in capsys.readouterr().err


def test_a_new_users_help_and_options():
    """Issue 17, walking the verbs: -v after the verb (as the synopsis shows), a description
    for users rather than a docstring, and help for every plan option."""
    from greenslot.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["plan", "s", "--out", "o", "-v"]).verbose is True
    assert parser.parse_args(["-v", "plan", "s", "--out", "o"]).verbose is True
    assert parser.parse_args(["plan", "s", "--out", "o"]).verbose is False
    assert parser.parse_args(["forecast", "predict", "h.csv", "--out", "o", "-v"]).verbose
    assert "``" not in parser.description and "Maps typed errors" not in parser.description
    plan_parser = next(a for a in parser._actions
                       if isinstance(a, argparse._SubParsersAction)).choices["plan"]
    undocumented = [a.dest for a in plan_parser._actions if not a.help]
    assert undocumented == []


def test_compare_prints_unplaced_as_a_count():
    from greenslot.analysis.whatif.compare import format_comparison

    result = {"a": "A", "b": "B", "overrides": {"a": {}, "b": {}}, "moved": [],
              "jobs_in_both": 0, "placed_only_in_a": [], "placed_only_in_b": [],
              "totals": {"carbon_kg": {"a": 2.0, "b": 1.5, "delta": -0.5, "relative": -0.25},
                         "unplaced": {"a": 0, "b": 2, "delta": 2, "relative": None}}}
    row = next(line for line in format_comparison(result).splitlines()
               if line.startswith("unplaced"))
    assert row.split() == ["unplaced", "0", "2", "+2", "-"]


@pytest.mark.slow
def test_a_failed_submit_says_what_the_ledger_holds(example_plan, tmp_path):
    """It said "submitted jobs are in the ledger" when nothing had been submitted."""
    from greenslot.cli.slurm import _recorded
    from greenslot.slurm.ledger import Ledger

    plan_dir = tmp_path / "plan"
    shutil.copytree(example_plan, plan_dir)
    assert _recorded(plan_dir) == "nothing of this plan has been submitted"
    plan_id = json.loads((plan_dir / "sbatch.json").read_text())["plan_id"]
    Ledger(plan_dir / "submitted.tsv").append("j001", "17", plan_id)
    Ledger(plan_dir / "submitted.tsv").append("j002", "18", "another-plan")
    assert _recorded(plan_dir) == "1 job of this plan submitted, in the ledger"
