"""Tests for matter_core.spake2p: draft-01 vectors in both roles, PBKDF2, the Apple run."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matter_core.errors import ConfirmationError, CoreError, CryptoError, LocalProtocolError
from matter_core.kdf import pbkdf2_sha256
from matter_core.p256 import (
    INFINITY,
    ORDER,
    M,
    N,
    Point,
    base_mult,
    scalar_mult,
    scalar_to_bytes,
)
from matter_core.spake2p import (
    SessionKeys,
    Spake2pProver,
    Spake2pTranscript,
    Spake2pVerifier,
    compute_verifier,
    compute_w0_w1,
    parse_verifier,
    pase_context,
    session_keys,
    validate_pbkdf_params,
)
from vectors import load_vectors

VECTORS = load_vectors()
DRAFT01 = VECTORS["spake2p_draft01_matter"]
PBKDF2 = VECTORS["pbkdf2_passcode_to_w0_w1"]
APPLE = VECTORS["matter_pase_end_to_end_apple_recording"]
h = bytes.fromhex


class _CountingEntropy:
    """Deterministic test entropy: SHA-256 of a seed and a counter."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.counter = 0

    def random_bytes(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            self.counter += 1
            out += hashlib.sha256(f"{self.seed}/{self.counter}".encode()).digest()
        return out[:n]


def _parties(vector: dict[str, Any]) -> tuple[Spake2pProver, Spake2pVerifier]:
    context = vector["context_ascii"].encode()
    ids = {
        "id_prover": vector["id_prover_ascii"].encode(),
        "id_verifier": vector["id_verifier_ascii"].encode(),
    }
    prover = Spake2pProver(context, int(vector["w0"], 16), int(vector["w1"], 16), **ids)
    verifier = Spake2pVerifier(
        context, int(vector["w0"], 16), Point.from_bytes(h(vector["L"])), **ids
    )
    return prover, verifier


def _assert_transcript(t: Spake2pTranscript, v: dict[str, Any]) -> None:
    assert t.context == v["context_ascii"].encode()
    assert t.id_prover == v["id_prover_ascii"].encode()
    assert t.id_verifier == v["id_verifier_ascii"].encode()
    for name in ("X", "Y", "Z", "V", "w0"):
        assert getattr(t, name).hex() == v[name], name
    assert t.tt.hex() == v["TT"]
    assert hashlib.sha256(t.tt).hexdigest() == v["sha256_TT"]
    assert t.ka.hex() == v["Ka"]
    assert t.ke.hex() == v["Ke"]
    assert t.kca.hex() == v["KcA"]
    assert t.kcb.hex() == v["KcB"]
    assert t.ca.hex() == v["cA"]
    assert t.cb.hex() == v["cB"]


# --- Draft-01 vectors -------------------------------------------------------------------


@pytest.mark.parametrize("vector", DRAFT01, ids=[v["name"] for v in DRAFT01])
def test_draft01_vector_prover_role(vector: dict[str, Any]) -> None:
    prover, _ = _parties(vector)
    assert prover.share(int(vector["x"], 16)).hex() == vector["X"]
    assert prover.process_peer_share(h(vector["Y"])).hex() == vector["cA"]
    _assert_transcript(prover.transcript, vector)
    prover.verify_peer_confirmation(h(vector["cB"]))
    assert prover.confirmed
    assert prover.shared_key.hex() == vector["Ke"]


@pytest.mark.parametrize("vector", DRAFT01, ids=[v["name"] for v in DRAFT01])
def test_draft01_vector_verifier_role(vector: dict[str, Any]) -> None:
    _, verifier = _parties(vector)
    assert verifier.share(int(vector["y"], 16)).hex() == vector["Y"]
    assert verifier.process_peer_share(h(vector["X"])).hex() == vector["cB"]
    _assert_transcript(verifier.transcript, vector)
    verifier.verify_peer_confirmation(h(vector["cA"]))
    assert verifier.shared_key.hex() == vector["Ke"]


def test_draft01_vectors_share_w0_w1_and_l() -> None:
    for vector in DRAFT01:
        assert base_mult(int(vector["w1"], 16)).to_bytes().hex() == vector["L"]


def test_rfc9383_vector_is_not_reproduced_by_the_draft01_schedule() -> None:
    # Same TT layout, different key schedule: the RFC's confirmP must not come out.
    rfc = VECTORS["rfc9383_final_for_comparison"]
    ids = {
        "id_prover": rfc["id_prover_ascii"].encode(),
        "id_verifier": rfc["id_verifier_ascii"].encode(),
    }
    prover = Spake2pProver(
        rfc["context_ascii"].encode(), int(rfc["w0"], 16), int(rfc["w1"], 16), **ids
    )
    assert prover.share(int(rfc["x"], 16)).hex() == rfc["X"]
    ca = prover.process_peer_share(h(rfc["Y"]))
    assert prover.transcript.Z.hex() == rfc["Z"]
    assert prover.transcript.V.hex() == rfc["V"]
    assert ca.hex() != rfc["confirmP"]


# --- Passcode to w0 / w1 / L ------------------------------------------------------------


@pytest.mark.parametrize("vector", PBKDF2, ids=["chip_test_set_01", "rs_matter_test_pbkdf2"])
def test_passcode_to_w0_w1_and_verifier(vector: dict[str, Any]) -> None:
    salt = h(vector["salt"])
    iterations = vector["iterations"]
    assert vector["passcode"].to_bytes(4, "little").hex() == vector["passcode_le_bytes"]
    ws = pbkdf2_sha256(h(vector["passcode_le_bytes"]), salt, iterations, 80)
    assert ws.hex() == vector["w0s_w1s_pbkdf2_output_80"]
    w0, w1 = compute_w0_w1(vector["passcode"], salt, iterations)
    assert scalar_to_bytes(w0).hex() == vector["w0"]
    assert scalar_to_bytes(w1).hex() == vector["w1"]
    verifier = compute_verifier(vector["passcode"], salt, iterations)
    assert verifier.hex() == vector["w0"] + vector["L"]
    if "serialized_verifier_base64" in vector:
        assert base64.b64encode(verifier).decode() == vector["serialized_verifier_base64"]
        assert verifier.hex() == vector["serialized_verifier_w0_L"]
    parsed_w0, parsed_l = parse_verifier(verifier)
    assert parsed_w0 == w0
    assert parsed_l == base_mult(w1)


def test_w0_w1_are_reduced_mod_n() -> None:
    # The 40-byte halves exceed n; the result must be reduced, not truncated.
    vector = PBKDF2[0]
    ws = h(vector["w0s_w1s_pbkdf2_output_80"])
    assert int.from_bytes(ws[:40], "big") >= ORDER
    w0, w1 = compute_w0_w1(vector["passcode"], h(vector["salt"]), vector["iterations"])
    assert w0 == int.from_bytes(ws[:40], "big") % ORDER
    assert w1 == int.from_bytes(ws[40:], "big") % ORDER


@pytest.mark.parametrize(
    ("salt", "iterations"),
    [
        (bytes(15), 1000),
        (bytes(33), 1000),
        (b"", 1000),
        (bytes(16), 999),
        (bytes(16), 100001),
        (bytes(32), 0),
        (bytes(16), True),
        ("x" * 16, 1000),
    ],
)
def test_pbkdf_params_out_of_range(salt: Any, iterations: Any) -> None:
    with pytest.raises(LocalProtocolError):
        validate_pbkdf_params(salt, iterations)
    with pytest.raises(LocalProtocolError):
        compute_w0_w1(20202021, salt, iterations)


def test_pbkdf_params_limits_accepted() -> None:
    validate_pbkdf_params(bytes(16), 1000)
    validate_pbkdf_params(bytes(32), 100000)


@pytest.mark.parametrize("passcode", [-1, 1 << 32, "20202021"])
def test_passcode_must_be_uint32(passcode: Any) -> None:
    with pytest.raises(LocalProtocolError):
        compute_w0_w1(passcode, bytes(16), 1000)


def test_w0_w1_derivation_takes_the_whole_uint32_range_including_zero() -> None:
    # compute_w0_w1 checks only that the passcode fits its 4-byte PBKDF input; that 0 is
    # not a setup passcode (Matter Core Specification 1.0, §5.1 Onboarding Payload,
    # Passcode: 1..99999998 minus the listed invalid ones) is pase.validate_passcode's rule.
    zero = compute_w0_w1(0, bytes(16), 1000)
    top = compute_w0_w1((1 << 32) - 1, bytes(16), 1000)
    assert zero != top
    assert zero != compute_w0_w1(1, bytes(16), 1000)


def _bad_verifiers() -> dict[str, bytes]:
    good = h(PBKDF2[0]["serialized_verifier_w0_L"])
    return {
        "short": good[:-1],
        "long": good + b"\x00",
        "w0 zero": bytes(32) + good[32:],
        "w0 = n": ORDER.to_bytes(32, "big") + good[32:],
        "L off curve": good[:-1] + bytes([good[-1] ^ 1]),
        "L prefix": good[:32] + b"\x03" + good[33:],
        "L identity": good[:32] + b"\x04" + bytes(64),
    }


def test_parse_verifier_accepts_the_chip_verifier() -> None:
    w0, big_l = parse_verifier(h(PBKDF2[0]["serialized_verifier_w0_L"]))
    assert w0 == int(PBKDF2[0]["w0"], 16)
    assert big_l.to_bytes().hex() == PBKDF2[0]["L"]


@pytest.mark.parametrize("case", list(_bad_verifiers()))
def test_parse_verifier_rejects_bad_verifiers(case: str) -> None:
    data = _bad_verifiers()[case]
    with pytest.raises(LocalProtocolError):
        parse_verifier(data)
    with pytest.raises(LocalProtocolError):
        Spake2pVerifier.from_verifier(b"ctx", data)


# --- The Apple Home recording ----------------------------------------------------------


def test_apple_recording_context_and_verifier() -> None:
    context = pase_context(
        h(APPLE["pbkdf_param_request_tlv"]), h(APPLE["pbkdf_param_response_tlv"])
    )
    assert context.hex() == APPLE["context"]
    w0, w1 = compute_w0_w1(APPLE["passcode"], h(APPLE["salt"]), APPLE["iterations"])
    assert scalar_to_bytes(w0).hex() == APPLE["w0"]
    assert scalar_to_bytes(w1).hex() == APPLE["w1"]
    assert base_mult(w1).to_bytes().hex() == APPLE["L"]


def test_apple_recording_device_side_end_to_end() -> None:
    verifier = Spake2pVerifier.from_verifier(h(APPLE["context"]), h(APPLE["w0"] + APPLE["L"]))
    assert verifier.share(int(APPLE["y"], 16)).hex() == APPLE["Y_pB"]
    assert verifier.process_peer_share(h(APPLE["X_pA"])).hex() == APPLE["cB"]
    t = verifier.transcript
    assert t.X.hex() == APPLE["X_pA"]
    assert t.Z.hex() == APPLE["Z"]
    assert t.V.hex() == APPLE["V"]
    assert len(t.tt) == 534
    assert t.tt.hex() == APPLE["TT"]
    assert hashlib.sha256(t.tt).hexdigest() == APPLE["sha256_TT"]
    assert (t.ka.hex(), t.ke.hex()) == (APPLE["Ka"], APPLE["Ke"])
    assert (t.kca.hex(), t.kcb.hex()) == (APPLE["KcA"], APPLE["KcB"])
    # Apple's cA is independent evidence: it was computed by Apple's implementation.
    verifier.verify_peer_confirmation(h(APPLE["cA"]))
    keys = session_keys(verifier.shared_key)
    assert keys.i2r.hex() == APPLE["I2RKey"]
    assert keys.r2i.hex() == APPLE["R2IKey"]
    assert keys.attestation_challenge.hex() == APPLE["AttestationChallenge"]


def test_apple_recording_shares_are_inside_the_datagrams() -> None:
    assert APPLE["X_pA"] in APPLE["msg_pake1"]
    assert APPLE["Y_pB"] + "3002" + "20" + APPLE["cB"] in APPLE["msg_pake2"]
    assert APPLE["cA"] in APPLE["msg_pake3"]


# --- Session keys and context -----------------------------------------------------------


def test_session_keys_split_and_validation() -> None:
    keys = session_keys(h(APPLE["Ke"]))
    assert isinstance(keys, SessionKeys)
    assert len(keys.i2r) == len(keys.r2i) == len(keys.attestation_challenge) == 16
    for secret in (keys.i2r, keys.r2i, keys.attestation_challenge):
        assert secret.hex() not in repr(keys)
        assert repr(secret) not in repr(keys)
    with pytest.raises(CryptoError):
        session_keys(bytes(15))
    with pytest.raises(CryptoError):
        session_keys(bytes(32))


def test_pase_context_is_order_sensitive() -> None:
    request, response = b"\x15\x18", b"\x15\x24\x01\x01\x18"
    expected = hashlib.sha256(b"CHIP PAKE V1 Commissioning" + request + response).digest()
    assert pase_context(request, response) == expected
    assert pase_context(response, request) != expected


# --- Full exchanges ---------------------------------------------------------------------


def _handshake(prover: Spake2pProver, verifier: Spake2pVerifier, seed: int) -> tuple[bytes, bytes]:
    x_share = prover.share(entropy=_CountingEntropy(seed))
    y_share = verifier.share(entropy=_CountingEntropy(seed + 1))
    cb = verifier.process_peer_share(x_share)
    ca = prover.process_peer_share(y_share)
    return ca, cb


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), w0=st.integers(1, ORDER - 1))
def test_random_handshake_agrees(seed: int, w0: int) -> None:
    w1 = (w0 * 7919 + seed) % (ORDER - 1) + 1
    prover = Spake2pProver(b"ctx", w0, w1)
    verifier = Spake2pVerifier(b"ctx", w0, base_mult(w1))
    ca, cb = _handshake(prover, verifier, seed)
    prover.verify_peer_confirmation(cb)
    verifier.verify_peer_confirmation(ca)
    assert prover.shared_key == verifier.shared_key
    assert prover.transcript == verifier.transcript


def test_mismatched_passcode_fails_confirmation_both_ways() -> None:
    salt = b"SPAKE2P Key Salt"
    w0, w1 = compute_w0_w1(20202021, salt, 1000)
    prover = Spake2pProver(b"ctx", w0, w1)
    verifier = Spake2pVerifier.from_verifier(b"ctx", compute_verifier(20202022, salt, 1000))
    ca, cb = _handshake(prover, verifier, 5)
    assert prover.transcript.ke != verifier.transcript.ke
    with pytest.raises(ConfirmationError):
        prover.verify_peer_confirmation(cb)
    with pytest.raises(ConfirmationError):
        verifier.verify_peer_confirmation(ca)
    for party in (prover, verifier):
        assert not party.confirmed
        with pytest.raises(LocalProtocolError):
            _ = party.shared_key


def test_mismatched_context_fails_confirmation() -> None:
    vector = DRAFT01[3]
    prover, _ = _parties(vector)
    _, verifier = _parties({**vector, "context_ascii": "another context"})
    ca, _ = _handshake(prover, verifier, 9)
    with pytest.raises(ConfirmationError):
        verifier.verify_peer_confirmation(ca)


@pytest.mark.parametrize("bit", [0, 7, 8, 100, 255])
def test_flipped_bit_in_confirmation_is_rejected(bit: int) -> None:
    vector = DRAFT01[0]
    prover, verifier = _parties(vector)
    prover.share(int(vector["x"], 16))
    verifier.share(int(vector["y"], 16))
    cb = verifier.process_peer_share(h(vector["X"]))
    ca = prover.process_peer_share(h(vector["Y"]))
    mask = (1 << bit).to_bytes(32, "big")
    with pytest.raises(ConfirmationError):
        prover.verify_peer_confirmation(bytes(a ^ b for a, b in zip(cb, mask, strict=True)))
    with pytest.raises(ConfirmationError):
        verifier.verify_peer_confirmation(bytes(a ^ b for a, b in zip(ca, mask, strict=True)))
    # A failed party stays failed: the right value no longer helps.
    with pytest.raises(LocalProtocolError):
        prover.verify_peer_confirmation(cb)
    with pytest.raises(LocalProtocolError):
        _ = verifier.shared_key


@pytest.mark.parametrize("bad", [b"", bytes(31), bytes(33)])
def test_confirmation_of_wrong_length_is_rejected(bad: bytes) -> None:
    vector = DRAFT01[1]
    prover, _ = _parties(vector)
    prover.share(int(vector["x"], 16))
    prover.process_peer_share(h(vector["Y"]))
    with pytest.raises(ConfirmationError):
        prover.verify_peer_confirmation(bad)


# --- Misuse and invalid peer shares -----------------------------------------------------


def test_reuse_and_ordering_are_refused() -> None:
    vector = DRAFT01[2]
    prover, verifier = _parties(vector)
    with pytest.raises(LocalProtocolError):
        prover.process_peer_share(h(vector["Y"]))
    with pytest.raises(LocalProtocolError):
        prover.verify_peer_confirmation(h(vector["cB"]))
    with pytest.raises(LocalProtocolError):
        _ = prover.transcript
    with pytest.raises(LocalProtocolError):
        verifier.process_peer_share(h(vector["X"]))
    prover.share(int(vector["x"], 16))
    verifier.share(int(vector["y"], 16))
    with pytest.raises(LocalProtocolError):
        prover.share(int(vector["x"], 16))
    with pytest.raises(LocalProtocolError):
        verifier.share(entropy=_CountingEntropy(1))
    with pytest.raises(LocalProtocolError):
        _ = prover.shared_key
    prover.process_peer_share(h(vector["Y"]))
    verifier.process_peer_share(h(vector["X"]))
    with pytest.raises(LocalProtocolError):
        prover.process_peer_share(h(vector["Y"]))
    with pytest.raises(LocalProtocolError):
        verifier.process_peer_share(h(vector["X"]))
    with pytest.raises(LocalProtocolError):
        _ = verifier.shared_key
    prover.verify_peer_confirmation(h(vector["cB"]))
    verifier.verify_peer_confirmation(h(vector["cA"]))
    with pytest.raises(LocalProtocolError):
        prover.verify_peer_confirmation(h(vector["cB"]))
    with pytest.raises(LocalProtocolError):
        verifier.verify_peer_confirmation(h(vector["cA"]))
    assert prover.shared_key == verifier.shared_key


_BAD_SHARE_CALLS: dict[str, Callable[[Spake2pProver], bytes]] = {
    "no scalar, no entropy": lambda p: p.share(),
    "scalar and entropy": lambda p: p.share(5, entropy=_CountingEntropy(1)),
    "zero": lambda p: p.share(0),
    "n": lambda p: p.share(ORDER),
    "negative": lambda p: p.share(-3),
}


@pytest.mark.parametrize("case", list(_BAD_SHARE_CALLS))
def test_share_scalar_arguments(case: str) -> None:
    prover, _ = _parties(DRAFT01[3])
    with pytest.raises(LocalProtocolError):
        _BAD_SHARE_CALLS[case](prover)
    # The refused call did not consume the party: a valid share still works.
    assert prover.share(int(DRAFT01[3]["x"], 16)).hex() == DRAFT01[3]["X"]


@pytest.mark.parametrize(("w0", "w1"), [(0, 5), (5, 0), (ORDER, 5), (5, ORDER), (-1, 5)])
def test_secret_scalars_are_range_checked(w0: int, w1: int) -> None:
    with pytest.raises(LocalProtocolError):
        Spake2pProver(b"ctx", w0, w1)


def test_verifier_rejects_identity_l() -> None:
    with pytest.raises(LocalProtocolError):
        Spake2pVerifier(b"ctx", 5, INFINITY)
    with pytest.raises(LocalProtocolError):
        Spake2pVerifier(b"ctx", 0, base_mult(3))


def _invalid_shares(w0: int, blinding: Point) -> dict[str, bytes]:
    good = base_mult(77).to_bytes()
    return {
        "blinding point w0*M or w0*N": scalar_mult(w0, blinding).to_bytes(),
        "off curve": good[:-1] + bytes([good[-1] ^ 1]),
        "wrong prefix": b"\x02" + good[1:],
        "compressed": bytes([2 + (good[-1] & 1)]) + good[1:33],
        "truncated": good[:64],
        "identity": b"\x04" + bytes(64),
        "empty": b"",
    }


@pytest.mark.parametrize("case", list(_invalid_shares(1, M)))
def test_invalid_peer_share_is_a_crypto_error_and_kills_the_party(case: str) -> None:
    vector = DRAFT01[3]
    w0 = int(vector["w0"], 16)
    prover, verifier = _parties(vector)
    prover.share(int(vector["x"], 16))
    verifier.share(int(vector["y"], 16))
    with pytest.raises(CryptoError) as from_verifier:
        prover.process_peer_share(_invalid_shares(w0, N)[case])
    with pytest.raises(CryptoError):
        verifier.process_peer_share(_invalid_shares(w0, M)[case])
    assert isinstance(from_verifier.value, CoreError)
    # The error is final: even the genuine share is refused afterwards.
    with pytest.raises(LocalProtocolError):
        prover.process_peer_share(h(vector["Y"]))
    with pytest.raises(LocalProtocolError):
        verifier.process_peer_share(h(vector["X"]))


def test_blinding_point_check_is_specific_to_the_role() -> None:
    # w0*M is a fine Y (the verifier's blinding is N), and unblinding it gives a point.
    vector = DRAFT01[3]
    w0 = int(vector["w0"], 16)
    prover, _ = _parties(vector)
    prover.share(int(vector["x"], 16))
    ca = prover.process_peer_share(scalar_mult(w0, M).to_bytes())
    assert len(ca) == 32
    assert scalar_mult(w0, M).to_bytes() == prover.transcript.Y


# --- Secrets stay out of repr -----------------------------------------------------------


def test_secrets_do_not_leak_through_repr() -> None:
    vector = DRAFT01[0]
    prover, verifier = _parties(vector)
    prover.share(int(vector["x"], 16))
    prover.process_peer_share(h(vector["Y"]))
    prover.verify_peer_confirmation(h(vector["cB"]))
    t = prover.transcript
    text = repr(t) + str(t) + repr(prover) + str(prover) + repr(verifier)
    secrets = [t.Z, t.V, t.w0, t.tt, t.ka, t.ke, t.kca, t.kcb, prover.shared_key]
    secrets.append(int(vector["x"], 16).to_bytes(32, "big"))
    for secret in secrets:
        assert secret.hex() not in text
        assert repr(secret) not in text
    for number in (vector["w0"], vector["w1"], vector["x"]):
        assert str(int(number, 16)) not in text
    # Public values are shown, so the repr is still useful.
    assert repr(t.X) in repr(t)
