"""``greenslot submit DIR``: the plan's ``sbatch.json`` submitted to Slurm, exactly once.

The same calls as ``submit.sh`` (one ``sbatch --parsable`` a job, dependencies first, the same
ledger and tag), made from Python with argument lists. Why both: operators who want to read
what runs use the script; the nightly pipeline uses this command, which also reports what
happened as data.

Exactly once: a job already in the ledger for this plan is skipped; a job found in the queue
under the plan's tag (a run killed after ``sbatch`` and before the ledger write) is recorded
and skipped; every new submission is recorded the moment ``sbatch`` returns its id. The
first failure stops the run (later jobs may depend on the failed one); what was submitted
stays recorded, and running the command again continues where it stopped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from greenslot.model.errors import Location, ScenarioError
from greenslot.slurm.capacity import check_plan_fits
from greenslot.slurm.commands import Runner, SlurmError, controller_time, run_slurm
from greenslot.slurm.ledger import Ledger, ledger_path
from greenslot.slurm.power import apply_power, read_actions
from greenslot.slurm.queue import read_queue, tagged_jobs
from greenslot.slurm.reservations import ensure_reservations

PLAN_DATA = "sbatch.json"


@dataclass
class SubmitReport:
    """What one run did: new Slurm ids, and jobs it skipped with why."""

    plan_id: str
    submitted: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    reservations: dict[str, str] = field(default_factory=dict)
    power: dict[str, str] = field(default_factory=dict)


def _bad(path: Path, message: str, field_name: str | None = None) -> ScenarioError:
    return ScenarioError("bad_plan", Location(str(path), None, field_name), message)


def read_plan_data(plan_dir: Path) -> dict:
    """``sbatch.json``, checked enough that a hand-edited or truncated file fails clearly."""
    path = Path(plan_dir) / PLAN_DATA
    if not path.is_file():
        raise _bad(path, "plan file not found; write the plan with this greenslot version")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _bad(path, "not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("plan_id"), str):
        raise _bad(path, "expected an object with a plan_id", "plan_id")
    for i, job in enumerate(data.get("jobs", [])):
        ok = (isinstance(job, dict) and isinstance(job.get("job_id"), str)
              and isinstance(job.get("begin_epoch"), int)
              and isinstance(job.get("args"), list)
              and all(isinstance(a, str) for a in job["args"])
              and isinstance(job.get("depends_on"), list))
        if not ok:
            raise _bad(path, "expected job_id, begin_epoch, depends_on and args", f"jobs[{i}]")
    if not isinstance(data.get("reservations", []), list):
        raise _bad(path, "expected a list", "reservations")
    power = data.get("power", [])
    if not isinstance(power, list):
        raise _bad(path, "expected a list", "power")
    for i, entry in enumerate(power):
        ok = (isinstance(entry, dict) and isinstance(entry.get("node"), str)
              and isinstance(entry.get("suspend_epoch"), int)
              and isinstance(entry.get("resume_epoch"), int)
              and entry["suspend_epoch"] < entry["resume_epoch"])
        if not ok:
            raise _bad(path, "expected node, suspend_epoch < resume_epoch", f"power[{i}]")
    return data


def sbatch_command(job: dict, plan_dir: Path, dependency_ids: list[str]) -> list[str]:
    """The full argument list of one job's ``sbatch``, as ``submit.sh`` builds it."""
    command = ["sbatch", "--parsable", f"--output={plan_dir}/logs/%x-%j.out"]
    if dependency_ids:
        command.append("--dependency=afterok:" + ":".join(dependency_ids))
    command.append(f"--begin={controller_time(job['begin_epoch'])}")
    return command + list(job["args"])


def parse_job_id(stdout: str) -> str:
    """``sbatch --parsable`` prints ``id`` or ``id;cluster``."""
    text = stdout.strip().split(";", 1)[0]
    if not text.isdigit():
        raise SlurmError(f"sbatch --parsable printed {stdout.strip()!r}, not a job id")
    return text


def submit_plan(plan_dir: Path, runner: Runner = run_slurm,
                say: Callable[[str], None] = lambda _: None,
                now_epoch: float | None = None) -> SubmitReport:
    """Submit every job of the plan in ``plan_dir`` that Slurm does not have yet, then apply
    the plan's node power actions due at ``now_epoch`` (default: the clock).

    ``say`` receives one line per action.
    """
    plan_dir = Path(plan_dir).resolve()
    data = read_plan_data(plan_dir)
    plan_id = data["plan_id"]
    report = SubmitReport(plan_id)
    ledger = Ledger(ledger_path(plan_dir))
    with ledger.locked():
        report.reservations = ensure_reservations(data.get("reservations", []), runner, say)
        known = ledger.ids(plan_id)
        queued = None
        new = [j for j in data.get("jobs", []) if j["job_id"] not in known]
        if new:  # one look at the queue, and only when something may need submitting
            queue = read_queue(runner)
            queued = tagged_jobs(queue, plan_id)
            ids = {slurm_id for _, slurm_id, _ in ledger.entries()}
            check_plan_fits(data, [j for j in new if j["job_id"] not in queued], queue, ids,
                            runner)
        for job in data.get("jobs", []):
            job_id = job["job_id"]
            if job_id in known:
                report.skipped[job_id] = f"already submitted as Slurm job {known[job_id]}"
                say(f"skip {job_id}: {report.skipped[job_id]}")
                continue
            if queued is not None and job_id in queued:
                known[job_id] = str(queued[job_id].slurm_id)
                ledger.append(job_id, known[job_id], plan_id)
                report.skipped[job_id] = f"already in the queue as Slurm job {known[job_id]}"
                say(f"skip {job_id}: {report.skipped[job_id]}")
                continue
            missing = [d for d in job["depends_on"] if d not in known]
            if missing:
                raise SlurmError(f"{job_id} depends on {missing[0]}, which has no Slurm job id")
            (plan_dir / "logs").mkdir(exist_ok=True)
            command = sbatch_command(job, plan_dir, [known[d] for d in job["depends_on"]])
            try:
                slurm_id = parse_job_id(runner(command))
            except SlurmError as exc:
                raise SlurmError(f"job {job_id}: {exc}") from None
            ledger.append(job_id, slurm_id, plan_id)
            known[job_id] = slurm_id
            report.submitted[job_id] = slurm_id
            say(f"submitted {job_id} as Slurm job {slurm_id}")
        report.power = apply_power(read_actions(data),
                                   time.time() if now_epoch is None else now_epoch, runner, say)
    return report
