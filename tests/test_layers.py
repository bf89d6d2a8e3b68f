"""The layers of the package, checked against the code: who may import whom, and no cycles.

Why a test: the README's layer picture is only worth reading if it is true, and one import in
the wrong direction (the model reaching the network, Slurm code importing the pipeline that
calls it) passes every other test. Imports inside functions count too.

The layers, lowest first; a unit may import its own layer's other units only where listed.

    greenslot.atomic                  imports nothing of greenslot
    greenslot.model                   only itself
    greenslot.forecasts               model, atomic
    greenslot.solvers                 model
    greenslot.slurm                   model
    greenslot.power                   model, atomic
    greenslot.pipeline                model, forecasts, solvers, slurm, atomic
    greenslot.analysis                the above
    greenslot.cli                     everything
    greenslot (the package itself)    the public API: forecasts' loader and the pipeline
    greenslot.__main__                the CLI
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"core": "greenslot", "model": "greenslot.model", "solvers": "greenslot.solvers",
           "forecasts": "greenslot.forecasts", "data": "greenslot.data"}

BELOW_PIPELINE = {"greenslot.model", "greenslot.forecasts", "greenslot.solvers",
                  "greenslot.slurm", "greenslot.atomic"}
ALLOWED = {
    "greenslot.atomic": set(),
    "greenslot.model": set(),
    "greenslot.forecasts": {"greenslot.model", "greenslot.atomic"},
    "greenslot.solvers": {"greenslot.model"},
    "greenslot.slurm": {"greenslot.model"},
    "greenslot.power": {"greenslot.model", "greenslot.atomic"},
    "greenslot.pipeline": BELOW_PIPELINE,
    "greenslot.analysis": BELOW_PIPELINE | {"greenslot.pipeline"},
    "greenslot.cli": BELOW_PIPELINE | {"greenslot.pipeline", "greenslot.analysis",
                                       "greenslot.power", "greenslot"},
    "greenslot": {"greenslot.forecasts", "greenslot.pipeline"},
    "greenslot.__main__": {"greenslot.cli"},
    "greenslot.data": set(),
}


def _modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    found = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            found[".".join((package, *parts))] = path
    return found


def _imports(path: Path) -> set[str]:
    """The greenslot modules ``path`` imports, at any depth (``from X import y``: X.y if a
    module, else X)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return {n for n in names if n.split(".")[0] == "greenslot"}


def _layer(module: str) -> str:
    """The layer a module belongs to (the most specific key of :data:`ALLOWED`), or "" when
    none is listed (the package itself holds no module but its ``__init__``)."""
    return max((key for key in ALLOWED if module == key
                or (key != "greenslot" and module.startswith(key + "."))), key=len, default="")


def _unit(module: str, modules: dict[str, Path]) -> str:
    """The subpackage a module belongs to (a top-level module counts as its own unit)."""
    parts = module.split(".")
    for depth in range(len(parts), 0, -1):
        name = ".".join(parts[:depth])
        if name in modules and modules[name].name == "__init__.py" and name != module:
            return name
    return module if modules[module].name == "__init__.py" else ".".join(parts[:-1])


def _edges() -> dict[str, set[str]]:
    modules = _modules()
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges[name] = {n for n in _imports(path) if n in modules and n != name}
    return edges


def test_every_import_points_down_the_layers():
    wrong = []
    for module, targets in _edges().items():
        layer = _layer(module)
        for target in targets:
            other = _layer(target)
            if other != layer and other not in ALLOWED.get(layer, ()):
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_no_cycle_between_subpackages():
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, targets in _edges().items():
        unit = _unit(module, modules)
        graph.setdefault(unit, set()).update(
            u for u in (_unit(t, modules) for t in targets) if u != unit
            and not unit.startswith(u + ".") and not u.startswith(unit + "."))
    cycles = []
    state: dict[str, int] = {}

    def visit(unit: str, path: list[str]) -> None:
        state[unit] = 1
        for nxt in sorted(graph.get(unit, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[unit] = 2

    for unit in sorted(graph):
        if unit not in state:
            visit(unit, [unit])
    assert cycles == []


def test_the_layers_cover_every_module():
    assert [m for m in _modules() if not _layer(m)] == []
