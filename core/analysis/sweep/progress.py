"""A one-line progress bar for the sweep on stderr.

Quiet when stderr is not a terminal (cron, CI, pipes) or with ``-q``, like the solve
progress line, so logs stay clean without configuration.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class SweepProgress:
    """``sweep [#####.....] 5/10 points  12.3 s`` redrawn in place after each finished point."""

    def __init__(self, total: int, enabled: bool = True, stream: TextIO | None = None,
                 width: int = 30) -> None:
        self.total, self.done, self.width = total, 0, width
        self.stream = stream or sys.stderr
        self.enabled = enabled and bool(getattr(self.stream, "isatty", lambda: False)())
        self._began = time.perf_counter()

    def line(self) -> str:
        filled = round(self.width * self.done / self.total) if self.total else self.width
        elapsed = time.perf_counter() - self._began
        return (f"sweep [{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} "
                f"points  {elapsed:.1f} s")

    def advance(self) -> None:
        self.done += 1
        if self.enabled:
            self.stream.write("\r" + self.line())
            self.stream.flush()

    def __enter__(self) -> SweepProgress:
        if self.enabled:
            self.stream.write(self.line())
            self.stream.flush()
        return self

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
