"""Strict Ed25519: small-order and non-canonical keys and signatures are refused.

The edge cases are the 12 vectors of "Taming the many EdDSAs" (Chalkias, Garillot and
Nikolaenko, SSR 2020), ``tests/vectors/ed25519-speccheck.json``; the expected verdicts
are libsodium's row of the paper's results table (as published with the vectors). Points
are checked with an independent affine model of the curve (RFC 8032, sections 5.1.3-5.1.4).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import wasmtime
from click.testing import CliRunner

from harness.cli.app import cli
from harness.supply.ed25519 import (
    L,
    P,
    is_canonical,
    is_curve_point,
    point_problem,
    signature_problem,
    small_order,
    verify_strict,
)
from harness.supply.keys import (
    MalformedKeyError,
    PublicKey,
    SecretKey,
    WeakPublicKey,
    default_key_id,
    load_public_key,
)
from harness.supply.settings import SIGNING_KEY_ENV, TRUST_MODE_ENV, TRUST_STORE_ENV
from harness.supply.signature_format import (
    ALG_ED25519,
    SignatureData,
    SignatureRecord,
    SignedHashes,
    layout,
    part_hashes,
)
from harness.supply.signing import InvalidSignature, NonCanonicalSignature, sign, verify
from harness.supply.trust import CorruptTrustStore, TrustedKey, TrustStore, check_component

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "ed25519-speccheck.json"
CASES: list[dict[str, str]] = json.loads(VECTORS.read_text())
# libsodium's verdicts on the 12 cases (True: accepted), from the paper's results table.
LIBSODIUM = [False, False, False, True, False, False, False, False, False, False, False, False]

IDENTITY = bytes([1]) + bytes(31)
"""The neutral element (0, 1), encoded: y = 1, sign bit 0 (RFC 8032, section 5.1.2)."""
KEY = SecretKey.from_seed(b"\x55" * 32)
COMPONENT = bytes(
    wasmtime.wat2wasm(
        '(component (core module $m (func (export "f") (result i32) i32.const 7))'
        " (core instance (instantiate $m)))"
    )
)

# --- an independent model of the curve (affine twisted Edwards, a = -1) -------------------

D = -121665 * pow(121666, -1, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
Point = tuple[int, int]


def add(a: Point, b: Point) -> Point:
    """Point addition (RFC 8032, section 5.1.4, in affine form)."""
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + x2 * y1) * pow(1 + t, -1, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, -1, P) % P
    return x3, y3


def times(k: int, point: Point) -> Point:
    result, addend = (0, 1), point
    while k:
        if k & 1:
            result = add(result, addend)
        addend, k = add(addend, addend), k >> 1
    return result


def decode(encoding: bytes) -> Point | None:
    """RFC 8032, section 5.1.3, but accepting y >= p (reduced) and "-0" (to study them)."""
    y = int.from_bytes(encoding, "little") & ((1 << 255) - 1)
    sign = encoding[31] >> 7
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if v * x * x % P == (-u) % P:
        x = x * SQRT_M1 % P
    if v * x * x % P != u % P:
        return None
    if x & 1 != sign:
        x = (-x) % P
    return x, y % P


def encode(point: Point, *, sign_bit: int | None = None) -> bytes:
    x, y = point
    bit = x & 1 if sign_bit is None else sign_bit
    return (y | bit << 255).to_bytes(32, "little")


def order_of(point: Point) -> int:
    for k in (1, 2, 4, 8):
        if times(k, point) == (0, 1):
            return k
    return 0  # not small


# The torsion subgroup, from first principles: [L] of a point whose torsion part is
# non-trivial lands in it; the speccheck's mixed-order key (cases 3-5) has order 8L.
MIXED = decode(bytes.fromhex(CASES[3]["pub_key"]))
assert MIXED is not None
GENERATOR_8 = times(L, MIXED)
TORSION = [times(k, GENERATOR_8) for k in range(8)]


def all_encodings(point: Point) -> list[bytes]:
    """Every 32-byte string that decodes (leniently) to ``point``: both sign bits, y + p."""
    y = point[1]
    ys = [y] + ([y + P] if y + P < 1 << 255 else [])
    return [(v | bit << 255).to_bytes(32, "little") for v in ys for bit in (0, 1)]


def small_order_encodings() -> list[bytes]:
    return sorted({e for point in TORSION for e in all_encodings(point)})


def forged_signature(data: bytes, key_id: bytes, signature: bytes) -> bytes:
    """A detached signature of ``data`` whose one record carries ``signature``."""
    found = layout(data)
    hashes = tuple(part.hash for part in part_hashes(data, found.content, found.content_start))
    record = SignatureRecord(key_id, ALG_ED25519, signature)
    return SignatureData((SignedHashes(hashes, (record,)),)).encode()


def smuggled(raw: bytes) -> PublicKey:
    """A PublicKey made around the constructor's checks, as a buggy caller could."""
    key = object.__new__(PublicKey)
    object.__setattr__(key, "raw", raw)
    object.__setattr__(key, "explicit_key_id", None)
    return key


def store_document(public_key_hex: str) -> str:
    entry = {"name": "evil", "public_key": public_key_hex, "added_at": "2026-01-02T03:04:05Z"}
    return json.dumps({"format": "matter-harness-trust-store", "version": 1, "keys": [entry]})


# --- the finding -------------------------------------------------------------------------


def test_finding_4_small_order_key_and_forged_signature_are_refused(tmp_path: Path) -> None:
    forged = IDENTITY + bytes(32)  # R = identity, S = 0: "valid" for A = identity, any message
    # The key is refused wherever it enters ...
    store = TrustStore(tmp_path / "trust")
    with pytest.raises(WeakPublicKey, match="small order"):
        store.add("evil", PublicKey(IDENTITY))
    with pytest.raises(WeakPublicKey, match="small order"):
        store.add("evil", smuggled(IDENTITY))
    assert store.entries() == []
    with pytest.raises(WeakPublicKey, match="small order"):
        PublicKey.from_bytes(b"\x01" + IDENTITY)
    with pytest.raises(WeakPublicKey, match="small order"):
        PublicKey.from_hex(IDENTITY.hex())
    pub = tmp_path / "evil.pub"
    pub.write_bytes(b"\x01" + IDENTITY)
    with pytest.raises(WeakPublicKey, match=f"{pub}.*small order"):
        load_public_key(pub)
    tampered = tmp_path / "tampered.json"
    tampered.write_text(store_document("01" + IDENTITY.hex()))
    tampered.chmod(0o644)
    with pytest.raises(CorruptTrustStore, match="small order"):
        TrustStore(tampered).entries()
    # ... and at verification, trusted or known-but-untrusted, in strict and self-signed mode.
    detached = forged_signature(COMPONENT, default_key_id(IDENTITY), forged)
    evil = smuggled(IDENTITY)
    for mode, trusted, extra in [
        ("strict", [TrustedKey("evil", evil, "now")], []),
        ("strict", [], [evil]),
        ("self-signed", [], [evil]),
        ("self-signed", [TrustedKey("evil", evil, "now")], []),
    ]:
        with pytest.raises(WeakPublicKey, match="small order"):
            check_component(COMPONENT, mode, trusted, detached, extra_keys=extra)
    with pytest.raises(WeakPublicKey, match="small order"):
        evil.verify(forged, b"any message at all")
    assert not verify_strict(IDENTITY, forged, b"any message at all")
    # The same forgery against a real key is refused before OpenSSL sees it.
    detached = forged_signature(COMPONENT, KEY.public_key.key_id, forged)
    with pytest.raises(NonCanonicalSignature, match="R is a point of small order"):
        check_component(COMPONENT, "self-signed", [], detached, extra_keys=[KEY.public_key])


def test_finding_4_through_the_command_line(tmp_path: Path) -> None:
    env = {TRUST_STORE_ENV: str(tmp_path / "trust"), TRUST_MODE_ENV: None, SIGNING_KEY_ENV: None}
    pub = tmp_path / "evil.pub"
    pub.write_bytes(b"\x01" + IDENTITY)
    component = tmp_path / "app.wasm"
    component.write_bytes(COMPONENT)
    signature = tmp_path / "app.sig"
    signature.write_bytes(
        forged_signature(COMPONENT, default_key_id(IDENTITY), IDENTITY + bytes(32))
    )
    runner = CliRunner()
    added = runner.invoke(cli, ["trust", "add", str(pub), "--name", "evil"], env=env)
    assert added.exit_code == 2, added.output
    assert "small order" in added.stderr and "Traceback" not in added.output
    assert not (tmp_path / "trust" / "trusted-keys.json").exists()
    by_hex = runner.invoke(cli, ["trust", "add", IDENTITY.hex(), "--name", "evil"], env=env)
    assert by_hex.exit_code == 2, by_hex.output
    assert not (tmp_path / "trust" / "trusted-keys.json").exists()
    args = ["verify", str(component), "--signature", str(signature), "--public-key", str(pub)]
    args += ["--build-dir", str(tmp_path / "build")]
    checked = runner.invoke(cli, [*args, "--trust-mode", "self-signed"], env=env)
    assert checked.exit_code != 0, checked.output
    assert "VERIFIED" not in checked.stdout
    assert "small order" in checked.stderr


# --- the published edge cases --------------------------------------------------------------


def test_the_vector_file_is_the_papers() -> None:
    # Byte for byte the repository's cases.json (provenance in tests/vectors/README.md).
    digest = hashlib.sha256(VECTORS.read_bytes()).hexdigest()
    assert digest == "08e47a36d9aead288664930505584f353fff113ab854f2800db1e4f5b3540450"
    assert len(CASES) == 12
    assert all(set(case) == {"message", "pub_key", "signature"} for case in CASES)


def strict_verdict(case: dict[str, str]) -> tuple[bool, str]:
    """Our verdict on a case, and which check decided it."""
    try:
        key = PublicKey(bytes.fromhex(case["pub_key"]))
    except WeakPublicKey as exc:
        return False, f"key: {exc.message}"
    signature = bytes.fromhex(case["signature"])
    problem = signature_problem(signature)
    accepted = key.verify(signature, bytes.fromhex(case["message"]))
    assert not (accepted and problem)
    return accepted, f"signature: {problem}" if problem else "curve equation"


# Why libsodium (and we) refuse each case: the paper's condition table.
REASONS = [
    "key: .*small order",  # 0: small A and R, S = 0
    "key: .*small order",  # 1: small A
    "signature: its R is a point of small order",  # 2: small R
    "curve equation",  # 3: mixed A and R: valid
    "curve equation",  # 4: passes the cofactored equation only
    "curve equation",  # 5: passes the cofactored equation with a pre-reduced hash only
    "signature: its S is not reduced",  # 6: S > L
    "signature: its S is not reduced",  # 7: S >> L
    "signature: its R is a point of small order",  # 8: non-canonical R ("-0"), reduced
    "signature: its R is a point of small order",  # 9: non-canonical R ("-0"), not reduced
    "key: .*small order",  # 10: non-canonical A ("-0"), reduced
    "key: .*small order",  # 11: non-canonical A ("-0"), not reduced
]


@pytest.mark.parametrize("number", range(12))
def test_speccheck_cases_get_libsodiums_verdict(number: int) -> None:
    accepted, reason = strict_verdict(CASES[number])
    assert accepted is LIBSODIUM[number]
    assert re.match(REASONS[number], reason), reason


def test_speccheck_non_canonical_points_are_the_negative_zero_encodings() -> None:
    # Cases 8-11 encode the point (0, -1) of order 2 with the sign bit set (x = "-0").
    for number, field in [(8, "signature"), (9, "signature"), (10, "pub_key"), (11, "pub_key")]:
        encoding = bytes.fromhex(CASES[number][field])[:32]
        point = decode(encoding)
        assert point == (0, P - 1) and encoding[31] >> 7 == 1
        assert not is_curve_point(encoding)  # RFC 8032, section 5.1.3, step 4
        assert small_order(encoding) == 2


# --- every small-order encoding ------------------------------------------------------------


def test_the_torsion_subgroup_is_what_we_refuse() -> None:
    assert len(set(TORSION)) == 8
    assert sorted(order_of(p) for p in TORSION) == [1, 2, 4, 4, 8, 8, 8, 8]
    encodings = small_order_encodings()
    # 5 values of y (a point and its negation share one), each with either sign bit; and
    # y = 0 and y = 1 also as y + p (< 2^255): 5*2 + 2*2 = 14.
    assert len(encodings) == 14
    for encoding in encodings:
        point = decode(encoding)
        assert point is not None and point in TORSION
        assert small_order(encoding) == order_of(point)
        assert point_problem(encoding) is not None
        with pytest.raises(WeakPublicKey, match="small order"):
            PublicKey(encoding)
        assert signature_problem(encoding + bytes(32)) is not None
    # Nothing else is refused as small-order: a sample of ordinary and mixed-order keys.
    for seed in range(1, 50):
        raw = SecretKey.from_seed(bytes([seed]) * 32).public_key.raw
        assert small_order(raw) is None and point_problem(raw) is None
        mixed = encode(add(decode(raw) or (0, 1), TORSION[seed % 7 + 1]))
        assert small_order(mixed) is None
        PublicKey(mixed)  # mixed order: accepted, as in libsodium


@pytest.mark.parametrize("encoding", small_order_encodings(), ids=lambda e: e.hex()[:8] + "..")
def test_every_small_order_encoding_is_refused_everywhere(encoding: bytes, tmp_path: Path) -> None:
    with pytest.raises(WeakPublicKey):
        PublicKey.from_bytes(b"\x01" + encoding)
    with pytest.raises(WeakPublicKey):
        PublicKey.from_hex(encoding.hex())
    path = tmp_path / "store.json"
    path.write_text(store_document("01" + encoding.hex()))
    path.chmod(0o644)
    with pytest.raises(CorruptTrustStore, match="'public_key': refusing Ed25519 public key"):
        TrustStore(path).entries()
    with pytest.raises(WeakPublicKey):
        TrustStore(tmp_path / "trust").add("evil", smuggled(encoding))
    message = b"anything"
    # With S = 0 and R = A small, OpenSSL's cofactorless check can pass; ours never does.
    assert not verify_strict(encoding, encoding + bytes(32), message)
    assert not KEY.public_key.verify(encoding + KEY.sign(message)[32:], message)


def test_non_canonical_key_encodings_are_refused() -> None:
    for y in range(P, 1 << 255):  # the 19 values y >= p
        for bit in (0, 1):
            encoding = (y | bit << 255).to_bytes(32, "little")
            assert not is_canonical(encoding)
            with pytest.raises(WeakPublicKey, match=r"small order|non-canonical"):
                PublicKey(encoding)
            expected = "small order" if y in (P, P + 1) else "non-canonical point encoding"
            assert expected in (point_problem(encoding) or "")
            assert expected in (signature_problem(encoding + bytes(32)) or "")


def test_a_key_that_is_no_curve_point_is_malformed_not_weak() -> None:
    candidates = [y.to_bytes(32, "little") for y in range(2, 100)]
    raw = next(e for e in candidates if decode(e) is None)  # no x has this y
    assert point_problem(raw) is None and not is_curve_point(raw)
    with pytest.raises(MalformedKeyError, match="not the encoding of a curve point") as info:
        PublicKey(raw)
    assert not isinstance(info.value, WeakPublicKey)


def test_non_canonical_s_is_refused_before_openssl() -> None:
    message = b"wasmsig"
    good = KEY.sign(message)
    s = int.from_bytes(good[32:], "little")
    assert KEY.public_key.verify(good, message)
    assert signature_problem(good) is None
    for bad_s in (s + L, L, L + 1, (1 << 256) - 1):
        bad = good[:32] + bad_s.to_bytes(32, "little")
        assert signature_problem(bad) == "its S is not reduced (S >= L, the group order)"
        assert not KEY.public_key.verify(bad, message)
    edge = good[:32] + (L - 1).to_bytes(32, "little")
    assert signature_problem(edge) is None  # canonical, merely wrong
    assert not KEY.public_key.verify(edge, message)
    assert signature_problem(good[:63]) == "the signature is 63 bytes, not 64"


def test_a_malleated_signature_in_a_component_is_refused() -> None:
    signed = sign(COMPONENT, KEY, detached=True)
    data = SignatureData.decode(signed)
    record = data.signed_hashes[0].signatures[0]
    s = int.from_bytes(record.signature[32:], "little")
    malleated = record.signature[:32] + (s + L).to_bytes(32, "little")
    bad = SignatureData(
        (
            SignedHashes(
                data.signed_hashes[0].hashes, (SignatureRecord(record.key_id, 1, malleated),)
            ),
        )
    ).encode()
    assert verify(COMPONENT, KEY.public_key, detached_signature=signed).complete
    with pytest.raises(
        NonCanonicalSignature, match=f"{KEY.public_key.fingerprint}.*S >= L"
    ) as info:
        verify(COMPONENT, KEY.public_key, detached_signature=bad)
    assert isinstance(info.value, InvalidSignature)
    # A record with no key id is checked against every key, and refused the same way.
    anonymous = forged_signature(COMPONENT, b"", IDENTITY + bytes(32))
    with pytest.raises(NonCanonicalSignature, match="R is a point of small order"):
        verify(COMPONENT, KEY.public_key, detached_signature=anonymous)


def test_unsigned_mode_reports_a_weak_key_without_refusing() -> None:
    detached = forged_signature(COMPONENT, default_key_id(IDENTITY), IDENTITY + bytes(32))
    verdict = check_component(COMPONENT, "unsigned", [], detached, extra_keys=[smuggled(IDENTITY)])
    assert not verdict.verified and verdict.warning is not None
    assert "small order" in verdict.detail
