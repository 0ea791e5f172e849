"""Ed25519 keys and signatures: key files an approver can trust, signatures that cannot be bent."""

from __future__ import annotations

import base64
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey

from contract_assets.approvals.signing import (
    InvalidKey,
    generate_keypair,
    read_private_key,
    read_public_key,
    sign,
    verify,
    write_keypair,
)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- key files ---------------------------------------------------------------------------


def test_keygen_writes_private_owner_only_and_public_beside_it(tmp_path):
    private = tmp_path / "alice.key"
    public = write_keypair(private)
    assert public == tmp_path / "alice.key.pub"
    assert _mode(private) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert not _mode(public) & 0o022  # nobody else may replace the public key


def test_private_key_is_owner_only_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        write_keypair(tmp_path / "alice.key")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "alice.key") == 0o600


def test_keygen_creates_missing_directories(tmp_path):
    public = write_keypair(tmp_path / "keys" / "alice.key")
    assert public.exists()


def test_keygen_refuses_to_overwrite_a_private_key(tmp_path):
    private = tmp_path / "alice.key"
    private.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        write_keypair(private)
    assert private.read_bytes() == b"precious"
    assert not (tmp_path / "alice.key.pub").exists()


def test_keygen_refuses_to_overwrite_a_public_key(tmp_path):
    (tmp_path / "alice.key.pub").write_bytes(b"registered")
    with pytest.raises(FileExistsError, match="alice.key.pub"):
        write_keypair(tmp_path / "alice.key")
    assert not (tmp_path / "alice.key").exists()
    assert (tmp_path / "alice.key.pub").read_bytes() == b"registered"


def test_written_keys_read_back_and_sign(tmp_path):
    public = write_keypair(tmp_path / "alice.key")
    private_pem = read_private_key(tmp_path / "alice.key")
    public_pem = read_public_key(public)
    assert verify(public_pem, b"hello", sign(private_pem, b"hello"))


def test_missing_key_file_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidKey, match=r"nope\.key: no such private key file"):
        read_private_key(tmp_path / "nope.key")


def test_garbage_key_file_is_a_clear_error(tmp_path):
    path = tmp_path / "garbage.key"
    path.write_bytes(b"not a key at all")
    with pytest.raises(InvalidKey, match="garbage.key: not a PEM private key"):
        read_private_key(path)
    with pytest.raises(InvalidKey, match="garbage.key: not a PEM public key"):
        read_public_key(path)


def test_public_and_private_halves_are_not_interchangeable(tmp_path):
    public = write_keypair(tmp_path / "alice.key")
    with pytest.raises(InvalidKey, match="not a PEM private key"):
        read_private_key(public)
    with pytest.raises(InvalidKey, match="not a PEM public key"):
        read_public_key(tmp_path / "alice.key")


def test_a_key_of_another_algorithm_is_refused(tmp_path):
    path = tmp_path / "ed448.key"
    path.write_bytes(
        Ed448PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(InvalidKey, match="not an Ed25519 private key"):
        read_private_key(path)


# --- signatures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pair() -> tuple[bytes, bytes]:
    return generate_keypair()


def test_sign_verify_round_trip(pair):
    private_pem, public_pem = pair
    signature = sign(private_pem, b"blue-fjord-msa.r2 approve")
    assert base64.b64decode(signature, validate=True)
    assert verify(public_pem, b"blue-fjord-msa.r2 approve", signature)
    assert verify(public_pem.decode(), b"blue-fjord-msa.r2 approve", signature)


def test_tampered_message_fails(pair):
    private_pem, public_pem = pair
    signature = sign(private_pem, b"blue-fjord-msa.r2 approve")
    assert not verify(public_pem, b"blue-fjord-msa.r2 reject", signature)


def test_another_key_fails(pair):
    private_pem, _ = pair
    _, other_public = generate_keypair()
    assert not verify(other_public, b"message", sign(private_pem, b"message"))


@pytest.mark.parametrize(
    ("public_pem", "signature"),
    [
        (b"not a key", None),
        (None, None),
        (b"", None),
        ("valid", "not base64 !!"),
        ("valid", ""),
        ("valid", base64.b64encode(b"\x00" * 64).decode()),
        ("valid", base64.b64encode(b"short").decode()),
        ("valid", 12345),
    ],
)
def test_verify_never_raises_on_bad_input(pair, public_pem, signature):
    private_pem, real_public = pair
    public_pem = real_public if public_pem == "valid" else public_pem
    signature = sign(private_pem, b"m") if signature is None else signature
    assert verify(public_pem, b"m", signature) is False


def test_signing_with_a_non_key_is_a_clear_error():
    with pytest.raises(InvalidKey, match="not a PEM private key"):
        sign(b"garbage", b"message")
