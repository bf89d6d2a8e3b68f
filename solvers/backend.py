"""The interface of a backend: a solver of the shared linear model (HiGHS, CP-SAT).

The exact pipeline (:mod:`greenslot.solvers.exact`) builds one
:class:`~greenslot.solvers.linear.LinearModel` and hands it to a backend with the time left
and a complete warm start; a backend answers in our own :class:`BackendAnswer`, never in its
library's objects, so the driver judges every backend alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from greenslot.solvers.linear import LinearModel
from greenslot.solvers.types import SolveOptions


@dataclass(frozen=True)
class BackendAnswer:
    """What a backend found: the best vector (or None), its objective and a proven bound.

    ``bound_slack`` is how much the bound was lowered to stay proven despite the backend's
    own rounding (CP-SAT's integer scaling); optimality is judged up to it.
    """

    values: np.ndarray | None
    objective: float | None
    bound: float | None
    optimal: bool
    build_seconds: float
    solve_seconds: float
    interface: str
    bound_slack: float = 0.0
    reported_objective: float | None = None  # the solver's own figure, to cross-check

    @classmethod
    def skipped(cls, why: str) -> BackendAnswer:
        """The answer of a backend that was not run (``why`` goes to ``interface``)."""
        return cls(values=None, objective=None, bound=None, optimal=False,
                   build_seconds=0.0, solve_seconds=0.0, interface=why)


class Backend(Protocol):
    """Solves ``model`` within ``options`` from the warm start ``start`` (or none).

    ``options.progress`` receives (incumbent, bound) in the model's objective units; a
    backend must not change ``model``.
    """

    def __call__(self, model: LinearModel, options: SolveOptions,
                 start: np.ndarray | None) -> BackendAnswer: ...
