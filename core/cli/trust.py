"""CLI verbs about trusting a plan: ``evaluate`` (a written plan priced on actual signals)
and ``simulate`` (days of real signals replayed with nightly re-planning).

Kept in its own module so :mod:`greenslot.cli` only registers it: ``add_parsers`` adds the
verbs, ``HANDLERS`` maps each verb to its handler. Errors propagate as the typed errors that
``greenslot.cli.main`` maps to exit codes.
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import timedelta
from pathlib import Path

from greenslot.cli.args import (
    MAX_THREADS,
    MAX_TIME_LIMIT_S,
    SOLVER_NAMES,
    bounded_float,
    bounded_int,
)
from greenslot.cli.forecast import METHOD_NAMES
from greenslot.cli.jsonout import add_json_option, emit

# pandas, the solvers and the replay are imported by the handlers (fast --help).

EXIT_OK, EXIT_INVALID_PLAN = 0, 1


def add_parsers(verbs) -> None:
    """Add this module's verbs to the ``greenslot`` sub-command parsers."""
    e = verbs.add_parser("evaluate",
                         help="recompute a written plan's totals on actual carbon and prices")
    e.add_argument("scenario", help="the scenario the plan was made for")
    e.add_argument("plan_dir", type=Path, help="the plan folder (schedule.csv, summary.json)")
    e.add_argument("--actual", required=True, type=Path, metavar="ACTUAL.csv",
                   help="actual signals in the forecast CSV format (time, carbon_g_per_kwh "
                        "and/or price_per_mwh, renewable_kw); signals it lacks stay as planned")
    e.add_argument("--site", default=None,
                   help="the site the actual file is for (needed when there are several)")
    e.add_argument("--hindsight", choices=SOLVER_NAMES, default=None, metavar="SOLVER",
                   help="also plan with this solver on the actual signals (perfect foresight)")
    add_json_option(e, "the evaluation")

    s = verbs.add_parser("simulate",
                         help="replay real signals with nightly re-planning; realised totals "
                              "against best_window, perfect foresight and fifo")
    s.add_argument("scenario", help="a scenario whose forecast files hold the ACTUAL signals; "
                                    "its first days are history for the forecaster")
    s.add_argument("--forecaster", choices=("persistence", "sgip", "profile", "oracle"),
                   default="persistence",
                   help="persistence (same time the day before, default), sgip (the SGIP "
                        "provider's 3 h MOER forecast, then persistence; needs --sgip), profile "
                        "(our own blended daily/weekly forecaster; give it 28 history days), "
                        "or oracle (the actual signals)")
    s.add_argument("--history-days", type=int, default=1, metavar="N",
                   help="days at the start that only feed the forecaster (default 1)")
    s.add_argument("--sgip", type=Path, nargs="+", default=[], metavar="FILE",
                   help="SGIP MOER files (time, moer, f1..f36) for --forecaster sgip")
    s.add_argument("--continuation", choices=METHOD_NAMES, default=None, metavar="METHOD",
                   help="with --forecaster sgip: continue past the provider's 3 h with our "
                        "forecaster (e.g. profile), blended over 6 h; default: the day before")
    s.add_argument("--solver", default="greedy", choices=SOLVER_NAMES,
                   help="solver of each nightly plan (default greedy)")
    s.add_argument("--plan-hours", type=float, default=48.0,
                   help="hours each nightly plan looks ahead (default 48)")
    s.add_argument("--time-limit", type=bounded_float(MAX_TIME_LIMIT_S, " s"), default=None,
                   metavar="SECONDS",
                   help="per nightly solve, for the exact solvers")
    s.add_argument("--threads", type=bounded_int(MAX_THREADS), default=1, metavar="N",
                   help=f"threads for the exact solvers (1 to {MAX_THREADS}, default 1)")
    s.add_argument("--replan-hours", type=float, default=24.0, metavar="H",
                   help="re-plan every H hours (default 24: nightly); each plan commits what it "
                        "starts before the next")
    s.add_argument("--replan-on-end", action="store_true",
                   help="also re-plan when a committed job really ends off its plan (early: "
                        "its GPUs are free; late or held back: what follows it moved)")
    real = s.add_mutually_exclusive_group()
    real.add_argument("--actual-durations", type=Path, default=None, metavar="FILE",
                      help="CSV job_id,actual_h: the real run time of every job [h at the "
                           "fastest mode]; default: each runs its duration_h")
    real.add_argument("--duration-noise", type=Path, default=None, metavar="HISTORY",
                      help="draw real run times from past runs (CSV workload,duration_h,"
                           "actual_h, e.g. data/run_times/zeus_epochs_to_target.csv)")
    s.add_argument("--seed", type=int, default=0, help="seed of --duration-noise (default 0)")
    add_json_option(s, "the realised totals of each policy")


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from greenslot.analysis.evaluate import evaluate_plan, evaluation_table
    from greenslot.forecasts.scenario_loading import load_scenario
    from greenslot.model.validator import validate
    from greenslot.pipeline.files import read_plan

    scenario = load_scenario(args.scenario)
    on_disk = read_plan(scenario, args.plan_dir)
    violations = validate(scenario, on_disk.schedule)
    if violations:
        for violation in violations:
            print(f"invalid: {violation}", file=sys.stderr)
        return EXIT_INVALID_PLAN
    evaluation = evaluate_plan(scenario, on_disk.schedule, args.actual, str(args.actual),
                               args.site, args.hindsight)
    if args.json:
        emit(evaluation.as_dict())
    else:
        print(f"plan {on_disk.summary.get('plan_id', '?')} on actual signals from "
              f"{args.actual} (site {evaluation.site})")
        print(evaluation_table(evaluation))
    return EXIT_OK


def _cmd_simulate(args: argparse.Namespace) -> int:
    from greenslot.analysis.actual_durations import draw_actual_hours, read_actual_hours
    from greenslot.analysis.simulate import (
        change_vs_fifo,
        comparable_to_fifo,
        kept_fraction,
        oracle,
        own_forecaster,
        persistence,
        sgip_forecaster,
        simulate,
        simulation_notes,
        simulation_table,
    )
    from greenslot.forecasts.scenario_loading import load_scenario
    from greenslot.model.checks import fail
    from greenslot.model.loader import load_duration_history
    from greenslot.solvers.types import SolveOptions

    if args.forecaster == "sgip" and not args.sgip:
        raise SystemExit("greenslot: error: --forecaster sgip needs --sgip FILE... (see --help)")
    for path in args.sgip:
        if not path.is_file():
            fail("missing_file", str(path), None, None, "SGIP file not found")
    if args.history_days < 1:
        raise SystemExit("greenslot: error: --history-days must be at least 1")
    forecaster = {"persistence": persistence, "oracle": oracle,
                  "profile": own_forecaster("profile")}.get(args.forecaster) \
        or sgip_forecaster(args.sgip, args.continuation)
    scenario = load_scenario(args.scenario)
    if scenario.grid.end - scenario.grid.start <= timedelta(days=args.history_days):
        fail("bad_duration", str(scenario.source), None, "horizon",
             f"simulate needs a horizon longer than the {args.history_days} history day(s); "
             "lengthen it or lower --history-days")
    if args.replan_hours <= 0 or (args.replan_hours / scenario.grid.slot_hours) % 1 > 1e-9:
        raise SystemExit("greenslot: error: --replan-hours must be a positive whole number "
                         f"of {scenario.grid.slot_hours:g} h slots")
    actual_h = None
    if args.actual_durations is not None:
        actual_h = read_actual_hours(args.actual_durations, scenario)
    elif args.duration_noise is not None:
        actual_h = draw_actual_hours(scenario, load_duration_history(args.duration_noise),
                                     args.seed)
    options = SolveOptions(time_limit_s=args.time_limit, threads=args.threads)
    simulation = simulate(scenario, forecaster, args.forecaster, args.solver, options,
                          args.plan_hours, args.history_days, actual_h, args.replan_hours,
                          args.replan_on_end)
    if args.json:
        emit({run.policy: {**run.realised,
                           "placed": len(run.schedule.assignments),
                           "unplaced": [u.job_id for u in run.schedule.unplaced],
                           "missed_deadlines": run.missed_deadlines,
                           "killed": list(run.killed),
                           "kept_fraction": _json_number(kept_fraction(simulation, run.policy)),
                           "nights": run.nights,
                           "comparable_to_fifo": comparable_to_fifo(simulation, run),
                           "carbon_vs_fifo": change_vs_fifo(simulation, run)}
              for run in simulation.runs})
    else:
        grid = simulation.scenario.grid
        print(f"replay {grid.start.isoformat()} to {grid.end.isoformat()}, solver "
              f"{args.solver}, nightly plans of {args.plan_hours:g} h; realised on actuals:")
        print(simulation_table(simulation))
    for note in simulation_notes(simulation):
        print(f"greenslot: warning: {note}", file=sys.stderr)
    return EXIT_OK


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


HANDLERS = {"evaluate": _cmd_evaluate, "simulate": _cmd_simulate}
