"""How long loading a big queue takes: 2,000 to 200,000 jobs on the example's cluster or a big one.

Why a script and not a timed test: the time depends on the machine and its load; the goal
(issue 19: 200,000 jobs load in under 20 s on the 2-core development machine) is checked by
running this and reading the table, not by a test that fails on a busy runner.

The jobs are the rows of ``examples/nightly/jobs.csv`` repeated, each copy with its own ids
(``c<k>-<id>``) and its ``depends_on`` renamed to match, so every copy keeps the example's
dependency chains, scripts, sites and deadlines. The "big" cluster adds 2,000 nodes (a copy
of the example's first node group), because per-job checks that scan the nodes made loading
slow only on large clusters. Run::

    python benchmarks/load_jobs.py            # 2k, 20k and 200k jobs, both clusters
    python benchmarks/load_jobs.py 200000     # one size
"""

from __future__ import annotations

import csv
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "nightly"
SIZES = (2_000, 20_000, 200_000)
CLUSTERS = {"example": 0, "big": 2_000}  # extra nodes


def write_queue(folder: Path, n_jobs: int, extra_nodes: int = 0) -> Path:
    """The example scenario in ``folder`` with ``n_jobs`` rows in jobs.csv."""
    shutil.copytree(EXAMPLE, folder)
    if extra_nodes:
        config = yaml.safe_load((folder / "scenario.yaml").read_text())
        group = dict(config["nodes"][0], names=f"xl-[0001-{extra_nodes:04d}]")
        config["nodes"].append(group)
        (folder / "scenario.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    with (EXAMPLE / "jobs.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0])
    with (folder / "jobs.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        for k in range(-(-n_jobs // len(rows))):
            for row in rows:
                if k * len(rows) + rows.index(row) >= n_jobs:
                    break
                copy = dict(row, job_id=f"c{k}-{row['job_id']}")
                if row["depends_on"]:
                    copy["depends_on"] = ";".join(f"c{k}-{d}" for d in
                                                  row["depends_on"].split(";"))
                writer.writerow(copy)
    return folder / "scenario.yaml"


def time_load(n_jobs: int, extra_nodes: int = 0) -> tuple[float, int]:
    """Seconds ``load_scenario`` takes for ``n_jobs`` jobs, and the jobs it loaded."""
    from greenslot.forecasts.scenario_loading import load_scenario

    with tempfile.TemporaryDirectory() as tmp:
        scenario = write_queue(Path(tmp) / "queue", n_jobs, extra_nodes)
        started = time.perf_counter()
        loaded = load_scenario(scenario)
        return time.perf_counter() - started, len(loaded.jobs)


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or list(SIZES)
    print(f"{'cluster':>8} {'nodes+':>7} {'jobs':>8} {'load [s]':>9} {'per job [us]':>13}")
    for cluster, extra in CLUSTERS.items():
        for n in sizes:
            seconds, loaded = time_load(n, extra)
            assert loaded == n, (loaded, n)
            print(f"{cluster:>8} {extra:>7} {n:>8} {seconds:>9.2f} {seconds / n * 1e6:>13.1f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
