"""A thousand request files dropped into the inbox at once: ticks, seconds per tick, and
whether every file was registered exactly once. Prints figures; asserts nothing.

Usage: .venv/bin/python benchmarks/inbox_benchmark.py [--files N]
"""

from __future__ import annotations

import argparse
import time

from bulk_requests import Services, nda_requests, throwaway_home, write_request

SENSOR_TIMEOUT_SECONDS = 60  # Dagster's default for one sensor evaluation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    with throwaway_home():
        from dagster import build_sensor_context

        from contract_assets.cli import open_instance
        from contract_assets.platform.defs.resources import Workspace
        from contract_assets.definitions import build_definitions, resources_for
        from contract_assets.platform.home import ContractHome
        from contract_assets.pipeline.defs.partitions import REVISIONS
        from contract_assets.intake.defs.sensors import inbox_sensor

        home = ContractHome.from_env().ensure()
        for index, request in enumerate(nda_requests(args.files)):
            write_request(home.inbox_dir / f"request-{index:05d}.yaml", request)

        definitions = build_definitions(home)
        ticks, run_keys, cursor = [], [], None
        with open_instance(home) as instance:
            operations = Services(Workspace(home), instance)
            instance = operations.instance
            while True:
                context = build_sensor_context(
                    instance=instance, cursor=cursor, resources=resources_for(home),
                    definitions=definitions,
                )
                start = time.perf_counter()
                result = inbox_sensor(context)
                ticks.append(time.perf_counter() - start)
                for request in result.dynamic_partitions_requests or []:
                    instance.add_dynamic_partitions(REVISIONS, list(request.partition_keys))
                run_keys += [r.run_key for r in result.run_requests or []]
                cursor = result.cursor
                if not result.run_requests and not any(home.inbox_dir.iterdir()):
                    break
            revisions = len(operations.workspace.registry.all())
        print(f"{args.files} files: {len(ticks)} ticks, slowest {max(ticks):.2f} s "
              f"(limit {SENSOR_TIMEOUT_SECONDS} s), mean {sum(ticks) / len(ticks):.2f} s")
        print(f"revisions registered: {revisions}; run requests: {len(run_keys)}, "
              f"distinct run keys: {len(set(run_keys))}; files left in the inbox: "
              f"{len(list(home.inbox_dir.iterdir()))}")
        print(f"per file: {sum(ticks) / args.files * 1000:.1f} ms")


if __name__ == "__main__":
    main()
