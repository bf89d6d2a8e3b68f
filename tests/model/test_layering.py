"""The model layer does no forecast I/O: it imports only itself and reads forecasts it is given.

Why a test: a single lazy import inside a function is enough to let loading a scenario reach a
provider over HTTP again, and it would pass every other test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
from scenario_builder import base_config, write_scenario

from greenslot.model.forecast_spec import SiteForecastRequest, SiteSignals
from greenslot.model.loader import load_scenario
from greenslot.model.scenario import SiteSeries

ROOT = Path(__file__).resolve().parents[2]


def _greenslot_imports(folder: Path) -> list[tuple[str, int, str]]:
    """Every ``greenslot`` module imported anywhere in ``folder`` (functions included)."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else ["<relative>"]
            else:
                continue
            found += [(path.name, node.lineno, name) for name in names
                      if name == "<relative>" or name.split(".")[0] == "greenslot"]
    return found


def test_model_imports_only_the_model():
    outside = [(file, line, name) for file, line, name in _greenslot_imports(ROOT / "model")
               if not name.startswith("greenslot.model")]
    assert outside == []


def test_forecasts_import_nothing_above_the_model():
    allowed = ("greenslot.model", "greenslot.forecasts")
    above = [(file, line, name) for file, line, name in _greenslot_imports(ROOT / "forecasts")
             if not name.startswith(allowed)]
    assert above == []


class _Flat:
    """A stand-in source: the same signals for every site, and a record of what was asked."""

    def __init__(self) -> None:
        self.asked: list[SiteForecastRequest] = []

    def site_signals(self, request: SiteForecastRequest) -> SiteSignals:
        self.asked.append(request)
        n = request.grid.n_slots
        series = SiteSeries(np.full(n, 7.0), np.full(n, 3.0), np.zeros(n))
        return SiteSignals(series, {"carbon_g_per_kwh": {"kind": "stub"}})


def test_loader_takes_signals_from_the_injected_source(tmp_path):
    config = base_config()
    config["sites"][0]["forecast"] = "never-read.csv"
    source = _Flat()

    scenario = load_scenario(write_scenario(tmp_path, config), source)

    [request] = source.asked
    assert (request.site, request.forecast, request.where) == ("s1", "never-read.csv",
                                                                "sites[0]")
    assert request.folder == tmp_path and request.grid == scenario.grid
    assert scenario.series["s1"].carbon_g_per_kwh.tolist() == [7.0] * 4
    assert scenario.forecast_sources == {"s1": {"carbon_g_per_kwh": {"kind": "stub"}}}
