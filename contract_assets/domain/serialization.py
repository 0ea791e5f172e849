"""How typed models are stored: a JSON envelope naming the model and its schema version."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import ValidationError

from contract_assets.domain.models import StoredModel

M = TypeVar("M", bound=StoredModel)


class StoredTypeMismatch(Exception):
    """What is stored is not the model the reader expects (or not a stored model at all)."""


def dump_model(model: StoredModel) -> bytes:
    envelope = {
        "model": type(model).__name__,
        "schema_version": type(model).SCHEMA_VERSION,
        "data": model.model_dump(mode="json"),
    }
    return json.dumps(envelope, indent=2, ensure_ascii=False).encode() + b"\n"


def load_model(data: bytes, expected: type[M], *, source: str) -> M:
    """Read an envelope written by `dump_model`, refusing any other model or schema version."""
    try:
        envelope = json.loads(data)
    except json.JSONDecodeError as exc:
        raise StoredTypeMismatch(f"{source}: not a stored model ({exc})") from None
    if not isinstance(envelope, dict) or not {"model", "schema_version", "data"} <= envelope.keys():
        raise StoredTypeMismatch(f"{source}: not a stored model envelope")
    if envelope["model"] != expected.__name__:
        raise StoredTypeMismatch(
            f"{source}: holds a {envelope['model']}, but a {expected.__name__} was expected"
        )
    if envelope["schema_version"] != expected.SCHEMA_VERSION:
        raise StoredTypeMismatch(
            f"{source}: {expected.__name__} schema version {envelope['schema_version']} is "
            f"stored, this code reads version {expected.SCHEMA_VERSION}"
        )
    try:
        return expected.model_validate(envelope["data"])
    except ValidationError as exc:
        raise StoredTypeMismatch(f"{source}: stored {expected.__name__} is invalid: {exc}") from None
