"""Dropping dominated modes, fitting between measured limits, and atomic curve writing."""

from __future__ import annotations

import pytest

from greenslot.cli import main
from greenslot.power.curves import CurveError, CurveRow, drop_dominated, fit_between_measured
from greenslot.power.curves.fit import step_limits
from greenslot.power.curves.table import read_curve, write_curve

# energy per unit of work (power / throughput): 100 W -> 100, 150 W -> 100/0.8=125 ...
ROWS = [
    CurveRow("w", 100, 80.0, 0.8),    # 100 per unit of work
    CurveRow("w", 150, 110.0, 0.8),   # as fast as 100 W, more energy: dominated
    CurveRow("w", 200, 135.0, 0.9),   # 150
    CurveRow("w", 250, 200.0, 1.0),   # 200
    CurveRow("w", 300, 210.0, 1.0),   # as fast as 250 W, more energy: dominated
]


def test_drop_dominated_keeps_exactly_the_pareto_front():
    kept = drop_dominated(ROWS)
    assert [r.power_limit_w for r in kept] == [100, 200, 250]


def test_min_modes_adds_back_the_least_energy_dominated_rows():
    kept = drop_dominated(ROWS, min_modes=4)
    assert [r.power_limit_w for r in kept] == [100, 150, 200, 250]  # 137.5 < 210 per work


def test_fit_interpolates_linearly_between_neighbours():
    fitted = fit_between_measured(ROWS, [225, 260])
    by_limit = {r.power_limit_w: r for r in fitted}
    assert by_limit[225] == CurveRow("w", 225, 167.5, 0.95)   # halfway 200..250
    assert by_limit[260] == CurveRow("w", 260, 202.0, 1.0)    # a fifth of 250..300
    assert len(fitted) == len(ROWS) + 2


def test_fit_refuses_to_extrapolate():
    with pytest.raises(CurveError, match="outside the measured limits 100-300 W"):
        fit_between_measured(ROWS, [350])
    assert step_limits(ROWS, 40) == [120, 160, 200, 240, 280]


def test_write_curve_is_checked_and_atomic(tmp_path):
    path = tmp_path / "c.csv"
    write_curve(ROWS, path)
    before = path.read_text()
    assert read_curve(path) == sorted(ROWS, key=lambda r: (-r.relative_throughput, r.power_w))
    # No row at throughput 1: the planner's loader rejects it, the old file stays.
    with pytest.raises(Exception, match="fastest row must have relative_throughput 1"):
        write_curve([CurveRow("w", 100, 80.0, 0.8)], path)
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv"]


def test_cli_fit_and_prune(tmp_path):
    src = tmp_path / "in.csv"
    write_curve(ROWS, src)
    fitted = tmp_path / "fit.csv"
    assert main(["curves", "fit", str(src), "--out", str(fitted), "--step", "25"]) == 0
    assert sorted(r.power_limit_w for r in read_curve(fitted)) == [100, 125, 150, 175, 200, 225,
                                                                     250, 275, 300]
    pruned = tmp_path / "pruned.csv"
    assert main(["curves", "prune", str(fitted), "--out", str(pruned)]) == 0
    # 125 and 275 W (interpolated) are dominated like their measured neighbours 150 and 300 W.
    assert {r.power_limit_w for r in read_curve(pruned)} == {100, 175, 200, 225, 250}
    assert main(["curves", "fit", str(src), "--out", str(fitted), "--limits", "400"]) == 2


def test_out_naming_a_folder_is_one_clear_error(tmp_path, capsys):
    src = tmp_path / "in.csv"
    write_curve(ROWS, src)
    assert main(["curves", "prune", str(src), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a folder" in err[0]
