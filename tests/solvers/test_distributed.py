"""The Lagrangian pricing split into blocks, in this process and on Dask workers: the same
bound, the same preferred runs and the same rounded plan as pricing everything at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from greenslot.analysis.sweep import ClusterSpec
from greenslot.analysis.sweep.cluster import open_client
from greenslot.cli import main
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.model.schedule import Schedule, Unplaced
from greenslot.model.validator import validate
from greenslot.solvers.distributed import DaskPricer
from greenslot.solvers.lagrange import LagrangianBound
from greenslot.solvers.large import prepared_families
from greenslot.solvers.rounding import round_support

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nightly" / "scenario.yaml"
ROUNDS = 25


def _ascent(scenario, prepared, **kwargs):
    """Bound, multipliers, preferred runs and rounded plan after ROUNDS rounds."""
    prep, families = prepared
    lagrangian = LagrangianBound(prep, families, **kwargs)
    bound, mult, rounds = lagrangian.ascend(float(prep.penalty.sum()), float("inf"),
                                            max_rounds=ROUNDS)
    assert rounds == ROUNDS
    preferred = lagrangian.preferred_columns()
    _, placed, lost = round_support(prep, preferred)
    schedule = Schedule(tuple(placed.values()), tuple(Unplaced(j, "lost") for j in lost))
    assert not validate(scenario, schedule)
    return bound, mult, preferred, placed, lost


def _same(a, b) -> None:
    assert a[0] == b[0]                                          # bound, bit for bit
    for name in ("pi", "rho", "kappa", "sigma"):
        np.testing.assert_array_equal(getattr(a[1], name), getattr(b[1], name))
    assert a[2] == b[2]                                          # preferred runs
    assert a[3] == b[3] and a[4] == b[4]                         # rounded plan


@pytest.mark.slow
def test_pricing_in_small_blocks_gives_what_one_block_gives():
    scenario = load_scenario(EXAMPLE)
    prepared = prepared_families(scenario)
    families = prepared[1].size
    whole = _ascent(scenario, prepared, block_families=families)
    split = _ascent(scenario, prepared, block_families=37)       # uneven last block
    _same(whole, split)


@pytest.mark.dask
@pytest.mark.slow
def test_dask_workers_give_the_local_bound_and_plan():
    scenario = load_scenario(EXAMPLE)
    prepared = prepared_families(scenario)
    local = _ascent(scenario, prepared, block_families=64)
    with open_client(ClusterSpec(kind="local", workers=2)) as client:
        pricer = DaskPricer(client)
        remote = _ascent(scenario, prepared, block_families=64, pricer_given=pricer)
        assert len(pricer.bundles) == 4                          # spread over both workers
    _same(local, remote)


@pytest.mark.dask
@pytest.mark.slow
def test_plan_with_dask_writes_a_valid_plan(tmp_path, capsys):
    out = tmp_path / "plan"
    code = main(["plan", str(EXAMPLE), "--out", str(out), "--solver", "large",
                 "--time-limit", "20", "--dask", "local:2", "-q"])
    assert code == 0
    assert "lagrangian bound" in capsys.readouterr().out
    assert main(["validate", str(EXAMPLE), str(out)]) == 0


@pytest.mark.parametrize("value", ["local:0", "local:x", "localhost:8786", "tcp://"])
def test_a_bad_dask_address_is_one_line_and_exit_2(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exit_:
        main(["plan", str(EXAMPLE), "--out", str(tmp_path / "p"), "--dask", value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 or "--dask" in err[-1]
    assert "--dask" in err[-1]
    assert not (tmp_path / "p").exists()
