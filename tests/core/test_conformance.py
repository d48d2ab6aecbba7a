"""Tests for ``matter_core.conformance``, the computations behind the component's
``conformance`` export, graded natively against the published vectors.

The harness grades the same functions inside the component (claim C7); these tests make
the core's own suite reach them too, so a mutant of this module is caught by the core's
tests alone.
"""

from __future__ import annotations

from typing import Any

import pytest
from matter_core import spake2p
from matter_core.conformance import (
    WS_LENGTH,
    passcode_verifier,
    session_key_block,
    spake2p_exchange,
)
from matter_core.errors import LocalProtocolError
from vectors import load_vectors

VECTORS = load_vectors()
h = bytes.fromhex


@pytest.mark.parametrize("vector", VECTORS["pbkdf2_passcode_to_w0_w1"])
def test_passcode_verifier_matches_the_published_pbkdf2_outputs(vector: dict[str, Any]) -> None:
    ws, verifier = passcode_verifier(
        int(vector["passcode"]), h(vector["salt"]), int(vector["iterations"])
    )
    assert len(ws) == WS_LENGTH
    assert ws.hex() == vector["w0s_w1s_pbkdf2_output_80"]
    # w0 || L; the second vector publishes its parts, not the serialization.
    assert verifier.hex() == vector["w0"] + vector["L"]


def test_passcode_verifier_refuses_parameters_out_of_the_specified_range() -> None:
    vector = VECTORS["pbkdf2_passcode_to_w0_w1"][0]
    with pytest.raises(LocalProtocolError, match="iterations 999 outside"):
        passcode_verifier(int(vector["passcode"]), h(vector["salt"]), 999)


@pytest.mark.parametrize("vector", VECTORS["spake2p_draft01_matter"], ids=lambda v: v["name"])
def test_spake2p_exchange_computes_every_published_value(vector: dict[str, Any]) -> None:
    out = spake2p_exchange(
        vector["context_ascii"].encode(),
        vector["id_prover_ascii"].encode(),
        vector["id_verifier_ascii"].encode(),
        h(vector["w0"]),
        h(vector["w1"]),
        h(vector["x"]),
        h(vector["y"]),
    )
    expected = {
        "l": "L",
        "share_x": "X",
        "share_y": "Y",
        "z": "Z",
        "v": "V",
        "transcript": "TT",
        "ka": "Ka",
        "ke": "Ke",
        "kca": "KcA",
        "kcb": "KcB",
        "ca": "cA",
        "cb": "cB",
    }
    assert set(out) == set(expected)
    assert {k: v.hex() for k, v in out.items()} == {k: vector[n] for k, n in expected.items()}


def test_session_key_block_is_i2r_r2i_and_the_attestation_challenge() -> None:
    apple = VECTORS["matter_pase_end_to_end_apple_recording"]
    block = session_key_block(h(apple["Ke"]))
    assert block.hex() == apple["I2RKey"] + apple["R2IKey"] + apple["AttestationChallenge"]
    keys = spake2p.session_keys(h(apple["Ke"]))
    assert block == keys.i2r + keys.r2i + keys.attestation_challenge
