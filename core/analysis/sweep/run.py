"""Run a sweep: one plan per grid point on Dask, then ``sweep.csv``, ``pareto.png`` and the
plans, all written at once.

Every point's scenario is loaded (and so checked) here before anything runs, so a bad value
fails the sweep in a second with one line, not after an hour with a half-written folder.
Workers load the scenario from its path, solve, and send the plan files back as bytes; only
this process writes, so workers need to read the scenario but never to write to ``out``.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from greenslot.analysis.sweep.cluster import ClusterSpec, open_client
from greenslot.analysis.sweep.grid import Axis, grid_points
from greenslot.analysis.whatif import Override, load_with_overrides
from greenslot.atomic import check_target, staged_folder
from greenslot.model.accounting import TOTAL_KEYS
from greenslot.model.errors import GreenslotError, InfeasibleError
from greenslot.model.scenario import Objective


@dataclass(frozen=True)
class PointResult:
    """What a worker sends back: one CSV row's figures and the plan's files."""

    row: dict
    files: dict[str, tuple[bytes, int]]


def solve_point(scenario_path: str, overrides: Sequence[tuple[str, str, str]],
                objective: Objective | None, solver: str, options: dict,
                version: str) -> PointResult:
    """Plan one point (runs on a Dask worker).

    Domain errors come back as a row with ``status`` and ``error`` (our exception types do not
    survive pickling, and one infeasible point should not hide the others).
    """
    from greenslot.pipeline.files import write_plan
    from greenslot.pipeline.steps import FallbackWarning, plan
    from greenslot.solvers.types import SolveOptions

    edits = [Override(key, text, flag) for key, text, flag in overrides]
    try:
        scenario = load_with_overrides(scenario_path, edits)
        if objective is not None:
            scenario = scenario.with_objective(objective)
        with warnings.catch_warnings():
            # a worker's stderr is no place for it: the row's solver column names the one used
            warnings.simplefilter("ignore", FallbackWarning)
            result = plan(scenario, solver=solver, options=SolveOptions(**options))
    except GreenslotError as exc:
        status = "infeasible" if isinstance(exc, InfeasibleError) else "error"
        return PointResult({"status": status, "error": str(exc)}, {})
    ends = [a.end_slot for a in result.schedule.assignments]
    row = {
        "status": str(result.result.status), "solver": result.result.solver,
        "objective_value": result.objective,
        **{key: result.accounting.totals[key] for key in TOTAL_KEYS},
        "placed": len(result.schedule.assignments), "unplaced": len(result.schedule.unplaced),
        "makespan_h": max(ends, default=0) * scenario.grid.slot_hours,
        "solve_seconds": result.result.solve_seconds, "error": "",
    }
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "plan"
        write_plan(result, target, version)
        files = {p.name: (p.read_bytes(), p.stat().st_mode & 0o777) for p in target.iterdir()}
    return PointResult(row, files)


SWEEP_OWNED = ("sweep.csv", "pareto.png", "points")
"""What a sweep writes in its folder; a folder holding anything else is not replaced unasked."""


@dataclass(frozen=True)
class Sweep:
    """The grid's table (one row per point) and where it was written."""

    table: pd.DataFrame
    out_dir: Path


def check_points(scenario_path: str | Path, fixed: Sequence[Override],
                 points: Sequence[Sequence[Override]]) -> None:
    """Load every point's scenario, raising the first :class:`ScenarioError` found."""
    for point in points:
        load_with_overrides(scenario_path, [*fixed, *point])


def _label(point: Sequence[Override]) -> str:
    return ", ".join(f"{o.key.rsplit('.', 1)[-1]}={o.text}" for o in point)


def run_sweep(scenario_path: str | Path, axes: Sequence[Axis], fixed: Sequence[Override],
              out_dir: str | Path, cluster: ClusterSpec, solver: str, options: dict,
              version: str, objective: Objective | None = None,
              on_point_done: Callable[[], None] = lambda: None,
              replace: bool = False) -> Sweep:
    """Check every point, plan them on ``cluster`` and write the sweep folder atomically.

    ``options`` are :class:`~greenslot.solvers.types.SolveOptions` fields; ``on_point_done`` is
    called as each point finishes (a progress bar). An ``out_dir`` holding what a sweep does
    not write is refused first (:class:`~greenslot.atomic.TargetError`) unless ``replace``.
    """
    check_target(Path(out_dir), SWEEP_OWNED, replace)  # before any point is planned
    scenario_path = str(Path(scenario_path).resolve())
    points = grid_points(axes)
    check_points(scenario_path, fixed, points)
    results: dict[int, PointResult] = {}
    with open_client(cluster) as client:
        from distributed import as_completed

        futures = {}
        for i, point in enumerate(points):
            overrides = [(o.key, o.text, o.flag) for o in (*fixed, *point)]
            future = client.submit(solve_point, scenario_path, overrides, objective, solver,
                                   options, version, pure=False)
            futures[future] = i
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            on_point_done()
    rows = []
    for i, point in enumerate(points):
        row = {"point": i, **{o.key: o.text for o in point}, "solver": solver,
               **results[i].row,
               "plan_dir": f"points/{i:03d}" if results[i].files else ""}
        rows.append(row)
    columns = ["point", *[axis.key for axis in axes], "status", "solver", "objective_value",
               *TOTAL_KEYS, "placed", "unplaced", "makespan_h", "solve_seconds", "plan_dir",
               "error"]
    table = pd.DataFrame(rows).reindex(columns=columns)
    table = table.astype({"placed": "Int64", "unplaced": "Int64"})  # counts, blank when failed
    _write(Path(out_dir), table, [results[i] for i in range(len(points))],
           [_label(p) for p in points], replace)
    return Sweep(table, Path(out_dir))


def _write(out_dir: Path, table: pd.DataFrame, results: Sequence[PointResult],
           labels: Sequence[str], replace: bool = False) -> None:
    """Stage everything in a sibling folder, then swap it in for ``out_dir``."""
    with staged_folder(out_dir, owned=SWEEP_OWNED, replace=replace) as staging:
        for i, result in enumerate(results):
            if not result.files:
                continue
            folder = staging / "points" / f"{i:03d}"
            folder.mkdir(parents=True)
            for name, (data, mode) in result.files.items():
                (folder / name).write_bytes(data)
                (folder / name).chmod(mode)
        table.to_csv(staging / "sweep.csv", index=False)
        solved = [i for i, r in enumerate(results) if r.files]
        if solved:
            # Imported here, not at the top: see greenslot.analysis.report.build_report.
            from greenslot.analysis.report.figures import pareto, png_bytes

            points = table.iloc[solved].to_dict("records")
            (staging / "pareto.png").write_bytes(png_bytes(pareto(points,
                                                                  [labels[i] for i in solved])))
