"""Measure what GPUs draw while a command runs, through NVML (``pynvml``).

Everything here takes the NVML module as an argument: the real ``pynvml`` on a GPU machine,
or :class:`~greenslot.power.profiling.replay.ReplayNVML`, which plays recorded readings back through
the same functions, so the code that runs on a GPU is the code the tests run.
"""

from greenslot.power.profiling.energy import GpuEnergy, summarise
from greenslot.power.profiling.nvml import Gpu, ProfileError, load_pynvml, open_gpus
from greenslot.power.profiling.sampler import Sample, Sampler

__all__ = [
    "Gpu",
    "GpuEnergy",
    "ProfileError",
    "Sample",
    "Sampler",
    "load_pynvml",
    "open_gpus",
    "summarise",
]
