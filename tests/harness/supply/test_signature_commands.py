"""Tests for the library behind ``matter-harness signature detach`` and ``signature show``
(:mod:`harness.supply.files`), and for the error of ``sign --detached`` on a component
that already has an embedded signature (finding 8 of the security review).

Every file is written under ``tmp_path``; the trust store is a temporary one
(``isolated_trust``), never the user's.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import wasmtime

from harness.errors import CheckFailed
from harness.supply.chain import SupplyChain, signed_content
from harness.supply.files import (
    SignatureFileError,
    detach_signature_file,
    sign_component_file,
    verify_component_file,
)
from harness.supply.keys import SecretKey
from harness.supply.settings import TrustSettings
from harness.supply.signature_format import (
    SIGNATURE_SECTION,
    MalformedComponent,
    SignatureData,
    SignatureError,
    SignatureRecord,
    SignedHashes,
    custom_section,
    layout,
)
from harness.supply.signature_listing import describe_signatures, show_signature_file
from harness.supply.signing import add_delimiter, attach, sign, verify_all
from harness.supply.trust import TrustedKey, TrustStore, check_component

pytestmark = pytest.mark.usefixtures("isolated_trust")

COMPONENT = bytes(
    wasmtime.wat2wasm(
        '(component (core module $m (func (export "f") (result i32) i32.const 7))'
        " (core instance (instantiate $m)))"
    )
)
MODULE = bytes(wasmtime.wat2wasm('(module (func (export "f") (result i32) i32.const 7))'))
KEY_A = SecretKey.from_seed(bytes(range(32)))
KEY_B = SecretKey.from_seed(bytes(range(1, 33)))
KEY_C = SecretKey.from_seed(bytes(range(2, 34)))
TRUSTED_A = TrustedKey("alice", KEY_A.public_key, "2026-01-01T00:00:00Z")


def signed_twice() -> bytes:
    """COMPONENT signed by KEY_A (default key id) and KEY_B (key id ``dev-b``)."""
    return sign(sign(COMPONENT, KEY_A), KEY_B, key_id=b"dev-b")


def files_in(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def strict_chain(tmp_path: Path) -> SupplyChain:
    """A strict supply chain trusting the temporary store (alice) and no build key."""
    store = tmp_path / "trust"
    TrustStore(store).add("alice", KEY_A.public_key)
    return SupplyChain.local(TrustSettings.from_options("strict", store), None)


# --------------------------------------------------------------------------- detach


def test_the_detached_pair_verifies_exactly_like_the_embedded_original(tmp_path: Path) -> None:
    original = tmp_path / "app.wasm"
    original.write_bytes(signed_twice())
    out, sig = tmp_path / "plain.wasm", tmp_path / "app.sig"
    outcome = detach_signature_file(original, out, sig)

    assert out.read_bytes() == COMPONENT == signed_content(original.read_bytes())
    found = layout(original.read_bytes())
    section = found.signature_section
    assert section is not None
    assert sig.read_bytes() == original.read_bytes()[section.content_start : section.end]
    assert outcome.component == out and outcome.signature == sig
    assert outcome.content_sha256 == hashlib.sha256(COMPONENT).hexdigest()
    assert outcome.key_ids == (KEY_A.public_key.key_id.hex(), b"dev-b".hex())
    assert original.read_bytes() == signed_twice()  # the input is left as it is

    keys = [KEY_A.public_key, KEY_B.public_key.with_key_id(b"dev-b")]
    embedded = verify_all(original.read_bytes(), keys)
    detached = verify_all(out.read_bytes(), keys, detached_signature=sig.read_bytes())
    assert len(embedded) == len(detached) == 2
    for one, other in zip(embedded, detached, strict=True):
        assert (one.key, one.key_id, one.complete) == (other.key, other.key_id, other.complete)
        assert (one.covered_parts, one.total_parts) == (other.covered_parts, other.total_parts)
        assert one.signed_hashes == other.signed_hashes

    trusted = [TRUSTED_A]
    verdict = check_component(original.read_bytes(), "strict", trusted)
    again = check_component(out.read_bytes(), "strict", trusted, sig.read_bytes())
    assert (verdict.signer_name, verdict.key_id) == (again.signer_name, again.key_id)
    assert verdict.signer_name == "alice" and verdict.complete and again.complete

    chain = strict_chain(tmp_path)
    before = verify_component_file(chain, original)
    after = verify_component_file(chain, out, sig)
    assert (before.signer, before.key_id, before.trusted) == (
        "alice",
        KEY_A.public_key.fingerprint,
        True,
    )
    assert (after.signer, after.key_id, after.trusted) == (before.signer, before.key_id, True)
    assert (before.signature, after.signature) == ("embedded", "detached")
    assert after.sha256 == after.content_sha256 == before.content_sha256


def test_a_detached_pair_of_delimited_parts_keeps_its_parts(tmp_path: Path) -> None:
    original = tmp_path / "app.wasm"
    original.write_bytes(sign(COMPONENT, KEY_A, allow_extensions=True))
    out, sig = tmp_path / "plain.wasm", tmp_path / "app.sig"
    detach_signature_file(original, out, sig)
    assert out.read_bytes().startswith(COMPONENT)
    assert layout(out.read_bytes()).content[-1].is_custom(b"signature_delimiter")
    assert add_delimiter(out.read_bytes()) == out.read_bytes()
    [result] = verify_all(out.read_bytes(), KEY_A.public_key, detached_signature=sig.read_bytes())
    assert result.complete and result.total_parts == 1
    listing = describe_signatures(out.read_bytes(), detached=sig.read_bytes(), trusted=[TRUSTED_A])
    assert listing.parts[0].delimited and listing.signatures[0].covers.delimited_parts == 1


def test_detaching_then_attaching_gives_back_the_original(tmp_path: Path) -> None:
    original = tmp_path / "app.wasm"
    original.write_bytes(signed_twice())
    out, sig = tmp_path / "plain.wasm", tmp_path / "app.sig"
    detach_signature_file(original, out, sig)
    assert attach(out.read_bytes(), sig.read_bytes()) == original.read_bytes()


def test_a_signed_core_module_can_be_detached_too(tmp_path: Path) -> None:
    original = tmp_path / "m.wasm"
    original.write_bytes(sign(MODULE, KEY_A))
    detach_signature_file(original, tmp_path / "plain.wasm", tmp_path / "m.sig")
    assert (tmp_path / "plain.wasm").read_bytes() == MODULE


def _undecodable_signature() -> bytes:
    return COMPONENT[:8] + custom_section(SIGNATURE_SECTION, b"\x01\x01\x01\x05") + COMPONENT[8:]


@pytest.mark.parametrize(
    ("content", "output", "signature", "overwrite", "message"),
    [
        (COMPONENT, "plain.wasm", "app.sig", False, "has no embedded signature: nothing to detach"),
        (b"hello, world\n", "plain.wasm", "app.sig", False, "not a WebAssembly binary"),
        (_undecodable_signature(), "plain.wasm", "app.sig", False, "cannot detach the signature"),
        (None, "existing.wasm", "app.sig", False, "refusing to overwrite existing file"),
        (None, "plain.wasm", "existing.sig", False, "refusing to overwrite existing file"),
        (None, "app.wasm", "app.sig", True, "must be three different files"),
        (None, "plain.wasm", "app.wasm", True, "must be three different files"),
        (None, "./sub/../app.wasm", "app.sig", True, "must be three different files"),
        (None, "same", "same", True, "must be three different files"),
    ],
)
def test_detach_refuses_and_writes_nothing(
    tmp_path: Path,
    content: bytes | None,
    output: str,
    signature: str,
    overwrite: bool,
    message: str,
) -> None:
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "app.wasm").write_bytes(signed_twice() if content is None else content)
    (work / "existing.wasm").write_bytes(b"keep me")
    (work / "existing.sig").write_bytes(b"keep me too")
    before = files_in(work)
    with pytest.raises(SignatureFileError, match=message) as caught:
        detach_signature_file(
            work / "app.wasm", work / output, work / signature, overwrite=overwrite
        )
    assert "\n" not in caught.value.explain()  # one line, no hint
    assert not isinstance(caught.value, CheckFailed)  # exit code 2
    assert files_in(work) == before
    assert [p.name for p in work.iterdir() if p.name.endswith(".tmp")] == []


def test_a_hard_link_to_the_input_is_the_input(tmp_path: Path) -> None:
    original = tmp_path / "app.wasm"
    original.write_bytes(signed_twice())
    (tmp_path / "alias.wasm").hardlink_to(original)
    with pytest.raises(SignatureFileError, match="three different files"):
        detach_signature_file(original, tmp_path / "alias.wasm", tmp_path / "s", overwrite=True)
    assert original.read_bytes() == signed_twice()


def test_force_replaces_existing_outputs(tmp_path: Path) -> None:
    original = tmp_path / "app.wasm"
    original.write_bytes(signed_twice())
    out, sig = tmp_path / "plain.wasm", tmp_path / "app.sig"
    out.write_bytes(b"old")
    sig.write_bytes(b"old")
    detach_signature_file(original, out, sig, overwrite=True)
    assert out.read_bytes() == COMPONENT
    assert SignatureData.decode(sig.read_bytes()).signed_hashes[0].signatures[1].key_id == b"dev-b"


def test_an_unreadable_input_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SignatureFileError, match="cannot read component"):
        detach_signature_file(tmp_path / "missing.wasm", tmp_path / "o", tmp_path / "s")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- sign --detached


def test_signing_detached_an_embedded_signed_component_names_signature_detach(
    tmp_path: Path,
) -> None:
    component = tmp_path / "app.wasm"
    component.write_bytes(sign(COMPONENT, KEY_A))
    with pytest.raises(SignatureError) as caught:
        sign_component_file(component, KEY_B, detached=tmp_path / "app.sig")
    text = caught.value.explain()
    assert "already has an embedded signature" in caught.value.message
    assert f"matter-harness signature detach {component}" in caught.value.message
    assert "--detached" in text and not isinstance(caught.value, CheckFailed)
    assert not (tmp_path / "app.sig").exists()
    assert component.read_bytes() == sign(COMPONENT, KEY_A)


def test_signing_the_detached_content_with_a_second_key(tmp_path: Path) -> None:
    component = tmp_path / "app.wasm"
    component.write_bytes(sign(COMPONENT, KEY_A))
    out, sig_a, sig_b = tmp_path / "plain.wasm", tmp_path / "a.sig", tmp_path / "b.sig"
    detach_signature_file(component, out, sig_a)
    outcome = sign_component_file(out, KEY_B, detached=sig_b)
    assert outcome.detached and out.read_bytes() == COMPONENT
    for key, sig in ((KEY_A, sig_a), (KEY_B, sig_b)):
        [result] = verify_all(out.read_bytes(), key.public_key, detached_signature=sig.read_bytes())
        assert result.complete and result.key == key.public_key


# --------------------------------------------------------------------------- show


def test_describe_lists_each_signature_with_its_key_and_coverage() -> None:
    data = signed_twice()
    listing = describe_signatures(data, name="app.wasm", trusted=[TRUSTED_A])
    assert (listing.kind, listing.source, listing.path) == ("component", "embedded", "app.wasm")
    assert listing.file_sha256 == hashlib.sha256(data).hexdigest()
    assert listing.content_sha256 == hashlib.sha256(COMPONENT).hexdigest()
    assert listing.content_size == len(COMPONENT)
    assert (listing.spec_version, listing.content_type, listing.hash_function) == (
        1,
        "wasm",
        "sha256",
    )
    assert listing.signature_section is not None and listing.signature_section.index == 0
    [part] = listing.parts
    assert [s.name for s in part.sections] == [
        "core module",
        "core instance",
        "custom 'component-name'",
    ]
    assert [s.index for s in part.sections] == [1, 2, 3]
    assert (part.start, part.end, part.delimited) == (part.sections[0].start, len(data), False)

    alice, bob = listing.signatures
    assert (alice.key_id, alice.key_id_text) == (KEY_A.public_key.fingerprint, None)
    assert (alice.signer, alice.trusted, alice.verified, alice.status) == (
        "alice",
        True,
        True,
        "verified",
    )
    assert (alice.algorithm, alice.hash_function, alice.content_type) == (
        "ed25519",
        "sha256",
        "wasm",
    )
    assert alice.covers.whole and alice.covers.parts == (1,) and alice.covers.total_parts == 1
    assert [s.index for s in alice.covers.sections] == [1, 2, 3]
    assert (alice.covers.start, alice.covers.end) == (part.start, part.end)
    assert (bob.key_id, bob.key_id_text) == (b"dev-b".hex(), "dev-b")
    assert (bob.signer, bob.verified, bob.status) == (None, False, "unknown-key")
    assert bob.covers.whole  # what it signs is the content, though no key we have checks it

    text = listing.render()
    assert f"signed content sha256  {listing.content_sha256}" in text
    assert "2 signature(s), 1 verified; embedded signature" in text
    assert f"key id {KEY_A.public_key.fingerprint}, trusted key 'alice'" in text
    assert "verifies: yes (verified: valid signature by trusted key 'alice'" in text
    assert "key id 6465762d62 ('dev-b')" in text and "verifies: no (unknown-key" in text
    assert "#1 core module [" in text and "covers the whole component: 1 of 1 part(s)" in text
    record = json.loads(json.dumps(listing.to_dict()))
    assert record["signatures"][0]["covers"]["sections"][0]["name"] == "core module"
    assert record["signatures"][1]["key_id_text"] == "dev-b"
    assert record["content_sha256"] == listing.content_sha256


def test_a_detached_signature_is_described_like_the_embedded_one() -> None:
    data = signed_twice()
    found = layout(data)
    assert found.signature_section is not None
    detached = data[found.signature_section.content_start : found.signature_section.end]
    extra = [KEY_B.public_key.with_key_id(b"dev-b")]
    embedded = describe_signatures(data, trusted=[TRUSTED_A], extra_keys=extra)
    apart = describe_signatures(
        COMPONENT, detached=detached, signature_name="a.sig", trusted=[TRUSTED_A], extra_keys=extra
    )
    assert (apart.source, apart.signature_path, apart.signature_section) == (
        "detached",
        "a.sig",
        None,
    )
    assert apart.content_sha256 == apart.file_sha256 == embedded.content_sha256
    for one, other in zip(embedded.signatures, apart.signatures, strict=True):
        assert (one.key_id, one.signer, one.status) == (other.key_id, other.signer, other.status)
    assert [s.status for s in apart.signatures] == ["verified", "verified"]
    assert (apart.signatures[1].trusted, apart.signatures[1].signer) == (False, None)
    assert "a known, untrusted key" in apart.signatures[1].detail


def test_a_modified_component_is_shown_as_modified() -> None:
    data = bytearray(sign(COMPONENT, KEY_A))
    data[-1] ^= 0xFF
    [info] = describe_signatures(bytes(data), trusted=[TRUSTED_A]).signatures
    assert (info.status, info.verified, info.signer) == ("modified", False, "alice")
    assert info.covers.parts == () and "nothing of the component" in info.covers.describe(
        "component"
    )


def test_sections_added_after_a_delimiter_are_shown_as_partial() -> None:
    data = sign(COMPONENT, KEY_A, allow_extensions=True) + custom_section(b"later", b"x")
    listing = describe_signatures(data, trusted=[TRUSTED_A])
    [info] = listing.signatures
    assert (info.status, info.verified) == ("partial", False)
    assert info.covers.parts == (1,) and info.covers.total_parts == 2
    assert [p.delimited for p in listing.parts] == [True, False]
    assert listing.parts[1].sections[0].name == "custom 'later'"
    assert "only the first 1 parts" in info.covers.describe("component")


def test_a_damaged_signature_by_a_trusted_key_is_invalid() -> None:
    good = SignatureData.decode(sign(COMPONENT, KEY_A, detached=True))
    [signed] = good.signed_hashes
    [record] = signed.signatures
    damaged = bytes([record.signature[0] ^ 1]) + record.signature[1:]
    bad = SignatureData(
        (SignedHashes(signed.hashes, (SignatureRecord(record.key_id, 1, damaged),)),)
    )
    [info] = describe_signatures(COMPONENT, detached=bad.encode(), trusted=[TRUSTED_A]).signatures
    assert (info.status, info.verified, info.signer) == ("invalid", False, "alice")


def test_empty_key_ids_and_unknown_algorithms() -> None:
    data = sign(COMPONENT, KEY_A, key_id=b"")
    [known] = describe_signatures(data, trusted=[TRUSTED_A]).signatures
    assert (known.key_id, known.status, known.signer) == ("", "verified", "alice")
    [unknown] = describe_signatures(data, trusted=[]).signatures
    assert unknown.status == "unknown-key" and "names no key id" in unknown.detail
    assert "key id (none)" in describe_signatures(data).render()
    hashes = SignatureData.decode(sign(COMPONENT, KEY_A, detached=True)).signed_hashes[0].hashes
    odd = SignatureData((SignedHashes(hashes, (SignatureRecord(b"x", 0x7F, b"sig"),)),))
    [info] = describe_signatures(COMPONENT, detached=odd.encode(), trusted=[TRUSTED_A]).signatures
    assert (info.status, info.algorithm, info.verified) == ("unsupported-algorithm", "0x7f", False)


def test_an_unsigned_component_has_no_signatures_to_show() -> None:
    listing = describe_signatures(COMPONENT, name="plain.wasm")
    assert (listing.source, listing.signatures, listing.spec_version) == ("none", (), None)
    assert listing.content_sha256 == listing.file_sha256 == hashlib.sha256(COMPONENT).hexdigest()
    assert "0 signature(s), 0 verified; no signature, embedded or detached" in listing.render()


def test_core_module_sections_and_control_characters_in_names() -> None:
    data = MODULE + custom_section(b"evil\x1b[2J", b"")
    listing = describe_signatures(sign(data, KEY_A), trusted=[TRUSTED_A])
    assert listing.kind == "module"
    names = [s.name for s in listing.parts[0].sections]
    assert names[:3] == ["type", "function", "export"] and "code" in names
    assert names[-1] == "custom 'evil\\x1b[2J'"
    assert "\x1b" not in listing.render()


def test_several_hash_sets_are_numbered() -> None:
    data = sign(COMPONENT, KEY_A, allow_extensions=True)
    data = sign(data + custom_section(b"later", b"x"), KEY_C)
    listing = describe_signatures(data, trusted=[TRUSTED_A])
    assert listing.hash_sets == 2
    assert [(s.number, s.hash_set, s.status) for s in listing.signatures] == [
        (1, 1, "partial"),
        (2, 2, "unknown-key"),
    ]
    assert listing.signatures[1].covers.whole and listing.signatures[1].covers.parts == (1, 2)


def test_a_detached_signature_of_an_embedded_signed_component_covers_its_content(
    tmp_path: Path,
) -> None:
    # `verify FILE --signature SIG` checks SIG over FILE without its signature section.
    component, sig = tmp_path / "app.wasm", tmp_path / "c.sig"
    component.write_bytes(sign(COMPONENT, KEY_C))
    sig.write_bytes(sign(COMPONENT, KEY_A, detached=True))
    chain = strict_chain(tmp_path)
    assert verify_component_file(chain, component, sig).signer == "alice"
    listing = show_signature_file(chain, component, sig)
    assert (listing.source, listing.signature_path) == ("detached", str(sig))
    assert [(s.signer, s.status) for s in listing.signatures] == [("alice", "verified")]
    assert listing.content_sha256 == hashlib.sha256(COMPONENT).hexdigest()
    assert "(not shown: its embedded one, #0 custom 'signature' [8, " in listing.render()


def test_show_reads_the_files_and_uses_the_keys_verify_trusts(tmp_path: Path) -> None:
    component, sig = tmp_path / "plain.wasm", tmp_path / "a.sig"
    component.write_bytes(COMPONENT)
    sig.write_bytes(sign(COMPONENT, KEY_A, detached=True))
    chain = strict_chain(tmp_path)
    listing = show_signature_file(chain, component, sig)
    assert (listing.path, listing.signature_path) == (str(component), str(sig))
    assert [(s.signer, s.verified) for s in listing.signatures] == [("alice", True)]


@pytest.mark.parametrize(
    ("content", "detached", "message"),
    [
        (b"not wasm", None, "not a WebAssembly binary"),
        (COMPONENT[:-3], None, "runs past the end"),
        (COMPONENT, b"", "signature data is only 0 bytes"),
        (COMPONENT, b"\x02\x01\x01\x00", "spec version 0x02"),
    ],
)
def test_show_refuses_unreadable_input(
    tmp_path: Path, content: bytes, detached: bytes | None, message: str
) -> None:
    component = tmp_path / "c.wasm"
    component.write_bytes(content)
    sig = None
    if detached is not None:
        sig = tmp_path / "c.sig"
        sig.write_bytes(detached)
    with pytest.raises(SignatureFileError, match=message) as caught:
        show_signature_file(strict_chain(tmp_path), component, sig)
    assert caught.value.message.startswith(f"cannot read the signatures of {component}")
    with pytest.raises(SignatureFileError, match="cannot read component"):
        show_signature_file(strict_chain(tmp_path / "x"), tmp_path / "missing.wasm")
    with pytest.raises(MalformedComponent):
        describe_signatures(b"not wasm")
