"""Audit on Dagster: the audit_trail asset spec and appending entries from a step."""
