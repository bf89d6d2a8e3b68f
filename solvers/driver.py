"""One driver for the exact and the large-scale pipelines: candidates, search, bound, status.

Both pipelines run the same steps; only how they prove a bound and what they try after local
search differ, and that is their :class:`Method`:

1. the greedy plan, always valid, is the first candidate;
2. the method proves a bound and rounds its relaxation into a second candidate
   (:meth:`Method.bound_and_round`: the LP for ``exact``, the Lagrangian for ``large``);
3. local search: every candidate is descended (jobs left out placed, then single moves until
   they stall; :func:`best_descended`), then ruin and recreate improves the best of them,
   and where nothing follows to spend the time, restarts with sub-MILP rounds
   (:mod:`greenslot.solvers.sub_milp`) until the limit;
4. the method may try once more from the best plan (:meth:`Method.finish`: the MILP or CP-SAT
   backend, warm-started; nothing for ``large``);
5. the bound, less the penalties of jobs that cannot run at all, is checked against the best
   plan (:func:`checked_bound`) and decides the status.

Each plan counts only if the independent validator accepts it. A candidate's unplaced jobs get
their reasons only if it is the plan returned: reasons cost a diagnosis per job, and the plan
pipeline derives them again from the final plan anyway
(:func:`greenslot.pipeline.steps.with_explained_unplaced`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np

from greenslot.model.accounting import account, objective_value
from greenslot.model.scenario import Scenario
from greenslot.model.schedule import Assignment, Schedule, Unplaced, dependency_not_placed
from greenslot.model.validator import validate
from greenslot.solvers.deadline import REASON_NOT_DERIVED, TIME_LIMIT_REASON, passed
from greenslot.solvers.decode import chosen_columns, decode
from greenslot.solvers.diagnose import explain_no_fit
from greenslot.solvers.feasibility import repack_with_prepared
from greenslot.solvers.formulation import Index
from greenslot.solvers.greedy import POLISHED, solve_greedy
from greenslot.solvers.local_search import (
    GainCallback,
    move_jobs_one_by_one,
    repair_unplaced,
    ruin_and_recreate,
)
from greenslot.solvers.pinned import place_pinned
from greenslot.solvers.prepare import Prepared, pooled_wake_is_a_relaxation
from greenslot.solvers.state import ClusterState
from greenslot.solvers.sub_milp import sub_milp_rounds
from greenslot.solvers.types import DEFAULT_GAP, SolveOptions, SolveResult, SolveStatus

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

OPTIMALITY_TOLERANCE = 1e-6
GREEDY_TIME_SHARE = 0.15
"""Of the time limit: after it greedy starts no further pass."""
FIRST_PASS_END_SHARE = 0.8
"""Of the time limit: greedy's first pass places no job after it.

Why: the steps after greedy need time of their own whatever greedy took: at least one bound
round, rounding, validating each candidate, deriving reasons. At 20,000 jobs x 4,096 nodes
the first pass once used all but seconds of the limit, and the plan ended 31 s past it with
a one-round bound. Jobs the pass did not reach are left out with the time-limit reason;
rounding and local search's repair may place them in the time left.
"""
IMPROVEMENT = 1e-9  # a later plan replaces the best only when lower by more than this
ROUNDING_CREDIT = 1e-4
"""Relative to the objective: the most of a backend's rounding slack credited as optimal.

A slack of half the objective, from CP-SAT coefficients rounded to zero, once let a plan 50 %
above the bound pass as optimal; a small one is the backend's honest rounding allowance."""
REASON_PENDING = "(reason derived only for the plan returned)"
"""Placeholder reason of a candidate's unplaced job; never leaves the driver."""


@dataclass(frozen=True)
class PlanCandidate:
    """A valid plan, where it came from and its penalised objective.

    ``reasons_from`` is the cluster state the plan was built in, when its unplaced jobs still
    carry :data:`REASON_PENDING`; :func:`explained` derives their reasons from it. None when
    the schedule has its reasons already (greedy's).
    """

    source: str
    schedule: Schedule
    value: float
    penalty: float
    reasons_from: ClusterState | None = field(default=None, compare=False, repr=False)

    @property
    def total(self) -> float:
        return self.value + self.penalty


def unavoidable_penalty(prep: Prepared) -> float:
    """Penalty of the jobs that cannot run at all: part of every plan's objective."""
    return float(prep.penalty[~prep.can_run()].sum())


def left_out_mask(prep: Prepared, schedule: Schedule) -> np.ndarray:
    """Per job of ``prep``: True where ``schedule`` left it out although it had a feasible
    column (the others cannot run anyway)."""
    position = {j.job_id: k for k, j in enumerate(prep.jobs)}
    mask = np.zeros(len(prep.jobs), dtype=bool)
    for u in schedule.unplaced:
        if u.job_id in position:
            mask[position[u.job_id]] = True
    return mask & prep.can_run()


def ascent_target(run: Run) -> tuple[float, np.ndarray]:
    """``upper`` and ``left_out`` for the Lagrangian ascent
    (:meth:`~greenslot.solvers.lagrange.LagrangianBound.ascend`): greedy's plan and the jobs
    it left out, or, without a valid greedy plan, every job out (the ascent then aims at the
    jobs' cheapest runs)."""
    prep, greedy = run.prep, run.greedy
    if greedy is None:
        return float(prep.penalty.sum()), prep.can_run()
    return greedy.total + run.unavoidable, left_out_mask(prep, greedy.schedule)


def _penalty_of(prep: Prepared, schedule: Schedule) -> float:
    """Penalty of jobs left out that had a feasible column (the others cannot run anyway)."""
    return float(prep.penalty[left_out_mask(prep, schedule)].sum())


def valid_candidate(scenario: Scenario, prep: Prepared, source: str, schedule: Schedule,
                    reasons_from: ClusterState | None = None) -> PlanCandidate | None:
    """A candidate if the independent validator accepts the plan, else None (logged)."""
    problems = validate(scenario, schedule)
    if problems:
        logger.warning("%s plan discarded: %s", source, problems[0])
        return None
    value = objective_value(scenario, account(scenario, schedule).totals)
    return PlanCandidate(source, schedule, value, _penalty_of(prep, schedule), reasons_from)


def candidate_from_state(scenario: Scenario, prep: Prepared, source: str,
                         state: ClusterState, placed: dict[str, Assignment]
                         ) -> PlanCandidate | None:
    """The plan ``placed`` (built in ``state``) as a candidate, its reasons left for later.

    ``state`` must not change afterwards: the reasons are derived from it if this plan wins.
    """
    unplaced = tuple(Unplaced(job.job_id, REASON_PENDING) for job in prep.jobs
                     if job.job_id not in placed)
    return valid_candidate(scenario, prep, source,
                           Schedule(tuple(placed.values()), unplaced), state)


def candidate_from_values(scenario: Scenario, prep: Prepared, index: Index,
                          values: np.ndarray, source: str) -> PlanCandidate | None:
    """A solution ``values`` of the time-indexed model (indexed by ``index``) decoded to
    concrete nodes (:func:`~greenslot.solvers.decode.decode`) as a candidate."""
    state = ClusterState(scenario)
    placed, _ = decode(prep, chosen_columns(prep, index, values), place_pinned(state), state)
    return candidate_from_state(scenario, prep, source, state, placed)


def explained(candidate: PlanCandidate, prep: Prepared,
              deadline: float | None = None) -> Schedule:
    """``candidate``'s schedule with a reason for each unplaced job, against its own state;
    from ``deadline`` (perf_counter) on, the cheap :data:`REASON_NOT_DERIVED` instead."""
    state = candidate.reasons_from
    if state is None:
        return candidate.schedule
    placed = candidate.schedule.by_job()
    unplaced = []
    for u in candidate.schedule.unplaced:
        job = prep.scenario.job(u.job_id)
        missing = [d for d in job.depends_on if d not in placed]
        if missing:
            reason = dependency_not_placed(missing[0])
        elif passed(deadline):
            reason = REASON_NOT_DERIVED
        else:
            reason = explain_no_fit(state, job, prep.earliest_start[job.job_id],
                                    prep.latest_end[job.job_id])
        unplaced.append(Unplaced(u.job_id, reason))
    return Schedule(candidate.schedule.assignments, tuple(unplaced))


SUB_MILP_MAX_ROUNDS = 50  # per slice; the slice's time is what ends it in practice
SUB_MILP_SHARE = (0.2, 1.0)
"""Least and most time the sub-MILP rounds (:mod:`~greenslot.solvers.sub_milp`) get after a
ruin-and-recreate restart, as a share of that restart's time: their gain per second over
ruin and recreate's so far, within these limits (half to begin with).

Why adaptive: neither wins everywhere. From the same plans, in 15 s each, ruin and recreate
gained more on ``tou-L`` (75.22 -> 74.96 against 75.03) and nothing on ``tight-L``, where
sub-MILP rounds went 149.79 -> 149.75; with a fixed four rounds per restart they got 2 of
23.5 s there, as a restart runs until it stalls."""


@dataclass
class _Yield:
    """What one neighbourhood has given local search so far: objective gained, seconds."""

    gain: float = 0.0
    seconds: float = 0.0

    def add(self, before: float, after: float, since: float) -> None:
        self.gain += before - after
        self.seconds += time.perf_counter() - since

    def rate(self) -> float:
        return self.gain / self.seconds if self.seconds > 0 else 0.0


def sub_milp_share(ruin: _Yield, sub: _Yield) -> float:
    """The sub-MILP rounds' next slice, relative to the last ruin-and-recreate restart's
    time (see :data:`SUB_MILP_SHARE`)."""
    low, high = SUB_MILP_SHARE
    if sub.seconds == 0:
        return (low + high) / 2
    if ruin.rate() <= 0:
        return high
    return min(high, max(low, sub.rate() / ruin.rate()))

RESTARTS = ((6, 4), (10, 6), (4, 2), (14, 8))
"""(jobs cleared, slots either side) of the ruin-and-recreate rounds that follow the first
when local search is to use all its time: other seeds and window sizes reach plans the
first round's stalled neighbourhood cannot."""


def state_of(scenario: Scenario, schedule: Schedule
             ) -> tuple[ClusterState, dict[str, Assignment]]:
    """A fresh cluster state holding exactly ``schedule``'s assignments, and those by job."""
    built = state_until(scenario, schedule, None)
    assert built is not None  # no deadline to pass
    return built


def state_until(scenario: Scenario, schedule: Schedule, deadline: float | None
                ) -> tuple[ClusterState, dict[str, Assignment]] | None:
    """:func:`state_of`, or None when ``deadline`` (perf_counter) passes while the
    assignments are put back."""
    state = ClusterState(scenario)
    placed = {}
    for a in schedule.assignments:
        if deadline is not None and passed(deadline):  # 20,000 jobs take tens of seconds
            return None
        job = scenario.job(a.job_id)
        ids = [scenario.node_position(n) for n in a.nodes]
        node = scenario.nodes[ids[0]]
        mode = scenario.gpu_type(node.gpu_type).run_mode(job.workload, a.power_limit_w)
        state.place(job, ids, a.start_slot, a.end_slot, mode.power_w,
                    job.gpus if len(ids) == 1 else node.gpus)
        placed[a.job_id] = a
    return state, placed


def _unplaced_penalty(prep: Prepared, placed: dict[str, Assignment]) -> float:
    return _penalty_of(prep, Schedule(tuple(placed.values()), tuple(
        Unplaced(j.job_id, REASON_PENDING) for j in prep.jobs if j.job_id not in placed)))


def _descend(state: ClusterState, placed: dict[str, Assignment], prep: Prepared,
             deadline: float, on_gain: GainCallback | None) -> tuple[int, float]:
    """Feasibility first, then single moves until they stall: the moves made and the
    penalty of the jobs still left out (fixed from here on: moves keep every job placed)."""
    # re-packing first: on tight capacity it places many jobs at once (greedy's 10 left
    # out of 500 on tight-XL in 7.1 s, by best fit), where make-room tries one job at a
    # time and spent the whole search on them (tight-XL: 5 of 500 still out at the limit)
    moved = repack_with_prepared(state, placed, prep, deadline)
    moved += repair_unplaced(state, placed, prep, deadline)  # what re-packing could not
    offset = _unplaced_penalty(prep, placed)
    gain = None if on_gain is None else (lambda value: on_gain(value + offset))
    moved += move_jobs_one_by_one(state, placed, prep, deadline, on_gain=gain)
    return moved, offset


def descended(scenario: Scenario, prep: Prepared, candidate: PlanCandidate, deadline: float,
              on_gain: GainCallback | None = None) -> PlanCandidate:
    """``candidate`` after the first half of local search: jobs left out placed by making
    room for them, then single moves until they stall or ``deadline`` (perf_counter);
    ``candidate`` itself when nothing moved (or its rebuilt plan is not valid).

    Why every candidate and not only the best: a candidate's value before its moves says
    little about its value after them. Greedy cut short before its polish (``auto`` gives
    it 15 % of the limit) ranks behind LP or Lagrangian rounding, yet polished it can end
    below where the search from the rounding stalls: ``tou-L`` at load 13, ``auto`` 77.51
    against a stand-alone greedy's 75.78 (issue 20).
    """
    if passed(deadline):
        return candidate
    built = state_until(scenario, candidate.schedule, deadline)
    if built is None:
        return candidate
    state, placed = built
    moved, _ = _descend(state, placed, prep, deadline, on_gain)
    if not moved:
        return candidate
    found = candidate_from_state(scenario, prep, _moved_source(candidate.source), state,
                                 placed)
    return found if found is not None and found.total < candidate.total - IMPROVEMENT \
        else candidate


def locally_improved(scenario: Scenario, prep: Prepared, best: PlanCandidate,
                     deadline: float, to_deadline: bool = False,
                     proven: Callable[[float], bool] | None = None,
                     on_gain: GainCallback | None = None,
                     descend: bool = True,
                     tally: dict[str, int] | None = None) -> PlanCandidate | None:
    """``best`` after local search: jobs left out placed by making room for them
    (:func:`~greenslot.solvers.local_search.repair_unplaced`), then single moves, then ruin
    and recreate until ``deadline`` (a :func:`time.perf_counter` value); None when no move
    was made. Without ``descend`` the first two are skipped: ``best`` is already what
    :func:`descended` made of it.

    Without ``to_deadline`` the search stops where it stalls (a backend follows and gets the
    rest of the time). With it, the search restarts with other seeds and neighbourhoods
    (:data:`RESTARTS`), each restart followed by sub-MILP rounds for a share of its time
    (:func:`sub_milp_share`), until ``deadline``, or until
    ``proven(total)`` says the bound already proves the plan's penalised objective ``total``
    optimal: a time limit is a budget to spend, and nothing after this step would spend it.
    ``on_gain`` hears each better penalised objective; ``tally`` counts the sub-MILP rounds.
    """
    if passed(deadline):  # rebuilding the plan's state alone took 2.4 s for 2,000 jobs
        return None
    built = state_until(scenario, best.schedule, deadline)
    if built is None:
        return None
    state, placed = built
    if descend:
        moved, offset = _descend(state, placed, prep, deadline, on_gain)
    else:
        moved, offset = 0, _unplaced_penalty(prep, placed)
    gain = None if on_gain is None else (lambda value: on_gain(value + offset))
    ruin, sub = _Yield(), _Yield()
    since, before = time.perf_counter(), state.objective()
    moved += ruin_and_recreate(state, placed, prep, deadline, on_gain=gain)
    ruin.add(before, state.objective(), since)
    restart = 0
    while to_deadline and time.perf_counter() < deadline and not (
            proven is not None and proven(state.objective() + offset)):
        batch, width = RESTARTS[restart % len(RESTARTS)]
        restart += 1
        since, before = time.perf_counter(), state.objective()
        moved += ruin_and_recreate(state, placed, prep, deadline, seed=restart, batch=batch,
                                   width=width, on_gain=gain)
        moved += move_jobs_one_by_one(state, placed, prep, deadline, on_gain=gain)
        restart_s = time.perf_counter() - since
        ruin.add(before, state.objective(), since)
        # where re-inserting one job at a time stalled, the freed jobs solved together
        since, before = time.perf_counter(), state.objective()
        until = min(deadline, since + sub_milp_share(ruin, sub) * restart_s)
        moved += sub_milp_rounds(state, placed, prep, until, seed=restart,
                                 rounds=SUB_MILP_MAX_ROUNDS, width=width, on_gain=gain,
                                 tally=tally)
        sub.add(before, state.objective(), since)
    if not moved:
        return None
    return candidate_from_state(scenario, prep, _moved_source(best.source), state, placed)


def _moved_source(source: str) -> str:
    """Where a plan came from once local search moved it (said once, however often)."""
    return source if source.endswith("+moves") else f"{source}+moves"


def checked_bound(bound: float | None, prep: Prepared, best_total: float) -> float | None:
    """``bound`` as reported: withheld where the pooled model is no relaxation, dropped when
    above a feasible plan beyond solver tolerance, else clamped to that plan's objective.

    A bound that is not a finite number (a Lagrangian that proved nothing is ``-inf``) is no
    bound: it is reported as none, so ``summary.json`` stays JSON (issue 17, item 11).
    """
    if bound is not None and not math.isfinite(bound):
        return None
    if bound is not None and not pooled_wake_is_a_relaxation(prep):
        logger.warning("no bound: some price is negative and a node pool mixes idle draws "
                       "or nodes boot on energy, so the pooled model is not a relaxation")
        return None
    if bound is None or bound <= best_total:
        return bound
    if bound - best_total > OPTIMALITY_TOLERANCE * max(1.0, abs(best_total)):
        logger.warning("bound %.9g above a feasible objective %.9g: dropped", bound, best_total)
        return None
    return best_total


@dataclass(frozen=True)
class Step:
    """One step of a solve, as the summary shows it: whether it ran, for how long, and a
    note (what it found, or why it did not run)."""

    name: str
    ran: bool
    seconds: float
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """``summary.json``'s entry; ``wall_seconds`` goes to its timings like every time."""
        return {"ran": self.ran, "note": self.note, "wall_seconds": self.seconds}


@dataclass(frozen=True)
class Run:
    """One solve under way: what every step reads. ``began`` is a perf_counter value.

    ``steps`` is the record of what ran, appended to by the driver and the method, in order.
    """

    scenario: Scenario
    options: SolveOptions
    prep: Prepared
    began: float
    unavoidable: float
    greedy: PlanCandidate | None
    steps: list[Step] = field(default_factory=list)

    def report(self, incumbent: float | None, bound: float | None) -> None:
        """Pass (incumbent, bound) to the caller's progress callback, if any."""
        if self.options.progress is not None:
            self.options.progress(incumbent, bound)

    def phase(self, name: str) -> None:
        """Tell the caller's phase callback, if any, that step ``name`` starts."""
        if self.options.on_phase is not None:
            self.options.on_phase(name)

    def record(self, name: str, ran: bool, since: float, note: str = "") -> None:
        """Add step ``name`` (started at perf_counter ``since``) to :attr:`steps`."""
        self.steps.append(Step(name, ran, time.perf_counter() - since if ran else 0.0, note))

    def deadline(self) -> float | None:
        """When the time limit ends (perf_counter), or None without one."""
        limit = self.options.time_limit_s
        return None if limit is None else self.began + limit


@dataclass(frozen=True)
class BoundPhase:
    """What a method's bound step found.

    ``bound`` is proven on the method's relaxation, before the unavoidable penalty is taken
    off (None: none proven); ``rounded`` the plan rounded from it (None: none valid);
    ``search_until`` when local search must stop (perf_counter); ``search_to_end`` whether
    it is to use all that time (nothing else follows to spend it) rather than stop where it
    stalls.
    """

    bound: float | None
    rounded: PlanCandidate | None
    search_until: float
    search_to_end: bool = field(default=False, kw_only=True)


@dataclass(frozen=True)
class FinishPhase:
    """What a method's last step found: a plan, another proven bound (before the unavoidable
    penalty) and how it ran.

    ``rounding_slack`` is how far a backend that claims optimality lowered its bound for its
    own rounding (CP-SAT's integer scaling); see :data:`ROUNDING_CREDIT`.
    """

    found: PlanCandidate | None = None
    bound: float | None = None
    rounding_slack: float = 0.0
    interface: str = ""
    figures: Mapping[str, Any] = field(default_factory=dict)
    """The step's own measurements, for :meth:`Method.details`."""


Phase = TypeVar("Phase", bound=BoundPhase)


class Method(Protocol[Phase]):
    """What differs between the pipelines the driver runs (see the module docstring).

    ``name`` is the solver name in the result. Optimality is ``best - bound <=
    max(gap, gap_floor) * |best| + absolute_slack + credit``, the credit being the finish's
    rounding slack while it is within :data:`ROUNDING_CREDIT`.
    """

    # Read-only, so a frozen dataclass's fields satisfy them.
    @property
    def name(self) -> str: ...

    @property
    def gap_floor(self) -> float: ...

    @property
    def absolute_slack(self) -> float: ...

    def bound_and_round(self, run: Run) -> Phase:
        """Prove a bound and round its relaxation into a plan."""
        ...

    def finish(self, run: Run, phase: Phase, best: PlanCandidate) -> FinishPhase:
        """One more try from the best plan so far (a warm-started backend), or nothing."""
        ...

    def details(self, run: Run, phase: Phase, finish: FinishPhase,
                shared: Mapping[str, Any]) -> dict[str, Any]:
        """The result's ``details``: ``shared`` (plan_from, interface, candidates, the
        reported bound) and the method's own figures, in the order ``summary.json`` shows
        them."""
        ...


def is_optimal(total: float, bound: float | None, gap: float, absolute: float,
               rounding_slack: float) -> bool:
    """Whether ``bound`` proves ``total`` within relative ``gap`` plus ``absolute``, crediting
    ``rounding_slack`` while it is at most :data:`ROUNDING_CREDIT` of the objective."""
    scale = max(abs(total), 1e-9)
    credit = rounding_slack if rounding_slack <= ROUNDING_CREDIT * scale else 0.0
    return bound is not None and total - bound <= gap * scale + absolute + credit


def drive(scenario: Scenario, options: SolveOptions, method: Method[Phase], prep: Prepared,
          began: float | None = None, weigh_node_kinds: bool = False) -> SolveResult:
    """Run the steps of the module docstring with ``method`` on ``scenario``, prepared as
    ``prep`` (by the caller: the methods need different preparations).

    ``began`` (a perf_counter value, default now) is when the solve started: time limits and
    ``solve_seconds`` count from it, preparation included. ``weigh_node_kinds`` gives greedy
    its regret ordering (:func:`~greenslot.solvers.greedy.solve_greedy`): worth its time
    where greedy's plan is the main start (``large``), not where LP rounding guides
    (benchmark L at load 9: greedy 4.6 -> 19 s for a final plan no better).
    """
    began = time.perf_counter() if began is None else began
    if options.on_phase is not None:
        options.on_phase("greedy")
    since = time.perf_counter()
    limit = options.time_limit_s
    deadline = None if limit is None else began + limit
    greedy_result = solve_greedy(
        scenario, options, None if limit is None else began + GREEDY_TIME_SHARE * limit,
        weigh_node_kinds=weigh_node_kinds,
        deadline=None if limit is None else began + FIRST_PASS_END_SHARE * limit)
    greedy_plan = greedy_result.schedule
    greedy_polished = bool(greedy_result.details.get(POLISHED))
    greedy = valid_candidate(scenario, prep, "greedy", greedy_plan)
    run = Run(scenario, options, prep, began, unavoidable_penalty(prep), greedy)
    cut = sum(u.reason == TIME_LIMIT_REASON for u in greedy_plan.unplaced)
    run.record("greedy", True, since, ("valid" if greedy is not None else "no valid plan")
               + (f"; cut by the time limit, {cut} jobs not reached" if cut else ""))
    if greedy is not None:
        run.report(greedy.total, None)

    phase = method.bound_and_round(run)
    candidates = [c for c in (greedy, phase.rounded) if c is not None]
    if not candidates:
        raise RuntimeError("neither greedy nor rounding produced a valid plan")
    best = min(candidates, key=lambda c: c.total)
    phase_bound = None if phase.bound is None else phase.bound - run.unavoidable
    run.report(best.total, phase_bound)
    gap = max(options.gap if options.gap is not None else DEFAULT_GAP, method.gap_floor)
    checked = checked_bound(phase_bound, prep, best.total) if phase_bound is not None else None

    def proven(total: float) -> bool:
        return is_optimal(total, checked, gap, method.absolute_slack, 0.0)

    run.phase("descend candidates")
    reporter = _throttled(lambda total: run.report(total, None))
    since = time.perf_counter()
    polished = (greedy,) if greedy is not None and greedy_polished and greedy.penalty == 0 \
        else ()
    best, notes = best_descended(scenario, prep, candidates, phase.search_until, polished,
                                 reporter)
    run.record("descend candidates", bool(notes), since,
               "; ".join(notes) if notes else "no candidate left to descend")
    run.report(best.total, phase_bound)
    run.phase("local search")
    since = time.perf_counter()
    tally: dict[str, int] = {}
    improved = locally_improved(scenario, prep, best, phase.search_until,
                                to_deadline=phase.search_to_end, proven=proven,
                                on_gain=reporter, descend=False, tally=tally)
    note = "no better plan"
    if improved is not None and improved.total < best.total - IMPROVEMENT:
        note = f"{best.total:.6g} -> {improved.total:.6g}"
        candidates.append(improved)
        best = improved
    if tally:
        note += f"; sub-MILP rounds: {tally['kept']} of {tally['solved']} kept"
    run.record("local search", True, since, note)
    run.report(best.total, phase_bound)

    finish = method.finish(run, phase, best)
    if finish.found is not None and finish.found.total < best.total - IMPROVEMENT:
        best = finish.found

    bounds = [b - run.unavoidable for b in (phase.bound, finish.bound) if b is not None]
    bound = checked_bound(max(bounds) if bounds else None, prep, best.total)
    run.report(best.total, bound)
    optimal = is_optimal(best.total, bound, gap, method.absolute_slack, finish.rounding_slack)
    shared = {"plan_from": best.source, "interface": finish.interface,
              "candidates": {c.source: c.total for c in candidates}, "bound": bound}
    details = method.details(run, phase, finish, shared)
    details["steps"] = {step.name: step.as_dict() for step in run.steps}
    return SolveResult(
        solver=method.name,
        status=SolveStatus.OPTIMAL if optimal else SolveStatus.FEASIBLE,
        schedule=explained(best, prep, deadline),
        bound=bound,
        solve_seconds=time.perf_counter() - began,
        unplaced_penalty=best.penalty,
        details=details,
    )


def best_descended(scenario: Scenario, prep: Prepared, candidates: list[PlanCandidate],
                   deadline: float, polished: tuple[PlanCandidate, ...] = (),
                   on_gain: GainCallback | None = None) -> tuple[PlanCandidate, list[str]]:
    """The best of ``candidates`` after each is descended (:func:`descended`) until
    ``deadline`` (perf_counter), those in ``polished`` (by identity) taken as they are; the
    descents appended to ``candidates``; and a note per candidate for the step record.

    The best candidate goes first, the others follow while time is left, before ruin and
    recreate takes the rest: a start far behind must not take the time from the one ahead
    (``tight-XL``, both with jobs left out: greedy first ended at 519.24 and halving the
    time at 3,749, where the best alone reached 516.09). The driver passes greedy's plan as
    ``polished`` when its own polish ran to the end (its single moves are the same) and
    left no job out. So
    ``auto``'s plan is never worse than greedy's polished one whenever the time lets
    greedy's plan be polished, whatever its place among the candidates before the moves.
    """
    notes = []
    best_total = [min(c.total for c in candidates)]

    def lower_only(total: float) -> None:
        # a descent from a worse start is no news to the progress line until it leads
        if total < best_total[0]:
            best_total[0] = total
            if on_gain is not None:
                on_gain(total)

    queue = sorted((c for c in candidates if not any(c is p for p in polished)),
                   key=lambda c: c.total)
    for candidate in queue:
        if passed(deadline):
            notes.append(f"{candidate.source} not descended (no time left)")
            continue
        lower = descended(scenario, prep, candidate, deadline, on_gain=lower_only)
        if lower is candidate:
            notes.append(f"{candidate.source} {candidate.total:.6g}: no move")
            continue
        notes.append(f"{candidate.source} {candidate.total:.6g} -> {lower.total:.6g}")
        candidates.append(lower)
    return min(candidates, key=lambda c: c.total), notes


PROGRESS_EVERY_S = 0.5


def _throttled(report: Callable[[float], None]) -> Callable[[float], None]:
    """``report``, called at most every :data:`PROGRESS_EVERY_S` (local search finds many
    small gains a second; the display needs two)."""
    last = [-float("inf")]

    def call(value: float) -> None:
        now = time.perf_counter()
        if now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            report(value)

    return call
