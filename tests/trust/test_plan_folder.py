"""Plan folders: never destroy what greenslot did not write, refuse odd targets in one line, and
never lose the ledger or logs, whatever two writers or a kill at any step do (issues 17, 19)."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

import pytest

from greenslot import atomic
from greenslot.atomic import TargetError, leftovers
from greenslot.cli import main
from greenslot.forecasts.scenario_loading import load_scenario
from greenslot.pipeline.files import write_plan
from greenslot.pipeline.steps import plan

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "nightly"
LEDGER_LINES = ["j001\t101\taaaaaaaaaaaa", "j002\t102\taaaaaaaaaaaa"]


@pytest.fixture(scope="module")
def nightly():
    """The example's greedy plan, solved once."""
    return plan(load_scenario(EXAMPLE), solver="greedy")


def _used_plan(nightly, out: Path) -> None:
    """A plan folder that has been submitted from: a ledger and a job's log."""
    write_plan(nightly, out, "test")
    (out / "submitted.tsv").write_text("\n".join(LEDGER_LINES) + "\n")
    (out / "logs").mkdir()
    (out / "logs" / "j001-101.out").write_text("epoch 1\n")


def _assert_intact(out: Path) -> None:
    """``out`` is a complete plan that still has its ledger and logs; nothing left beside it."""
    assert sorted(p.name for p in out.iterdir()) == ["logs", "sbatch.json", "schedule.csv",
                                                     "submit.sh", "submitted.tsv",
                                                     "summary.json"]
    assert (out / "submitted.tsv").read_text().splitlines() == LEDGER_LINES
    assert (out / "logs" / "j001-101.out").read_text() == "epoch 1\n"
    assert leftovers(out) == []


# --- what a plan may replace --------------------------------------------------------------

def test_plan_refuses_a_folder_of_other_files_and_keeps_them(tmp_path, capsys):
    out = tmp_path / "o"
    (out / "sub").mkdir(parents=True)
    (out / "notes.txt").write_text("keep\n")
    assert main(["plan", str(EXAMPLE), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "notes.txt, sub" in err and "--replace" in err
    assert (out / "notes.txt").read_text() == "keep\n" and (out / "sub").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


@pytest.mark.slow
def test_plan_replace_flag_replaces_a_foreign_folder(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("gone\n")
    assert main(["plan", str(EXAMPLE), "--out", str(out), "-q", "--replace"]) == 0
    assert not (out / "notes.txt").exists() and (out / "summary.json").is_file()


@pytest.mark.slow
def test_replanning_a_reported_plan_needs_no_flag(nightly, tmp_path):
    """Everything greenslot itself puts in a plan folder (report, ledger, logs) is its own."""
    out = tmp_path / "plan"
    _used_plan(nightly, out)
    for name in ("report.html", "gantt.png", "totals.png", "power-north.png"):
        (out / name).write_text("x")
    write_plan(nightly, out, "test")
    _assert_intact(out)


@pytest.mark.parametrize("target", [".", "..", "/"])
def test_out_at_or_above_the_working_folder_is_one_line_before_the_solve(
        target, tmp_path, monkeypatch, capsys):
    here = tmp_path / "work"
    here.mkdir()
    monkeypatch.chdir(here)
    monkeypatch.setattr("greenslot.pipeline.steps.plan", _must_not_solve)
    assert main(["plan", str(EXAMPLE), "--out", target, "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("greenslot: error: ") and err.count("\n") == 1
    assert "folder you are in" in err
    assert list(here.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["work"]


def _must_not_solve(*args, **kwargs):
    raise AssertionError("the target should have been refused before solving")


def test_out_that_is_a_file_or_unwritable_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("greenslot.pipeline.steps.plan", _must_not_solve)
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["plan", str(EXAMPLE), "--out", str(afile), "-q"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["plan", str(EXAMPLE), "--out", str(afile / "inside"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert main(["plan", str(EXAMPLE), "--out", str(loop), "-q"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.slow
def test_a_symlinked_out_is_followed_and_the_ledger_carried(nightly, tmp_path):
    """``latest -> 2026-12-06``: the folder the link names is replaced; the link stays."""
    night = tmp_path / "2026-12-06"
    _used_plan(nightly, night)
    latest = tmp_path / "latest"
    latest.symlink_to(night.name)
    assert main(["plan", str(EXAMPLE), "--out", str(latest), "-q"]) == 0
    assert latest.is_symlink() and os.readlink(latest) == night.name
    _assert_intact(night)


# --- leftovers and kills --------------------------------------------------------------------

@pytest.mark.slow
def test_leftovers_of_a_killed_write_are_recovered_by_the_next(nightly, tmp_path):
    """Killed between the two renames: no plan folder, the ledger in ``.plan.new-*``."""
    out = tmp_path / "plan"
    _used_plan(nightly, out)
    retired = tmp_path / ".plan.old-x1"
    retired.mkdir()
    os.replace(out, retired / "plan")
    staging = tmp_path / ".plan.new-x2"
    staging.mkdir()
    (staging / "schedule.csv").write_text("half")
    for name in ("submitted.tsv", "logs"):
        os.replace(retired / "plan" / name, staging / name)
    (tmp_path / ".plan.new-x3").mkdir()  # a write killed while it built its files
    write_plan(nightly, out, "test")
    _assert_intact(out)


def _fault_points(call) -> None:
    """Make every rename, temporary folder and removal in this process call ``call`` first."""
    for module, name in ((os, "replace"), (tempfile, "mkdtemp"), (shutil, "rmtree")):
        real = getattr(module, name)

        def hooked(*args, _real=real, **kwargs):
            call()
            return _real(*args, **kwargs)

        setattr(module, name, hooked)


def _write_killed_at(step: int, nightly, out: Path) -> bool:
    """Write the plan in a forked child that SIGKILLs itself at its ``step``-th file-system
    step; True when it died there, False when it finished first."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            count = [0]

            def maybe_die() -> None:
                count[0] += 1
                if count[0] == step:
                    os.kill(os.getpid(), signal.SIGKILL)

            _fault_points(maybe_die)
            write_plan(nightly, out, "test")
        except BaseException:
            code = 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3), "the write raised"
    return os.WIFSIGNALED(status)


def _ledgers_anywhere(root: Path) -> list[list[str]]:
    return [p.read_text().splitlines() for p in root.rglob("submitted.tsv")]


@pytest.mark.slow
def test_a_kill_at_every_step_of_the_swap_loses_nothing(nightly, tmp_path):
    steps = 0
    while True:
        steps += 1
        base = tmp_path / f"step{steps}"
        out = base / "plan"
        _used_plan(nightly, out)
        if not _write_killed_at(steps, nightly, out):
            break
        assert LEDGER_LINES in _ledgers_anywhere(base), f"ledger lost at step {steps}"
        write_plan(nightly, out, "test")  # the next run
        _assert_intact(out)
        assert sorted(p.name for p in base.iterdir()) == ["plan"]  # nothing left beside it
    assert steps > 6  # staging, retire, three carried entries, swap in, clean up


# --- two writers ----------------------------------------------------------------------------

@pytest.mark.slow
def test_two_writers_interleaved_at_every_step_keep_the_ledger(nightly, tmp_path, monkeypatch):
    """Writer A pauses at each of its steps in turn while writer B runs; both must succeed and
    the folder must end complete, with its ledger and logs."""
    real_flock = fcntl.flock
    state: dict = {}

    def at_step() -> None:
        if threading.current_thread().name != "A":
            return
        state["count"] += 1
        if state["count"] == state["pause_at"]:
            state["paused"].set()
            state["go"].wait()

    def flock(fd, operation):
        if threading.current_thread().name == "B":
            state["b_waits"].set()
        return real_flock(fd, operation)

    _fault_points_patched(monkeypatch, at_step)
    monkeypatch.setattr(atomic.fcntl, "flock", flock)
    step = 0
    while True:
        step += 1
        out = tmp_path / f"step{step}" / "plan"
        _used_plan(nightly, out)
        state.update(count=0, pause_at=step, paused=threading.Event(), go=threading.Event(),
                     b_waits=threading.Event())
        errors: list[BaseException] = []

        def writer(errors=errors, out=out):
            try:
                write_plan(nightly, out, "test")
            except BaseException as exc:
                errors.append(exc)

        a = threading.Thread(target=writer, name="A")
        a.start()
        while not state["paused"].is_set() and a.is_alive():
            time.sleep(0.01)
        if not state["paused"].is_set():  # A finished before its step: every step was tried
            a.join()
            break
        b = threading.Thread(target=writer, name="B")
        b.start()
        while not state["b_waits"].is_set() and b.is_alive():
            time.sleep(0.01)
        state["go"].set()
        a.join()
        b.join()
        assert errors == [], f"step {step}: {errors}"
        _assert_intact(out)
    assert step > 6


def _fault_points_patched(monkeypatch, call) -> None:
    """:func:`_fault_points` undone after the test (threads share this process)."""
    for module, name in ((os, "replace"), (tempfile, "mkdtemp"), (shutil, "rmtree")):
        real = getattr(module, name)

        def hooked(*args, _real=real, **kwargs):
            call()
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, hooked)


def test_target_error_is_raised_from_the_api_too(nightly, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "thesis.tex").write_text("x")
    with pytest.raises(TargetError, match=r"thesis\.tex"):
        write_plan(nightly, out, "test")
    write_plan(nightly, out, "test", replace=True)
    assert not (out / "thesis.tex").exists()


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o755), (0o027, 0o750), (0o077, 0o700)])
def test_a_plan_folder_gets_the_mode_the_umask_gives(nightly, tmp_path, umask, mode):
    # issue 17, item 9: plan folders were 0700 whatever the umask (mkdtemp's mode)
    old = os.umask(umask)
    try:
        write_plan(nightly, tmp_path / "out", "test")
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == mode
    assert (tmp_path / "out" / "schedule.csv").stat().st_mode & 0o777 == 0o666 & ~umask
