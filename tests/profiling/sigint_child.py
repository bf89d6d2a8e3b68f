"""Run a power-limit sweep on a replayed GPU in its own process, for the Ctrl-C test.

Usage: python -m tests.profiling.sigint_child STATE.json OUT.csv -- COMMAND...  (from the
repository root, so that ``tests`` imports). The replayed GPU starts at
300 W. Whatever happens, the exit code and the GPU's power limit at the end are written to
STATE.json, so the test can check that the original limit came back.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

from greenslot.cli import build_parser
from greenslot.cli.profile import run_profile
from tests.helpers.replays import busy_replay


def main() -> None:
    # A test run started in the background by a non-interactive shell (``make test &``,
    # nohup) inherits SIGINT ignored, and Python then installs no KeyboardInterrupt
    # handler: the test's Ctrl-C would never arrive. Ctrl-C is what is tested, so take it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    state, out, *command = sys.argv[1:]
    replay = busy_replay()
    rc = None
    try:
        args = build_parser().parse_args(
            ["profile", "--sweep-power-limits", "150,200", "--fixed-work", "--out", out,
             *command])
        rc = run_profile(args, nvml=replay, geteuid=lambda: 0, clock=replay.clock)
    finally:
        Path(state).write_text(json.dumps({"rc": rc, "limit_mw": replay.gpus[0].limit_mw,
                                           "set_calls": replay.set_calls}))
    sys.exit(rc)


if __name__ == "__main__":
    main()
