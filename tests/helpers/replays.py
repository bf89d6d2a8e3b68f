"""Recorded NVML readings for the profiling tests, as replay objects.

``zeus_windows`` turns Zeus's A40 power-limit windows (real NVML total-energy counter
differences, tests/profiling/zeus) into the counter readings NVML gave at each window's start
and end.
"""

from __future__ import annotations

import csv
from pathlib import Path

from greenslot.power.profiling.replay import ReplayGpu, ReplayNVML
from greenslot.power.profiling.sampler import Sample

ZEUS = Path(__file__).parents[1] / "profiling" / "zeus"


def zeus_windows(name: str) -> list[dict]:
    """Rows of a Zeus window file: limit_w, start_s, elapsed_s, energy_j per GPU index."""
    with (ZEUS / name).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    out = []
    for row in rows:
        energies = {int(k[3:-7]): float(v) for k, v in row.items() if k.endswith("_energy")}
        out.append({"limit_w": float(row["window_name"].rsplit("_", 1)[1]),
                    "start_s": float(row["start_time"]),
                    "elapsed_s": float(row["elapsed_time"]), "energy_j": energies})
    return out


def counter_samples(windows: list[dict]) -> list[Sample]:
    """Two counter readings per window per GPU (start, end); the counter starts at 0 J.

    Between windows Zeus did not measure, so the counter is held there: the replay only
    claims what Zeus recorded.
    """
    samples, counter = [], {}
    for window in windows:
        for gpu, energy in window["energy_j"].items():
            base = counter.get(gpu, 0.0)
            for t, c in ((window["start_s"], base),
                         (window["start_s"] + window["elapsed_s"], base + energy)):
                samples.append(Sample(gpu, t, None, c, None, None, None, window["limit_w"],
                                      None))
            counter[gpu] = base + energy
    return samples


def busy_replay(gpus: int = 1, power_w: float = 200.0, limit_mw: int = 300_000,
                can_set_limits: bool = True) -> ReplayNVML:
    """A steady recording: 1000 readings, 0.1 s apart, counter rising at ``power_w``.

    Long enough that a sweep of a few short runs never plays it to its end.
    """
    samples = [Sample(g, i * 0.1, power_w, 1000.0 + i * 0.1 * power_w, 97.0, 40.0, 1740.0,
                      limit_mw / 1000, 60.0)
               for i in range(1000) for g in range(gpus)]
    return ReplayNVML(samples, [ReplayGpu(g, "NVIDIA A40", (100_000, 300_000), limit_mw)
                                for g in range(gpus)], can_set_limits=can_set_limits)
