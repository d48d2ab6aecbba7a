"""The S1 attack drills: each is refused by the real supply chain, and each reports the
attack as accepted when the defence it exercises is taken away."""

from __future__ import annotations

import pytest

from harness.evidence.verifiers.attacks import DRILLS, run_attack_drills
from harness.runtime.cache import CompiledCache
from harness.supply import chain as chain_module
from harness.supply import keys as keys_module
from harness.supply import trust as trust_module


def test_every_drill_is_refused() -> None:
    drills = run_attack_drills()
    assert [d.case for d in drills] == list(DRILLS)
    assert all(d.refused for d in drills), [d for d in drills if not d.refused]


def _outcome(case: str) -> bool:
    (drill,) = [d for d in run_attack_drills() if d.case == case]
    return drill.refused


def test_without_authentication_the_poisoned_cache_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(CompiledCache, "tag", lambda self, sha, artifact: "same-for-all")
    assert not _outcome("poisoned compiled cache")


def test_if_any_signature_vouched_the_swapped_output_would_be_laundered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(chain_module, "_signs_completely", lambda data, key: True)
    assert not _outcome("swapped build output with a forged inputs.json")


def test_trusting_the_build_key_regardless_lets_a_planted_key_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(chain_module.SupplyChain, "trusts_build_key", property(lambda s: True))
    assert not _outcome("planted build.pub")


def test_without_the_strict_key_check_a_small_order_key_is_trusted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(keys_module, "check_public_key", lambda raw: None)
    monkeypatch.setattr(trust_module, "check_public_key", lambda raw: None, raising=False)
    assert not _outcome("small-order public key")


def test_without_strict_ed25519_the_forged_signature_verifies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Finding 4 as it was: OpenSSL alone accepts R = identity, S = 0 under the identity
    # key. Every strict check (at key entry, in the trust check, before OpenSSL) removed:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from harness.supply import signing

    def openssl_only(public_key: bytes, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True

    for module in (keys_module, trust_module, signing):
        monkeypatch.setattr(module, "check_public_key", lambda raw: None)
    monkeypatch.setattr(signing, "signature_problem", lambda sig: None)
    monkeypatch.setattr(keys_module, "verify_strict", openssl_only)
    assert not _outcome("signature forged with a small-order key")
