"""greenslot: plan when, where and at what GPU power setting ML training jobs run.

The pipeline reads as one function, :func:`greenslot.pipeline.steps.plan`:
load -> solve -> validate -> account -> write, each step public.

``load_scenario``, ``plan`` and ``Plan`` are imported on first use (PEP 562): importing
``greenslot`` (which every submodule and ``greenslot --version`` does) must not load pandas,
Pyomo and OR-Tools.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import TYPE_CHECKING, Any

__version__ = version("greenslot")
"""The installed distribution's version: pyproject.toml is the one place it is written."""
__all__ = ["Plan", "__version__", "load_scenario", "plan"]

if TYPE_CHECKING:
    from greenslot.forecasts.scenario_loading import load_scenario
    from greenslot.pipeline.steps import Plan, plan

_LAZY = {"load_scenario": "greenslot.forecasts.scenario_loading",
         "plan": "greenslot.pipeline.steps", "Plan": "greenslot.pipeline.steps"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'greenslot' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
