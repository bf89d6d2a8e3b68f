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
import fcntl
import fnmatch
import glob
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

FILE_MODE = 0o644
"""Files are for others to read too (``mkstemp`` alone would leave them 0600)."""

FOLDER_MODE = 0o755
"""A staged folder is for others to read too (``mkdtemp`` alone would leave it 0700)."""



def _umask() -> int:
    """The process's umask, which ``mkstemp``/``mkdtemp`` ignore (they always make 0600/0700),
    so that what greenslot writes gets the modes a user's other files get (issue 17, item 9).
    Reading it means setting it: set straight back."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
        os.chmod(tmp, FILE_MODE & ~_umask())
        if check is not None:
            check(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str, check: Callable[[Path], None] | None = None,
               make_parents: bool = False) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically, newlines kept (see :func:`write_bytes`)."""
    write_bytes(path, text.encode("utf-8"), check=check, make_parents=make_parents)


class TargetError(Exception):
    """A folder cannot be written as asked: it is not ours, it is where the user stands, it is
    a file, or the system refused a step. The CLI prints it as one line and exits 2."""


def resolve_target(out_dir: Path) -> Path:
    """``out_dir`` with every symbolic link followed, or :class:`TargetError` saying why not.

    Why follow: a ``latest -> 2026-12-06`` link names the plan the user means; replacing the
    link by a real folder would strand that plan's ledger behind the old name. Refused: the
    working folder or one above it (it cannot be renamed away from under the user, and it is
    never a plan), and an existing file.
    """
    out_dir = Path(out_dir)
    try:
        target = out_dir.resolve()
        here = Path.cwd().resolve()
    except (OSError, RuntimeError) as exc:  # a loop of links; a deleted working folder
        raise TargetError(f"{out_dir}: cannot resolve this path ({exc})") from None
    if target == here or target in here.parents:
        raise TargetError(f"{out_dir}: is the folder you are in (or one above it), which "
                          "greenslot would replace; name a new folder, e.g. --out plans/tonight")
    if target.exists() and not target.is_dir():
        raise TargetError(f"{out_dir}: is a file, not a folder")
    above = next(p for p in target.parents if p.exists())  # the root always exists
    if not above.is_dir():
        raise TargetError(f"{out_dir}: cannot be created: {above} is a file, not a folder")
    if not os.access(above, os.W_OK | os.X_OK):
        raise TargetError(f"{out_dir}: cannot be created: {above} is not writable")
    return target


def _is_owned(name: str, owned: Collection[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in owned)


def check_target(out_dir: Path, owned: Collection[str] | None = None,
                 replace: bool = False) -> Path:
    """Resolve ``out_dir`` (:func:`resolve_target`) and refuse a folder that is not ours.

    ``owned`` are the names (``fnmatch`` patterns) of what the writer and its companions put
    in such a folder; an existing folder holding anything else is refused unless ``replace``,
    so a mistyped ``--out`` never deletes a user's files. ``owned=None`` checks nothing.
    """
    target = resolve_target(out_dir)
    if owned is None or replace or not target.is_dir():
        return target
    try:
        foreign = sorted(entry.name for entry in target.iterdir()
                         if not _is_owned(entry.name, owned))
    except OSError as exc:
        raise TargetError(f"{out_dir}: cannot read this folder ({exc.strerror})") from None
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more"
                                          if len(foreign) > 3 else "")
        raise TargetError(f"{out_dir}: holds {shown}, which greenslot did not write; name a "
                          "new or empty folder, or pass --replace to replace this one")
    return target


@contextlib.contextmanager
def _writer_lock(parent: Path, name: str) -> Iterator[None]:
    """Hold ``parent/.NAME.lock`` exclusively: one writer of ``NAME`` at a time.

    Why a sibling file: the folder itself is renamed by every write, so a lock inside it
    would not exclude a second writer that arrives mid-swap. The holder removes the file
    before releasing it, so nothing stays beside the folder; a writer that locked a file
    already removed (it opened it just before) sees that its inode is no longer the path's
    and starts again, so two writers never both hold "the" lock. A killed writer leaves the
    file; the next one locks it and removes it.
    """
    lock = parent / f".{name}.lock"
    while True:
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT, FILE_MODE)
        except OSError as exc:
            raise TargetError(f"{parent / name}: cannot write beside this folder "
                              f"({exc.strerror})") from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def _held(path: Path) -> Iterator[None]:
    """Lock ``path`` exclusively while the block runs, when it exists (else do nothing)."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def leftovers(target: Path) -> list[Path]:
    """Hidden siblings an interrupted write of ``target`` left: ``.NAME.new-*``, ``.NAME.old-*``."""
    name = glob.escape(target.name)
    return sorted([*target.parent.glob(f".{name}.new-*"), *target.parent.glob(f".{name}.old-*")])


def _merge_into(source: Path, destination: Path) -> None:
    """Move ``source`` to ``destination``, or add what it holds that ``destination`` lacks.

    A file's complete lines missing from ``destination`` are appended (a ledger holds one
    fact a line, so the union loses nothing); a folder's entries missing are moved in.
    """
    if not destination.exists() and not destination.is_symlink():
        os.replace(source, destination)
    elif source.is_dir() and destination.is_dir():
        for entry in source.iterdir():
            _merge_into(entry, destination / entry.name)
    elif source.is_file() and destination.is_file():
        have = destination.read_bytes()
        lines = set(have.split(b"\n"))
        extra = [line for line in source.read_bytes().split(b"\n")[:-1] if line not in lines]
        if extra:
            glue = b"\n" if have and not have.endswith(b"\n") else b""
            with destination.open("ab") as out:
                out.write(glue + b"\n".join(extra) + b"\n")
                out.flush()
                os.fsync(out.fileno())


def recover(target: Path, carried_over: Sequence[str]) -> list[Path]:
    """Finish what an interrupted write of ``target`` left, losing none of ``carried_over``.

    Call with the writer lock held. A swap killed after the old folder moved aside leaves no
    ``target``: the previous folder is put back. Then every ``carried_over`` entry still in a
    leftover (the ledger in a half-built ``.NAME.new-*``) is moved or merged into ``target``,
    and the leftovers are removed. Returns the leftovers found.
    """
    found = leftovers(target)
    if not found:
        return found
    name = target.name
    is_old = {folder: folder.name.startswith(f".{name}.old-") for folder in found}
    retired = [old / name for old in found if is_old[old] and (old / name).is_dir()]
    if retired and not target.exists():
        os.replace(max(retired, key=lambda p: p.stat().st_mtime), target)
    for folder in found:
        holder = folder / name if is_old[folder] else folder
        for entry in carried_over:
            source = holder / entry
            if source.exists() or source.is_symlink():
                target.mkdir(mode=FOLDER_MODE, exist_ok=True)
                _merge_into(source, target / entry)
        shutil.rmtree(folder, ignore_errors=True)
    logger.warning("%s: recovered an interrupted write (%s)", target,
                   ", ".join(p.name for p in found))
    return found


@contextlib.contextmanager
def staged_folder(out_dir: Path, carried_over: Sequence[str] = (),
                  owned: Collection[str] | None = None, replace: bool = False,
                  swap_lock: str | None = None) -> Iterator[Path]:
    """Yield an empty staging folder that replaces ``out_dir`` when the block ends cleanly.

    On any error inside the block (or while swapping) ``out_dir`` is left exactly as it was
    and the staging folder is removed. ``carried_over`` names entries of the previous
    ``out_dir`` that move into the new one by rename (so a held lock stays the same file);
    a failed swap moves them back.

    Two writers of the same folder take turns (a lock beside it); each first recovers what
    a killed writer left (:func:`recover`), so no kill at any step loses a carried entry.
    ``out_dir`` is checked by :func:`check_target` with ``owned`` and ``replace``; a link is
    followed. ``swap_lock`` names a lock file inside ``out_dir`` that other programs hold
    while they use a carried entry (the ledger's): the swap waits for it.

    Raises
    ------
    TargetError
        ``out_dir`` is refused, or the system refused a step of the swap.
    """
    target = check_target(out_dir, owned, replace)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TargetError(f"{out_dir}: cannot create its folder ({exc.strerror})") from None
    with _writer_lock(parent, target.name):
        try:
            recover(target, carried_over)
        except OSError as exc:
            raise TargetError(f"{out_dir}: cannot recover an interrupted write "
                              f"({exc.strerror}); see {parent}/.{target.name}.*") from None
        check_target(target, owned, replace)  # what a writer before us left
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=parent))
        except OSError as exc:
            raise TargetError(f"{out_dir}: cannot write here ({exc.strerror})") from None
        try:
            yield staging
            staging.chmod(FOLDER_MODE & ~_umask())
            try:
                if target.exists():
                    with _held(target / swap_lock) if swap_lock else contextlib.nullcontext():
                        _swap(staging, target, parent, carried_over)
                else:
                    os.replace(staging, target)
            except OSError as exc:
                raise TargetError(f"{out_dir}: cannot replace it ({exc.strerror}); the "
                                  "previous folder is unchanged") from None
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)


def _swap(staging: Path, out_dir: Path, parent: Path, carried_over: Sequence[str]) -> None:
    """Replace the existing ``out_dir`` with ``staging``, carrying entries over.

    The steps, each a rename or a removal that :func:`recover` can finish after a kill:
    make ``.NAME.old-*``; move ``out_dir`` into it; move each carried entry into
    ``staging``; move ``staging`` to ``out_dir``; remove ``.NAME.old-*``.
    """
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
        shutil.rmtree(retired, ignore_errors=True)
        raise
    shutil.rmtree(retired, ignore_errors=True)


__all__ = ["FILE_MODE", "FOLDER_MODE", "TargetError", "check_target", "leftovers", "recover",
           "resolve_target", "staged_folder", "write_bytes", "write_text"]
