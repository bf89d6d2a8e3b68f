"""Contract curves from the Zeus power traces (``summary_power_<gpu>.csv``).

Zeus (You, Chung, Chowdhury, NSDI '23; github.com/ml-energy/zeus, Apache-2.0) measured, for
each (dataset, network, optimizer, batch size, power limit), the time of one training epoch
[s] and the GPU's mean board power [W] from NVML. One epoch is a fixed amount of work, so the
relative throughput of a limit is the fastest epoch time of that workload divided by its own.

One curve workload per (dataset, network, optimizer): a curve row has no batch-size column,
and the planner needs one throughput per power limit. Zeus's own pairs keep the names
``data/curves`` uses (``resnet50``, ``bert``, ``deepspeech2``, ``shufflenetv2``, ``ncf``);
another optimizer appends ``-<optimizer>``, another pair is ``<network>-<dataset>``. The
batch size is, unless the user picks one, the one Zeus itself trains with by default (``b0``
of ``get_job_with_defaults`` in ``zeus_nsdi23/run_alibaba.py``) capped at the largest batch
size measured on that GPU, as Zeus caps it; a (dataset, network) Zeus gives no default for
takes its largest measured batch size.
This is the rule ``data/curves`` were built with (``examples/build_nightly.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from greenslot.power.curves.table import CurveError, CurveRow, normalised

ZEUS_COLUMNS = ("dataset", "network", "batch_size", "optimizer", "power_limit",
                "time_per_epoch", "average_power")


@dataclass(frozen=True)
class ZeusWorkload:
    """How a Zeus (dataset, network) pair is named in a curve and its default batch size."""

    name: str
    optimizer: str | None
    default_batch: int | None


# Names as data/curves uses them; optimizers and batch sizes from Zeus's run_alibaba.py.
KNOWN = {
    ("imagenet", "resnet50"): ZeusWorkload("resnet50", "adadelta", 256),
    ("squad", "bert_base_uncased"): ZeusWorkload("bert", "adamw", 32),
    ("librispeech", "deepspeech2"): ZeusWorkload("deepspeech2", "adamw", 256),
    ("cifar100", "shufflenetv2"): ZeusWorkload("shufflenetv2", "adadelta", 1024),
    ("movielens-1m", "ncf"): ZeusWorkload("ncf", "adam", 1024),
}


@dataclass(frozen=True)
class ZeusImport:
    """The imported rows and, per workload, where they came from (for notes and READMEs).

    ``sources`` maps a workload name to ``(dataset, network, optimizer, batch_size, modes)``;
    ``skipped`` lists ``"dataset/network: reason"`` for workloads left out.
    """

    rows: list[CurveRow]
    sources: dict[str, tuple[str, str, str, int, int]]
    skipped: list[str]


def read_zeus_summary(path: Path) -> pd.DataFrame:
    """Read and check one ``summary_power_<gpu>.csv``; errors name the file and row."""
    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise CurveError(f"{path}: file not found") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise CurveError(f"{path}: cannot read as CSV: {exc}") from None
    missing = [c for c in ZEUS_COLUMNS if c not in frame.columns]
    if missing:
        raise CurveError(f"{path}: not a Zeus power summary, missing column {missing[0]!r} "
                         f"(expected {', '.join(ZEUS_COLUMNS)})")
    for column in ("batch_size", "power_limit", "time_per_epoch", "average_power"):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() | ~(values > 0)
        if bad.any():
            line = int(bad.to_numpy().nonzero()[0][0]) + 2
            raise CurveError(f"{path}, line {line}, field {column!r}: expected a number > 0, "
                             f"got {frame[column].iloc[line - 2]!r}")
        frame[column] = values
    return frame


def _workload(dataset: str, network: str, optimizer: str) -> ZeusWorkload:
    known = KNOWN.get((dataset, network))
    if known is None:
        return ZeusWorkload(f"{network}-{dataset}", optimizer, None)
    if known.optimizer == optimizer:
        return known
    return ZeusWorkload(f"{known.name}-{optimizer}", optimizer, known.default_batch)


def import_zeus(path: Path, batch_size: int | None = None) -> ZeusImport:
    """One workload per (dataset, network, optimizer) of a Zeus summary, all limits kept.

    Parameters
    ----------
    path
        A Zeus ``summary_power_<gpu>.csv``.
    batch_size
        Use this batch size for every workload instead of Zeus's default; workloads not
        measured at it are skipped (listed in ``skipped``).

    ``power_w`` is Zeus's ``average_power`` (rounded to 0.01 W) and ``relative_throughput``
    the fastest ``time_per_epoch`` of the workload at that batch size over the row's own.
    """
    frame = read_zeus_summary(path)
    rows: list[CurveRow] = []
    sources: dict[str, tuple[str, str, str, int, int]] = {}
    skipped: list[str] = []
    groups = frame.groupby(["dataset", "network", "optimizer"], sort=False)
    for (dataset, network, optimizer), pair in groups:
        known = _workload(str(dataset), str(network), str(optimizer))
        measured = sorted(int(b) for b in pair["batch_size"].unique())
        if batch_size is not None:
            if batch_size not in measured:
                skipped.append(f"{dataset}/{network}/{optimizer}: batch size {batch_size} not "
                               f"measured (measured: {', '.join(map(str, measured))})")
                continue
            batch = batch_size
        elif known.default_batch is None:
            batch = measured[-1]
        else:
            # Zeus caps b0 at the largest batch size profiled for the dataset on this GPU.
            batch = min(known.default_batch, measured[-1])
            if batch not in measured:
                skipped.append(f"{dataset}/{network}/{optimizer}: default batch size {batch} "
                               f"not measured")
                continue
        chosen = pair[pair["batch_size"] == batch]
        duplicated = chosen["power_limit"].duplicated()
        if duplicated.any():
            limit = chosen["power_limit"][duplicated].iloc[0]
            raise CurveError(f"{path}: {dataset}/{network}/{optimizer} at batch size {batch} lists "
                             f"power limit {limit:g} W twice")
        measured_modes = [(float(lim), float(power), 1.0 / float(epoch_s))
                          for lim, power, epoch_s in zip(chosen["power_limit"],
                                                         chosen["average_power"],
                                                         chosen["time_per_epoch"], strict=True)]
        workload_rows = normalised(known.name, measured_modes)
        rows += workload_rows
        sources[known.name] = (str(dataset), str(network), str(optimizer), batch,
                               len(workload_rows))
    if not rows:
        raise CurveError(f"{path}: no workload left to import; " + "; ".join(skipped))
    return ZeusImport(rows, sources, skipped)
