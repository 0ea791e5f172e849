"""Drafting on Dagster: the contract_draft asset and its mandatory-clause check."""
