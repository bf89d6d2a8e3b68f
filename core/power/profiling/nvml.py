"""Open NVML and the selected GPUs, turning every way this can fail into one clear message.

Why a module of its own: "no driver", "no GPU", "no permission" and "this GPU has no energy
counter" are normal situations on the machines greenslot runs on (login nodes, CI, laptops).
Each must end in one line that says what is missing, never in a traceback and never in
numbers made up to fill the gap.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from greenslot.model.errors import GreenslotError


class ProfileError(GreenslotError):
    """Profiling cannot start or go on (no NVML, no GPU, no permission...). The CLI exits 2."""


@dataclass(frozen=True)
class Gpu:
    """One selected GPU: its NVML index, handle and product name."""

    index: int
    handle: Any
    name: str


def load_pynvml() -> ModuleType:
    """Import the NVML bindings (``nvidia-ml-py`` provides the ``pynvml`` module).

    The deprecated ``pynvml`` package, when installed too, redirects the import and warns;
    that warning is about packaging, not about anything the user can act on here.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*pynvml package is deprecated.*",
                                    category=FutureWarning)
            import pynvml
    except ImportError:
        raise ProfileError("the NVML Python bindings are not installed "
                           "(pip install nvidia-ml-py); greenslot profile reads GPUs "
                           "through NVML") from None
    return pynvml


def describe_nvml_error(nvml: Any, exc: Exception, doing: str) -> str:
    """One line for an NVML error raised while ``doing`` something."""
    if isinstance(exc, nvml.NVMLError_LibraryNotFound):
        return ("NVML library (libnvidia-ml.so) not found: this machine has no NVIDIA driver, "
                "so there is no GPU to profile")
    if isinstance(exc, nvml.NVMLError_DriverNotLoaded):
        return "NVML: the NVIDIA driver is not loaded, so there is no GPU to profile"
    if isinstance(exc, nvml.NVMLError_NoPermission):
        return f"NVML: no permission {doing}"
    return f"NVML error {doing}: {exc}"


def open_gpus(nvml: Any, indices: Sequence[int] | None) -> list[Gpu]:
    """Initialise NVML and return the selected GPUs (all GPUs when ``indices`` is None).

    The caller owns the NVML session and must call ``nvml.nvmlShutdown()`` when done.

    Raises
    ------
    ProfileError
        NVML is missing or fails, there is no GPU, or an index does not exist.
    """
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        raise ProfileError(describe_nvml_error(nvml, exc, "initialising NVML")) from None
    try:
        count = nvml.nvmlDeviceGetCount()
        if count == 0:
            raise ProfileError("NVML found no GPU on this machine")
        wanted = list(range(count)) if indices is None else list(indices)
        for index in wanted:
            if not 0 <= index < count:
                raise ProfileError(f"--gpus: there is no GPU {index}; NVML sees {count} "
                                   f"(0-{count - 1})")
        gpus = []
        for index in wanted:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = nvml.nvmlDeviceGetName(handle)
            gpus.append(Gpu(index, handle, name.decode() if isinstance(name, bytes) else name))
        return gpus
    except nvml.NVMLError as exc:
        nvml.nvmlShutdown()
        raise ProfileError(describe_nvml_error(nvml, exc, "reading the GPUs")) from None
    except ProfileError:
        nvml.nvmlShutdown()
        raise
