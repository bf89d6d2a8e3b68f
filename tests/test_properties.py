"""Property tests: random small scenarios through the fifo and greedy solvers.

For every generated scenario:

* greedy's schedule passes the independent validator with no violation at all;
* fifo's schedule passes it too, except ``window`` violations that only miss a deadline (the
  contract's fifo baseline ignores deadlines);
* for both, the site-level totals of :func:`greenslot.model.accounting.account` agree (1e-9
  relative) with a recomputation written here in plain loops straight from contract section 3,
  using only the generated description of the scenario (not greenslot's loaded objects, its
  rules or its accounting).

The generator only produces scenarios the loader accepts (no pinned jobs): a load failure is
a failure of the test, not a skip.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.accounting import account
from greenslot.model.validator import validate
from greenslot.solvers.fifo import solve_fifo
from greenslot.solvers.greedy import solve_greedy
from greenslot.solvers.types import SolveOptions
from tests.helpers.scenarios import START
from tests.helpers.strategies import EXAMPLES, at_quarter, scenarios, write_spec

REL = 1e-9
ABS = 1e-9
TOTALS = ("energy_kwh", "grid_kwh", "renewable_kwh", "carbon_kg", "cost")


# --- contract section 3, recomputed independently ---------------------------------------------


def contract_totals(spec: dict, schedule) -> dict[str, float]:
    """Totals of contract section 3 for ``schedule``, from the generated description only."""
    D = spec["slot_h"]
    T = spec["n_slots"]
    sites = {s["name"]: s for s in spec["sites"]}
    types = {t["name"]: t for t in spec["gpu_types"]}
    jobs = {j["job_id"]: j for j in spec["jobs"]}
    nodes = {}
    for group in spec["groups"]:
        for name in group["names"]:
            nodes[name] = group

    def signal(site, key, t):
        values = sites[site][key]
        if values is None:
            return 0.0
        return values[int(t * D)]  # hourly rows, held over half-hour slots

    # Per node and slot: GPUs in use and their board power.
    busy = {(name, t): [0, 0.0] for name in nodes for t in range(T)}
    transfer = {(s, t): 0.0 for s in sites for t in range(T)}
    for a in schedule.assignments:
        job = jobs[a.job_id]
        first = nodes[a.nodes[0]]
        modes = types[first["gpu_type"]]["workloads"][job.get("workload", "default")]
        mode = next(m for m in modes if abs(m["power_limit_w"] - a.power_limit_w) < 1e-9)
        n = math.ceil(job["duration_h"] / mode["relative_throughput"] / D - 1e-9)
        assert a.end_slot - a.start_slot == n, (a, n)
        for name in a.nodes:
            node = nodes[name]
            # Up to a node's GPU count a job shares it; above, it uses every GPU of each node.
            used = job["gpus"] if job["gpus"] <= node["gpus"] else node["gpus"]
            for t in range(max(0, a.start_slot), min(T, a.end_slot)):
                busy[name, t][0] += used
                busy[name, t][1] += used * mode["power_w"]
        site = first["site"]
        data_gb = job.get("data_gb", 0.0) or 0.0
        data_site = job.get("data_site")
        if 0 <= a.start_slot < T and data_gb > 0 and data_site and data_site != site:
            transfer[site, a.start_slot] += data_gb * spec["transfer"]

    totals = dict.fromkeys(TOTALS, 0.0)
    for s, site in sites.items():
        for t in range(T):
            draw_w = boot_kwh = 0.0
            for name, node in nodes.items():
                if node["site"] != s:
                    continue
                gpus_busy, gpu_w = busy[name, t]
                active = gpus_busy > 0 or not site["power_down_idle"]
                if active:
                    idle_gpu_w = types[node["gpu_type"]]["gpu_idle_w"]
                    draw_w += node["idle_w"] + gpu_w + (node["gpus"] - gpus_busy) * idle_gpu_w
                # the extension wake_energy_kwh: a powered-down node coming on boots (never
                # in slot 0, before which every node counts as on)
                if (site["power_down_idle"] and t > 0 and gpus_busy > 0
                        and busy[name, t - 1][0] == 0):
                    boot_kwh += node.get("wake_kwh", 0.0)
            E = site["pue"] * (draw_w / 1000.0 * D + boot_kwh) + transfer[s, t]
            R = signal(s, "renewable", t) * D
            G = max(0.0, E - R)
            totals["energy_kwh"] += E
            totals["grid_kwh"] += G
            totals["renewable_kwh"] += E - G
            totals["carbon_kg"] += G * signal(s, "carbon", t) / 1000.0
            totals["cost"] += G * signal(s, "price", t) / 1000.0
    return totals


def _release_slot(spec: dict, job: dict) -> int:
    """A job's earliest start slot from its description: release rounded up, not before 0."""
    if "release" not in job:
        return 0
    hours = (pd.Timestamp(job["release"]) - pd.Timestamp(START)) / pd.Timedelta(hours=1)
    return max(0, math.ceil(hours / spec["slot_h"] - 1e-9))


def _assert_totals_reconcile(spec, scenario, schedule, solver):
    ours = contract_totals(spec, schedule)
    theirs = account(scenario, schedule).totals
    for key in TOTALS:
        assert math.isclose(theirs[key], ours[key], rel_tol=REL, abs_tol=ABS), (
            f"{solver}: {key} accounting {theirs[key]!r} != contract recomputation {ours[key]!r}")


# --- the property ------------------------------------------------------------------------------


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=scenarios())
def test_fifo_and_greedy_schedules_are_valid_and_totals_reconcile(spec):
    with tempfile.TemporaryDirectory() as folder:
        scenario = load_scenario(write_spec(Path(folder) / "scenario", spec))

        greedy = solve_greedy(scenario, SolveOptions()).schedule
        problems = validate(scenario, greedy)
        assert problems == [], [str(v) for v in problems]
        _assert_totals_reconcile(spec, scenario, greedy, "greedy")

        fifo = solve_fifo(scenario, SolveOptions()).schedule
        placed = fifo.by_job()
        jobs = {j["job_id"]: j for j in spec["jobs"]}
        rest = []
        for v in validate(scenario, fifo):
            a = placed.get(v.job_id) if v.job_id else None
            only_deadline = (v.kind == "window" and a is not None
                             and a.start_slot >= _release_slot(spec, jobs[v.job_id])
                             and a.end_slot <= spec["n_slots"] and "deadline" in jobs[v.job_id])
            if not only_deadline:
                rest.append(v)
        assert rest == [], [str(v) for v in rest]
        _assert_totals_reconcile(spec, scenario, fifo, "fifo")
        _assert_fifo_runs_fastest(spec, fifo)


def _assert_fifo_runs_fastest(spec: dict, schedule) -> None:
    """Contract section 3: fifo runs each job at its fastest mode (ties: lower power)."""
    jobs = {j["job_id"]: j for j in spec["jobs"]}
    type_of = {name: g["gpu_type"] for g in spec["groups"] for name in g["names"]}
    types = {t["name"]: t for t in spec["gpu_types"]}
    for a in schedule.assignments:
        job = jobs[a.job_id]
        if "power_limit_w" in job:
            assert a.power_limit_w == job["power_limit_w"], a
            continue
        rows = types[type_of[a.nodes[0]]]["workloads"][job["workload"]]
        fastest = min(rows, key=lambda r: (-r["relative_throughput"], r["power_w"]))
        assert a.power_limit_w == fastest["power_limit_w"], (a, rows)


def test_recomputation_agrees_on_an_empty_schedule():
    """Sanity of the recomputation itself: always-on nodes only, one hand-checked number."""
    spec = {
        "slot_h": 0.5, "hours": 2, "n_slots": 4, "transfer": 0.0,
        "sites": [{"name": "s1", "pue": 1.5, "power_down_idle": False,
                   "carbon": [100.0, 200.0], "price": [10.0, 20.0], "renewable": None,
                   "power_cap_kw": None}],
        "gpu_types": [{"name": "T1", "gpu_idle_w": 10.0,
                       "workloads": {"default": [{"power_limit_w": 300, "power_w": 300.0,
                                                  "relative_throughput": 1.0}]}}],
        "groups": [{"prefix": "g1n", "names": ["g1n1"], "site": "s1", "gpu_type": "T1",
                    "gpus": 2, "idle_w": 80.0, "partition": None, "maintenance": None}],
        "jobs": [{"job_id": "j1", "gpus": 1, "duration_h": 0.5, "deadline": at_quarter(2)}],
    }
    with tempfile.TemporaryDirectory() as folder:
        scenario = load_scenario(write_spec(Path(folder) / "scenario", spec))
        schedule = solve_greedy(scenario, SolveOptions()).schedule
        assert validate(scenario, schedule) == []
        ours = contract_totals(spec, schedule)
        # Idle node: 80 + 2 * 10 = 100 W; j1 adds 300 - 10 W for one half-hour slot.
        # E = 1.5 * (4 * 100 + 290) / 1000 * 0.5 = 0.5175 kWh.
        assert math.isclose(ours["energy_kwh"], 0.5175, rel_tol=1e-12)
        _assert_totals_reconcile(spec, scenario, schedule, "greedy")


def test_greedy_places_a_job_whose_dependent_cannot_run():
    """Found by the property run: greedy's critical-path rule drops a placeable job.

    ``b`` depends on ``a`` but can never run (2 h before a 1 h deadline). ``a`` alone fits
    easily (fifo places it at slot 0), yet greedy tightens a's latest end to b's latest start
    (slot 1 - 2 = -1) and leaves ``a`` unplaced with "window too short ... between 00:00 and
    23:00 the day before". Leaving out a job that fits costs its priority in the objective for
    nothing: the constraint from a dependent that cannot be placed anyway should not apply.
    """
    spec = {
        "slot_h": 1.0, "hours": 4, "n_slots": 4, "transfer": 0.0,
        "sites": [{"name": "s1", "pue": 1.0, "power_down_idle": True,
                   "carbon": [100.0] * 4, "price": [100.0] * 4, "renewable": None,
                   "power_cap_kw": None}],
        "gpu_types": [{"name": "T1", "gpu_idle_w": 10.0,
                       "workloads": {"default": [{"power_limit_w": 300, "power_w": 300.0,
                                                  "relative_throughput": 1.0}]}}],
        "groups": [{"prefix": "g1n", "names": ["g1n1"], "site": "s1", "gpu_type": "T1",
                    "gpus": 2, "idle_w": 100.0, "partition": None, "maintenance": None}],
        "jobs": [{"job_id": "a", "gpus": 1, "duration_h": 1.0},
                 {"job_id": "b", "gpus": 1, "duration_h": 2.0, "deadline": at_quarter(4),
                  "depends_on": "a"}],
    }
    with tempfile.TemporaryDirectory() as folder:
        scenario = load_scenario(write_spec(Path(folder) / "scenario", spec))
        fifo = solve_fifo(scenario, SolveOptions()).schedule
        assert "a" in fifo.by_job()
        greedy = solve_greedy(scenario, SolveOptions()).schedule
        assert validate(scenario, greedy) == []
        assert "a" in greedy.by_job(), [str(u) for u in greedy.unplaced]
