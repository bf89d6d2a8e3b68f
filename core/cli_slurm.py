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

from greenslot.slurm.commands import SlurmError
from greenslot.slurm.submit import submit_plan

EXIT_SLURM = 4


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    """Register ``submit`` (and ``sync``) on the main parser's sub-commands."""
    s = verbs.add_parser("submit", help="submit a written plan to Slurm, each job exactly once")
    s.add_argument("plan_dir", type=Path, help="folder written by greenslot plan")


def _say(line: str) -> None:
    print(line, flush=True)


def _cmd_submit(args) -> int:
    try:
        report = submit_plan(args.plan_dir, say=_say)
    except SlurmError as exc:
        print(f"greenslot: slurm: {exc} (submitted jobs are in the ledger; run again to "
              "continue)", file=sys.stderr)
        return EXIT_SLURM
    print(f"plan {report.plan_id}: {len(report.submitted)} submitted, "
          f"{len(report.skipped)} already in Slurm")
    return 0


HANDLERS = {"submit": _cmd_submit}
