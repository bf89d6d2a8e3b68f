"""Every named input check, driven through the real CLI.

Why: a nightly ``greenslot plan`` run must fail on bad input with exit 2 and ONE stderr line that
names the check, the file, and (where one applies) the field, with no traceback and nothing
written (contract section 4). The loader has many checks; each is easy to break silently (a
wrong name, a ``KeyError`` escaping as a traceback, a pandas message with a newline). So each
check in :data:`greenslot.model.checks.CHECKS` gets a realistic mistake a user would make, the
scenario is written to disk exactly as a user would lay it out, and ``main(["plan", ...])`` runs
on it. A catalogue test makes a new check without a case here fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from greenslot.cli import main
from greenslot.model.checks import CHECKS
from tests.helpers.scenarios import START, hourly_forecast
from tests.helpers.trust import Data, at, set_config, set_job, set_node, set_site

# --- the mutations that need more than one assignment --------------------------------------------


def jobs_text(text: str) -> Callable[[Data], None]:
    def mutate(d: Data) -> None:
        d.raw["jobs.csv"] = text
    return mutate


def drop_key(key: str) -> Callable[[Data], None]:
    return lambda d: d.config.pop(key)


def typo_in_site_key(d: Data) -> None:
    d.site["poe"] = d.site.pop("pue")


def two_jobs(second: dict[str, Any], **first: Any) -> Callable[[Data], None]:
    def mutate(d: Data) -> None:
        d.job.update(first)
        d.jobs.append({"gpus": 1, "duration_h": 1, **second})
    return mutate


def forecast_rows(edit: Callable[[list[dict]], None]) -> Callable[[Data], None]:
    return lambda d: edit(d.forecasts["forecast-s1.csv"])


def drop_hour_two(rows: list[dict]) -> None:
    del rows[2]


def empty_carbon_cell(rows: list[dict]) -> None:
    rows[1]["carbon_g_per_kwh"] = None


def repeat_a_row(rows: list[dict]) -> None:
    rows.insert(2, dict(rows[1]))


def split_forecast_both_with_carbon(d: Data) -> None:
    rows = d.forecasts.pop("forecast-s1.csv")
    d.forecasts["carbon-a.csv"] = [{"time": r["time"], "carbon_g_per_kwh": r["carbon_g_per_kwh"]}
                                   for r in rows]
    d.forecasts["carbon-b.csv"] = [{"time": r["time"], "carbon_g_per_kwh": 1.0,
                                    "price_per_mwh": r["price_per_mwh"]} for r in rows]
    d.site["forecast"] = ["carbon-a.csv", "carbon-b.csv"]


def negative_renewable(d: Data) -> None:
    d.forecasts["forecast-s1.csv"] = hourly_forecast([100, 200, 50, 300, 300],
                                                     renewable=[0, 0, -5, 0, 0])


def curve_faster_than_fastest(d: Data) -> None:
    d.curves["curve-g.csv"][1]["relative_throughput"] = 1.2


def curve_row_twice(d: Data) -> None:
    rows = d.curves["curve-g.csv"]
    rows.append(dict(rows[1]))


def backwards_window(d: Data) -> None:
    d.node["unavailable"] = [{"from": at(2), "to": at(1)}]


def jobs_csv(text: str) -> Callable[[Data], None]:
    """A mutation that writes jobs.csv as given (for columns the builder does not write)."""
    return lambda d: d.raw.update({"jobs.csv": text})


def script_and_command(d: Data) -> None:
    d.raw["train.sh"] = "#!/bin/bash\npython train.py\n"
    d.job.update(script="train.sh", command="python train.py")


# --- the table: one case (at least) per named check ----------------------------------------------


@dataclass(frozen=True)
class Case:
    check: str
    mutate: Callable[[Data], None]
    file: str  # a fragment of the file name the message must name
    field: str | None  # the field it must name, where one applies
    variant: str = ""

    @property
    def id(self) -> str:
        return f"{self.check}:{self.variant}" if self.variant else self.check


CASES = [
    Case("missing_file", lambda d: d.remove.append("jobs.csv"), "jobs.csv", None),
    Case("missing_file", set_job(script="missing.sh"), "jobs.csv", "script", "script"),
    Case("missing_file", lambda d: d.remove.append("curve-g.csv"), "curve-g.csv", None, "curve"),
    Case("missing_file", lambda d: d.remove.append("forecast-s1.csv"), "forecast-s1.csv", None,
         "forecast"),
    Case("bad_yaml", lambda d: d.raw.update({"scenario.yaml": "name: [tiny\nslot: 1h\n"}),
         "scenario.yaml", None),
    Case("bad_yaml", lambda d: d.raw.update({"scenario.yaml": "- just\n- a list\n"}),
         "scenario.yaml", None, "not-a-mapping"),
    Case("bad_csv", jobs_text('job_id,gpus,duration_h\n"a,1,1\n'), "jobs.csv", None),
    # A row longer than the header: pandas would silently take the extra cells as an index.
    Case("bad_csv", jobs_text("job_id,gpus,duration_h\na,1,1,7,8\n"), "jobs.csv", None,
         "extra-fields"),
    Case("bad_csv", jobs_text("job_id,gpus,duration_h,command\na,1,1,python t.py --lr 0.1,0.2\n"),
         "jobs.csv", None, "unquoted-comma"),
    Case("bad_csv", lambda d: d.raw.update({"jobs.csv": b"\xff\xfe\x00\x81job_id\x00"}),
         "jobs.csv", None, "binary"),
    Case("unknown_key", typo_in_site_key, "scenario.yaml", "poe"),
    Case("missing_key", drop_key("slot"), "scenario.yaml", "slot"),
    Case("missing_column", jobs_text("job_id,duration_h\na,1\n"), "jobs.csv", "gpus"),
    Case("unknown_column", jobs_text("job_id,gpus,duration_h,owner\na,1,1,alice\n"),
         "jobs.csv", "owner"),
    Case("bad_type", set_site(power_down_idle="yes"), "scenario.yaml", "power_down_idle"),
    Case("bad_number", set_job(gpus="two"), "jobs.csv", "gpus"),
    Case("bad_number", set_site(pue=0.9), "scenario.yaml", "pue", "pue"),
    Case("bad_time", set_job(release="tomorrow"), "jobs.csv", "release"),
    Case("time_out_of_range", set_job(deadline="2262-01-01T00:00:00+00:00"), "jobs.csv",
         "deadline"),
    Case("too_large", set_config(horizon="100000D", slot="1s"), "scenario.yaml", "horizon"),
    Case("naive_time", set_job(release="2022-06-14T01:00:00"), "jobs.csv", "release"),
    Case("bad_duration", set_config(slot="fast"), "scenario.yaml", "slot"),
    Case("horizon_not_multiple", set_config(horizon="4h30min"), "scenario.yaml", "horizon"),
    Case("bad_objective", set_config(objective="green"), "scenario.yaml", "objective"),
    Case("bad_currency", set_config(currency="dollars"), "scenario.yaml", "currency"),
    Case("duplicate_name", two_jobs({"job_id": "a"}), "jobs.csv", "job_id"),
    Case("bad_name", set_job(job_id="a b"), "jobs.csv", "job_id"),
    Case("bad_name", set_job(job_id="a;rm"), "jobs.csv", "job_id", "shell"),
    Case("bad_hostlist", set_node(names="n[3-1]"), "scenario.yaml", "names"),
    Case("unknown_site", set_node(site="s9"), "scenario.yaml", "site"),
    Case("unknown_site", set_job(site="s9"), "jobs.csv", "site", "job"),
    Case("unknown_gpu_type", set_job(gpu_type="H100"), "jobs.csv", "gpu_type"),
    Case("unknown_partition", set_job(partition="nope"), "jobs.csv", "partition"),
    Case("unknown_node", set_job(pinned_start=START, pinned_nodes="n9"), "jobs.csv",
         "pinned_nodes"),
    Case("unknown_workload", set_job(workload="xyz"), "jobs.csv", "workload"),
    Case("unknown_power_limit", set_job(power_limit_w=250), "jobs.csv", "power_limit_w"),
    Case("bad_curve", curve_faster_than_fastest, "curve-g.csv", "relative_throughput"),
    Case("bad_curve", curve_row_twice, "curve-g.csv", "power_limit_w", "duplicate-row"),
    Case("deadline_before_release", set_job(release=at(2), deadline=at(1)), "jobs.csv",
         "deadline"),
    Case("unknown_dependency", set_job(depends_on="ghost"), "jobs.csv", "depends_on"),
    Case("dependency_cycle", two_jobs({"job_id": "b", "depends_on": "a"}, depends_on="b"),
         "jobs.csv", "depends_on"),
    Case("gpus_not_whole_nodes", set_job(gpus=3), "jobs.csv", "gpus"),
    Case("script_and_command", script_and_command, "jobs.csv", "command"),
    Case("bad_sbatch_arg", jobs_csv("job_id,gpus,duration_h,sbatch_args\na,1,1,--begin=now\n"),
         "jobs.csv", "sbatch_args"),
    Case("bad_sbatch_arg", jobs_csv("job_id,gpus,duration_h,sbatch_args\na,1,1,-w n2\n"),
         "jobs.csv", "sbatch_args", "short"),
    Case("bad_sbatch_arg", jobs_csv("job_id,gpus,duration_h,sbatch_args\na,1,1,'--x\n"),
         "jobs.csv", "sbatch_args", "quote"),
    Case("bad_number", jobs_csv("job_id,gpus,duration_h,mem\na,1,1,lots\n"), "jobs.csv", "mem",
         "mem"),
    Case("bad_number", jobs_csv("job_id,gpus,duration_h,cpus_per_task\na,1,1,0\n"), "jobs.csv",
         "cpus_per_task", "cpus"),
    Case("bad_number", set_node(cpus=2.5), "scenario.yaml", "cpus", "node_cpus"),
    Case("pinned_incomplete", set_job(pinned_start=START), "jobs.csv", "pinned_nodes"),
    Case("pinned_not_on_slot", set_job(pinned_start=at(0.5), pinned_nodes="n1"), "jobs.csv",
         "pinned_start"),
    Case("pinned_nodes_mismatch", set_job(pinned_start=START, pinned_nodes="n[1-2]"),
         "jobs.csv", "pinned_nodes"),
    Case("pinned_outside_horizon", set_job(pinned_start=at(-10), pinned_nodes="n1"),
         "jobs.csv", "pinned_start"),
    Case("bad_window", backwards_window, "scenario.yaml", "to"),
    Case("bad_reservation", set_config(reservations=[{"name": "r", "start": START,
                                                      "duration": "1h", "gpus": 9}]),
         "scenario.yaml", "gpus"),
    # A site's forecast may name a provider; a mistake there must not reach the network.
    Case("bad_forecast_source",
         set_site(forecast=["forecast-s1.csv", {"provider": "uk-carbon-intensty"}]),
         "scenario.yaml", "forecast.provider", "typo in provider"),
    Case("bad_forecast_source",
         set_site(forecast={"provider": "uk-carbon-intensity", "base_url": "localhost:8080"}),
         "scenario.yaml", "forecast.base_url", "base_url without scheme"),
    Case("bad_forecast_source",
         set_site(forecast={"provider": "uk-carbon-intensity", "history": "gb-hist.csv"}),
         "scenario.yaml", "forecast.history", "history file missing"),
    Case("bad_forecast_source",
         set_site(forecast={"provider": "uk-carbon-intensity", "regoin": "13"}),
         "scenario.yaml", "forecast.regoin", "unknown key"),
    Case("forecast_gap", forecast_rows(drop_hour_two), "forecast-s1.csv", "time"),
    Case("forecast_nan", forecast_rows(empty_carbon_cell), "forecast-s1.csv",
         "carbon_g_per_kwh"),
    Case("forecast_not_increasing", forecast_rows(repeat_a_row), "forecast-s1.csv", "time"),
    Case("forecast_duplicate_column", split_forecast_both_with_carbon, "carbon-b.csv",
         "carbon_g_per_kwh"),
    # The value to fix is in the forecast file, so that is the file the message must name.
    Case("negative_signal", negative_renewable, "forecast-s1.csv", "renewable_kw"),
]

# Checks about a plan folder rather than a scenario: covered by their own tests below.
PLAN_FOLDER_CHECKS = {"bad_plan"}
OVERRIDE_CHECKS = {"bad_override"}  # cases in tests/analysts/test_whatif_overrides.py
SIMULATE_CHECKS = {"unknown_job"}  # cases in tests/trust/test_simulate_durations.py


# --- assertions -----------------------------------------------------------------------------------


def assert_one_line_error(err: str, check: str, file: str, field: str | None) -> None:
    """Contract section 4: one line naming file (row) and field, the check name, no traceback."""
    assert "Traceback" not in err, err
    assert err.endswith("\n") and err.count("\n") == 1, f"expected one line, got:\n{err}"
    assert f"[{check}]" in err, err
    assert file in err, err
    if field is not None:
        assert f"field '{field}'" in err, err


def run_plan(scenario: Path, out: Path, capsys) -> tuple[int, str]:
    rc = main(["plan", str(scenario), "--out", str(out)])
    return rc, capsys.readouterr().err


# --- tests ---------------------------------------------------------------------------------------


def test_base_scenario_plans(tmp_path, capsys):
    """The unmutated scenario is valid, so each failure below is due to its one mutation."""
    rc, err = run_plan(Data().write(tmp_path / "scenario"), tmp_path / "out", capsys)
    assert rc == 0, err
    assert (tmp_path / "out" / "schedule.csv").is_file()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_is_one_named_line_and_writes_nothing(case: Case, tmp_path, capsys):
    data = Data()
    case.mutate(data)
    scenario = data.write(tmp_path / "scenario")
    rc, err = run_plan(scenario, tmp_path / "out", capsys)
    assert rc == 2, err
    assert_one_line_error(err, case.check, case.file, case.field)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no staging left


def test_every_check_has_a_case():
    covered = {c.check for c in CASES} | PLAN_FOLDER_CHECKS | OVERRIDE_CHECKS | SIMULATE_CHECKS
    assert covered == set(CHECKS)


def test_bad_input_leaves_an_old_plan_untouched(tmp_path, capsys):
    good = Data().write(tmp_path / "good")
    out = tmp_path / "out"
    rc, err = run_plan(good, out, capsys)
    assert rc == 0, err
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    bad = Data()
    bad.job["release"] = "2022-06-14T01:00:00"
    rc, err = run_plan(bad.write(tmp_path / "bad"), out, capsys)
    assert rc == 2
    assert_one_line_error(err, "naive_time", "jobs.csv", "release")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# --- bad_plan: `greenslot validate` on a plan folder that cannot be read back --------------------


def _remove_schedule(plan: Path) -> None:
    (plan / "schedule.csv").unlink()


def _schedule_text(text: str) -> Callable[[Path], None]:
    return lambda plan: (plan / "schedule.csv").write_text(text)


def _schedule_edit(column: str, value: str) -> Callable[[Path], None]:
    def edit(plan: Path) -> None:
        frame = pd.read_csv(plan / "schedule.csv", dtype=str, keep_default_na=False)
        frame.loc[0, column] = value
        frame.to_csv(plan / "schedule.csv", index=False)
    return edit


def _drop_schedule_column(column: str) -> Callable[[Path], None]:
    def edit(plan: Path) -> None:
        frame = pd.read_csv(plan / "schedule.csv", dtype=str, keep_default_na=False)
        frame.drop(columns=[column]).to_csv(plan / "schedule.csv", index=False)
    return edit


def _summary_text(text: str) -> Callable[[Path], None]:
    return lambda plan: (plan / "summary.json").write_text(text)


BAD_PLANS = {
    "missing-schedule": (_remove_schedule, "schedule.csv", None),
    "missing-column": (_drop_schedule_column("nodes"), "schedule.csv", "nodes"),
    "start-not-a-time": (_schedule_edit("start", "soon"), "schedule.csv", "start"),
    "start-empty": (_schedule_edit("start", ""), "schedule.csv", "start"),
    "start-off-slot": (_schedule_edit("start", at(0.5)), "schedule.csv", "start"),
    "power-not-a-number": (_schedule_edit("power_limit_w", "max"), "schedule.csv", None),
    "unbalanced-quote": (_schedule_text('job_id,start\n"a,x\n'), "schedule.csv", None),
    "empty-schedule": (_schedule_text(""), "schedule.csv", None),
    "summary-not-json": (_summary_text("{"), "summary.json", None),
    "summary-not-object": (_summary_text("[]"), "summary.json", None),
}


@pytest.mark.parametrize("breakage", sorted(BAD_PLANS))
def test_unreadable_plan_folder_is_bad_plan(breakage: str, tmp_path, capsys):
    break_plan, file, field_name = BAD_PLANS[breakage]
    scenario = Data().write(tmp_path / "scenario")
    plan = tmp_path / "plan"
    rc, err = run_plan(scenario, plan, capsys)
    assert rc == 0, err
    break_plan(plan)
    before = {p.name: p.read_bytes() for p in plan.iterdir()}

    rc = main(["validate", str(scenario), str(plan)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert_one_line_error(err, "bad_plan", file, field_name)
    assert {p.name: p.read_bytes() for p in plan.iterdir()} == before

