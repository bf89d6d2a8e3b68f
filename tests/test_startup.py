"""``greenslot --help`` and ``--version`` answer at once: no heavy dependency is imported.

Checked by what is imported, not by a timing (the machine may be loaded);
``python -m benchmarks.startup`` prints the times. Issue 17: ``--version`` took 12 s under
load because every verb's dependencies were imported eagerly.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("numpy", "pandas", "matplotlib", "pyomo", "ortools", "highspy", "distributed",
         "dask", "requests", "yaml", "scipy")

PROBE = """
import sys
from greenslot.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = {HEAVY!r}
print(sorted(m for m in heavy if m in sys.modules))
"""


@pytest.mark.parametrize("argv", [
    ["--version"], ["--help"], ["plan", "--help"], ["validate", "--help"], ["sync", "--help"],
    ["submit", "--help"], ["forecast", "fetch", "--help"], ["curves", "--help"],
    ["profile", "--help"], ["report", "--help"], ["sweep", "--help"], ["simulate", "--help"],
    ["evaluate", "--help"], ["compare", "--help"], ["power", "--help"], ["ran", "--help"],
    ["plan"],  # a usage error too
])
def test_help_and_version_import_no_heavy_dependency(argv):
    done = subprocess.run([sys.executable, "-c", PROBE.format(HEAVY=HEAVY), *argv],
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines()[-1] == "[]", done.stdout + done.stderr


def test_the_parsers_name_lists_match_what_they_copy():
    from greenslot.cli.args import SOLVER_NAMES
    from greenslot.cli.forecast import METHOD_NAMES, PROVIDER_NAMES, SIGNAL_NAMES
    from greenslot.forecasts.files import KNOWN_SIGNALS
    from greenslot.forecasts.forecaster import METHODS
    from greenslot.forecasts.registry import PROVIDERS
    from greenslot.solvers.registry import SOLVERS

    assert tuple(sorted(SOLVERS)) == SOLVER_NAMES
    assert tuple(sorted(PROVIDERS)) == PROVIDER_NAMES
    assert tuple(KNOWN_SIGNALS) == SIGNAL_NAMES
    assert tuple(METHODS) == METHOD_NAMES
    from greenslot.cli.slurm import QUEUE_MARKER
    from greenslot.slurm.intake import DEFAULT_MARKER

    assert QUEUE_MARKER == DEFAULT_MARKER


def test_the_package_still_offers_its_api():
    import greenslot

    assert greenslot.load_scenario.__name__ == "load_scenario"
    assert greenslot.plan.__module__ == "greenslot.pipeline.steps"
    assert {"Plan", "load_scenario", "plan"} <= set(dir(greenslot))
    with pytest.raises(AttributeError):
        _ = greenslot.no_such_name
