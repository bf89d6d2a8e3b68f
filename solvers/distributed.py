"""The Lagrangian pricing on Dask workers: the same prices, the same answer, more cores.

Why Dask: each round of the subgradient ascent prices every (job, pool, mode) family under the
round's multipliers, and each family's cheapest start depends only on the prices and its own
data. At fleet scale (240,000 families x 192 slots) that pricing is most of a round, and it
splits into independent blocks. The blocks go to the workers once (:meth:`DaskPricer.start`);
each round sends only the prices (a few pools x slots arrays) and gathers, per family, the
cheapest cost and start.

The result is identical to pricing in this process, bit for bit: every block is priced by the
same function (:func:`greenslot.solvers.lagrange.price_blocks`), row by row, and the answers
are joined in family order, whichever worker finishes first. So the bound, the runs each job
prefers, the rounding and the plan do not depend on the cluster or its size.

The client is the caller's (``greenslot plan --dask``, see :mod:`greenslot.cli`): this module
never starts or closes a cluster and imports nothing of Dask itself.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import numpy as np

from greenslot.solvers.lagrange import FamilyBlock, Prices, join_priced, price_blocks

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

TASKS_PER_WORKER = 2
"""Bundles per worker: more than one lets a fast worker take over a slow one's share, few
enough that Dask's per-task overhead (about a millisecond) stays small against the pricing."""


class DaskPricer:
    """Prices family blocks on the workers of a ``distributed.Client``."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.bundles: list[Any] = []       # futures of lists of consecutive blocks

    def workers(self) -> int:
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def start(self, blocks: list[FamilyBlock]) -> None:
        """Send the blocks to the workers once, in consecutive bundles."""
        n = min(len(blocks), TASKS_PER_WORKER * self.workers())
        if n == 0:
            self.bundles = []
            return
        edges = np.linspace(0, len(blocks), n + 1).round().astype(int)
        bundles = [blocks[a:b] for a, b in itertools.pairwise(edges.tolist())]
        self.bundles = self.client.scatter(bundles)
        logger.info("Lagrangian pricing on %d Dask workers, %d bundles of %d blocks",
                    self.workers(), n, len(blocks))

    def price(self, prices: Prices) -> tuple[np.ndarray, np.ndarray]:
        """Every family's cheapest cost and start, joined in family order."""
        if not self.bundles:
            return join_priced([])
        shared = self.client.scatter(prices, broadcast=True, hash=False)
        tasks = self.client.map(price_blocks, self.bundles, prices=shared, pure=False)
        parts = self.client.gather(tasks)
        return join_priced(list(parts))
