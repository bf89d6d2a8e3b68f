"""Solver quality on the instance classes of :mod:`benchmarks.instance_classes`: one table.

    python -m benchmarks.class_table [--instances tou-S,tight-L,...] [--solvers greedy,auto]
                                     [--time-limit 60] [--threads 2]
    python -m benchmarks.class_table --prove --instances tou-tiny,tou-S --time-limit 600

Columns: class, size (jobs x machines x slots), solver, limit, wall s, objective (penalties
of jobs left out included), bound, gap % (objective against the solver's own bound),
unplaced, proven optimum and the objective's distance to it. ``--prove`` runs the MILP with
the given limit instead and, where it proves optimality, records the optimum in
``benchmarks/class_optima.csv`` with the command that proved it; the table reads that file.
Every plan is checked by the independent validator; an invalid one is flagged.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

from benchmarks.instance_classes import CLASS_INSTANCES, write_class_instance
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.accounting import account, objective_value
from greenslot.model.validator import validate
from greenslot.solvers.registry import get_solver
from greenslot.solvers.types import SolveOptions, SolveStatus

OPTIMA = Path(__file__).with_name("class_optima.csv")
X = "\N{MULTIPLICATION SIGN}"
COLUMNS = ("class", f"size (J{X}M{X}T)", "solver", "limit s", "wall s", "objective", "bound",
           "gap %", "unplaced", "proven optimum", "vs optimum %")
DEFAULT_INSTANCES = ",".join(CLASS_INSTANCES)


def solve(name: str, solver: str, limit: float, threads: int) -> dict:
    """Write, load, solve and validate one instance; the row's figures."""
    with tempfile.TemporaryDirectory(prefix=f"greenslot-class-{name}-") as folder:
        scenario = load_scenario(write_class_instance(name, folder))
    began = time.perf_counter()
    result = get_solver(solver)(scenario, SolveOptions(time_limit_s=limit, threads=threads))
    wall = time.perf_counter() - began
    objective = (objective_value(scenario, account(scenario, result.schedule).totals)
                 + result.unplaced_penalty)
    spec = CLASS_INSTANCES[name]
    return {"instance": name, "size": X.join(map(str, (len(scenario.jobs),
                                                        spec.machines, spec.slots))),
            "solver": solver, "limit": limit, "wall": wall, "objective": objective,
            "bound": result.bound, "optimal": result.status == SolveStatus.OPTIMAL,
            "unplaced": len(result.schedule.unplaced),
            "valid": not validate(scenario, result.schedule)}


def read_optima() -> dict[str, float]:
    """Proven optima by instance name (empty when the file is absent)."""
    if not OPTIMA.exists():
        return {}
    with OPTIMA.open() as handle:
        return {row["instance"]: float(row["optimum"]) for row in csv.DictReader(handle)}


def record_optimum(row: dict, command: str) -> None:
    """Add or replace ``row``'s instance in :data:`OPTIMA` (only a proven optimum)."""
    rows = []
    if OPTIMA.exists():
        with OPTIMA.open() as handle:
            rows = [r for r in csv.DictReader(handle) if r["instance"] != row["instance"]]
    rows.append({"instance": row["instance"], "optimum": f"{row['objective']:.9g}",
                 "solver": row["solver"], "wall_s": f"{row['wall']:.1f}", "command": command})
    rows.sort(key=lambda r: list(CLASS_INSTANCES).index(r["instance"]))
    with OPTIMA.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _number(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def table(rows: list[dict], optima: dict[str, float]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        gap = None
        if r["bound"] is not None and r["objective"]:
            gap = 100 * (r["objective"] - r["bound"]) / abs(r["objective"])
        optimum = optima.get(r["instance"])
        versus = None if optimum is None else 100 * (r["objective"] - optimum) / abs(optimum)
        solver = r["solver"] + (" (optimal)" if r["optimal"] else "")
        solver += "" if r["valid"] else ", INVALID"
        cells = [r["instance"].split("-")[0], r["size"], solver, f"{r['limit']:g}",
                 _number(r["wall"], 1), _number(r["objective"]), _number(r["bound"]),
                 _number(gap, 2), str(r["unplaced"]), _number(optimum),
                 _number(versus, 2)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.class_table")
    parser.add_argument("--instances", default=DEFAULT_INSTANCES)
    parser.add_argument("--solvers", default="greedy,auto")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prove", action="store_true",
                        help="run the MILP and record proven optima in class_optima.csv")
    args = parser.parse_args(argv)
    names = [n for n in args.instances.split(",") if n]
    unknown = [n for n in names if n not in CLASS_INSTANCES]
    if unknown:
        parser.error(f"unknown instance {unknown[0]!r}; choose from {DEFAULT_INSTANCES}")
    solvers = ["milp"] if args.prove else [s for s in args.solvers.split(",") if s]
    rows = []
    for name in names:
        for solver in solvers:
            row = solve(name, solver, args.time_limit, args.threads)
            rows.append(row)
            if args.prove and row["optimal"] and row["valid"]:
                record_optimum(row, f"python -m benchmarks.class_table --prove --instances "
                               f"{name} --time-limit {args.time_limit:g} "
                               f"--threads {args.threads}")
    print(table(rows, read_optima()))


if __name__ == "__main__":
    main()
