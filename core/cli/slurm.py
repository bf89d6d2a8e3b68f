"""The Slurm verbs of the command line: ``submit`` and ``sync``.

Kept apart from :mod:`greenslot.cli` so the planning CLI stays small; ``cli`` only calls
:func:`add_parsers` and looks handlers up in :data:`HANDLERS`. A Slurm command that fails
(``sbatch`` refuses a job, the controller does not answer) exits with
:data:`EXIT_SLURM` and one line naming the job and Slurm's message; what succeeded before is
in the ledger, so running the command again continues.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

from greenslot import __version__
from greenslot.cli import forecast as cli_forecast
from greenslot.cli.args import SOLVER_NAMES, add_solve_options
from greenslot.cli.jsonout import add_json_option, emit, say_for
from greenslot.slurm.commands import SlurmError

QUEUE_MARKER = "greenslot:queue"
""":data:`greenslot.slurm.intake.DEFAULT_MARKER`, copied so --help need not import the queue
code (tests/test_startup.py keeps them equal)."""

EXIT_SLURM = 4


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    """Register ``submit`` and ``sync`` on the main parser's sub-commands."""
    s = verbs.add_parser("submit", help="submit a written plan to Slurm, each job exactly once")
    s.add_argument("plan_dir", type=Path, help="folder written by greenslot plan")
    add_json_option(s, "the Slurm ids submitted and the jobs skipped")

    w = verbs.add_parser("power", help="apply a plan's node power actions due now (suspend "
                         "idle nodes, resume them before their next job); run it from a timer")
    w.add_argument("plan_dir", type=Path, help="folder written by greenslot plan or sync")
    w.add_argument("--apply", action="store_true",
                   help="run the scontrol updates (without: print what would change)")
    w.add_argument("--at", type=_utc_time, default=None, metavar="TIME",
                   help="act as if it were this ISO 8601 time with offset (default: now)")
    add_json_option(w, "the plan's power actions and what changed")

    r = verbs.add_parser("ran", help="what Slurm actually ran of a plan (sacct), priced on "
                         "actual signals, against what the plan said")
    r.add_argument("scenario", help="the scenario the plan was made for")
    r.add_argument("plan_dir", type=Path, help="the plan folder submitted with greenslot submit")
    r.add_argument("--actual", type=Path, default=None, metavar="ACTUAL.csv",
                   help="actual signals of one site, as for evaluate (default: the scenario's)")
    r.add_argument("--site", default=None, help="the site --actual is for (several sites)")
    add_json_option(r, "the comparison")
    r.add_argument("--html", type=Path, default=None, metavar="FILE",
                   help="also write the comparison as an HTML report")
    r.add_argument("--history", type=Path, default=None, metavar="FILE",
                   help="add every completed run to this duration history CSV (created if "
                        "missing; runs already in it are not added twice), for the scenario "
                        "key duration_history to learn run times from")

    y = verbs.add_parser("sync", help="re-plan against the live Slurm queue; move pending jobs")
    y.add_argument("scenario", help="scenario.yaml or the folder holding it")
    y.add_argument("--out", required=True, type=Path, help="folder to write the new plan into")
    y.add_argument("--replace", action="store_true",
                   help="replace --out even when it holds files greenslot did not write")
    y.add_argument("--apply", action="store_true",
                   help="run the scontrol updates (without: print what would change)")
    y.add_argument("--solver", default="greedy", choices=SOLVER_NAMES,
                   help="as for plan (default greedy)")
    add_solve_options(y)
    y.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="what-if edit of the scenario, as with plan (repeatable; recorded in "
                        "summary.json)")
    cli_forecast.add_plan_options(y)
    y.add_argument("--queue", action="store_true",
                   help="also plan the pending jobs users submitted into the opt-in set "
                        "(comment marker, optionally partition and QOS) and move them in place")
    y.add_argument("--queue-marker", default=QUEUE_MARKER, metavar="TEXT",
                   help=f"comment that opts a pending job in (default {QUEUE_MARKER})")
    y.add_argument("--queue-partition", default=None, metavar="NAME",
                   help="opt-in set: only pending jobs of this partition")
    y.add_argument("--queue-qos", default=None, metavar="NAME",
                   help="opt-in set: only pending jobs of this QOS")
    y.add_argument("--foreign-workload", default="default", metavar="WORKLOAD",
                   help="curve workload that prices others' running jobs (default: default; "
                        "a GPU type without it uses its first workload)")
    add_json_option(y, "the new plan's id, counts, changes, moves and notes")


def _utc_time(text: str) -> float:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset")
    return when.timestamp()


def _cmd_submit(args) -> int:
    from greenslot.slurm.submit import submit_plan

    try:
        report = submit_plan(args.plan_dir, say=say_for(args))
    except SlurmError as exc:
        print(f"greenslot: slurm: {exc} ({_recorded(args.plan_dir)}; run again to continue)",
              file=sys.stderr)
        return EXIT_SLURM
    if args.json:
        emit({"plan_id": report.plan_id, "submitted": report.submitted,
              "skipped": report.skipped, "reservations": report.reservations,
              "power": report.power})
        return 0
    print(f"plan {report.plan_id}: {len(report.submitted)} submitted, "
          f"{len(report.skipped)} already in Slurm")
    return 0


def _cmd_power(args) -> int:
    from greenslot.slurm.power import apply_power, read_actions
    from greenslot.slurm.submit import read_plan_data

    data = read_plan_data(args.plan_dir)
    actions = read_actions(data)
    now = time.time() if args.at is None else args.at
    try:
        done = apply_power(actions, now, say=say_for(args), dry_run=not args.apply)
    except SlurmError as exc:
        print(f"greenslot: slurm: {exc}", file=sys.stderr)
        return EXIT_SLURM
    if args.json:
        emit({"plan_id": data["plan_id"], "actions": len(actions),
              "nodes": sorted({a.node for a in actions}), "applied": args.apply,
              "changed": done})
        return 0
    print(f"plan {data['plan_id']}: {len(actions)} power action(s) on "
          f"{len({a.node for a in actions})} node(s); {len(done)} node(s) "
          f"{'changed' if args.apply else 'to change (run with --apply)'} now")
    return 0


def _cmd_ran(args) -> int:
    from greenslot.analysis.evaluate import with_actual
    from greenslot.analysis.realised import realise, realised_html, realised_table
    from greenslot.atomic import write_text
    from greenslot.forecasts.scenario_loading import load_scenario
    from greenslot.model.csvfile import read_strict_csv
    from greenslot.model.errors import Location, ScenarioError
    from greenslot.slurm.intake import QUEUE_PREFIX
    from greenslot.slurm.ledger import Ledger, ledger_path
    from greenslot.slurm.sacct import read_runs
    from greenslot.slurm.submit import read_plan_data

    scenario = load_scenario(args.scenario)
    source = "scenario signals"
    if args.actual is not None:
        scenario, site, _ = with_actual(scenario, args.site, args.actual, str(args.actual))
        source = f"actual signals of {site} from {args.actual}"
    plan_id = read_plan_data(args.plan_dir)["plan_id"]
    schedule_path = args.plan_dir / "schedule.csv"
    if not schedule_path.is_file():
        raise ScenarioError("bad_plan", Location(str(schedule_path), None, None),
                            "plan file not found")
    frame = read_strict_csv(schedule_path, str(schedule_path), check="bad_plan")
    for column in ("job_id", "start", "end", "gpus", "power_w", "energy_kwh", "carbon_kg", "cost"):
        if column not in frame.columns:
            raise ScenarioError("bad_plan", Location(str(schedule_path), "line 1", column),
                                "required column is missing")
    rows = frame.to_dict("records")
    entries = Ledger(ledger_path(args.plan_dir)).entries()
    ids = {job: slurm_id for job, slurm_id, plan in entries if plan == plan_id}
    # Jobs the plan took from the queue keep their Slurm id in their name (slurm-<id>).
    ids |= {row["job_id"]: row["job_id"].removeprefix(QUEUE_PREFIX) for row in rows
            if row["job_id"].startswith(QUEUE_PREFIX)
            and row["job_id"].removeprefix(QUEUE_PREFIX).isdigit()}
    try:
        records = read_runs(ids.values())
    except SlurmError as exc:
        print(f"greenslot: slurm: {exc} (ran reads Slurm's accounting: slurmdbd and sacct)",
              file=sys.stderr)
        return EXIT_SLURM
    result = realise(scenario, plan_id, rows, ids, records, f"sacct; {source}")
    history: dict | None = None
    left_out: list[str] = []
    if args.history is not None:
        from greenslot.analysis.run_history import add_to_history, past_runs

        runs, left_out = past_runs(scenario, rows, result, records)
        added = add_to_history(args.history, runs)
        history = {"file": str(args.history), "added": added,
                   "already_there": len(runs) - added, "left_out": left_out}
    if args.json:
        emit(result.as_dict() | ({"history": history} if history is not None else {}))
    else:
        print(f"plan {plan_id}: {len(result.jobs)} submitted job(s), from sacct, priced on "
              f"{source}")
        print(realised_table(result))
    if history is not None:
        print(f"greenslot: history {args.history}: {history['added']} run(s) added, "
              f"{history['already_there']} already there, {len(left_out)} left out",
              file=sys.stderr)
        for why in left_out:
            print(f"greenslot:   not added: {why}", file=sys.stderr)
    if args.html is not None:
        write_text(args.html, realised_html(result))
    return 0


def _recorded(plan_dir: Path) -> str:
    """What the ledger holds for the plan in ``plan_dir``, for a failed submit's message."""
    from greenslot.slurm.ledger import Ledger, ledger_path
    from greenslot.slurm.submit import read_plan_data

    try:
        plan_id = read_plan_data(plan_dir)["plan_id"]
    except Exception:  # the message must not fail: the plan files were read before
        return "see the ledger for what was submitted"
    count = len(Ledger(ledger_path(plan_dir)).ids(plan_id))
    if count == 0:
        return "nothing of this plan has been submitted"
    return f"{count} job{'s' if count != 1 else ''} of this plan submitted, in the ledger"


def _cmd_sync(args) -> int:
    from greenslot.analysis.whatif import load_with_overrides, parse_override
    from greenslot.pipeline.files import check_plan_folder, write_plan
    from greenslot.pipeline.steps import plan
    from greenslot.slurm.foreign import read_foreign_load, with_foreign_load
    from greenslot.slurm.intake import Intake, OptIn, apply_moves, queue_moves, take_queue
    from greenslot.slurm.sync import apply_changes, planned_changes, read_live, record_known
    from greenslot.solvers.types import SolveOptions

    check_plan_folder(args.out, args.replace)
    scenario = load_with_overrides(args.scenario, [parse_override(o) for o in args.overrides],
                                   cli_forecast.plan_source(args))
    failed: dict[str, str] = {}
    try:
        live, state = read_live(scenario, plan_dir=args.out)
        queue = state.queue
        ours = frozenset(j.slurm_id for group in (state.running, state.pending, state.finished)
                         for j in group.values())
        intake = Intake()
        if args.queue:
            opt_in = OptIn(args.queue_marker, args.queue_partition, args.queue_qos)
            live, intake = take_queue(live, queue, opt_in, ours)
        planned = ours | {j.slurm_id for j in intake.jobs.values()}
        live, load_notes = with_foreign_load(live, read_foreign_load(queue, planned),
                                             args.foreign_workload)
        result = plan(live, solver=args.solver,
                      options=SolveOptions(time_limit_s=args.time_limit, threads=args.threads,
                                           gap=args.gap))
        write_plan(result, args.out, __version__, replace=args.replace)
        record_known(result.schedule, result.plan_id, state, args.out)
        say = say_for(args)
        notes = [*state.notes, *load_notes]
        queue_lines = list(intake.lines())
        placed = {a.job_id for a in result.schedule.assignments}
        notes += [f"{name} (Slurm job {live_job.slurm_id}) is not placed by the new plan; "
                  "left as it is in Slurm" for name, live_job in sorted(state.pending.items())
                  if name not in placed]
        queue_lines += [f"Slurm job {live_job.slurm_id} ({job_id}) is not placed by the plan; "
                        "left as it is in Slurm" for job_id, live_job in sorted(intake.jobs.items())
                        if job_id not in placed]
        for note in notes:
            say(f"note: {note}")
        for line in queue_lines:
            say(f"queue: {line}")
        changes = planned_changes(result.scenario, result.schedule, result.plan_id, state)
        moves = queue_moves(result.scenario, result.schedule, result.plan_id, intake)
        if args.apply:
            apply_changes(changes, say=say)
            failed = apply_moves(moves, say=say)
        else:
            for change in changes:
                say(f"would update {change}")
            for move in moves:
                say(f"would move {move}")
    except SlurmError as exc:
        print(f"greenslot: slurm: {exc}", file=sys.stderr)
        return EXIT_SLURM
    if args.json:
        emit({"plan_id": result.plan_id, "plan_dir": args.out, "applied": args.apply,
              "running": len(state.running), "pending": len(state.pending),
              "changes": [str(c) for c in changes], "moves": [str(m) for m in moves],
              "queued": len(intake.jobs), "failed_moves": failed, "notes": notes,
              "queue": queue_lines, "placed": len(result.schedule.assignments),
              "unplaced": [u.job_id for u in result.schedule.unplaced]})
    else:
        queued = (f", {len(moves) - len(failed)} of {len(intake.jobs)} queued jobs "
                  f"{'moved' if args.apply else 'to move'}" if args.queue else "")
        print(f"plan {result.plan_id}: {len(state.running)} running (pinned), "
              f"{len(state.pending)} pending in Slurm, {len(changes)} "
              f"{'moved' if args.apply else 'to move (run with --apply)'}{queued}; "
              f"submit new jobs with: greenslot submit {args.out}")
    if failed:
        print(f"greenslot: slurm: {len(failed)} queued job(s) not moved (see above); run again",
              file=sys.stderr)
        return EXIT_SLURM
    return 0


HANDLERS = {"submit": _cmd_submit, "sync": _cmd_sync, "power": _cmd_power, "ran": _cmd_ran}
