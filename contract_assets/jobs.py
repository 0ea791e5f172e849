"""Jobs. In-process execution: one revision is a few quick steps (~0.7 s against ~10 s for
a subprocess per step with the multiprocess executor, measured on 2 cores)."""

from dagster import AssetSelection, define_asset_job, in_process_executor

contract_pipeline = define_asset_job(
    "contract_pipeline",
    selection=AssetSelection.groups("contracts"),
    executor_def=in_process_executor,
    description="Run one contract revision (one partition) from request to signature package.",
)

register_job = define_asset_job(
    "contract_register_job",
    selection=AssetSelection.groups("register"),
    executor_def=in_process_executor,
    description="Rebuild the contract register from every revision's state.",
)

executed_copy_job = define_asset_job(
    "executed_copy_job",
    selection=AssetSelection.groups("execution"),
    executor_def=in_process_executor,
    description="Store a countersigned copy and mark its revision executed.",
)
