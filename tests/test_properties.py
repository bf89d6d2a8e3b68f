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
import os
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario_builder import START, hourly_forecast, write_scenario

from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.accounting import account
from greenslot.model.validator import validate
from greenslot.solvers.fifo import solve_fifo
from greenslot.solvers.greedy import solve_greedy
from greenslot.solvers.types import SolveOptions

EXAMPLES = int(os.environ.get("GREENSLOT_PROPERTY_EXAMPLES", "40"))
REL = 1e-9
ABS = 1e-9
TOTALS = ("energy_kwh", "grid_kwh", "renewable_kwh", "carbon_kg", "cost")


def _at(quarters: int) -> str:
    """ISO time ``quarters`` quarter-hours after the scenario start."""
    return (pd.Timestamp(START) + pd.Timedelta(minutes=15 * quarters)).isoformat()


# --- the generator ----------------------------------------------------------------------------

finite = {"allow_nan": False, "allow_infinity": False}


@st.composite
def curves(draw, n_modes_max: int = 3):
    """Rows of one workload: the fastest at relative throughput 1, the others slower."""
    n = draw(st.integers(1, n_modes_max))
    limits = draw(st.lists(st.integers(100, 400), min_size=n, max_size=n, unique=True))
    rows = []
    for i, limit in enumerate(limits):
        rel = 1.0 if i == 0 else draw(st.floats(0.2, 1.0, **finite))
        power = draw(st.floats(50, 400, **finite))
        rows.append({"power_limit_w": limit, "power_w": power, "relative_throughput": rel})
    return rows


@st.composite
def scenarios(draw):
    """A plain description of a valid scenario (see :func:`_write`)."""
    slot_h = draw(st.sampled_from([0.5, 1.0]))
    hours = draw(st.integers(2, 4))
    n_slots = round(hours / slot_h)
    transfer = draw(st.sampled_from([0.0, 0.0, 0.5, 3.0]))

    sites = []
    for k in range(draw(st.integers(1, 2))):
        renewable = draw(st.one_of(
            st.none(), st.lists(st.floats(0, 3, **finite), min_size=hours, max_size=hours)))
        sites.append({
            "name": f"s{k + 1}",
            "pue": draw(st.floats(1.0, 1.6, **finite)),
            "power_down_idle": draw(st.booleans()),
            "carbon": draw(st.lists(st.floats(0, 600, **finite), min_size=hours,
                                    max_size=hours)),
            "price": draw(st.lists(st.floats(-20, 200, **finite), min_size=hours,
                                   max_size=hours)),
            "renewable": renewable,
        })

    gpu_types = []
    for g in range(draw(st.integers(1, 2))):
        workloads = {"default": draw(curves())}
        if draw(st.booleans()):
            workloads["w2"] = draw(curves())
        gpu_types.append({"name": f"T{g + 1}", "gpu_idle_w": draw(st.floats(0, 60, **finite)),
                          "workloads": workloads})

    groups = []
    for i in range(draw(st.integers(1, 3))):
        count = draw(st.integers(1, 3))
        maintenance = None
        if draw(st.integers(0, 3)) == 0:
            begin = draw(st.integers(-2, hours * 4 - 1))
            maintenance = (begin, begin + draw(st.integers(1, 6)))
        groups.append({
            "prefix": f"g{i + 1}n",
            "names": [f"g{i + 1}n{j}" for j in range(1, count + 1)],
            "site": draw(st.sampled_from([s["name"] for s in sites])),
            "gpu_type": draw(st.sampled_from([t["name"] for t in gpu_types])),
            "gpus": draw(st.sampled_from([1, 2, 4, 8])),
            "idle_w": draw(st.floats(0, 400, **finite)),
            "partition": draw(st.sampled_from([None, "p1", "p2"])),
            "maintenance": maintenance,
        })

    for site in sites:
        site["power_cap_kw"] = None
        if draw(st.integers(0, 2)) == 0:
            # Above what always-on idle nodes draw, so the plan is never infeasible outright
            # (that is the pinned/infeasible path, not what this test is about).
            base_w = 0.0
            if not site["power_down_idle"]:
                for group in groups:
                    if group["site"] == site["name"]:
                        idle_gpu = _gpu_type(gpu_types, group["gpu_type"])["gpu_idle_w"]
                        base_w += len(group["names"]) * (group["idle_w"]
                                                         + group["gpus"] * idle_gpu)
            site["power_cap_kw"] = (site["pue"] * base_w / 1000.0
                                    + draw(st.floats(0.05, 4.0, **finite)))

    partitions = sorted({g["partition"] for g in groups if g["partition"]})
    jobs = []
    for j in range(draw(st.integers(1, 8))):
        job_id = f"j{j + 1}"
        group = draw(st.sampled_from(groups))
        # Mostly jobs that fit one node of some group, some taking whole nodes, a few odd (snapped
        # to whole nodes of the groups the job may use once its restrictions are drawn).
        kind = draw(st.sampled_from(["within", "within", "within", "whole", "whole", "any"]))
        if kind == "within":
            gpus = draw(st.integers(1, group["gpus"]))
        elif kind == "whole":
            gpus = group["gpus"] * draw(st.integers(1, len(group["names"]) + 1))
        else:
            gpus = draw(st.integers(1, 16))
        duration = draw(st.one_of(st.sampled_from([0.25, 0.5, 0.75, 1.0, 1.5]),
                                  st.floats(0.05, 3.0, **finite)))
        job = {"job_id": job_id, "gpus": gpus, "duration_h": duration}
        release_q = None
        if draw(st.booleans()):
            release_q = draw(st.integers(-4, hours * 4 - 1))
            job["release"] = _at(release_q)
        if draw(st.booleans()):
            # Usually leaving room for the run at full speed, sometimes not.
            low = (release_q if release_q is not None else 0) + 1
            roomy = max(low, (max(release_q or 0, 0)) + math.ceil(duration * 4))
            if draw(st.integers(0, 3)) and roomy <= hours * 4 + 2:
                low = roomy
            job["deadline"] = _at(draw(st.integers(low, hours * 4 + 2)))
        restriction = draw(st.sampled_from([None, None, None, "site", "gpu_type", "partition"]))
        if restriction == "site":
            job["site"] = draw(st.sampled_from([s["name"] for s in sites]))
        elif restriction == "gpu_type":
            job["gpu_type"] = draw(st.sampled_from([t["name"] for t in gpu_types]))
        elif restriction == "partition" and partitions:
            job["partition"] = draw(st.sampled_from(partitions))
        eligible = [g["gpus"] for g in groups
                    if all(job.get(key) in (None, g[key]) for key in ("site", "gpu_type",
                                                                       "partition"))]
        job["gpus"] = whole_node_gpus(gpus, eligible)
        usable = [t for t in gpu_types if job.get("gpu_type") in (None, t["name"])]
        workloads = sorted({w for t in usable for w in t["workloads"]})
        job["workload"] = draw(st.sampled_from(workloads))
        if draw(st.integers(0, 3)) == 0:
            limits = sorted({row["power_limit_w"] for t in usable
                             for row in t["workloads"].get(job["workload"], [])})
            job["power_limit_w"] = draw(st.sampled_from(limits))
        if draw(st.booleans()):
            job["priority"] = draw(st.sampled_from([0, 0.5, 1, 2, 5]))
        if j and draw(st.integers(0, 2)) == 0:
            earlier = [f"j{i + 1}" for i in range(j)]
            deps = draw(st.lists(st.sampled_from(earlier), min_size=1, max_size=2, unique=True))
            job["depends_on"] = ";".join(deps)
        if draw(st.integers(0, 2)) == 0:
            job["data_gb"] = draw(st.floats(0, 50, **finite))
            job["data_site"] = draw(st.sampled_from([s["name"] for s in sites]))
        jobs.append(job)

    return {"slot_h": slot_h, "hours": hours, "n_slots": n_slots, "transfer": transfer,
            "sites": sites, "gpu_types": gpu_types, "groups": groups, "jobs": jobs}


def whole_node_gpus(gpus: int, sizes: list[int]) -> int:
    """``gpus``, or the largest whole-node count below it when the contract forbids it.

    Contract (jobs table, ``gpus``): above a node's GPU count a job's GPUs must be a multiple of
    it, counting only the nodes its restrictions allow; the loader rejects other counts (exit 2),
    so a generator of valid scenarios snaps them down. With no eligible node any count loads.
    """
    if not sizes or gpus <= max(sizes) or any(gpus % s == 0 for s in sizes):
        return gpus
    return max(s * (gpus // s) for s in sizes)


def _gpu_type(gpu_types, name):
    return next(t for t in gpu_types if t["name"] == name)


def _write(folder: Path, spec: dict) -> Path:
    """Lay the description out as a user would, with the test builder."""
    config = {
        "name": "prop",
        "start": START,
        "horizon": f"{spec['hours']}h",
        "slot": "30min" if spec["slot_h"] == 0.5 else "1h",
        "objective": "carbon",
        "transfer_kwh_per_gb": spec["transfer"],
        "sites": [],
        "gpu_types": [],
        "nodes": [],
        "jobs": "jobs.csv",
    }
    forecasts, curve_files = {}, {}
    for site in spec["sites"]:
        entry = {"name": site["name"], "pue": site["pue"],
                 "power_down_idle": site["power_down_idle"],
                 "forecast": f"forecast-{site['name']}.csv"}
        if site["power_cap_kw"] is not None:
            entry["power_cap_kw"] = site["power_cap_kw"]
        config["sites"].append(entry)
        forecasts[entry["forecast"]] = hourly_forecast(site["carbon"], site["price"],
                                                       site["renewable"])
    for gpu_type in spec["gpu_types"]:
        file = f"curve-{gpu_type['name']}.csv"
        config["gpu_types"].append({"name": gpu_type["name"],
                                    "gpu_idle_w": gpu_type["gpu_idle_w"],
                                    "power_curve": file})
        curve_files[file] = [{"workload": w, **row}
                             for w, rows in gpu_type["workloads"].items() for row in rows]
    for group in spec["groups"]:
        count = len(group["names"])
        names = (group["names"][0] if count == 1
                 else f"{group['prefix']}[1-{count}]")  # a Slurm hostlist expression
        entry = {"names": names, "site": group["site"], "gpu_type": group["gpu_type"],
                 "gpus": group["gpus"], "idle_w": group["idle_w"]}
        if group["partition"]:
            entry["partition"] = group["partition"]
        if group["maintenance"]:
            begin, end = group["maintenance"]
            entry["unavailable"] = [{"from": _at(begin), "to": _at(end)}]
        config["nodes"].append(entry)
    return write_scenario(folder, config=config, jobs=spec["jobs"], forecasts=forecasts,
                          curves=curve_files)


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
            draw_w = 0.0
            for name, node in nodes.items():
                if node["site"] != s:
                    continue
                gpus_busy, gpu_w = busy[name, t]
                active = gpus_busy > 0 or not site["power_down_idle"]
                if active:
                    idle_gpu_w = types[node["gpu_type"]]["gpu_idle_w"]
                    draw_w += node["idle_w"] + gpu_w + (node["gpus"] - gpus_busy) * idle_gpu_w
            E = site["pue"] * draw_w / 1000.0 * D + transfer[s, t]
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


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=scenarios())
def test_fifo_and_greedy_schedules_are_valid_and_totals_reconcile(spec):
    with tempfile.TemporaryDirectory() as folder:
        scenario = load_scenario(_write(Path(folder) / "scenario", spec))

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
        "jobs": [{"job_id": "j1", "gpus": 1, "duration_h": 0.5, "deadline": _at(2)}],
    }
    with tempfile.TemporaryDirectory() as folder:
        scenario = load_scenario(_write(Path(folder) / "scenario", spec))
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
                 {"job_id": "b", "gpus": 1, "duration_h": 2.0, "deadline": _at(4),
                  "depends_on": "a"}],
    }
    with tempfile.TemporaryDirectory() as folder:
        scenario = load_scenario(_write(Path(folder) / "scenario", spec))
        fifo = solve_fifo(scenario, SolveOptions()).schedule
        assert "a" in fifo.by_job()
        greedy = solve_greedy(scenario, SolveOptions()).schedule
        assert validate(scenario, greedy) == []
        assert "a" in greedy.by_job(), [str(u) for u in greedy.unplaced]
