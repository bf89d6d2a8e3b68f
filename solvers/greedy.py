"""Greedy carbon-aware list scheduling: each job at its least-cost feasible placement.

Jobs are taken in dependency order, tightest window first; each is placed at the start slot,
power mode and nodes that add the least objective given what is already placed (exact marginal
grid draw after renewables, power cap and node wake-up included). Jobs that found no room are
moved to the front and the pass is repeated ("squeaky wheel"); two orderings are tried and the
better plan kept. Fast and always valid: it is the warm start the exact solvers improve on.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable

from greenslot.model import rules
from greenslot.model.errors import Conflict, InfeasibleError
from greenslot.model.scenario import Job, Scenario
from greenslot.model.schedule import Assignment, Schedule, Unplaced, dependency_not_placed
from greenslot.model.validator import validate
from greenslot.solvers.baselines import Baselines, solve_baselines
from greenslot.solvers.deadline import REASON_NOT_DERIVED, TIME_LIMIT_REASON, passed
from greenslot.solvers.diagnose import explain_no_fit
from greenslot.solvers.feasibility import MAX_SECONDS, repack_unplaced
from greenslot.solvers.local_search import _drop, _lift
from greenslot.solvers.ordering import dependency_order
from greenslot.solvers.pinned import latest_end_before_pinned, place_pinned
from greenslot.solvers.placement import best_placement
from greenslot.solvers.state import ClusterState, NodeGroup
from greenslot.solvers.types import SolveOptions, SolveResult, SolveStatus

MAX_PASSES = 4
PAIR_MOVES_UP_TO_JOBS = 30
"""Greedy's polish tries moving pairs of jobs only up to this many placed (pairs grow as
the square; larger plans get local search's ruin and recreate in ``auto``)."""


def latest_finish(scenario: Scenario, groups: dict[str, list[NodeGroup]]) -> dict[str, int]:
    """Latest end slot of each job that still leaves its successors time to run.

    The critical-path rule: a job must end early enough for every job depending on it to run
    at its fastest mode before its own latest finish. Without it a greedy pass happily pushes
    a first stage into the cheapest late slots and leaves no window for the second. A
    dependant that cannot run in any case (its own window is too short, or it would leave
    this job no room) imposes nothing: it is left out, and this job still runs.
    """
    grid = scenario.grid
    finish = {j.job_id: rules.latest_end_slot(grid, j) for j in scenario.jobs}
    earliest = {j.job_id: rules.earliest_start_slot(grid, j) for j in scenario.jobs}
    fastest = {j.job_id: _fastest_slots(scenario, groups, j) for j in scenario.jobs}
    successors: dict[str, list[Job]] = {}
    for job in scenario.jobs:
        for dep in job.depends_on:
            successors.setdefault(dep, []).append(job)
    for job in reversed(dependency_order(list(scenario.jobs), lambda j: (j.job_id,))):
        for child in successors.get(job.job_id, []):
            limit = finish[child.job_id] - fastest[child.job_id]
            child_viable = limit >= earliest[child.job_id]
            leaves_room = limit - fastest[job.job_id] >= earliest[job.job_id]
            if child_viable and leaves_room:
                finish[job.job_id] = min(finish[job.job_id], limit)
    return finish


def _fastest_slots(scenario: Scenario, groups: dict[str, list[NodeGroup]], job: Job) -> int:
    options = [rules.run_slots(scenario.grid, job, m) for g in groups[job.job_id]
               for m in rules.allowed_modes(job, scenario.gpu_type(g.gpu_type))[:1]]
    # no node group at all: the job can never run, so it needs the whole horizon (its
    # dependency then keeps no room for it, as latest_finish's docstring promises)
    return min(options, default=scenario.grid.n_slots + 1)


class _Pass:
    """One greedy pass over the jobs in a given order."""

    def __init__(self, scenario: Scenario, groups: dict[str, list[NodeGroup]],
                 finish: dict[str, int]) -> None:
        self.scenario = scenario
        self.groups = groups
        self.finish = finish
        self.state = ClusterState(scenario)
        self.placed: dict[str, Assignment] = place_pinned(self.state)
        self.end_limits = latest_end_before_pinned(self.state, self.placed)
        self.failures: dict[str, tuple] = {}

    def window(self, job: Job) -> tuple[int, int]:
        grid = self.scenario.grid
        earliest = max([rules.earliest_start_slot(grid, job)]
                       + [self.placed[d].end_slot for d in job.depends_on if d in self.placed])
        latest = min(self.finish[job.job_id], self.end_limits.get(job.job_id, 10**9))
        return earliest, latest

    def run(self, order: list[Job], deadline: float | None = None) -> None:
        """Place ``order``'s jobs one by one; those still waiting at ``deadline``
        (perf_counter) are left out, failure ``("time",)``."""
        for job in order:
            if passed(deadline):
                self.failures[job.job_id] = ("time",)
                continue
            missing = [d for d in job.depends_on if d not in self.placed]
            if missing:
                own_window = (rules.earliest_start_slot(self.scenario.grid, job),
                              self.finish[job.job_id])
                self.failures[job.job_id] = (
                    ("no_fit", *own_window) if own_window[1] - own_window[0]
                    < _fastest_slots(self.scenario, self.groups, job)
                    else ("dependency", missing[0]))
                continue
            earliest, latest = self.window(job)
            found = best_placement(self.state, job, earliest, latest, self.groups[job.job_id])
            if found is None:
                self.failures[job.job_id] = ("no_fit", earliest, latest)
                continue
            self.state.place(job, found.node_ids, found.start, found.end, found.mode.power_w,
                             found.gpus_each)
            self.placed[job.job_id] = self.state.assignment(
                job, found.node_ids, found.start, found.end, found.mode.power_limit_w)

    def polish(self, stop_at: float | None) -> int:
        """Move placed jobs one at a time to where they now cost least, while it pays;
        the moves made.

        Why: a pass places each job against the jobs before it only; a job placed early on
        the efficient machine at the cheap hours can leave a later one the hungry machine
        although moving the first would cost less (issue 20: 0.2765 against 0.2495 optimal
        on ``tou``-style 5-job instances, fixed by one move). Each move keeps the window,
        dependencies (placed successors start after it ends) and capacity; a job goes back
        to its old place unless the new one is strictly cheaper. Where single moves stall
        and the plan is small (:data:`PAIR_MOVES_UP_TO_JOBS`), pairs are moved together: a
        job leaves the cheap hours of a hungry machine only once another has left the
        efficient one (the 2,755 against 2,515 case of issue 20 needs such a pair).
        """
        moves = 0
        for _ in range(MAX_PASSES):
            moved = sum(self._moved([job_id], stop_at) for job_id in list(self.placed))
            if not moved and len(self.placed) <= PAIR_MOVES_UP_TO_JOBS:
                ids = list(self.placed)
                moved = sum(self._moved([a, b], stop_at) for i, a in enumerate(ids)
                            for b in ids[i + 1:] if self._may_trade(a, b))
            moves += moved
            if not moved:
                break
        return moves

    def _may_trade(self, a: str, b: str) -> bool:
        """Whether moving ``a`` and ``b`` together may pay where moving each alone did not:
        both placed, and each may run during the other's run (else neither can take the
        room the other leaves)."""
        if a not in self.placed or b not in self.placed:
            return False
        first, second = self.placed[a], self.placed[b]
        (lo_a, hi_a), (lo_b, hi_b) = (self.window(self.scenario.job(a)),
                                      self.window(self.scenario.job(b)))
        return (lo_a < second.end_slot and first.start_slot < hi_b
                and lo_b < first.end_slot and second.start_slot < hi_a)

    def _moved(self, job_ids: list[str], stop_at: float | None) -> int:
        """Take ``job_ids`` out and put them back, in either order, where they now cost
        least; 1 if that lowered the objective, else 0 (everything as it was)."""
        jobs = [self.scenario.job(k) for k in job_ids]
        if any(j.pinned for j in jobs) or (stop_at is not None
                                            and time.perf_counter() > stop_at):
            return 0
        if any(d in job_ids for j in jobs for d in j.depends_on):
            return 0  # a pair in a chain: moving it needs the chain's order, left out here
        before = self.state.objective()
        old = {k: self.placed.pop(k) for k in job_ids}
        for job in jobs:
            _lift(self.state, self.scenario, job, old[job.job_id])
        for order in (jobs, jobs[::-1]) if len(jobs) > 1 else (jobs,):
            new = {}
            for job in order:
                found = self._best_now(job)
                if found is None:
                    break
                self.state.place(job, found.node_ids, found.start, found.end,
                                 found.mode.power_w, found.gpus_each)
                new[job.job_id] = self.placed[job.job_id] = self.state.assignment(
                    job, found.node_ids, found.start, found.end, found.mode.power_limit_w)
            after = self.state.objective()
            if len(new) == len(jobs) and after < before - 1e-9 * max(1.0, abs(before)):
                return 1
            for job_id, a in new.items():
                _lift(self.state, self.scenario, self.scenario.job(job_id), a)
                del self.placed[job_id]
        for job in jobs:
            _drop(self.state, self.scenario, job, old[job.job_id])
            self.placed[job.job_id] = old[job.job_id]
        return 0

    def _best_now(self, job: Job):
        """The job's cheapest placement around everything placed: after its placed
        dependencies, before its placed dependants, within its own window."""
        earliest, latest = self.window(job)
        latest = min([latest] + [a.start_slot for k, a in self.placed.items()
                                 if job.job_id in self.scenario.job(k).depends_on])
        return best_placement(self.state, job, earliest, latest, self.groups[job.job_id])

    def score(self) -> tuple[float, float]:
        """Priority-weighted unplaced jobs first, then the objective: lower is better."""
        lost = sum(self.scenario.job(j).priority for j in self.failures)
        return (lost, self.state.objective())


def _boosted_first(job: Job, key: Callable[[Job], tuple], boosted: frozenset[str]) -> tuple:
    """Jobs that found no room in an earlier pass first, then ``key``'s order."""
    return (job.job_id not in boosted, *key(job))


def _keys(scenario: Scenario, groups: dict[str, list[NodeGroup]],
          finish: dict[str, int]) -> dict[str, Callable[[Job], tuple]]:
    grid = scenario.grid

    def slack(job: Job) -> int:
        return (finish[job.job_id] - rules.earliest_start_slot(grid, job)
                - _fastest_slots(scenario, groups, job))

    def size(job: Job) -> float:
        return job.gpus * job.duration_h

    return {
        "tightest-window": lambda job: (slack(job), -size(job)),
        "largest-first": lambda job: (-size(job), slack(job)),
    }


def _by_regret(job: Job, regrets: dict[str, float]) -> tuple:
    """Largest regret first (:func:`_regrets`), then job id."""
    return (-regrets[job.job_id], job.job_id)


def _regrets(scenario: Scenario, groups: dict[str, list[NodeGroup]],
             finish: dict[str, int], stop_at: float | None = None
             ) -> dict[str, float] | None:
    """Per job, what it loses on an empty cluster if it cannot have its cheapest kind of
    node: the second-cheapest group's best cost less the cheapest's. None when every job
    has one kind of node only (nothing to weigh), or when ``stop_at`` (perf_counter) passes
    before all are known.

    Why: with unequal machines, tightest-window-first fills the efficient nodes with
    whichever jobs come first and leaves the long jobs the hungry ones (issue 20: 2,755
    energy units against 2,515 optimal on 5 jobs). Taking jobs by regret, largest first,
    gives the efficient nodes to the jobs that save most there.
    """
    if all(len({(g.site, g.gpu_type) for g in own}) < 2 for own in groups.values()):
        return None
    empty = ClusterState(scenario)
    place_pinned(empty)
    regrets = {}
    for job in scenario.jobs:
        if stop_at is not None and time.perf_counter() > stop_at:
            return None
        earliest = rules.earliest_start_slot(scenario.grid, job)
        best_by_kind: dict[tuple[int, str], float] = {}
        for group in groups[job.job_id]:
            found = best_placement(empty, job, earliest, finish[job.job_id], [group])
            if found is not None:
                kind = (group.site, group.gpu_type)
                best_by_kind[kind] = min(found.cost, best_by_kind.get(kind, float("inf")))
        costs = sorted(best_by_kind.values())
        regrets[job.job_id] = costs[1] - costs[0] if len(costs) > 1 else 0.0
    return regrets


POLISHED = "polished"
"""Key of greedy's ``details``: True when its re-packing and polish ended before their time
did, so local search need not repeat its single moves (see ``driver.best_descended``)."""

EXTRA_PASSES_TIME_SHARE = 0.9
"""Of ``time_limit_s``, when greedy is the solver: after it no further pass starts."""


def solve_greedy(scenario: Scenario, options: SolveOptions | None = None,
                 stop_at: float | None = None, weigh_node_kinds: bool = False,
                 deadline: float | None = None) -> SolveResult:
    """Plan every job greedily; see the module docstring for the rule.

    A further pass (the second ordering, a squeaky-wheel repeat) starts only before
    ``stop_at`` (a perf_counter value; default: ``EXTRA_PASSES_TIME_SHARE`` of
    ``options.time_limit_s``, or no limit), so a large plan under a time limit keeps the
    passes that fit instead of overrunning it. The first pass stops placing at ``deadline``
    (perf_counter; default: ``options.time_limit_s`` from the call): the jobs it did not
    reach are left out with :data:`~greenslot.solvers.deadline.TIME_LIMIT_REASON`, and the
    reasons of the others are derived only while time is left.

    ``weigh_node_kinds`` adds a third ordering, largest regret first (:func:`_regrets`),
    where jobs can run on more than one kind of node. Off for ``--solver greedy``: on the
    bundled example it found a plan 0.6 % better (389.27 -> 387.09 kg) in three times the
    time. ``large`` turns it on (greedy's plan is its main start), inside its time limit;
    the regrets are computed only when that ordering's turn comes with time for a pass.

    Without ``options.baselines`` for this scenario the baselines are solved here, once,
    and only until ``stop_at`` (else ``deadline``): they are a comparison, and must not take
    the time left to the phases after greedy.
    """
    started = time.perf_counter()
    if options is not None and options.time_limit_s is not None:
        if stop_at is None:
            stop_at = started + EXTRA_PASSES_TIME_SHARE * options.time_limit_s
        if deadline is None:
            deadline = started + options.time_limit_s
    free_jobs = [j for j in scenario.jobs if not j.pinned]
    probe = ClusterState(scenario)
    groups = {j.job_id: probe.candidate_groups(j) for j in scenario.jobs}
    finish = latest_finish(scenario, groups)
    best: _Pass | None = None
    keys: dict[str, Callable[[Job], tuple] | None] = dict(_keys(scenario, groups, finish))
    if weigh_node_kinds:
        keys["largest-regret"] = None   # the regrets are computed when this ordering's turn comes
    for known_key in keys.values():
        key = known_key
        if key is None:
            # only now, and only with time left for a pass: a costing per group per job
            # that the first orderings' passes, once past ``stop_at``, would throw away
            # (at 20,000 x 4,096 it ran to its cut at 15 % of the limit, for nothing)
            if best is not None and stop_at is not None and time.perf_counter() > stop_at:
                break
            regrets = _regrets(scenario, groups, finish, stop_at)
            if regrets is None:
                continue
            key = functools.partial(_by_regret, regrets=regrets)
        boosted: set[str] = set()
        for _ in range(MAX_PASSES):
            if best is not None and stop_at is not None and time.perf_counter() > stop_at:
                break
            order = dependency_order(free_jobs, functools.partial(
                _boosted_first, key=key, boosted=frozenset(boosted)))
            attempt = _Pass(scenario, groups, finish)
            attempt.run(order, deadline)
            if best is None or attempt.score() < best.score():
                best = attempt
            stuck = set(attempt.failures) - boosted
            if not attempt.failures or not stuck:
                break
            boosted |= stuck
    if best is None:  # MAX_PASSES >= 1 and there are two orderings: a pass always ran
        raise RuntimeError("greedy ran no pass")
    # the polish and the re-packing end at the extra passes' share, else at the deadline
    soft_stop = stop_at if stop_at is not None else deadline
    if best.failures:  # feasibility first: re-pack exactly to place what the passes left out
        until = soft_stop if soft_stop is not None else time.perf_counter() + MAX_SECONDS
        if repack_unplaced(best.state, best.placed, set(best.failures), until):
            best.failures = {k: v for k, v in best.failures.items() if k not in best.placed}
    best.polish(soft_stop)
    schedule = finish_schedule(scenario, best.state, best.placed, best.failures, deadline)
    baselines = options.baselines if options else None
    if baselines is None or baselines.scenario is not scenario:
        # solved once for both comparisons below, and only in the polish's time: a
        # comparison must not take the time the plan's later phases were left (at 20,000
        # jobs solving them twice past the first pass overran the limit)
        baselines = solve_baselines(scenario, soft_stop)
    chosen = _no_worse_than_baselines(scenario, schedule, best.score(), baselines, deadline)
    # the best valid baseline plan, polished the same way, may end lower than the pass
    rival = _no_worse_than_baselines(scenario, schedule, (math.inf, math.inf), baselines,
                                     deadline)
    if rival is not schedule:
        polished, score = _polished(scenario, groups, finish, rival, soft_stop)
        if score < best.score():
            chosen = polished
    # conservative: a polish that ended just as its time did counts as cut short
    ran_to_end = soft_stop is None or time.perf_counter() < soft_stop
    return SolveResult(
        solver="greedy",
        status=SolveStatus.FEASIBLE,
        schedule=chosen,
        bound=None,
        solve_seconds=time.perf_counter() - started,
        details={POLISHED: ran_to_end},
    )


def _polished(scenario: Scenario, groups: dict[str, list[NodeGroup]],
              finish: dict[str, int], schedule: Schedule, stop_at: float | None
              ) -> tuple[Schedule, tuple[float, float]]:
    """``schedule`` after :meth:`_Pass.polish`, its unplaced jobs and reasons kept, and
    its score (priority left out, objective)."""
    holder = _Pass(scenario, groups, finish)  # pinned jobs placed already
    for a in schedule.assignments:
        if a.job_id not in holder.placed:
            _drop(holder.state, scenario, scenario.job(a.job_id), a)
            holder.placed[a.job_id] = a
    holder.polish(stop_at)
    lost = sum(scenario.job(u.job_id).priority for u in schedule.unplaced)
    return (Schedule(tuple(holder.placed.values()), schedule.unplaced),
            (lost, holder.state.objective()))


def _no_worse_than_baselines(scenario: Scenario, schedule: Schedule,
                             score: tuple[float, float],
                             baselines: Baselines | None,
                             deadline: float | None = None) -> Schedule:
    """A baseline's plan instead (fifo, best_window), where it is valid and scores better.

    Rare on realistic scenarios, but it makes "greedy is never worse than fifo, or than per-job
    shifting" a guarantee rather than a hope whenever the baseline's plan is itself valid
    (meets every deadline). The first, fifo, wins ties. ``baselines`` are the pipeline's, solved
    and priced once per plan; without them (greedy called on its own) they are solved here.
    """
    if baselines is not None and baselines.scenario is scenario:
        known = baselines
    else:  # solved here, within the time greedy has
        known = solve_baselines(scenario, deadline)
    for baseline in known.by_name.values():
        candidate = baseline.result.schedule
        lost = sum(scenario.job(u.job_id).priority for u in candidate.unplaced)
        value = baseline.objective
        if ((lost, value) < (score[0], score[1] - 1e-9)
                and not validate(scenario, candidate, baseline.accounting)):
            schedule, score = candidate, (lost, value)
    return schedule


def finish_schedule(scenario: Scenario, state: ClusterState, placed: dict[str, Assignment],
                    failures: dict[str, tuple], deadline: float | None = None) -> Schedule:
    """Turn a pass's outcome into a schedule with a precise reason per unplaced job.

    A precise "no room" reason costs a diagnosis per job; after ``deadline`` (perf_counter)
    the job gets :data:`~greenslot.solvers.deadline.REASON_NOT_DERIVED` instead.

    A pinned job whose dependency could not be placed before it makes the problem infeasible.
    """
    conflicts = [Conflict((d, j), f"pinned {j} depends on {d}, which cannot be placed before it")
                 for j in placed for d in scenario.job(j).depends_on if d not in placed]
    if conflicts:
        raise InfeasibleError(conflicts)
    unplaced = []
    for job_id, failure in sorted(failures.items()):
        if failure[0] == "dependency":
            reason = dependency_not_placed(failure[1])
        elif failure[0] == "time":
            reason = TIME_LIMIT_REASON
        elif passed(deadline):
            reason = REASON_NOT_DERIVED
        else:
            reason = explain_no_fit(state, scenario.job(job_id), failure[1], failure[2])
        unplaced.append(Unplaced(job_id, reason))
    return Schedule(tuple(placed.values()), tuple(unplaced))
