"""Shared fixtures: tests import the builder from ``tests/scenario_builder.py``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
