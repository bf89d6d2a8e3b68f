"""CAISO MOER weeks planned on the SGIP forecast continued past 3 h; print the kept fractions.

    python -m benchmarks.continuation_replays [--data ../shared/data] [--weeks ...] [--out t.md]

The SGIP provider forecasts MOER 3 h ahead; a 48 h nightly plan on it held the day-before
value beyond (``sgip_forecaster`` without continuation), so it equalled the persistence plan
almost to the gram. Here the same four README weeks of CAISO PG&E MOER 2020 (SGIP files,
``../shared/data/sgip-moer-caiso``; CC BY 4.0, read here, never shipped) are put on
30-minute means with 28 history days (19 in January: the files start on 2019-12-31), the
README's 84 jobs on 4 A40 nodes, and planned nightly (48 h, greedy) on: the day before
(``persistence``), our ``profile`` forecaster alone, SGIP then the day before, and SGIP
continued by ``profile`` blended over 6 h
(:mod:`greenslot.forecasts.continuation`). Every job runs its declared time. Cells: the kept
fraction (fifo - plan) / (fifo - perfect foresight) in realised kg CO2.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import pandas as pd

from benchmarks._table import finish_table
from benchmarks.simulate_replays import (
    HISTORY_DAYS,
    REPLAY_DAYS,
    WEEKS,
    _sgip_maker,
    make_lwa_replay,
)
from greenslot.analysis.simulate import (
    Forecaster,
    oracle,
    own_forecaster,
    persistence,
    replay_policy,
    replay_scenario,
    sgip_forecaster,
)
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.accounting import account
from greenslot.solvers.fifo import solve_fifo
from greenslot.solvers.types import SolveOptions


def sgip_moer(folder: Path) -> pd.Series:
    """CAISO PG&E MOER 2020 in g/kWh on 30-minute means (UTC), de-duplicated."""
    frame = pd.concat(pd.read_csv(p, usecols=["time", "moer"])
                      for p in sorted(folder.glob("SGIP_CAISO_PGE_2020-*.csv.gz")))
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    series = frame.drop_duplicates("time").set_index("time").sort_index()["moer"] * 1000.0
    return series.resample("30min").mean()


def kept_by_forecaster(folder: Path, forecasters: dict[str, Forecaster],
                       history_days: int) -> dict[str, float]:
    scenario = load_scenario(folder)
    replay = replay_scenario(scenario, history_days)
    best = replay_policy(replay, scenario, oracle, "perfect foresight").realised["carbon_kg"]
    fifo_schedule = solve_fifo(replay, SolveOptions()).schedule
    fifo = account(replay, fifo_schedule).totals["carbon_kg"]
    kept = {}
    for name, forecaster in forecasters.items():
        run = replay_policy(replay, scenario, forecaster, name)
        kept[name] = (fifo - run.realised["carbon_kg"]) / (fifo - best)
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2]
                        / "shared" / "data")
    parser.add_argument("--weeks", nargs="+", default=list(WEEKS))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    sgip = args.data / "sgip-moer-caiso"
    moer = sgip_moer(sgip)
    files = sorted(sgip.glob("SGIP_CAISO_PGE_2020-*.csv.gz"))
    forecasters = {"day before": persistence, "our profile": own_forecaster("profile"),
                   "SGIP, then day before": sgip_forecaster(files),
                   "SGIP, then profile blended": sgip_forecaster(files, "profile")}
    lines = ["| CAISO MOER, week from | " + " | ".join(forecasters) + " |",
             "|---|" + "---|" * len(forecasters)]
    kept: dict[str, list[float]] = {name: [] for name in forecasters}
    maker = _sgip_maker()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        for week in args.weeks:
            day_before = (pd.Timestamp(week) - pd.Timedelta(days=1)).date().isoformat()
            jobs_from = maker.main(sgip, day_before, REPLAY_DAYS, work)
            # The SGIP files start on 2019-12-31: January's week gets the history there is.
            history = min(HISTORY_DAYS, (pd.Timestamp(week, tz="UTC") - moer.index[0]).days)
            folder = make_lwa_replay(moer, "caiso", week, jobs_from, work, history)
            row = kept_by_forecaster(folder, forecasters, history)
            for name, value in row.items():
                kept[name].append(value)
            lines.append(f"| {week} | " + " | ".join(f"{row[n]:.2f}" for n in forecasters)
                         + " |")
            print(lines[-1], file=sys.stderr, flush=True)
    lines.append("| **median** | " + " | ".join(
        f"**{statistics.median(kept[n]):.2f}**" for n in forecasters) + " |")
    return finish_table(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
