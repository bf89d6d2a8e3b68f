"""Logging: the library configures none; the CLI configures only its own ``greenslot`` logger.

Why it matters (issue 17.2): the CLI once configured the root logger, so any library's record
(Dask's "Worker process still alive after 4.0 seconds, killing" under load) read as
``greenslot: ...`` and landed on the sweep's progress bar and in a test's clean stderr.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "nightly"

LIBRARY_RUN = """
import logging, sys, warnings
warnings.simplefilter("ignore")
from greenslot import load_scenario, plan
result = plan(load_scenario(sys.argv[1]), solver="greedy")
ours = [("root", logging.root), *((name, log) for name, log
        in logging.root.manager.loggerDict.items() if name.split(".")[0] == "greenslot")]
configured = {name: type(h).__name__ for name, log in ours if isinstance(log, logging.Logger)
              for h in log.handlers if not isinstance(h, logging.NullHandler)}
print(configured, logging.root.level)
"""


@pytest.mark.slow
def test_the_library_configures_no_logging():
    done = subprocess.run([sys.executable, "-c", LIBRARY_RUN, str(EXAMPLE)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    # no handler on the root or any greenslot logger; the root at its WARNING default
    assert done.stdout == "{} 30\n"


CLI_WITH_A_CHATTY_LIBRARY = """
import logging, sys
from greenslot.cli import app
from greenslot.pipeline import steps

def plan(*args, **kwargs):
    logging.getLogger("somelib").warning("Worker process still alive after 4.0 seconds")
    logging.getLogger("greenslot.pipeline.steps").warning("our own line")
    raise SystemExit(0)

steps.plan = plan
app.main(sys.argv[1:])
"""


@pytest.mark.slow
def test_the_cli_prefixes_only_its_own_records(tmp_path):
    done = subprocess.run([sys.executable, "-c", CLI_WITH_A_CHATTY_LIBRARY, "plan",
                           str(EXAMPLE), "--out", str(tmp_path / "p"), "-q"],
                          capture_output=True, text=True, timeout=300)
    lines = done.stderr.splitlines()
    assert "greenslot: our own line" in lines
    assert not [line for line in lines if line.startswith("greenslot: Worker")]
