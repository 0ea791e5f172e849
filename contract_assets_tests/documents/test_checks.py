"""Asset check results as the Dagster UI shows them, called on drafts directly."""

from __future__ import annotations

from dagster import FloatMetadataValue, IntMetadataValue

from contract_assets.drafting.defs.checks import mandatory_clauses_present
from contract_assets.drafting.assembly import assemble_draft
from contract_assets.drafting.clause_library import load_entities, load_library
from contract_assets.intake.requests import validate_request
from contract_assets_tests.sample_requests import ENTITIES, build_raw


def nda_draft():
    request = validate_request(build_raw("nda"), entities=ENTITIES, find_contract=lambda _: None)
    return assemble_draft(
        partition_key="acme-nda.r1", revision=1, request=request, request_hash="f" * 64,
        entity=load_entities()[request.our_entity], library=load_library(),
    )  # fmt: skip


def test_mandatory_clauses_are_named_not_counted_so_the_ui_plots_no_series_across_contracts():
    draft = nda_draft()
    result = mandatory_clauses_present(draft)
    assert result.passed
    numeric = {
        key for key, value in result.metadata.items()
        if isinstance(value, (IntMetadataValue, FloatMetadataValue, int, float))
    }  # fmt: skip
    assert numeric == set()
    assert result.metadata["mandatory"].value == draft.mandatory_clause_ids
    assert "governing-law" in draft.mandatory_clause_ids
