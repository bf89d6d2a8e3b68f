"""Placement rules of the contract, shared by every solver and by the validator.

These are definitions, not algorithms: which modes a job may run in, how many slots it then
takes, which nodes it may use and how many GPUs of each. Keeping them in one place means a
solver and the validator cannot disagree about what "valid" means.
"""

from __future__ import annotations

from datetime import timedelta

from greenslot.model.scenario import GpuType, Job, Node, PowerMode, Scenario
from greenslot.model.timegrid import TimeGrid


def allowed_modes(job: Job, gpu_type: GpuType) -> tuple[PowerMode, ...]:
    """Modes the planner may choose for ``job`` on ``gpu_type``, fastest first.

    A fixed ``power_limit_w`` allows only that row; a pinned job runs at its fastest mode.
    """
    modes = gpu_type.modes(job.workload)
    if job.power_limit_w is not None:
        mode = gpu_type.mode(job.workload, job.power_limit_w)
        return (mode,) if mode else ()
    if job.pinned:
        return modes[:1]
    return modes


def run_slots(grid: TimeGrid, job: Job, mode: PowerMode) -> int:
    """Slots a job occupies in ``mode``: ``ceil(duration_h / relative_throughput / D - 1e-9)``.

    ``duration_h`` here is the length the plan reserves (:attr:`Job.planned_h`): the declared
    one unless the scenario asks for a quantile of an uncertain run time.
    """
    return grid.slots_for_hours(job.planned_h / mode.relative_throughput)


def nodes_needed(job: Job, node: Node) -> tuple[int, int] | None:
    """``(node count, GPUs used on each node)`` for ``job`` on nodes like ``node``, or None.

    Up to a node's GPU count a job shares one node; above it, it takes whole nodes, so its GPU
    count must be a multiple of the node's.
    """
    if job.gpus <= node.gpus:
        return 1, job.gpus
    if job.gpus % node.gpus == 0:
        return job.gpus // node.gpus, node.gpus
    return None


def shape_on(job: Job, node: Node) -> tuple[int, int]:
    """:func:`nodes_needed` where the job is known to fit nodes like ``node`` (node count,
    GPUs used on each). Loader and validator reject jobs that fit no usable node, so solvers
    and the accounting may rely on it; a job that does not fit is a bug."""
    need = nodes_needed(job, node)
    if need is None:
        raise ValueError(f"job {job.job_id} ({job.gpus} GPUs) does not fit nodes like "
                         f"{node.name} ({node.gpus} GPUs)")
    return need


def node_allowed(scenario: Scenario, job: Job, node: Node) -> bool:
    """Whether ``job`` may run on ``node`` at all: restrictions, GPU count, a curve to run with."""
    if job.gpu_type is not None and node.gpu_type != job.gpu_type:
        return False
    if job.site is not None and node.site != job.site:
        return False
    if job.partition is not None and node.partition != job.partition:
        return False
    if nodes_needed(job, node) is None or not fits_node_resources(job, node):
        return False
    return bool(allowed_modes(job, scenario.gpu_type(node.gpu_type)))


def fits_node_resources(job: Job, node: Node) -> bool:
    """Whether the job's CPUs (``cpus_per_task``, one task a node) and memory (``mem_mb`` a
    node) fit what the node declares; a resource the node does not declare is not checked."""
    if job.cpus_per_task is not None and node.cpus is not None and job.cpus_per_task > node.cpus:
        return False
    return not (job.mem_mb is not None and node.memory_mb is not None
                and job.mem_mb > node.memory_mb)


def earliest_start_slot(grid: TimeGrid, job: Job) -> int:
    """First slot a non-pinned job may start in: its release rounded up, never before slot 0."""
    return max(0, grid.slot_at_or_after(job.release))


def latest_end_slot(grid: TimeGrid, job: Job) -> int:
    """Last slot boundary a job may end at: its deadline rounded down, never past the horizon.

    A job with an uncertain run time may have to end its reserved run ``deadline_guard_h``
    earlier, so that running to its upper estimate still meets the deadline.
    """
    return min(grid.n_slots, grid.slot_at_or_before(
        job.deadline - timedelta(hours=job.deadline_guard_h)))


def needs_transfer(job: Job, site: str) -> bool:
    """Whether running at ``site`` means moving the job's training data there."""
    return job.data_gb > 0 and job.data_site is not None and job.data_site != site
