"""Which scenario features each solver handles, and the check made before it runs.

Every registered solver declares its :class:`Capabilities`; the registry
(:func:`greenslot.solvers.registry.get_solver`) checks a scenario's :func:`features` against
them before the solver builds anything, and an unsupported feature raises
:class:`UnsupportedFeatureError` naming the feature, where the scenario has it and what to do.

A solver *enforces* a feature when every plan it returns respects it; it may *ignore* one by
design (the queue baselines ignore site budgets, as Slurm does) and still accept the scenario:
the plan pipeline's validator then decides whether that plan may be written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from greenslot.model.errors import GreenslotError
from greenslot.model.scenario import Scenario


class Feature(StrEnum):
    """A part of the problem that a solver has to model; present only in some scenarios."""

    PINNED_JOBS = "pinned jobs"
    DEPENDENCIES = "job dependencies"
    MULTI_NODE_JOBS = "multi-node jobs"
    POWER_CAPS = "site power caps"
    ENERGY_BUDGETS = "site energy budgets"
    CARBON_BUDGETS = "site carbon budgets"
    UNAVAILABLE_NODES = "maintenance windows"
    RESERVATIONS = "reservations"
    RENEWABLES = "on-site renewables"
    NEGATIVE_PRICES = "negative prices"
    MULTIPLE_SITES = "multiple sites"
    DATA_TRANSFER = "data transfer between sites"


ALL_FEATURES = frozenset(Feature)

REMEDIES: Mapping[Feature, str] = {
    Feature.PINNED_JOBS: "drop pinned_start/pinned_nodes from the jobs",
    Feature.DEPENDENCIES: "drop depends_on from the jobs",
    Feature.MULTI_NODE_JOBS: "split the jobs to fit one node",
    Feature.POWER_CAPS: "drop power_cap_kw from the sites",
    Feature.ENERGY_BUDGETS: "drop energy_budget_kwh from the sites",
    Feature.CARBON_BUDGETS: "drop carbon_budget_kg from the sites",
    Feature.UNAVAILABLE_NODES: "drop the maintenance windows",
    Feature.RESERVATIONS: "drop the reservations",
    Feature.RENEWABLES: "drop renewable_kw from the forecasts",
    Feature.NEGATIVE_PRICES: "use an objective without cost",
    Feature.MULTIPLE_SITES: "plan each site on its own",
    Feature.DATA_TRANSFER: "drop data_gb/data_site from the jobs",
}
"""What a user can change in the scenario to do without a feature (the last resort)."""


@dataclass(frozen=True)
class Capabilities:
    """What a solver declares: the features it ``enforces`` and those it ``ignores`` by
    design; a scenario with any other feature is rejected before the solver runs."""

    enforces: frozenset[Feature]
    ignores: frozenset[Feature] = frozenset()
    note: str = ""

    @property
    def accepts(self) -> frozenset[Feature]:
        return self.enforces | self.ignores

    def unsupported(self, present: Iterable[Feature]) -> list[Feature]:
        """The features of ``present`` this solver cannot take, in declaration order."""
        found = set(present) - self.accepts
        return [f for f in Feature if f in found]

    def __and__(self, other: Capabilities) -> Capabilities:
        """What a solver that may run either of two others can promise (``auto``)."""
        return Capabilities(self.enforces & other.enforces,
                            (self.accepts & other.accepts) - (self.enforces & other.enforces))


EVERYTHING = Capabilities(ALL_FEATURES)


class UnsupportedFeatureError(GreenslotError):
    """The chosen solver cannot plan a feature the scenario has; the message says which
    solvers can, or what to remove from the scenario."""

    def __init__(self, solver: str, missing: list[Feature], evidence: Mapping[Feature, str],
                 alternatives: list[str]) -> None:
        self.solver = solver
        self.missing = tuple(missing)
        what = "; ".join(f"{f} ({evidence[f]})" if evidence.get(f) else str(f)
                         for f in missing)
        remedy = (f"use --solver {' or '.join(alternatives)}" if alternatives
                  else "no registered solver supports it")
        fixes = "; ".join(REMEDIES[f] for f in missing)
        super().__init__(f"solver {solver!r} does not support {what}: {remedy}, or {fixes}")


def features(scenario: Scenario) -> dict[Feature, str]:
    """The features ``scenario`` has, each with where it shows (for the error message)."""
    found: dict[Feature, str] = {}

    def note(feature: Feature, where: list[str]) -> None:
        if where:
            found[feature] = ", ".join(where[:3]) + (" ..." if len(where) > 3 else "")

    jobs, sites, nodes = scenario.jobs, scenario.sites, scenario.nodes
    smallest_node = min((n.gpus for n in nodes), default=0)
    note(Feature.PINNED_JOBS, [f"job {j.job_id}" for j in jobs if j.pinned])
    note(Feature.DEPENDENCIES, [f"job {j.job_id}" for j in jobs if j.depends_on])
    note(Feature.MULTI_NODE_JOBS, [f"job {j.job_id}" for j in jobs if j.gpus > smallest_node])
    note(Feature.POWER_CAPS, [f"site {s.name}" for s in sites if s.power_cap_kw is not None])
    note(Feature.ENERGY_BUDGETS,
         [f"site {s.name}" for s in sites if s.energy_budget_kwh is not None])
    note(Feature.CARBON_BUDGETS,
         [f"site {s.name}" for s in sites if s.carbon_budget_kg is not None])
    note(Feature.UNAVAILABLE_NODES, [f"node {n.name}" for n in nodes if n.unavailable_slots])
    note(Feature.RESERVATIONS, [f"reservation {r.name}" for r in scenario.reservations])
    series = scenario.series
    note(Feature.RENEWABLES, [f"site {s.name}" for s in sites
                              if np.any(series[s.name].renewable_kw > 0)])
    if scenario.objective.cost:
        note(Feature.NEGATIVE_PRICES, [f"site {s.name}" for s in sites
                                       if np.any(series[s.name].price_per_mwh < 0)])
    if len(sites) > 1:
        found[Feature.MULTIPLE_SITES] = f"{len(sites)} sites"
    note(Feature.DATA_TRANSFER, [f"job {j.job_id}" for j in jobs
                                 if j.data_gb > 0 and j.data_site is not None])
    return found


def check_supported(solver: str, declared: Capabilities, scenario: Scenario,
                    others: Mapping[str, Capabilities]) -> None:
    """Raise :class:`UnsupportedFeatureError` unless ``declared`` accepts every feature of
    ``scenario``; ``others`` (name -> capabilities) are searched for solvers that would."""
    present = features(scenario)
    missing = declared.unsupported(present)
    if not missing:
        return
    alternatives = [name for name, caps in others.items()
                    if name != solver and not caps.unsupported(present)]
    raise UnsupportedFeatureError(solver, missing, present, alternatives)
