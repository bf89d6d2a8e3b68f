"""How long ``greenslot --version`` and ``--help`` take in a fresh process (issue 17).

Run ``python -m benchmarks.startup [--repeat N]``: prints a table of median and worst wall
seconds per command, with the machine's load average, and the heavy modules each imported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

COMMANDS = (["--version"], ["--help"], ["plan", "--help"], ["sweep", "--help"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; {args.repeat} runs each\n")
    print(f"| {'command':24} | median s | worst s |")
    print(f"|{'-' * 26}|---------:|--------:|")
    for argv in COMMANDS:
        times = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            subprocess.run([sys.executable, "-m", "greenslot", *argv], capture_output=True,
                           check=True)
            times.append(time.perf_counter() - began)
        label = "greenslot " + " ".join(argv)
        print(f"| {label:24} | {statistics.median(times):8.3f} | {max(times):7.3f} |")


if __name__ == "__main__":
    main()
