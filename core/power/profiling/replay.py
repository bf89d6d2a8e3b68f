"""Play recorded NVML readings back through the functions of ``pynvml``.

Why: the sampler, the energy summary and the power-limit guard take the NVML module as an
argument. Handing them a :class:`ReplayNVML` built from a recording (a samples CSV written by
``greenslot profile``, or readings published by others) runs the very code a GPU run uses,
without a GPU: for tests, and to re-analyse a recording. The error types are pynvml's own, so
error handling is exercised as it is on a GPU.

Each call to :meth:`ReplayNVML.clock` moves to the next recorded instant; device reads return
that instant's readings, except the power limit, which is the replayed GPU's current one
(what set calls left), as on a GPU. After the last instant the readings hold and the clock keeps
advancing by the last interval. A field the recording lacks raises NVMLError_NotSupported, as
a GPU without that sensor does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from greenslot.power.profiling.nvml import load_pynvml
from greenslot.power.profiling.sampler import Sample

_ERRORS = ("NVMLError", "NVMLError_NotSupported", "NVMLError_NoPermission",
           "NVMLError_LibraryNotFound", "NVMLError_DriverNotLoaded", "NVMLError_GpuIsLost",
           "NVMLError_InvalidArgument")


@dataclass
class ReplayGpu:
    """A recorded GPU: its name, allowed limit range [mW] and current limit [mW]."""

    index: int
    name: str = "recorded GPU"
    limit_range_mw: tuple[int, int] = (100_000, 300_000)
    limit_mw: int = 300_000


class ReplayNVML:
    """An NVML stand-in that returns recorded samples.

    Parameters
    ----------
    samples
        Recorded readings of one or more GPUs; those with equal ``time_s`` form one instant.
    gpus
        Per-GPU details (name, limit range, current limit); defaults for any GPU not given.
    can_set_limits
        False makes nvmlDeviceSetPowerManagementLimit raise NVMLError_NoPermission, as it
        does for a non-root user.
    """

    # pynvml's own exception classes, copied from the module in __init__ (see _ERRORS).
    NVMLError: type[Exception]
    NVMLError_NotSupported: type[Exception]
    NVMLError_NoPermission: type[Exception]
    NVMLError_LibraryNotFound: type[Exception]
    NVMLError_DriverNotLoaded: type[Exception]
    NVMLError_GpuIsLost: type[Exception]
    NVMLError_InvalidArgument: type[Exception]

    def __init__(self, samples: Sequence[Sample], gpus: Sequence[ReplayGpu] = (),
                 can_set_limits: bool = True) -> None:
        pynvml = load_pynvml()
        for name in _ERRORS:
            setattr(self, name, getattr(pynvml, name))
        self.NVML_CLOCK_SM = pynvml.NVML_CLOCK_SM
        self.NVML_TEMPERATURE_GPU = pynvml.NVML_TEMPERATURE_GPU
        times = sorted({s.time_s for s in samples})
        self._instants = [{s.gpu: s for s in samples if s.time_s == t} for t in times]
        self._times = times
        indices = sorted({s.gpu for s in samples} | {g.index for g in gpus})
        given = {g.index: g for g in gpus}
        self.gpus = {i: given.get(i, ReplayGpu(i)) for i in indices}
        self.can_set_limits = can_set_limits
        self.set_calls: list[tuple[int, int]] = []
        self._position = -1
        self._initialised = False

    # -- the clock and the session ------------------------------------------------------------
    def clock(self) -> float:
        """Advance to the next recorded instant and return its time [s]."""
        self._position += 1
        last = len(self._times) - 1
        if self._position <= last:
            return self._times[self._position]
        step = self._times[-1] - self._times[-2] if last >= 1 else 1.0
        return self._times[-1] + (self._position - last) * step

    def nvmlInit(self) -> None:
        self._initialised = True

    def nvmlShutdown(self) -> None:
        self._initialised = False

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> ReplayGpu:
        if index not in self.gpus:
            raise self.NVMLError_InvalidArgument()
        return self.gpus[index]

    def nvmlDeviceGetName(self, handle: ReplayGpu) -> str:
        return handle.name

    # -- readings -----------------------------------------------------------------------------
    def _reading(self, handle: ReplayGpu, field: str) -> float:
        position = min(max(self._position, 0), len(self._instants) - 1)
        sample = self._instants[position].get(handle.index)
        value = None if sample is None else getattr(sample, field)
        if value is None:
            raise self.NVMLError_NotSupported()
        return value

    def nvmlDeviceGetPowerUsage(self, handle: ReplayGpu) -> int:
        return round(self._reading(handle, "power_w") * 1000)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: ReplayGpu) -> int:
        return round(self._reading(handle, "energy_counter_j") * 1000)

    def nvmlDeviceGetUtilizationRates(self, handle: ReplayGpu) -> SimpleNamespace:
        return SimpleNamespace(gpu=round(self._reading(handle, "gpu_util_pct")),
                               memory=round(self._reading(handle, "mem_util_pct")))

    def nvmlDeviceGetClockInfo(self, handle: ReplayGpu, clock_type: int) -> int:
        if clock_type != self.NVML_CLOCK_SM:
            raise self.NVMLError_NotSupported()
        return round(self._reading(handle, "sm_clock_mhz"))

    def nvmlDeviceGetTemperature(self, handle: ReplayGpu, sensor: int) -> int:
        return round(self._reading(handle, "temperature_c"))

    # -- power limits -------------------------------------------------------------------------
    def nvmlDeviceGetPowerManagementLimit(self, handle: ReplayGpu) -> int:
        return handle.limit_mw

    def nvmlDeviceGetPowerManagementLimitConstraints(self, handle: ReplayGpu) -> list[int]:
        return list(handle.limit_range_mw)

    def nvmlDeviceSetPowerManagementLimit(self, handle: ReplayGpu, limit_mw: Any) -> None:
        if not self.can_set_limits:
            raise self.NVMLError_NoPermission()
        low, high = handle.limit_range_mw
        if not low <= limit_mw <= high:
            raise self.NVMLError_InvalidArgument()
        handle.limit_mw = int(limit_mw)
        self.set_calls.append((handle.index, int(limit_mw)))
