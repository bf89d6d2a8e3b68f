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
from pathlib import Path

from greenslot import __version__
from greenslot.cli.args import SOLVER_NAMES
from greenslot.slurm.commands import SlurmError

EXIT_SLURM = 4


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    """Register ``submit`` and ``sync`` on the main parser's sub-commands."""
    s = verbs.add_parser("submit", help="submit a written plan to Slurm, each job exactly once")
    s.add_argument("plan_dir", type=Path, help="folder written by greenslot plan")

    y = verbs.add_parser("sync", help="re-plan against the live Slurm queue; move pending jobs")
    y.add_argument("scenario", help="scenario.yaml or the folder holding it")
    y.add_argument("--out", required=True, type=Path, help="folder to write the new plan into")
    y.add_argument("--replace", action="store_true",
                   help="replace --out even when it holds files greenslot did not write")
    y.add_argument("--apply", action="store_true",
                   help="run the scontrol updates (without: print what would change)")
    y.add_argument("--solver", default="greedy", choices=SOLVER_NAMES)
    y.add_argument("--time-limit", type=float, default=None, metavar="SECONDS")


def _say(line: str) -> None:
    print(line, flush=True)


def _cmd_submit(args) -> int:
    from greenslot.slurm.submit import submit_plan

    try:
        report = submit_plan(args.plan_dir, say=_say)
    except SlurmError as exc:
        print(f"greenslot: slurm: {exc} ({_recorded(args.plan_dir)}; run again to continue)",
              file=sys.stderr)
        return EXIT_SLURM
    print(f"plan {report.plan_id}: {len(report.submitted)} submitted, "
          f"{len(report.skipped)} already in Slurm")
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
    from greenslot.forecasts.scenario_loading import load_scenario
    from greenslot.pipeline.files import check_plan_folder, write_plan
    from greenslot.pipeline.steps import plan
    from greenslot.slurm.sync import apply_changes, planned_changes, read_live, record_known
    from greenslot.solvers.types import SolveOptions

    check_plan_folder(args.out, args.replace)
    scenario = load_scenario(args.scenario)
    try:
        live, state = read_live(scenario, plan_dir=args.out)
        result = plan(live, solver=args.solver,
                      options=SolveOptions(time_limit_s=args.time_limit))
        write_plan(result, args.out, __version__, replace=args.replace)
        record_known(result.schedule, result.plan_id, state, args.out)
        for note in state.notes:
            print(f"note: {note}")
        placed = {a.job_id for a in result.schedule.assignments}
        for name, live_job in sorted(state.pending.items()):
            if name not in placed:
                print(f"note: {name} (Slurm job {live_job.slurm_id}) is not placed by the new "
                      "plan; left as it is in Slurm")
        changes = planned_changes(result.scenario, result.schedule, result.plan_id, state)
        if args.apply:
            apply_changes(changes, say=_say)
        else:
            for change in changes:
                print(f"would update {change}")
    except SlurmError as exc:
        print(f"greenslot: slurm: {exc}", file=sys.stderr)
        return EXIT_SLURM
    print(f"plan {result.plan_id}: {len(state.running)} running (pinned), "
          f"{len(state.pending)} pending in Slurm, {len(changes)} "
          f"{'moved' if args.apply else 'to move (run with --apply)'}; "
          f"submit new jobs with: greenslot submit {args.out}")
    return 0


HANDLERS = {"submit": _cmd_submit, "sync": _cmd_sync}
