"""The request's JSON Schema, published in docs/ (`python -m contract_assets.intake.schema` rewrites it)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from contract_assets.platform.models import ContractRequest

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "contract-request.schema.json"


def request_schema_text() -> str:
    schema = ContractRequest.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Contract request"
    schema["description"] = (
        "A contract request (PRODUCT.md section 2). Rules across fields (which blocks each "
        "type allows, deliverable totals, parent MSA, our entity list) are checked by "
        "contract_assets.intake.requests and are not all expressible here."
    )
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(request_schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}", file=sys.stderr)
