"""Jobs. In-process execution: one revision is a few quick steps (~0.7 s against ~10 s for
a subprocess per step with the multiprocess executor, measured on 2 cores)."""

from dagster import (
    AssetSelection,
    Backoff,
    Jitter,
    RetryPolicy,
    define_asset_job,
    in_process_executor,
)

# Transient failures (a locked database, a file system hiccup) are retried with backoff;
# steps raise `Failure(allow_retries=False)` for bad data, which fails once with its error.
TRANSIENT_RETRY = RetryPolicy(max_retries=3, delay=0.5, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)


contract_pipeline = define_asset_job(
    "contract_pipeline",
    selection=AssetSelection.groups("contracts"),
    executor_def=in_process_executor,
    op_retry_policy=TRANSIENT_RETRY,
    description="Run one contract revision (one partition) from request to signature package.",
)
