"""CLI verbs about trusting a plan: ``evaluate`` (a written plan priced on actual signals).

Kept in its own module so :mod:`greenslot.cli` only registers it: ``add_parsers`` adds the
verbs, ``HANDLERS`` maps each verb to its handler. Errors propagate as the typed errors that
``greenslot.cli.main`` maps to exit codes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from greenslot.evaluate import evaluate_plan, evaluation_table
from greenslot.model.loader import load_scenario
from greenslot.model.validator import validate
from greenslot.plan_files import read_plan
from greenslot.solvers.registry import SOLVERS

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
    e.add_argument("--hindsight", choices=sorted(SOLVERS), default=None, metavar="SOLVER",
                   help="also plan with this solver on the actual signals (perfect foresight)")
    e.add_argument("--json", action="store_true", help="print the evaluation as JSON")


def _cmd_evaluate(args: argparse.Namespace) -> int:
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
        print(json.dumps(evaluation.as_dict(), indent=2))
    else:
        print(f"plan {on_disk.summary.get('plan_id', '?')} on actual signals from "
              f"{args.actual} (site {evaluation.site})")
        print(evaluation_table(evaluation))
    return EXIT_OK


HANDLERS = {"evaluate": _cmd_evaluate}
