"""The computations behind the core component's ``conformance`` export.

The host sends published vector inputs, these functions compute, and the host grades the
outputs against the published values. The component glue and the harness's native
runner both call this module, so "the same computation in the component and natively"
is true by construction, not by two copies kept in step.
"""

from __future__ import annotations

from matter_core import kdf, p256, spake2p

#: PBKDF2 output length for w0s || w1s: two 40-byte halves (Matter Core Specification
#: 1.0, §3.10 Password-Authenticated Key Exchange (PAKE)).
WS_LENGTH = 80


def passcode_verifier(passcode: int, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    """PBKDF2 output w0s || w1s (80 bytes) and the verifier w0 || L (97 bytes)."""
    spake2p.validate_pbkdf_params(salt, iterations)
    ws = kdf.pbkdf2_sha256(passcode.to_bytes(4, "little"), salt, iterations, WS_LENGTH)
    return ws, spake2p.compute_verifier(passcode, salt, iterations)


def spake2p_exchange(
    context: bytes,
    id_prover: bytes,
    id_verifier: bytes,
    w0: bytes,
    w1: bytes,
    x: bytes,
    y: bytes,
) -> dict[str, bytes]:
    """Run both SPAKE2+ roles with forced scalars; each checks the other's confirmation.

    Returns every intermediate value, keyed ``l``, ``share_x``, ``share_y``, ``z``, ``v``,
    ``transcript``, ``ka``, ``ke``, ``kca``, ``kcb``, ``ca``, ``cb`` (the WIT record's
    field names).
    """
    w0_scalar = p256.scalar_from_bytes(w0)
    w1_scalar = p256.scalar_from_bytes(w1)
    big_l = p256.base_mult(w1_scalar)
    ids = {"id_prover": id_prover, "id_verifier": id_verifier}
    prover = spake2p.Spake2pProver(context, w0_scalar, w1_scalar, **ids)
    verifier = spake2p.Spake2pVerifier(context, w0_scalar, big_l, **ids)
    share_x = prover.share(p256.scalar_from_bytes(x))
    share_y = verifier.share(p256.scalar_from_bytes(y))
    cb = verifier.process_peer_share(share_x)
    ca = prover.process_peer_share(share_y)
    prover.verify_peer_confirmation(cb)
    verifier.verify_peer_confirmation(ca)
    t = prover.transcript
    return {
        "l": big_l.to_bytes(),
        "share_x": share_x,
        "share_y": share_y,
        "z": t.Z,
        "v": t.V,
        "transcript": t.tt,
        "ka": t.ka,
        "ke": t.ke,
        "kca": t.kca,
        "kcb": t.kcb,
        "ca": ca,
        "cb": cb,
    }


def session_key_block(ke: bytes) -> bytes:
    """I2R || R2I || attestation challenge (48 bytes) from Ke."""
    keys = spake2p.session_keys(ke)
    return keys.i2r + keys.r2i + keys.attestation_challenge
