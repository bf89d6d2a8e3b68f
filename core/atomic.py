"""Write a file, or a whole folder, all or nothing: the one place greenslot does it.

Why: plans, curves, profiles, reports, sweep results and forecast caches are often written at
the end of a long run, and a reader (the planner, ``submit``, a second run, a nightly job
killed mid-write) must see the old content or the new, never half of either. A file goes to a
temporary sibling that is flushed to disk and renamed over the target; a folder is built in a
temporary sibling folder that then replaces the target. POSIX makes each rename atomic.

This module imports nothing from greenslot, so every layer may use it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

FILE_MODE = 0o644
"""Files are for others to read too (``mkstemp`` alone would leave them 0600)."""

FOLDER_MODE = 0o755
"""A staged folder is for others to read too (``mkdtemp`` alone would leave it 0700)."""


def write_bytes(path: Path, data: bytes, check: Callable[[Path], None] | None = None,
                make_parents: bool = False) -> None:
    """Write ``data`` to ``path`` atomically.

    Parameters
    ----------
    path
        The target. Its folder must exist unless ``make_parents``.
    data
        The whole content.
    check
        Called with the temporary file before it replaces ``path``; raising from it leaves
        ``path`` untouched (used to re-read a curve with the planner's own loader first).
    make_parents
        Create the target's folders first (a forecast cache's first entry).
    """
    path = Path(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, FILE_MODE)
        if check is not None:
            check(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str, check: Callable[[Path], None] | None = None,
               make_parents: bool = False) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically, newlines kept (see :func:`write_bytes`)."""
    write_bytes(path, text.encode("utf-8"), check=check, make_parents=make_parents)


@contextlib.contextmanager
def staged_folder(out_dir: Path, carried_over: Sequence[str] = ()) -> Iterator[Path]:
    """Yield an empty staging folder that replaces ``out_dir`` when the block ends cleanly.

    On any error inside the block (or while swapping) ``out_dir`` is left exactly as it was
    and the staging folder is removed. ``carried_over`` names entries of the previous
    ``out_dir`` that move into the new one by rename (so a held lock stays the same file);
    a failed swap moves them back.
    """
    out_dir = Path(out_dir)
    parent = out_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=parent))
    try:
        yield staging
        staging.chmod(FOLDER_MODE)
        if out_dir.exists():
            _swap(staging, out_dir, parent, carried_over)
        else:
            os.replace(staging, out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _swap(staging: Path, out_dir: Path, parent: Path, carried_over: Sequence[str]) -> None:
    """Replace the existing ``out_dir`` with ``staging``, carrying entries over."""
    retired = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=parent))
    old = retired / out_dir.name
    os.replace(out_dir, old)
    moved: list[str] = []
    try:
        for name in carried_over:
            if (old / name).exists() or (old / name).is_symlink():
                os.replace(old / name, staging / name)
                moved.append(name)
        os.replace(staging, out_dir)
    except BaseException:
        for name in moved:  # put the previous folder back as it was
            os.replace(staging / name, old / name)
        os.replace(old, out_dir)
        raise
    shutil.rmtree(retired, ignore_errors=True)


__all__ = ["FILE_MODE", "FOLDER_MODE", "staged_folder", "write_bytes", "write_text"]
