"""Tests for harness.keys: the tool-conventions key serialisation and key files."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.supply.keys import (
    KEY_PAIR_SIZE,
    PUBLIC_KEY_SIZE,
    KeyFileError,
    MalformedKeyError,
    PublicKey,
    SecretKey,
    default_key_id,
    generate_keypair,
    load_public_key,
    load_secret_key,
    save_public_key,
    save_secret_key,
)

# RFC 8032, section 7.1, "TEST 1": secret key, public key, signature of the empty message.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


@pytest.fixture
def umask_zero() -> Iterator[None]:
    """Run with umask 0, so only the mode a file is created with limits its permissions."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_rfc8032_vector_through_the_spec_serialisation() -> None:
    key = SecretKey.from_seed(RFC8032_SEED)
    assert key.public_key.raw == RFC8032_PUBLIC
    assert key.sign(b"") == RFC8032_SIGNATURE
    assert key.public_key.verify(RFC8032_SIGNATURE, b"")
    assert not key.public_key.verify(RFC8032_SIGNATURE, b"x")


def test_serialisation_layout_is_the_specs() -> None:
    key = SecretKey.from_seed(RFC8032_SEED)
    assert key.to_bytes() == b"\x81" + RFC8032_SEED + RFC8032_PUBLIC
    assert len(key.to_bytes()) == KEY_PAIR_SIZE == 65
    assert key.public_key.to_bytes() == b"\x01" + RFC8032_PUBLIC
    assert len(key.public_key.to_bytes()) == PUBLIC_KEY_SIZE == 33


@settings(max_examples=25, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_key_round_trips(seed: bytes) -> None:
    key = SecretKey.from_seed(seed)
    again = SecretKey.from_bytes(key.to_bytes())
    assert again.to_bytes() == key.to_bytes()
    assert PublicKey.from_bytes(key.public_key.to_bytes()) == key.public_key
    assert PublicKey.from_hex(key.public_key.to_bytes().hex()) == key.public_key
    assert PublicKey.from_hex(key.public_key.raw.hex()) == key.public_key


def test_default_key_id_is_wasmsign2s() -> None:
    # wasmsign2 keys.rs attach_default_key_id: HMAC::mac(b"key_id", pk)[0..12], where
    # hmac-sha256's mac(input, k) takes the message first and the key second.
    expected = hmac.new(RFC8032_PUBLIC, b"key_id", hashlib.sha256).digest()[:12]
    key = PublicKey(RFC8032_PUBLIC)
    assert default_key_id(RFC8032_PUBLIC) == expected
    assert key.key_id == expected
    assert key.fingerprint == expected.hex()
    assert key.matches_key_id(expected)
    assert key.matches_key_id(b"")
    assert not key.matches_key_id(b"\x00" * 12)
    named = key.with_key_id(b"first")
    assert named.key_id == b"first"
    assert named.matches_key_id(b"first") and named.matches_key_id(expected)
    assert named == key  # the id is a label, not part of the key's identity


def test_spliced_key_pair_is_refused() -> None:
    a, b = generate_keypair(), generate_keypair()
    spliced = a.to_bytes()[:33] + b.public_key.raw
    with pytest.raises(MalformedKeyError, match="does not belong"):
        SecretKey.from_bytes(spliced)


def test_wrong_kind_of_key_is_named() -> None:
    key = generate_keypair()
    with pytest.raises(MalformedKeyError, match="this is an Ed25519 secret key"):
        PublicKey.from_bytes(key.to_bytes())
    with pytest.raises(MalformedKeyError, match="this is an Ed25519 public key"):
        SecretKey.from_bytes(key.public_key.to_bytes())


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"", "empty"),
        (b"\x01" + b"\x00" * 31, "32 bytes starting with 0x01"),
        (b"\x02" + b"\x00" * 32, "33 bytes starting with 0x02"),
        (b"-----BEGIN PUBLIC KEY-----\nMCow\n-----END PUBLIC KEY-----\n", "PEM"),
        (b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI user@host\n", "OpenSSH"),
    ],
)
def test_malformed_public_keys(data: bytes, what: str) -> None:
    with pytest.raises(MalformedKeyError, match=what):
        PublicKey.from_bytes(data)


def test_public_key_checks_type_and_length() -> None:
    with pytest.raises(MalformedKeyError, match="32 bytes, got 31"):
        PublicKey(b"\x00" * 31)
    with pytest.raises(TypeError):
        PublicKey("00" * 32)  # type: ignore[arg-type]
    with pytest.raises(MalformedKeyError, match="not a hex string"):
        PublicKey.from_hex("zz")
    with pytest.raises(MalformedKeyError, match="32 bytes"):
        SecretKey.from_seed(b"\x00" * 31)


def test_secret_key_repr_hides_the_secret() -> None:
    key = SecretKey.from_seed(RFC8032_SEED)
    assert RFC8032_SEED.hex() not in repr(key)
    assert key.public_key.fingerprint in repr(key)
    assert RFC8032_PUBLIC.hex() not in repr(key.public_key)


def test_secret_key_file_is_created_0600(tmp_path: Path, umask_zero: None) -> None:
    path = tmp_path / "signer.key"
    save_secret_key(path, generate_keypair())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_secret_key_file_never_uses_chmod(
    tmp_path: Path, umask_zero: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Narrowing after creation would leave a window with a readable secret.
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("chmod used on a key file")

    monkeypatch.setattr(os, "chmod", forbidden)
    monkeypatch.setattr(os, "fchmod", forbidden)
    path = tmp_path / "signer.key"
    save_secret_key(path, generate_keypair())
    save_secret_key(path, generate_keypair(), overwrite=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_public_key_file_is_world_readable(tmp_path: Path, umask_zero: None) -> None:
    path = tmp_path / "signer.pub"
    save_public_key(path, generate_keypair().public_key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_key_files_round_trip(tmp_path: Path) -> None:
    key = generate_keypair()
    save_secret_key(tmp_path / "k", key)
    save_public_key(tmp_path / "k.pub", key.public_key)
    assert load_secret_key(tmp_path / "k").to_bytes() == key.to_bytes()
    assert load_public_key(tmp_path / "k.pub") == key.public_key
    assert (tmp_path / "k").read_bytes() == key.to_bytes()
    assert (tmp_path / "k.pub").read_bytes() == key.public_key.to_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k", "k.pub"]  # no temp files left


def test_existing_key_file_is_kept_unless_overwrite(tmp_path: Path) -> None:
    first, second = generate_keypair(), generate_keypair()
    path = tmp_path / "signer.key"
    save_secret_key(path, first)
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        save_secret_key(path, second)
    assert load_secret_key(path).to_bytes() == first.to_bytes()
    save_secret_key(path, second, overwrite=True)
    assert load_secret_key(path).to_bytes() == second.to_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signer.key"]


def test_public_key_file_loaded_as_secret_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "signer.pub"
    save_public_key(path, generate_keypair().public_key)
    with pytest.raises(MalformedKeyError) as info:
        load_secret_key(path)
    assert str(path) in info.value.explain()
    assert "public key" in info.value.explain()


def test_secret_key_file_loaded_as_public_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "signer.key"
    save_secret_key(path, generate_keypair())
    with pytest.raises(MalformedKeyError) as info:
        load_public_key(path)
    assert str(path) in info.value.message
    assert "never share it" in info.value.explain()


@pytest.mark.parametrize("content", [b"", b"\x81" + b"\x00" * 10, b"hello\n", b"\x00" * 5000])
def test_malformed_key_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    with pytest.raises(MalformedKeyError, match=str(path)):
        load_secret_key(path)
    with pytest.raises(MalformedKeyError, match=str(path)):
        load_public_key(path)


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="not found"):
        load_secret_key(tmp_path / "absent.key")
    with pytest.raises(KeyFileError, match="cannot write"):
        save_public_key(tmp_path / "no" / "such" / "dir.pub", generate_keypair().public_key)


def test_generated_keys_differ_and_verify() -> None:
    a, b = generate_keypair(), generate_keypair()
    assert a.public_key != b.public_key
    signature = a.sign(b"message")
    Ed25519PublicKey.from_public_bytes(a.public_key.raw).verify(signature, b"message")
    assert not b.public_key.verify(signature, b"message")
