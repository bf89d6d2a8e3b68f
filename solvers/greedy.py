"""Greedy carbon-aware list scheduling: each job at its least-cost feasible placement.

Jobs are taken in dependency order, tightest window first; each is placed at the start slot,
power mode and nodes that add the least objective given what is already placed (exact marginal
grid draw after renewables, power cap and node wake-up included). Jobs that found no room are
moved to the front and the pass is repeated ("squeaky wheel"); two orderings are tried and the
better plan kept. Fast and always valid: it is the warm start the exact solvers improve on.
"""

from __future__ import annotations

import functools
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
from greenslot.solvers.ordering import dependency_order
from greenslot.solvers.pinned import latest_end_before_pinned, place_pinned
from greenslot.solvers.placement import best_placement
from greenslot.solvers.state import ClusterState, NodeGroup
from greenslot.solvers.types import SolveOptions, SolveResult, SolveStatus

MAX_PASSES = 4


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
    time. ``large`` turns it on (greedy's plan is its main start), inside its time limit.
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
    keys = _keys(scenario, groups, finish)
    regrets = _regrets(scenario, groups, finish, stop_at) if weigh_node_kinds else None
    if regrets is not None:
        keys["largest-regret"] = lambda job: (-regrets[job.job_id], job.job_id)
    for key in keys.values():
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
    schedule = finish_schedule(scenario, best.state, best.placed, best.failures, deadline)
    return SolveResult(
        solver="greedy",
        status=SolveStatus.FEASIBLE,
        schedule=_no_worse_than_baselines(scenario, schedule, best.score(),
                                          options.baselines if options else None,
                                          deadline),
        bound=None,
        solve_seconds=time.perf_counter() - started,
    )


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
