"""The Lagrangian's columns: a small model of the runs the multipliers chose, its LP, its
rounding and its LP neighbourhood, where the full model is too large to solve in time.

Why: at 500 jobs x 40 machines x 500 slots (``tou-XL``) the full time-indexed model has
113,000 columns and its LP relaxation alone takes 53 s on one thread, so within a 60 s limit
neither the LP's rounding nor its neighbourhood (:mod:`.lp_neighbourhood`) can run, and the
Lagrangian's rounding plus local search ended 1.2 % above the LP bound (266.15 against
262.49). Yet every subgradient round prices every run of every job and names the cheapest:
the runs chosen across the ascent are the columns an LP optimum is made of. Written out as
a model of their own (the best :data:`KEEP_RUNS` per job, ~4,000 columns there, plus the runs
of the plans at hand, so those stay encodable) the LP solves in about a second, and its
rounding and neighbourhood work as on a mid-size model. Measured on ``tou-XL`` after a 5 s
ascent: restricted LP 262.76, rounded 267.40, neighbourhood (247 jobs kept, 253 solved for,
optimal in 2.7 s) 262.98, 0.19 % above the full LP's bound, in 5 s all told. This is
price-and-branch (the columns priced by the Lagrangian, the branching on them alone) with
RINS on top.

The restricted LP is *not* a bound of the full problem (it lacks most columns) and is never
reported as one. Every plan found here is decoded to concrete nodes and validated like any
other candidate; the driver keeps it only where it is better.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable

import numpy as np

from greenslot.model.schedule import Schedule
from greenslot.solvers import lp_neighbourhood
from greenslot.solvers.decode import pool_of_node
from greenslot.solvers.driver import PlanCandidate, Run, candidate_from_state
from greenslot.solvers.formulation import BUILD_SECONDS_PER_NONZERO, Index, build, unmargined
from greenslot.solvers.lagrange import Families, LagrangianBound
from greenslot.solvers.prepare import Column, Prepared
from greenslot.solvers.relaxation import solve_relaxation
from greenslot.solvers.rounding import round_relaxation, round_support

KEEP_RUNS = 8
"""Per job, the runs the ascent chose most (weighted by round) that become columns. On
``tou-XL`` all of them (about 12 a job) gave a restricted LP whose neighbourhood HiGHS did
not close in 25 s; the best 8 closed in 2.7 s, 0.05 % worse."""
LP_TIME_SHARE = 0.4
"""Of the step's time, at most, for the restricted LP; its neighbourhood has the rest."""
BUILD_TIME_SHARE = 0.25
"""Of the step's time: a restricted model whose estimated build needs more is not written
(at fleet scale the chosen runs alone make millions of nonzeros)."""
MIN_SECONDS = 2.0
"""Below this much time the step is not tried: an LP and a MILP must both fit."""

FamilyStart = tuple[int, int]  # a job's run: (family, start slot)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one step did: the columns written, the restricted LP's value (not a bound), the
    plans found (None where none), and why it stopped early, if it did."""

    columns: int
    lp_value: float | None
    rounded: PlanCandidate | None
    neighbourhood: lp_neighbourhood.Neighbourhood | None
    stopped: str = ""

    @property
    def best(self) -> PlanCandidate | None:
        found = [c for c in (self.rounded, self.neighbourhood.found
                             if self.neighbourhood is not None else None) if c is not None]
        return min(found, key=lambda c: c.total) if found else None


def chosen_runs(lagrangian: LagrangianBound, keep: int = KEEP_RUNS) -> list[set[FamilyStart]]:
    """Per job, its ``keep`` runs most chosen in the ascent (later rounds weigh more)."""
    return [{run for run, _ in sorted(choices.items(), key=lambda item: (-item[1], item[0]))
             [:keep]} for choices in lagrangian.support]


def family_of_run(prep: Prepared, families: Families) -> dict[tuple[int, int, float], int]:
    """(job position, pool, power limit [W]) -> its family: how a placed run is looked up."""
    return {(int(families.job[f]), int(families.pool[f]), float(families.power_limit_w[f])): f
            for f in range(families.size)}


def add_plan_runs(prep: Prepared, families: Families, runs: list[set[FamilyStart]],
                  schedule: Schedule,
                  family_of: dict[tuple[int, int, float], int] | None = None) -> None:
    """Add the run of every job ``schedule`` places to ``runs`` (pinned jobs have none);
    ``family_of`` as :func:`family_of_run` makes it (made here if not given)."""
    position = {job.job_id: j for j, job in enumerate(prep.jobs)}
    pool_of = pool_of_node(prep)
    if family_of is None:
        family_of = family_of_run(prep, families)
    scenario = prep.scenario
    for a in schedule.assignments:
        j = position.get(a.job_id)
        if j is None or not a.nodes:
            continue
        f = family_of.get((j, pool_of[scenario.node_position(a.nodes[0])], a.power_limit_w))
        if f is not None and 0 <= a.start_slot < families.start_ok.shape[1] \
                and families.start_ok[f, a.start_slot]:
            runs[j].add((f, a.start_slot))


def restricted(prep: Prepared, families: Families, runs: list[set[FamilyStart]]) -> Prepared:
    """``prep`` with exactly ``runs`` as its columns (each job's in a fixed order). Which jobs
    can run at all stays the full problem's, so a plan's penalties are counted as there."""
    columns: list[Column] = []
    columns_of_job: list[list[int]] = []
    for own in runs:
        columns_of_job.append(list(range(len(columns), len(columns) + len(own))))
        columns.extend(families.column(f, start) for f, start in sorted(own))
    return dataclasses.replace(prep, columns=columns, columns_of_job=columns_of_job,
                               runnable=prep.can_run())


def carried_values(old: Prepared, old_index: Index, values: np.ndarray, new: Prepared,
                   new_index: Index, n_vars: int) -> np.ndarray:
    """The columns' LP weights in ``values`` (of ``old``'s model) placed at the same runs in
    ``new``'s model of ``n_vars`` variables, 0 for runs ``old`` lacked. Only the columns'
    weights are carried: they are all the neighbourhood reads."""
    weight = {(c.job, c.pool, c.power_limit_w, c.start): float(values[old_index.x[k]])
              for k, c in enumerate(old.columns)}
    out = np.zeros(n_vars)
    for k, c in enumerate(new.columns):
        out[new_index.x[k]] = weight.get((c.job, c.pool, c.power_limit_w, c.start), 0.0)
    return out


def _estimated_build_s(prep: Prepared) -> float:
    return BUILD_SECONDS_PER_NONZERO * sum(2 * c.length + 1 for c in prep.columns)


def search(prep: Prepared, families: Families, lagrangian: LagrangianBound,
           plans: Iterable[Schedule], until: float, threads: int = 1) -> Outcome | None:
    """Write the Lagrangian's chosen runs (plus every run of ``plans``) as a model, solve its
    LP, round it, and solve the rounded plan's LP neighbourhood, all before ``until``
    (perf_counter). None when there is less than :data:`MIN_SECONDS`."""
    seconds = until - time.perf_counter()
    if seconds < MIN_SECONDS:
        return None
    scenario = prep.scenario
    runs = chosen_runs(lagrangian)
    family_of = family_of_run(prep, families)
    for schedule in plans:
        add_plan_runs(prep, families, runs, schedule, family_of)
    small = restricted(prep, families, runs)
    count = len(small.columns)
    if _estimated_build_s(small) > BUILD_TIME_SHARE * seconds:
        return Outcome(count, None, None, None, "its model would take too long to write")
    model, index = build(small)
    lp_limit = max(0.1, min(LP_TIME_SHARE * seconds, until - time.perf_counter()))
    relaxation = solve_relaxation(unmargined(model), lp_limit, threads)
    if relaxation.values is None:
        return Outcome(count, None, None, None, f"its LP was not solved in {lp_limit:.0f} s")
    state, placed, _ = round_relaxation(small, index, relaxation.values, until)
    rounded = candidate_from_state(scenario, small, "lagrangian-columns", state, placed)
    if rounded is None:
        return Outcome(count, relaxation.bound, None, None, "its rounding gave no valid plan")
    # rounding may place a job off the chosen runs (where none fits): add the rounded plan's
    # runs so it is the neighbourhood's warm start, carrying the LP's weights over
    add_plan_runs(prep, families, runs, rounded.schedule, family_of)
    wider = restricted(prep, families, runs)
    if len(wider.columns) > count:
        wider_model, wider_index = build(wider)
        values = carried_values(small, index, relaxation.values, wider, wider_index,
                                wider_model.n_vars)
        small, model, index = wider, wider_model, wider_index
    else:
        values = relaxation.values
    found = lp_neighbourhood.search(scenario, small, model, index, values, rounded, until,
                                    threads, source="lagrangian-neighbourhood")
    return Outcome(len(small.columns), relaxation.bound, rounded, found,
                   "" if found is not None else
                   f"under {lp_neighbourhood.MIN_SECONDS:.0f} s left for its neighbourhood, or "
                   "the rounded plan has no encoding in the small model")


STEP = "lagrangian columns"
TIME_SHARE = 0.5
"""Of the time left when the step starts, at most, for it; local search has the rest."""


def improved(run: Run, lagrangian: LagrangianBound, rounded: PlanCandidate | None,
             until: float) -> PlanCandidate | None:
    """``rounded`` (the Lagrangian's rounding), or a better plan from :func:`search` over the
    chosen runs plus greedy's and ``rounded``'s, searched until ``until`` (perf_counter);
    the step is added to ``run``'s record either way."""
    run.phase(STEP)
    since = time.perf_counter()
    plans = [c.schedule for c in (run.greedy, rounded) if c is not None]
    outcome = search(run.prep, lagrangian.families, lagrangian, plans, until,
                     run.options.threads)
    if outcome is None:
        run.record(STEP, False, since, f"under {MIN_SECONDS:.0f} s left")
        return rounded
    found = outcome.best
    better = found if found is not None and (
        rounded is None or found.total < rounded.total - 1e-9) else None
    parts = [f"{outcome.columns} runs"]
    if outcome.lp_value is not None:
        parts.append(f"their LP {outcome.lp_value - run.unavoidable:.6g} (not a bound)")
    if outcome.rounded is not None:
        parts.append(f"rounded {outcome.rounded.total:.6g}")
    if outcome.neighbourhood is not None:
        n = outcome.neighbourhood
        parts.append(f"{n.kept} jobs kept, {n.free} solved for"
                     + (" (optimal)" if n.optimal else ""))
    if outcome.stopped:
        parts.append(outcome.stopped)
    parts.append(f"{rounded.total:.6g} -> {better.total:.6g}" if better is not None
                 and rounded is not None else
                 f"plan {better.total:.6g}" if better is not None else "no better plan")
    run.record(STEP, True, since, "; ".join(parts))
    return better if better is not None else rounded


def lagrangian_plan(run: Run, lagrangian: LagrangianBound,
                    deadline: float | None) -> PlanCandidate | None:
    """The Lagrangian's rounding (step "lagrangian rounding": the runs each job chose most,
    largest job first), then :func:`improved` on it in at most :data:`TIME_SHARE` of the time
    to ``deadline`` (perf_counter; None: no time for it). Both pipelines plan from the
    Lagrangian this way where they have no LP solution."""
    run.phase("lagrangian rounding")
    since = time.perf_counter()
    state, placed, _ = round_support(run.prep, lagrangian.preferred_columns(), deadline)
    rounded = candidate_from_state(run.scenario, run.prep, "lagrangian-rounding", state,
                                   placed)
    run.record("lagrangian rounding", True, since, "no valid plan" if rounded is None
               else f"plan {rounded.total:.6g}")
    left = 0.0 if deadline is None else max(0.0, deadline - time.perf_counter())
    return improved(run, lagrangian, rounded, time.perf_counter() + TIME_SHARE * left)
