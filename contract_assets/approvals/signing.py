"""Ed25519 keys and signatures: how an approver proves a decision is theirs.

Keys are PEM text: the private key PKCS#8 (unencrypted, kept owner-only by the approver),
the public key SubjectPublicKeyInfo (listed in the home's `approvers.yaml`). Signatures
are standard base64. Ed25519 signatures are deterministic: one key and one message give
one signature, so a signed decision has exactly one identity.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

PUBLIC_SUFFIX = ".pub"
_PRIVATE_MODE = 0o600
_PUBLIC_MODE = 0o644


class InvalidKey(ValueError):
    """A key (or key file) is missing, unreadable, or not an Ed25519 key of the expected kind."""


def generate_keypair() -> tuple[bytes, bytes]:
    """A new Ed25519 key pair as PEM: (private PKCS#8 unencrypted, public SubjectPublicKeyInfo)."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def public_key_path(private_path: Path) -> Path:
    """Where the public half of `private_path` goes: `alice.key` -> `alice.key.pub`."""
    return private_path.with_name(private_path.name + PUBLIC_SUFFIX)


def write_keypair(private_path: Path) -> Path:
    """Write a new key pair: the private key to `private_path` (0600), the public key beside it.

    Neither file may exist yet: an existing key is never overwritten (FileExistsError).
    The private file is created owner-only, so it is never readable by others, not even
    for a moment. Returns the path of the public key, `<private_path>.pub`.
    """
    public_path = public_key_path(private_path)
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise FileExistsError(
                f"{path} already exists; refusing to overwrite a key file "
                "(choose another path, or move the old key away first)"
            )
    private_pem, public_pem = generate_keypair()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    create_new_file(private_path, private_pem, _PRIVATE_MODE)
    try:
        create_new_file(public_path, public_pem, _PUBLIC_MODE)
    except BaseException:
        # A private key without its public half is useless and would block a retry.
        private_path.unlink(missing_ok=True)
        raise
    return public_path


def create_new_file(path: Path, data: bytes, mode: int) -> None:
    """Create `path` exclusively with `mode` from the first byte on, write `data`, sync it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        raise FileExistsError(
            f"{path} already exists; refusing to overwrite a key file "
            "(choose another path, or move the old key away first)"
        ) from None
    try:
        os.fchmod(fd, mode)  # the umask may only have removed bits; make the mode exact
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def read_private_key(path: Path) -> bytes:
    """The PEM bytes of the Ed25519 private key in `path`, checked; InvalidKey says what's wrong."""
    return _read_key_file(path, "private", load_private_key)


def read_public_key(path: Path) -> str:
    """The PEM text of the Ed25519 public key in `path`, checked; InvalidKey says what's wrong."""
    return _read_key_file(path, "public", load_public_key).decode("ascii")


def _read_key_file(path: Path, kind: str, load: Callable[[bytes], object]) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidKey(f"{path}: no such {kind} key file") from None
    except IsADirectoryError:
        raise InvalidKey(f"{path}: is a directory, not a {kind} key file") from None
    except OSError as exc:
        raise InvalidKey(f"{path}: cannot read the {kind} key file: {exc.strerror}") from None
    try:
        load(data)
    except InvalidKey as exc:
        raise InvalidKey(f"{path}: {exc}") from None
    return data


def load_private_key(pem: bytes | str) -> Ed25519PrivateKey:
    """Parse a PEM PKCS#8 Ed25519 private key; InvalidKey if it is anything else."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise InvalidKey("the private key is encrypted; use an unencrypted key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidKey(
            "not a PEM private key (expected '-----BEGIN PRIVATE KEY-----', "
            "as written by `contract-assets keygen`)"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidKey(f"not an Ed25519 private key (found {type(key).__name__})")
    return key


def load_public_key(pem: bytes | str) -> Ed25519PublicKey:
    """Parse a PEM SubjectPublicKeyInfo Ed25519 public key; InvalidKey if it is anything else."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidKey(
            "not a PEM public key (expected '-----BEGIN PUBLIC KEY-----', "
            "as written by `contract-assets keygen` to FILE.pub)"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidKey(f"not an Ed25519 public key (found {type(key).__name__})")
    return key


def sign(private_pem: bytes, message: bytes) -> str:
    """The base64 Ed25519 signature of `message`; InvalidKey if `private_pem` is not a key."""
    return base64.b64encode(load_private_key(private_pem).sign(message)).decode("ascii")


def verify(public_pem: bytes | str, message: bytes, signature_b64: str) -> bool:
    """Whether `signature_b64` is a valid signature of `message` by `public_pem`.

    Never raises: a malformed key, signature or message is simply not a valid signature.
    """
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        load_public_key(public_pem).verify(signature, message)
    except (InvalidKey, InvalidSignature, binascii.Error, ValueError, TypeError):
        return False
    return True
