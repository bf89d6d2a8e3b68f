"""Typed, immutable entities of a scenario: sites, GPU types and their power curves, nodes, jobs.

Everything here is parsed and checked once at the edge (:mod:`greenslot.model.loader`); solvers
and the validator receive these objects and never re-read files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from greenslot.model.timegrid import TimeGrid

if TYPE_CHECKING:
    from greenslot.model.durations import DurationPolicy
    from greenslot.model.reservations import Reservation


@dataclass(frozen=True)
class PowerMode:
    """One row of a power curve: a GPU power limit and what a workload does under it.

    ``power_w`` is one GPU's mean board power [W]; ``relative_throughput`` is work per second
    relative to the workload's fastest row (0 < x <= 1), so the run takes
    ``duration_h / relative_throughput`` hours. ``gpu_freq_mhz``, where the curve gives it, is
    the GPU clock that realises the mode (Slurm sets it with ``--gpu-freq``).
    """

    power_limit_w: float
    power_w: float
    relative_throughput: float
    gpu_freq_mhz: float | None = None


@dataclass(frozen=True)
class GpuType:
    """A GPU model with its idle draw [W] and measured power curves by workload.

    ``curves[workload]`` lists the modes fastest first (ties: lower power first), which is the
    order the contract's ``fifo`` baseline picks from.
    """

    name: str
    gpu_idle_w: float
    curves: Mapping[str, tuple[PowerMode, ...]]

    def modes(self, workload: str) -> tuple[PowerMode, ...]:
        return self.curves.get(workload, ())

    def mode(self, workload: str, power_limit_w: float) -> PowerMode | None:
        """The mode of ``workload`` at ``power_limit_w`` [W], or None when the curve has none."""
        for mode in self.modes(workload):
            if abs(mode.power_limit_w - power_limit_w) < 1e-9:
                return mode
        return None

    def run_mode(self, workload: str, power_limit_w: float) -> PowerMode:
        """:meth:`mode` for a placement already known to be valid; a missing mode is a bug.

        The validator rejects a placement at a power limit the curve lacks (``bad_mode``), so
        pricing, decoding and writing a checked plan may rely on the mode being there.
        """
        found = self.mode(workload, power_limit_w)
        if found is None:
            raise KeyError(f"GPU type {self.name} has no {workload} mode at {power_limit_w} W")
        return found


@dataclass(frozen=True)
class Site:
    """A facility with its own grid signals, PUE and optional limits.

    ``power_cap_kw`` bounds the facility node draw (after PUE) in every slot;
    ``energy_budget_kwh`` and ``carbon_budget_kg`` bound the site's facility energy and grid
    carbon summed over the horizon (hard caps, an extension of the contract's site keys).
    """

    name: str
    pue: float
    power_cap_kw: float | None
    power_down_idle: bool
    energy_budget_kwh: float | None = None
    carbon_budget_kg: float | None = None


@dataclass(frozen=True)
class Node:
    """One GPU node. ``unavailable_slots`` are the slots overlapping a maintenance window.

    ``cpus`` and ``memory_mb`` are what the node declares (Slurm's ``CPUs``/``RealMemory``),
    where the scenario gives them: a job asking for more is never placed there.
    ``wake_energy_kwh`` is the IT energy [kWh] one boot takes (an extension of the contract):
    charged each time a node of a ``power_down_idle`` site starts up, see
    :func:`greenslot.model.accounting.start_ups`.
    """

    name: str
    site: str
    gpu_type: str
    gpus: int
    idle_w: float
    partition: str | None
    unavailable_slots: frozenset[int] = frozenset()
    cpus: int | None = None
    memory_mb: int | None = None
    wake_energy_kwh: float = 0.0


@dataclass(frozen=True)
class Job:
    """A training job as the user wrote it, with times made tz-aware and defaults applied.

    ``line`` is the job's line in the jobs CSV (header = line 1), kept for error messages.
    ``duration_max_h`` is the upper estimate of the run time [h at the fastest mode],
    ``reserve_h`` the length the plan reserves (None: ``duration_h``) and
    ``deadline_guard_h`` how long before its deadline the reserved run must end, so that a run
    to its time limit (by default; ``duration_deadline``) still meets it, and ``limit_h``
    the run time Slurm's ``--time`` allows (None: the upper estimate); see
    :mod:`greenslot.model.durations`.
    """

    job_id: str
    gpus: int
    duration_h: float
    release: datetime
    deadline: datetime
    workload: str = "default"
    gpu_type: str | None = None
    site: str | None = None
    partition: str | None = None
    priority: float = 1.0
    depends_on: tuple[str, ...] = ()
    script: Path | None = None
    command: str | None = None
    data_gb: float = 0.0
    data_site: str | None = None
    pinned_start: datetime | None = None
    pinned_nodes: tuple[str, ...] | None = None
    power_limit_w: float | None = None
    line: int = 0
    # Slurm options passed through to sbatch (quoted); cpus_per_task and mem_mb [MB per node]
    # also keep the job off nodes that declare fewer CPUs or less memory.
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    cpus_per_task: int | None = None
    mem_mb: int | None = None
    sbatch_args: tuple[str, ...] = ()
    duration_max_h: float | None = None
    reserve_h: float | None = None
    deadline_guard_h: float = 0.0
    limit_h: float | None = None
    # Who submits it (jobs CSV ``user``, or the Slurm user of a queued job): run times are
    # learnt per user and workload where the history has enough of that user's runs.
    user: str | None = None

    @property
    def pinned(self) -> bool:
        return self.pinned_start is not None

    def pinned_placement(self) -> tuple[datetime, tuple[str, ...]]:
        """``(pinned_start, pinned_nodes)`` of a pinned job; the loader sets both or neither.

        Raises
        ------
        ValueError
            The job is not pinned (asking is a bug in the caller).
        """
        if self.pinned_start is None or self.pinned_nodes is None:
            raise ValueError(f"job {self.job_id} is not pinned")
        return self.pinned_start, self.pinned_nodes

    @property
    def planned_h(self) -> float:
        """Run time at the fastest mode that the plan reserves [h]."""
        return self.duration_h if self.reserve_h is None else self.reserve_h


@dataclass(frozen=True)
class SiteSeries:
    """Per-slot grid signals of one site, already resampled onto the time grid.

    Arrays have one value per slot: carbon intensity [g/kWh], price [per MWh] and on-site
    renewable supply [kW]. They are made read-only so no solver can alter shared data.
    """

    carbon_g_per_kwh: np.ndarray
    price_per_mwh: np.ndarray
    renewable_kw: np.ndarray

    def __post_init__(self) -> None:
        for array in (self.carbon_g_per_kwh, self.price_per_mwh, self.renewable_kw):
            array.setflags(write=False)


@dataclass(frozen=True)
class Objective:
    """Weights of the three totals the planner minimises (the contract's ``objective``).

    ``carbon_price_per_tonne`` [currency per t CO2] is kept only to report how the weights were
    given: a carbon price P is the weight ``carbon_kg = P / 1000`` on the same scale as
    ``cost``, so solvers see plain weights.
    """

    carbon_kg: float = 0.0
    cost: float = 0.0
    energy_kwh: float = 0.0
    name: str = "weighted"
    carbon_price_per_tonne: float | None = None

    @classmethod
    def named(cls, name: str) -> Objective:
        presets = {
            "carbon": cls(carbon_kg=1.0, name="carbon"),
            "cost": cls(cost=1.0, name="cost"),
            "energy": cls(energy_kwh=1.0, name="energy"),
        }
        return presets[name]

    def value(self, carbon_kg: float, cost: float, energy_kwh: float) -> float:
        return self.carbon_kg * carbon_kg + self.cost * cost + self.energy_kwh * energy_kwh

    def as_json(self) -> str | dict[str, float]:
        if self.name != "weighted":
            return self.name
        weights = {"carbon_kg": self.carbon_kg, "cost": self.cost, "energy_kwh": self.energy_kwh}
        if self.carbon_price_per_tonne is not None:
            weights["carbon_price_per_tonne"] = self.carbon_price_per_tonne
        return weights


@dataclass(frozen=True)
class Scenario:
    """A complete, checked planning problem."""

    name: str
    source: Path
    grid: TimeGrid
    objective: Objective
    transfer_kwh_per_gb: float
    sites: tuple[Site, ...]
    gpu_types: tuple[GpuType, ...]
    nodes: tuple[Node, ...]
    jobs: tuple[Job, ...]
    series: Mapping[str, SiteSeries]
    # Capacity held back (greenslot.model.reservations.Reservation); already applied to the
    # nodes' unavailable slots, kept here so submit can create the Slurm reservations.
    reservations: tuple[Reservation, ...] = ()
    # What-if edits (``--set KEY=VALUE``, as typed) this scenario was loaded with, in order.
    overrides: tuple[tuple[str, str], ...] = ()
    # Where each site's signals came from: site -> signal column -> record (``kind`` file,
    # provider, cache, stale-cache or forecaster, and its details); summary.json reports it.
    forecast_sources: Mapping[str, Mapping[str, Mapping]] = field(default_factory=dict)
    # ISO 4217 code of every price and cost (``currency:``), None when the scenario does not say.
    currency: str | None = None
    # How uncertain run times are treated (duration_quantile, duration_history,
    # duration_deadline), kept so that jobs added later (the queue) are treated the same.
    duration_policy: DurationPolicy | None = None
    # Lookups by name, built from the fields above by __post_init__ and never passed in, so
    # every copy (``replace``, ``dataclasses.replace``) gets an index of its own fields.
    _index: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "series", MappingProxyType(dict(self.series)))
        object.__setattr__(self, "_index", dict(
            site={s.name: s for s in self.sites},
            gpu_type={g.name: g for g in self.gpu_types},
            node={n.name: n for n in self.nodes},
            node_pos={n.name: i for i, n in enumerate(self.nodes)},
            job={j.job_id: j for j in self.jobs},
        ))

    def replace(self, **changes: Any) -> Scenario:
        """A copy with ``changes`` to its fields; the original is never touched.

        The one way greenslot copies a scenario (what-if objectives, live queues, replays,
        actual signals): the copy's lookups are rebuilt from its own jobs and nodes.
        """
        return dataclasses.replace(self, **changes)

    @property
    def folder(self) -> Path:
        return self.source.parent

    def site(self, name: str) -> Site:
        return self._index["site"][name]

    def gpu_type(self, name: str) -> GpuType:
        return self._index["gpu_type"][name]

    def node(self, name: str) -> Node:
        return self._index["node"][name]

    def node_position(self, name: str) -> int:
        return self._index["node_pos"][name]

    def has_node(self, name: str) -> bool:
        return name in self._index["node"]

    def job(self, job_id: str) -> Job:
        return self._index["job"][job_id]

    @property
    def declares_boot_energy(self) -> bool:
        """Whether some node declares a start-up energy (``wake_energy_kwh``): only then do
        boots enter the accounting, the summary and the validator's checks."""
        return any(n.wake_energy_kwh > 0 for n in self.nodes)

    def has_job(self, job_id: str) -> bool:
        return job_id in self._index["job"]

    def with_objective(self, objective: Objective) -> Scenario:
        """A copy planned for another objective (a what-if that keeps everything else)."""
        return self.replace(objective=objective)
