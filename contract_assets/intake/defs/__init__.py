"""Intake on Dagster: the contract_request asset and its check, the inbox sensor, registering revisions."""
