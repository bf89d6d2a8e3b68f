"""Sampler and energy integration on recorded NVML readings, through the live code path."""

from __future__ import annotations

import time

import pytest

from greenslot.power.profiling import Sample, Sampler, open_gpus, summarise
from greenslot.power.profiling.energy import summarise_all
from greenslot.power.profiling.record import read_samples_csv, samples_csv
from greenslot.power.profiling.replay import ReplayNVML
from tests.helpers.replays import busy_replay, counter_samples, zeus_windows


def replay_run(replay: ReplayNVML, readings: int) -> list[Sample]:
    """What the sampler thread does, one timer tick at a time."""
    sampler = Sampler(replay, open_gpus(replay, None), interval_s=0.1, clock=replay.clock)
    for _ in range(readings):
        sampler.sample_once()
    return sampler.samples


def power_only(points):
    return [Sample(0, t, p, None, None, None, None, None, None) for t, p in points]


def test_trapezoidal_integration_by_hand():
    # 0-1 s: 100 -> 200 W (150 J); 1-3 s: 200 -> 100 W (300 J); total 450 J over 3 s.
    energy = summarise(power_only([(0, 100.0), (1, 200.0), (3, 100.0)]))
    assert energy.source == "integrated"
    assert energy.energy_j == pytest.approx(450.0)
    assert energy.mean_power_w == pytest.approx(150.0)
    assert energy.peak_power_w == 200.0
    assert energy.energy_kwh == pytest.approx(450.0 / 3.6e6)


def test_counter_is_preferred_and_a_reset_counter_is_not_trusted():
    samples = [Sample(0, t, p, c, None, None, None, None, None)
               for t, p, c in ((0, 100.0, 5000.0), (1, 100.0, 5250.0), (2, 100.0, 5400.0))]
    assert summarise(samples).energy_j == pytest.approx(400.0)      # counter: 5400 - 5000
    assert summarise(samples).source == "counter"
    reset = [*samples[:2], Sample(0, 2, 100.0, 10.0, None, None, None, None, None)]
    assert summarise(reset).source == "integrated"
    assert summarise(reset).energy_j == pytest.approx(200.0)


def test_no_readings_give_no_numbers():
    energy = summarise([Sample(0, 0.0, None, None, None, None, None, None, None)])
    assert energy.energy_j is None and energy.mean_power_w is None and energy.source is None


@pytest.mark.parametrize("name", ["A40_resnet50_gpus0.csv", "A40_resnet50_gpus0-1-2-3.csv"])
def test_zeus_a40_counter_readings_replayed_give_the_recorded_energy(name):
    """Each Zeus window: two NVML counter readings replayed through sample_once."""
    windows = zeus_windows(name)
    replay = ReplayNVML(counter_samples(windows))
    samples = replay_run(replay, 2 * len(windows))
    for i, window in enumerate(windows):
        chunk = [s for s in samples
                 if window["start_s"] <= s.time_s <= window["start_s"] + window["elapsed_s"]]
        for energy in summarise_all(chunk):
            recorded = window["energy_j"][energy.gpu]
            assert energy.source == "counter"
            assert energy.energy_j == pytest.approx(recorded, abs=1e-3), (i, energy.gpu)
            assert energy.duration_s == pytest.approx(window["elapsed_s"])
            assert energy.mean_power_w == pytest.approx(recorded / window["elapsed_s"],
                                                        rel=1e-6)


def test_zeus_a40_known_value_at_300_w():
    window = zeus_windows("A40_resnet50_gpus0.csv")[0]
    samples = replay_run(ReplayNVML(counter_samples([window])), 2)
    energy = summarise(samples)
    # 6224.886 J in 24.0116 s: 259.25 W mean at the 300 W limit (ResNet-50, one A40).
    assert energy.energy_j == pytest.approx(6224.886, abs=1e-3)
    assert energy.mean_power_w == pytest.approx(259.25, abs=0.01)


def test_every_field_is_read_and_converted():
    samples = replay_run(busy_replay(gpus=2), 3)
    assert len(samples) == 6
    first = samples[0]
    assert (first.power_w, first.energy_counter_j, first.gpu_util_pct, first.mem_util_pct,
            first.sm_clock_mhz, first.power_limit_w, first.temperature_c) == (
        200.0, 1000.0, 97.0, 40.0, 1740.0, 300.0, 60.0)
    assert summarise([s for s in samples if s.gpu == 1]).energy_j == pytest.approx(40.0)


def test_samples_csv_is_a_recording_that_replays_to_the_same_summary(tmp_path):
    original = replay_run(busy_replay(gpus=2), 10)
    path = tmp_path / "samples.csv"
    path.write_text(samples_csv([(None, original)]))
    recorded = [s for _, s in read_samples_csv(path)]
    assert recorded == original
    again = replay_run(ReplayNVML(recorded), 10)
    assert summarise_all(again) == summarise_all(original)


def test_the_sampler_thread_samples_until_stopped():
    replay = busy_replay()
    sampler = Sampler(replay, open_gpus(replay, None), interval_s=0.01, clock=replay.clock)
    sampler.start()
    deadline = time.monotonic() + 10
    while len(sampler.samples) < 5 and time.monotonic() < deadline:
        time.sleep(0.005)
    samples = sampler.stop()
    assert len(samples) >= 6 and sampler.error is None
    assert [s.time_s for s in samples] == sorted(s.time_s for s in samples)
