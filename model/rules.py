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


# Tasks a job runs on each of its nodes. greenslot submits ``--nodes=N`` and no ``--ntasks``,
# for which Slurm's default is one task a node; the cores a job holds on a node are therefore
# ``cpus_per_task`` (Slurm's default of one CPU a task where the job does not say).
TASKS_PER_NODE = 1


def cpus_on_node(job: Job) -> int:
    """CPU cores the job holds on each of its nodes: ``cpus_per_task`` (default 1) a task,
    :data:`TASKS_PER_NODE` tasks a node. Summed over the jobs sharing a node at a time, it
    must stay within the node's declared ``cpus``."""
    return (job.cpus_per_task or 1) * TASKS_PER_NODE


def memory_on_node_mb(job: Job) -> int:
    """Memory the job holds on each of its nodes [MB]: its ``mem`` (Slurm's ``--mem`` is per
    node). A job that gives none counts 0: what Slurm then grants depends on the site's
    ``DefMemPerCPU``/``DefMemPerNode``, which the scenario does not know."""
    return job.mem_mb or 0


def fits_node_resources(job: Job, node: Node) -> bool:
    """Whether the job's CPUs and memory on a node (:func:`cpus_on_node`,
    :func:`memory_on_node_mb`) fit what the node declares, alone; a resource the node does not
    declare is not checked. Jobs sharing a node are checked together by the validator."""
    if node.cpus is not None and cpus_on_node(job) > node.cpus:
        return False
    return not (node.memory_mb is not None and memory_on_node_mb(job) > node.memory_mb)


def earliest_start_slot(grid: TimeGrid, job: Job) -> int:
    """First slot a non-pinned job may start in: its release rounded up, never before slot 0."""
    return max(0, grid.slot_at_or_after(job.release))


def latest_end_slot(grid: TimeGrid, job: Job) -> int:
    """Last slot boundary a job may end at: its deadline rounded down, never past the horizon.

    A job with an uncertain run time may have to end its reserved run ``deadline_guard_h``
    earlier, so that running on (to its time limit, by default) still meets the deadline.
    """
    return min(grid.n_slots, grid.slot_at_or_before(
        job.deadline - timedelta(hours=job.deadline_guard_h)))


def deadline_end_slot(grid: TimeGrid, job: Job) -> int:
    """Last slot boundary a job's run may end at by its deadline itself (the guard not
    counted), never past the horizon: what the validator holds a plan to.

    Why apart from :func:`latest_end_slot`: the guard is a margin solvers keep for long
    runs, not the user's deadline; a job the guard would leave out is planned inside it
    (:mod:`greenslot.solvers.guard_relief`) rather than not at all.
    """
    return min(grid.n_slots, grid.slot_at_or_before(job.deadline))


def needs_transfer(job: Job, site: str) -> bool:
    """Whether running at ``site`` means moving the job's training data there."""
    return job.data_gb > 0 and job.data_site is not None and job.data_site != site
