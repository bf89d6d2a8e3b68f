"""The time limit counts from the process's own start on a real command line."""

from __future__ import annotations

import subprocess
import sys
import time

from greenslot.cli.clock import MOST_START_UP_S, command_started, seconds_since_process_start


def test_a_fresh_process_knows_how_long_ago_it_started():
    # whatever the load, a process that slept 0.3 s started at least 0.3 s ago
    code = ("import time; time.sleep(0.3)\n"
            "from greenslot.cli.clock import seconds_since_process_start as s\n"
            "print(s())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert float(out) >= 0.3 - 0.02  # /proc's clock ticks are 10 ms


def test_a_caller_inside_a_long_lived_process_counts_from_now():
    before = time.perf_counter()
    assert before <= command_started(from_process_start=False) <= time.perf_counter()


def test_a_start_up_too_long_for_a_command_line_counts_from_now():
    # this test process (pytest) has been running for a while or not: either way the count
    # never reaches further back than the start-up a command line can have
    began = command_started(from_process_start=True)
    assert time.perf_counter() - began <= MOST_START_UP_S + 1
    elapsed = seconds_since_process_start()
    assert elapsed is not None and elapsed >= 0
