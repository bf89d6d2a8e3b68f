"""Replay weeks of real 2020 carbon with nightly re-planning; print the README's simulate table.

    python -m benchmarks.simulate_replays [--data ../shared/data] [--work DIR] [--out t.md]

Series (see ../shared/data/SOURCES.md for origin and licence; read here, never shipped):

- CAISO (PG&E) MOER 2020 from SGIP, planned on the provider's own 3 h forecast (then the day
  before), scenarios made by ``tests/trust/data/make_sgip_replay.py`` (one history day);
- GB and DE carbon intensity 2020 (lets-wait-awhile ``gb_ci.csv``, ``ger_ci.csv``; naive
  timestamps that are UTC; both put on 30-minute means), planned on our own ``profile``
  forecaster with 28 days of history before each week.

Every scenario carries the same 84 jobs of 1-16 GPUs released over 7 days, each due 36 h after
release, on 4 A40 nodes of 8 GPUs (the SGIP replay's seeded draw), and a flat price. Each week
is replayed with nightly 48 h greedy plans on the forecast, on the previous day's signal
(persistence), with ``best_window`` on the same forecast, with perfect foresight, and fifo.
Scenarios are written under ``--work`` (a temporary folder by default), never into the repo.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from benchmarks._table import finish_table
from greenslot.analysis.simulate import (
    Forecaster,
    own_forecaster,
    persistence,
    sgip_forecaster,
    simulate,
)
from greenslot.forecasts.scenario_loading import load_scenario

REPO = Path(__file__).resolve().parents[1]
WEEKS = ("2020-01-20", "2020-04-06", "2020-07-06", "2020-10-05")
HISTORY_DAYS = 28
REPLAY_DAYS = 8  # 7 days of releases and one tail day, as in the SGIP replay


def _sgip_maker():
    """``make_sgip_replay`` from the tests' data folder (a script, not a package)."""
    path = REPO / "tests" / "trust" / "data" / "make_sgip_replay.py"
    spec = importlib.util.spec_from_file_location("make_sgip_replay", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lets_wait_awhile(path: Path) -> pd.Series:
    """A lets-wait-awhile series on 30-minute means, UTC (its naive times are UTC)."""
    frame = pd.read_csv(path)
    index = pd.to_datetime(frame["Time"]).dt.tz_localize("UTC")
    series = pd.Series(frame["Carbon Intensity"].to_numpy(float), index=index)
    return series.resample("30min").mean()


def make_lwa_replay(series: pd.Series, name: str, week: str, sgip_folder: Path,
                    parent: Path, history_days: int = HISTORY_DAYS) -> Path:
    """A replay scenario: ``history_days`` of history, then the SGIP replay's jobs and nodes.

    The jobs (absolute release times inside the week), nodes and curve are the SGIP replay's
    for the same week, so every series plans the same work.
    """
    first = pd.Timestamp(week, tz="UTC") - pd.Timedelta(days=history_days)
    end = pd.Timestamp(week, tz="UTC") + pd.Timedelta(days=REPLAY_DAYS)
    rows = series[first:end - pd.Timedelta(minutes=30)]
    expected = pd.date_range(first, end, freq="30min", inclusive="left")
    if len(rows) != len(expected) or rows.isna().any():
        raise ValueError(f"{name} has gaps between {first} and {end}")
    folder = parent / f"{name}-replay-{week}"
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"time": [t.isoformat() for t in rows.index],
                  "carbon_g_per_kwh": rows.round(3).to_numpy(),
                  "price_per_mwh": 40.0}).to_csv(folder / "actual.csv", index=False,
                                                 lineterminator="\n")
    (folder / "a40.csv").write_bytes((sgip_folder / "a40.csv").read_bytes())
    (folder / "jobs.csv").write_bytes((sgip_folder / "jobs.csv").read_bytes())
    config = yaml.safe_load((sgip_folder / "scenario.yaml").read_text())
    config.update(name=folder.name, start=first.isoformat(), slot="30min",
                  horizon=f"{(REPLAY_DAYS + history_days) * 24}h")
    config["sites"][0]["name"] = name
    for node in config["nodes"]:
        node["site"] = name
    (folder / "scenario.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def _run(folder: Path, forecasters: dict[str, Forecaster], history_days: int) -> dict:
    """Realised carbon of each policy (the first forecaster's runs, then persistence's plan)."""
    scenario = load_scenario(folder)
    (main_name, main_forecaster), = list(forecasters.items())[:1]
    result = simulate(scenario, main_forecaster, main_name, history_days=history_days)
    row = {run.policy: (run.realised["carbon_kg"], len(run.schedule.unplaced),
                        run.missed_deadlines) for run in result.runs}
    if main_name != "persistence":
        blind = simulate(scenario, persistence, "persistence", history_days=history_days)
        row["plan on persistence"] = next(
            (r.realised["carbon_kg"], len(r.schedule.unplaced), r.missed_deadlines)
            for r in blind.runs if r.policy == "plan on persistence")
    return row


def _cell(value: tuple[float, int, int], fifo: float) -> str:
    kg, unplaced, late = value
    notes = "".join([f", {unplaced} unplaced" if unplaced else "",
                     f", {late} late" if late else ""])
    return f"{kg:.1f} ({kg / fifo - 1:+.1%}{notes})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=None,
                        help="where to write the scenarios (default: a temporary folder)")
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    maker = _sgip_maker()
    lines = ["| series, week from | forecast | plan on forecast | plan on persistence | "
             "best_window on forecast | perfect foresight | fifo |",
             "|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        lwa = {"GB": lets_wait_awhile(args.data / "lets-wait-awhile" / "gb_ci.csv"),
               "DE": lets_wait_awhile(args.data / "lets-wait-awhile" / "ger_ci.csv")}
        for week in WEEKS:
            day_before = (pd.Timestamp(week) - pd.Timedelta(days=1)).date().isoformat()
            sgip_folder = maker.main(args.data / "sgip-moer-caiso", day_before, REPLAY_DAYS,
                                     work)
            months = sorted({week[:7], day_before[:7]})
            files = [args.data / "sgip-moer-caiso" / f"SGIP_CAISO_PGE_{m}.csv.gz"
                     for m in months]
            cases = [("CAISO MOER", sgip_folder, "SGIP provider",
                      {"sgip": sgip_forecaster(files)}, 1)]
            cases += [(f"{name} carbon", make_lwa_replay(series, name.lower(), week,
                                                         sgip_folder, work),
                       "our profile", {"profile": own_forecaster("profile")}, HISTORY_DAYS)
                      for name, series in lwa.items()]
            for label, folder, forecast_label, forecasters, history in cases:
                row = _run(folder, forecasters, history)
                name = next(iter(forecasters))
                fifo = row["fifo"][0]
                lines.append(
                    f"| {label}, {week} | {forecast_label} | "
                    f"{_cell(row[f'plan on {name}'], fifo)} | "
                    f"{_cell(row['plan on persistence'], fifo)} | "
                    f"{_cell(row[f'best_window on {name}'], fifo)} | "
                    f"{_cell(row['perfect foresight'], fifo)} | {fifo:.1f} |")
                print(lines[-1], file=sys.stderr, flush=True)
    return finish_table(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
