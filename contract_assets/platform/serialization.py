"""How typed models are stored: a JSON envelope naming the model and its schema version.

The model's data is the envelope's `data`, or, written with a data key, its `encrypted`
field (a Fernet token of the data's JSON): the model name and schema version stay readable
so a wrong type or version is reported without the key.
"""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import ValidationError

from contract_assets.platform.models import StoredModel
from contract_assets.platform.protection import DataProtection

M = TypeVar("M", bound=StoredModel)
PLAINTEXT = DataProtection()


class StoredTypeMismatch(Exception):
    """What is stored is not the model the reader expects (or not a stored model at all)."""


def dump_model(model: StoredModel, protection: DataProtection = PLAINTEXT) -> bytes:
    """The envelope of `model`; its data encrypted when `protection` has a key."""
    data = model.model_dump(mode="json")
    envelope: dict = {"model": type(model).__name__, "schema_version": type(model).SCHEMA_VERSION}
    if protection.enabled:
        envelope["encrypted"] = protection.seal(_json(data)).decode("ascii")
    else:
        envelope["data"] = data
    return json.dumps(envelope, indent=2, ensure_ascii=False).encode() + b"\n"


def load_model(
    data: bytes, expected: type[M], *, source: str, protection: DataProtection = PLAINTEXT
) -> M:
    """Read an envelope written by `dump_model`, refusing any other model or schema version.

    An encrypted envelope needs a key that opens it (`DataKeyError` otherwise).
    """
    envelope = _envelope(data, source)
    if envelope["model"] != expected.__name__:
        raise StoredTypeMismatch(
            f"{source}: holds a {envelope['model']}, but a {expected.__name__} was expected"
        )
    if envelope["schema_version"] != expected.SCHEMA_VERSION:
        raise StoredTypeMismatch(
            f"{source}: {expected.__name__} schema version {envelope['schema_version']} is "
            f"stored, this code reads version {expected.SCHEMA_VERSION}"
        )
    if "encrypted" in envelope:
        plain = protection.open(envelope["encrypted"].encode("ascii"), source=source)
        fields = json.loads(plain)
    else:
        fields = envelope["data"]
    try:
        return expected.model_validate(fields)
    except ValidationError as exc:
        # Without the input values: a stored record may hold personal data.
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(record)'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise StoredTypeMismatch(f"{source}: stored {expected.__name__} is invalid: {problems}") from None


def stored_model_name(data: bytes, *, source: str) -> str:
    """The name of the model an envelope holds (readable without the data key)."""
    return str(_envelope(data, source)["model"])


def reseal_envelope(data: bytes, protection: DataProtection, *, source: str) -> bytes | None:
    """The envelope with its data encrypted under the newest key (plaintext data is
    encrypted); None when there is nothing to do (no key)."""
    if not protection.enabled:
        return None
    envelope = _envelope(data, source)
    if "encrypted" in envelope:
        token = protection.reseal(envelope.pop("encrypted").encode("ascii"), source=source)
    else:
        token = protection.seal(_json(envelope.pop("data")))
    envelope["encrypted"] = token.decode("ascii")
    return json.dumps(envelope, indent=2, ensure_ascii=False).encode() + b"\n"


def open_envelope(data: bytes, protection: DataProtection, *, source: str) -> bytes:
    """The envelope as plaintext JSON (its `data` decrypted), for a person to read."""
    envelope = _envelope(data, source)
    if "encrypted" in envelope:
        token = envelope.pop("encrypted").encode("ascii")
        envelope["data"] = json.loads(protection.open(token, source=source))
    return json.dumps(envelope, indent=2, ensure_ascii=False).encode() + b"\n"


def _json(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _envelope(data: bytes, source: str) -> dict:
    try:
        envelope = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoredTypeMismatch(f"{source}: not a stored model ({exc})") from None
    if (
        not isinstance(envelope, dict)
        or not {"model", "schema_version"} <= envelope.keys()
        or len({"data", "encrypted"} & envelope.keys()) != 1
    ):
        raise StoredTypeMismatch(f"{source}: not a stored model envelope")
    return envelope
