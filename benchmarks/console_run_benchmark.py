"""What a console run costs: `contract-assets run` over one revision and over several.

The fixed part (starting the command, loading the code, the register run) is the one-revision
time less the per-revision cost; the per-revision cost is the difference between the two runs
divided by the extra revisions. Prints figures and asserts nothing (shared, noisy machines).
Usage: .venv/bin/python benchmarks/console_run_benchmark.py [--revisions N] [--repeat R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bulk_requests import nda_requests, throwaway_home, write_request

CONSOLE = str(Path(sys.executable).parent / "contract-assets")


def timed_run(count: int, prefix: str) -> float:
    """Submit `count` new NDAs, then time one `contract-assets run` over them (seconds)."""
    with throwaway_home() as tmp:
        paths = [write_request(tmp / f"{r['contract_id']}.yaml", r) for r in nda_requests(count, prefix)]
        subprocess.run([CONSOLE, "submit", *map(str, paths)], check=True, capture_output=True)
        start = time.perf_counter()
        subprocess.run([CONSOLE, "run"], check=True, capture_output=True, env=dict(os.environ))
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--revisions", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    one = [timed_run(1, "one") for _ in range(args.repeat)]
    many = [timed_run(args.revisions, "many") for _ in range(args.repeat)]
    per_revision = (statistics.median(many) - statistics.median(one)) / (args.revisions - 1)
    print(f"`contract-assets run`, 1 revision: median {statistics.median(one):.2f} s of {args.repeat}")
    print(f"`contract-assets run`, {args.revisions} revisions: median {statistics.median(many):.2f} s")
    print(f"per revision: {per_revision:.2f} s; fixed: {statistics.median(one) - per_revision:.2f} s")


if __name__ == "__main__":
    main()
