"""The live queue as greenslot sees it: ``squeue --json``, and the tag that marks our jobs.

Every job greenslot submits carries
``--comment=greenslot:plan=<plan id>,scenario=<scenario key>,power_limit_w=<W>`` and
``--job-name=<job_id>``. The tag is how a re-run recognises jobs a killed run submitted but did
not record. It is not proof of ownership: any user can write any comment. So ``sync`` adopts a
job only when it belongs to the calling user (``user_id`` of ``squeue --json``) *and* either
carries this scenario's key or is recorded in the plan folder's ledger
(:func:`greenslot.slurm.sync.live_state`); every other job is never changed.

Why tolerant parsing: Slurm 22.05 (openapi v0.0.38) gives ``job_state`` as a string and times
as integers; Slurm 23.02 and later give ``job_state`` as a list and numbers as
``{"set": bool, "infinite": bool, "number": int}``. Both shapes are read here, in one place.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pwd
import re
from dataclasses import dataclass
from typing import Any

from greenslot.model import hostlist
from greenslot.slurm.commands import Runner, SlurmError, run_slurm

TAG_PREFIX = "greenslot:"
RUNNING_STATES = frozenset({"RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED", "STOPPED",
                            "RESIZING", "SIGNALING", "STAGE_OUT"})
PENDING_STATES = frozenset({"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED"})
HELD_REASONS = frozenset({"JobHeldUser", "JobHeldAdmin"})
_GPU_GRES = re.compile(r"(?:^|[,/:])gpu(?::[A-Za-z0-9_.-]+)?[:=](\d+)")
# The CPUs and memory of a job's allocation in its TRES text: ``cpu=16,mem=64G,node=2,...``.
_TRES_CPU = re.compile(r"(?:^|,)cpu=(\d+)")
_TRES_MEM = re.compile(r"(?:^|,)mem=(\d+(?:\.\d+)?)([KMGT]?)")
_MB_PER_UNIT = {"": 1.0, "K": 1 / 1024, "M": 1.0, "G": 1024.0, "T": 1024.0 ** 2}


def plan_tag(plan_id: str) -> str:
    """The comment prefix shared by every job of one plan (the ``,`` ends the id)."""
    return f"{TAG_PREFIX}plan={plan_id},"


def scenario_key(name: str) -> str:
    """A short stable key of a scenario (by its name), carried in the tag as ``scenario=``.

    Why the name and not the path: the nightly folder may move or be mounted elsewhere, and the
    plan id already depends on the name. Two scenarios that share a name share their jobs.
    """
    return hashlib.sha256(name.encode()).hexdigest()[:12]


def parse_tag(comment: str) -> dict[str, str]:
    """``{"plan": ..., "power_limit_w": ...}`` from a greenslot comment; empty for others."""
    if not comment.startswith(TAG_PREFIX):
        return {}
    fields = {}
    for part in comment[len(TAG_PREFIX):].split(","):
        key, sep, value = part.partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


@dataclass(frozen=True)
class QueueJob:
    """One job of ``squeue``. Times are Unix seconds; ``None`` where Slurm has none yet.

    ``start_epoch`` of a job held by ``--begin`` is its begin time; of a running or finished
    job its real start; ``eligible_epoch`` is the ``--begin`` (``StartTime=`` of an update).
    ``nodes`` are the allocated nodes (empty while pending), ``required_nodes`` the
    ``--nodelist``.
    """

    slurm_id: int
    name: str
    state: str
    reason: str
    comment: str
    start_epoch: int | None
    eligible_epoch: int | None
    end_epoch: int | None
    time_limit_min: int | None
    nodes: tuple[str, ...]
    required_nodes: tuple[str, ...]
    partition: str
    user_id: int | None = None
    user_name: str = ""
    account: str = ""
    qos: str = ""
    deadline_epoch: int | None = None
    dependency: str = ""
    node_count: int | None = None
    gpus_per_node: int | None = None
    gpus_per_job: int | None = None
    # One GPU count per allocated node, in ``nodes`` order (``gres_detail`` of a running job).
    gpus_by_node: tuple[int, ...] = ()
    # CPUs and memory [MB] of the whole allocation (``tres_alloc_str``; None while pending).
    cpus_alloc: int | None = None
    memory_alloc_mb: int | None = None
    # What the job asks for on each node: ``--cpus-per-task`` and memory [MB] (``--mem``, or
    # ``--mem-per-cpu`` / the site's ``DefMemPerCPU`` times its CPUs a task); None: unset.
    cpus_per_task: int | None = None
    memory_per_node_mb: int | None = None

    @property
    def owned(self) -> bool:
        """Whether the calling user submitted the job (by uid; by name where no uid is shown).

        Why: ``sync`` may run as root, which Slurm lets move anyone's job; a job of another
        user is never greenslot's to move, whatever its comment says.
        """
        if self.user_id is not None:
            return self.user_id == os.getuid()
        if self.user_name:
            try:
                return self.user_name == pwd.getpwuid(os.getuid()).pw_name
            except KeyError:
                return False
        return False

    @property
    def held(self) -> bool:
        """Pending with a user or admin hold (``sbatch --hold``, ``scontrol hold``)."""
        return self.pending and self.reason in HELD_REASONS

    @property
    def tag(self) -> dict[str, str]:
        return parse_tag(self.comment)

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES

    @property
    def pending(self) -> bool:
        return self.state in PENDING_STATES

    @property
    def begin_epoch(self) -> int | None:
        """When a pending job may start: its ``--begin`` (``EligibleTime``), or the backfill
        estimate when Slurm shows no eligible time (a dependency-held job)."""
        return self.eligible_epoch or self.start_epoch


def slurm_number(value: Any) -> int | None:
    """A 22.05 integer or a newer ``{set, infinite, number}`` object; ``None`` when unset."""
    if isinstance(value, dict):
        if not value.get("set", True) or value.get("infinite"):
            return None
        value = value.get("number")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if value else None


def _uid(value: Any) -> int | None:
    """A user id (0, root, included: :func:`slurm_number` reads 0 as unset)."""
    if isinstance(value, dict):
        if not value.get("set", True) or value.get("infinite"):
            return None
        value = value.get("number")
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _state(value: Any) -> str:
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return str(value or "")


def _nodes(value: Any) -> tuple[str, ...]:
    text = str(value or "").strip()
    if not text or text == "(null)":
        return ()
    try:
        return tuple(hostlist.expand(text))
    except hostlist.HostlistError:
        return (text,)


def gpu_count(text: Any) -> int | None:
    """GPUs in a gres/TRES text: ``gres:gpu:2`` (22.05), ``gres/gpu:2``, ``gpu:a100:2``,
    ``gres/gpu=2``, ``gpu:1(IDX:0)``; ``None`` when it names no GPUs."""
    total = None
    for match in _GPU_GRES.finditer(str(text or "")):
        total = (total or 0) + int(match.group(1))
    return total


def tres_cpus_memory(text: Any) -> tuple[int | None, int | None]:
    """``(CPUs, memory [MB])`` of a TRES text such as ``cpu=4,mem=8000M,node=1``; ``None``
    for what it does not name. Same text in 22.05 and 23.02+ (``tres_alloc_str``)."""
    text = str(text or "")
    cpus, memory = _TRES_CPU.search(text), _TRES_MEM.search(text)
    return (int(cpus.group(1)) if cpus else None,
            math.ceil(float(memory.group(1)) * _MB_PER_UNIT[memory.group(2)]) if memory
            else None)


def _memory_per_node(raw: dict) -> int | None:
    """Memory a job asks for on each node [MB]: ``memory_per_node``, else ``memory_per_cpu``
    times its CPUs a task (one task a node, as greenslot plans it)."""
    per_node = slurm_number(raw.get("memory_per_node"))
    if per_node:
        return per_node
    per_cpu = slurm_number(raw.get("memory_per_cpu"))
    return per_cpu * (slurm_number(raw.get("cpus_per_task")) or 1) if per_cpu else None


def _gpus_by_node(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(gpu_count(item) or 0 for item in value)


def parse_squeue_json(text: str) -> list[QueueJob]:
    """Jobs of a ``squeue --json`` document (22.05 or newer shape)."""
    try:
        document = json.loads(text)
        raw_jobs = document["jobs"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise SlurmError("squeue --json: output is not the expected JSON document") from None
    jobs = []
    for raw in raw_jobs:
        jobs.append(QueueJob(
            slurm_id=int(slurm_number(raw.get("job_id")) or 0),
            name=str(raw.get("name") or ""),
            state=_state(raw.get("job_state")),
            reason=str(raw.get("state_reason") or ""),
            comment=str(raw.get("comment") or ""),
            start_epoch=slurm_number(raw.get("start_time")),
            eligible_epoch=slurm_number(raw.get("eligible_time")),
            end_epoch=slurm_number(raw.get("end_time")),
            time_limit_min=slurm_number(raw.get("time_limit")),
            nodes=_nodes(raw.get("nodes")),
            required_nodes=_nodes(raw.get("required_nodes")),
            partition=str(raw.get("partition") or ""),
            user_id=_uid(raw.get("user_id")),
            user_name=str(raw.get("user_name") or ""),
            account=str(raw.get("account") or ""),
            qos=str(raw.get("qos") or ""),
            deadline_epoch=slurm_number(raw.get("deadline")),
            dependency=str(raw.get("dependency") or "").replace("(null)", ""),
            node_count=slurm_number(raw.get("node_count")),
            gpus_per_node=gpu_count(raw.get("tres_per_node")),
            gpus_per_job=gpu_count(raw.get("tres_per_job")),
            gpus_by_node=_gpus_by_node(raw.get("gres_detail")),
            cpus_alloc=tres_cpus_memory(raw.get("tres_alloc_str"))[0],
            memory_alloc_mb=tres_cpus_memory(raw.get("tres_alloc_str"))[1],
            cpus_per_task=slurm_number(raw.get("cpus_per_task")),
            memory_per_node_mb=_memory_per_node(raw),
        ))
    return jobs


def read_queue(runner: Runner = run_slurm) -> list[QueueJob]:
    """Every job the controller still knows, finished ones included (``MinJobAge``)."""
    return parse_squeue_json(runner(["squeue", "--json"]))


def tagged_jobs(queue: list[QueueJob], plan_id: str) -> dict[str, QueueJob]:
    """``job_id -> job`` of one plan's jobs in the queue (the newest when a name repeats).

    Only the calling user's jobs: another user's job with a copied tag is not ours to record.
    """
    tag = plan_tag(plan_id)
    found: dict[str, QueueJob] = {}
    for job in sorted(queue, key=lambda j: j.slurm_id):
        if job.owned and job.comment.startswith(tag):
            found[job.name] = job
    return found
