"""Running Slurm's client commands, and writing times the way the controller reads them.

Why one runner: every call goes through :func:`run_slurm`, which takes an argument list (no
shell, so no injection), bounds the wait, and turns every failure into one
:class:`SlurmError` line that names the command and Slurm's own message.

Why ``TZ=UTC``: ``sbatch --begin``, ``scontrol ... StartTime=`` and what ``scontrol show``
prints are times without an offset, read and written in the *client's* time zone. Running
every command with ``TZ=UTC`` and writing every time in UTC makes them exact wherever
greenslot runs, and removes the hour that repeats when daylight saving time ends (01:30 in
New York on the first Sunday of November names two instants; 01:30 UTC names one).
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from greenslot.model.errors import GreenslotError

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

SLURM_TIMEOUT_S = 120

Runner = Callable[[Sequence[str]], str]


class SlurmError(GreenslotError):
    """A Slurm command failed or could not run. The CLI maps it to exit code 4."""


def run_slurm(args: Sequence[str], timeout_s: float = SLURM_TIMEOUT_S) -> str:
    """Run one Slurm client command and return its stdout.

    Raises
    ------
    SlurmError
        The program is missing, timed out, or exited non-zero (message: its stderr's first
        line, which is where Slurm says what it refused).
    """
    args = [str(a) for a in args]
    logger.info("running %s", args)
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s,
                              stdin=subprocess.DEVNULL, env={**os.environ, "TZ": "UTC"})
    except FileNotFoundError:
        raise SlurmError(f"{args[0]}: not found; is the Slurm client installed and on PATH?"
                         ) from None
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{args[0]}: no answer after {timeout_s:g} s") from None
    if done.returncode != 0:
        # Slurm says why on stderr, except some scontrol messages ("... not found") on stdout.
        lines = [line for line in (done.stderr + "\n" + done.stdout).splitlines()
                 if line.strip()]
        reason = lines[0].strip() if lines else f"exit code {done.returncode}"
        raise SlurmError(f"{args[0]} failed: {reason}")
    return done.stdout


def controller_time(epoch: float) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` in UTC, as Slurm's clients read it under ``TZ=UTC``
    (:func:`run_slurm` and ``submit.sh`` run them so)."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
