"""How long `contract-assets` takes to start and finish: `--help` and `new-data-key`, which
load no Dagster, and `status`, which does (on a temporary home; its first call also creates
the Dagster instance, so it is shown apart).

Each command runs as a user runs it, in its own process; the figures are wall times.
Prints figures and asserts nothing (shared, noisy machines: the load average is printed too).
Usage: .venv/bin/python benchmarks/console_startup_benchmark.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bulk_requests import throwaway_home

CONSOLE = str(Path(sys.executable).parent / "contract-assets")


def timed(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([CONSOLE, *args], check=True, capture_output=True, timeout=600)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command (default 5)")
    args = parser.parse_args()
    with throwaway_home():
        timed("--help")  # the first run compiles the bytecode; "after the first run" is what counts
        first_status = timed("status")
        figures = {
            command: [timed(*command.split()) for _ in range(args.repeat)]
            for command in ("--help", "new-data-key", "status")
        }
    load = ", ".join(f"{figure:.2f}" for figure in os.getloadavg())
    cores = os.cpu_count()
    print(f"contract-assets start-up, {args.repeat} runs each (load average {load}, {cores} cores)")
    for command, times in figures.items():
        print(f"  {command:<14} median {statistics.median(times):.2f} s, best {min(times):.2f} s")
    print(f"  {'status':<14} first call on a new home (creates the instance): {first_status:.2f} s")


if __name__ == "__main__":
    main()
