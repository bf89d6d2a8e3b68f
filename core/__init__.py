"""greenslot: plan when, where and at what GPU power setting ML training jobs run.

The pipeline reads as one function, :func:`greenslot.pipeline.steps.plan`:
load -> solve -> validate -> account -> write, each step public.
"""

from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.pipeline.steps import Plan, plan

__version__ = "0.1.0"
__all__ = ["Plan", "__version__", "load_scenario", "plan"]
