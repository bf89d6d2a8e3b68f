"""A corpus of broken inputs, each a realistic mistake, run through the real CLI.

Why a corpus on top of ``tests/model/test_input_checks.py`` (one case per named check): a
nightly ``greenslot plan`` meets many *different* mistakes that fall under one check (a tab in
the YAML and an unclosed quote are both ``bad_yaml``), and each path through the loader can
leak a traceback, a two-line pandas message or a half-written plan of its own. Every case
here must exit 2 with exactly one stderr line naming the file, the row or YAML path, and the
field, carrying the check's name and a hint of what to do, with no traceback and nothing
written under ``--out``.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest

from greenslot.cli import main
from greenslot.model.checks import CHECKS
from tests.helpers.scenarios import START, hourly_forecast
from tests.helpers.trust import (
    CURVE,
    FORECAST,
    Data,
    Mutation,
    add_jobs,
    append_text,
    at,
    chain,
    curve_cell,
    forecast_cell,
    raw_file,
    remove_file,
    rename_key,
    set_config,
    set_gpu_type,
    set_job,
    set_node,
    set_site,
)

YAML = "scenario.yaml"
JOBS = "jobs.csv"
LINE2 = "line 2"


def wide_nodes(d: Data) -> None:
    """Two 3-GPU nodes in partition ``wide`` beside the base 2-GPU nodes in ``gpu``."""
    d.config["nodes"].append({"names": "w[1-2]", "site": "s1", "gpu_type": "G", "gpus": 3,
                              "idle_w": 100, "partition": "wide"})


@dataclass(frozen=True)
class Bad:
    """One broken input and what its one-line error must say."""

    id: str
    mutate: Mutation
    check: str
    file: str
    row: str | None
    field: str | None
    hint: str | None = None  # a fragment of the remedy the message must carry


def _forecast(edit) -> Mutation:
    return lambda d: edit(d.forecast)


def _drop_first_rows(n: int) -> Mutation:
    return _forecast(lambda rows: rows.__delitem__(slice(0, n)))


def _keep_first_rows(n: int) -> Mutation:
    return _forecast(lambda rows: rows.__delitem__(slice(n, None)))


def _swap_two_rows(rows: list[dict]) -> None:
    rows[1], rows[2] = rows[2], rows[1]


def _header_only(d: Data) -> None:
    d.raw[FORECAST] = "time,carbon_g_per_kwh,price_per_mwh\n"


def _naive_forecast_times(d: Data) -> None:
    for row in d.forecast:
        row["time"] = row["time"].replace("+00:00", "")


def _second_forecast_missing(d: Data) -> None:
    d.site["forecast"] = [FORECAST, "prices.csv"]


def _yaml_with(text: str) -> Mutation:
    return raw_file(YAML, text)


VALID_HEAD = (f'start: "{START}"\nhorizon: 4h\nslot: 1h\n'
              "sites: [{name: s1, forecast: forecast-s1.csv}]\n"
              "gpu_types: [{name: G, gpu_idle_w: 10, power_curve: curve-g.csv}]\n"
              "nodes: [{names: 'n[1-2]', site: s1, gpu_type: G, gpus: 2, idle_w: 100}]\n"
              "jobs: jobs.csv\n")

CORPUS = [
    # --- YAML syntax --------------------------------------------------------------------------
    Bad("yaml-tab-indent", _yaml_with(VALID_HEAD + "objective:\n\tcarbon\n"), "bad_yaml", YAML,
        "line", None, "indentation"),
    Bad("yaml-unclosed-quote", _yaml_with('name: "tiny\n' + VALID_HEAD), "bad_yaml", YAML,
        "line", None, "quotes"),
    Bad("yaml-duplicate-key", append_text(YAML, "slot: 30min\n"), "bad_yaml", YAML, "line",
        "slot", "keep one"),
    Bad("yaml-empty-file", _yaml_with(""), "bad_yaml", YAML, None, None, "expected a mapping"),
    Bad("yaml-not-utf8", _yaml_with(b"name: caf\xe9\n" + VALID_HEAD.encode()), "bad_yaml", YAML,
        None, None, "UTF-8"),
    # --- unknown or misspelt keys and columns: the closest known name is suggested -------------
    Bad("key-top-level-typo", rename_key(lambda d: d.config, "horizon", "horizn"), "unknown_key",
        YAML, None, "horizn", "did you mean 'horizon'"),
    Bad("key-node-typo", rename_key(lambda d: d.node, "idle_w", "idle_W"), "unknown_key", YAML,
        "nodes[0]", "idle_W", "did you mean 'idle_w'"),
    Bad("key-gpu-type-typo", rename_key(lambda d: d.gpu_type, "gpu_idle_w", "idle_w"),
        "unknown_key", YAML, "gpu_types[0]", "idle_w", "did you mean 'gpu_idle_w'"),
    Bad("key-window-unknown", set_node(unavailable=[{"from": at(1), "until": at(2)}]),
        "unknown_key", YAML, "nodes[0].unavailable[0]", "until", "allowed: from, to"),
    Bad("column-jobs-typo", raw_file(JOBS, "job_id,gpus,duraton_h\na,1,1\n"), "unknown_column",
        JOBS, "line 1", "duraton_h", "did you mean 'duration_h'"),
    Bad("column-forecast-typo", raw_file(FORECAST, "time,carbon_g_per_kWh,price_per_mwh\n"
        + "".join(f"{at(h)},100,50\n" for h in range(5))), "unknown_column", FORECAST,
        "line 1", "carbon_g_per_kWh", "did you mean 'carbon_g_per_kwh'"),
    Bad("column-curve-typo", raw_file(CURVE, "workload,power_limit_w,power,"
        "relative_throughput\ndefault,300,300,1\n"), "unknown_column", CURVE, "line 1", "power",
        "did you mean 'power_w'"),
    # --- naive timestamps --------------------------------------------------------------------
    Bad("naive-start-quoted", set_config(start="2022-06-14T00:00:00"), "naive_time", YAML,
        None, "start", "UTC offset"),
    Bad("naive-start-yaml-datetime", _yaml_with(VALID_HEAD.replace(
        f'start: "{START}"', "start: 2022-06-14 00:00:00")), "naive_time", YAML, None, "start",
        "'2022-06-14T00:00:00' has no UTC offset"),
    Bad("naive-forecast-time", _naive_forecast_times, "naive_time", FORECAST, LINE2, "time",
        "UTC offset"),
    Bad("naive-window", set_node(unavailable=[{"from": "2022-06-14T01:00:00", "to": at(2)}]),
        "naive_time", YAML, "nodes[0].unavailable[0]", "from", "UTC offset"),
    Bad("naive-deadline", set_job(deadline="2022-06-14 03:00"), "naive_time", JOBS, LINE2,
        "deadline", "UTC offset"),
    Bad("naive-pinned-start", set_job(pinned_start="2022-06-14T00:00", pinned_nodes="n1"),
        "naive_time", JOBS, LINE2, "pinned_start", "UTC offset"),
    # --- wrong types -------------------------------------------------------------------------
    Bad("type-pue-text", set_site(pue="high"), "bad_number", YAML, "sites[0]", "pue",
        "expected a finite number"),
    Bad("type-pue-infinite", set_site(pue=float("inf")), "bad_number", YAML, "sites[0]", "pue",
        "finite"),
    Bad("type-cap-bool", set_site(power_cap_kw=True), "bad_number", YAML, "sites[0]",
        "power_cap_kw", "number"),
    Bad("type-sites-mapping", set_config(sites={"name": "s1"}), "bad_type", YAML, None, "sites",
        "list"),
    Bad("type-jobs-inline-list", set_config(jobs=[{"job_id": "a"}]), "bad_type", YAML, None,
        "jobs", "expected text"),
    Bad("type-horizon-without-unit", set_config(horizon=4), "bad_duration", YAML, None,
        "horizon", "no unit"),
    Bad("type-slot-bare-number-text", set_config(slot="60"), "bad_duration", YAML, None, "slot",
        "no unit"),
    Bad("type-node-gpus-fraction", set_node(gpus=2.5), "bad_number", YAML, "nodes[0]", "gpus",
        "whole number"),
    Bad("type-job-gpus-fraction", set_job(gpus=1.5), "bad_number", JOBS, LINE2, "gpus",
        "whole number"),
    Bad("type-job-priority-text", set_job(priority="high"), "bad_number", JOBS, LINE2,
        "priority", "not a number"),
    Bad("type-job-duration-inf", set_job(duration_h="1e400"), "bad_number", JOBS, LINE2,
        "duration_h", "finite"),
    # --- negative or zero quantities ---------------------------------------------------------
    Bad("zero-job-gpus", set_job(gpus=0), "bad_number", JOBS, LINE2, "gpus", ">= 1"),
    Bad("zero-job-duration", set_job(duration_h=0), "bad_number", JOBS, LINE2, "duration_h",
        "> 0"),
    Bad("negative-job-duration", set_job(duration_h=-2), "bad_number", JOBS, LINE2,
        "duration_h", "> 0"),
    Bad("negative-data-gb", set_job(data_gb=-3), "bad_number", JOBS, LINE2, "data_gb", ">= 0"),
    Bad("negative-node-idle", set_node(idle_w=-5), "bad_number", YAML, "nodes[0]", "idle_w",
        ">= 0"),
    Bad("zero-node-gpus", set_node(gpus=0), "bad_number", YAML, "nodes[0]", "gpus", ">= 1"),
    Bad("negative-gpu-idle", set_gpu_type(gpu_idle_w=-1), "bad_number", YAML, "gpu_types[0]",
        "gpu_idle_w", ">= 0"),
    Bad("zero-power-cap", set_site(power_cap_kw=0), "bad_number", YAML, "sites[0]",
        "power_cap_kw", "> 0"),
    Bad("negative-transfer", set_config(transfer_kwh_per_gb=-1), "bad_number", YAML, None,
        "transfer_kwh_per_gb", ">= 0"),
    Bad("zero-slot", set_config(slot="0min"), "bad_duration", YAML, None, "slot", "positive"),
    Bad("negative-carbon", forecast_cell(3, "carbon_g_per_kwh", -20), "negative_signal",
        FORECAST, "line 5", "carbon_g_per_kwh", ">= 0"),
    # --- deadline before release -------------------------------------------------------------
    Bad("deadline-before-horizon-start", set_job(deadline=at(-1)), "deadline_before_release",
        JOBS, LINE2, "deadline", "not after release"),
    Bad("deadline-equals-release", set_job(release=at(2), deadline=at(2)),
        "deadline_before_release", JOBS, LINE2, "deadline", "not after release"),
    Bad("deadline-other-offset-before", set_job(release="2022-06-14T03:00:00+02:00",
        deadline="2022-06-14T00:30:00+00:00"), "deadline_before_release", JOBS, LINE2,
        "deadline", "not after release"),
    # --- unknown references (with the closest name) ------------------------------------------
    Bad("ref-node-gpu-type-case", set_node(gpu_type="g"), "unknown_gpu_type", YAML, "nodes[0]",
        "gpu_type", "did you mean 'G'"),
    Bad("ref-node-site", set_node(site="S1"), "unknown_site", YAML, "nodes[0]", "site",
        "did you mean 's1'"),
    Bad("ref-job-data-site", set_job(data_site="s-1"), "unknown_site", JOBS, LINE2,
        "data_site", "did you mean 's1'"),
    Bad("ref-job-partition-typo", set_job(partition="gpus"), "unknown_partition", JOBS, LINE2,
        "partition", "did you mean 'gpu'"),
    Bad("ref-dependency-typo", add_jobs({"job_id": "train-1"}, depends_on="train_1"),
        "unknown_dependency", JOBS, LINE2, "depends_on", "did you mean 'train-1'"),
    Bad("ref-dependency-comma", add_jobs({"job_id": "b"}, {"job_id": "c"}, depends_on='"b,c"'),
        "unknown_dependency", JOBS, LINE2, "depends_on", "separate several ids with ';'"),
    Bad("ref-workload", set_job(workload="bert"), "unknown_workload", JOBS, LINE2, "workload",
        "no power curve"),
    # --- dependency cycles -------------------------------------------------------------------
    Bad("cycle-three-jobs", add_jobs({"job_id": "b", "depends_on": "c"},
                                     {"job_id": "c", "depends_on": "a"}, depends_on="b"),
        "dependency_cycle", JOBS, "line", "depends_on", "->"),
    Bad("cycle-self", set_job(depends_on="a"), "dependency_cycle", JOBS, LINE2, "depends_on",
        "itself"),
    # --- forecast gaps and too-short forecasts -----------------------------------------------
    Bad("forecast-starts-late", _drop_first_rows(1), "forecast_gap", FORECAST, None, "time",
        "extend the forecast"),
    Bad("forecast-too-short", _keep_first_rows(3), "forecast_gap", FORECAST, None, "time",
        "extend the forecast"),
    Bad("forecast-one-row", _keep_first_rows(1), "forecast_gap", FORECAST, None, "time",
        "extend the forecast"),
    Bad("forecast-header-only", _header_only, "forecast_gap", FORECAST, LINE2, "time",
        "add one row per interval"),
    Bad("forecast-hole-in-middle", _forecast(lambda rows: rows.__delitem__(1)), "forecast_gap",
        FORECAST, None, "time", "2022-06-14T01:00:00+00:00"),
    Bad("forecast-rows-swapped", _forecast(_swap_two_rows), "forecast_not_increasing", FORECAST,
        "line 4", "time", "strictly increasing"),
    Bad("forecast-second-file-missing", _second_forecast_missing, "missing_file", "prices.csv",
        None, None, "not found"),
    # --- non-numeric values ------------------------------------------------------------------
    Bad("value-na-text", forecast_cell(1, "carbon_g_per_kwh", "n/a"), "bad_number", FORECAST,
        "line 3", "carbon_g_per_kwh", "write plain decimals"),
    Bad("value-decimal-comma", forecast_cell(2, "price_per_mwh", '"12,5"'), "bad_number",
        FORECAST, "line 4", "price_per_mwh", "write plain decimals"),
    Bad("value-infinite", forecast_cell(0, "carbon_g_per_kwh", "inf"), "bad_number", FORECAST,
        LINE2, "carbon_g_per_kwh", "finite"),
    Bad("value-empty-in-horizon", forecast_cell(2, "price_per_mwh", None), "forecast_nan",
        FORECAST, "line 4", "price_per_mwh", "empty value"),
    # --- power curves with impossible values -------------------------------------------------
    Bad("curve-negative-power", curve_cell(1, "power_w", -200), "bad_number", CURVE, "line 3",
        "power_w", "> 0"),
    Bad("curve-zero-throughput", curve_cell(1, "relative_throughput", 0), "bad_number", CURVE,
        "line 3", "relative_throughput", "> 0"),
    Bad("curve-throughput-above-one", curve_cell(1, "relative_throughput", 1.5), "bad_curve",
        CURVE, "line 3", "relative_throughput", "<= 1"),
    Bad("curve-no-fastest-row", curve_cell(0, "relative_throughput", 0.9), "bad_curve", CURVE,
        None, "relative_throughput", "fastest row"),
    Bad("curve-limit-with-unit", curve_cell(0, "power_limit_w", "300W"), "bad_number", CURVE,
        LINE2, "power_limit_w", "not a number"),
    # --- bad hostlists -----------------------------------------------------------------------
    Bad("hostlist-unbalanced", set_node(names="n[1-2"), "bad_hostlist", YAML, "nodes[0]",
        "names", "unbalanced"),
    Bad("hostlist-letters", set_node(names="n[a-c]"), "bad_hostlist", YAML, "nodes[0]", "names",
        "bad range"),
    Bad("hostlist-space", set_node(names="gpu 01"), "bad_hostlist", YAML, "nodes[0]", "names",
        "bad host name"),
    Bad("hostlist-huge", set_node(names="n[1-99999999]"), "bad_hostlist", YAML, "nodes[0]",
        "names", "more than"),
    Bad("hostlist-duplicate-node", lambda d: d.config["nodes"].append(dict(d.node)),
        "duplicate_name", YAML, "nodes[1]", "names", "twice"),
    Bad("hostlist-pinned-unbalanced", set_job(pinned_start=START, pinned_nodes="n[1-"),
        "bad_hostlist", JOBS, LINE2, "pinned_nodes", "unbalanced"),
    # --- pinned jobs on unknown nodes --------------------------------------------------------
    Bad("pinned-unknown-node-typo", set_job(pinned_start=START, pinned_nodes="n01"),
        "unknown_node", JOBS, LINE2, "pinned_nodes", "did you mean 'n1'"),
    Bad("pinned-range-past-cluster", set_job(gpus=4, pinned_start=START, pinned_nodes="n[2-3]"),
        "unknown_node", JOBS, LINE2, "pinned_nodes", "'n3'"),
    # --- a job above a node's size that is not a whole number of nodes ----------------------
    Bad("gpus-not-whole-nodes", set_job(gpus=3), "gpus_not_whole_nodes", JOBS, LINE2, "gpus",
        "ask for 2 or 4 GPUs"),
    Bad("gpus-not-whole-nodes-in-partition", chain(wide_nodes, set_job(gpus=3, partition="gpu")),
        "gpus_not_whole_nodes", JOBS, LINE2, "gpus", "2 GPUs on the nodes it may use"),
    # --- missing files -----------------------------------------------------------------------
    Bad("missing-jobs", remove_file(JOBS), "missing_file", JOBS, None, None, "not found"),
    Bad("missing-curve", remove_file(CURVE), "missing_file", CURVE, None, None, "not found"),
    Bad("missing-forecast", remove_file(FORECAST), "missing_file", FORECAST, None, None,
        "not found"),
    Bad("missing-script", set_job(script="train.sh"), "missing_file", JOBS, LINE2, "script",
        "not found"),
    Bad("missing-curve-is-folder", chain(remove_file(CURVE), raw_file("curve-g.csv/x", "")),
        "missing_file", CURVE, None, None, "not found"),
]


def assert_one_line(err: str, case: Bad) -> None:
    """Contract section 4: one line naming file, row and field, the check, and a remedy."""
    assert "Traceback" not in err, err
    assert err.endswith("\n") and err.count("\n") == 1, f"expected one line, got:\n{err}"
    assert err.startswith("greenslot: error: "), err
    assert f"[{case.check}]" in err, err
    assert case.file in err, err
    if case.row is not None:
        assert f", {case.row}" in err, err
    if case.field is not None:
        assert f"field '{case.field}'" in err, err
    if case.hint is not None:
        assert case.hint in err, err


def test_corpus_is_large_and_uses_known_checks():
    assert len(CORPUS) >= 40
    assert len({c.id for c in CORPUS}) == len(CORPUS)
    assert {c.check for c in CORPUS} <= set(CHECKS)


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.id)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case: Bad, tmp_path, capsys):
    data = Data()
    case.mutate(data)
    scenario = data.write(tmp_path / "scenario")
    out = tmp_path / "out"
    rc = main(["plan", str(scenario), "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert rc == 2, captured.err
    assert captured.out == ""
    assert_one_line(captured.err, case)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_missing_scenario_folder_exits_2(tmp_path, capsys):
    rc = main(["plan", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and "nowhere" in err and "[missing_file]" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize("case_id", ["yaml-not-utf8", "hostlist-huge", "value-infinite"])
def test_installed_command_gives_the_same_single_line(case_id: str, tmp_path):
    """The console script, run as a user would: exit 2, one line, no traceback."""
    case = next(c for c in CORPUS if c.id == case_id)
    data = Data()
    case.mutate(data)
    scenario = data.write(tmp_path / "scenario")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "greenslot", "plan", str(scenario), "--out",
                           str(out), "--quiet"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert_one_line(done.stderr, case)
    assert not out.exists()


def test_base_data_is_valid(tmp_path, capsys):
    """Each case fails because of its one mutation, not because the base is broken."""
    assert main(["plan", str(Data().write(tmp_path / "s")), "--out", str(tmp_path / "o"),
                 "--quiet"]) == 0, capsys.readouterr().err
    assert hourly_forecast([1.0])[0]["time"] == START
