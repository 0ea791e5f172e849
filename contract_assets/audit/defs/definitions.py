"""The audit's definitions: the audit_trail asset spec (entries are appended by the steps)."""

from dagster import Definitions

from contract_assets.audit.defs.auditing import audit_trail_spec


def definitions() -> Definitions:
    return Definitions(assets=[audit_trail_spec])
