"""Why a run failed, in words a person acts on: read from its step failures, never a
traceback. The console's `status`, the failure alert and its audit entry all say it so."""

from collections.abc import Iterable

from dagster import DagsterEvent


def step_failure_text(event: DagsterEvent) -> str:
    """What a failed step says: the description of the `Failure` it raised (a refused
    decision, bad data), else the message of its innermost error."""
    data = event.step_failure_data
    if data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description.strip()
    error = data.error
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message.strip() if error else "unknown error"


def run_failure_text(step_failures: Iterable[DagsterEvent], fallback: str) -> str:
    """A failed run's reason: one line per distinct step failure, in order, each starting
    with its reason; `fallback` (the run's own failure message) when no step failed."""
    reasons = dict.fromkeys(step_failure_text(event) for event in step_failures)
    return "\n".join(reasons) or fallback
