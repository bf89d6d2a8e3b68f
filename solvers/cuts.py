"""Valid inequalities that close the LP's gap on waking powered-down nodes.

Why: in the LP relaxation a pool's awake-node count ``w[p, t]`` only has to cover GPUs, so a
lone 1-GPU job on a pool of 8-GPU nodes wakes an eighth of a node. On benchmark L, rounding
the LP's ``w`` up alone costs 2.9 kg (0.6 % of the objective): most of the gap between the LP
bound and the plans found. Any job that runs needs a whole node awake, so for every job ``j``,
pool ``p`` and slot ``t``::

    sum(x[c] for single-node columns c of j in pool p covering t) <= w[p, t]

holds for every integer plan. There are jobs x slots x pools of them, so they are separated
from the LP solution (only the violated ones are added) rather than written up front; the
LP with them is still a relaxation of the full problem and its optimum a proven bound.
"""

from __future__ import annotations

import numpy as np

from greenslot.solvers.formulation import Index
from greenslot.solvers.linear import INF, Row
from greenslot.solvers.prepare import Prepared

VIOLATION = 1e-4  # smallest violation worth a row


class WakeCuts:
    """Separates ``job runs in (p, t) => a node of p is awake at t`` for powered-down pools."""

    def __init__(self, prep: Prepared, index: Index) -> None:
        columns = prep.columns
        covered = index.cover_column
        single = np.array([not c.multi_node for c in columns], dtype=bool)
        sleeps = np.array([not prep.pools[c.pool].always_on for c in columns], dtype=bool)
        keep = (single & sleeps)[covered]
        self.column = covered[keep]
        self.slot = index.cover_slot[keep]
        self.pool = np.array([c.pool for c in columns], dtype=np.int64)[self.column]
        self.job = np.array([c.job for c in columns], dtype=np.int64)[self.column]
        self.n_slots, self.n_pools = prep.n_slots, len(prep.pools)
        self.key = (self.job * self.n_pools + self.pool) * self.n_slots + self.slot
        self.x = index.x
        self.w_var = np.full(self.n_pools * self.n_slots, -1, dtype=np.int64)
        for (p, t), var in index.w.items():
            self.w_var[p * self.n_slots + t] = var
        self.added: set[int] = set()

    def separate(self, values: np.ndarray) -> list[Row]:
        """Rows for the (job, pool, slot) triples whose cut ``values`` violates, new ones only."""
        if not len(self.key):
            return []
        running = np.bincount(self.key, weights=values[self.x[self.column]])
        keys = np.nonzero(running > VIOLATION)[0]
        pool_slot = keys % (self.n_pools * self.n_slots)
        w_var = self.w_var[pool_slot]
        ok = w_var >= 0
        keys, w_var = keys[ok], w_var[ok]
        violated = running[keys] > values[w_var] + VIOLATION
        rows = []
        order = np.argsort(self.key, kind="stable")
        sorted_keys = self.key[order]
        for key, w in zip(keys[violated], w_var[violated], strict=True):
            if int(key) in self.added:
                continue
            self.added.add(int(key))
            lo, hi = np.searchsorted(sorted_keys, [key, key + 1])
            xs = self.x[self.column[order[lo:hi]]]
            rows.append(Row(np.append(xs, w), np.append(np.ones(len(xs)), -1.0), -INF, 0.0,
                            name=f"wake[{int(key)}]"))
        return rows
