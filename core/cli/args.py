"""Argument types and the error wrapper the ``curves`` and ``profile`` verbs share.

Kept apart from ``cli.py`` so those verbs register with one call each and ``cli.py`` stays the
one place that maps the planner's errors to exit codes.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from collections.abc import Callable

from greenslot.model.errors import GreenslotError, ScenarioError

EXIT_USAGE = 2

SOLVER_NAMES = ("auto", "best_window", "cpsat", "fifo", "greedy", "large", "milp")
"""The names in :data:`greenslot.solvers.registry.SOLVERS`, for ``--solver`` choices.

Why a copy: importing the registry loads Pyomo and OR-Tools, which ``greenslot --help`` and
``--version`` must not wait for; ``tests/test_startup.py`` keeps the two lists equal.
"""


def watts_list(text: str) -> list[float]:
    """``150,200,250`` -> ``[150.0, 200.0, 250.0]``: positive numbers, no repeats."""
    values = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of watts: {part!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"power limits must be > 0 W, got {part}")
        if value in values:
            raise argparse.ArgumentTypeError(f"{part} W is listed twice")
        values.append(value)
    return values


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (``inf`` and ``nan`` are refused: no option means "forever")."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def bounded_float(maximum: float, unit: str = "") -> Callable[[str], float]:
    """An argument type: a finite number in ``(0, maximum]``.

    Why a ceiling: a value far past anything useful (``--time-limit 1e300``) is a typo, and
    passed on it reaches a solver as an overflow or a wait without end.
    """

    def parse(text: str) -> float:
        value = positive_float(text)
        if value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:g}{unit}, got {text}")
        return value

    return parse


def bounded_int(maximum: int) -> Callable[[str], int]:
    """An argument type: a whole number in ``[1, maximum]``; ``2.0`` is read as 2."""

    def parse(text: str) -> int:
        value = positive_float(text)
        if value != int(value):
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, got {text}")
        return int(value)

    return parse


MAX_THREADS = 256
"""More solver threads than any machine we plan on has; beyond it a value is a typo."""
MAX_TIME_LIMIT_S = 7 * 24 * 3600.0
"""A week: a nightly plan that may search longer is a typo (and ``inf`` is no limit)."""


def dask_cluster(text: str) -> tuple[str, int]:
    """An argument type: ``local:N`` (N worker processes here) or a scheduler address
    (``tcp://host:8786``), as (kind, workers) for ``ClusterSpec``."""
    if text.startswith("local:"):
        return "local", bounded_int(MAX_THREADS)(text.removeprefix("local:"))
    if "://" in text and text.split("://", 1)[1]:
        return text, 1
    raise argparse.ArgumentTypeError(
        f"must be local:N or a scheduler address like tcp://host:8786, got {text}")


def add_solve_options(p: argparse.ArgumentParser) -> None:
    """``--time-limit``, ``--threads`` and ``--gap``: the same bounds on every verb that plans
    (``plan`` and ``sync``)."""
    p.add_argument("--time-limit", type=bounded_float(MAX_TIME_LIMIT_S, " s"), default=None,
                   metavar="SECONDS",
                   help="stop exact solvers then and keep the best plan found (at most a week)")
    p.add_argument("--threads", type=bounded_int(MAX_THREADS), default=1, metavar="N",
                   help=f"threads for the exact solvers (1 to {MAX_THREADS}, default 1)")
    p.add_argument("--gap", type=positive_float, default=None, metavar="G",
                   help="relative gap at which exact solvers stop (default 1e-4)")


def one_line_errors(*kinds: type[GreenslotError]) -> Callable:
    """Turn the given error types into one ``greenslot: error:`` line and exit code 2.

    ``ScenarioError`` is left to ``cli.main`` so every input check reads the same.
    """

    def wrap(handler: Callable[[argparse.Namespace], int]) -> Callable:
        @functools.wraps(handler)
        def run(args: argparse.Namespace) -> int:
            try:
                return handler(args)
            except ScenarioError:
                raise
            except kinds as exc:
                print(f"greenslot: error: {exc}", file=sys.stderr)
                return EXIT_USAGE

        return run

    return wrap
