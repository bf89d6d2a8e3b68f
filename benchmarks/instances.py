"""Benchmark instances: the bundled example plus generated sizes S, M, L and XL.

Why generated: how long the exact solvers take, and how far greedy is from them, depends on jobs x
nodes x slots x modes, and the one real example fixes all four. The sizes here scale them while
keeping the example's real data: jobs are bootstrapped from ``examples/nightly/jobs.csv`` (Philly
GPU counts and run times, workloads), carbon/price/solar come from its two forecast files and
power modes from its Zeus curves. Only files inside the repository are read, and every instance
has its own fixed seed, so ``write_instance`` is byte-for-byte reproducible anywhere.

Rules of the generator (see ``_jobs``):

- rows are drawn with replacement; ``spec.jobs // 25`` (at least one) are 16-GPU multi-node jobs;
  rows longer than 40 % of the horizon are not drawn;
- run times are scaled by one factor per instance so that GPU-hours at full speed are
  ``TARGET_UTILISATION`` of the cluster's GPUs x horizon (then clipped to [0.25 h, 40 % of it]);
- releases fall on slot boundaries in the first half of the horizon, early enough to finish;
- deadline = release + duration x U(1.5, 4) + U(1, 8) h, capped at the horizon end, so every job
  fits its own window at full speed (asserted);
- ``max(1, jobs // 40)`` dependency chains of 2-3 short jobs; a successor's release is moved to
  its predecessor's earliest end, so the chain fits too.

Forecasts: the example's hourly files start at the example's start (also every instance's start)
and cover 51 h. A longer horizon repeats the last 24 h shifted by one day (same hour of day).
ca-west's on-site solar is scaled by its node count over the example's 12 ca-west nodes, so solar
covers the same share of the site at every size. greenslot resamples the hourly rows onto the
instance's slots itself.
"""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "nightly"
START = pd.Timestamp("2022-06-14T01:00:00+00:00")  # the example's start: its forecasts line up
TARGET_UTILISATION = 0.38
CAP_SHARE = 0.75  # ca-west's power cap as a share of its max facility draw
EXAMPLE_CA_WEST_NODES = 12

# Sites as in the example: ca-west powers idle nodes down and has solar; pjm-east stays on.
SITES: dict[str, dict] = {
    "ca-west": {"pue": 1.2, "power_down_idle": True, "prefix": "caw"},
    "pjm-east": {"pue": 1.35, "power_down_idle": False, "prefix": "pje"},
}
# GPU type -> (curve file in the example, gpu_idle_w, node idle_w), the example's values.
GPU_TYPES: dict[str, tuple[str, float, float]] = {
    "A40": ("a40.csv", 30.0, 400.0),
    "V100": ("v100.csv", 40.0, 450.0),
    "RTX6000": ("rtx6000.csv", 20.0, 350.0),
}
GPUS_PER_NODE = 8


@dataclass(frozen=True)
class InstanceSpec:
    """Size and seed of one instance; ``copy_of`` set means a copy of an existing scenario.

    ``node_groups`` lists (site, GPU type, node count); every group has at least two nodes where
    16-GPU jobs must fit, and the sites get half the nodes each.
    """

    jobs: int
    horizon_h: int
    slot_min: int
    modes: int
    seed: int
    node_groups: tuple[tuple[str, str, int], ...]
    copy_of: Path | None = None

    @property
    def nodes(self) -> int:
        return sum(count for _, _, count in self.node_groups)

    @property
    def slots(self) -> int:
        return self.horizon_h * 60 // self.slot_min


def _groups(ca_a40: int, ca_rtx: int, pj_v100: int, pj_a40: int) -> tuple:
    groups = (("ca-west", "A40", ca_a40), ("ca-west", "RTX6000", ca_rtx),
              ("pjm-east", "V100", pj_v100), ("pjm-east", "A40", pj_a40))
    return tuple(g for g in groups if g[2] > 0)


INSTANCES: dict[str, InstanceSpec] = {
    "example": InstanceSpec(173, 48, 15, 7, 20220614, _groups(8, 4, 8, 4), copy_of=EXAMPLE),
    # S is too small for two-node groups everywhere: 16-GPU jobs go to ca-west's A40 pair.
    "S": InstanceSpec(24, 24, 60, 3, 101, (("ca-west", "A40", 2), ("pjm-east", "V100", 1),
                                           ("pjm-east", "RTX6000", 1))),
    "M": InstanceSpec(100, 48, 30, 3, 102, _groups(4, 4, 5, 3)),
    "L": InstanceSpec(320, 48, 30, 3, 103, _groups(8, 8, 10, 6)),
    "XL": InstanceSpec(1000, 48, 15, 3, 104, _groups(32, 32, 40, 24)),
    # issue 4's scale goals: a nightly plan of a large cluster two days ahead
    "XXL": InstanceSpec(2000, 48, 15, 3, 105, _groups(64, 64, 80, 48)),
    "XXXL": InstanceSpec(5000, 48, 15, 3, 106, _groups(250, 250, 300, 200)),
    # issue 20's fleet scale: the growth curve up to a night of a 4,096-node fleet
    "F2K5": InstanceSpec(2500, 48, 15, 3, 107, _groups(128, 128, 128, 128)),
    "F10K": InstanceSpec(10000, 48, 15, 3, 108, _groups(512, 512, 512, 512)),
    "F20K": InstanceSpec(20000, 48, 15, 3, 109, _groups(1024, 1024, 1024, 1024)),
    # issue 20's ceiling for "auto --time-limit 60 ends within 65 s": 500 jobs x 40 machines
    # x about 500 slots (42 h of 5-minute slots: 504)
    "I20": InstanceSpec(500, 42, 5, 3, 107, _groups(10, 10, 12, 8)),
}


def _reduced_curve(curve: pd.DataFrame, modes: int) -> pd.DataFrame:
    """Per workload: the fastest row plus ``modes - 1`` others spread evenly over power limits."""
    kept = []
    for _, rows in curve.groupby("workload", sort=False):
        rows = rows.sort_values("power_limit_w")
        fastest = rows["relative_throughput"].idxmax()
        others = rows.drop(index=fastest)
        picks = np.unique(np.round(np.linspace(0, len(others) - 1, modes - 1)).astype(int))
        chosen = [fastest, *others.index[picks]] if len(others) and modes > 1 else [fastest]
        kept.append(rows.loc[sorted(chosen, key=lambda i: rows.at[i, "power_limit_w"])])
    return pd.concat(kept)


def _forecast(site: str, spec: InstanceSpec, solar_scale: float) -> pd.DataFrame:
    """The example's forecast from START on, extended by repeating its last day if too short."""
    table = pd.read_csv(EXAMPLE / "forecasts" / f"{site}.csv")
    table["time"] = pd.to_datetime(table["time"])
    table = table[table["time"] >= START].reset_index(drop=True)
    end = START + pd.Timedelta(hours=spec.horizon_h)
    while table["time"].iloc[-1] + pd.Timedelta(hours=1) < end:
        last_day = table[table["time"] > table["time"].iloc[-1] - pd.Timedelta(hours=24)].copy()
        last_day["time"] += pd.Timedelta(hours=24)
        table = pd.concat([table, last_day], ignore_index=True)
    table = table[table["time"] < end].copy()
    if "renewable_kw" in table:
        table["renewable_kw"] = (table["renewable_kw"] * solar_scale).round(3)
    table["time"] = table["time"].map(lambda t: t.isoformat())
    return table


def _draw_rows(spec: InstanceSpec, rng: np.random.Generator) -> pd.DataFrame:
    pool = pd.read_csv(EXAMPLE / "jobs.csv", usecols=["gpus", "duration_h", "workload"])
    pool["workload"] = pool["workload"].fillna("default")
    pool = pool[pool["duration_h"] <= 0.4 * spec.horizon_h]
    multi, single = pool[pool["gpus"] > GPUS_PER_NODE], pool[pool["gpus"] <= GPUS_PER_NODE]
    n_multi = max(1, spec.jobs // 25)
    rows = pd.concat([multi.iloc[rng.integers(0, len(multi), n_multi)],
                      single.iloc[rng.integers(0, len(single), spec.jobs - n_multi)]])
    return rows.iloc[rng.permutation(len(rows))].reset_index(drop=True)


def _jobs(name: str, spec: InstanceSpec) -> pd.DataFrame:
    """The jobs table (see the module docstring for the rules)."""
    rng = np.random.default_rng(spec.seed)
    rows = _draw_rows(spec, rng)
    n_slots = spec.slots
    capacity = GPUS_PER_NODE * spec.nodes * spec.horizon_h
    scale = TARGET_UTILISATION * capacity / float((rows["gpus"] * rows["duration_h"]).sum())
    duration = (rows["duration_h"] * scale).clip(0.25, 0.4 * spec.horizon_h).round(4).to_numpy()
    length = np.ceil(duration * 60 / spec.slot_min - 1e-9).astype(int)
    latest = np.minimum(n_slots // 2, n_slots - length)
    release = np.array([rng.integers(0, hi + 1) for hi in latest])

    depends: list[int | None] = [None] * len(rows)
    short = np.flatnonzero((duration <= spec.horizon_h / 8) & (rows["gpus"] <= GPUS_PER_NODE))
    n_chains = max(1, spec.jobs // 40)
    members = rng.choice(short, size=min(len(short), 3 * n_chains), replace=False)
    for c in range(n_chains):
        chain = sorted(members[3 * c: 3 * c + int(rng.integers(2, 4))], key=lambda k: release[k])
        for before, after in itertools.pairwise(chain):
            ready = release[before] + length[before]
            if ready + length[after] > n_slots:
                break
            release[after] = max(release[after], ready)
            depends[after] = before

    # Whole minutes, so the CSV holds exact times.
    release_min = release * spec.slot_min
    slack = duration * rng.uniform(1.5, 4, len(rows)) + rng.uniform(1, 8, len(rows))
    deadline_min = np.minimum(np.floor(release_min + slack * 60), spec.horizon_h * 60)
    assert np.all(deadline_min // spec.slot_min >= release + length), "a job cannot fit"

    order = np.lexsort((np.arange(len(rows)), release))
    ids = {int(k): f"{name.lower()}{rank + 1:04d}" for rank, k in enumerate(order)}

    def at(minutes: float) -> str:
        return (START + pd.Timedelta(minutes=int(minutes))).isoformat()

    return pd.DataFrame({
        "job_id": [ids[int(k)] for k in order],
        "gpus": rows["gpus"].to_numpy()[order],
        "duration_h": duration[order],
        "release": [at(release_min[k]) for k in order],
        "deadline": [at(deadline_min[k]) for k in order],
        "workload": rows["workload"].to_numpy()[order],
        "depends_on": ["" if depends[k] is None else ids[depends[k]] for k in order],
    })


def _node_entry(site: str, gpu_type: str, count: int) -> dict:
    prefix = f"{SITES[site]['prefix']}-{gpu_type.lower()}"
    names = f"{prefix}-[01-{count:02d}]" if count > 1 else f"{prefix}-01"
    return {"names": names, "site": site, "gpu_type": gpu_type, "gpus": GPUS_PER_NODE,
            "idle_w": GPU_TYPES[gpu_type][2], "partition": "gpu"}


def _scenario(name: str, spec: InstanceSpec, curves: dict[str, pd.DataFrame]) -> dict:
    sites = []
    for site, info in SITES.items():
        entry = {"name": site, "pue": info["pue"], "power_down_idle": info["power_down_idle"],
                 "forecast": f"forecasts/{site}.csv"}
        if site == "ca-west":
            max_w = sum(count * (GPU_TYPES[t][2] + GPUS_PER_NODE * curves[t]["power_w"].max())
                        for s, t, count in spec.node_groups if s == site)
            entry["power_cap_kw"] = round(float(CAP_SHARE * info["pue"] * max_w / 1000), 1)
        sites.append(entry)
    return {
        "name": f"bench-{name}",
        "start": START.isoformat(),
        "horizon": f"{spec.horizon_h}h",
        "slot": f"{spec.slot_min}min",
        "objective": "carbon",
        "transfer_kwh_per_gb": 0.0,
        "sites": sites,
        "gpu_types": [{"name": t, "gpu_idle_w": GPU_TYPES[t][1],
                       "power_curve": f"curves/{GPU_TYPES[t][0]}"} for t in curves],
        "nodes": [_node_entry(*group) for group in spec.node_groups],
        "jobs": "jobs.csv",
    }


def write_instance(name: str, folder: str | Path) -> Path:
    """Write instance ``name`` as a scenario folder under ``folder``; returns its scenario.yaml."""
    spec = INSTANCES[name]
    folder = Path(folder)
    if spec.copy_of is not None:
        shutil.copytree(spec.copy_of, folder, dirs_exist_ok=True)
        return folder / "scenario.yaml"
    (folder / "forecasts").mkdir(parents=True, exist_ok=True)
    (folder / "curves").mkdir(exist_ok=True)
    types = sorted({t for _, t, _ in spec.node_groups}, key=list(GPU_TYPES).index)
    curves = {t: _reduced_curve(pd.read_csv(EXAMPLE / "curves" / GPU_TYPES[t][0]), spec.modes)
              for t in types}
    for t, curve in curves.items():
        curve.to_csv(folder / "curves" / GPU_TYPES[t][0], index=False)
    ca_nodes = sum(count for s, _, count in spec.node_groups if s == "ca-west")
    for site in SITES:
        scale = ca_nodes / EXAMPLE_CA_WEST_NODES if site == "ca-west" else 1.0
        _forecast(site, spec, scale).to_csv(folder / "forecasts" / f"{site}.csv", index=False)
    _jobs(name, spec).to_csv(folder / "jobs.csv", index=False)
    text = yaml.safe_dump(_scenario(name, spec, curves), sort_keys=False)
    (folder / "scenario.yaml").write_text(f"# benchmarks/instances.py, instance {name}\n{text}")
    return folder / "scenario.yaml"


__all__ = ["INSTANCES", "InstanceSpec", "write_instance"]
