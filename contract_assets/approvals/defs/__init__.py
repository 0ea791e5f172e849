"""Approvals on Dagster: risk and routing assets, the record_approval job, decisions, SLA and approval-request alerts."""
