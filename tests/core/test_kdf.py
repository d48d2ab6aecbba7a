"""Tests for matter_core.kdf: published vectors and differentials against pyca and hashlib."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as pyca_hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from hypothesis import given, settings
from hypothesis import strategies as st
from matter_core.kdf import (
    HmacSha256,
    hkdf_expand,
    hkdf_sha256,
    hmac_sha256,
    pbkdf2_pure,
    pbkdf2_sha256,
    verify_hmac_sha256,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "spake2p-vectors.json"


def _pyca_hmac(key: bytes, message: bytes) -> bytes:
    mac = pyca_hmac.HMAC(key, hashes.SHA256())
    mac.update(message)
    return mac.finalize()


def _pyca_hkdf(ikm: bytes, salt: bytes | None, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def _pyca_pbkdf2(password: bytes, salt: bytes, iterations: int, length: int) -> bytes:
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=length, salt=salt, iterations=iterations)
    return kdf.derive(password)


# --- Published vectors ----------------------------------------------------------------------


def test_hmac_rfc4231_test_case_2() -> None:
    # RFC 4231 section 4.3 (key shorter than the output).
    tag = hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert tag.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_hmac_rfc4231_test_case_6_long_key() -> None:
    # RFC 4231 section 4.7: a 131-byte key is hashed first.
    message = b"Test Using Larger Than Block-Size Key - Hash Key First"
    tag = hmac_sha256(b"\xaa" * 131, message)
    assert tag.hex() == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"


@pytest.mark.parametrize(
    ("ikm", "salt", "info", "length", "okm"),
    [
        # RFC 5869 A.1, test case 1.
        (
            b"\x0b" * 22,
            bytes(range(13)),
            bytes(range(0xF0, 0xFA)),
            42,
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        ),
        # RFC 5869 A.3, test case 3: empty salt and info.
        (
            b"\x0b" * 22,
            b"",
            b"",
            42,
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
        ),
    ],
)
def test_hkdf_rfc5869(ikm: bytes, salt: bytes, info: bytes, length: int, okm: str) -> None:
    assert hkdf_sha256(ikm, salt, info, length).hex() == okm


def test_pbkdf2_rfc7914_vector() -> None:
    # RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", c = 1, dkLen = 64).
    out = pbkdf2_sha256(b"passwd", b"salt", 1, 64)
    assert out.hex() == (
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
    )


def test_pbkdf2_apple_recording_passcode() -> None:
    # Matter ws = PBKDF2(passcode as u32 LE, salt, iterations, 80) (Matter Core
    # Specification 1.0, §3.10 Password-Authenticated Key Exchange (PAKE)), checked against
    # the Apple Home run in tests/vectors/spake2p-vectors.json.
    rec = json.loads(VECTORS.read_text())["matter_pase_end_to_end_apple_recording"]
    ws = pbkdf2_sha256(
        rec["passcode"].to_bytes(4, "little"), bytes.fromhex(rec["salt"]), rec["iterations"], 80
    )
    assert ws.hex() == rec["w0s_w1s_pbkdf2_output_80"]


# --- Differential: HMAC ------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(key=st.binary(max_size=200), message=st.binary(max_size=300))
def test_hmac_matches_stdlib_and_cryptography(key: bytes, message: bytes) -> None:
    expected = hmac.new(key, message, hashlib.sha256).digest()
    assert hmac_sha256(key, message) == expected
    assert _pyca_hmac(key, message) == expected


@settings(max_examples=50, deadline=None)
@given(key=st.binary(max_size=200), messages=st.lists(st.binary(max_size=100), max_size=5))
def test_hmac_object_is_reusable(key: bytes, messages: list[bytes]) -> None:
    mac = HmacSha256(key)
    for message in messages:
        assert mac.digest(message) == hmac.new(key, message, hashlib.sha256).digest()


@settings(max_examples=50, deadline=None)
@given(
    key=st.binary(max_size=200),
    message=st.binary(max_size=300),
    index=st.integers(0, 31),
    mask=st.integers(1, 255),
)
def test_verify_hmac(key: bytes, message: bytes, index: int, mask: int) -> None:
    tag = _pyca_hmac(key, message)
    assert verify_hmac_sha256(key, message, tag) is True
    bad = bytearray(tag)
    bad[index] ^= mask
    assert verify_hmac_sha256(key, message, bytes(bad)) is False
    assert verify_hmac_sha256(key, message, tag[:index]) is False
    assert verify_hmac_sha256(key, message + b"\x00", tag) is False


def test_hmac_rejects_non_bytes_key() -> None:
    with pytest.raises(TypeError):
        HmacSha256("key")  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [5, 0, 64, None, [1, 2]])
def test_hmac_rejects_an_int_or_other_non_bytes_key(key: object) -> None:
    # bytes(5) would quietly be five zero bytes: the key type is checked first.
    with pytest.raises(TypeError, match="HMAC key must be bytes"):
        HmacSha256(key)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="HMAC key must be bytes"):
        hmac_sha256(key, b"message")  # type: ignore[arg-type]


def test_hmac_accepts_bytes_like_keys() -> None:
    expected = hmac.new(b"key", b"message", hashlib.sha256).digest()
    for key in (b"key", bytearray(b"key"), memoryview(b"key")):
        assert hmac_sha256(key, b"message") == expected  # type: ignore[arg-type]


# --- Differential: HKDF ------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    ikm=st.binary(max_size=100),
    salt=st.one_of(st.just(b""), st.binary(min_size=1, max_size=100)),
    info=st.binary(max_size=100),
    length=st.integers(1, 200),
)
def test_hkdf_matches_cryptography(ikm: bytes, salt: bytes, info: bytes, length: int) -> None:
    expected = _pyca_hkdf(ikm, salt if salt else None, info, length)
    assert hkdf_sha256(ikm, salt, info, length) == expected
    if not salt:
        # RFC 5869: an absent salt is HashLen zeros; our empty salt must mean the same.
        assert _pyca_hkdf(ikm, bytes(32), info, length) == expected


def test_hkdf_maximum_length() -> None:
    assert hkdf_sha256(b"ikm", b"salt", b"info", 255 * 32) == _pyca_hkdf(
        b"ikm", b"salt", b"info", 255 * 32
    )


def test_hkdf_length_zero_is_the_empty_string() -> None:
    # RFC 5869 §2.3: L = 0 needs N = ceil(L/HashLen) = 0 blocks, so OKM is empty.
    assert hkdf_expand(bytes(32), b"info", 0) == b""
    assert hkdf_sha256(b"ikm", b"salt", b"info", 0) == b""
    assert hkdf_expand(bytes(32), b"info", 1) == hkdf_expand(bytes(32), b"info", 32)[:1]


@pytest.mark.parametrize("length", [-1, 255 * 32 + 1])
def test_hkdf_rejects_bad_length(length: int) -> None:
    with pytest.raises(ValueError):
        hkdf_sha256(b"ikm", b"salt", b"info", length)
    with pytest.raises(ValueError):
        hkdf_expand(bytes(32), b"info", length)


# --- Differential: PBKDF2 ----------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    password=st.binary(max_size=100),
    salt=st.binary(max_size=64),
    iterations=st.integers(1, 50),
    length=st.integers(1, 100),
)
def test_pbkdf2_matches_cryptography(
    password: bytes, salt: bytes, iterations: int, length: int
) -> None:
    assert pbkdf2_sha256(password, salt, iterations, length) == _pyca_pbkdf2(
        password, salt, iterations, length
    )


def test_pbkdf2_thousand_iterations() -> None:
    # The minimum iteration count with the CHIP test passcode 20202021 ("Test Set #01" of
    # connectedhomeip's TestPASESession.cpp).
    password = (20202021).to_bytes(4, "little")
    salt = b"SPAKE2P Key Salt"
    assert pbkdf2_sha256(password, salt, 1000, 80) == _pyca_pbkdf2(password, salt, 1000, 80)


@pytest.mark.parametrize("iterations", [0, -1])
def test_pbkdf2_rejects_too_few_iterations(iterations: int) -> None:
    with pytest.raises(ValueError):
        pbkdf2_sha256(b"pw", b"salt", iterations, 32)
    with pytest.raises(ValueError):
        pbkdf2_pure(b"pw", b"salt", iterations, 32)


@settings(max_examples=50, deadline=None)
@given(
    password=st.binary(max_size=100),
    salt=st.binary(max_size=64),
    iterations=st.integers(1, 50),
    length=st.integers(1, 100),
)
def test_pure_pbkdf2_matches_cryptography(
    password: bytes, salt: bytes, iterations: int, length: int
) -> None:
    # The loop the core component runs (its CPython has no hashlib.pbkdf2_hmac).
    assert pbkdf2_pure(password, salt, iterations, length) == _pyca_pbkdf2(
        password, salt, iterations, length
    )


def test_both_pbkdf2_paths_agree_at_matter_iteration_counts() -> None:
    password = (20202021).to_bytes(4, "little")
    for iterations in (1000, 10_000):
        assert pbkdf2_pure(password, b"S" * 32, iterations, 80) == pbkdf2_sha256(
            password, b"S" * 32, iterations, 80
        )


def test_pbkdf2_falls_back_to_the_pure_loop_without_openssl(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from matter_core import kdf

    monkeypatch.setattr(kdf, "_OPENSSL_PBKDF2", None)
    assert kdf.pbkdf2_sha256(b"passwd", b"salt", 1, 64) == _pyca_pbkdf2(b"passwd", b"salt", 1, 64)


@pytest.mark.parametrize("length", [0, -5])
def test_pbkdf2_rejects_non_positive_length(length: int) -> None:
    with pytest.raises(ValueError):
        pbkdf2_sha256(b"pw", b"salt", 1, length)
