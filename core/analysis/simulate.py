"""Replay real signals with nightly re-planning: forecast -> plan -> realised on actuals.

The scenario's forecast files hold what *actually* happened, over a period whose first day is
history (it feeds the forecaster and is not planned). Every night at ``start + d days``
(d = 1, 2, ...) the planner sees

- the jobs released before the next night (tomorrow's queue), not yet started;
- the jobs started on earlier nights that still run, pinned where and as they run;
- a forecast of the next ``plan_hours`` made only from signals before that night;

and plans them. Jobs the plan starts before the next night are committed; the rest are
planned again the next night with a fresher forecast. The committed runs form one schedule
over the whole replay, which must pass the validator, and are priced on the actual signals.
The same loop with the actual signals as forecast is the *perfect-foresight* plan. Two
baselines: ``best_window`` (each job shifted alone to its cheapest window in the same nightly
forecast, then queued; :mod:`greenslot.solvers.best_window`) in the same loop, and ``fifo``
(signal-blind, so the same online or offline). Both queue without looking at deadlines, so
their runs may end late; those are counted, not rejected.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from greenslot.analysis.execution import Cluster
from greenslot.forecasts.continuation import DEFAULT_BLEND_HOURS, continue_forecast
from greenslot.forecasts.forecaster import forecast_array
from greenslot.model.accounting import account
from greenslot.model.errors import InvalidScheduleError
from greenslot.model.scenario import Job, Scenario, SiteSeries
from greenslot.model.schedule import Assignment, Schedule, Unplaced, dependency_not_placed
from greenslot.model.timegrid import TimeGrid
from greenslot.model.validator import validate
from greenslot.pipeline.steps import solve_checked, with_explained_unplaced
from greenslot.solvers.fifo import solve_fifo
from greenslot.solvers.queue import missed_deadlines
from greenslot.solvers.registry import get_solver
from greenslot.solvers.types import SolveOptions

SIGNALS = ("carbon_g_per_kwh", "price_per_mwh", "renewable_kw")

Forecaster = Callable[[Scenario, str, int, int], SiteSeries]
"""``(scenario with actual signals, site, first slot, slots) -> forecast for those slots``,
made only from signals before ``first``."""


def _slots_per_day(grid: TimeGrid) -> int:
    per_day = timedelta(days=1) / grid.slot
    if abs(per_day - round(per_day)) > 1e-9:
        raise ValueError("simulate needs a slot that divides a day")
    return round(per_day)


def persistence(scenario: Scenario, site: str, first: int, n: int) -> SiteSeries:
    """Each slot takes the value at the same time of day on the last day before ``first``."""
    day = _slots_per_day(scenario.grid)
    t = np.arange(first, first + n)
    source = t - ((t - first) // day + 1) * day
    actual = scenario.series[site]
    return SiteSeries(**{name: np.array(getattr(actual, name)[source]) for name in SIGNALS})


def oracle(scenario: Scenario, site: str, first: int, n: int) -> SiteSeries:
    """The actual signals themselves: planning with perfect foresight."""
    actual = scenario.series[site]
    return SiteSeries(**{name: np.array(getattr(actual, name)[first:first + n])
                         for name in SIGNALS})


def sgip_forecaster(paths: list[Path], continuation: str | None = None,
                    blend_hours: float = DEFAULT_BLEND_HOURS) -> Forecaster:
    """The SGIP provider's MOER forecast where it reaches; beyond, persistence or ours.

    SGIP files (``time, moer, f1..f36``) carry at each 5-minute ``time`` a forecast issued
    then for ``time + k * 5 min``, k = 1..36 (3 h), in kg/kWh. A slot wholly covered by the
    forecast issued at the night's start takes its mean (x 1000, g/kWh). Every other slot and
    signal takes :func:`persistence`, or, with ``continuation`` (a method of our forecaster,
    e.g. ``profile``), the carbon past the provider's reach is ours from the history before
    the night, blended from the provider's last value over ``blend_hours``
    (:mod:`greenslot.forecasts.continuation`).
    """
    frame = pd.concat(pd.read_csv(p) for p in paths)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    rows = frame.drop_duplicates("time").set_index("time").sort_index()
    horizons = [f"f{k}" for k in range(1, 37)]

    def forecast(scenario: Scenario, site: str, first: int, n: int) -> SiteSeries:
        base = persistence(scenario, site, first, n)
        issued = pd.Timestamp(scenario.grid.time_of(first))
        if issued not in rows.index:
            return base
        step = pd.Timedelta(minutes=5)
        values = rows.loc[issued, horizons].to_numpy(dtype=float) * 1000.0
        starts = [issued + step * k for k in range(1, 37)]
        provider = np.full(n, np.nan)
        slot = pd.Timedelta(scenario.grid.slot)
        for i in range(n):
            a = issued + slot * i
            inside = [v for s, v in zip(starts, values, strict=True) if a <= s < a + slot]
            if len(inside) * step == slot:
                provider[i] = float(np.mean(inside))
        if continuation is None:
            carbon = np.where(np.isnan(provider), base.carbon_g_per_kwh, provider)
        else:
            history = np.asarray(scenario.series[site].carbon_g_per_kwh[:first], dtype=float)
            carbon = continue_forecast(provider, history, scenario.grid.slot, continuation,
                                       blend_hours)
        return dataclasses.replace(base, carbon_g_per_kwh=carbon)

    return forecast


def own_forecaster(method: str = "profile") -> Forecaster:
    """Our own forecaster (:mod:`greenslot.forecasts.forecaster`) on the signals before a night.

    Each signal of the site is forecast from its whole history up to the night (the profile
    uses the last four weeks of it, so give ``simulate`` that much history), at the slot's
    resolution. Why: most sites have no provider forecast, or lose it; this is what they plan
    on instead.
    """

    def forecast(scenario: Scenario, site: str, first: int, n: int) -> SiteSeries:
        actual = scenario.series[site]
        return SiteSeries(**{name: forecast_array(
            np.asarray(getattr(actual, name)[:first], dtype=float), n, method,
            scenario.grid.slot) for name in SIGNALS})

    return forecast


def window(scenario: Scenario, first: int, n: int, series: dict[str, SiteSeries],
           jobs: tuple[Job, ...]) -> Scenario:
    """``scenario`` cut to slots ``[first, first + n)`` with these signals and jobs."""
    grid = TimeGrid(scenario.grid.time_of(first), scenario.grid.slot, n)
    nodes = tuple(dataclasses.replace(node, unavailable_slots=frozenset(
        t - first for t in node.unavailable_slots if first <= t < first + n))
        for node in scenario.nodes)
    return scenario.replace(grid=grid, nodes=nodes, jobs=jobs, series=series)


@dataclass(frozen=True)
class Replay:
    """The runs of one policy over the replay as they happened, and their realised totals.

    ``scenario`` is the replay with each job's run set to what it ran (the schedule is valid
    on it); ``killed`` lists jobs Slurm killed at their time limit (their energy is counted,
    their work lost); ``missed_deadlines`` counts runs that ended after their deadline.
    """

    policy: str
    schedule: Schedule
    realised: dict[str, float]
    nights: int
    missed_deadlines: int = 0
    killed: tuple[str, ...] = ()
    scenario: Scenario | None = None


@dataclass(frozen=True)
class Simulation:
    """Realised totals of the forecast-driven plan, perfect foresight and fifo."""

    scenario: Scenario  # the replay period, on actual signals
    runs: tuple[Replay, ...]

    def run(self, policy: str) -> Replay:
        return next(r for r in self.runs if r.policy == policy)


def replay_scenario(scenario: Scenario, history_days: int = 1) -> Scenario:
    """The period after the history days, on the actual signals; releases clipped to it."""
    day = _slots_per_day(scenario.grid) * history_days
    if history_days < 1 or scenario.grid.n_slots <= day:
        raise ValueError(f"simulate needs more than {history_days} day(s): those are history")
    start = scenario.grid.time_of(day)
    jobs = tuple(dataclasses.replace(j, release=max(j.release, start)) for j in scenario.jobs)
    series = {site: oracle(scenario, site, day, scenario.grid.n_slots - day)
              for site in scenario.series}
    return window(scenario, day, scenario.grid.n_slots - day, series, jobs)


def _night_jobs(replay: Scenario, cluster: Cluster, believed: Mapping[str, int], first: int,
                queue_slots: int, n: int, missed: dict[str, str],
                limits: Mapping[str, int] | None = None) -> tuple[Job, ...]:
    """The jobs the planner sees at slot ``first``, in the scenario's order: those released
    in the next ``queue_slots`` (the queue as known then) and those still running.

    Jobs Slurm still runs (or holds, delayed behind a late job) are pinned where they run, for
    as long as the planner believes: their planned length from their real start, and when
    they are still running past it (it cannot know when a late job ends) at least one more
    slot, or, given ``limits`` (slots to each job's time limit), to their limit: the longest
    they can still run, so nothing is planned to wait behind them.
    """
    grid = replay.grid
    now, next_plan = grid.time_of(first), grid.time_of(first + queue_slots)
    jobs = []
    for job in replay.jobs:
        ran = cluster.ran.get(job.job_id)
        if ran is not None:
            a = ran.assignment
            if a.end_slot > first:  # still running, or held back: pinned as it runs
                end = a.start_slot + believed[job.job_id]
                if end <= first:  # running past its plan
                    end = max(a.start_slot + limits[job.job_id], first + 1) if limits \
                        else first + 1
                end = min(end, first + n)
                rt = cluster.mode(job, a).relative_throughput
                jobs.append(dataclasses.replace(
                    job, pinned_start=grid.time_of(a.start_slot), pinned_nodes=a.nodes,
                    power_limit_w=a.power_limit_w, depends_on=(),
                    reserve_h=(end - a.start_slot) * grid.slot_hours * rt,
                    release=min(job.release, grid.time_of(a.start_slot))))
            continue
        if job.job_id in missed or job.release >= next_plan:
            continue
        if job.deadline <= now:
            missed[job.job_id] = "its deadline passed before a night's plan could start it"
            continue
        killed = [d for d in job.depends_on if d in cluster.ran and cluster.ran[d].killed]
        if killed:
            missed[job.job_id] = f"depends on {killed[0]}, which was killed at its time limit"
            continue
        waits = [d for d in job.depends_on if d not in cluster.ran]
        lost = [d for d in waits if d in missed]
        if lost:
            missed[job.job_id] = dependency_not_placed(lost[0])
            continue
        if any(replay.job(d).release >= next_plan for d in waits):
            continue  # a dependency is not in tonight's queue yet
        deps = tuple(d for d in job.depends_on
                     if d not in cluster.ran or cluster.ran[d].assignment.end_slot > first)
        jobs.append(dataclasses.replace(job, release=max(job.release, now), depends_on=deps))
    return tuple(jobs)


def _slots(grid: TimeGrid, hours: float, name: str) -> int:
    slots = hours / grid.slot_hours
    if slots < 1 or abs(slots - round(slots)) > 1e-9:
        raise ValueError(f"{name} must be a whole number of slots, at least one")
    return round(slots)


def replay_policy(replay: Scenario, actual: Scenario, forecaster: Forecaster, policy: str,
                  solver: str = "greedy", options: SolveOptions | None = None,
                  plan_hours: float = 48.0, baseline: bool = False,
                  actual_h: Mapping[str, float] | None = None,
                  replan_hours: float = 24.0, replan_on_end: bool = False) -> Replay:
    """Run the re-planning loop of the module docstring with ``forecaster``.

    ``actual`` is the full scenario (history days included) the forecaster reads; ``replay``
    its period after them. The planner runs every ``replan_hours`` (24: nightly) and commits
    the runs it starts before its next run; Slurm runs them with the real run times
    ``actual_h`` (hours at the fastest mode, by job; default: each job's ``duration_h``), as
    :mod:`greenslot.analysis.execution` replays. With ``replan_on_end`` the planner also runs
    the moment a committed run is seen off its plan: at its real end when it ends early (its
    GPUs are free now), and at its planned end when it has not ended by then (what was planned
    behind it must move; it is then pinned to its time limit) and again at its real end. A
    plan commits only the runs it starts before the next such moment, so every plan uses only
    what was known when it was made. Why: with real run times a nightly plan leaves freed GPUs
    idle for hours, and every later start it committed was chosen on a cluster that no longer
    exists. A ``baseline`` solver (``best_window``) runs
    as it is, without the validator's fallback. Runs ending after their deadlines are counted
    in :attr:`Replay.missed_deadlines`, jobs killed at their limit in :attr:`Replay.killed`;
    every other rule must hold.
    """
    options = options or SolveOptions()
    grid = replay.grid
    day = _slots_per_day(grid)
    step = _slots(grid, replan_hours, "replan_hours")
    offset = actual.grid.n_slots - grid.n_slots  # the history days, in slots
    plan_slots = max(day, math.ceil(plan_hours / grid.slot_hours - 1e-9), step)
    cluster = Cluster(replay, actual_h or {})
    believed: dict[str, int] = {}
    limits: dict[str, int] = {}  # slots from a run's start to its time limit
    off_plan: set[int] = set()  # slots where a committed run is seen to be off its plan
    missed: dict[str, str] = {}
    reasons: dict[str, str] = {}
    nights = 0
    first = 0
    while first < grid.n_slots:
        regular = (first // step + 1) * step  # the next re-plan on the clock
        n = min(plan_slots, grid.n_slots - first)
        # the queue is tomorrow's, as the night before knew it, whenever the plan is made:
        # an intra-day re-plan has fresher signals, never a shorter view of the queue
        queue_until = max(regular, (first // day + 1) * day)
        jobs = _night_jobs(replay, cluster, believed, first, queue_until - first, n, missed,
                           limits if replan_on_end else None)
        if not any(not j.pinned for j in jobs):
            first = _next_plan(first, regular, off_plan, replan_on_end)
            continue
        series = {site: forecaster(actual, site, offset + first, n) for site in replay.series}
        night = window(replay, first, n, series, jobs)
        result = (with_explained_unplaced(night, get_solver(solver)(night, options))
                  if baseline else solve_checked(night, solver, options).result)
        nights += 1
        upto = _next_plan(first, regular, off_plan, replan_on_end)
        # by start when re-planning on ends, so a run that ends off plan stops later commits
        order = (sorted(result.schedule.assignments, key=lambda a: a.start_slot)
                 if replan_on_end else result.schedule.assignments)
        for a in order:
            if a.job_id in cluster.ran or a.start_slot + first >= upto:
                continue
            planned = dataclasses.replace(a, start_slot=a.start_slot + first,
                                          end_slot=a.end_slot + first)
            believed[a.job_id] = planned.end_slot - planned.start_slot
            ran = cluster.run(planned)
            if ran is None:
                killed = next(d for d in replay.job(a.job_id).depends_on
                              if cluster.ran.get(d) and cluster.ran[d].killed)
                missed[a.job_id] = f"depends on {killed}, which was killed at its time limit"
            else:
                limits[a.job_id] = cluster.limit_slots(planned)
                off_plan.update(_off_plan_slots(planned, ran.assignment))
                upto = _next_plan(first, regular, off_plan, replan_on_end)
        reasons.update({u.job_id: u.reason for u in result.schedule.unplaced})
        first = upto
    return _realised_replay(replay, cluster, policy, nights, reasons, missed)


def _off_plan_slots(planned: Assignment, ran: Assignment) -> tuple[int, ...]:
    """When a run is seen to be off its plan: it ends early (its real end), or it has not
    ended at its planned end (then, and again at its real end, when its GPUs come free)."""
    if ran.end_slot < planned.end_slot:
        return (ran.end_slot,)
    if ran.end_slot > planned.end_slot:
        return (planned.end_slot, ran.end_slot)
    return ()


def _next_plan(first: int, regular: int, off_plan: set[int], replan_on_end: bool) -> int:
    """The slot of the next re-plan after ``first``: the clock's, or an earlier off-plan end."""
    if not replan_on_end:
        return regular
    return min([regular, *(t for t in off_plan if first < t < regular)])


def _realised_replay(replay: Scenario, cluster: Cluster, policy: str, nights: int,
                     reasons: dict[str, str], missed: dict[str, str]) -> Replay:
    """The runs as they happened, validated and priced on the realised scenario."""
    grid = replay.grid
    beyond = {j for j, r in cluster.ran.items() if r.assignment.end_slot > grid.n_slots}
    for job_id in beyond:
        missed[job_id] = "ran past the end of the replay"
    runs = [r.assignment for j, r in cluster.ran.items() if j not in beyond]
    unplaced = tuple(Unplaced(j.job_id, missed.get(j.job_id) or reasons.get(
        j.job_id, "not placed by the last night it could start")) for j in replay.jobs
        if j.job_id not in cluster.ran or j.job_id in beyond)
    schedule = Schedule(tuple(runs), unplaced)
    realised = cluster.realised_scenario()
    late = missed_deadlines(realised, schedule)
    violations = [v for v in validate(realised, schedule)
                  if not (late and _only_late(realised, schedule, v))]
    if violations:
        raise InvalidScheduleError(violations)
    killed = tuple(sorted(j for j, r in cluster.ran.items() if r.killed and j not in beyond))
    return Replay(policy, schedule, account(realised, schedule).totals, nights, late, killed,
                  realised)


def _only_late(replay: Scenario, schedule: Schedule, violation) -> bool:
    """Whether ``violation`` is a run ending after its deadline (and inside the replay)."""
    if violation.kind != "window" or violation.job_id is None:
        return False
    a = schedule.by_job()[violation.job_id]
    job = replay.job(a.job_id)
    return (a.start_slot >= replay.grid.slot_at_or_after(job.release)
            and a.end_slot <= replay.grid.n_slots)


def with_actual_durations(replay: Scenario, actual_h: Mapping[str, float]) -> Scenario:
    """``replay`` as perfect foresight sees it: every job reserves, and may run, its real time."""
    jobs = tuple(dataclasses.replace(j, reserve_h=actual_h[j.job_id],
                                     duration_max_h=max(actual_h[j.job_id], j.duration_h),
                                     deadline_guard_h=0.0)
                 if j.job_id in actual_h else j for j in replay.jobs)
    return replay.replace(jobs=jobs)


def simulate(scenario: Scenario, forecaster: Forecaster, forecaster_name: str,
             solver: str = "greedy", options: SolveOptions | None = None,
             plan_hours: float = 48.0, history_days: int = 1,
             actual_h: Mapping[str, float] | None = None,
             replan_hours: float = 24.0, replan_on_end: bool = False) -> Simulation:
    """Replay ``scenario`` (forecast files = actual signals) with and without foresight.

    Policies: the plan on ``forecaster``, ``best_window`` on the same forecast, the plan with
    perfect foresight, and ``fifo``. The first ``history_days`` only feed the forecaster.
    ``actual_h`` gives the jobs' real run times [h at the fastest mode] (default: each runs
    its ``duration_h``): the plans reserve what the scenario says (its
    ``duration_quantile``), Slurm runs the real times, and perfect foresight knows both the
    signals and the real times. ``fifo`` runs the real times offline, never killed.
    ``replan_hours`` and ``replan_on_end`` (:func:`replay_policy`) apply to the plan on the
    forecast and to ``best_window``; perfect foresight re-plans on the clock only (it knows
    every end in advance, so an end never surprises it).
    """
    replay = replay_scenario(scenario, history_days)
    known = with_actual_durations(replay, actual_h or {j.job_id: j.duration_h
                                                       for j in replay.jobs})
    runs = [replay_policy(replay, scenario, forecaster, f"plan on {forecaster_name}", solver,
                          options, plan_hours, actual_h=actual_h, replan_hours=replan_hours,
                          replan_on_end=replan_on_end),
            replay_policy(replay, scenario, forecaster, f"best_window on {forecaster_name}",
                          "best_window", SolveOptions(), plan_hours, baseline=True,
                          actual_h=actual_h, replan_hours=replan_hours,
                          replan_on_end=replan_on_end),
            replay_policy(known, scenario, oracle, "perfect foresight", solver, options,
                          plan_hours, actual_h=actual_h, replan_hours=replan_hours)]
    fifo = solve_fifo(known, SolveOptions()).schedule
    runs.append(Replay("fifo", fifo, account(known, fifo).totals, 0,
                       missed_deadlines(known, fifo), (), known))
    return Simulation(replay, tuple(runs))


def kept_fraction(simulation: Simulation, policy: str, total: str = "carbon_kg") -> float:
    """Share of perfect foresight's saving over ``fifo`` that ``policy`` realised (nan if none)."""
    fifo = simulation.run("fifo").realised[total]
    best = simulation.run("perfect foresight").realised[total]
    if fifo - best <= 1e-9:
        return math.nan
    return (fifo - simulation.run(policy).realised[total]) / (fifo - best)


def comparable_to_fifo(simulation: Simulation, run: Replay) -> bool:
    """True when ``run`` placed exactly the jobs ``fifo`` placed.

    Why: a policy that leaves jobs out spends less carbon by doing less work; its "vs fifo"
    change would read as a saving it did not make.
    """
    placed = {a.job_id for a in run.schedule.assignments}
    return placed == {a.job_id for a in simulation.run("fifo").schedule.assignments}


def change_vs_fifo(simulation: Simulation, run: Replay) -> float | None:
    """Relative change of realised carbon against ``fifo``; None when not comparable."""
    fifo = simulation.run("fifo").realised["carbon_kg"]
    if not fifo or not comparable_to_fifo(simulation, run):
        return None
    return run.realised["carbon_kg"] / fifo - 1


def simulation_notes(simulation: Simulation) -> list[str]:
    """One line for each policy whose totals cover other jobs than ``fifo``'s."""
    fifo = len(simulation.run("fifo").schedule.assignments)
    return [f"{run.policy} placed {len(run.schedule.assignments)} jobs and fifo {fifo}: its "
            "totals cover other work, so no change vs fifo is shown (see its unplaced jobs)"
            for run in simulation.runs
            if run.policy != "fifo" and not comparable_to_fifo(simulation, run)]


def simulation_table(simulation: Simulation) -> str:
    """One row per policy: realised totals, jobs run, left out, late and killed, and the share
    of perfect foresight's carbon saving over fifo it kept.

    "vs fifo" is shown only for a policy that placed the same jobs as fifo (else ``n/a``, and
    :func:`simulation_notes` says why).
    """
    lines = [f"{'policy':28}{'carbon_kg':>12}{'vs fifo':>9}{'kept':>7}{'cost':>12}"
             f"{'energy_kwh':>12}{'placed':>8}{'unplaced':>10}{'late':>6}{'killed':>8}"
             f"{'nights':>8}"]
    for run in simulation.runs:
        change = change_vs_fifo(simulation, run)
        if not simulation.run("fifo").realised["carbon_kg"]:
            shown = "-"
        else:
            shown = "n/a" if change is None else f"{change:+.1%}"
        kept = kept_fraction(simulation, run.policy)
        kept_text = "-" if math.isnan(kept) else f"{kept:.2f}"
        lines.append(f"{run.policy:28}{run.realised['carbon_kg']:12.3f}{shown:>9}"
                     f"{kept_text:>7}{run.realised['cost']:12.3f}"
                     f"{run.realised['energy_kwh']:12.3f}"
                     f"{len(run.schedule.assignments):8d}{len(run.schedule.unplaced):10d}"
                     f"{run.missed_deadlines:6d}{len(run.killed):8d}{run.nights:8d}")
    return "\n".join(lines)


__all__ = ["Simulation", "change_vs_fifo", "comparable_to_fifo", "kept_fraction", "oracle",
           "own_forecaster", "persistence", "replay_policy", "sgip_forecaster", "simulate",
           "simulation_notes", "simulation_table", "with_actual_durations"]
