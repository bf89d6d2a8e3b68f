"""Modes between measured power limits, by linear interpolation in the power limit.

Why linear and nothing fancier: between two neighbouring measured limits both the mean power
and the throughput of a training job change monotonically in practice but with no known shape,
and a fitted model (a polynomial, a spline) can overshoot the measurements it is fitted to.
Linear interpolation never leaves the range spanned by the two measurements around it, adds no
assumption, and is exact at the measured limits. Nothing is extrapolated: a limit outside the
measured range is an error, because the power a GPU draws there is unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from greenslot.power.curves.table import POWER_DECIMALS, THROUGHPUT_DECIMALS, CurveError, CurveRow


def step_limits(rows: Sequence[CurveRow], step_w: float) -> list[float]:
    """Every multiple of ``step_w`` inside the measured range of any workload in ``rows``."""
    if not step_w > 0:
        raise CurveError(f"--step must be > 0 W, got {step_w:g}")
    lo = min(r.power_limit_w for r in rows)
    hi = max(r.power_limit_w for r in rows)
    first = -(-lo // step_w) * step_w
    count = int((hi - first) // step_w) + 1
    return [first + i * step_w for i in range(max(count, 0))]


def _interpolate(below: CurveRow, above: CurveRow, limit: float) -> CurveRow:
    share = (limit - below.power_limit_w) / (above.power_limit_w - below.power_limit_w)
    power = below.power_w + share * (above.power_w - below.power_w)
    rel = below.relative_throughput + share * (above.relative_throughput
                                               - below.relative_throughput)
    return CurveRow(below.workload, limit, round(power, POWER_DECIMALS),
                    round(rel, THROUGHPUT_DECIMALS))


def fit_between_measured(rows: Sequence[CurveRow], limits_w: Iterable[float],
                         workloads: Iterable[str] | None = None,
                         strict: bool = True) -> list[CurveRow]:
    """The measured rows plus an interpolated row at each requested limit.

    Parameters
    ----------
    rows
        A curve (any workloads).
    limits_w
        Power limits [W] to add. Limits already measured keep their measured row.
    workloads
        Workloads to add rows to (default: all); the others are copied unchanged.
    strict
        When true, a limit outside a workload's measured range is an error; when false it is
        skipped for that workload (``--step`` ranges over all workloads' limits at once).
    """
    by_workload: dict[str, list[CurveRow]] = {}
    for row in rows:
        by_workload.setdefault(row.workload, []).append(row)
    chosen = set(by_workload) if workloads is None else set(workloads)
    unknown = chosen - set(by_workload)
    if unknown:
        raise CurveError(f"no workload {sorted(unknown)[0]!r} in the curve; "
                         f"it has {', '.join(by_workload)}")
    wanted = sorted(set(limits_w))
    out: list[CurveRow] = []
    for workload, group in by_workload.items():
        measured = sorted(group, key=lambda r: r.power_limit_w)
        out += measured
        if workload not in chosen:
            continue
        known = {r.power_limit_w for r in measured}
        lo, hi = measured[0].power_limit_w, measured[-1].power_limit_w
        for limit in wanted:
            if limit in known:
                continue
            if not lo <= limit <= hi:
                if strict:
                    raise CurveError(f"workload {workload!r}: {limit:g} W is outside the "
                                     f"measured limits {lo:g}-{hi:g} W; greenslot does not "
                                     f"extrapolate")
                continue
            below = max((r for r in measured if r.power_limit_w < limit),
                        key=lambda r: r.power_limit_w)
            above = min((r for r in measured if r.power_limit_w > limit),
                        key=lambda r: r.power_limit_w)
            out.append(_interpolate(below, above, limit))
    return out
