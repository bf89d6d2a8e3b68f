"""The real Slurm the tests in this folder run against, started once per test session.

Nothing here is skipped: a machine without Slurm gets it installed (Debian, root), and a
cluster that does not come up fails the tests with its log tails.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.helpers.local_slurm import LocalSlurm

# Node names the Slurm test scenarios use (tests/helpers/slurm.py).
NODES = {"gsnode1": 4, "gsnode2": 4, "gsnode3": 4}
# The shipped prolog/epilog run for every job, so a broken one would fail the job tests.
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "slurm"


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"), dict(NODES),
                         prolog=EXAMPLES / "greenslot-prolog.sh",
                         epilog=EXAMPLES / "greenslot-epilog.sh")
    began = time.monotonic()
    cluster.start()
    cluster.start_seconds = time.monotonic() - began
    yield cluster
    cluster.stop()


@pytest.fixture
def slurm(slurm_cluster, monkeypatch):
    """The cluster with an empty queue, and this process's Slurm clients pointed at it."""
    slurm_cluster.reset()
    monkeypatch.setenv("SLURM_CONF", slurm_cluster.env["SLURM_CONF"])
    monkeypatch.setenv("PATH", slurm_cluster.env["PATH"])
    monkeypatch.delenv("GREENSLOT_LEDGER", raising=False)
    return slurm_cluster
