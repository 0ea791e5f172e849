"""How long reading where every revision stands takes as the register grows: `status`, and
the progress sensor, which does it every few seconds under the daemon. Prints figures;
asserts nothing.

Usage: .venv/bin/python benchmarks/status_benchmark.py [--revisions N] [--finished K]

N revisions are registered (mutual NDAs with distinct contract ids); K of them are run to
`ready_for_signature` first, so that the figures include revisions with every value stored.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bulk_requests import Services, nda_requests, throwaway_home, write_request

SENSOR_TIMEOUT_SECONDS = 60  # Dagster's default for one sensor evaluation
REPEATS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=1000)
    parser.add_argument("--finished", type=int, default=30)
    args = parser.parse_args()
    with throwaway_home() as tmp:
        from dagster import build_sensor_context

        from contract_assets.cli import open_instance
        from contract_assets.platform.defs.resources import Workspace
        from contract_assets.cli.revisions import QUIET_RUN
        from contract_assets.definitions import build_definitions, resources_for
        from contract_assets.platform.home import ContractHome
        from contract_assets.pipeline.defs.sensors import progress_sensor

        home = ContractHome.from_env().ensure()
        requests = tmp / "requests"
        requests.mkdir()
        for index, request in enumerate(nda_requests(args.revisions)):
            write_request(requests / f"request-{index:05d}.yaml", request)

        definitions = build_definitions(home)
        job = definitions.resolve_job_def("contract_pipeline")
        with open_instance(home) as instance:
            operations = Services(Workspace(home), instance)
            instance = operations.instance
            for path in sorted(requests.iterdir()):
                operations.submit(path)
            keys = [r.partition_key for r in operations.workspace.registry.all()]
            for key in keys[: args.finished]:
                job.execute_in_process(instance=instance, partition_key=key, run_config=QUIET_RUN)

            def timed(call) -> float:
                runs = []
                for _ in range(REPEATS):
                    start = time.perf_counter()
                    call()
                    runs.append(time.perf_counter() - start)
                return statistics.median(runs)

            status_seconds = timed(operations.statuses)
            json_seconds = timed(lambda: [s.as_json() for s in operations.statuses()])
            context = lambda: build_sensor_context(  # noqa: E731
                instance=instance, resources=resources_for(home), definitions=definitions
            )
            sensor_seconds = timed(lambda: progress_sensor(context()))

    per_revision_ms = sensor_seconds / args.revisions * 1000
    print(f"revisions: {args.revisions} registered, {args.finished} ready for signature")
    print(f"statuses():                   {status_seconds:.3f} s ({status_seconds / args.revisions * 1000:.2f} ms a revision)")
    print(f"status --json (all values):   {json_seconds:.3f} s ({json_seconds / args.revisions * 1000:.2f} ms a revision)")
    print(f"progress_sensor, one tick:    {sensor_seconds:.3f} s ({per_revision_ms:.2f} ms a revision)")
    print(
        f"revisions one tick handles within Dagster's {SENSOR_TIMEOUT_SECONDS} s sensor timeout "
        f"(extrapolated): {int(SENSOR_TIMEOUT_SECONDS * 1000 / per_revision_ms):,}"
    )


if __name__ == "__main__":
    main()
