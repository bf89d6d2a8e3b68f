"""Hypothesis strategies for random valid scenarios, shared by the property and solver tests.

:func:`scenarios` draws a plain description of a small scenario the loader accepts (no pinned
jobs); :func:`write_spec` lays it out on disk with :func:`tests.helpers.scenarios.write_scenario`.
The description is what ``tests/test_properties.py`` recomputes contract totals from, so it
stays plain data rather than greenslot objects.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd
from hypothesis import strategies as st

from tests.helpers.scenarios import START, hourly_forecast, write_scenario

# Examples per property run (the property tests and the best-window property share it).
EXAMPLES = int(os.environ.get("GREENSLOT_PROPERTY_EXAMPLES", "40"))


def at_quarter(quarters: int) -> str:
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
    """A plain description of a valid scenario (see :func:`write_spec`)."""
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
            # start-up energy per boot [kWh]; mostly none, as most scenarios declare none
            "wake_kwh": draw(st.sampled_from([0.0, 0.0, 0.0, 0.05, 0.4])),
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
            job["release"] = at_quarter(release_q)
        if draw(st.booleans()):
            # Usually leaving room for the run at full speed, sometimes not.
            low = (release_q if release_q is not None else 0) + 1
            roomy = max(low, (max(release_q or 0, 0)) + math.ceil(duration * 4))
            if draw(st.integers(0, 3)) and roomy <= hours * 4 + 2:
                low = roomy
            job["deadline"] = at_quarter(draw(st.integers(low, hours * 4 + 2)))
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


def write_spec(folder: Path, spec: dict) -> Path:
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
        if group.get("wake_kwh"):
            entry["wake_energy_kwh"] = group["wake_kwh"]
        if group["maintenance"]:
            begin, end = group["maintenance"]
            entry["unavailable"] = [{"from": at_quarter(begin), "to": at_quarter(end)}]
        config["nodes"].append(entry)
    return write_scenario(folder, config=config, jobs=spec["jobs"], forecasts=forecasts,
                          curves=curve_files)
