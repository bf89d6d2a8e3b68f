"""Derive a multi-day SGIP replay scenario for ``greenslot simulate`` (run from the repo root).

    python tests/trust/data/make_sgip_replay.py /work/shared/data/sgip-moer-caiso \
        2020-06-01 4 [OUT]

writes ``OUT/sgip-replay-<first day>-<days>d/`` (``OUT`` defaults to this folder): the
scenario's forecast file ``actual.csv`` is the measured MOER (x 1000, g/kWh) at 5-minute steps
over ``days`` days plus one tail day, with a flat price (SGIP has none). The first day is
history for the forecaster. ``provider.csv`` keeps the SGIP rows (``time, moer, f1..f36``)
issued at each midnight, which is all ``--forecaster sgip`` reads for nightly plans. Jobs are
a seeded draw of 12 a day released over days 2..days, each due within 36 h of release. See
README.md beside this script for the source and its licence.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
PRICE_PER_MWH = 40.0


def _rows(source: Path, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    months = sorted({(d.year, d.month) for d in pd.date_range(first, last, freq="D")})
    frame = pd.concat(pd.read_csv(source / f"SGIP_CAISO_PGE_{y}-{m:02d}.csv.gz")
                      for y, m in months)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame = frame.drop_duplicates("time").set_index("time").sort_index()
    return frame[first:last - pd.Timedelta(minutes=5)]


def main(source: Path, first_text: str, days: int, parent: Path = HERE) -> Path:
    first = pd.Timestamp(first_text, tz="UTC")
    end = first + pd.Timedelta(days=days + 1)
    folder = parent / f"sgip-replay-{first.date()}-{days}d"
    folder.mkdir(parents=True, exist_ok=True)
    rows = _rows(source, first, end)
    actual = pd.DataFrame({"time": [t.isoformat() for t in rows.index],
                           "carbon_g_per_kwh": (rows["moer"] * 1000).round(3).to_numpy(),
                           "price_per_mwh": PRICE_PER_MWH})
    actual.to_csv(folder / "actual.csv", index=False, lineterminator="\n")
    midnights = rows[rows.index.strftime("%H:%M") == "00:00"]
    midnights.reset_index().assign(time=lambda f: f["time"].map(pd.Timestamp.isoformat)).to_csv(
        folder / "provider.csv", index=False, lineterminator="\n", float_format="%.6g")
    shutil.copy(REPO / "data" / "curves" / "a40.csv", folder / "a40.csv")
    rng = np.random.default_rng(20200601 + days)
    jobs = []
    for d in range(1, days):
        for i in range(12):
            release = first + pd.Timedelta(days=d, hours=int(rng.integers(0, 20)))
            hours = float(rng.choice([1.0, 2.0, 3.0, 4.0, 6.0]))
            jobs.append({"job_id": f"d{d}-{i:02d}", "gpus": int(rng.choice([1, 2, 4, 8, 16])),
                         "duration_h": hours, "workload": str(rng.choice(["resnet50", "bert"])),
                         "release": release.isoformat(),
                         "deadline": (release + pd.Timedelta(hours=36)).isoformat()})
    pd.DataFrame(jobs).to_csv(folder / "jobs.csv", index=False, lineterminator="\n")
    (folder / "scenario.yaml").write_text(f"""\
name: sgip-replay-{first.date()}-{days}d
start: "{first.isoformat()}"
horizon: {(days + 1) * 24}h
slot: 15min
objective: carbon
sites:
  - name: caiso-pge
    pue: 1.2
    power_down_idle: true
    forecast: actual.csv
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
    print(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
               *(Path(a) for a in sys.argv[4:5])))
