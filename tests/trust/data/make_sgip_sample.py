"""Derive the SGIP sample scenario the evaluate tests use (run from the repository root).

    python tests/trust/data/make_sgip_sample.py /work/shared/data/sgip-moer-caiso 2020-06-02

writes ``tests/trust/data/sgip-<day>/`` (or ``<third argument>/sgip-<day>/``): a one-day,
one-site scenario planned on a *persistence* forecast (the previous day's measured MOER,
shifted by 24 h) and ``actual.csv``
with the day's measured MOER, both at the source's 5-minute resolution, in the contract's
forecast format (MOER kg/kWh x 1000 = g/kWh). The jobs are fixed below (a seeded draw), the
power curve is the repository's A40 curve. See README.md beside this script for the source
and its licence.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
PRICE_PER_MWH = 40.0  # SGIP carries no prices; a flat tariff keeps cost proportional to energy


def _moer(source: Path, day: pd.Timestamp) -> pd.Series:
    """Measured MOER [g/kWh] at 5-min steps for the UTC day ``day``."""
    frames = []
    for month in {day.month, (day - pd.Timedelta(days=1)).month}:
        path = source / f"SGIP_CAISO_PGE_{day.year}-{month:02d}.csv.gz"
        frames.append(pd.read_csv(path, usecols=["time", "moer"]))
    frame = pd.concat(frames)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    series = frame.drop_duplicates("time").set_index("time")["moer"].sort_index() * 1000.0
    return series[day:day + pd.Timedelta(hours=23, minutes=55)]


def _write_signal(path: Path, series: pd.Series, price: bool) -> None:
    out = pd.DataFrame({"time": [t.isoformat() for t in series.index],
                        "carbon_g_per_kwh": series.round(3).to_numpy()})
    if price:
        out["price_per_mwh"] = PRICE_PER_MWH
    out.to_csv(path, index=False, lineterminator="\n")


def _jobs(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(16):
        gpus = int(rng.choice([1, 2, 4, 8, 8, 16]))
        hours = float(rng.choice([1.0, 1.5, 2.0, 3.0, 4.0, 6.0]))
        release = int(rng.integers(0, 9))
        rows.append({"job_id": f"train-{i:02d}", "gpus": gpus, "duration_h": hours,
                     "release_h": release, "workload": str(rng.choice(["resnet50", "bert"]))})
    return pd.DataFrame(rows)


def main(source: Path, day_text: str, parent: Path = HERE) -> Path:
    day = pd.Timestamp(day_text, tz="UTC")
    folder = parent / f"sgip-{day.date()}"
    folder.mkdir(parents=True, exist_ok=True)
    actual = _moer(source, day)
    persisted = _moer(source, day - pd.Timedelta(days=1))
    persisted.index = persisted.index + pd.Timedelta(days=1)
    _write_signal(folder / "forecast.csv", persisted, price=True)
    _write_signal(folder / "actual.csv", actual, price=False)
    shutil.copy(REPO / "data" / "curves" / "a40.csv", folder / "a40.csv")
    jobs = _jobs(20200602)
    jobs["release"] = [(day + pd.Timedelta(hours=h)).isoformat() for h in jobs.pop("release_h")]
    jobs.to_csv(folder / "jobs.csv", index=False, lineterminator="\n")
    (folder / "scenario.yaml").write_text(f"""\
name: sgip-{day.date()}
start: "{day.isoformat()}"
horizon: 24h
slot: 15min
objective: carbon
sites:
  - name: caiso-pge
    pue: 1.2
    power_down_idle: true
    forecast: forecast.csv
gpu_types:
  - name: A40
    gpu_idle_w: 30
    power_curve: a40.csv
nodes:
  - names: a40-[01-04]
    site: caiso-pge
    gpu_type: A40
    gpus: 8
    idle_w: 400
jobs: jobs.csv
""")
    return folder


if __name__ == "__main__":
    print(main(Path(sys.argv[1]), sys.argv[2], *(Path(a) for a in sys.argv[3:4])))
