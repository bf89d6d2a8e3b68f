"""A Lagrangian bound for models too large to write down: price columns in bulk, never list them.

Why: at 2,000 jobs x 256 nodes x 192 slots the time-indexed model has millions of columns and
tens of millions of nonzeros; writing it alone outgrows a nightly run and 8 GB. Its LP bound
can still be had without it. Move the coupling rows (GPUs and nodes per pool and slot, the
facility power cap and the grid-energy rows per site and slot) into the objective with
multipliers; what is left splits into one tiny problem per job (its cheapest column, or being
left out) plus closed-form choices for the awake-node counts. For *any* multipliers of the
right sign that value is a lower bound of the full problem (weak duality); dependencies and
budgets are simply dropped, which only loosens it. Subgradient steps raise it towards the LP
bound, and because a job's subproblem is integral the best reachable value is exactly the
time-indexed LP bound that :mod:`.relaxation` computes on smaller models.

A job's cheapest column under given prices is a sliding-window sum over slots, computed for
every (job, pool, power mode) *family* at once with cumulative sums: memory grows with
families x slots, not with columns x their lengths.

Start-up energy (``wake_energy_kwh``, the written model's ``boots`` rows) is left out of this
bound on purpose: a boot only adds facility energy, which never lowers the objective while
every grid price and weight is >= 0 (grid energy is ``max(0, E - R)``, rising in ``E``), so
dropping it keeps a lower bound. With a negative price it would not, and no bound is claimed
then (:func:`~greenslot.solvers.prepare.pooled_wake_is_a_relaxation`); the plans themselves
are priced with their boots, exactly, by the accounting.

Rows are scaled to "node" units before stepping (GPUs / GPUs per node, watts / a node's draw,
kWh / a node's energy per slot) so one Polyak step size suits all four kinds.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from greenslot.model import rules
from greenslot.solvers.node_kinds import NodeKinds
from greenslot.solvers.prepare import Column, Prepared
from greenslot.solvers.state import ClusterState

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

PROGRESS_ROUNDS = 10
TARGET_MARGIN = 0.1
"""Where the step's target is an estimate (see :meth:`LagrangianBound.ascend`), it is kept at
least this share of the best bound above it: a target at or under the bound makes the step 0
and ends the ascent where it stands. 0.1 rather than 0.01: on greedy's first pass (200
rounds) ``tight-XL`` reached 494.6 against 489.6, ``tight-L`` 142.6 against 140.9."""


@dataclass
class Families:
    """Every (job, pool, power mode) a job may run as; ``start_ok[f, t]``: may start at t."""

    job: np.ndarray
    pool: np.ndarray
    site: np.ndarray
    mode_index: np.ndarray
    power_limit_w: np.ndarray
    length: np.ndarray
    count: np.ndarray
    gpus_each: np.ndarray
    extra_w: np.ndarray      # GPUs' draw above idle [W]
    wake_w: np.ndarray       # nodes a multi-node run wakes in a powered-down pool [W]
    transfer_kwh: np.ndarray
    start_ok: np.ndarray
    # CPU cores and memory [MB] a run holds on each node: not in the bound (it drops those
    # rows), carried so the columns it reads off are the prepared ones
    cpus_each: np.ndarray | None = None
    memory_each_mb: np.ndarray | None = None

    @property
    def size(self) -> int:
        return len(self.job)

    def nonzeros(self) -> int:
        """Nonzeros the time-indexed model of these families would have (as ``auto`` counts)."""
        return int((self.start_ok.sum(axis=1) * (2 * self.length + 1)).sum())

    def column(self, f: int, start: int) -> Column:
        return Column(job=int(self.job[f]), pool=int(self.pool[f]),
                      mode_index=int(self.mode_index[f]),
                      power_limit_w=float(self.power_limit_w[f]), start=int(start),
                      length=int(self.length[f]), count=int(self.count[f]),
                      gpus_each=int(self.gpus_each[f]), extra_w=float(self.extra_w[f]),
                      transfer_kwh=float(self.transfer_kwh[f]),
                      cpus_each=0 if self.cpus_each is None else int(self.cpus_each[f]),
                      memory_each_mb=(0 if self.memory_each_mb is None
                                      else int(self.memory_each_mb[f])))


def build_families(prep: Prepared, state: ClusterState) -> Families:
    """The families of ``prep``'s jobs, with the same windows and node rules as its columns."""
    scenario, grid, n_slots = prep.scenario, prep.scenario.grid, prep.n_slots
    rows: dict[str, list] = defaultdict(list)
    ok_rows: list[np.ndarray] = []
    window_ok: dict[tuple, np.ndarray] = {}
    # a pool's allowed nodes depend only on which node kinds the job may use: listed once
    # per (pool, kinds), and the start windows keyed by that, not by hashing node tuples
    kinds = NodeKinds(scenario)
    pool_ids = [np.array(pool.node_ids, dtype=np.int64) for pool in prep.pools]
    allowed_of: dict[tuple[int, bytes], tuple[int, ...]] = {}
    for j, job in enumerate(prep.jobs):
        earliest, latest = prep.earliest_start[job.job_id], prep.latest_end[job.job_id]
        per_kind = kinds.allowed_kinds(job)
        for pool in prep.pools:
            where = (pool.index, per_kind.tobytes())
            if where not in allowed_of:
                ids = pool_ids[pool.index]
                allowed_of[where] = tuple(ids[per_kind[kinds.of_node[ids]]].tolist())
            allowed = allowed_of[where]
            if not allowed:
                continue
            count, each = rules.shape_on(job, scenario.nodes[allowed[0]])
            if count > len(allowed):
                continue
            transfer = (job.data_gb * scenario.transfer_kwh_per_gb
                        if rules.needs_transfer(job, state.site_names[pool.site]) else 0.0)
            wake = 0.0 if pool.always_on or count == 1 else count * pool.wake_w
            for m, mode in enumerate(rules.allowed_modes(job, scenario.gpu_type(pool.gpu_type))):
                length = rules.run_slots(grid, job, mode)
                key = (where, length, count)
                if key not in window_ok:
                    window_ok[key] = _fits(state, allowed, length, count, n_slots)
                ok = np.zeros(n_slots, dtype=bool)
                last = latest - length
                if last >= earliest:
                    ok[earliest:last + 1] = window_ok[key][earliest:last + 1]
                if not ok.any():
                    continue
                for name, value in (("job", j), ("pool", pool.index), ("site", pool.site),
                                    ("mode_index", m), ("power_limit_w", mode.power_limit_w),
                                    ("length", length), ("count", count),
                                    ("gpus_each", each),
                                    ("extra_w", count * each * (mode.power_w - pool.gpu_idle_w)),
                                    ("wake_w", wake), ("transfer_kwh", transfer),
                                    ("cpus_each", rules.cpus_on_node(job)),
                                    ("memory_each_mb", rules.memory_on_node_mb(job))):
                    rows[name].append(value)
                ok_rows.append(ok)
    ints = ("job", "pool", "site", "mode_index", "length", "count", "gpus_each", "cpus_each",
            "memory_each_mb")
    arrays = {name: np.array(rows[name], dtype=np.int64 if name in ints else float)
              for name in ("job", "pool", "site", "mode_index", "power_limit_w", "length",
                           "count", "gpus_each", "extra_w", "wake_w", "transfer_kwh",
                           "cpus_each", "memory_each_mb")}
    start_ok = np.array(ok_rows, dtype=bool).reshape(len(ok_rows), n_slots)
    return Families(**arrays, start_ok=start_ok)


def _fits(state: ClusterState, nodes: tuple[int, ...], length: int, count: int,
          n_slots: int) -> np.ndarray:
    """Per start slot: at least ``count`` of ``nodes`` are outside maintenance for the run."""
    usable = (~state.blocked[list(nodes)]).sum(axis=0)
    ok = np.zeros(n_slots, dtype=bool)
    if length <= n_slots:
        ok[: n_slots - length + 1] = sliding_window_view(usable, length).min(axis=1) >= count
    return ok


BLOCK_FAMILIES = 4096
"""Families priced at once: bounds the (families x slots) work arrays to a few MB each, where
pricing every family at once took (at 20,000 jobs) several GB; the rows are independent, so
the blocks change nothing but memory (and are the unit a Dask worker prices)."""


@dataclass(frozen=True)
class FamilyBlock:
    """Families ``first .. first + len(pool) - 1``: what pricing them needs, nothing more
    (a Dask worker receives it once)."""

    first: int
    pool: np.ndarray
    site: np.ndarray
    length: np.ndarray
    load_w: np.ndarray         # draw a run adds [W]
    per_gpu: np.ndarray        # GPUs a single-node run holds in its pool's GPU rows
    per_node: np.ndarray       # nodes a multi-node run holds in its pool's node rows
    transfer_kwh: np.ndarray
    start_ok: np.ndarray


@dataclass(frozen=True)
class Prices:
    """One round's prices as window sums need them: cumulative per pool over slots (with a
    leading zero column) for draw, GPUs and nodes, and the energy price per site and slot."""

    cum_w: np.ndarray
    cum_gpu: np.ndarray
    cum_node: np.ndarray
    transfer: np.ndarray


def family_blocks(fam: Families, load_w: np.ndarray,
                  size: int = BLOCK_FAMILIES) -> list[FamilyBlock]:
    """``fam`` cut into consecutive blocks of at most ``size`` families."""
    single = fam.count == 1
    per_gpu = np.where(single, fam.gpus_each, 0)
    per_node = np.where(single, 0, fam.count)
    return [FamilyBlock(first=a, pool=fam.pool[a:a + size], site=fam.site[a:a + size],
                        length=fam.length[a:a + size], load_w=load_w[a:a + size],
                        per_gpu=per_gpu[a:a + size], per_node=per_node[a:a + size],
                        transfer_kwh=fam.transfer_kwh[a:a + size],
                        start_ok=fam.start_ok[a:a + size])
            for a in range(0, fam.size, size)]


def price_block(block: FamilyBlock, prices: Prices) -> tuple[np.ndarray, np.ndarray]:
    """Each family's cheapest start under ``prices`` and its cost (inf where none may start).

    Row by row the same arithmetic whatever the blocks, so any split, in this process or on
    workers, gives bit-identical results.
    """
    T = block.start_ok.shape[1]
    t = np.arange(T)
    end = np.minimum(t[None, :] + block.length[:, None], T)
    p = block.pool[:, None]
    cost = block.load_w[:, None] * (prices.cum_w[p, end] - prices.cum_w[p, t])
    cost += block.per_gpu[:, None] * (prices.cum_gpu[p, end] - prices.cum_gpu[p, t])
    cost += block.per_node[:, None] * (prices.cum_node[p, end] - prices.cum_node[p, t])
    cost += block.transfer_kwh[:, None] * prices.transfer[block.site]
    cost[~block.start_ok] = np.inf
    best_start = cost.argmin(axis=1)
    return cost[np.arange(len(best_start)), best_start], best_start


class FamilyPricer(Protocol):
    """Prices every block each round and returns (cost, start) per family, in family order."""

    def start(self, blocks: list[FamilyBlock]) -> None: ...

    def price(self, prices: Prices) -> tuple[np.ndarray, np.ndarray]: ...


class LocalPricer:
    """Prices the blocks one after the other in this process."""

    def __init__(self) -> None:
        self.blocks: list[FamilyBlock] = []

    def start(self, blocks: list[FamilyBlock]) -> None:
        self.blocks = blocks

    def price(self, prices: Prices) -> tuple[np.ndarray, np.ndarray]:
        return price_blocks(self.blocks, prices)


def price_blocks(blocks: list[FamilyBlock], prices: Prices) -> tuple[np.ndarray, np.ndarray]:
    """:func:`price_block` over consecutive blocks, joined (one Dask task's work)."""
    return join_priced([price_block(b, prices) for b in blocks])


def join_priced(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Blocks' results, in block order, as one (cost, start) pair."""
    if not parts:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    return (np.concatenate([c for c, _ in parts]),
            np.concatenate([s for _, s in parts]).astype(np.int64))


@dataclass
class Multipliers:
    """One per coupling row: GPUs (pi) and nodes (rho) per pool and slot, power cap (kappa)
    and grid energy (sigma) per site and slot."""

    pi: np.ndarray
    rho: np.ndarray
    kappa: np.ndarray
    sigma: np.ndarray


@dataclass
class Evaluation:
    """The bound at some multipliers, what each job chose there and the rows' subgradients."""

    bound: float
    family: np.ndarray       # per job: chosen family, -1 when left out
    start: np.ndarray        # per job: chosen start slot
    subgradient: Multipliers
    job_value: np.ndarray    # per job: its share of the bound (cheapest run, or its penalty)


@dataclass
class LagrangianBound:
    """The problem's fixed data in arrays, and the subgradient ascent on its multipliers."""

    prep: Prepared
    families: Families
    support: list[dict[tuple[int, int], float]] = field(default_factory=list)
    # who prices the families each round (default: this process, block by block)
    pricer_given: FamilyPricer | None = None
    block_families: int = BLOCK_FAMILIES

    def __post_init__(self) -> None:
        prep = self.prep
        self.T = prep.n_slots
        self.factor = prep.pue * prep.hours / 1000.0               # kWh per W and slot
        self.cap = np.minimum(prep.cap_w, prep.max_draw_w)[:, None] * np.ones(self.T)
        pools = prep.pools
        self.pool_site = np.array([p.site for p in pools], dtype=np.int64)
        self.pool_gpus = np.array([p.gpus for p in pools], dtype=float)
        self.pool_wake = np.array([0.0 if p.always_on else p.wake_w for p in pools])
        self.w_low = np.array([p.fixed_active for p in pools], dtype=float)
        self.w_high = np.array([p.available for p in pools], dtype=float)
        self.fixed_gpus = np.array([p.fixed_gpus for p in pools], dtype=float)
        self.constant = np.zeros((prep.n_sites, self.T))
        for p in pools:
            self.constant[p.site] += p.constant_w()
        node_w = prep.max_draw_w / np.maximum(1, np.bincount(self.pool_site, weights=[
            p.size for p in pools], minlength=prep.n_sites))
        self.row_scale_w = np.maximum(node_w, 1.0)                  # a node's draw per site
        fam = self.families
        # grid energy is free in [0, most] once its row is relaxed; the most a site can take
        # from the grid (every node at full draw, every transfer) is its upper bound, as in
        # the written model. Where the grid price is negative (markets have such hours) that
        # bound, not the row, limits how much a relaxed solution "buys".
        self.grid_most = (self.factor * prep.max_draw_w + fam.transfer_kwh.sum())[:, None] \
            * np.ones(self.T)
        self.sigma_high = np.maximum(prep.grid_weight, 0.0)
        self.load_w = fam.extra_w + fam.wake_w                      # draw a run adds [W]
        self.single = fam.count == 1
        starts = np.searchsorted(fam.job, np.arange(len(prep.jobs)))
        self.job_first = starts
        self.has_family = np.bincount(fam.job, minlength=len(prep.jobs)) > 0
        self.support = [defaultdict(float) for _ in prep.jobs]
        self.blocks = family_blocks(fam, self.load_w, self.block_families)
        self.pricer: FamilyPricer = self.pricer_given or LocalPricer()
        self._pricing_started = False

    def initial(self) -> Multipliers:
        """Grid energy at its full price (no renewables spare), every other row slack."""
        shape_p = (len(self.prep.pools), self.T)
        return Multipliers(pi=np.zeros(shape_p), rho=np.zeros(shape_p),
                           kappa=np.zeros_like(self.cap), sigma=self.sigma_high.copy())

    def start_pricing(self) -> None:
        """Hand the family blocks to the pricer (once; the first round does it otherwise)."""
        if not self._pricing_started:
            self.pricer.start(self.blocks)
            self._pricing_started = True

    def evaluate(self, mult: Multipliers) -> Evaluation:
        prep, fam = self.prep, self.families
        ew = prep.energy_weight
        price_w = (ew + mult.sigma) * self.factor[:, None] + mult.kappa        # per W and slot
        zero = np.zeros((len(prep.pools), 1))
        prices = Prices(cum_w=np.hstack([zero, np.cumsum(price_w[self.pool_site], axis=1)]),
                        cum_gpu=np.hstack([zero, np.cumsum(mult.pi, axis=1)]),
                        cum_node=np.hstack([zero, np.cumsum(mult.rho, axis=1)]),
                        transfer=ew + mult.sigma)
        self.start_pricing()
        best, best_start = self.pricer.price(prices)

        n_jobs = len(prep.jobs)
        job_best = np.full(n_jobs, np.inf)
        np.minimum.at(job_best, fam.job, best)
        chosen_family = np.full(n_jobs, -1, dtype=np.int64)
        winners = np.flatnonzero(best <= job_best[fam.job])
        chosen_family[fam.job[winners[::-1]]] = winners[::-1]      # first family on ties
        placed = job_best < prep.penalty
        chosen_family[~placed] = -1
        job_value = np.where(placed, job_best, prep.penalty)

        w_price = price_w[self.pool_site] * self.pool_wake[:, None] \
            - mult.pi * self.pool_gpus[:, None] + mult.rho
        w = np.where(w_price < 0, self.w_high, self.w_low)
        grid_price = prep.grid_weight - mult.sigma          # the relaxed grid variable's cost
        bound = (job_value.sum() + (w_price * w).sum() + (price_w * self.constant).sum()
                 - (mult.kappa * self.cap).sum() - (mult.sigma * prep.renewable_kwh).sum()
                 + (np.minimum(0.0, grid_price) * self.grid_most).sum()
                 + (mult.pi * self.fixed_gpus).sum() - (mult.rho * self.w_high).sum())

        # the chosen runs' use of each row, by difference arrays over their slots
        f = chosen_family[placed]
        starts = best_start[f]
        job_start = np.full(n_jobs, -1, dtype=np.int64)
        job_start[placed] = starts
        ends = starts + fam.length[f]
        gpu_use = _covered(fam.pool[f], starts, ends,
                           np.where(self.single[f], fam.gpus_each[f], 0), w.shape)
        node_use = _covered(fam.pool[f], starts, ends,
                            np.where(self.single[f], 0, fam.count[f]), w.shape)
        load = _covered(fam.site[f], starts, ends, self.load_w[f], self.constant.shape)
        moved = np.zeros_like(self.constant)
        np.add.at(moved, (fam.site[f], starts), fam.transfer_kwh[f])
        draw = self.constant + load
        np.add.at(draw, self.pool_site, self.pool_wake[:, None] * w)
        energy = self.factor[:, None] * draw + moved - prep.renewable_kwh
        # the grid choice at these prices: at its bound where buying pays, the row's own
        # value where the price is exactly met, nothing otherwise
        grid = np.where(grid_price < -1e-15, self.grid_most,
                        np.where(grid_price <= 1e-15, np.maximum(0.0, energy), 0.0))
        sub = Multipliers(pi=gpu_use - self.pool_gpus[:, None] * w + self.fixed_gpus,
                          rho=node_use + w - self.w_high,
                          kappa=draw - self.cap, sigma=energy - grid)
        return Evaluation(float(bound), chosen_family, job_start, sub, job_value)

    def ascend(self, upper: float, deadline: float, max_rounds: int = 2000,
               progress: Callable[[float], None] | None = None, min_rounds: int = 0,
               left_out: np.ndarray | None = None) -> tuple[float, Multipliers, int]:
        """Polyak subgradient ascent until ``deadline``; returns the best bound, its
        multipliers and the rounds made. ``upper`` (a plan's objective) sets the step;
        ``progress`` hears the best bound every ``PROGRESS_ROUNDS`` rounds; at least
        ``min_rounds`` rounds are made even past ``deadline`` (one round is a proven bound).

        ``left_out`` marks the jobs (by position) that the plan behind ``upper`` left out.
        Their penalties make ``upper`` a poor step target: each is twice the objective of
        the whole cluster at full draw (``prepare._penalties``), far above what placing the
        job costs, so the steps overshoot and the ascent never rises past its first round
        (``tight-XL``, greedy's first pass with 17 of 500 jobs out: 374.5 after 200 rounds,
        against 496.7 from a plan placing all). So the target becomes
        :func:`_target_without_penalties`, an estimate rather than a plan's value (503.6
        there; 494.6 after 200 rounds), lifted whenever the bound comes within
        :data:`TARGET_MARGIN` of it, and never above ``upper``. Without ``left_out`` the
        ascent is as before, step for step."""
        target, estimated = upper, False
        mult = self.initial()
        best_bound, best_mult = -np.inf, mult
        theta, stall = 1.0, 0
        # rows in node units: GPUs per node, a node's draw, a node's energy per slot
        scale = Multipliers(
            pi=np.broadcast_to(self.pool_gpus[:, None], mult.pi.shape),
            rho=np.ones_like(mult.rho),
            kappa=np.broadcast_to(self.row_scale_w[:, None], mult.kappa.shape),
            sigma=np.broadcast_to((self.row_scale_w * self.factor)[:, None], mult.sigma.shape))
        rounds = 0
        while rounds < max_rounds and (rounds < min_rounds or time.perf_counter() < deadline):
            found = self.evaluate(mult)
            rounds += 1
            if rounds == 1 and left_out is not None and left_out.any():
                target, estimated = _target_without_penalties(
                    upper, self.prep.penalty, found.job_value, left_out), True
            if rounds == 1 or found.bound > best_bound + 1e-12 * max(1.0, abs(best_bound)):
                best_bound, best_mult, stall = found.bound, mult, 0
            else:
                stall += 1
                if stall >= 12:
                    theta, stall = max(theta / 2.0, 1e-4), 0
            self._remember(found, rounds)
            if progress is not None and rounds % PROGRESS_ROUNDS == 0:
                progress(best_bound)
            if rounds % 50 == 0:
                logger.debug("round %d: bound %.6g (best %.6g), theta %.3g", rounds,
                             found.bound, best_bound, theta)
            parts = [getattr(found.subgradient, name) / getattr(scale, name)
                     for name in ("pi", "rho", "kappa", "sigma")]
            # rows at their bound with a multiplier of zero cannot move: no direction there
            lows = [getattr(mult, name) for name in ("pi", "rho", "kappa", "sigma")]
            parts = [np.where((low <= 0) & (g < 0), 0.0, g) for low, g in zip(
                lows, parts, strict=True)]
            norm = sum(float((g * g).sum()) for g in parts)
            if norm <= 1e-18:
                break                                   # the relaxed solution is feasible
            if estimated:
                target = min(upper, max(target, best_bound
                                        + TARGET_MARGIN * max(1.0, abs(best_bound))))
            step = theta * max(target - found.bound, 1e-9 * max(1.0, abs(target))) / norm
            new = [low + step * g / getattr(scale, name) for low, g, name in zip(
                lows, parts, ("pi", "rho", "kappa", "sigma"), strict=True)]
            mult = Multipliers(pi=np.maximum(new[0], 0.0), rho=np.maximum(new[1], 0.0),
                               kappa=np.maximum(new[2], 0.0),
                               sigma=np.clip(new[3], 0.0, self.sigma_high))
        logger.info("Lagrangian bound %.6g after %d rounds", best_bound, rounds)
        return best_bound, best_mult, rounds

    def _remember(self, found: Evaluation, round_: int) -> None:
        """Weight later choices more: they are what the multipliers converge to."""
        for j in np.flatnonzero(found.family >= 0):
            self.support[j][(int(found.family[j]), int(found.start[j]))] += round_

    def preferred_columns(self, keep: int = 6) -> list[list[Column]]:
        """Per job, the runs it chose most (weighted by round), best first, as columns."""
        out = []
        for choices in self.support:
            ranked = sorted(choices.items(), key=lambda item: (-item[1], item[0]))[:keep]
            out.append([self.families.column(f, s) for (f, s), _ in ranked])
        return out


def _target_without_penalties(upper: float, penalty: np.ndarray, cheapest: np.ndarray,
                              left_out: np.ndarray) -> float:
    """``upper`` with each left-out job's penalty replaced by ``cheapest``, what it costs
    alone on the empty cluster (its value in the first round's bound): the plan's value if
    those jobs fitted where they are cheapest. An estimate for the step, not a bound."""
    return float(upper - penalty[left_out].sum() + cheapest[left_out].sum())


def _covered(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, values: np.ndarray,
             shape: tuple[int, int]) -> np.ndarray:
    """Sum of ``values`` over each run's slots [start, end) per row, via difference arrays."""
    diff = np.zeros((shape[0], shape[1] + 1))
    np.add.at(diff, (rows, starts), values)
    np.add.at(diff, (rows, ends), -values)
    return np.cumsum(diff, axis=1)[:, : shape[1]]
