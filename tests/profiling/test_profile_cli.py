"""`greenslot profile`: errors without NVML, GPU or permission; sweeps; limits always restored."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from greenslot.cli import build_parser, main
from greenslot.cli.profile import run_profile
from greenslot.power.profiling import ProfileError, load_pynvml, open_gpus
from greenslot.power.profiling.limits import PowerLimitGuard
from greenslot.power.profiling.replay import ReplayNVML
from tests.helpers.replays import busy_replay

# The Ctrl-C child runs as `python -m tests.profiling.sigint_child` from the repository root.
ROOT = Path(__file__).resolve().parents[2]
CHILD = [sys.executable, "-m", "tests.profiling.sigint_child"]
GREENSLOT = Path(sys.executable).with_name("greenslot")
# A workload that prints a throughput line, then exits with the status it is given.
WORKLOAD = [sys.executable, "-c",
            "import sys; print('step 1 throughput 90.0 samples/s'); "
            "print('step 2 throughput 100.0 samples/s', flush=True); sys.exit(int(sys.argv[1]))"]


def nvml_available() -> bool:
    nvml = load_pynvml()
    try:
        nvml.nvmlInit()
    except nvml.NVMLError:
        return False
    nvml.nvmlShutdown()
    return True


def profile(argv: list[str], replay, euid: int = 0) -> int:
    return run_profile(build_parser().parse_args(["profile", *argv]), nvml=replay,
                       geteuid=lambda: euid, clock=replay.clock)


@pytest.mark.slow
@pytest.mark.skipif(nvml_available(), reason="this machine has NVML")
def test_without_nvml_profile_exits_2_with_one_nvml_line(tmp_path):
    done = subprocess.run([str(GREENSLOT), "profile", "--", "sleep", "1"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "NVML" in lines[0] and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # no record with made-up numbers


def test_no_gpu_and_missing_gpu_index_are_one_line_errors():
    with pytest.raises(ProfileError, match="NVML found no GPU"):
        open_gpus(ReplayNVML([]), None)
    with pytest.raises(ProfileError, match="there is no GPU 3; NVML sees 2"):
        open_gpus(busy_replay(gpus=2), [0, 3])


def test_plain_profile_writes_samples_and_summary(tmp_path, capsys):
    out = tmp_path / "run.csv"
    assert profile(["--out", str(out), "--", *WORKLOAD, "0"], busy_replay()) == 0
    summary = json.loads((tmp_path / "run.summary.json").read_text())
    gpu = summary["runs"][0]["gpus"][0]
    assert gpu["energy_source"] == "counter" and gpu["samples"] >= 2
    assert summary["runs"][0]["returncode"] == 0
    assert "throughput 100.0" in capsys.readouterr().out  # the command's output is echoed
    assert out.read_text().startswith("run_limit_w,gpu,time_s,power_w,energy_counter_j")


def test_plain_profile_of_a_failing_command_still_writes_its_record(tmp_path):
    out = tmp_path / "run.csv"
    assert profile(["--out", str(out), "--", *WORKLOAD, "3"], busy_replay()) == 1
    summary = json.loads((tmp_path / "run.summary.json").read_text())
    assert summary["runs"][0]["returncode"] == 3 and out.exists()


def test_sweep_writes_a_curve_and_restores_the_original_limit(tmp_path):
    replay = busy_replay(gpus=2)
    out = tmp_path / "curve.csv"
    rc = profile(["--sweep-power-limits", "150,200,250", "--throughput-regex",
                  r"throughput ([0-9.]+)", "--workload", "bert", "--out", str(out), "--",
                  *WORKLOAD, "0"], replay)
    assert rc == 0
    assert replay.set_calls[-2:] == [(0, 300_000), (1, 300_000)]
    assert [mw for gpu, mw in replay.set_calls if gpu == 0] == [300_000, 150_000, 200_000,
                                                                250_000, 300_000]
    text = out.read_text().splitlines()
    assert text[0] == "workload,power_limit_w,power_w,relative_throughput"
    assert text[1:] == ["bert,150,200.0,1.0", "bert,200,200.0,1.0", "bert,250,200.0,1.0"]
    summary = json.loads((tmp_path / "curve.summary.json").read_text())
    assert [r["throughput"] for r in summary["runs"]] == [95.0, 95.0, 95.0]  # median of 90, 100
    assert summary["original_power_limits_w"] == {"0": 300.0, "1": 300.0}


def test_workload_crash_restores_limits_and_writes_no_curve(tmp_path):
    replay = busy_replay()
    out = tmp_path / "curve.csv"
    rc = profile(["--sweep-power-limits", "150,200", "--fixed-work", "--out", str(out), "--",
                  *WORKLOAD, "1"], replay)
    assert rc == 1
    assert replay.gpus[0].limit_mw == 300_000 and replay.set_calls[-1] == (0, 300_000)
    assert not out.exists()
    summary = json.loads((tmp_path / "curve.summary.json").read_text())
    assert [r["returncode"] for r in summary["runs"]] == [1]


def test_without_root_nothing_is_changed_or_written(tmp_path):
    replay = busy_replay()
    with pytest.raises(ProfileError, match="changing GPU power limits needs root"):
        profile(["--sweep-power-limits", "150", "--fixed-work", "--out",
                 str(tmp_path / "c.csv"), "--", "true"], replay, euid=1000)
    assert replay.set_calls == [] and list(tmp_path.iterdir()) == []


def test_nvml_permission_denied_and_out_of_range_limits_fail_before_any_change():
    replay = busy_replay(can_set_limits=False)
    gpus = open_gpus(replay, None)
    with pytest.raises(ProfileError, match="NVML: no permission"), \
            PowerLimitGuard(replay, gpus, [150], geteuid=lambda: 0):
        pass
    replay = busy_replay()
    gpus = open_gpus(replay, None)
    with pytest.raises(ProfileError, match="accepts power limits 100-300 W, not 350 W"), \
            PowerLimitGuard(replay, gpus, [150, 350], geteuid=lambda: 0):
        pass
    assert replay.set_calls == []


def test_guard_restores_after_an_exception_inside():
    replay = busy_replay()
    gpus = open_gpus(replay, None)
    with pytest.raises(RuntimeError), PowerLimitGuard(replay, gpus, [150],
                                                      geteuid=lambda: 0) as guard:
        guard.set(150)
        assert replay.gpus[0].limit_mw == 150_000
        raise RuntimeError("workload crashed")
    assert replay.gpus[0].limit_mw == 300_000


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_during_a_sweep_restores_limits_and_keeps_the_record(tmp_path, sig):
    state, out = tmp_path / "state.json", tmp_path / "curve.csv"
    workload = [sys.executable, "-c",
                "import time; print('workload started', flush=True); time.sleep(60)"]
    child = subprocess.Popen([*CHILD, str(state), str(out), "--", *workload], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if "workload started" in line:
                break
        child.send_signal(sig)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, err
    result = json.loads(state.read_text())
    assert result["limit_mw"] == 300_000
    assert result["set_calls"] == [[0, 300_000], [0, 150_000], [0, 300_000]]
    summary = json.loads((tmp_path / "curve.summary.json").read_text())
    assert summary["interrupted"] is True and summary["runs"][0]["power_limit_w"] == 150
    assert not out.exists()
    assert "Traceback" not in err


@pytest.mark.slow
def test_the_workload_gets_the_interrupt_too(tmp_path):
    """The profiled command must not outlive an interrupted profile (it would keep the GPU)."""
    marker = tmp_path / "workload.pid"
    workload = [sys.executable, "-c",
                f"import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); "
                "print('workload started', flush=True); time.sleep(60)"]
    child = subprocess.Popen([*CHILD, str(tmp_path / "s.json"), str(tmp_path / "c.csv"), "--",
                              *workload], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             stderr=subprocess.DEVNULL)
    assert child.stdout is not None
    for line in child.stdout:
        if "workload started" in line:
            break
    child.send_signal(signal.SIGINT)
    child.communicate(timeout=60)
    pid = int(marker.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


class LostAfter(ReplayNVML):
    """A replay whose GPU falls off the bus after ``reads`` power readings."""

    def __init__(self, replay: ReplayNVML, reads: int) -> None:
        self.__dict__.update(replay.__dict__)
        self.reads = reads

    def nvmlDeviceGetPowerUsage(self, handle):
        self.reads -= 1
        if self.reads < 0:
            raise self.NVMLError_GpuIsLost()
        return super().nvmlDeviceGetPowerUsage(handle)


@pytest.mark.slow
def test_a_gpu_lost_mid_run_keeps_the_samples_so_far_and_exits_2(tmp_path, capsys):
    out = tmp_path / "run.csv"
    replay = LostAfter(busy_replay(), reads=1)
    slow = [sys.executable, "-c", "import time; time.sleep(0.5)"]
    assert profile(["--out", str(out), "--interval-ms", "20", "--", *slow], replay) == 2
    summary = json.loads((tmp_path / "run.summary.json").read_text())
    assert "NVML error reading a GPU" in summary["sampler_error"]
    assert summary["runs"][0]["gpus"][0]["samples"] == 1
    assert "samples up to then are written" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    ([], "no command to profile"),
    (["--sweep-power-limits", "150", "--", "true"], "needs --out CURVE.csv"),
    (["--sweep-power-limits", "150", "--out", "c.csv", "--", "true"],
     "needs --throughput-regex REGEX or --fixed-work"),
    (["--sweep-power-limits", "150", "--out", "c.csv", "--throughput-regex", "(", "--", "true"],
     "--throughput-regex: missing ), unterminated subpattern"),
    (["--out", "missing/p.csv", "--", "true"], "folder missing does not exist"),
])
def test_usage_problems_are_caught_before_nvml_or_the_command(argv, message, tmp_path, capsys,
                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["profile", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert list(tmp_path.iterdir()) == []


class IgnoresLimits(ReplayNVML):
    """A replay whose limit changes silently do not take (as if another tool reset them)."""

    def __init__(self, replay: ReplayNVML) -> None:
        self.__dict__.update(replay.__dict__)

    def nvmlDeviceSetPowerManagementLimit(self, handle, limit_mw):
        self.set_calls.append((handle.index, int(limit_mw)))


def test_a_limit_that_did_not_hold_gives_no_curve(tmp_path, capsys):
    out = tmp_path / "curve.csv"
    replay = IgnoresLimits(busy_replay())
    rc = profile(["--sweep-power-limits", "150,200", "--fixed-work", "--out", str(out), "--",
                  *WORKLOAD, "0"], replay)
    assert rc == 2 and not out.exists()
    assert "ran at a 300 W limit, not the 150 W the sweep set" in capsys.readouterr().err
