"""Placing one job: where can it go, at what cost, given everything already placed.

Shared by the constructive solvers (greedy, rounding, local search) and the diagnosis.

Vectorised over nodes and start slots with numpy: for each eligible node group and power mode,
window sums of blocked slots, power-cap excess and marginal objective give every feasible start
at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from greenslot.model import rules
from greenslot.model.scenario import Job, PowerMode
from greenslot.solvers.state import ClusterState, NodeGroup, window_sums


@dataclass(frozen=True)
class Placement:
    """A feasible placement and its exact marginal objective given the current state."""

    cost: float
    start: int
    end: int
    node_ids: tuple[int, ...]
    mode: PowerMode
    gpus_each: int


def _transfer_kwh(state: ClusterState, job: Job, group: NodeGroup) -> float:
    if rules.needs_transfer(job, state.site_names[group.site]):
        return job.data_gb * state.scenario.transfer_kwh_per_gb
    return 0.0


@dataclass(frozen=True)
class _Boots:
    """Boot power [W] per node of a group (see :meth:`ClusterState.boot_if_started_w`):
    ``now_w[:, t]`` the boots already due in slot ``t`` of the span (a run over ``t`` joins
    their run, so they go), ``head_w[:, t]`` the boot a run starting at ``t`` brings, and
    ``after_w[:, e]`` the boot due in slot ``e`` (one past the span's end included, 0 past
    the horizon), which a run ending at ``e`` removes."""

    now_w: np.ndarray
    head_w: np.ndarray
    after_w: np.ndarray


@dataclass(frozen=True)
class _GroupWindow:
    """What every power mode of one node group reads alike over the job's window: running
    sums of the slots where a node lacks room (so each mode's window sums are one
    subtraction, whatever its run length), where each node sleeps, the base draw a job
    adds where it wakes a node, and its boots where nodes declare a start-up energy (None
    where none does: then nothing below changes a bit)."""

    unusable_runs: np.ndarray
    asleep: np.ndarray
    wake_each_w: np.ndarray
    boots: _Boots | None = None

    def unusable_sums(self, n: int) -> np.ndarray:
        """Per node and start: slots without room among the ``n`` from that start (exact
        integers, as :func:`window_sums` of the boolean rows gives them)."""
        return self.unusable_runs[:, n:] - self.unusable_runs[:, :-n]


def _group_window(state: ClusterState, group: NodeGroup, unusable: np.ndarray,
                  asleep: np.ndarray, span: slice) -> _GroupWindow:
    ids = group.node_ids
    runs = np.zeros((len(ids), unusable.shape[1] + 1), dtype=np.int64)
    np.cumsum(unusable, axis=1, dtype=np.int64, out=runs[:, 1:])
    wake = state.node_idle_w[ids] + state.node_gpus[ids] * state.node_gpu_idle_w[ids]
    boots = None
    if state.has_boots and span.stop > span.start:
        lo, hi = span.start, span.stop
        after = state.boots_w(ids, lo, min(state.n_slots, hi + 1))
        if after.shape[1] < hi + 1 - lo:
            after = np.concatenate([after, np.zeros((len(ids), 1))], axis=1)
        boots = _Boots(after[:, :hi - lo], state.boot_if_started_w(ids, lo, hi), after)
    return _GroupWindow(runs, asleep, wake, boots)


def _kwh(state: ClusterState, site: int, watts: np.ndarray) -> np.ndarray:
    return state.pue[site] * watts / 1000.0 * state.hours


def _after_terms(state: ClusterState, site: int, boots: _Boots, n: int,
                 span: slice) -> np.ndarray:
    """Per node and start ``s`` (``span.stop - span.start - n + 1`` of them): the objective a
    run of ``n`` slots saves in slot ``s + n`` by removing the boot due there."""
    first, last = span.start + n, min(span.stop, state.n_slots - 1)
    terms = np.zeros((boots.after_w.shape[0], span.stop - span.start - n + 1))
    if last >= first and boots.after_w[:, first - span.start:last + 1 - span.start].any():
        saved = -_kwh(state, site, boots.after_w[:, first - span.start:last + 1 - span.start])
        terms[:, :last + 1 - first] = state.objective_terms(site, saved, slice(first, last + 1))
    return terms


def _start_correction(state: ClusterState, site: int, kwh: np.ndarray,
                      head: float | np.ndarray, span: slice) -> np.ndarray:
    """Extra marginal cost at each possible start slot from what a start adds in its first
    slot: the data moved there and, per node and slot, the boot it brings."""
    return (state.objective_terms(site, kwh + head, span)
            - state.objective_terms(site, kwh, span))


class _ModeRows:
    """One power mode on one node group over ``span``: per node and slot, the extra draw
    and the marginal cost, the same numbers :meth:`ClusterState.node_delta_w` and
    :meth:`ClusterState.objective_terms` give node by node.

    Why this shape: a node's extra draw in a slot takes one of two values, awake (the
    GPUs' share) or asleep (plus the base draw it wakes), and both depend on the node only
    through its GPU idle and idle draw, which few distinct values cover (one or two per
    group at fleet scale). So the cost is computed once per distinct draw, as a row of
    slots, and spread over the nodes by where they sleep: the same floating-point
    operations on the same operands as costing every (node, slot), hence the same bits,
    for a fraction of the arithmetic. Each array is made only when asked for (a group
    whose site cannot reach its power cap never needs the draw matrix). Where nodes boot on
    energy the boots already due vary by node and slot, so the draw and the cost are then
    computed for every (node, slot), the boots due subtracted (a run joins them).
    """

    def __init__(self, state: ClusterState, group: NodeGroup, view: _GroupWindow,
                 mode: PowerMode, span: slice) -> None:
        self.state, self.group, self.view, self.span = state, group, view, span
        self.awake_w = group.gpus_each * (mode.power_w - state.node_gpu_idle_w[group.node_ids])
        self.asleep_w = self.awake_w + view.wake_each_w
        self._delta_w: np.ndarray | None = None
        self._cost: np.ndarray | None = None

    def _spread(self, per_draw: np.ndarray, draws: np.ndarray) -> np.ndarray:
        """``per_draw`` (one row per distinct value of ``draws``, in ``np.unique`` order)
        as a (node, slot) array: each node's asleep row where it sleeps, else its awake row."""
        k = len(self.awake_w)
        index = np.searchsorted(draws, np.concatenate([self.awake_w, self.asleep_w]))
        awake, asleep = index[:k], index[k:]
        awake_rows = per_draw[awake[:1]] if (awake == awake[0]).all() else per_draw[awake]
        asleep_rows = per_draw[asleep[:1]] if (asleep == asleep[0]).all() else per_draw[asleep]
        return np.where(self.view.asleep, asleep_rows, awake_rows)

    def _draws(self) -> np.ndarray:
        return np.unique(np.concatenate([self.awake_w, self.asleep_w]))

    def delta_w(self) -> np.ndarray:
        """Extra draw [W] per node and slot."""
        if self._delta_w is None:
            self._delta_w = np.where(self.view.asleep, self.asleep_w[:, None],
                                     self.awake_w[:, None])
            if self.view.boots is not None:
                self._delta_w = self._delta_w - self.view.boots.now_w
        return self._delta_w

    def kwh(self) -> np.ndarray:
        """Extra facility energy [kWh] per node and slot."""
        return self.state.pue[self.group.site] * self.delta_w() / 1000.0 * self.state.hours

    def cost(self) -> np.ndarray:
        """Marginal objective per node and slot."""
        if self._cost is None and self.view.boots is not None:
            self._cost = self.state.objective_terms(self.group.site, self.kwh(), self.span)
        if self._cost is None:
            draws = self._draws()
            state, site = self.state, self.group.site
            kwh = state.pue[site] * draws / 1000.0 * state.hours
            self._cost = self._spread(state.objective_terms(site, kwh[:, None], self.span),
                                      draws)
        return self._cost

    def transfer_correction(self, transfer: float) -> np.ndarray:
        """Extra marginal cost per node and start slot from moving the job's data there."""
        draws = self._draws()
        state, site = self.state, self.group.site
        kwh = (state.pue[site] * draws / 1000.0 * state.hours)[:, None]
        return self._spread(state.objective_terms(site, kwh + transfer, self.span)
                            - state.objective_terms(site, kwh, self.span), draws)

    def may_exceed_cap(self) -> bool:
        """Whether some node's draw could take the site past its power cap in some slot of
        the span. False is exact: floating-point addition is monotone, so when the site's
        peak draw plus the largest extra draw stays within the cap, every sum does."""
        state, site = self.state, self.group.site
        cap = state.cap_w[site]
        if not np.isfinite(cap):
            return False
        peak = (state.site_draw_w[site, self.span].max()
                + max(self.awake_w.max(), self.asleep_w.max()))
        return bool(peak > cap + 1e-9)


def best_placement(state: ClusterState, job: Job, earliest: int, latest_end: int,
                   groups: list[NodeGroup] | None = None,
                   every_node: bool = False) -> Placement | None:
    """The least-cost feasible placement starting in ``[earliest, latest_end - n]``.

    Ties go to the earlier start, then the faster mode, then the node group and nodes that come
    first in name order, so results are deterministic. Slots after the window are not
    read, and only one node per class of nodes alike over it
    (:meth:`ClusterState.node_classes`, the same answer); ``every_node`` costs them all
    (for tests that check the classes change nothing). A (group, mode) pair whose lower
    bound (:func:`_cheapest_run`) cannot beat the best placement found is not costed at all.
    """
    best: tuple | None = None
    best_placement_: Placement | None = None
    lo, hi = max(0, earliest), min(state.n_slots, latest_end)
    if hi <= lo:
        return None
    # slots from 0: window sums are differences of running sums from the horizon's start, so
    # starting them anywhere else would change the costs in their last bits, and with them
    # the ties (and plans); slots after the window are never read
    span = slice(0, hi)
    tries = []   # (lower bound, g_idx, m_idx, group, mode, n, transfer)
    for g_idx, group in enumerate(groups if groups is not None else state.candidate_groups(job)):
        gpu_type = state.scenario.gpu_type(group.gpu_type)
        transfer = _transfer_kwh(state, job, group)
        for m_idx, mode in enumerate(rules.allowed_modes(job, gpu_type)):
            n = rules.run_slots(state.scenario.grid, job, mode)
            if hi - n < lo:
                continue
            # (boots: a run that joins a boot due saves it, below any draw's cost)
            lower = (_cheapest_run(state, group, mode, n, span, lo)
                     if group.count == 1 and transfer == 0 and not state.has_boots
                     else -np.inf)
            tries.append((lower, g_idx, m_idx, group, mode, n, transfer))
    # cheapest-looking first, so a good placement is known early and the (group, mode)
    # pairs that cannot beat it are never costed; the winner is the least key whatever the
    # order, so the placement is the one costing every pair gives
    tries.sort(key=lambda t: (t[0], t[1], t[2]))
    views: dict[int, tuple[NodeGroup, _GroupWindow]] = {}
    for lower, g_idx, m_idx, whole, mode, n, transfer in tries:
        if best is not None and lower > best[0] + PRUNE_MARGIN:
            break   # sorted: no later pair can beat it either
        if g_idx not in views:
            if every_node:
                group = whole
                unusable, asleep = state.room_and_sleep(group, span)
            else:   # the same answer, fewer nodes to cost
                group, unusable, asleep = state.classes_and_rows(whole, span)
            views[g_idx] = group, _group_window(state, group, unusable, asleep, span)
        group, view = views[g_idx]
        found = (_single_node(state, group, view, mode, n, span, lo, transfer)
                 if group.count == 1 else
                 _multi_node(state, group, view, mode, n, span, lo, transfer))
        if found is None:
            continue
        cost, start, ids = found
        key = (round(cost, 9), start, m_idx, g_idx)
        if best is None or key < best:
            best = key
            best_placement_ = Placement(cost, start, start + n, ids, mode, group.gpus_each)
    return best_placement_


PRUNE_MARGIN = 1e-8
"""A (group, mode) pair is skipped only when its lower bound exceeds the best cost found by
this much: far above the rounding to 9 decimals that decides ties, so a skipped pair could
not even have tied."""


def _cheapest_run(state: ClusterState, group: NodeGroup, mode: PowerMode, n: int,
                  span: slice, first: int) -> float:
    """A lower bound on the cost of running ``n`` slots from any start at or after
    ``first`` on any one node of ``group`` in ``mode`` (no data transfer).

    Why it is one: in each slot a node's marginal cost is that of one of the group's
    distinct draws (awake, or asleep with its own idle draw), so the least of those per slot
    is at most any node's cost there, room and caps aside (they only rule starts out). The
    bound is lowered by the rounding error its running sums can carry, so that it stays
    below the exact figure the costing finds.
    """
    ids = group.node_ids
    awake = group.gpus_each * (mode.power_w - state.node_gpu_idle_w[ids])
    wake = state.node_idle_w[ids] + state.node_gpus[ids] * state.node_gpu_idle_w[ids]
    draws = np.unique(np.concatenate([awake, awake + wake]))
    kwh = state.pue[group.site] * draws / 1000.0 * state.hours
    least = state.objective_terms(group.site, kwh[:, None], span).min(axis=0)
    sums = window_sums(least[None, :], n)[0, first - span.start:]
    return float(sums.min()) - 1e-9 * (1.0 + float(np.abs(least).sum()))


def _single_node(state, group, view, mode, n, span, first, transfer):
    rows = _ModeRows(state, group, view, mode, span)
    bad = view.unusable_sums(n)
    if rows.may_exceed_cap():
        over_cap = (state.site_draw_w[group.site, span] + rows.delta_w()
                    > state.cap_w[group.site] + 1e-9)
        bad = bad + window_sums(over_cap.astype(np.int64), n)
    total = window_sums(rows.cost(), n)
    head: float | np.ndarray = transfer
    if view.boots is not None:
        starts = total.shape[1]
        over_head = (state.site_draw_w[group.site, span] + rows.delta_w() + view.boots.head_w
                     > state.cap_w[group.site] + 1e-9)
        bad = bad + over_head[:, :starts]
        head = transfer + _kwh(state, group.site, view.boots.head_w)
        if transfer > 0 or view.boots.head_w[:, :starts].any():
            total = total + _start_correction(state, group.site, rows.kwh(), head,
                                              span)[:, :starts]
        total = total + _after_terms(state, group.site, view.boots, n, span)
    elif transfer > 0:
        total = total + rows.transfer_correction(transfer)[:, : total.shape[1]]
    if state.has_budget(group.site):
        bad = bad + _over_budget(state, group.site, rows.kwh(), head, n, span)
    total = np.where(bad == 0, total, np.inf)[:, first - span.start:]
    ranked = np.round(total.T, 9)
    flat = int(np.argmin(ranked))
    s_off, node_pos = divmod(flat, ranked.shape[1])
    if not np.isfinite(ranked[s_off, node_pos]):
        return None
    return float(total[node_pos, s_off]), first + s_off, (int(group.node_ids[node_pos]),)


def _over_budget(state: ClusterState, site: int, kwh: np.ndarray,
                 transfer: float | np.ndarray, n: int, span: slice) -> np.ndarray:
    """1 where a start would take the site past its energy or carbon budget, else 0.

    ``transfer`` is what a start adds in its first slot [kWh]: the data moved, and where
    nodes boot, the boot (per node and slot). The boot a run removes after its end is not
    credited, so the check is on the safe side there.
    """
    energy_room, carbon_room = state.budget_room(site)
    carbon = window_sums(state.carbon_terms(site, kwh, span), n)
    if isinstance(transfer, np.ndarray):
        energy = window_sums(kwh, n) + transfer[:, : carbon.shape[1]]
    else:
        energy = window_sums(kwh, n) + transfer
    if isinstance(transfer, np.ndarray) or transfer > 0:
        carbon = carbon + (state.carbon_terms(site, kwh + transfer, span)
                           - state.carbon_terms(site, kwh, span))[:, : carbon.shape[1]]
    return ((energy > energy_room) | (carbon > carbon_room)).astype(np.int64)


def within_budget(state: ClusterState, site: int, joint_kwh: np.ndarray, window: slice,
                   transfer: float) -> bool:
    if not state.has_budget(site):
        return True
    energy_room, carbon_room = state.budget_room(site)
    with_transfer = joint_kwh.copy()
    with_transfer[0] += transfer
    carbon = float(state.carbon_terms(site, with_transfer, window).sum())
    return with_transfer.sum() <= energy_room and carbon <= carbon_room


def _multi_node(state, group, view, mode, n, span, first, transfer):
    rows = _ModeRows(state, group, view, mode, span)
    bad, delta_w = view.unusable_sums(n), rows.delta_w()
    separate = window_sums(rows.cost(), n)
    site = group.site
    best = None
    for s in range(first, span.stop - n + 1):
        col = s - span.start
        usable = np.nonzero(bad[:, col] == 0)[0]
        if len(usable) < group.count:
            continue
        window = slice(s, s + n)
        orders = (usable[np.argsort(separate[usable, col], kind="stable")],
                  usable[np.argsort(delta_w[usable, col:col + n].sum(axis=1), kind="stable")])
        for order in orders:
            chosen = order[: group.count]
            joint_w = delta_w[chosen, col:col + n].sum(axis=0)
            if view.boots is not None:
                joint_w[0] += view.boots.head_w[chosen, col].sum()
            if (state.site_draw_w[site, window] + joint_w > state.cap_w[site] + 1e-9).any():
                continue
            joint_kwh = state.pue[site] * joint_w / 1000.0 * state.hours
            if not within_budget(state, site, joint_kwh, window, transfer):
                continue
            terms = state.objective_terms(site, joint_kwh, window)
            value = float(terms.sum())
            if transfer > 0:
                head = slice(s, s + 1)
                value += float(state.objective_terms(site, joint_kwh[:1] + transfer, head)[0]
                               - terms[0])
            if view.boots is not None and s + n < state.n_slots:
                saved_w = view.boots.after_w[chosen, s + n - span.start].sum()
                if saved_w:
                    value += float(state.objective_terms(
                        site, np.array([-_kwh(state, site, saved_w)]),
                        slice(s + n, s + n + 1))[0])
            if best is None or round(value, 9) < round(best[0], 9):
                ids = tuple(int(group.node_ids[i]) for i in sorted(chosen))
                best = (value, s, ids)
            break
    return best
