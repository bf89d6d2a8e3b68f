"""Run the profiled command: echo its output, scan it for throughput, survive Ctrl-C.

Why the output goes through us: ``--throughput-regex`` reads the numbers a training script
prints (samples/s, it/s), and the user still wants to see them live. The command is an
argument list run without a shell, so nothing in it is re-interpreted.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from greenslot.power.profiling.nvml import ProfileError

INTERRUPT_GRACE_S = 10.0


@dataclass
class WorkloadRun:
    """How a command ended. ``returncode`` is None when it was interrupted before ending."""

    argv: list[str]
    returncode: int | None = None
    interrupted: bool = False
    duration_s: float = 0.0
    matches: list[float] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return not self.interrupted and self.returncode == 0


def throughput_values(pattern: re.Pattern[str], line: str) -> list[float]:
    """Numbers a regex finds in one line: its first group if it has groups, else the match."""
    values = []
    for match in pattern.finditer(line):
        text = match.group(1) if pattern.groups else match.group(0)
        try:
            values.append(float(text))
        except (TypeError, ValueError):
            continue
    return values


def _signal_group(child: subprocess.Popen[str], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, sig)


def _stop_child(child: subprocess.Popen[str]) -> None:
    """Pass Ctrl-C on, then escalate: the workload gets the chance to clean up, but we end.

    The whole process group is signalled, so launchers (torchrun, mpirun) pass it to their
    workers; exactly one SIGINT reaches it, because the terminal's Ctrl-C reaches only us.
    """
    for sig, wait_s in ((signal.SIGINT, INTERRUPT_GRACE_S), (signal.SIGTERM, 5.0)):
        if child.poll() is not None:
            return
        _signal_group(child, sig)
        try:
            child.wait(wait_s)
            return
        except subprocess.TimeoutExpired:
            continue
    _signal_group(child, signal.SIGKILL)
    child.wait()


def run_workload(argv: Sequence[str], pattern: re.Pattern[str] | None = None,
                 echo: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> WorkloadRun:
    """Run ``argv`` to its end and return how it went.

    On KeyboardInterrupt the child is stopped (SIGINT, then SIGTERM, then SIGKILL), the run is
    marked interrupted and the KeyboardInterrupt is re-raised with the run attached as
    ``exc.run``, so the caller can still write its record.

    Raises
    ------
    ProfileError
        The command cannot be started (not found, not executable).
    """
    out = sys.stdout if echo is None else echo
    run = WorkloadRun(list(argv))
    started = clock()
    try:
        # Its own process group: a terminal's Ctrl-C reaches greenslot alone, which then
        # stops the command in order (see _stop_child). No stdin: a background process group
        # reading the terminal would be stopped by SIGTTIN and hang the profile.
        child = subprocess.Popen(run.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, bufsize=1,
                                 errors="replace", process_group=0)
    except OSError as exc:
        raise ProfileError(f"cannot run {run.argv[0]!r}: {exc.strerror}") from None
    try:
        assert child.stdout is not None
        for line in child.stdout:
            out.write(line)
            out.flush()
            if pattern is not None:
                run.matches += throughput_values(pattern, line)
        run.returncode = child.wait()
    except KeyboardInterrupt as exc:
        _stop_child(child)
        run.interrupted = True
        run.returncode = child.returncode
        run.duration_s = clock() - started
        exc.run = run  # type: ignore[attr-defined]
        raise
    finally:
        if child.poll() is None:
            _stop_child(child)
        if child.stdout is not None:
            child.stdout.close()
    run.duration_s = clock() - started
    return run
