"""The published JSON Schema of a request matches the model."""

from contract_assets.intake.schema import SCHEMA_PATH, request_schema_text


def test_published_request_schema_is_current():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == request_schema_text(), (
        "docs/contract-request.schema.json is stale: run `make schema` and commit it"
    )
