"""Same inputs and options, same files: byte for byte, across processes.

Each run is a separate ``greenslot plan`` process with a different ``PYTHONHASHSEED``, so any
ordering that leans on set or dict iteration of strings would show. ``schedule.csv``,
``submit.sh`` and any other file the plan leaves must be byte-identical; ``summary.json``
must be byte-identical once the values of :data:`greenslot.pipeline.files.RUN_DEPENDENT_KEYS`
(wall-clock timings, which cannot repeat) are set aside, and those keys must be the only place
timings live.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from greenslot.pipeline.files import RUN_DEPENDENT_KEYS
from tests.helpers.scenarios import hourly_forecast
from tests.helpers.trust import FORECAST, Data

# Each test plans the bundled example twice in fresh processes.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def _contended() -> Data:
    """Six jobs, a power cap and a multi-node job: enough ties to expose unstable ordering."""
    data = Data(jobs=[{"job_id": f"j{i}", "gpus": g, "duration_h": h}
                      for i, (g, h) in enumerate([(1, 1), (2, 2), (1, 2), (4, 1), (1, 1),
                                                  (2, 1)])])
    data.config["horizon"] = "6h"
    data.site["power_cap_kw"] = 1.2
    data.forecasts[FORECAST] = hourly_forecast([100, 200, 50, 300, 80, 120, 90])
    return data


def _plan(scenario: Path, out: Path, seed: int, *args: str) -> dict[str, bytes]:
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    done = subprocess.run([sys.executable, "-m", "greenslot", "plan", str(scenario), "--out",
                           str(out), "--quiet", *args], capture_output=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def _stable_summary(raw: bytes) -> tuple[bytes, dict]:
    summary = json.loads(raw)
    timings = {key: summary.pop(key) for key in RUN_DEPENDENT_KEYS}
    return json.dumps(summary, indent=2).encode(), timings


def _assert_identical(first: dict[str, bytes], second: dict[str, bytes]) -> dict:
    assert {"schedule.csv", "submit.sh", "summary.json"} <= set(first)
    assert sorted(first) == sorted(second)
    for name in set(first) - {"summary.json"}:  # every other file, whatever it is
        assert first[name] == second[name], name
    stable_a, _ = _stable_summary(first["summary.json"])
    stable_b, _ = _stable_summary(second["summary.json"])
    assert stable_a == stable_b
    # Nothing else is a timing: no "_seconds" key outside the run-dependent ones.
    assert b"_seconds" not in stable_a
    return json.loads(first["summary.json"])


@pytest.mark.parametrize("args", [
    ("--solver", "greedy"),
    ("--solver", "milp", "--threads", "1"),
    ("--solver", "cpsat", "--threads", "1"),
], ids=lambda a: a[1])
def test_two_runs_give_identical_files(args, tmp_path):
    scenario = _contended().write(tmp_path / "s")
    first = _plan(scenario, tmp_path / "a", 1, *args)
    second = _plan(scenario, tmp_path / "b", 2, *args)
    summary = _assert_identical(first, second)
    assert summary["placed"] == 6
    if args[1] != "greedy":
        assert summary["status"] == "optimal"  # not cut by a time limit, so repeatable


def test_bundled_example_is_repeatable_with_greedy(tmp_path):
    """The realistic 173-job, two-site example, as a nightly run would plan it."""
    example = REPO / "examples" / "nightly"
    first = _plan(example, tmp_path / "a", 11)
    second = _plan(example, tmp_path / "b", 12)
    summary = _assert_identical(first, second)
    assert summary["placed"] > 150
