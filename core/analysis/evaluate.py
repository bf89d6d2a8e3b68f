"""Realised, not just planned: a written plan's totals recomputed on actual signals.

A plan is made on a forecast; what it really emits and costs depends on the grid as it turned
out. :func:`evaluate_plan` keeps the plan exactly as written (same starts, nodes, power modes)
and re-prices it with the exact accounting of the contract on the actual carbon intensity and
prices of one site, next to the ``fifo`` baseline priced the same way (fifo's schedule does not
depend on the signals, so it is the same plan Slurm would have run). Optionally it also plans
with hindsight (the same solver on the actual signals) to show how much the forecast error
cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from greenslot.forecasts.files import KNOWN_SIGNALS, read_forecast, resample_to_grid
from greenslot.model.accounting import account
from greenslot.model.checks import did_you_mean, fail
from greenslot.model.scenario import Scenario, SiteSeries
from greenslot.model.schedule import Schedule
from greenslot.solvers.fifo import solve_fifo
from greenslot.solvers.types import SolveOptions

TOTAL_KEYS = ("energy_kwh", "grid_kwh", "renewable_kwh", "carbon_kg", "cost")


@dataclass(frozen=True)
class SignalError:
    """How far the planned signal was from the actual one over the horizon, per slot."""

    signal: str
    mean_abs: float
    bias: float  # mean of planned - actual: > 0 means the forecast was too high

    def as_dict(self) -> dict[str, float | str]:
        return {"signal": self.signal, "mean_abs_error": self.mean_abs, "bias": self.bias}


@dataclass(frozen=True)
class Evaluation:
    """Planned and realised totals of a plan and of ``fifo``; ``hindsight`` when asked for."""

    site: str
    actual_file: str
    signals: tuple[SignalError, ...]
    planned: dict[str, float]
    realised: dict[str, float]
    fifo_planned: dict[str, float]
    fifo_realised: dict[str, float]
    hindsight: dict[str, float] | None = None

    def saving(self, key: str, realised: bool = True) -> float | None:
        """Relative saving against fifo (0.25 = 25 % less), on actual or planned signals."""
        plan, fifo = ((self.realised, self.fifo_realised) if realised
                      else (self.planned, self.fifo_planned))
        return 1 - plan[key] / fifo[key] if fifo[key] else None

    def as_dict(self) -> dict:
        return {
            "site": self.site,
            "actual": self.actual_file,
            "signal_error": [s.as_dict() for s in self.signals],
            "planned": self.planned,
            "realised": self.realised,
            "fifo_planned": self.fifo_planned,
            "fifo_realised": self.fifo_realised,
            "hindsight": self.hindsight,
            "saving_vs_fifo": {key: {"planned": self.saving(key, False),
                                     "realised": self.saving(key)}
                               for key in ("energy_kwh", "carbon_kg", "cost")},
        }


def with_actual(scenario: Scenario, site: str | None, actual: Path,
                display: str) -> tuple[Scenario, str, tuple[SignalError, ...]]:
    """``scenario`` with one site's signals replaced by those the actual file carries.

    Signals the file does not carry (say, prices in a carbon-only file) stay as planned.
    """
    names = [s.name for s in scenario.sites]
    if site is None:
        if len(names) > 1:
            fail("unknown_site", "--site", None, None,
                 f"the scenario has sites {', '.join(names)}; name the one the actual file is "
                 "for with --site")
        site = names[0]
    if site not in names:
        fail("unknown_site", "--site", None, None,
             f"no site named {site!r};{did_you_mean(site, names)} known: {', '.join(names)}")
    table = read_forecast(actual, display)
    values = resample_to_grid(table, scenario.grid)
    planned = scenario.series[site]
    fields = {name: values.get(name, getattr(planned, name)) for name in KNOWN_SIGNALS}
    errors = tuple(
        SignalError(name, float(np.mean(np.abs(getattr(planned, name) - values[name]))),
                    float(np.mean(getattr(planned, name) - values[name])))
        for name in KNOWN_SIGNALS if name in values)
    series = dict(scenario.series) | {site: SiteSeries(**fields)}
    return scenario.replace(series=series), site, errors


def evaluate_plan(scenario: Scenario, schedule: Schedule, actual: Path, display: str,
                  site: str | None = None, hindsight_solver: str | None = None) -> Evaluation:
    """Price ``schedule`` (and fifo's) on the forecast and on the actual signals.

    ``schedule`` must be valid for ``scenario`` (the caller validates it first).
    """
    actual_scenario, site, errors = with_actual(scenario, site, actual, display)
    fifo = solve_fifo(scenario, SolveOptions()).schedule
    hindsight = None
    if hindsight_solver is not None:
        from greenslot.pipeline.steps import plan  # the pipeline imports solvers; keep it lazy

        hindsight = plan(actual_scenario, hindsight_solver).accounting.totals
    return Evaluation(
        site=site,
        actual_file=display,
        signals=errors,
        planned=account(scenario, schedule).totals,
        realised=account(actual_scenario, schedule).totals,
        fifo_planned=account(scenario, fifo).totals,
        fifo_realised=account(actual_scenario, fifo).totals,
        hindsight=hindsight,
    )


def evaluation_table(evaluation: Evaluation) -> str:
    """The report ``greenslot evaluate`` prints."""
    columns = ["planned", "realised", "fifo planned", "fifo realised"]
    rows = [evaluation.planned, evaluation.realised, evaluation.fifo_planned,
            evaluation.fifo_realised]
    if evaluation.hindsight is not None:
        columns.append("hindsight")
        rows.append(evaluation.hindsight)
    lines = [f"{'':14}" + "".join(f"{c:>15}" for c in columns)]
    for key in TOTAL_KEYS:
        lines.append(f"{key:14}" + "".join(f"{row[key]:15.3f}" for row in rows))
    for key in ("carbon_kg", "cost"):
        planned, realised = evaluation.saving(key, False), evaluation.saving(key)
        if planned is not None and realised is not None:  # signed as plan prints it: - is less
            lines.append(f"change vs fifo on {key}: planned {-planned:+.1%}, "
                         f"realised {-realised:+.1%}")
    for s in evaluation.signals:
        lines.append(f"{s.signal} forecast error at site {evaluation.site}: mean absolute "
                     f"{s.mean_abs:.4g}, bias {s.bias:+.4g} (forecast - actual)")
    return "\n".join(lines)


__all__ = ["Evaluation", "evaluate_plan", "evaluation_table", "with_actual"]
