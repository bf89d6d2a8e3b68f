"""A one-line solve-progress display on the terminal: incumbent, bound, gap, elapsed.

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
    """Refreshes ``[solver] 12.3 s  incumbent ...  bound ...  gap ...`` every half second.

    Use as a context manager; pass :meth:`update` as the solver's progress callback. Shows
    nothing unless ``stream`` is a TTY and ``enabled``; starts drawing after ``delay_s`` so
    short solves stay silent.
    """

    def __init__(self, label: str, stream: TextIO | None = None, enabled: bool = True,
                 delay_s: float = 2.0) -> None:
        self.label = label
        self._owns_stream = stream is None
        self.stream = stream or _own_stderr()
        self.enabled = enabled and bool(getattr(self.stream, "isatty", lambda: False)())
        self.delay_s = delay_s
        self.incumbent: float | None = None
        self.bound: float | None = None
        self._began = time.perf_counter()
        self._drawn = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def update(self, incumbent: float | None, bound: float | None) -> None:
        if incumbent is not None and (self.incumbent is None or incumbent < self.incumbent):
            self.incumbent = incumbent
        if bound is not None and (self.bound is None or bound > self.bound):
            self.bound = bound

    def text(self) -> str:
        parts = [f"[{self.label}] {time.perf_counter() - self._began:6.1f} s"]
        if self.incumbent is not None:
            parts.append(f"incumbent {self.incumbent:.6g}")
        if self.bound is not None:
            parts.append(f"bound {self.bound:.6g}")
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
