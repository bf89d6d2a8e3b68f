"""Write a file all or nothing.

Why: a profile or a curve is often written at the end of a long run, and a reader (the planner,
a second profiling run) must never see half a file. The text goes to a temporary sibling that
is flushed to disk and then renamed over the target, which POSIX makes atomic.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write_text(path: Path, text: str, check: Callable[[Path], None] | None = None) -> None:
    """Write ``text`` to ``path`` atomically.

    Parameters
    ----------
    path
        The target; its folder must exist.
    text
        The whole content.
    check
        Called with the temporary file before it replaces ``path``; raising from it leaves
        ``path`` untouched (used to re-read a curve with the planner's own loader first).
    """
    path = Path(path)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a curve or record is for others to read
        if check is not None:
            check(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
