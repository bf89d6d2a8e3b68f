"""The contract curve row, its invariants, and the one way greenslot writes a curve file.

Rounding is fixed here so every producer agrees: ``power_w`` to 0.01 W (NVML reports milliwatts,
board power meters are accurate to a few watts) and ``relative_throughput`` to 6 decimals, the
precision of the curves shipped in ``data/curves``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from greenslot.atomic import write_text
from greenslot.model.errors import GreenslotError
from greenslot.model.loader import _load_curve  # the planner's own check of section 1.4

COLUMNS = ("workload", "power_limit_w", "power_w", "relative_throughput")
POWER_DECIMALS = 2
THROUGHPUT_DECIMALS = 6


class CurveError(GreenslotError):
    """A curve cannot be built or written from the given input. The CLI exits 2."""


@dataclass(frozen=True)
class CurveRow:
    """One power mode of one workload.

    Attributes
    ----------
    workload
        Key jobs refer to (``workload`` column of the jobs CSV).
    power_limit_w
        GPU power limit [W] the mode runs at.
    power_w
        One GPU's mean board power at that limit [W].
    relative_throughput
        Work per second relative to the workload's fastest row (0 < x <= 1).
    """

    workload: str
    power_limit_w: float
    power_w: float
    relative_throughput: float

    @property
    def energy_per_work(self) -> float:
        """Energy per unit of work, in W per unit of relative throughput: lower is better."""
        return self.power_w / self.relative_throughput


def normalised(workload: str, measured: Iterable[tuple[float, float, float]]) -> list[CurveRow]:
    """Rows of one workload from ``(power_limit_w, power_w, throughput)`` in any unit of work.

    Throughput is divided by the workload's largest, so the fastest row is exactly 1; values
    are rounded as the module docstring says. Rows come back sorted by power limit.
    """
    items = sorted(measured)
    if not items:
        raise CurveError(f"workload {workload!r}: no measured modes")
    best = max(t for _, _, t in items)
    if not (best > 0 and math.isfinite(best)):
        raise CurveError(f"workload {workload!r}: no positive throughput was measured")
    rows = []
    for limit, power, throughput in items:
        if not (throughput > 0 and power > 0):
            raise CurveError(f"workload {workload!r} at {limit:g} W: power and throughput "
                             f"must be > 0 (got {power:g} W, {throughput:g})")
        rows.append(CurveRow(workload, limit, round(power, POWER_DECIMALS),
                             round(throughput / best, THROUGHPUT_DECIMALS)))
    return rows


def _number(value: float) -> str:
    """Whole numbers without a trailing ``.0`` (power limits), others as Python prints them."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def curve_csv(rows: Sequence[CurveRow]) -> str:
    """The contract CSV text, workloads in first-seen order, each by ascending power limit."""
    order: dict[str, list[CurveRow]] = {}
    for row in rows:
        order.setdefault(row.workload, []).append(row)
    out = io.StringIO()
    out.write(",".join(COLUMNS) + "\n")
    for workload, group in order.items():
        for row in sorted(group, key=lambda r: r.power_limit_w):
            out.write(f"{workload},{_number(row.power_limit_w)},{row.power_w!r},"
                      f"{row.relative_throughput!r}\n")
    return out.getvalue()


def write_curve(rows: Sequence[CurveRow], path: Path) -> None:
    """Write a curve atomically, after the planner's loader has accepted the new file.

    Raises
    ------
    CurveError
        The target folder does not exist, or the rows break section 1.4.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise CurveError(f"{path}: folder {path.parent} does not exist")
    for row in rows:
        if "," in row.workload or '"' in row.workload or not row.workload.strip():
            raise CurveError(f"workload name {row.workload!r} cannot be written to a CSV cell")

    def check(tmp: Path) -> None:
        _load_curve(tmp, str(path))

    if path.is_dir():
        raise CurveError(f"{path} is a folder; --out names the curve file")
    try:
        write_text(path, curve_csv(rows), check=check)
    except OSError as exc:
        raise CurveError(f"{path}: cannot write: {exc.strerror}") from None


def read_curve(path: Path) -> list[CurveRow]:
    """Read a contract curve file with the planner's loader (same checks, same errors)."""
    modes = _load_curve(Path(path), str(path))
    return [CurveRow(w, m.power_limit_w, m.power_w, m.relative_throughput)
            for w, group in modes.items() for m in group]
