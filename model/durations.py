"""Run-time uncertainty: the length a plan reserves, and the upper estimate a limit comes from.

A training job's run time is not one number. Seeds, data order and early stopping move the
epochs it needs to reach its target (on the Zeus NSDI '23 runs, the same configuration takes
from about half to twice its median epochs), so a plan that reserves exactly ``duration_h``
and a ``--time`` a fixed 10 % above it kills a job that merely ran long, wasting all its
energy. Here each job gets two more lengths, both at its fastest power mode and in hours:

- ``duration_max_h``: the upper estimate, the longest it is expected to run. Declared in the
  jobs CSV, or learnt from a history of past runs of the same workload. Slurm's ``--time``
  comes from it (:func:`time_limit_minutes`), so no job that runs within its declared range is
  killed at its limit.
- ``reserve_h``: what the plan reserves capacity for, the run time at the quantile ``q`` the
  user chooses (``duration_quantile``). ``q = 0.5`` reserves the typical length (the contract's
  ``duration_h``), ``q = 1`` the upper estimate.

The quantile function of a job, ``Q(q)`` for ``0.5 <= q <= 1``:

- with a declared range, ``duration_h`` is the median and ``duration_max_h`` the top, and
  ``Q`` is linear between them (an assumption: nothing else is declared);
- learnt from history, ``Q(q) = duration_h * R(q)`` where ``R`` is the empirical quantile
  function of ``actual_h / duration_h`` over the workload's past runs (the job's user's own
  runs of it where there are enough: :meth:`DurationHistory.learnt`), and the upper estimate
  is ``duration_h`` times the largest ratio seen.

The time limit of a job whose range is learnt (``limit_h``) is wider than its upper estimate:
``duration_h`` times the largest ratio seen in the whole history, any workload's
(:attr:`DurationHistory.largest_ratio`), where that is larger. Why: the largest of n past
runs is passed by about one new run in n + 1, and by far more when the runs learnt from
missed a tail the workload has (on the Zeus runs, one random half of resnet50's runs ends at
1.06 x its median, while 3 of the other 10 run 1.41 x: 14 of 84 jobs a week were killed at
their limit). A kill wastes the whole run, while a later limit costs the plan little: it
reserves ``reserve_h``, and only a run that is already past its own estimate holds its GPUs
for longer. Such a run would end after its deadline if the deadline were guarded at the
workload's own top only, so by default (``duration_deadline: limit``) the deadline is
guarded up to the limit. A declared ``duration_max_h`` is the user's own promise and stays
the limit.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from greenslot.model.scenario import Job, PowerMode

DEFAULT_QUANTILE = 0.5
MIN_HISTORY_RUNS = 5
"""Past runs a workload needs before its ratios are trusted; fewer leave its jobs as declared."""

# The time limit without an upper estimate (the contract-era default): planned run plus
# max(10 min, 10 %).
TIME_MARGIN_FRACTION = 0.10
TIME_MARGIN_MIN_MINUTES = 10
TIME_GRACE_MINUTES = 5
"""Added to the upper estimate's run time: job start-up and Slurm's minute granularity."""

DeadlineGuard = float | Literal["limit"] | None
"""What must still meet a job's deadline (``duration_deadline``): the run time at a quantile
(1: the upper estimate), ``"limit"`` (the longest run its time limit allows, ``limit_h``
where the range is learnt), or None (only the reserved run)."""
GUARD_TO_LIMIT: Literal["limit"] = "limit"


@dataclass(frozen=True)
class DurationHistory:
    """Past runs' ``actual_h / duration_h`` ratios by workload, sorted (at least one each),
    and by ``(user, workload)`` for runs whose user is known.

    ``source`` names the file in messages.
    """

    ratios: Mapping[str, tuple[float, ...]]
    source: str = ""
    by_user: Mapping[tuple[str, str], tuple[float, ...]] = dataclasses.field(
        default_factory=dict)

    @property
    def largest_ratio(self) -> float:
        """The largest ``actual_h / duration_h`` of any past run, any workload (at least 1)."""
        return max((r[-1] for r in self.ratios.values() if r), default=1.0)

    def learnt(self, workload: str, user: str | None = None) -> tuple[float, ...] | None:
        """The ratios a job of ``workload`` submitted by ``user`` learns from, or None.

        The user's own runs of the workload where there are at least
        :data:`MIN_HISTORY_RUNS` (why: how far a person's estimates stray is personal; one
        user declares the median, another a safe upper bound), else the workload's runs where
        there are that many, else nothing.
        """
        if user:
            own = self.by_user.get((user, workload), ())
            if len(own) >= MIN_HISTORY_RUNS:
                return own
        found = self.ratios.get(workload, ())
        return found if len(found) >= MIN_HISTORY_RUNS else None


@dataclass(frozen=True)
class DurationPolicy:
    """The scenario's treatment of run times: ``duration_quantile``, ``duration_history`` and
    ``duration_deadline`` as :func:`with_uncertainty` takes them.

    Why an object: jobs that join the scenario after it is loaded (the queue, taken by
    ``sync --queue``) must get the same upper estimates and reserved lengths as its own.
    """

    quantile: float = DEFAULT_QUANTILE
    history: DurationHistory | None = None
    deadline_guard: DeadlineGuard = GUARD_TO_LIMIT

    def apply(self, job: Job) -> Job:
        """``job`` with its upper estimate and reserved length (:func:`with_uncertainty`)."""
        return with_uncertainty(job, self.quantile, self.history, self.deadline_guard)

    def learns(self, job: Job) -> bool:
        """Whether the history has enough past runs for ``job``'s user or workload."""
        return self.history is not None and \
            self.history.learnt(job.workload, job.user) is not None


def ratio_quantile(ratios: tuple[float, ...], q: float) -> float:
    """The empirical ``q`` quantile of ``ratios`` (linear between order statistics)."""
    return float(np.quantile(np.asarray(ratios, dtype=float), q))


def declared_quantile_h(duration_h: float, duration_max_h: float, q: float) -> float:
    """``Q(q)`` of a declared range: linear from the median ``duration_h`` to the top."""
    return duration_h + (duration_max_h - duration_h) * (q - 0.5) / 0.5


def with_uncertainty(job: Job, quantile: float, history: DurationHistory | None,
                     deadline_guard: DeadlineGuard = GUARD_TO_LIMIT) -> Job:
    """``job`` with its upper estimate and reserved length filled in (see the module doc).

    A job that declares ``duration_max_h`` keeps it; one that does not takes what
    ``history`` learnt for it (its user's runs of its workload, else the workload's), if
    anything. A job with neither keeps
    ``reserve_h = None``: it reserves ``duration_h`` as the contract says.

    ``deadline_guard``: the reserved run must end early enough that running on to the run
    time at this quantile (1: the upper estimate; ``"limit"``: the longest run the time limit
    allows; None: no guard) at the fastest mode still meets the deadline, as far as the job's
    window allows (the guard never makes a job's window shorter than its reserved run). Why:
    a plan packed against deadlines turns every long run into a late one, while capacity
    reserved at a high quantile costs carbon on every run; the guard spends slack only near
    deadlines. ``"limit"`` differs from 1 only for learnt ranges, drawn from few runs: a run
    past the learnt top is not killed (its limit is wider), and this guard keeps it on time
    too. Replayed on twelve real weeks with two splits of the Zeus runs it left no run late
    where guarding at the learnt top left three, and kept no less of the saving (README,
    "Where issue 16 stands").
    """
    ratios = None
    limit = None
    if job.duration_max_h is not None:
        top = job.duration_max_h
        reserve = declared_quantile_h(job.duration_h, top, quantile)
    else:
        ratios = history.learnt(job.workload, job.user) if history is not None else None
        if history is None or ratios is None:
            return job
        top = job.duration_h * max(ratios[-1], 1.0)
        reserve = min(top, job.duration_h * ratio_quantile(ratios, quantile))
        limit = max(top, job.duration_h * history.largest_ratio)
    guard = 0.0
    if deadline_guard is not None:
        if deadline_guard == GUARD_TO_LIMIT:
            guarded = top if limit is None else limit
        elif deadline_guard >= 1.0:
            guarded = top
        elif ratios is None:
            guarded = declared_quantile_h(job.duration_h, top, max(deadline_guard, 0.5))
        else:
            guarded = job.duration_h * ratio_quantile(ratios, deadline_guard)
        window_h = (job.deadline - job.release).total_seconds() / 3600.0
        guard = max(0.0, min(guarded - reserve, window_h - reserve))
    return dataclasses.replace(job, duration_max_h=top,
                               reserve_h=None if reserve == job.duration_h else reserve,
                               deadline_guard_h=guard, limit_h=limit)


def realised_job(job: Job, actual_h: float) -> Job:
    """``job`` as it really ran: its run takes ``actual_h`` hours at the fastest mode.

    Why a job and not a new schedule type: the accounting and the validator then price and
    check a realised run with the same rules as a planned one.
    """
    return dataclasses.replace(job, reserve_h=actual_h)


def allowed_run_h(job: Job) -> float | None:
    """The run time [h at the fastest mode] a job's limit lets it run: ``limit_h`` where its
    range is learnt, else its upper estimate (None: it has none)."""
    return job.duration_max_h if job.limit_h is None else job.limit_h


def allowed_run_minutes(job: Job, mode: PowerMode | None) -> float | None:
    """How long [min] a job's limit lets it run in ``mode`` (:func:`allowed_run_h` slowed by
    the mode's throughput); None without an upper estimate or a mode."""
    allowed_h = allowed_run_h(job)
    if allowed_h is None or mode is None:
        return None
    return allowed_h / mode.relative_throughput * 60.0


def time_limit_minutes(job: Job, mode: PowerMode | None, planned_minutes: float) -> int:
    """Slurm ``--time`` [whole minutes] for ``job`` run in ``mode`` over ``planned_minutes``.

    With an upper estimate: the run time in ``mode`` of ``limit_h`` where the range is learnt
    (see the module doc), else of the upper estimate (never below the planned run), plus
    :data:`TIME_GRACE_MINUTES`, so a run within its range always ends before its limit.
    Without one (or without the mode, which only an invalid plan lacks): the planned run plus
    max(10 min, 10 %), as before this existed.
    """
    upper = allowed_run_minutes(job, mode)
    if upper is None:
        margin = max(TIME_MARGIN_MIN_MINUTES, TIME_MARGIN_FRACTION * planned_minutes)
        return math.ceil(planned_minutes + margin)
    return math.ceil(max(upper, planned_minutes) - 1e-9) + TIME_GRACE_MINUTES


__all__ = ["DEFAULT_QUANTILE", "GUARD_TO_LIMIT", "MIN_HISTORY_RUNS", "DeadlineGuard",
           "DurationHistory", "DurationPolicy",
           "allowed_run_h", "allowed_run_minutes", "declared_quantile_h",
           "ratio_quantile", "realised_job", "time_limit_minutes", "with_uncertainty"]
