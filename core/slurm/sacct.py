"""What Slurm actually ran, from its accounting: ``sacct --json`` (slurmdbd).

Why sacct and not ``squeue``: the controller forgets a finished job after ``MinJobAge``; the
accounting database keeps start, end, nodes, state and, where the site runs an energy plugin
(``AcctGatherEnergyType``: RAPL, IPMI, GPU), the energy each step consumed. Both JSON shapes
are read: Slurm 22.05 (``dbv0.0.38``: plain integers, ``state.current`` a string) and 23.02+
(numbers as ``{set, infinite, number}``, ``state.current`` a list).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from greenslot.model import hostlist
from greenslot.slurm.commands import Runner, SlurmError, run_slurm
from greenslot.slurm.queue import slurm_number


@dataclass(frozen=True)
class RunRecord:
    """One job as Slurm recorded it. Times are Unix seconds (``None``: never started/ended).

    ``energy_j`` is the energy Slurm measured for the job's steps [J], ``None`` where it
    measured none (no energy plugin: every step reports 0). ``comment`` is the job's
    ``--comment`` (the opt-in marker and the user's estimates), ``user`` who submitted it
    (Slurm gives it through the job's association: empty where the cluster has none).
    """

    slurm_id: int
    name: str
    state: str
    start_epoch: int | None
    end_epoch: int | None
    nodes: tuple[str, ...]
    energy_j: float | None
    comment: str = ""
    user: str = ""


def _comment(raw: dict) -> str:
    """The job's own comment: 22.05 and 23.02+ keep it under ``comment.job``."""
    comment = raw.get("comment")
    if isinstance(comment, dict):
        comment = comment.get("job")
    return str(comment or "")


def _energy_j(steps: Any) -> float | None:
    total = 0.0
    for step in steps if isinstance(steps, list) else []:
        consumed = ((step.get("tres") or {}).get("consumed") or {}).get("total") or []
        for tres in consumed:
            if isinstance(tres, dict) and tres.get("type") == "energy":
                count = slurm_number(tres.get("count"))
                total += count or 0
    return total or None


def parse_sacct_json(text: str) -> list[RunRecord]:
    """Records of a ``sacct --json`` document (22.05 or newer shape)."""
    try:
        raw_jobs = json.loads(text)["jobs"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise SlurmError("sacct --json: output is not the expected JSON document") from None
    records = []
    for raw in raw_jobs:
        state = (raw.get("state") or {}).get("current")
        state = state[0] if isinstance(state, list) and state else state
        timing = raw.get("time") or {}
        nodes_text = str(raw.get("nodes") or "").strip()
        try:
            nodes = tuple(hostlist.expand(nodes_text)) if nodes_text not in ("", "None assigned") \
                else ()
        except hostlist.HostlistError:
            nodes = (nodes_text,)
        records.append(RunRecord(
            slurm_id=int(slurm_number(raw.get("job_id")) or 0), name=str(raw.get("name") or ""),
            state=str(state or ""), start_epoch=slurm_number(timing.get("start")),
            end_epoch=slurm_number(timing.get("end")), nodes=nodes,
            energy_j=_energy_j(raw.get("steps")), comment=_comment(raw),
            user=str(raw.get("user") or "")))
    return records


def read_runs(slurm_ids: Iterable[int | str], runner: Runner = run_slurm) -> list[RunRecord]:
    """The accounting records of these jobs (all states, whatever their age).

    Raises
    ------
    SlurmError
        ``sacct`` failed; without slurmdbd its message says accounting storage is disabled.
    """
    ids = sorted({int(i) for i in slurm_ids})
    if not ids:
        return []
    text = runner(["sacct", "--json", "--starttime=1970-01-01T00:00:00",
                   "-j", ",".join(str(i) for i in ids)])
    wanted = set(ids)
    return [r for r in parse_sacct_json(text) if r.slurm_id in wanted]
