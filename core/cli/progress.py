"""A one-line solve-progress display on the terminal: phase, best plan, bound, gap, time.

Why our own: a single refreshing stderr line is all a nightly operator needs, and it must go
quiet when stderr is not a terminal (cron, CI, pipes) without any configuration.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO


def _own_stderr() -> TextIO:
    """A private copy of the terminal's stderr: Pyomo redirects file descriptors 1 and 2
    while HiGHS runs (to capture its log), which would swallow the progress line."""
    try:
        return os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
    except (AttributeError, OSError, ValueError):
        return sys.stderr


class ProgressLine:
    """Refreshes ``[auto] lp bound  12.3 s, 107.7 s left  plan 488.3  bound 480.2  gap 1.65%``
    every half second.

    Use as a context manager; pass :meth:`update` as the solver's progress callback and
    :meth:`phase` as its phase callback. Shows nothing unless ``stream`` is a TTY and
    ``enabled``; starts drawing after ``delay_s`` (within the first second: a long solve must
    say what it is doing from the start, and a short one is over before the line shows).
    ``time_limit_s`` (None: not known) gives the time left.
    """

    def __init__(self, label: str, stream: TextIO | None = None, enabled: bool = True,
                 delay_s: float = 0.5, time_limit_s: float | None = None) -> None:
        self.label = label
        self._owns_stream = stream is None
        self.stream = stream or _own_stderr()
        self.enabled = enabled and bool(getattr(self.stream, "isatty", lambda: False)())
        self.delay_s = delay_s
        self.time_limit_s = time_limit_s
        self.incumbent: float | None = None
        self.bound: float | None = None
        self.current_phase: str | None = None
        self._began = time.perf_counter()
        self._drawn = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def update(self, incumbent: float | None, bound: float | None) -> None:
        if incumbent is not None and (self.incumbent is None or incumbent < self.incumbent):
            self.incumbent = incumbent
        if bound is not None and (self.bound is None or bound > self.bound):
            self.bound = bound

    def phase(self, name: str) -> None:
        """The solver started step ``name``: shown until the next one starts."""
        self.current_phase = name

    def text(self) -> str:
        elapsed_s = time.perf_counter() - self._began
        head = f"[{self.label}]"
        if self.current_phase:
            head += f" {self.current_phase}"
        clock = f"{elapsed_s:6.1f} s"
        if self.time_limit_s is not None:
            clock += f", {max(0.0, self.time_limit_s - elapsed_s):.1f} s left"
        parts = [head, clock,
                 "plan -" if self.incumbent is None else f"plan {self.incumbent:.6g}",
                 "bound -" if self.bound is None else f"bound {self.bound:.6g}"]
        if self.incumbent and self.bound is not None:
            gap = max(0.0, (self.incumbent - self.bound) / abs(self.incumbent))
            parts.append(f"gap {gap:.2%}")
        return "  ".join(parts)

    def _run(self) -> None:
        if self._stop.wait(self.delay_s):
            return
        while not self._stop.is_set():
            self.stream.write("\r\033[K" + self.text())
            self.stream.flush()
            self._drawn = True
            self._stop.wait(0.5)

    def __enter__(self) -> ProgressLine:
        if self.enabled:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
        if self.stream is not sys.stderr and self._owns_stream:
            self.stream.close()
