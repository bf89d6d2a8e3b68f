"""Change GPU power limits for a sweep, and always put the original limits back.

Why so careful: a power limit outlives the process that set it. A sweep that dies between two
settings (Ctrl-C, a crashed workload, SIGTERM from Slurm) and leaves a GPU at 150 W slows down
every job that lands on it afterwards, silently. So: permission is checked before anything is
changed, every requested limit is checked against the GPU's allowed range before the first
change, and the originals are restored in ``__exit__`` whatever happened.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from greenslot.power.profiling.nvml import Gpu, ProfileError, describe_nvml_error

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())


@contextmanager
def _signals_held() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM for a moment: a second Ctrl-C must not stop the restore."""
    try:
        previous = {sig: signal.signal(sig, signal.SIG_IGN)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread, where signals cannot arrive anyway
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class PowerLimitGuard:
    """Context manager that owns the power limits of ``gpus`` while it is open.

    Parameters
    ----------
    nvml
        ``pynvml`` or an object with the same functions.
    gpus
        The GPUs whose limits the sweep changes.
    requested_w
        Every limit [W] the sweep will set; checked against each GPU's range on entry.
    geteuid
        Returns the effective user id; NVML only lets root change limits.
    """

    def __init__(self, nvml: Any, gpus: Sequence[Gpu], requested_w: Sequence[float],
                 geteuid: Callable[[], int] = os.geteuid) -> None:
        self.nvml = nvml
        self.gpus = list(gpus)
        self.requested_w = list(requested_w)
        self.geteuid = geteuid
        self.original_mw: dict[int, int] = {}
        self.restore_failures: list[str] = []

    def __enter__(self) -> PowerLimitGuard:
        nvml = self.nvml
        if self.geteuid() != 0:
            raise ProfileError("changing GPU power limits needs root (NVML "
                               "nvmlDeviceSetPowerManagementLimit); run the sweep as root, or "
                               "profile without --sweep-power-limits")
        try:
            for gpu in self.gpus:
                low_mw, high_mw = nvml.nvmlDeviceGetPowerManagementLimitConstraints(gpu.handle)
                for limit in self.requested_w:
                    if not low_mw <= limit * 1000 <= high_mw:
                        raise ProfileError(f"GPU {gpu.index} ({gpu.name}) accepts power limits "
                                           f"{low_mw / 1000:g}-{high_mw / 1000:g} W, not "
                                           f"{limit:g} W")
                self.original_mw[gpu.index] = int(nvml.nvmlDeviceGetPowerManagementLimit(
                    gpu.handle))
            # Setting a limit to its current value changes nothing but proves permission.
            for gpu in self.gpus:
                nvml.nvmlDeviceSetPowerManagementLimit(gpu.handle, self.original_mw[gpu.index])
        except nvml.NVMLError as exc:
            raise ProfileError(describe_nvml_error(
                nvml, exc, "to change GPU power limits (needs root)")) from None
        return self

    def set(self, limit_w: float) -> None:
        """Set every GPU to ``limit_w`` watts."""
        for gpu in self.gpus:
            try:
                self.nvml.nvmlDeviceSetPowerManagementLimit(gpu.handle, round(limit_w * 1000))
            except self.nvml.NVMLError as exc:
                raise ProfileError(describe_nvml_error(
                    self.nvml, exc, f"setting GPU {gpu.index} to {limit_w:g} W")) from None
            log.info("GPU %d power limit set to %g W", gpu.index, limit_w)

    def restore(self) -> None:
        """Put every original limit back; try all GPUs even when one fails."""
        self.restore_failures = []
        for gpu in self.gpus:
            if gpu.index not in self.original_mw:
                continue
            original = self.original_mw[gpu.index]
            try:
                self.nvml.nvmlDeviceSetPowerManagementLimit(gpu.handle, original)
            except self.nvml.NVMLError as exc:
                self.restore_failures.append(
                    f"GPU {gpu.index}: could not restore {original / 1000:g} W ({exc}); run "
                    f"'nvidia-smi -i {gpu.index} -pl {original / 1000:g}' as root")

    def __exit__(self, *exc_info: object) -> None:
        with _signals_held():
            self.restore()
        for failure in self.restore_failures:
            log.error("%s", failure)
