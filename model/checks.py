"""Named input checks: one raise helper, and the catalogue of check names with what they mean.

Why names: a user (or a script) can look a failure up, and tests assert on the name rather
than on wording. Every failure is a :class:`ScenarioError` carrying file, row and field.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import NoReturn

from greenslot.model.errors import Location, ScenarioError

CHECKS: dict[str, str] = {
    "missing_file": "a file the scenario names does not exist",
    "bad_yaml": "the scenario file is not valid YAML or not a mapping",
    "bad_csv": "a CSV file cannot be parsed",
    "unknown_key": "a key the format does not define (typos are errors, not ignored)",
    "missing_key": "a required key is absent",
    "missing_column": "a required CSV column is absent",
    "unknown_column": "a CSV column the format does not define",
    "bad_type": "a value of the wrong type (text where a number or list is expected...)",
    "bad_number": "a value that is not a finite number, or outside its bounds (the physical "
                  "bounds of every field are in greenslot.model.limits)",
    "too_large": "more nodes, slots, text or YAML structure than any real scenario has",
    "time_out_of_range": "a time before 1970 or from 2200 on",
    "bad_time": "a time that is not ISO 8601",
    "naive_time": "a time without a UTC offset",
    "bad_duration": "a duration pandas cannot read, or not positive",
    "horizon_not_multiple": "the horizon is not a whole number of slots",
    "bad_objective": "an objective that is not carbon, cost, energy or a weight mapping",
    "bad_currency": "a currency that is not a three-letter ISO 4217 code (USD, EUR, GBP)",
    "duplicate_name": "two sites, GPU types, nodes or jobs with the same name",
    "bad_name": "a job_id with characters other than letters, digits and _ . -",
    "bad_hostlist": "a node name expression Slurm would not accept",
    "unknown_site": "a reference to a site the scenario does not define",
    "unknown_gpu_type": "a reference to a GPU type the scenario does not define",
    "unknown_partition": "a job restricted to a partition no node is in",
    "unknown_node": "a pinned job on a node the scenario does not define",
    "unknown_job": "a file (say, simulate's actual durations) names a job the scenario lacks",
    "unknown_workload": "a job whose workload has no power curve on any GPU type it may use",
    "unknown_power_limit": "a fixed power_limit_w that is not a row of the job's curves",
    "bad_curve": "a power curve row out of range, duplicated, or not normalised to 1",
    "deadline_before_release": "a job whose deadline is not after its release",
    "unknown_dependency": "depends_on names a job that does not exist",
    "dependency_cycle": "jobs that depend on each other in a cycle",
    "script_and_command": "a job with both a script and a command",
    "bad_sbatch_arg": "sbatch_args that cannot be read, or set an option greenslot writes itself",
    "gpus_not_whole_nodes": "a job above every usable node's GPU count that is no multiple of one",
    "pinned_incomplete": "pinned_start without pinned_nodes, or the other way round",
    "pinned_not_on_slot": "pinned_start is not on a slot boundary",
    "pinned_nodes_mismatch": "pinned nodes that cannot hold the job (count, GPU type, site)",
    "pinned_outside_horizon": "a pinned job that does not overlap the horizon or runs past it",
    "bad_window": "a maintenance window whose end is not after its start",
    "bad_reservation": "a reservation without nodes or gpus, or more GPUs than its nodes hold",
    "forecast_gap": "part of the horizon has no forecast value",
    "forecast_nan": "an empty forecast value inside the horizon",
    "forecast_not_increasing": "forecast times not strictly increasing",
    "forecast_duplicate_column": "two forecast files of a site give the same signal",
    "negative_signal": "a negative carbon intensity or renewable supply",
    "bad_forecast_source": "a site's forecast provider entry with an unknown key, provider, "
                           "method or region, a bad base_url or a missing history file",
    "bad_plan": "a plan folder (schedule.csv, summary.json) that cannot be read back",
    "bad_override": "a what-if --set/--vary KEY=VALUE that names nothing or cannot be read",
}


def fail(
    check: str, file: str, row: str | None = None, field: str | None = None, message: str = ""
) -> NoReturn:
    """Raise the named check's error. Unknown names are a programming error, caught in tests."""
    if check not in CHECKS:
        raise KeyError(f"unregistered check {check!r}")
    raise ScenarioError(check, Location(file, row, _cut(field, MAX_FIELD_CHARS)),
                        _cut(message, MAX_MESSAGE_CHARS) or CHECKS[check])


MAX_MESSAGE_CHARS = 600
MAX_FIELD_CHARS = 100


def _cut(text: str | None, chars: int) -> str | None:
    """``text`` cut to ``chars``, saying how long it was.

    Why in the one raise helper: a message quotes the value it rejects, and a hostile value
    (a 100,000-character site name in a jobs row) would otherwise flood the terminal with
    the "one line" an input error promises. Real messages stay far below the cut.
    """
    if text is None or len(text) <= chars:
        return text
    return f"{text[:chars]}... ({len(text)} characters)"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` did you mean 'pue'?`` for the closest known name, or ``""`` when none is close.

    Why: most unknown keys, columns and references are typos; naming the intended spelling
    turns a lookup in the docs into a one-character fix.
    """
    close = difflib.get_close_matches(str(word), sorted(set(choices)), n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        close = [lowered[str(word).lower()]] if str(word).lower() in lowered else []
    return f" did you mean {close[0]!r}?" if close else ""
