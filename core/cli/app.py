"""The ``greenslot`` command line. Maps typed errors to exit codes in one place.

Exit codes (contract section 4): 0 done; 2 bad input or usage (one line naming file, row and
field; nothing written); 3 the hard constraints cannot all hold; 1 a plan that fails
``validate``; 4 a site's forecast provider failed and neither its cache nor its history could
stand in (as ``forecast fetch``; nothing written); other non-zero: internal error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from greenslot import __version__
from greenslot.atomic import TargetError
from greenslot.cli import analysts as cli_analysts
from greenslot.cli import curves as cli_curves
from greenslot.cli import example as cli_example
from greenslot.cli import forecast as cli_forecast
from greenslot.cli import profile as cli_profile
from greenslot.cli import slurm as cli_slurm
from greenslot.cli import trust as cli_trust
from greenslot.cli.args import SOLVER_NAMES, add_solve_options, dask_cluster
from greenslot.cli.clock import command_started
from greenslot.cli.jsonout import add_json_option, emit
from greenslot.forecasts.errors import CredentialsError, ProviderError, QueryError
from greenslot.model.errors import (
    FallbackWarning,
    InfeasibleError,
    InvalidScheduleError,
    ScenarioError,
)

if TYPE_CHECKING:
    from greenslot.model.scenario import Objective

# The verbs' heavy dependencies (pandas, Pyomo, OR-Tools, matplotlib, Dask) are imported in
# the handlers that use them, so --help and --version answer at once (tests/test_startup.py).

EXIT_OK, EXIT_INVALID_PLAN, EXIT_USAGE, EXIT_INFEASIBLE, EXIT_INTERNAL = 0, 1, 2, 3, 70
DESCRIPTION = ("Plan when, where and at what GPU power setting ML training jobs run, for the "
               "least carbon, cost or energy within deadlines, power caps and capacity; write "
               "the plan as schedule.csv, summary.json and a Slurm submit.sh/sbatch.json.")
EXIT_PROVIDER = cli_forecast.EXIT_PROVIDER


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"greenslot: error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


_OBJECTIVE_HELP = ("use carbon, cost, energy or JSON weights like "
                   "'{\"carbon_kg\": 1, \"cost\": 0.1}'")


def _reject_constant(name: str) -> float:
    """JSON's ``NaN``/``Infinity``, which Python's reader accepts and the standard does not."""
    raise ValueError(name)


def _objective(text: str) -> Objective:
    from greenslot.model.loader import parse_objective_weights
    from greenslot.model.scenario import Objective

    if text in ("carbon", "cost", "energy"):
        return Objective.named(text)
    try:
        weights = json.loads(text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, ValueError, RecursionError):
        raise argparse.ArgumentTypeError(_OBJECTIVE_HELP) from None
    try:
        return parse_objective_weights(weights, "--objective")
    except ScenarioError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="greenslot", description=DESCRIPTION,
                     epilog="Exit codes: 0 done; 1 validate found the plan invalid; 2 bad input "
                            "or usage (one line, nothing written); 3 the hard constraints "
                            "cannot all hold; 4 a provider or Slurm failed; 70 internal error. "
                            "greenslot VERB --help for a verb's options.")
    parser.add_argument("--version", action="version", version=f"greenslot {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser)

    p = verbs.add_parser("plan", help="plan a scenario and write schedule, summary, submit.sh")
    p.add_argument("scenario", help="scenario.yaml or the folder holding it")
    p.add_argument("--out", required=True, type=Path,
                   help="folder to write the plan into (a link is followed); an existing "
                        "plan there is replaced, keeping its ledger and logs")
    p.add_argument("--replace", action="store_true",
                   help="replace --out even when it holds files greenslot did not write "
                        "(they are deleted)")
    p.add_argument("--solver", default="greedy", choices=SOLVER_NAMES,
                   help="greedy (default), fifo, milp, cpsat, large (Lagrangian bound, "
                        "rounding and local search, for models too big to write), or auto "
                        "(milp when the model is small enough, else large); fifo and "
                        "best_window are the baselines: where they miss a deadline the greedy "
                        "plan is written instead")
    p.add_argument("--objective", type=_objective, default=None,
                   help="carbon | cost | energy | JSON weights (overrides the scenario)")
    add_solve_options(p)
    p.add_argument("--dask", type=dask_cluster, default=None, metavar="local:N|ADDRESS",
                   help="price the Lagrangian bound (large, auto) on Dask workers: local:N "
                        "starts N worker processes here, ADDRESS (tcp://host:8786) uses a "
                        "running scheduler; the plan is the same as without")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    p.add_argument("--strict", action="store_true",
                   help="exit 3 and write nothing when any job cannot be placed")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="what-if edit of the scenario, e.g. sites.<name>.power_cap_kw=30 "
                        "(repeatable; recorded in summary.json)")
    add_json_option(p, "summary.json's content and plan_dir")
    cli_forecast.add_plan_options(p)

    v = verbs.add_parser("validate", help="re-check a written plan and recompute its totals")
    v.add_argument("scenario", help="the scenario the plan was made for (yaml or its folder)")
    v.add_argument("plan_dir", type=Path, help="the plan folder to re-check")
    v.add_argument("--set", dest="overrides", action="append", default=None, metavar="KEY=VALUE",
                   help="check against these edits instead of those the plan records")
    add_json_option(v, "the verdict, counts and violations")
    cli_forecast.add_plan_options(v, validate=True)
    cli_profile.add_parser(verbs)
    cli_curves.add_parser(verbs)
    cli_slurm.add_parsers(verbs)
    cli_forecast.add_parser(verbs)
    cli_analysts.add_parsers(verbs, plan_parser=p)
    cli_trust.add_parsers(verbs)
    cli_example.add_parser(verbs)
    _verbose_on_every_verb(verbs)
    return parser


def _verbose_on_every_verb(verbs: argparse._SubParsersAction) -> None:
    """Accept ``-v`` after any verb too (``greenslot plan ... -v``), as the synopsis shows.

    ``SUPPRESS`` as the default leaves the top-level ``-v`` in charge when a verb's is absent.
    """
    for parser in verbs.choices.values():
        if not any("-v" in action.option_strings for action in parser._actions):
            parser.add_argument("-v", "--verbose", action="store_true",
                                default=argparse.SUPPRESS, help="log progress to stderr")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _verbose_on_every_verb(action)


def _summary_table(result, out_dir: Path) -> str:
    totals, fifo = result.accounting.totals, result.baselines["fifo"]
    best = result.baselines.get("best_window", {})
    solved = result.result
    proof = ""
    if result.bound is not None:
        gap = "-" if result.gap is None else f"{result.gap:.3%}"
        proof = f", {solved.status}, bound {result.bound:.6g}, gap {gap}"
    elif solved.bound is not None:  # proven on objective + penalty: say so
        gap = "-" if result.gap_with_penalty is None else f"{result.gap_with_penalty:.3%}"
        proof = (f", {solved.status}, bound {solved.bound:.6g} on objective + unplaced penalty "
                 f"{result.penalised_objective:.6g}, gap {gap}")
    lines = [f"plan {result.plan_id}: {len(result.schedule.assignments)} placed, "
             f"{len(result.schedule.unplaced)} unplaced, solver {solved.solver} "
             f"({solved.solve_seconds:.2f} s{proof}) -> {out_dir}",
             f"{'':14}{'plan':>14}{'fifo':>14}{'change':>9}{'best_window':>14}{'change':>9}"]
    for key in ("energy_kwh", "grid_kwh", "renewable_kwh", "carbon_kg", "cost"):
        change = f"{(totals[key] / fifo[key] - 1) * 100:+.1f}%" if fifo[key] else "-"
        versus = (f"{best[key]:14.2f}{(totals[key] / best[key] - 1) * 100:+8.1f}%"
                  if best.get(key) else f"{'-':>14}{'-':>9}")
        lines.append(f"{key:14}{totals[key]:14.2f}{fifo[key]:14.2f}{change:>9}{versus}")
    late = {name: int(b.get("missed_deadlines", 0)) for name, b in result.baselines.items()}
    if any(late.values()):
        lines.append("deadlines missed: " + ", ".join(f"{name} {n}"
                                                       for name, n in late.items()))
    steps = solved.details.get("steps")
    if steps:
        lines.append(_steps_line(solved.details.get("plan_from"), steps))
    for u in result.schedule.unplaced:
        lines.append(f"unplaced {u.job_id}: {u.reason}")
    return "\n".join(lines)


def _steps_line(plan_from: str | None, steps: dict) -> str:
    """Which steps ran (and for how long) and which did not, and where the plan came from:
    a bound of null or a weak gap is explained on screen, not only in ``summary.json``."""
    shown = []
    for name, step in steps.items():
        if step["ran"]:
            note = f": {step['note']}" if step.get("note") else ""
            shown.append(f"{name} {step['wall_seconds']:.1f} s{note}")
        else:
            shown.append(f"{name} not run ({step.get('note') or 'no time'})")
    source = f"plan from {plan_from}; " if plan_from else ""
    return f"steps: {source}" + "; ".join(shown)


def _cmd_plan(args) -> int:
    from greenslot.analysis.whatif import load_with_overrides, parse_override
    from greenslot.cli.progress import ProgressLine
    from greenslot.pipeline.files import check_plan_folder, summary_dict, write_plan
    from greenslot.pipeline.steps import plan
    from greenslot.solvers.types import SolveOptions

    check_plan_folder(args.out, args.replace)  # refuse a bad --out before the solve, not after
    scenario = load_with_overrides(args.scenario, [parse_override(o) for o in args.overrides],
                                   cli_forecast.plan_source(args))
    if args.objective is not None:
        scenario = scenario.with_objective(args.objective)
    with contextlib.ExitStack() as stack:
        pricer = None if args.dask is None else _dask_pricer(stack, *args.dask)
        progress = stack.enter_context(ProgressLine(args.solver, enabled=not args.quiet,
                                                    time_limit_s=args.time_limit))
        options = SolveOptions(time_limit_s=args.time_limit, threads=args.threads,
                               gap=args.gap, progress=progress.update,
                               on_phase=progress.phase, pricer=pricer)
        result = plan(scenario, solver=args.solver, options=options, strict=args.strict,
                      began=getattr(args, "started", None))
    write_plan(result, args.out, __version__, replace=args.replace)
    if args.json:
        emit({"plan_dir": args.out, **summary_dict(result, __version__)})
    else:
        print(_summary_table(result, args.out))
    return EXIT_OK


def _dask_pricer(stack: contextlib.ExitStack, kind: str, workers: int):
    """A Dask client on ``kind`` (``local`` or a scheduler address), closed with ``stack``,
    wrapped as the Lagrangian's pricer; an unreachable cluster is one line, exit 2."""
    from greenslot.analysis.sweep import ClusterError, ClusterSpec
    from greenslot.analysis.sweep.cluster import open_client
    from greenslot.solvers.distributed import DaskPricer

    try:
        client = stack.enter_context(open_client(ClusterSpec(kind=kind, workers=workers)))
    except ClusterError as exc:
        print(f"greenslot: error: --dask: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    return DaskPricer(client)


def _cmd_validate(args) -> int:
    from greenslot.analysis.whatif import load_with_overrides, parse_override, recorded_overrides
    from greenslot.model.validator import check_totals, validate
    from greenslot.pipeline.files import check_reported_figures, check_submission_files, read_plan

    overrides = ([parse_override(o) for o in args.overrides] if args.overrides is not None
                 else recorded_overrides(args.plan_dir))
    scenario = load_with_overrides(args.scenario, overrides,
                                   cli_forecast.plan_source(args, offline=True))
    on_disk = read_plan(scenario, args.plan_dir)
    violations = validate(scenario, on_disk.schedule)
    if not violations:
        violations = check_totals(scenario, on_disk.schedule, on_disk.summary.get("totals", {}))
        violations += check_reported_figures(scenario, on_disk)
        violations += check_submission_files(scenario, on_disk, args.plan_dir)
    if args.json:
        emit({"valid": not violations, "plan_id": on_disk.summary.get("plan_id"),
              "placed": len(on_disk.schedule.assignments),
              "unplaced": len(on_disk.schedule.unplaced),
              "overrides": [o.label for o in overrides],
              "violations": [{"kind": v.kind, "job_id": v.job_id, "message": v.message}
                             for v in violations]})
    if violations:
        for violation in violations:
            print(f"invalid: {violation}", file=sys.stderr)
        return EXIT_INVALID_PLAN
    if args.json:
        return EXIT_OK
    edited = f" (with {', '.join(o.label for o in overrides)})" if overrides else ""
    print(f"valid: {len(on_disk.schedule.assignments)} placed, "
          f"{len(on_disk.schedule.unplaced)} unplaced; totals match to 1e-6; sbatch.json and "
          f"submit.sh match the schedule{edited}")
    return EXIT_OK


class _StderrHandler(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is when a record comes (tests swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


@contextlib.contextmanager
def _greenslot_logging(verbose: bool) -> Iterator[None]:
    """Show greenslot's own log records on stderr as ``greenslot: ...`` while a verb runs.

    Only the ``greenslot`` logger is configured, never the root: a library's record (Dask's
    "Worker process still alive ... killing") must not read as greenslot's own, and a library
    that gives its loggers their own handler when the root has none (distributed does) keeps
    doing so. Restored afterwards, so ``main`` can run many times in one process.
    """
    log = logging.getLogger("greenslot")
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("greenslot: %(message)s"))
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO if verbose else logging.WARNING)
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, FallbackWarning):  # a plain line, every time it happens
            log.warning("%s", message)
        else:
            shown(message, category, filename, lineno, file, line)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", FallbackWarning)
            warnings.showwarning = show
            yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    # --time-limit is the whole command's: start-up and loading are part of a plan
    started = command_started(from_process_start=argv is None)
    args = build_parser().parse_args(argv)
    args.started = started
    with _greenslot_logging(args.verbose):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    handlers = {"plan": _cmd_plan, "validate": _cmd_validate,
                "profile": cli_profile.cmd_profile, "curves": cli_curves.cmd_curves,
                "forecast": cli_forecast.run, "example": cli_example.cmd_example,
                **cli_slurm.HANDLERS, **cli_analysts.HANDLERS, **cli_trust.HANDLERS}
    try:
        return handlers[args.verb](args)
    except ScenarioError as exc:
        print(f"greenslot: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TargetError as exc:
        print(f"greenslot: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except InfeasibleError as exc:
        print(f"greenslot: {exc}", file=sys.stderr)
        return EXIT_INFEASIBLE
    except InvalidScheduleError as exc:
        print(f"greenslot: internal error, nothing written: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    except (CredentialsError, QueryError) as exc:
        print(f"greenslot: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ProviderError as exc:
        print(f"greenslot: provider error, nothing written: {exc}", file=sys.stderr)
        return EXIT_PROVIDER
    except BrokenPipeError:
        # `greenslot plan ... | head`: the reader left; the plan is already written. Point
        # stdout at devnull so the interpreter's final flush does not print a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
