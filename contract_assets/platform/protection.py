"""Personal data at rest: the data key, and what counts as personal in what Dagster shows.

With a key configured, every record the IO manager and the revision registry store, and
every raw request file kept after intake, is encrypted with Fernet (AES-128-CBC with an
HMAC-SHA256 tag, from `cryptography`). Keys come from `$CONTRACT_ASSETS_DATA_KEY` (keys
separated by commas) or from the file named by `$CONTRACT_ASSETS_DATA_KEY_FILE` (one key a
line, `#` comments allowed), newest first: the newest key encrypts, every listed key
decrypts, so a new key can be added before the old one is retired (`rotate-key`). With no
key the records stay plaintext, as `contract-assets env` says.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from contract_assets.platform.files import sha256_bytes

KEY_ENV = "CONTRACT_ASSETS_DATA_KEY"
KEY_FILE_ENV = "CONTRACT_ASSETS_DATA_KEY_FILE"
# A raw file (a request as it arrived, a dropped PDF) kept encrypted gets this suffix.
ENCRYPTED_SUFFIX = ".enc"
WITHHELD = "(withheld: personal data)"
_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[^\s@<>()\[\],;:\"']+")


class DataKeyError(Exception):
    """Encrypted data cannot be read or written: no key, a key that does not fit, a bad key."""


class DataProtection:
    """The configured data keys (newest first); without keys, data passes unchanged."""

    def __init__(self, keys: Sequence[bytes | str] = ()):
        try:
            fernets = [Fernet(key) for key in keys]
        except (ValueError, TypeError):
            raise DataKeyError(
                "a configured data key is not a Fernet key (32 bytes, url-safe base64); "
                "make one with `contract-assets new-data-key`"
            ) from None
        self._cipher = MultiFernet(fernets) if fernets else None
        # Short fingerprints tell keys apart in messages without showing them.
        self.key_ids = [sha256_bytes(k if isinstance(k, bytes) else k.encode())[:8] for k in keys]

    def __repr__(self) -> str:
        return f"DataProtection(keys={self.key_ids})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> DataProtection:
        """The keys of $CONTRACT_ASSETS_DATA_KEY or $CONTRACT_ASSETS_DATA_KEY_FILE (one of them)."""
        inline, key_file = environ.get(KEY_ENV, "").strip(), environ.get(KEY_FILE_ENV, "").strip()
        if inline and key_file:
            raise DataKeyError(f"both {KEY_ENV} and {KEY_FILE_ENV} are set; set one of them")
        if key_file:
            return cls(read_key_file(Path(key_file)))
        return cls([k.strip() for k in inline.split(",") if k.strip()])

    @property
    def enabled(self) -> bool:
        return self._cipher is not None

    def describe(self) -> str:
        """One line saying whether personal data is encrypted at rest, and with which key."""
        if not self.enabled:
            return (
                f"data encryption: off (records are stored in plaintext; set {KEY_ENV} "
                f"or {KEY_FILE_ENV} to encrypt them)"
            )
        older = f", {len(self.key_ids) - 1} older key(s) still read" if len(self.key_ids) > 1 else ""
        return f"data encryption: on (new data uses key {self.key_ids[0]}{older})"

    def seal(self, data: bytes) -> bytes:
        """`data` encrypted with the newest key (a Fernet token, ASCII)."""
        if self._cipher is None:
            raise DataKeyError(f"no data key is configured: set {KEY_ENV} or {KEY_FILE_ENV}")
        return self._cipher.encrypt(data)

    def open(self, token: bytes, *, source: str) -> bytes:
        """The plaintext of a token written by `seal` with any configured key."""
        return self._use(token, source, lambda cipher: cipher.decrypt(token))

    def reseal(self, token: bytes, *, source: str) -> bytes:
        """The same plaintext, encrypted again with the newest key."""
        return self._use(token, source, lambda cipher: cipher.rotate(token))

    def _use(self, token: bytes, source: str, action) -> bytes:
        if self._cipher is None:
            raise DataKeyError(
                f"{source} is encrypted and no data key is configured: set {KEY_ENV} (or "
                f"{KEY_FILE_ENV}) to the key it was written with"
            )
        try:
            return action(self._cipher)
        except InvalidToken:
            raise DataKeyError(
                f"{source} does not decrypt with the configured data key(s) "
                f"({', '.join(self.key_ids)}): list the key it was written with in {KEY_ENV} "
                f"or {KEY_FILE_ENV} (newest first), or the file was altered"
            ) from None


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def read_key_file(path: Path) -> list[str]:
    """The keys in a key file, newest first; the file must be readable by its owner only."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataKeyError(f"{KEY_FILE_ENV}: cannot read the key file {path}: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise DataKeyError(
            f"{KEY_FILE_ENV}: {path} is open to other users; `chmod 600 {path}` first"
        )
    keys = [line.strip() for line in text.splitlines()]
    keys = [key for key in keys if key and not key.startswith("#")]
    if not keys:
        raise DataKeyError(f"{KEY_FILE_ENV}: {path} holds no key")
    return keys


# --- what Dagster may show --------------------------------------------------------------

# Request fields that are personal data: never in Dagster's metadata, logs or errors.
PERSONAL_REQUEST_FIELDS = (
    "requested_by",
    "counterparty.address",
    "counterparty.signatory.name",
    "counterparty.signatory.email",
)


def without_emails(text: str) -> str:
    """`text` with anything shaped like an email address withheld (free text may hold one)."""
    return _EMAIL.sub("(email withheld)", text)


def masked_email(address: str) -> str:
    """An address with its local part hidden ("s***@orbital.example"): enough for a person to
    tell which mailbox an alert went to, not enough to write to it."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}" if local else "***"


def request_for_display(request_data: dict[str, Any]) -> dict[str, Any]:
    """A request's plain data for the Dagster UI: personal fields withheld, emails in free
    text masked, every business term (parties' legal names, value, terms) kept."""
    shown = _mask(request_data)
    for dotted in PERSONAL_REQUEST_FIELDS:
        *parents, last = dotted.split(".")
        node = shown
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(last) is not None:
            node[last] = WITHHELD
    return shown


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return without_emails(value)
    if isinstance(value, dict):
        return {key: _mask(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(item) for item in value]
    return value
