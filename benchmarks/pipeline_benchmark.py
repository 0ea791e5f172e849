"""How much Dagster costs per revision: the bare domain loop against the orchestrated run.

Prints figures and a ratio; asserts nothing (these machines are shared and noisy).
Usage: .venv/bin/python benchmarks/pipeline_benchmark.py [--revisions N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, date, datetime

from bulk_requests import Services, nda_requests, throwaway_home, write_request



def bare_loop(requests: list[dict]) -> list[float]:
    """Validate, assemble, assess, render and package each request with no Dagster at all."""
    from contract_assets.drafting.assembly import assemble_draft
    from contract_assets.drafting.clause_library import load_entities, load_library
    from contract_assets.documents.packaging import render_contract
    from contract_assets.approvals.playbook import assess_risk, load_playbook, required_approvals
    from contract_assets.intake.requests import validate_request
    from contract_assets.intake.revisions import content_hash, partition_key

    library, playbook, entities = load_library(), load_playbook(), load_entities()
    timings = []
    for raw in requests:
        start = time.perf_counter()
        request = validate_request(raw, entities=entities.keys(), find_contract=lambda _: None)
        key = partition_key(request.contract_id, 1)
        draft = assemble_draft(
            partition_key=key, revision=1, request=request, request_hash=content_hash(request),
            entity=entities[request.our_entity], library=library,
        )
        risk = assess_risk(partition_key=key, request=request, deviations=draft.deviations, playbook=playbook)
        required_approvals(risk.rules, playbook)
        effective = draft.effective_date or date.today()
        render_contract(draft, effective_date=effective, registered_at=datetime.now(UTC))
        timings.append(time.perf_counter() - start)
    return timings


def orchestrated(requests: list[dict]) -> list[float]:
    """Submit each request and run it as `contract-assets run` does (in-process executor)."""
    with throwaway_home() as tmp:
        from dagster import AssetKey

        from contract_assets.cli import open_instance
        from contract_assets.platform.defs.resources import Workspace
        from contract_assets.cli.revisions import QUIET_RUN
        from contract_assets.definitions import build_definitions
        from contract_assets.platform.home import ContractHome
        from contract_assets.pipeline.defs.asset_graph import PIPELINE_STEPS

        home = ContractHome.from_env()
        job = build_definitions(home).resolve_job_def("contract_pipeline")
        timings = []
        with open_instance(home) as instance:
            operations = Services(Workspace(home), instance)
            for index, raw in enumerate(requests):
                path = write_request(tmp / f"request-{index}.yaml", raw)
                start = time.perf_counter()
                key = operations.submit(path).revision.partition_key
                result = job.execute_in_process(
                    instance=operations.instance,
                    partition_key=key,
                    asset_selection=[AssetKey(a) for a in PIPELINE_STEPS],
                    run_config=QUIET_RUN,
                )
                assert result.success
                timings.append(time.perf_counter() - start)
        return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=10)
    args = parser.parse_args()
    requests = nda_requests(args.revisions)
    bare_loop(requests[:1])  # warm up imports and font loading
    bare = bare_loop(requests)
    dagster = orchestrated(requests)
    bare_ms, dagster_ms = statistics.median(bare) * 1000, statistics.median(dagster) * 1000
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, {args.revisions} revisions")
    print(f"bare domain loop (validate..render):     median {bare_ms:8.1f} ms per revision")
    print(f"orchestrated (submit + in-process run):  median {dagster_ms:8.1f} ms per revision")
    print(f"orchestration overhead ratio:            {dagster_ms / bare_ms:8.1f}x")


if __name__ == "__main__":
    main()
