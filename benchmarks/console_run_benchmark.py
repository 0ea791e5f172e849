"""What a console run costs, made the old way and the new one, alternately in one home.

Old: `execute_in_process` (no job origin; the UI cannot list or re-execute the run). New:
created from the UI's code location loaded in this process, with its job origin, then
executed here (`console_runs.py`). Loading the code location is a one-off per command.
Prints figures and asserts nothing (shared, noisy machines).
Usage: .venv/bin/python benchmarks/console_run_benchmark.py [--revisions N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from bulk_requests import Services, nda_requests, throwaway_home, write_request

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--revisions", type=int, default=6, help="split evenly between the two ways")
    args = parser.parse_args()
    with throwaway_home() as tmp:
        from contract_assets.cli import open_instance
        from contract_assets.platform.defs.resources import Workspace
        from contract_assets.platform.defs.console_runs import console_runs
        from contract_assets.definitions import build_definitions
        from contract_assets.platform.home import ContractHome
        from contract_assets.pipeline.defs.asset_graph import PIPELINE_STEPS

        home = ContractHome.from_env()
        with open_instance(home) as instance:
            ops = Services(Workspace(home), instance)
            keys = [
                ops.submit(write_request(tmp / f"{r['contract_id']}.yaml", r)).revision.partition_key
                for r in nda_requests(args.revisions, "console")
            ]
            job = build_definitions(home).resolve_job_def("contract_pipeline")
            start = time.perf_counter()
            with console_runs(ops.instance) as runs:
                loaded = time.perf_counter() - start
                old, new = [], []
                for index, key in enumerate(keys):
                    start = time.perf_counter()
                    if index % 2:
                        run = runs.create(
                            "contract_pipeline", tags={"dagster/partition": key}, assets=PIPELINE_STEPS[:-1], run_config=QUIET
                        )
                        assert runs.execute(run)
                        new.append(time.perf_counter() - start)
                    else:
                        assert job.execute_in_process(
                            instance=ops.instance, partition_key=key, run_config=QUIET,
                            asset_selection=[a for a in job.asset_layer.executable_asset_keys if a.path[0] in PIPELINE_STEPS[:-1]],
                        ).success  # fmt: skip
                        old.append(time.perf_counter() - start)
    print(f"code location loaded in the console's process: {loaded:.2f} s (once per command)")
    print(f"execute_in_process (before): median {statistics.median(old):.2f} s a revision of {len(old)}")
    print(f"created with its origin, executed here (after): median {statistics.median(new):.2f} s a revision of {len(new)}")


if __name__ == "__main__":
    main()
