"""When this command started, for ``--time-limit``.

Why: a nightly job is killed by its wall-clock allowance, not by greenslot's own count, and
the interpreter's start-up and imports come before ``main()`` (about half a second, several
seconds on a loaded machine). Counting from the process's own start makes ``--time-limit`` the
whole command's, as the README promises.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

MOST_START_UP_S = 30.0
"""Start-up longer than this is not a command line's: the count begins at ``main()`` then."""


def seconds_since_process_start() -> float | None:
    """Seconds since this process started (Linux ``/proc``), or None where not known."""
    try:
        after_name = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start_ticks = int(after_name[19])  # field 22 of proc(5); fields after the name start at 3
        uptime_s = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime_s - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


def command_started(from_process_start: bool) -> float:
    """The ``time.perf_counter`` value the command's time limit counts from.

    ``from_process_start`` is for a real command line; a caller inside a long-lived process
    (tests, notebooks calling ``main([...])``) counts from now.
    """
    now = time.perf_counter()
    if not from_process_start:
        return now
    elapsed = seconds_since_process_start()
    if elapsed is None or elapsed > MOST_START_UP_S:
        return now
    return now - elapsed
