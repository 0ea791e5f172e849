"""One dynamic partition per contract revision, keyed `<contract_id>.r<N>`."""

import warnings

from dagster import DynamicPartitionsDefinition, PreviewWarning

REVISIONS = "contract_revisions"

revision_partitions = DynamicPartitionsDefinition(name=REVISIONS)

# Each asset check declares these partitions: without them Dagster would load every partition
# of the asset for one check. That option is marked "preview" in Dagster 1.13 (and pinned here).
warnings.filterwarnings("ignore", category=PreviewWarning, message=".*partitions_def on an AssetCheckSpec")
