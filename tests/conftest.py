"""Fixtures shared by every test folder (none yet).

Helpers and Hypothesis strategies are modules of ``tests/helpers/``, imported as
``from tests.helpers.scenarios import write_scenario``; ``tests`` is a package and pytest puts
the repository root on ``sys.path`` (``pythonpath`` in pyproject.toml).
"""
