"""Fixtures and hooks shared by every test folder.

Helpers and Hypothesis strategies are modules of ``tests/helpers/``, imported as
``from tests.helpers.scenarios import write_scenario``; ``tests`` is a package and pytest puts
the repository root on ``sys.path`` (``pythonpath`` in pyproject.toml).
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slurm`` every test that uses the local Slurm, so ``-m "not slurm"`` never starts it.

    The marker follows from the fixture (``slurm`` and ``slurm_cluster`` in
    tests/slurm/conftest.py) rather than from a decorator someone could forget.
    """
    for item in items:
        if "slurm_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slurm)
