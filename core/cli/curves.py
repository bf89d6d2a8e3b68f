"""``greenslot curves``: build contract power curves from measurements, fit, and prune them.

``from-zeus`` imports a published Zeus power summary, ``fit`` adds modes between measured
power limits, ``prune`` drops dominated modes. Every verb writes its curve atomically and only
after the planner's loader accepted it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from greenslot.cli.args import one_line_errors, positive_float, positive_int, watts_list
from greenslot.cli.jsonout import add_json_option, emit

if TYPE_CHECKING:
    from greenslot.power.curves.table import CurveRow


def add_parser(verbs: argparse._SubParsersAction) -> None:
    """Register ``curves`` and its sub-verbs on the top-level ``verbs``."""
    curves = verbs.add_parser("curves", help="build, fit and prune power curves (CSV)")
    sub = curves.add_subparsers(dest="curves_verb", required=True, parser_class=type(curves))

    z = sub.add_parser("from-zeus", help="contract curve from a Zeus summary_power_<gpu>.csv")
    z.add_argument("summary", type=Path, help="Zeus summary_power_<gpu>.csv")
    z.add_argument("--out", required=True, type=Path, help="curve CSV to write")
    z.add_argument("--batch-size", type=positive_int, default=None, metavar="N",
                   help="use this batch size for every workload (default: Zeus's own default "
                        "per workload, capped at the largest measured)")
    _add_prune_args(z)
    z.add_argument("--default-workload", default=None, metavar="NAME",
                   help="also write workload NAME's rows as 'default' (the workload of jobs "
                        "that name none)")

    f = sub.add_parser("fit", help="add modes between measured power limits (interpolated)")
    f.add_argument("curve", type=Path, help="a contract curve CSV")
    f.add_argument("--out", required=True, type=Path, help="curve CSV to write")
    what = f.add_mutually_exclusive_group(required=True)
    what.add_argument("--limits", type=watts_list, metavar="W,W,...",
                      help="power limits to add; each must lie inside the measured range")
    what.add_argument("--step", type=positive_float, metavar="W",
                      help="add every multiple of W inside each workload's measured range")
    f.add_argument("--workload", action="append", default=None, metavar="NAME",
                   help="only this workload (repeatable; default: all)")
    _add_prune_args(f)

    p = sub.add_parser("prune", help="drop dominated modes of a curve")
    p.add_argument("curve", type=Path, help="a contract curve CSV")
    p.add_argument("--out", required=True, type=Path, help="curve CSV to write")
    p.add_argument("--min-modes", type=positive_int, default=1, metavar="K",
                   help="keep at least K modes per workload (default 1)")
    for parser in (z, f, p):
        add_json_option(parser, "the curve written: its modes and workloads")


def _add_prune_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--drop-dominated", action="store_true",
                        help="drop modes another mode beats on both speed and energy per work")
    parser.add_argument("--min-modes", type=positive_int, default=1, metavar="K",
                        help="with --drop-dominated, keep at least K modes per workload "
                             "(default 1)")


def _with_default(rows: list[CurveRow], source: str | None) -> list[CurveRow]:
    from greenslot.power.curves.table import CurveError, CurveRow

    if source is None:
        return rows
    names = {r.workload for r in rows}
    if "default" in names:
        raise CurveError("the curve already has a workload 'default'")
    if source not in names:
        raise CurveError(f"--default-workload: no workload {source!r}; "
                         f"have {', '.join(sorted(names))}")
    return rows + [CurveRow("default", r.power_limit_w, r.power_w, r.relative_throughput)
                   for r in rows if r.workload == source]


def _modes_by_workload(rows: list[CurveRow]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.workload] = counts.get(row.workload, 0) + 1
    return counts


def _written(args: argparse.Namespace, rows: list[CurveRow], extra: dict | None = None) -> dict:
    """The ``--json`` document of a curves verb: the file, its modes, by workload."""
    return {"out": args.out, "modes": len(rows), "workloads": _modes_by_workload(rows),
            "rows": [{"workload": r.workload, "power_limit_w": r.power_limit_w,
                      "power_w": r.power_w, "relative_throughput": r.relative_throughput}
                     for r in rows], **(extra or {})}


def _describe(rows: list[CurveRow]) -> str:
    return ", ".join(f"{w} ({n})" for w, n in _modes_by_workload(rows).items())


def cmd_curves(args: argparse.Namespace) -> int:
    """The ``curves`` verbs; pandas and the curve tools load here, not for ``--help``."""
    from greenslot.power.curves.table import CurveError

    return one_line_errors(CurveError)(_cmd_curves)(args)


def _cmd_curves(args: argparse.Namespace) -> int:
    """Run one ``curves`` sub-verb; exit 0, or 2 on bad input (nothing written)."""
    from greenslot.power.curves.fit import fit_between_measured, step_limits
    from greenslot.power.curves.pareto import drop_dominated
    from greenslot.power.curves.table import CurveError, read_curve, write_curve
    from greenslot.power.curves.zeus import import_zeus

    if args.curves_verb == "from-zeus":
        imported = import_zeus(args.summary, batch_size=args.batch_size)
        for note in imported.skipped:
            print(f"greenslot: skipped {note}", file=sys.stderr)
        rows = imported.rows
        if args.drop_dominated:
            rows = drop_dominated(rows, args.min_modes)
        rows = _with_default(rows, args.default_workload)
        write_curve(rows, args.out)
        if args.json:
            emit(_written(args, rows, {"batch_sizes": {w: src[3] for w, src
                                                       in imported.sources.items()},
                                       "skipped": list(imported.skipped)}))
            return 0
        batches = ", ".join(f"{w} b={src[3]}" for w, src in imported.sources.items())
        print(f"wrote {args.out}: {len(rows)} modes; workloads (modes): {_describe(rows)}; "
              f"Zeus batch sizes: {batches}")
        return 0
    rows = read_curve(args.curve)
    if args.curves_verb == "fit":
        if args.limits is not None:
            rows = fit_between_measured(rows, args.limits, args.workload, strict=True)
        else:
            chosen = [r for r in rows if args.workload is None or r.workload in args.workload]
            if not chosen:
                raise CurveError(f"no workload {args.workload[0]!r} in {args.curve}")
            rows = fit_between_measured(rows, step_limits(chosen, args.step), args.workload,
                                        strict=False)
    if args.curves_verb == "prune" or args.drop_dominated:
        rows = drop_dominated(rows, args.min_modes)
    write_curve(rows, args.out)
    if args.json:
        emit(_written(args, rows))
        return 0
    print(f"wrote {args.out}: {len(rows)} modes; workloads (modes): {_describe(rows)}")
    return 0
