"""A thread that reads NVML for each selected GPU every ``interval_s`` seconds.

Why a thread and not a child process: the readings must be taken while the workload runs,
on the workload's timeline, and NVML calls are cheap (microseconds) and release the GIL.
``sample_once`` is the whole reading logic; the thread only calls it on a timer, so replaying
recorded readings through ``sample_once`` tests exactly what runs on a GPU.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from greenslot.power.profiling.nvml import Gpu, ProfileError, describe_nvml_error

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())


@dataclass(frozen=True)
class Sample:
    """One GPU's readings at one instant; ``None`` where the GPU does not report a field.

    ``energy_counter_j`` is NVML's total-energy counter [J] since the driver loaded (Volta and
    newer); only differences between readings mean anything.
    """

    gpu: int
    time_s: float
    power_w: float | None
    energy_counter_j: float | None
    gpu_util_pct: float | None
    mem_util_pct: float | None
    sm_clock_mhz: float | None
    power_limit_w: float | None
    temperature_c: float | None


def _optional(nvml: Any, read: Callable[[], Any]) -> Any:
    """A reading the GPU may not support: ``None`` for NVMLError_NotSupported."""
    try:
        return read()
    except nvml.NVMLError_NotSupported:
        return None


def _scaled(value: Any, factor: float) -> float | None:
    return None if value is None else float(value) * factor


def read_sample(nvml: Any, gpu: Gpu, time_s: float) -> Sample:
    """Read every field of one GPU (mW -> W, mJ -> J)."""
    handle = gpu.handle
    util = _optional(nvml, lambda: nvml.nvmlDeviceGetUtilizationRates(handle))
    return Sample(
        gpu=gpu.index,
        time_s=time_s,
        power_w=_scaled(_optional(nvml, lambda: nvml.nvmlDeviceGetPowerUsage(handle)), 1e-3),
        energy_counter_j=_scaled(
            _optional(nvml, lambda: nvml.nvmlDeviceGetTotalEnergyConsumption(handle)), 1e-3),
        gpu_util_pct=None if util is None else float(util.gpu),
        mem_util_pct=None if util is None else float(util.memory),
        sm_clock_mhz=_scaled(
            _optional(nvml, lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM)),
            1.0),
        power_limit_w=_scaled(
            _optional(nvml, lambda: nvml.nvmlDeviceGetPowerManagementLimit(handle)), 1e-3),
        temperature_c=_scaled(
            _optional(nvml, lambda: nvml.nvmlDeviceGetTemperature(handle,
                                                                  nvml.NVML_TEMPERATURE_GPU)),
            1.0),
    )


class Sampler:
    """Samples the given GPUs from :meth:`start` to :meth:`stop`, plus once at each end.

    Parameters
    ----------
    nvml
        ``pynvml`` or an object with the same functions (a replay).
    gpus
        GPUs opened by :func:`greenslot.power.profiling.nvml.open_gpus`.
    interval_s
        Time between readings [s].
    clock
        Monotonic clock [s]; a replay passes its recorded timeline.
    """

    def __init__(self, nvml: Any, gpus: Sequence[Gpu], interval_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.nvml = nvml
        self.gpus = list(gpus)
        self.interval_s = interval_s
        self.clock = clock
        self.samples: list[Sample] = []
        self.error: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def sample_once(self) -> None:
        """Read every GPU once, at one clock reading, and append the samples."""
        now = self.clock()
        batch = [read_sample(self.nvml, gpu, now) for gpu in self.gpus]
        with self._lock:
            self.samples.extend(batch)

    def _safe_sample(self) -> bool:
        try:
            self.sample_once()
        except self.nvml.NVMLError as exc:
            self.error = describe_nvml_error(self.nvml, exc, "reading a GPU")
            log.warning("sampling stopped: %s", self.error)
            return False
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            if not self._safe_sample():
                return

    def start(self) -> None:
        """Take the first reading now (before the workload starts), then sample in a thread."""
        self._stop.clear()
        if not self._safe_sample():
            raise ProfileError(self.error)
        self._thread = threading.Thread(target=self._run, name="greenslot-nvml", daemon=True)
        self._thread.start()

    def stop(self) -> list[Sample]:
        """Stop the thread, take a last reading (after the workload ended), return all."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.error is None:
            self._safe_sample()
        with self._lock:
            return list(self.samples)
