"""Replay the README's weeks with real run-time noise; print the duration-policy table.

    python -m benchmarks.duration_replays [--data ../shared/data] [--weeks 2020-01-20 ...]
                                          [--seeds 0] [--continuation] [--out table.md]
                                          [--policies KEY ...] [--series CAISO GB DE]
                                          [--solver greedy|auto|milp] [--time-limit S]

The weeks, series, jobs and forecasts are those of :mod:`benchmarks.simulate_replays`
(CAISO MOER on the SGIP provider's forecast, GB and DE carbon on our ``profile``
forecaster; 84 jobs on 4 A40 nodes; nightly 48 h greedy plans). What is added is that jobs do
not run their declared ``duration_h``:

- real run times are drawn per job from the Zeus NSDI '23 seeded runs
  (``data/run_times/zeus_epochs_to_target.csv``: epochs-to-target of the same configuration
  across seeds, 0.75-1.75 x the median): its workload's runs are split at random in two
  halves, one *history* the planner may learn from (``duration_history``), the other the
  runs the replay draws from, so nothing is learnt from the very runs it is scored on;
- policies: ``fixed 10 %`` (no upper estimate: ``--time`` = planned + max(10 min, 10 %),
  as before), ``learnt, q=0.5`` (upper estimate and quantile from the history, reserve the
  median, deadlines on the reserved run), ``guard`` (``duration_deadline: upper``: the
  upper estimate must meet the deadline), ``guard 0.9`` (``duration_deadline: 0.9``: the
  run at the 0.9 quantile must), ``q=0.9`` (reserve the 0.9 quantile), ``6 h`` / ``3 h``
  (re-plan every 6 or 3 h instead of nightly), ``on end`` (also re-plan the moment a run is
  seen off its plan: ``replay_policy(..., replan_on_end=True)``); the ``exact*`` columns
  replay exact run times, nightly or every 6 or 3 h;
- kept = (fifo - policy) / (fifo - perfect foresight) in realised kg CO2, where perfect
  foresight knew the actual signals and the real run times, and fifo ran the real times;
  ``killed in range`` counts jobs killed at their limit although they ran within the upper
  estimate they had (the promise is zero), ``late`` runs that ended after their deadline
  (perfect foresight's total is printed below the table).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from benchmarks.continuation_replays import sgip_moer
from benchmarks.simulate_replays import (
    HISTORY_DAYS,
    REPLAY_DAYS,
    WEEKS,
    _sgip_maker,
    lets_wait_awhile,
    make_lwa_replay,
)
from greenslot.analysis.actual_durations import draw_actual_hours
from greenslot.analysis.simulate import (
    Forecaster,
    Replay,
    oracle,
    own_forecaster,
    replay_policy,
    replay_scenario,
    sgip_forecaster,
    with_actual_durations,
)
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.accounting import account
from greenslot.model.loader import load_duration_history
from greenslot.model.scenario import Scenario
from greenslot.solvers.fifo import solve_fifo
from greenslot.solvers.queue import missed_deadlines
from greenslot.solvers.types import SolveOptions

ZEUS = Path(str(resources.files("greenslot.data") / "run_times" / "zeus_epochs_to_target.csv"))


@dataclass(frozen=True)
class Policy:
    """How a column plans: the reserved quantile and deadline guard (None: as declared, no
    history), how often it re-plans [h], and whether it also re-plans when a run ends off
    plan."""

    key: str
    name: str
    quantile: float | None
    deadline: str | float
    replan_h: float = 24.0
    on_end: bool = False


EXACT = (Policy("exact", "nightly", None, ""),
         Policy("exact-6h", "6 h", None, "", 6.0),
         Policy("exact-3h", "3 h", None, "", 3.0))
NOISE = (Policy("fixed", "fixed 10 %", None, ""),
         Policy("q50", "learnt, q=0.5", 0.5, "reserved"),
         Policy("guard", "learnt, q=0.5, guard", 0.5, "upper"),
         Policy("guard90", "learnt, q=0.5, guard 0.9", 0.5, 0.9),
         Policy("q90", "learnt, q=0.9, guard", 0.9, "upper"),
         Policy("guard-6h", "learnt, q=0.5, guard, 6 h", 0.5, "upper", 6.0),
         Policy("guard-end", "guard, nightly + on end", 0.5, "upper", 24.0, True),
         Policy("limit-end", "guard to the limit, nightly + on end", 0.5, "limit", 24.0,
                True),
         Policy("guard-6h-end", "guard, 6 h + on end", 0.5, "upper", 6.0, True),
         Policy("guard90-end", "guard 0.9, nightly + on end", 0.5, 0.9, 24.0, True),
         Policy("guard-3h-end", "guard, 3 h + on end", 0.5, "upper", 3.0, True),
         Policy("q50-end", "learnt, q=0.5, nightly + on end", 0.5, "reserved", 24.0, True),
         Policy("q50-6h-end", "learnt, q=0.5, 6 h + on end", 0.5, "reserved", 6.0, True))
POLICIES = EXACT + NOISE


@dataclass(frozen=True)
class Outcome:
    kept: float
    killed: int
    killed_in_range: int
    late: int
    unplaced: int


def split_history(path: Path, seed: int, folder: Path) -> tuple[Path, Path]:
    """Each workload's runs split at random into a learnt half and a drawn half."""
    frame = pd.read_csv(path)
    rng = np.random.default_rng(seed)
    learnt, drawn = [], []
    for _, rows in frame.groupby("workload", sort=True):
        order = rng.permutation(len(rows))
        half = len(rows) // 2
        learnt.append(rows.iloc[order[:half]])
        drawn.append(rows.iloc[order[half:]])
    paths = folder / "history-learnt.csv", folder / "history-drawn.csv"
    for part, target in zip((learnt, drawn), paths, strict=True):
        pd.concat(part).to_csv(target, index=False, lineterminator="\n")
    return paths


def with_keys(folder: Path, **keys) -> Path:
    """A copy of the scenario YAML beside the original with extra top-level keys."""
    config = yaml.safe_load((folder / "scenario.yaml").read_text())
    config.update(keys)
    name = "-".join(f"{k}-{v}" for k, v in keys.items()).replace("/", "_")
    target = folder / f"scenario-{name}.yaml"
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    return target


def _fifo_carbon(known: Scenario) -> tuple[float, int]:
    fifo = solve_fifo(known, SolveOptions()).schedule
    return account(known, fifo).totals["carbon_kg"], missed_deadlines(known, fifo)


def _kept(run: Replay, fifo: float, best: float) -> float:
    return (fifo - run.realised["carbon_kg"]) / (fifo - best)


def replay_case(folder: Path, forecaster: Forecaster, history_days: int,
                actual_h: Mapping[str, float] | None, learnt: Path,
                policies: tuple[Policy, ...], solver: str = "greedy",
                options: SolveOptions | None = None) -> dict:
    """Kept fraction, killed and late of every policy on one week, and foresight's late;
    every plan, perfect foresight's included, made by ``solver`` with ``options``."""
    plain = load_scenario(folder)
    replay = replay_scenario(plain, history_days)
    actual = actual_h or {j.job_id: j.duration_h for j in replay.jobs}
    known = with_actual_durations(replay, actual)
    best = replay_policy(known, plain, oracle, "perfect foresight", solver, options,
                         actual_h=actual)
    fifo, _ = _fifo_carbon(known)
    _print_unplaced(best)
    row: dict = {"foresight late": best.missed_deadlines}
    for policy in policies:
        scenario = plain if policy.quantile is None else load_scenario(with_keys(
            folder, duration_history=str(learnt), duration_quantile=policy.quantile,
            duration_deadline=policy.deadline))
        planning = replay_scenario(scenario, history_days)
        run = replay_policy(planning, scenario, forecaster, policy.name, solver, options,
                            actual_h=actual,
                            replan_hours=policy.replan_h, replan_on_end=policy.on_end)
        in_range = sum(1 for j in run.killed
                       if (planning.job(j).duration_max_h or 0) >= actual[j] - 1e-9)
        row[policy.key] = Outcome(_kept(run, fifo, best.realised["carbon_kg"]),
                                  len(run.killed), in_range, run.missed_deadlines,
                                  len(run.schedule.unplaced))
        _print_unplaced(run)
    return row


def _print_unplaced(run: Replay) -> None:
    """Why a cell says "unplaced": each job left out and its reason, on stderr."""
    for unplaced in run.schedule.unplaced:
        print(f"  {run.policy}: {unplaced.job_id} unplaced: {unplaced.reason}",
              file=sys.stderr, flush=True)


def _cases(data: Path, work: Path, weeks: tuple[str, ...], continuation: bool):
    maker = _sgip_maker()
    lwa = {"GB": lets_wait_awhile(data / "lets-wait-awhile" / "gb_ci.csv"),
           "DE": lets_wait_awhile(data / "lets-wait-awhile" / "ger_ci.csv")}
    sgip = data / "sgip-moer-caiso"
    moer = sgip_moer(sgip) if continuation else None
    for week in weeks:
        day_before = (pd.Timestamp(week) - pd.Timedelta(days=1)).date().isoformat()
        sgip_folder = maker.main(sgip, day_before, REPLAY_DAYS, work)
        if moer is not None:
            # 30-minute MOER with up to 28 history days, SGIP continued by our profile.
            history = min(HISTORY_DAYS, (pd.Timestamp(week, tz="UTC") - moer.index[0]).days)
            files = sorted(sgip.glob("SGIP_CAISO_PGE_2020-*.csv.gz"))
            yield (f"CAISO MOER, {week}", make_lwa_replay(moer, "caiso", week, sgip_folder,
                                                          work, history),
                   sgip_forecaster(files, "profile"), history)
        else:
            months = sorted({week[:7], day_before[:7]})
            files = [sgip / f"SGIP_CAISO_PGE_{m}.csv.gz" for m in months]
            yield f"CAISO MOER, {week}", sgip_folder, sgip_forecaster(files), 1
        for name, series in lwa.items():
            yield (f"{name} carbon, {week}",
                   make_lwa_replay(series, name.lower(), week, sgip_folder, work),
                   own_forecaster("profile"), HISTORY_DAYS)


def _cell(outcome: Outcome) -> str:
    notes = [f"{outcome.killed} killed"] if outcome.killed else []
    if outcome.killed_in_range:
        notes.append(f"{outcome.killed_in_range} in range")
    if outcome.late:
        notes.append(f"{outcome.late} late")
    if outcome.unplaced:
        notes.append(f"{outcome.unplaced} unplaced")
    return f"{outcome.kept:.2f}" + (f" ({', '.join(notes)})" if notes else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2]
                        / "shared" / "data")
    parser.add_argument("--weeks", nargs="+", default=list(WEEKS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="seeds of the history split and the draw (one table row each)")
    parser.add_argument("--continuation", action="store_true",
                        help="CAISO at 30 min with 28 history days, planned on SGIP continued "
                             "by our profile (else: the README's 15-min SGIP replay, SGIP then "
                             "the day before)")
    parser.add_argument("--policies", nargs="+", choices=[p.key for p in POLICIES],
                        default=[p.key for p in POLICIES],
                        help="columns to replay (default all): exact* on exact durations, "
                             "the others on drawn run times")
    parser.add_argument("--series", nargs="+", choices=("CAISO", "GB", "DE"),
                        default=["CAISO", "GB", "DE"])
    parser.add_argument("--solver", default="greedy", choices=("greedy", "auto", "milp"),
                        help="solver of every plan, perfect foresight's included")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="seconds for each plan (default: none)")
    parser.add_argument("--out", type=Path, help="also write the table here, and the "
                        "unrounded kept fractions beside it (.json), to pool runs")
    args = parser.parse_args(argv)
    chosen = [p for p in POLICIES if p.key in args.policies]
    options = SolveOptions(time_limit_s=args.time_limit)
    exact = tuple(p for p in chosen if p in EXACT)
    noise = tuple(p for p in chosen if p in NOISE)
    lines = ["| series, week from | seed | " + " | ".join(
        f"{'exact' if p in EXACT else 'noise'}: {p.name}" for p in chosen) + " |",
             "|---|---|" + "---|" * len(chosen)]
    kept: dict[str, list[float]] = {p.key: [] for p in chosen}
    totals = {p.key: [0, 0, 0] for p in chosen}  # killed, killed in range, late
    foresight_late = [0, 0]  # exact, noise
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        for label, folder, forecaster, history in _cases(args.data, work, tuple(args.weeks),
                                                          args.continuation):
            if label.split()[0] not in args.series:
                continue
            for seed in args.seeds:
                learnt, drawn = split_history(ZEUS, seed, folder)
                plain = load_scenario(folder)
                actual_h = draw_actual_hours(plain, load_duration_history(drawn), seed)
                row: dict = {}
                if exact:
                    row.update(replay_case(folder, forecaster, history, None, learnt, exact,
                                           args.solver, options))
                    foresight_late[0] += row.pop("foresight late")
                if noise:
                    row.update(replay_case(folder, forecaster, history, actual_h, learnt,
                                           noise, args.solver, options))
                    foresight_late[1] += row.pop("foresight late")
                for key, outcome in row.items():
                    kept[key].append(outcome.kept)
                    totals[key][0] += outcome.killed
                    totals[key][1] += outcome.killed_in_range
                    totals[key][2] += outcome.late
                lines.append(f"| {label} | {seed} | " + " | ".join(
                    _cell(row[p.key]) for p in chosen) + " |")
                print(lines[-1], file=sys.stderr, flush=True)
    lines.append("| **median kept** (min-max) | | " + " | ".join(
        f"**{statistics.median(kept[p.key]):.2f}** ({min(kept[p.key]):.2f}-"
        f"{max(kept[p.key]):.2f})" for p in chosen) + " |")
    lines.append("| killed / killed in range / late, all weeks | | " + " | ".join(
        "{} / {} / {}".format(*totals[p.key]) for p in chosen) + " |")
    table = "\n".join(lines)
    print(table)
    print(f"perfect foresight late, all weeks: exact {foresight_late[0]}, "
          f"noise {foresight_late[1]}")
    if args.out:
        args.out.write_text(table + "\n")
        args.out.with_suffix(".json").write_text(json.dumps(kept, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
