"""Type-check the package as it installs: ``greenslot`` is spread over several folders.

setuptools maps ``core/`` to ``greenslot`` and ``model/`` to ``greenslot.model`` (and so on,
see ``[tool.setuptools.package-dir]``). mypy cannot follow the import hook of an editable
install, and pointed at the folders it would call them ``core`` and ``model``. So this script
builds ``build/typecheck/greenslot/...``, a tree of symlinks laid out as the wheel lays out the
package, from the ``packages`` and ``package-dir`` tables of ``pyproject.toml``. It is rebuilt
on every run, so new modules are checked without reinstalling. mypy runs on that tree with the
``[tool.mypy]`` settings and its messages are printed with the real paths (``core/cli/app.py``)
so editors and terminals jump to the file to edit.

Usage: ``python .ci/typecheck.py [extra mypy arguments]``; the exit status is mypy's.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"
# Files that make up a package for a type checker; data files are not needed.
SOURCES = ("*.py", "*.pyi", "py.typed")


def source_dir(package: str, package_dir: dict[str, str]) -> Path:
    """Folder that holds ``package``, resolved as setuptools resolves ``package-dir``."""
    parts = package.split(".")
    for cut in range(len(parts), 0, -1):
        prefix = ".".join(parts[:cut])
        if prefix in package_dir:
            return ROOT / package_dir[prefix] / Path(*parts[cut:])
    return ROOT / Path(*parts)


def build_tree() -> dict[str, str]:
    """Lay out the symlink tree; return each link's path mapped to its real path (both relative)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    packages: list[str] = setuptools["packages"]
    package_dir: dict[str, str] = setuptools.get("package-dir", {})
    shutil.rmtree(TREE, ignore_errors=True)
    links: dict[str, str] = {}
    for package in packages:
        source = source_dir(package, package_dir)
        target = TREE / Path(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for pattern in SOURCES:
            for file in sorted(source.glob(pattern)):
                link = target / file.name
                link.symlink_to(file)
                links[str(link.relative_to(ROOT))] = str(file.relative_to(ROOT))
    return links


def main(argv: list[str]) -> int:
    links = build_tree()
    top = sorted({link.split("/")[2] for link in links})
    command = [sys.executable, "-m", "mypy", *argv, *(str(TREE / name) for name in top)]
    # Absolute or relative, mypy prints the path it was given; map both back.
    link_path = re.compile(rf"(?:{re.escape(str(ROOT))}/)?build/typecheck/[\w./]+?\.pyi?")

    def real(match: re.Match[str]) -> str:
        path = match.group(0).removeprefix(f"{ROOT}/")
        return links.get(path, path)

    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    sys.stdout.write(link_path.sub(real, run.stdout))
    sys.stderr.write(link_path.sub(real, run.stderr))
    return run.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
