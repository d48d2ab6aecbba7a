"""Components from outside the project: classified against the trust store, then admitted."""

from __future__ import annotations

from pathlib import Path

import pytest
from wasm_samples import COMPONENT, OTHER, RELEASE, STRANGER

from harness.component_file import NotAComponent, UnreadableComponent
from harness.supply import ComponentRejected, SupplyChain, TrustSettings, TrustStore, sign
from harness.supply.foreign import admit_foreign

pytestmark = pytest.mark.usefixtures("isolated_trust")


def _gate(tmp_path: Path, **options: str) -> SupplyChain:
    settings = TrustSettings.from_options(None, tmp_path / "trust", **options)
    return SupplyChain.for_gate(settings, tmp_path / "build")


def _write(tmp_path: Path, data: bytes, name: str = "foreign.wasm") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_an_unsigned_component_is_recorded_as_such_and_then_verifies_in_the_run(
    tmp_path: Path,
) -> None:
    chain = _gate(tmp_path)
    path = _write(tmp_path, COMPONENT)
    admission = admit_foreign(chain, path)
    assert admission.status == "unsigned" and admission.signer is None
    # Endorsed for the rest of the run: strict loads of exactly these bytes pass ...
    assert chain.load_verified(path).verification.verified
    # ... and a change after admission (another, valid component) is still refused.
    path.write_bytes(OTHER)
    with pytest.raises(ComponentRejected):
        chain.load_verified(path)


def test_signatures_by_trusted_and_untrusted_keys_are_told_apart(tmp_path: Path) -> None:
    TrustStore(tmp_path / "trust").add("release", RELEASE.public_key)
    chain = _gate(tmp_path)
    trusted = admit_foreign(chain, _write(tmp_path, sign(COMPONENT, RELEASE), "t.wasm"))
    assert (trusted.status, trusted.signer) == ("trusted", "release")
    stranger = admit_foreign(chain, _write(tmp_path, sign(COMPONENT, STRANGER), "s.wasm"))
    assert stranger.status == "untrusted"


def test_require_signed_refuses_all_but_a_trusted_signature(tmp_path: Path) -> None:
    TrustStore(tmp_path / "trust").add("release", RELEASE.public_key)
    chain = _gate(tmp_path)
    for name, data in (("u.wasm", COMPONENT), ("s.wasm", sign(COMPONENT, STRANGER))):
        with pytest.raises(ComponentRejected, match="must be signed by a key in the trust"):
            admit_foreign(chain, _write(tmp_path, data, name), require_signed=True)
    ok = admit_foreign(chain, _write(tmp_path, sign(COMPONENT, RELEASE)), require_signed=True)
    assert ok.status == "trusted"


def test_a_component_changed_after_a_trusted_signature_is_always_refused(tmp_path: Path) -> None:
    TrustStore(tmp_path / "trust").add("release", RELEASE.public_key)
    chain = _gate(tmp_path)
    data = bytearray(sign(COMPONENT, RELEASE))
    data[-1] ^= 0xFF
    with pytest.raises(ComponentRejected):
        admit_foreign(chain, _write(tmp_path, bytes(data)))


def test_with_a_signing_key_and_no_run_key_admission_uses_a_key_of_its_own(
    tmp_path: Path,
) -> None:
    key = tmp_path / "signing.key"
    from harness.supply import generate_key_files

    generate_key_files(key)
    chain = _gate(tmp_path, signing_key=str(key))
    assert chain.run_key is None
    path = _write(tmp_path, COMPONENT)
    admit_foreign(chain, path)
    assert chain.load_verified(path).verification.signer == "admitted-foreign"


def test_a_file_that_is_not_there_or_not_a_component_is_refused(tmp_path: Path) -> None:
    # The one component loader's errors (usage errors, exit 2), before any signature.
    chain = _gate(tmp_path)
    with pytest.raises(UnreadableComponent, match="cannot read"):
        admit_foreign(chain, tmp_path / "missing.wasm")
    with pytest.raises(NotAComponent):
        admit_foreign(chain, _write(tmp_path, b"not wasm at all"))
