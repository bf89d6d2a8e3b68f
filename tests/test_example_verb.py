"""``greenslot example DIR``: the README's example scenario for a user who installed a wheel.

The wheel must carry ``examples/nightly`` and ``examples/slurm`` as package data, and the
verb must copy them out whole, never over anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from greenslot.cli import main

REPO = Path(__file__).resolve().parents[1]
PARTS = ("nightly", "slurm")


def _shipped() -> dict[str, bytes]:
    """Every file of the example folders in the checkout, by path under ``examples/``."""
    return {str(p.relative_to(REPO / "examples")): p.read_bytes()
            for part in PARTS for p in sorted((REPO / "examples" / part).rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.mark.slow
def test_example_copies_the_nightly_scenario_and_slurm_scripts(tmp_path, capsys):
    target = tmp_path / "mine"
    assert main(["example", str(target)]) == 0
    copied = {str(p.relative_to(target)): p.read_bytes() for p in target.rglob("*")
              if p.is_file()}
    assert copied == _shipped() and "nightly/scenario.yaml" in copied
    for script in target.rglob("*.sh"):
        assert os.access(script, os.X_OK), script
    assert f"greenslot plan {target / 'nightly'}" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # no staging folder left

    from greenslot.forecasts.scenario_loading import load_scenario

    assert len(load_scenario(target / "nightly").jobs) == \
        len((REPO / "examples" / "nightly" / "jobs.csv").read_text().splitlines()) - 1


def test_example_takes_an_empty_folder_and_prints_json(tmp_path, capsys):
    target = tmp_path / "empty"
    target.mkdir()
    assert main(["example", str(target), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["scenario"] == str(target / "nightly")
    assert sorted(doc["files"]) == sorted(_shipped())


@pytest.mark.parametrize("kind", ["folder with a file", "file"])
def test_example_never_overwrites(tmp_path, capsys, kind):
    target = tmp_path / "taken"
    if kind == "file":
        target.write_text("mine\n")
    else:
        target.mkdir()
        (target / "notes.txt").write_text("keep\n")
    assert main(["example", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"greenslot: error: {target}")
    if kind == "file":
        assert target.read_text() == "mine\n"
    else:
        assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]


@pytest.mark.slow
def test_the_wheel_carries_the_example_and_its_verb_hands_it_out(tmp_path):
    wheels = tmp_path / "whl"
    # No network in tests: the build uses the venv's own setuptools (the Makefile installs it).
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index",
                            "--no-build-isolation", "-q", "-w", str(wheels), str(REPO)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheels.glob("greenslot-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    expected = {f"greenslot/examples/{name}" for name in _shipped()}
    assert expected <= names
    # The extracted wheel, ahead of this checkout on the path: the verb copies from it.
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    where = subprocess.run([sys.executable, "-c", "import greenslot; print(greenslot.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert where.stdout.strip() == str(tmp_path / "site" / "greenslot" / "__init__.py")
    run = subprocess.run([sys.executable, "-m", "greenslot", "example", str(tmp_path / "out")],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    copied = {str(p.relative_to(tmp_path / "out")): p.read_bytes()
              for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert copied == _shipped()
