"""``greenslot example DIR``: copy the bundled example scenario (and the Slurm scripts) out.

Why: the README's walk-through plans ``examples/nightly``; a user who installed greenslot with
pip has no checkout, so the wheel carries the example as package data and this verb hands it
out. It never overwrites: ``DIR`` must not exist or be empty, and the copy appears whole (it is
staged in a hidden sibling folder and renamed into place) or not at all.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

import greenslot
from greenslot.atomic import TargetError
from greenslot.cli.jsonout import add_json_option, emit

PARTS = ("nightly", "slurm")
"""The folders copied: the nightly scenario and the Slurm prolog, epilog and nightly script."""


def add_parser(verbs: argparse._SubParsersAction) -> None:
    """Register ``example`` on the top-level ``verbs``."""
    p = verbs.add_parser("example", help="copy the bundled example scenario into DIR/nightly "
                                         "(and the Slurm scripts into DIR/slurm)")
    p.add_argument("dir", type=Path, help="a folder that does not exist yet, or an empty one "
                                          "(nothing is ever overwritten)")
    add_json_option(p, "the folders and files written")


def bundled_examples() -> Path:
    """The folder holding ``nightly/`` and ``slurm/``: inside the installed package (a wheel
    puts them at ``greenslot/examples``) or, in a source checkout, the repository's
    ``examples/`` beside the package folder."""
    package = Path(greenslot.__file__).resolve().parent
    for candidate in (package / "examples", package.parent / "examples"):
        if (candidate / "nightly" / "scenario.yaml").is_file():
            return candidate
    raise TargetError("the bundled example is missing from this installation "
                      f"(looked in {package / 'examples'}); reinstall greenslot")


def copy_example(target: Path) -> list[Path]:
    """Copy :data:`PARTS` into ``target``; return the files written, relative to it.

    Raises :class:`TargetError` (one line, exit 2) when ``target`` exists and is not an empty
    folder, or cannot be written.
    """
    source = bundled_examples()
    if target.exists() or target.is_symlink():
        if not target.is_dir():
            raise TargetError(f"{target} exists and is not a folder; name a new folder")
        if any(target.iterdir()):
            raise TargetError(f"{target} is not empty; greenslot example never overwrites: "
                              "name a new or empty folder")
    parent = target.absolute().parent
    if not parent.is_dir():
        raise TargetError(f"{parent} does not exist; create it first")
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=parent))
    except OSError as exc:
        raise TargetError(f"cannot write in {parent}: {exc.strerror}") from None
    try:
        for part in PARTS:
            shutil.copytree(source / part, staging / part,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for script in staging.rglob("*.sh"):
            script.chmod(0o755)  # the jobs' script and the Slurm scripts must stay runnable
        staging.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; the user's umask decides
        if target.is_dir():
            target.rmdir()  # empty, checked above; rmdir refuses if it filled up since
        os.rename(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise TargetError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(p.relative_to(target) for p in target.rglob("*") if p.is_file())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def cmd_example(args: argparse.Namespace) -> int:
    """Copy the example; print where it went and the next command to run."""
    files = copy_example(args.dir)
    if args.json:
        emit({"dir": args.dir, "scenario": args.dir / "nightly", "files": files})
        return 0
    print(f"wrote {args.dir}: nightly/ (the example scenario) and slurm/ (prolog, epilog, "
          f"nightly.sh), {len(files)} files; next: greenslot plan {args.dir / 'nightly'} "
          f"--out {args.dir / 'out'}")
    return 0
