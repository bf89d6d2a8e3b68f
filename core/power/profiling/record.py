"""The files a profile leaves: every sample (CSV) and the per-GPU summary (JSON).

Both are written atomically, also after Ctrl-C or a failed command, so a record is either the
complete record of what ran or absent. The samples CSV is also a recording:
:func:`read_samples_csv` turns it back into samples a replay can play.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from greenslot.atomic import write_text
from greenslot.power.profiling.energy import GpuEnergy
from greenslot.power.profiling.nvml import ProfileError
from greenslot.power.profiling.sampler import Sample

SAMPLE_FIELDS = [f.name for f in fields(Sample)]
CSV_COLUMNS = ["run_limit_w", *SAMPLE_FIELDS]


def samples_csv(runs: Sequence[tuple[float | None, Sequence[Sample]]]) -> str:
    """CSV text of ``(sweep limit or None, samples)`` pairs; empty cells for missing fields."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for limit, samples in runs:
        for sample in samples:
            values = asdict(sample)
            writer.writerow(["" if limit is None else f"{limit:g}",
                             *("" if values[k] is None else repr(values[k])
                               for k in SAMPLE_FIELDS)])
    return out.getvalue()


def read_samples_csv(path: Path) -> list[tuple[float | None, Sample]]:
    """Read a samples CSV written by :func:`samples_csv` back, with each row's sweep limit."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror}") from None
    out = []
    for line, row in enumerate(rows, start=2):
        try:
            values: dict[str, Any] = {k: (None if row[k] == "" else float(row[k]))
                                      for k in SAMPLE_FIELDS}
            values["gpu"] = int(values["gpu"])
            limit = None if row["run_limit_w"] == "" else float(row["run_limit_w"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ProfileError(f"{path}, line {line}: not a greenslot samples row ({exc})") \
                from None
        out.append((limit, Sample(**values)))
    return out


def energy_dict(energy: GpuEnergy) -> dict:
    """A summary as JSON-ready numbers with units in the keys."""
    return {"gpu": energy.gpu, "samples": energy.samples, "duration_s": energy.duration_s,
            "energy_j": energy.energy_j, "energy_kwh": energy.energy_kwh,
            "mean_power_w": energy.mean_power_w, "peak_power_w": energy.peak_power_w,
            "energy_source": energy.source}


def write_record(samples_path: Path, summary_path: Path,
                 runs: Sequence[tuple[float | None, Sequence[Sample]]], summary: dict) -> None:
    """Write the samples CSV and the summary JSON, each atomically."""
    try:
        write_text(samples_path, samples_csv(runs))
        write_text(summary_path, json.dumps(summary, indent=2) + "\n")
    except OSError as exc:
        raise ProfileError(f"cannot write the record to {exc.filename or samples_path}: "
                           f"{exc.strerror}") from None


def summary_line(energy: GpuEnergy, name: str) -> str:
    """One printed line per GPU; ``n/a`` where NVML gave nothing to compute from."""

    def num(value: float | None, fmt: str) -> str:
        return "n/a" if value is None else format(value, fmt)

    return (f"GPU {energy.gpu} ({name}): {num(energy.energy_j, '.1f')} J "
            f"({num(energy.energy_kwh, '.6f')} kWh, {energy.source or 'no energy reading'}), "
            f"mean {num(energy.mean_power_w, '.1f')} W, peak {num(energy.peak_power_w, '.1f')} W, "
            f"{energy.duration_s:.2f} s, {energy.samples} samples")
