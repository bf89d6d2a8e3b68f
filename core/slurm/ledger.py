"""The submission ledger: which job of which plan became which Slurm job.

Why a file written line by line: a nightly submit can die at any point (killed, controller
restart, full disk). Each line is appended and flushed to disk right after ``sbatch`` returns,
so a re-run knows every job submitted before. The one remaining gap (killed between ``sbatch``
and the write) is closed by recognising the plan's tag in the queue
(:func:`greenslot.slurm.queue.tagged_jobs`).

Format (shared with ``submit.sh``): ``job_id<TAB>slurm_job_id<TAB>plan_id``, one line a job.
A torn last line (no newline, wrong field count) is ignored.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from greenslot.slurm.commands import SlurmError

LEDGER_NAME = "submitted.tsv"


def ledger_path(plan_dir: Path) -> Path:
    """``$GREENSLOT_LEDGER`` when set (as ``submit.sh`` reads it), else ``DIR/submitted.tsv``."""
    override = os.environ.get("GREENSLOT_LEDGER")
    return Path(override) if override else Path(plan_dir) / LEDGER_NAME


class Ledger:
    """Read and append the ledger of one file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def entries(self) -> list[tuple[str, str, str]]:
        """Complete lines as ``(job_id, slurm_id, plan_id)``."""
        if not self.path.exists():
            return []
        found = []
        for line in self.path.read_text().split("\n")[:-1]:  # the part after the last \n is torn
            fields = line.split("\t")
            if len(fields) == 3 and fields[1].isdigit():
                found.append((fields[0], fields[1], fields[2]))
        return found

    def ids(self, plan_id: str) -> dict[str, str]:
        """``job_id -> Slurm job id`` for one plan (the last line wins)."""
        return {job: slurm for job, slurm, plan in self.entries() if plan == plan_id}

    def append(self, job_id: str, slurm_id: str, plan_id: str) -> None:
        """Add one line and force it to disk before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = f"{job_id}\t{slurm_id}\t{plan_id}\n".encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if self._torn(fd):
                data = b"\n" + data  # never glue a line onto a torn one
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _torn(self, fd: int) -> bool:
        size = os.fstat(fd).st_size
        if size == 0:
            return False
        with self.path.open("rb") as f:
            f.seek(size - 1)
            return f.read(1) != b"\n"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock for one submit: two at once could both submit a job."""
        lock = self.path.with_name(self.path.name + ".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SlurmError(f"{lock}: another greenslot submit holds this ledger") from None
            yield
        finally:
            os.close(fd)
