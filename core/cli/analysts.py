"""The analysts' verbs: ``report``, ``compare`` and ``sweep`` (``plan --set`` lives with plan).

Registered into the main parser by :func:`add_parsers`; errors map to exit codes through the
main CLI (bad input is a ``ScenarioError``: exit 2), except an unreachable or unstartable
cluster, which is the user's setup and also exits 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from greenslot import __version__
from greenslot.cli.args import positive_int
from greenslot.cli.jsonout import add_json_option, emit

# matplotlib, pandas and Dask are imported by the handlers that need them (fast --help).

SOLVE_OPTIONS = ("solver", "objective", "time_limit", "threads", "gap")


def add_parsers(verbs, plan_parser: argparse.ArgumentParser) -> None:
    """Add ``report``, ``compare`` and ``sweep``; the sweep takes ``plan``'s solve options."""
    r = verbs.add_parser("report", help="draw a written plan: DIR/report.html and PNGs")
    r.add_argument("plan_dir", type=Path, help="a folder written by greenslot plan")
    r.add_argument("--scenario", default=None,
                   help="the plan's scenario, when it has moved since planning (default: the "
                        "path summary.json records)")
    add_json_option(r, "the report's path, size and figures")

    c = verbs.add_parser("compare", help="totals, deltas and moved jobs of two plans (B - A)")
    c.add_argument("plan_a", type=Path, help="plan folder A")
    c.add_argument("plan_b", type=Path, help="plan folder B (deltas are B - A)")
    add_json_option(c, "the comparison")
    c.add_argument("--all", action="store_true", help="list every moved job, not the first 30")

    s = verbs.add_parser("sweep", help="plan a grid of what-ifs in parallel on Dask")
    s.add_argument("scenario", help="scenario.yaml or the folder holding it")
    s.add_argument("--vary", action="append", required=True, metavar="KEY=V1,V2,...",
                   help="a key and its values (repeatable: the grid is every combination)")
    s.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="an edit applied to every point")
    s.add_argument("--out", required=True, type=Path,
                   help="folder for sweep.csv, pareto.png and points/NNN/ plans")
    s.add_argument("--replace", action="store_true",
                   help="replace --out even when it holds files greenslot did not write")
    s.add_argument("--cluster", default="local", metavar="local|ADDRESS|slurm",
                   help="local: a Dask LocalCluster (default); ADDRESS: a running scheduler "
                        "(tcp://host:8786); slurm: workers as Slurm jobs (dask-jobqueue)")
    s.add_argument("--workers", type=positive_int, default=2,
                   help="worker processes (local) or Slurm jobs (slurm); default 2")
    s.add_argument("--slurm-partition", default=None,
                   help="with --cluster slurm: the workers' partition (default: Slurm's)")
    s.add_argument("--slurm-memory", default="4GB",
                   help="with --cluster slurm: memory per worker job (default 4GB)")
    s.add_argument("--slurm-walltime", default="01:00:00",
                   help="with --cluster slurm: time limit per worker job (default 01:00:00)")
    s.add_argument("--slurm-log-dir", default=None,
                   help="folder for the worker jobs' Slurm output (default: "
                        "$TMPDIR/greenslot-sweep-slurm)")
    s.add_argument("--slurm-start-timeout", type=float, default=600.0, metavar="SECONDS",
                   help="give up when no worker job has started by then (default 600)")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_json_option(s, "the sweep's table (one object per point)")
    for action in plan_parser._actions:  # the very same options, so they cannot drift apart
        if action.dest in SOLVE_OPTIONS:
            s._add_action(action)


def cmd_report(args) -> int:
    from greenslot.analysis.report import write_report

    target = write_report(args.plan_dir, args.scenario)
    names = sorted(p.name for p in target.parent.glob("*.png"))
    if args.json:
        emit({"report": target, "bytes": target.stat().st_size, "figures": names})
        return 0
    print(f"report: {target} ({target.stat().st_size / 1e6:.2f} MB; figures {', '.join(names)})")
    return 0


def cmd_compare(args) -> int:
    from greenslot.analysis.whatif.compare import compare, format_comparison, read_plan_files

    result = compare(read_plan_files(args.plan_a), read_plan_files(args.plan_b))
    if args.json:
        emit(result)
    else:
        print(format_comparison(result, limit=None if args.all else 30))
    return 0


def cmd_sweep(args) -> int:
    from greenslot.analysis.sweep import ClusterError, ClusterSpec, parse_vary, run_sweep
    from greenslot.analysis.sweep.progress import SweepProgress
    from greenslot.analysis.whatif import parse_override

    axes = [parse_vary(v) for v in args.vary]
    fixed = [parse_override(o) for o in args.overrides]
    spec = ClusterSpec(args.cluster, args.workers, args.slurm_partition, args.slurm_memory,
                       args.slurm_walltime, args.slurm_start_timeout, args.slurm_log_dir)
    options = {"time_limit_s": args.time_limit, "threads": args.threads, "gap": args.gap}
    total = 1
    for axis in axes:
        total *= len(axis.values)
    try:
        with SweepProgress(total, not args.quiet) as progress:
            sweep = run_sweep(args.scenario, axes, fixed, args.out, spec, args.solver,
                              options, __version__, objective=args.objective,
                              on_point_done=progress.advance, replace=args.replace)
    except ClusterError as exc:
        print(f"greenslot: error: {exc}", file=sys.stderr)
        return 2
    table = sweep.table
    for row in table[table["error"].astype(str) != ""].itertuples():
        print(f"point {row.point}: {row.error}", file=sys.stderr)
    if args.json:
        emit({"out_dir": sweep.out_dir, "points": table.to_dict("records")})
        return 0
    shown = table.drop(columns=["plan_dir", "error", "solver"]).to_string(index=False,
                                                                         float_format="%.2f")
    print(f"sweep: {len(table)} points -> {sweep.out_dir}/sweep.csv, pareto.png, points/")
    print(shown)
    return 0


HANDLERS = {"report": cmd_report, "compare": cmd_compare, "sweep": cmd_sweep}
