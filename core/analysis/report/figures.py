"""The report's figures, drawn with matplotlib's Agg renderer (no display needed).

Figures are made as :class:`~matplotlib.figure.Figure` objects, never through pyplot, so
drawing needs no GUI backend and does not change the backend of a notebook that imports us
(saving a PNG renders with Agg whatever the backend). Each function takes typed plan data
and returns a figure; :func:`png_bytes` turns it into PNG bytes. Why functions of data rather
than of files: the sweep draws its Pareto chart with the same helpers, and tests can draw
without a plan folder.
"""

from __future__ import annotations

import functools
import io
import itertools
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import numpy.typing as npt
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

from greenslot.model import rules
from greenslot.model.accounting import Accounting
from greenslot.model.scenario import Scenario
from greenslot.model.schedule import Schedule

DPI = 100
TOTAL_LABELS = {"energy_kwh": "energy [kWh]", "grid_kwh": "grid energy [kWh]",
                "carbon_kg": "carbon [kg CO2]", "cost": "cost"}


_F = TypeVar("_F", bound=Callable[..., Any])


def plain_text(function: _F) -> _F:
    """Run ``function`` with matplotlib's mathtext off: every text is drawn as written.

    Why: names come from users (a site named ``tx$\\frac{$``), and matplotlib parses any text
    holding two ``$`` as TeX math, which fails on such a name and took the report down with
    it. Text objects read the setting when made, tick labels when drawn, so both the figure
    functions and :func:`png_bytes` run under it.
    """

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        with matplotlib.rc_context({"text.parse_math": False}):
            return function(*args, **kwargs)

    return cast(_F, run)


@plain_text
def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG bytes (figures are not kept in pyplot's registry, so nothing leaks)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def _times(scenario: Scenario, slots: npt.ArrayLike) -> np.ndarray:
    """Slot positions as matplotlib date numbers (timezone: UTC)."""
    grid = scenario.grid
    start = mdates.date2num(grid.start)
    return start + np.asarray(slots, dtype=float) * grid.slot.total_seconds() / 86400.0


def _format_time_axis(axis, scenario: Scenario) -> None:
    tz = scenario.grid.start.tzinfo
    locator = mdates.AutoDateLocator(tz=tz, minticks=4, maxticks=12)
    # whole hours and quarter hours only: the default picks 72-minute steps on short horizons
    locator.intervald[mdates.HOURLY] = [1, 2, 3, 4, 6, 12]
    locator.intervald[mdates.MINUTELY] = [15, 30]
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(mdates.DateFormatter("%d %b\n%H:%M", tz=tz))
    axis.set_xlim(_times(scenario, [0, scenario.grid.n_slots]))
    axis.set_xlabel(f"time ({scenario.grid.start.tzname() or 'UTC'})", fontsize=8)


def _lanes(scenario: Scenario, schedule: Schedule) -> dict[tuple[str, str], list[int]]:
    """GPU lanes of each (job, node): the lowest-numbered GPUs free when the job starts.

    A node row is split into one lane per GPU so jobs sharing a node do not hide each other.
    """
    free_at: dict[str, list[int]] = {n.name: [-10**9] * n.gpus for n in scenario.nodes}
    lanes: dict[tuple[str, str], list[int]] = {}
    for a in schedule.assignments:  # start order
        job = scenario.job(a.job_id)
        for name in a.nodes:
            needed = rules.nodes_needed(job, scenario.node(name))
            assert needed is not None, f"{a.job_id} was placed on {name}, which cannot fit it"
            used = needed[1]
            ends = free_at[name]
            free = [g for g, end in enumerate(ends) if end <= a.start_slot]
            chosen = (free + [g for g in range(len(ends)) if g not in free])[:used]
            for g in chosen:
                ends[g] = a.end_slot
            lanes[(a.job_id, name)] = sorted(chosen)
    return lanes


def _runs(lanes: list[int]) -> list[tuple[int, int]]:
    """Contiguous runs ``(first, count)`` of sorted lane numbers."""
    runs: list[tuple[int, int]] = []
    for lane in lanes:
        if runs and runs[-1][0] + runs[-1][1] == lane:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((lane, 1))
    return runs


def _mode_colours(limits: Sequence[float]):
    """A discrete colour per distinct power limit, dark = low power, bright = high."""
    values = sorted(set(limits)) or [0.0]
    base = matplotlib.colormaps["viridis"].resampled(max(2, len(values)))
    colours = ListedColormap([base(i) for i in range(len(values))])
    middles = [(a + b) / 2 for a, b in itertools.pairwise(values)]
    edges = [values[0] - 1, *middles, values[-1] + 1]
    return values, colours, BoundaryNorm(edges, colours.N)


@plain_text
def gantt(scenario: Scenario, schedule: Schedule) -> Figure:
    """Jobs by node and GPU over time, coloured by power limit, with deadlines marked.

    Each node is a band of one lane per GPU; maintenance windows are grey; a red tick marks
    each job's deadline when it falls inside the horizon, in the job's own lanes and joined to
    its bar's end by a thin red line (so a tick among other bars still names its job); pinned
    jobs are hatched.
    """
    nodes = scenario.nodes
    total_lanes = sum(n.gpus for n in nodes)
    height = min(30.0, max(3.5, 1.2 + 0.055 * total_lanes + 0.12 * len(nodes)))
    figure = Figure(figsize=(13, height))
    axis = figure.add_subplot()
    offset, base = 0, {}
    for node in nodes:
        base[node.name] = offset
        offset += node.gpus + 1  # one empty lane between nodes
    limits = [a.power_limit_w for a in schedule.assignments]
    values, colours, norm = _mode_colours(limits)
    slot_days = scenario.grid.slot.total_seconds() / 86400.0
    for node in nodes:
        for slot in sorted(node.unavailable_slots):
            axis.broken_barh([(_times(scenario, [slot])[0], slot_days)],
                             (base[node.name] - 0.5, node.gpus), color="0.85", zorder=0)
    lanes = _lanes(scenario, schedule)
    deadline_end = scenario.grid.end
    for a in schedule.assignments:
        job = scenario.job(a.job_id)
        start = max(a.start_slot, 0)
        x, width = _times(scenario, [start])[0], (a.end_slot - start) * slot_days
        colour = colours(norm(a.power_limit_w))
        for name in a.nodes:
            for first, count in _runs(lanes[(a.job_id, name)]):
                y = base[name] + first - 0.4
                axis.broken_barh([(x, width)], (y, count - 0.2), facecolor=colour,
                                 edgecolor="black", linewidth=0.3,
                                 hatch="///" if job.pinned else None)
                if job.deadline < deadline_end:  # the tick, joined to its bar by a thin line
                    due = mdates.date2num(job.deadline)
                    middle = y + (count - 0.2) / 2
                    axis.plot([x + width, due], [middle, middle], color="#d50000",
                              linewidth=0.6, alpha=0.7, gid=f"slack:{a.job_id}")
                    axis.plot([due] * 2, [y, y + count - 0.2], color="#d50000", linewidth=2,
                              gid=f"deadline:{a.job_id}")
    axis.set_yticks([base[n.name] + (n.gpus - 1) / 2 for n in nodes],
                    [f"{n.name} ({n.site})" for n in nodes], fontsize=7)
    axis.set_ylim(offset - 0.5, -1.5)
    _format_time_axis(axis, scenario)
    axis.grid(axis="x", color="0.9")
    axis.set_title(f"Jobs by node and GPU ({len(schedule.assignments)} placed, "
                   f"{len(schedule.unplaced)} unplaced); bar colour: GPU power limit; "
                   "red tick: deadline, joined to its job by a thin red line; hatched: pinned; "
                   "grey: maintenance", fontsize=9)
    mappable = matplotlib.cm.ScalarMappable(norm=norm, cmap=colours)
    bar = figure.colorbar(mappable, ax=axis, pad=0.01, fraction=0.03,
                          ticks=values if limits else [])
    bar.set_label("GPU power limit [W]")
    figure.tight_layout()
    return figure


@plain_text
def site_power(scenario: Scenario, accounting: Accounting, site: str) -> Figure:
    """One site's facility node draw against its power cap and renewables, with data
    transfer on top, and grid carbon intensity and price on their own axes.

    Why the node draw is drawn apart: it is what the cap bounds (PUE included, transfers
    excluded, as the contract prices them); stacking transfer energy into the same area once
    drew bars above a cap the plan respects. The grid's share is the solid line.
    """
    k = accounting.site_names.index(site)
    hours = scenario.grid.slot_hours
    series = scenario.series[site]
    node_kw = accounting.node_draw_kw[k]
    facility_kw = accounting.energy_kwh[k] / hours
    transfer_kw = np.maximum(facility_kw - node_kw, 0.0)
    grid_kw = accounting.grid_kwh[k] / hours
    n = scenario.grid.n_slots
    edges = _times(scenario, np.arange(n + 1))
    figure = Figure(figsize=(13, 4.2))
    axis = figure.add_subplot()
    x = edges
    pad = lambda v: np.append(v, v[-1])  # noqa: E731  (step plots need n+1 points)
    axis.fill_between(x, 0, pad(node_kw), color="#9e9e9e", alpha=0.8,
                      label="node draw (the cap applies)", step="post")
    if transfer_kw.any():
        axis.fill_between(x, pad(node_kw), pad(node_kw + transfer_kw), facecolor="#ffcc80",
                          edgecolor="#e65100", hatch="////", linewidth=0,
                          label="data transfer (not capped; kWh spread over its slot)",
                          step="post")
    axis.step(x, pad(grid_kw), where="post", color="black", linewidth=0.9,
              label="drawn from the grid")
    axis.step(x, pad(series.renewable_kw), where="post", color="#1b5e20", linewidth=1.2,
              linestyle="--", label="renewables available")
    cap = scenario.site(site).power_cap_kw
    if cap is not None:
        axis.axhline(cap, color="#b71c1c", linewidth=1, linestyle=":", label="power cap")
    axis.set_ylabel("facility power [kW]")
    axis.set_ylim(bottom=0)
    carbon_axis = axis.twinx()
    carbon_axis.step(x, pad(series.carbon_g_per_kwh), where="post", color="#e65100",
                     linewidth=1.2, label="carbon intensity")
    carbon_axis.set_ylabel("carbon [g CO2/kWh]", color="#e65100")
    carbon_axis.set_ylim(bottom=0)
    price_axis = axis.twinx()
    price_axis.spines["right"].set_position(("axes", 1.07))
    price_axis.step(x, pad(series.price_per_mwh), where="post", color="#1565c0", linewidth=1,
                    alpha=0.8, label="price")
    price_axis.set_ylabel(f"price [{scenario.currency or 'price unit'}/MWh]", color="#1565c0")
    price_axis.set_ylim(bottom=min(0.0, float(np.min(series.price_per_mwh))))
    _format_time_axis(axis, scenario)
    handles = [h for a in (axis, carbon_axis, price_axis) for h in a.get_legend_handles_labels()[0]]
    axis.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=8,
                ncol=len(handles), frameon=False)
    energy = float(accounting.energy_kwh[k].sum())
    grid = float(accounting.grid_kwh[k].sum())
    axis.set_title(f"{site}: facility {energy:.1f} kWh, grid {grid:.1f} kWh, "
                   f"renewables used {energy - grid:.1f} kWh", fontsize=10)
    figure.tight_layout()
    return figure


@plain_text
def totals_against_baselines(totals: Mapping[str, float],
                             baselines: Mapping[str, Mapping[str, float]],
                             currency: str | None = None) -> Figure:
    """The plan's totals beside each baseline's, one panel per quantity, values written on;
    cost in ``currency`` (the scenario's, when it names one)."""
    names = ["plan", *baselines]
    figure = Figure(figsize=(13, 3.4))
    axes = figure.subplots(1, len(TOTAL_LABELS))
    colours = ["#2e7d32", "#757575", "#90a4ae", "#bcaaa4"]
    for axis, (key, label) in zip(axes, TOTAL_LABELS.items(), strict=True):
        values = [float(totals[key])] + [float(baselines[b].get(key, np.nan)) for b in baselines]
        bars = axis.bar(names, values, color=colours[:len(names)])
        axis.bar_label(bars, fmt="%.4g", fontsize=8)
        axis.set_title(f"cost [{currency}]" if key == "cost" and currency else label,
                       fontsize=10)
        axis.set_ylim(0, max([v for v in values if v == v] + [1e-9]) * 1.18)
        axis.tick_params(axis="x", labelsize=8)
    figure.tight_layout()
    return figure


@plain_text
def pareto(points: Sequence[Mapping[Hashable, Any]], labels: Sequence[str]) -> Figure:
    """Carbon against cost and against makespan for sweep points; the front is joined.

    ``points`` are rows of the sweep table (``DataFrame.to_dict("records")``) with numeric
    ``carbon_kg``, ``cost``, ``makespan_h`` and ``unplaced``.

    A point is on the front of a panel when no other point is at least as good on both axes
    and better on one; points that left jobs unplaced are drawn as crosses.
    """
    figure = Figure(figsize=(13, 5))
    axes = figure.subplots(1, 2)
    carbon = np.array([p["carbon_kg"] for p in points], dtype=float)
    unplaced = np.array([p["unplaced"] for p in points]) > 0
    for axis, key, xlabel in ((axes[0], "cost", "cost"),
                              (axes[1], "makespan_h", "makespan [h]")):
        x = np.array([p[key] for p in points], dtype=float)
        front = pareto_front(x, carbon)
        order = sorted(front, key=lambda i: (x[i], carbon[i]))
        axis.plot(x[order], carbon[order], color="#2e7d32", linewidth=1.5, zorder=1,
                  marker="o", markersize=12, markerfacecolor="none", label="Pareto front")
        axis.scatter(x[~unplaced], carbon[~unplaced], color="#1565c0", zorder=2,
                     label="all jobs placed")
        if unplaced.any():
            axis.scatter(x[unplaced], carbon[unplaced], color="#c62828", marker="x", zorder=2,
                         label="some jobs unplaced")
        for i, text in enumerate(labels):
            axis.annotate(text, (x[i], carbon[i]), textcoords="offset points", xytext=(4, 4),
                          fontsize=7, color="#b71c1c" if i in front else "0.35")
        axis.set_xlabel(xlabel)
        axis.set_ylabel("carbon [kg CO2]")
        axis.grid(color="0.92")
        axis.legend(fontsize=8)
    axes[0].set_title("carbon against cost", fontsize=10)
    axes[1].set_title("carbon against makespan", fontsize=10)
    figure.tight_layout()
    return figure


def pareto_front(x: np.ndarray, y: np.ndarray) -> list[int]:
    """Indices of the points no other point dominates (both axes minimised)."""
    front = []
    for i in range(len(x)):
        dominated = np.any((x <= x[i]) & (y <= y[i]) & ((x < x[i]) | (y < y[i])))
        if not dominated:
            front.append(i)
    return front


def time_label(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M %Z")
