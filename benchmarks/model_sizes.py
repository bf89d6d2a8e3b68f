"""Size of the time-indexed model (rows, variables, non-zeros) of benchmark instances.

Why: capacity rows for CPU cores and memory are added only where nodes declare them and a job
could exceed them; run this on two checkouts to see that a change leaves the model of
instances without such jobs exactly as it was (the MILP and CP-SAT times depend on it).

    python -m benchmarks.model_sizes example S M

prints one table row per instance; the instance files are written to a temporary folder.
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks.instances import INSTANCES, write_instance
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.solvers.formulation import build
from greenslot.solvers.pinned import place_pinned
from greenslot.solvers.prepare import prepare
from greenslot.solvers.state import ClusterState


def model_size(name: str, folder: Path) -> dict[str, int]:
    """Rows, variables, non-zeros and core/memory rows of instance ``name``'s model."""
    scenario = load_scenario(write_instance(name, folder / name))
    state = ClusterState(scenario)
    model, _ = build(prepare(scenario, place_pinned(state), state))
    families = Counter(row.name.split("[", 1)[0] for row in model.rows)
    return {"rows": len(model.rows), "vars": model.n_vars,
            "nonzeros": sum(len(row.indices) for row in model.rows),
            "cpus_rows": families["cpus"], "memory_rows": families["memory"]}


def main(names: list[str]) -> None:
    names = names or ["example", "S", "M"]
    unknown = [n for n in names if n not in INSTANCES]
    if unknown:
        sys.exit(f"unknown instance(s) {', '.join(unknown)}; known: {', '.join(INSTANCES)}")
    print(f"{'instance':<10}{'rows':>10}{'vars':>10}{'nonzeros':>12}{'cpus rows':>11}"
          f"{'memory rows':>13}")
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            size = model_size(name, Path(folder))
            print(f"{name:<10}{size['rows']:>10}{size['vars']:>10}{size['nonzeros']:>12}"
                  f"{size['cpus_rows']:>11}{size['memory_rows']:>13}")


if __name__ == "__main__":
    main(sys.argv[1:])
