"""Instance classes greenslot builds itself, to measure solver quality where it is hard.

Issue 20 found four kinds of scenario where the solvers fall behind; each is a class here,
generated from a seed alone (no file outside this module is read), so every instance is
byte-for-byte reproducible anywhere and its exact optimum can be cached
(``benchmarks/class_optima.csv``). Machines are one-GPU nodes and jobs one-GPU jobs, as in
the parallel-machine literature these classes imitate: a job's energy on a machine is its
run time times that machine's rate.

- ``tou`` (a): identical-speed machines with unequal energy rates (GPU types ``R1``..``Rk``,
  rates 1.0 to 1.6 x) under a time-of-use price (off-peak 40, shoulder 90, peak 160 per
  MWh), objective cost; jobs fill about 60 % of the machine-slots, with release windows.
- ``solar`` (b): the same machines under a site power cap (the facility may draw at most
  ``CAP_SHARE`` of all machines busy at once) with on-site solar by day, objective carbon
  (grid carbon follows the day: high at night, low at noon).
- ``fine`` (c): five-minute slots (288 a day), four-GPU machines with idle draw, tasks of
  1-4 GPUs with release and deadline windows, hourly prices, objective cost; with
  ``power_down`` idle machines may power off (then waking one costs its idle draw).
- ``tight`` (d): capacity tight by construction. The first 98 % of each machine's horizon
  (``TIGHT_SLACK``) is cut into consecutive jobs of random length, so a placement of every
  job exists (the packing the jobs were cut from) with 2 % of each machine to spare, rounded
  down (up to ``S`` the horizon is exactly the packing's makespan); every
  job may run anywhere in the horizon. Unequal rates and a time-of-use price make the
  solver trade energy against the few packings that fit.

Sizes (``SIZES``) go from tiny (proven optimal by the MILP in seconds) to 500 jobs x 40
machines x 500 slots. ``write_class_instance(name, folder)`` writes a scenario folder;
``CLASS_INSTANCES`` lists the names (``<class>-<size>``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

START = pd.Timestamp("2024-03-04T00:00:00+00:00")
RATES = (1.0, 1.15, 1.3, 1.45, 1.6)
"""Energy rate of each machine type, relative to the most efficient."""
BASE_W = 250.0  # the efficient GPU's draw at full speed
CAP_SHARE = 0.7
SOLAR_LOAD = 0.4  # under the cap at most 70 % of the machines run at once
TIGHT_SLACK = 0.02
"""Of a ``tight`` horizon, what the known packing leaves free on every machine: enough to
choose when (prices differ), too little for a fragmented plan to hold every job."""
LOOSE_LOAD = 0.6  # share of machine-slots the jobs fill where capacity is not the point
OFF_PEAK, SHOULDER, PEAK = 40.0, 90.0, 160.0  # time-of-use prices per MWh


@dataclass(frozen=True)
class ClassSpec:
    """One instance: its class, size and seed."""

    kind: str  # tou | solar | fine | tight
    jobs: int
    machines: int
    slots: int
    seed: int
    slot_min: int = 60
    power_down: bool = True
    machine_gpus: int = 1

    @property
    def horizon_min(self) -> int:
        return self.slots * self.slot_min


SIZES: dict[str, tuple[int, int, int]] = {
    "tiny": (5, 2, 12),
    "S": (20, 4, 48),
    "M": (60, 8, 96),
    "L": (200, 20, 288),
    "XL": (500, 40, 500),
}


def _specs() -> dict[str, ClassSpec]:
    specs: dict[str, ClassSpec] = {}
    for offset, kind in enumerate(("tou", "solar", "tight")):
        for k, (size, (jobs, machines, slots)) in enumerate(SIZES.items()):
            specs[f"{kind}-{size}"] = ClassSpec(kind, jobs, machines, slots,
                                                seed=1000 * (offset + 1) + k)
    specs["fine-S"] = ClassSpec("fine", 30, 3, 48, seed=4001, slot_min=30, machine_gpus=4)
    specs["fine-L"] = ClassSpec("fine", 200, 10, 288, seed=4002, slot_min=5,
                                power_down=False, machine_gpus=4)
    specs["fine-L-off"] = ClassSpec("fine", 200, 10, 288, seed=4002, slot_min=5,
                                    power_down=True, machine_gpus=4)
    return specs


CLASS_INSTANCES: dict[str, ClassSpec] = _specs()


def _price(hour: int) -> float:
    """Time-of-use price of an hour of the day: off-peak at night, peak in the evening."""
    if hour < 7 or hour >= 22:
        return OFF_PEAK
    return PEAK if 17 <= hour < 21 else SHOULDER


def _forecast(spec: ClassSpec, rng: np.random.Generator) -> pd.DataFrame:
    """Hourly rows covering the horizon: time-of-use prices, a daily carbon curve, and
    for ``solar`` a clear-sky solar curve sized to a third of the machines' full draw."""
    hours = int(np.ceil(spec.horizon_min / 60)) + 1
    hour = np.arange(hours) % 24
    daylight = np.clip(np.sin((hour - 6) / 12 * np.pi), 0.0, None)
    carbon = 420.0 - 220.0 * daylight + rng.normal(0.0, 8.0, hours)
    table = pd.DataFrame({
        "time": [(START + pd.Timedelta(hours=int(h))).isoformat() for h in range(hours)],
        "carbon_g_per_kwh": carbon.round(1),
        "price_per_mwh": [_price(int(h)) for h in hour],
    })
    if spec.kind == "fine":  # an hourly market price with noise, as in the challenge data
        table["price_per_mwh"] = (table["price_per_mwh"] * rng.uniform(0.8, 1.2, hours)).round(2)
    if spec.kind == "solar":
        full_kw = spec.machines * BASE_W * 1.3 / 1000.0
        table["renewable_kw"] = (full_kw / 3.0 * daylight).round(3)
    return table


def _machine_types(spec: ClassSpec) -> list[str]:
    """The GPU type of each machine: rates cycled so every type has about as many."""
    kinds = min(len(RATES), max(2, spec.machines // 2))
    return [f"R{m % kinds + 1}" for m in range(spec.machines)]


def _curve(rate: float, kind: str) -> pd.DataFrame:
    """One workload, full speed only for the parallel-machine classes; ``fine`` adds a
    capped mode (70 % of the power for 80 % of the speed)."""
    rows = [{"workload": "default", "power_limit_w": 400, "power_w": round(BASE_W * rate, 2),
             "relative_throughput": 1.0}]
    if kind == "fine":
        rows.append({"workload": "default", "power_limit_w": 280,
                     "power_w": round(0.7 * BASE_W * rate, 2), "relative_throughput": 0.8})
    return pd.DataFrame(rows)


def _lengths_filling(total: int, count: int, rng: np.random.Generator) -> list[int]:
    """``count`` positive lengths (slots) summing exactly to ``total``: cut points drawn
    without replacement, so lengths vary."""
    count = max(1, min(count, total))
    cuts = np.sort(rng.choice(np.arange(1, total), size=count - 1, replace=False))
    return [int(x) for x in np.diff(np.concatenate(([0], cuts, [total])))]


def packed_slots(spec: ClassSpec) -> int:
    """Slots of each machine the known packing of a ``tight`` instance fills."""
    return spec.slots - math.floor(TIGHT_SLACK * spec.slots)


def _tight_jobs(spec: ClassSpec, rng: np.random.Generator) -> list[dict]:
    """Jobs cut from a full packing: the first ``packed_slots`` of each machine split into
    consecutive pieces; the horizon leaves ``TIGHT_SLACK`` of that to spare."""
    per_machine = np.full(spec.machines, spec.jobs // spec.machines)
    per_machine[: spec.jobs % spec.machines] += 1
    lengths = [n for m in range(spec.machines)
               for n in _lengths_filling(packed_slots(spec), int(per_machine[m]), rng)]
    return [_row(k, 1, n * spec.slot_min, 0, spec.horizon_min)
            for k, n in enumerate(lengths[i] for i in rng.permutation(len(lengths)))]


def _loose_jobs(spec: ClassSpec, rng: np.random.Generator) -> list[dict]:
    """Jobs filling about ``LOOSE_LOAD`` of the GPU-slots, each with a window of 1.5 to 4
    times its run time (at the slowest mode for ``fine``) that fits in the horizon."""
    mean_gpus = 2.5 if spec.machine_gpus > 1 else 1.0
    load = SOLAR_LOAD if spec.kind == "solar" else LOOSE_LOAD
    mean_len = load * spec.machines * spec.machine_gpus * spec.slots / spec.jobs / mean_gpus
    rows = []
    for k in range(spec.jobs):
        gpus = int(rng.integers(1, spec.machine_gpus + 1))
        length = int(np.clip(round(rng.uniform(0.4, 1.6) * mean_len), 1, spec.slots // 3))
        if spec.kind == "fine":
            length = min(length, int(spec.slots // 3 * 0.8))
        slowest = int(np.ceil(length / (0.8 if spec.kind == "fine" else 1.0)))
        window = min(spec.slots, int(np.ceil(slowest * rng.uniform(1.5, 4.0))))
        release = int(rng.integers(0, spec.slots - window + 1))
        rows.append(_row(k, gpus, length * spec.slot_min, release * spec.slot_min,
                         (release + window) * spec.slot_min))
    return rows


def _row(k: int, gpus: int, minutes: int, release_min: int, deadline_min: int) -> dict:
    def at(minutes_from_start: int) -> str:
        return (START + pd.Timedelta(minutes=minutes_from_start)).isoformat()

    return {"job_id": f"j{k + 1:04d}", "gpus": gpus, "duration_h": round(minutes / 60, 6),
            "release": at(release_min), "deadline": at(deadline_min), "workload": "default"}


def scenario_config(name: str, spec: ClassSpec) -> dict:
    """The scenario.yaml mapping of an instance."""
    types = sorted(set(_machine_types(spec)))
    idle_w = 120.0 if spec.kind == "fine" else 0.0
    site: dict = {"name": "site", "pue": 1.0 if spec.kind != "fine" else 1.1,
                  "power_down_idle": spec.power_down, "forecast": "forecast.csv"}
    if spec.kind == "solar":
        site["power_cap_kw"] = round(CAP_SHARE * spec.machines * BASE_W * RATES[0] / 1000, 3)
    nodes = [{"names": f"m{m + 1:03d}", "site": "site", "gpu_type": kind,
              "gpus": spec.machine_gpus, "idle_w": idle_w, "partition": "gpu"}
             for m, kind in enumerate(_machine_types(spec))]
    return {
        "name": f"class-{name}",
        "start": START.isoformat(),
        "horizon": f"{spec.horizon_min}min",
        "slot": f"{spec.slot_min}min",
        "objective": "carbon" if spec.kind == "solar" else "cost",
        "transfer_kwh_per_gb": 0.0,
        "sites": [site],
        "gpu_types": [{"name": t, "gpu_idle_w": 0.0 if spec.kind != "fine" else 25.0,
                       "power_curve": f"curves/{t}.csv"} for t in types],
        "nodes": nodes,
        "jobs": "jobs.csv",
    }


def write_class_instance(name: str, folder: str | Path) -> Path:
    """Write instance ``name`` (a key of ``CLASS_INSTANCES``) under ``folder``; returns its
    scenario.yaml."""
    return write_spec(name, CLASS_INSTANCES[name], folder)


def write_spec(name: str, spec: ClassSpec, folder: str | Path) -> Path:
    """Write the instance ``spec`` (named ``name``) under ``folder``; its scenario.yaml."""
    rng = np.random.default_rng(spec.seed)
    folder = Path(folder)
    (folder / "curves").mkdir(parents=True, exist_ok=True)
    config = scenario_config(name, spec)
    for gpu_type in config["gpu_types"]:
        rate = RATES[int(gpu_type["name"][1:]) - 1]
        _curve(rate, spec.kind).to_csv(folder / gpu_type["power_curve"], index=False)
    _forecast(spec, rng).to_csv(folder / "forecast.csv", index=False)
    jobs = _tight_jobs(spec, rng) if spec.kind == "tight" else _loose_jobs(spec, rng)
    pd.DataFrame(jobs).to_csv(folder / "jobs.csv", index=False)
    text = yaml.safe_dump(config, sort_keys=False)
    (folder / "scenario.yaml").write_text(
        f"# benchmarks/instance_classes.py, instance {name}\n{text}")
    return folder / "scenario.yaml"


__all__ = ["CLASS_INSTANCES", "SIZES", "ClassSpec", "write_class_instance", "write_spec"]
