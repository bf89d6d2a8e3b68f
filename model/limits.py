"""Physical and practical bounds on every number, size and time a scenario may give.

Why bounds at the edge: a finite number can still be absurd (``pue: 1e308``), and passed on it
overflows the accounting to ``inf``/``NaN`` and plans nothing, or asks numpy for a 64 GiB
array. Each bound here is far beyond any real cluster (so no real input meets it) and far
below what overflows (so no input past it reaches a solver). A value outside its bound is an
input error naming file, row and field (check ``bad_number``, ``too_large`` or
``time_out_of_range``), never a silent clamp.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class Bound:
    """The closed range ``[low, high]`` a field's value must lie in, and its unit for messages.

    ``low_open`` makes the lower end open (``> low``), for values that must be positive.
    """

    low: float
    high: float
    unit: str = ""
    low_open: bool = False

    def contains(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high

    def describe(self) -> str:
        low = f"> {self.low:g}" if self.low_open else f">= {self.low:g}"
        unit = f" {self.unit}" if self.unit else ""
        return f"{low} and <= {self.high:g}{unit}"


# Scenario YAML: sites, GPU types, node groups, reservations, the transfer cost.
PUE = Bound(1.0, 10.0)  # data centres report 1.05..3; 10 is a typo
POWER_CAP_KW = Bound(0.0, 1e7, "kW", low_open=True)  # 10 GW: more than any site draws
ENERGY_BUDGET_KWH = Bound(0.0, 1e12, "kWh", low_open=True)
CARBON_BUDGET_KG = Bound(0.0, 1e12, "kg", low_open=True)
GPU_IDLE_W = Bound(0.0, 1e4, "W")  # per GPU; real ones idle at 20..100 W
NODE_IDLE_W = Bound(0.0, 1e6, "W")  # per node, GPUs excluded
NODE_GPUS = Bound(1.0, 1024.0, "GPUs")  # per node
NODE_CPUS = Bound(1.0, 1e5, "CPUs")  # per node; the largest have ~1,000 cores
NODE_MEMORY_MB = Bound(1.0, 1e9, "MB")  # per node; a petabyte
NODE_WAKE_ENERGY_KWH = Bound(0.0, 100.0, "kWh")  # per boot; GPU servers take 0.01..0.5 kWh
TRANSFER_KWH_PER_GB = Bound(0.0, 1e3, "kWh/GB")
RESERVATION_GPUS = Bound(1.0, 1e7, "GPUs")
OBJECTIVE_WEIGHT = Bound(0.0, 1e6)  # relative weights; a ratio past 1e6 only hides a term
CARBON_PRICE_PER_TONNE = Bound(0.0, 1e9)

# Power curve rows (per GPU).
CURVE_POWER_W = Bound(0.0, 1e4, "W", low_open=True)  # the largest accelerators draw ~1.2 kW
CURVE_FREQ_MHZ = Bound(0.0, 1e5, "MHz", low_open=True)

# Jobs CSV.
JOB_GPUS = Bound(1.0, 1e7, "GPUs")
JOB_DURATION_H = Bound(0.0, 1e5, "h", low_open=True)  # at most ~11 years
MIN_JOB_DURATION_H = 1 / 3600
"""A second: Slurm's time limits are whole seconds, and a shorter run rounds to no slot."""
JOB_PRIORITY = Bound(0.0, 1e6)
JOB_DATA_GB = Bound(0.0, 1e9, "GB")  # an exabyte
JOB_POWER_LIMIT_W = CURVE_POWER_W
JOB_CPUS_PER_TASK = Bound(1.0, 1e5, "CPUs")  # per task; the largest nodes have ~1,000 cores
DURATION_QUANTILE = Bound(0.5, 1.0)  # 0.5 reserves the typical run, 1 the upper estimate

# Forecast signals, per row of a file or a provider's answer.
SIGNALS: dict[str, Bound] = {
    "carbon_g_per_kwh": Bound(0.0, 1e4, "g/kWh"),  # coal is ~1,000; 10,000 is a unit slip
    "price_per_mwh": Bound(-1e6, 1e6, "per MWh"),  # market caps are ~5,000..20,000
    "renewable_kw": Bound(0.0, 1e9, "kW"),
}

# Sizes.
MAX_NODES = 100_000
"""Nodes over all node groups: more than any cluster has (Slurm's own hostlists stop near)."""
MAX_SLOTS = 100_000
"""Slots in the horizon: a year of 6-minute slots. Past it the per-slot arrays of the solvers
(nodes x slots) no longer fit in memory on the machines that plan."""
MAX_NODE_SLOTS = 20_000_000
"""Nodes times slots: the accounting and the solvers keep arrays of that shape (8 bytes a
cell, several of them); 2,000 nodes over 30 days of 15-minute slots is 5.8 million."""
MIN_SLOT = timedelta(seconds=1)
"""Slurm schedules to the second; a shorter slot cannot be submitted."""
MAX_TEXT_CHARS = 4096
"""Longest name or path a YAML text value may be (PATH_MAX on Linux)."""
MAX_NAME_CHARS = 256
"""Longest scenario name: it travels into every job's comment and summary.json."""

# Times: pandas' nanosecond timestamps end in 2262; this window keeps every sum of a time and
# a horizon or duration inside it.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def time_in_range(when: datetime) -> bool:
    """Whether ``when`` (tz-aware) lies in ``[EARLIEST, LATEST)``."""
    return EARLIEST <= when < LATEST


__all__ = ["EARLIEST", "LATEST", "MAX_NAME_CHARS", "MAX_NODES", "MAX_NODE_SLOTS", "MAX_SLOTS",
           "MAX_TEXT_CHARS",
           "MIN_SLOT", "SIGNALS", "Bound", "time_in_range"]
