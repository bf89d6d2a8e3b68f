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
    """What every power mode of one node group reads alike over the job's window: where a
    node lacks room (as counts, for window sums), the base draw a job adds where it
    wakes a sleeping node (0 elsewhere), and its boots where nodes declare a start-up
    energy (None where none does: then nothing below changes a bit)."""

    unusable: np.ndarray
    wake_w: np.ndarray
    boots: _Boots | None = None


def _group_window(state: ClusterState, group: NodeGroup, span: slice) -> _GroupWindow:
    ids = group.node_ids
    unusable = (state.short(ids, group.gpus_each, group.cpus_each, group.memory_each_mb, span)
                | state.blocked[ids, span])
    asleep = (state.running[ids, span] == 0) & ~state.always_on[ids, None]
    wake = (state.node_idle_w[ids] + state.node_gpus[ids] * state.node_gpu_idle_w[ids])[:, None]
    boots = None
    if state.has_boots and span.stop > span.start:
        lo, hi = span.start, span.stop
        after = state.boots_w(ids, lo, min(state.n_slots, hi + 1))
        if after.shape[1] < hi + 1 - lo:
            after = np.concatenate([after, np.zeros((len(ids), 1))], axis=1)
        boots = _Boots(after[:, :hi - lo], state.boot_if_started_w(ids, lo, hi), after)
    return _GroupWindow(unusable.astype(np.int64), np.where(asleep, wake, 0.0), boots)


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


def _group_mode_arrays(state: ClusterState, group: NodeGroup, view: _GroupWindow,
                       mode: PowerMode, n: int, span: slice):
    """Per node and slot of ``span``: blocked counts over each window, extra draw, marginal
    cost (column 0 is slot ``span.start``). The draw is :meth:`ClusterState.node_delta_w`'s,
    the same sum in the same order."""
    gpu_part = group.gpus_each * (mode.power_w - state.node_gpu_idle_w[group.node_ids])
    delta_w = gpu_part[:, None] + view.wake_w
    if view.boots is not None:
        delta_w = delta_w - view.boots.now_w
    kwh = state.pue[group.site] * delta_w / 1000.0 * state.hours
    cost = state.objective_terms(group.site, kwh, span)
    bad = window_sums(view.unusable, n)
    return bad, delta_w, kwh, cost


def best_placement(state: ClusterState, job: Job, earliest: int, latest_end: int,
                   groups: list[NodeGroup] | None = None,
                   every_node: bool = False) -> Placement | None:
    """The least-cost feasible placement starting in ``[earliest, latest_end - n]``.

    Ties go to the earlier start, then the faster mode, then the node group and nodes that come
    first in name order, so results are deterministic. Slots after the window are not
    read, and only one node per class of nodes alike over it
    (:meth:`ClusterState.node_classes`, the same answer); ``every_node`` costs them all
    (for tests that check the classes change nothing).
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
    for g_idx, group in enumerate(groups if groups is not None else state.candidate_groups(job)):
        if not every_node:
            group = state.node_classes(group, span)   # the same answer, fewer nodes to cost
        view = _group_window(state, group, span)
        gpu_type = state.scenario.gpu_type(group.gpu_type)
        transfer = _transfer_kwh(state, job, group)
        for m_idx, mode in enumerate(rules.allowed_modes(job, gpu_type)):
            n = rules.run_slots(state.scenario.grid, job, mode)
            if hi - n < lo:
                continue
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


def _start_correction(state, site, kwh, transfer, span):
    """Extra marginal cost at each possible start slot from moving the job's data there (and
    from the boot a start brings, where ``transfer`` includes it per node and slot)."""
    return (state.objective_terms(site, kwh + transfer, span)
            - state.objective_terms(site, kwh, span))


def _single_node(state, group, view, mode, n, span, first, transfer):
    bad, delta_w, kwh, cost = _group_mode_arrays(state, group, view, mode, n, span)
    over_cap = state.site_draw_w[group.site, span] + delta_w > state.cap_w[group.site] + 1e-9
    bad = bad + window_sums(over_cap.astype(np.int64), n)
    total = window_sums(cost, n)
    head: float | np.ndarray = transfer
    if view.boots is not None:
        starts = total.shape[1]
        over_head = (state.site_draw_w[group.site, span] + delta_w + view.boots.head_w
                     > state.cap_w[group.site] + 1e-9)
        bad = bad + over_head[:, :starts]
        head = transfer + _kwh(state, group.site, view.boots.head_w)
        if transfer > 0 or view.boots.head_w[:, :starts].any():
            total = total + _start_correction(state, group.site, kwh, head, span)[:, :starts]
        total = total + _after_terms(state, group.site, view.boots, n, span)
    elif transfer > 0:
        total = total + _start_correction(state, group.site, kwh, transfer,
                                          span)[:, : total.shape[1]]
    if state.has_budget(group.site):
        bad = bad + _over_budget(state, group.site, kwh, head, n, span)
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
    bad, delta_w, _, cost = _group_mode_arrays(state, group, view, mode, n, span)
    separate = window_sums(cost, n)
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
