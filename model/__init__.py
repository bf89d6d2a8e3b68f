"""The planning problem: typed entities, input checks, accounting and the schedule validator.

Submodules are imported explicitly (``from greenslot.model.scenario import Scenario``) so that
importing one piece does not load pandas-heavy loaders it does not need.
"""
