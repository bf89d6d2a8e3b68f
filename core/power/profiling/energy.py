"""Energy, mean and peak power of one GPU from its samples.

Why prefer the energy counter: NVML's total-energy counter (Volta and newer) accumulates in
the GPU itself at a high internal rate, so the difference of two readings is the exact energy
between them, whatever happened between samples. ``nvmlDeviceGetPowerUsage`` is a single,
on recent GPUs averaged, reading; integrating it (trapezoidal rule) is an estimate whose
error grows with the sampling interval. The counter is used whenever every sample has it and
it never goes backwards; otherwise the power samples are integrated.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from greenslot.power.profiling.sampler import Sample

J_PER_KWH = 3.6e6


@dataclass(frozen=True)
class GpuEnergy:
    """What one GPU used while a command ran.

    ``source`` is ``"counter"`` (NVML total-energy counter) or ``"integrated"`` (trapezoidal
    integral of power samples); ``energy_j`` is None when neither was possible (fewer than two
    power readings and no counter), never a guess.
    """

    gpu: int
    samples: int
    duration_s: float
    energy_j: float | None
    mean_power_w: float | None
    peak_power_w: float | None
    source: str | None

    @property
    def energy_kwh(self) -> float | None:
        return None if self.energy_j is None else self.energy_j / J_PER_KWH


def _counter_energy(samples: Sequence[Sample]) -> float | None:
    counters = [s.energy_counter_j for s in samples if s.energy_counter_j is not None]
    if len(samples) < 2 or len(counters) < len(samples):
        return None
    if any(b < a for a, b in itertools.pairwise(counters)):
        return None  # the counter was reset (driver reload): its difference means nothing
    return counters[-1] - counters[0]


def _integrated_energy(samples: Sequence[Sample]) -> float | None:
    points = [(s.time_s, s.power_w) for s in samples if s.power_w is not None]
    if len(points) < 2:
        return None
    return sum((t1 - t0) * (p0 + p1) / 2
               for (t0, p0), (t1, p1) in itertools.pairwise(points))


def summarise(samples: Sequence[Sample]) -> GpuEnergy:
    """Summarise the samples of one GPU, in time order.

    Mean power is energy over the sampled duration; peak power is the highest single power
    reading (a reading, not an instantaneous maximum).
    """
    if not samples:
        raise ValueError("no samples")
    gpus = {s.gpu for s in samples}
    if len(gpus) != 1:
        raise ValueError(f"samples of several GPUs: {sorted(gpus)}")
    ordered = sorted(samples, key=lambda s: s.time_s)
    duration = ordered[-1].time_s - ordered[0].time_s
    source: str | None
    energy, source = _counter_energy(ordered), "counter"
    if energy is None:
        energy, source = _integrated_energy(ordered), "integrated"
    if energy is None:
        source = None
    powers = [s.power_w for s in ordered if s.power_w is not None]
    mean = energy / duration if energy is not None and duration > 0 else None
    return GpuEnergy(gpu=ordered[0].gpu, samples=len(ordered), duration_s=duration,
                     energy_j=energy, mean_power_w=mean,
                     peak_power_w=max(powers) if powers else None, source=source)


def summarise_all(samples: Sequence[Sample]) -> list[GpuEnergy]:
    """One summary per GPU, by GPU index."""
    by_gpu: dict[int, list[Sample]] = {}
    for sample in samples:
        by_gpu.setdefault(sample.gpu, []).append(sample)
    return [summarise(by_gpu[g]) for g in sorted(by_gpu)]
