"""One dynamic partition per contract revision, keyed `<contract_id>.r<N>`."""

from dagster import DynamicPartitionsDefinition

REVISIONS = "contract_revisions"

revision_partitions = DynamicPartitionsDefinition(name=REVISIONS)
