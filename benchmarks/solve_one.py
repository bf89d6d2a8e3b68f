"""Solve one benchmark instance with one solver and print one JSON line of measurements.

Why a separate process per solve: peak memory (``ru_maxrss``) is per process and never goes
down, and a solver stuck past its time limit can only be stopped from outside. ``benchmarks.run``
starts this module once per (instance, solver) and kills it at a hard wall limit.

    python -m benchmarks.solve_one INSTANCE SOLVER [--time-limit S] [--threads N] [--gap G]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
from collections import Counter

from benchmarks.instances import write_instance
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.accounting import account, objective_value
from greenslot.model.validator import validate
from greenslot.solvers.registry import get_solver
from greenslot.solvers.types import SolveOptions


def measure(instance: str, solver: str, options: SolveOptions) -> dict:
    """Write, load, solve and validate; every figure the runner's table needs, and a few more.

    ``valid`` ignores deadline misses for ``fifo`` only: the contract's baseline ignores
    deadlines by design. They are still counted in ``violations`` and ``deadline_misses``.
    """
    with tempfile.TemporaryDirectory(prefix=f"greenslot-bench-{instance}-") as folder:
        scenario = load_scenario(write_instance(instance, folder))
    result = get_solver(solver)(scenario, options)
    violations = Counter(v.kind for v in validate(scenario, result.schedule))
    excused = {"window"} if solver in ("fifo", "best_window") else set()
    totals = account(scenario, result.schedule).totals
    objective = objective_value(scenario, totals) + result.unplaced_penalty
    gap = None
    if result.bound is not None and objective != 0:
        gap = (objective - result.bound) / abs(objective)
    return {
        "instance": instance,
        "jobs": len(scenario.jobs),
        "nodes": len(scenario.nodes),
        "slots": scenario.grid.n_slots,
        "modes": max(len(modes) for g in scenario.gpu_types for modes in g.curves.values()),
        "solver": solver,
        "status": str(result.status),
        "build_s": float(result.details.get("build_seconds", 0.0)),
        "solve_s": result.solve_seconds,
        "objective": objective,
        "bound": result.bound,
        "gap": gap,
        "placed": len(result.schedule.assignments),
        "unplaced": len(result.schedule.unplaced),
        "carbon_kg": totals["carbon_kg"],
        "valid": not set(violations) - excused,
        "violations": dict(violations),
        "deadline_misses": violations.get("window", 0),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "nonzeros": result.details.get("nonzeros"),
        "plan_from": result.details.get("plan_from"),
        "interface": result.details.get("interface"),
        "backend_s": result.details.get("backend_seconds"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.solve_one")
    parser.add_argument("instance")
    parser.add_argument("solver")
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--gap", type=float, default=None)
    args = parser.parse_args(argv)
    options = SolveOptions(time_limit_s=args.time_limit, threads=args.threads, gap=args.gap)
    print(json.dumps(measure(args.instance, args.solver, options)), flush=True)


if __name__ == "__main__":
    main()
