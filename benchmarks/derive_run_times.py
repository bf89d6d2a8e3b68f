"""Derive ``data/run_times/zeus_epochs_to_target.csv``: real run-time spread of ML training.

    python -m benchmarks.derive_run_times [--data ../shared/data]

Zeus (NSDI '23, Apache-2.0) trained each configuration (dataset, network, batch size,
optimizer, learning rate) with several seeds and recorded the epoch at which each run reached
the target metric (``summary_train.csv``). How many epochs a run needs is exactly what a user
cannot know in advance: the same configuration takes 0.75 to 1.75 times its median. Each row
written here is one such run: ``duration_h`` is what a user would declare (the
configuration's median epochs times its epoch time), ``actual_h`` what the run took (its own
epochs times the same epoch time). Epoch time: the V100 at its highest power limit for that
batch size (``summary_power_v100.csv``), else the network's median epoch time on it.
Configurations with fewer than 4 runs reaching the target are left out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "data" / "run_times" / "zeus_epochs_to_target.csv"
# The Zeus paper's target metric per dataset, and the workload name data/curves uses.
TARGETS = {("cifar100", "shufflenetv2"): (0.60, "shufflenetv2"),
           ("imagenet", "resnet50"): (0.65, "resnet50"),
           ("librispeech", "deepspeech2"): (40.0, "deepspeech2"),
           ("movielens-1m", "ncf"): (0.41, "ncf"),
           ("sentiment140", "bert_base_uncased"): (0.84, "bert-sentiment140"),
           ("squad", "bert_base_uncased"): (84.0, "bert")}
CONFIG = ["dataset", "network", "batch_size", "optimizer", "learning_rate"]
MIN_RUNS = 4


def derive(data: Path) -> pd.DataFrame:
    """One row per Zeus run that reached its target: workload, duration_h, actual_h."""
    runs = pd.read_csv(data / "zeus-traces" / "summary_train.csv").dropna(
        subset=["target_epoch"])
    target = [TARGETS.get((d, n), (None, None))[0] for d, n in zip(
        runs["dataset"], runs["network"], strict=True)]
    runs = runs[[t is not None and abs(m - t) < 1e-9 for t, m in zip(
        target, runs["target_metric"], strict=True)]]
    epochs = runs.groupby(CONFIG)["target_epoch"]
    runs = runs[epochs.transform("size") >= MIN_RUNS].copy()
    runs["median_epochs"] = runs.groupby(CONFIG)["target_epoch"].transform("median")
    power = pd.read_csv(data / "zeus-traces" / "summary_power_v100.csv")
    fastest = power.sort_values("power_limit").groupby(["network", "batch_size"]).last()
    per_network = power.groupby("network")["time_per_epoch"].median()
    seconds = [fastest["time_per_epoch"].get((n, b), per_network.get(n)) for n, b in zip(
        runs["network"], runs["batch_size"], strict=True)]
    runs["epoch_h"] = pd.Series(seconds, index=runs.index, dtype=float) / 3600.0
    runs = runs.dropna(subset=["epoch_h"])
    out = pd.DataFrame({
        "workload": [TARGETS[(d, n)][1] for d, n in zip(runs["dataset"], runs["network"],
                                                          strict=True)],
        "duration_h": (runs["median_epochs"] * runs["epoch_h"]).round(4),
        "actual_h": (runs["target_epoch"] * runs["epoch_h"]).round(4),
    })
    return out.sort_values(["workload", "duration_h", "actual_h"]).reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args(argv)
    frame = derive(args.data)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(OUT, index=False, lineterminator="\n")
    ratio = frame["actual_h"] / frame["duration_h"]
    print(f"{len(frame)} runs -> {OUT.relative_to(REPO)}; actual/declared: "
          f"min {ratio.min():.2f}, median {ratio.median():.2f}, p90 {ratio.quantile(0.9):.2f}, "
          f"p99 {ratio.quantile(0.99):.2f}, max {ratio.max():.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
