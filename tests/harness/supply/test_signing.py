"""Tests for harness.signing and harness.signature_format (tool-conventions signatures).

The byte-layout tests decode and encode signatures with a minimal parser written here from
``Signatures.md`` (WebAssembly/tool-conventions) and wasmsign2's ``sig_sections.rs``, not
with the code under test.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest
import wasmtime
import wasmtime.component
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.supply.keys import PublicKey, SecretKey, generate_keypair
from harness.supply.signature_format import (
    MalformedComponent,
    MalformedSignature,
    SignatureData,
    SignatureError,
    UnsupportedSignature,
    parse_sections,
)
from harness.supply.signing import (
    DuplicateSignature,
    InvalidSignature,
    NoSignature,
    PartiallySigned,
    TamperedComponent,
    UntrustedKey,
    add_delimiter,
    attach,
    detach,
    read_signature,
    sign,
    verify,
    verify_all,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "signing"

COMPONENT_WAT = """
(component
  (core module $m (func (export "f") (result i32) i32.const 7))
  (core instance (instantiate $m)))
"""
MODULE_WAT = '(module (func (export "f") (result i32) i32.const 7) (@custom "note" "hi"))'

KEY_A = SecretKey.from_seed(bytes(range(32)))
KEY_B = SecretKey.from_seed(bytes(range(1, 33)))
KEY_C = SecretKey.from_seed(bytes(range(2, 34)))


def component() -> bytes:
    return bytes(wasmtime.wat2wasm(COMPONENT_WAT))


def module() -> bytes:
    return bytes(wasmtime.wat2wasm(MODULE_WAT))


# --- an independent minimal reader/writer of the format (test-only) ---------------------


def leb(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        self.pos += 1
        return self.data[self.pos - 1]

    def u32(self) -> int:
        value = shift = 0
        while True:
            b = self.byte()
            value |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return value

    def take(self, n: int) -> bytes:
        assert self.pos + n <= len(self.data)
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def vec(self) -> bytes:
        return self.take(self.u32())

    def done(self) -> bool:
        return self.pos == len(self.data)


def split_sections(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """(id, raw section bytes, payload) for each top-level section."""
    r = Reader(data)
    r.take(8)
    out = []
    while not r.done():
        start = r.pos
        sid = r.byte()
        payload = r.vec()
        out.append((sid, data[start : r.pos], payload))
    return out


def custom(name: bytes, payload: bytes) -> bytes:
    body = leb(len(name)) + name + payload
    return b"\x00" + leb(len(body)) + body


def decode_signature_data(
    payload: bytes,
) -> list[tuple[list[bytes], list[tuple[bytes, int, bytes]]]]:
    r = Reader(payload)
    assert (r.byte(), r.byte(), r.byte()) == (1, 1, 1)  # version, content type, SHA-256
    sets = []
    for _ in range(r.u32()):
        s = Reader(r.vec())
        hashes = [s.take(32) for _ in range(s.u32())]
        sigs = []
        for _ in range(s.u32()):
            rec = Reader(s.vec())
            key_id = rec.vec()
            alg = rec.byte()
            sig = rec.vec()
            assert rec.done()
            sigs.append((key_id, alg, sig))
        assert s.done()
        sets.append((hashes, sigs))
    assert r.done()
    return sets


def encode_signature_data(sets: list[tuple[list[bytes], list[tuple[bytes, bytes]]]]) -> bytes:
    out = b"\x01\x01\x01" + leb(len(sets))
    for hashes, sigs in sets:
        body = leb(len(hashes)) + b"".join(hashes) + leb(len(sigs))
        for key_id, sig in sigs:
            rec = leb(len(key_id)) + key_id + b"\x01" + leb(len(sig)) + sig
            body += leb(len(rec)) + rec
        out += leb(len(body)) + body
    return out


def message(hashes: list[bytes]) -> bytes:
    return b"wasmsig" + b"\x01\x01\x01" + b"".join(hashes)


# --- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("make", [component, module])
def test_round_trip_and_wasmtime_still_loads(make: object) -> None:
    data = make()  # type: ignore[operator]
    signed = sign(data, KEY_A)
    result = verify(signed, KEY_A.public_key)
    assert result.complete and (result.covered_parts, result.total_parts) == (1, 1)
    assert result.key == KEY_A.public_key and result.key_id == KEY_A.public_key.key_id
    assert result.component_sha256 == hashlib.sha256(signed).hexdigest()
    assert result.kind == ("component" if make is component else "module")
    assert result.covered_until == len(signed)
    engine = wasmtime.Engine()
    if make is component:
        wasmtime.component.Component(engine, signed)
    else:
        wasmtime.Module(engine, signed)


def test_empty_component_round_trip() -> None:
    data = bytes(wasmtime.wat2wasm("(component)"))
    assert data == b"\x00asm\x0d\x00\x01\x00"
    signed = sign(data, KEY_A)
    assert verify(signed, KEY_A.public_key).signed_hashes == (hashlib.sha256(b"").digest(),)


def test_signature_is_deterministic_and_content_is_untouched() -> None:
    data = component()
    signed = sign(data, KEY_A)
    assert sign(data, KEY_A) == signed  # Ed25519 is deterministic; no randomness without delimiters
    sections = split_sections(signed)
    assert b"".join(raw for _, raw, _ in sections[1:]) == data[8:]
    assert signed[:8] == data[:8]


# --- the byte layout, read by the independent parser --------------------------------------


def test_embedded_signature_layout_matches_the_spec() -> None:
    data = component()
    signed = sign(data, KEY_A)
    sid, _, payload = split_sections(signed)[0]
    assert sid == 0
    r = Reader(payload)
    assert r.vec() == b"signature"
    sets = decode_signature_data(payload[r.pos :])
    assert len(sets) == 1
    hashes, sigs = sets[0]
    # One part, no delimiter: the hash of every section after the signature section.
    assert hashes == [hashlib.sha256(data[8:]).digest()]
    [(key_id, alg, sig)] = sigs
    pk = KEY_A.public_key.raw
    assert key_id == hmac.new(pk, b"key_id", hashlib.sha256).digest()[:12]
    assert alg == 0x01 and len(sig) == 64
    Ed25519PublicKey.from_public_bytes(pk).verify(sig, message(hashes))


def test_delimited_layout_hashes_are_rolling() -> None:
    data = component()
    signed = sign(data, KEY_A, allow_extensions=True)
    sections = split_sections(signed)
    delimiter = sections[-1]
    r = Reader(delimiter[2])
    assert r.vec() == b"signature_delimiter" and len(r.data) - r.pos == 16
    payload = sections[0][2]
    r = Reader(payload)
    r.vec()
    [(hashes, _)] = decode_signature_data(payload[r.pos :])
    assert hashes == [hashlib.sha256(b"".join(raw for _, raw, _ in sections[1:])).digest()]


def test_independently_encoded_signature_verifies() -> None:
    """The spec's Appendix A example: three delimited parts, two signers with key ids."""
    base = module()
    d = [custom(b"signature_delimiter", bytes([i]) * 16) for i in range(3)]
    content = (
        base[8:] + d[0] + custom(b".debug_info", b"dwarf") + d[1] + custom(b"name", b"") + d[2]
    )
    ends = [len(base[8:]) + len(d[0])]
    ends.append(ends[0] + len(custom(b".debug_info", b"dwarf")) + len(d[1]))
    ends.append(len(content))
    hashes = [hashlib.sha256(content[:end]).digest() for end in ends]
    first, second = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    sigs = [(b"first", first.sign(message(hashes))), (b"second", second.sign(message(hashes)))]
    payload = encode_signature_data([(hashes, sigs)])
    signed = base[:8] + custom(b"signature", payload) + content

    def pub(k: Ed25519PrivateKey, key_id: bytes) -> PublicKey:
        raw = k.public_key().public_bytes_raw()
        return PublicKey(raw, key_id)

    result = verify(signed, pub(second, b"second"))
    assert result.complete and result.total_parts == 3 and result.key_id == b"second"
    assert verify(signed, pub(first, b"first")).key_id == b"first"
    # A key id is a label the verifier must respect: "first"'s key is not "second".
    with pytest.raises(UntrustedKey, match=b"second".hex()):
        verify(signed, pub(first, b"third"))
    # Decoded by the code under test, the same structure comes back.
    data = read_signature(signed)
    assert data.signed_hashes[0].hashes == tuple(hashes)
    assert data.encode() == payload


def test_signature_data_encoding_round_trips() -> None:
    signed = sign(sign(component(), KEY_A), KEY_B)
    payload = read_signature(signed)
    assert SignatureData.decode(payload.encode()) == payload
    assert decode_signature_data(payload.encode())[0][1][1][0] == KEY_B.public_key.key_id


# --- tampering ----------------------------------------------------------------------------


def test_every_single_byte_flip_is_detected() -> None:
    signed = sign(component(), KEY_A)
    for position in range(len(signed)):
        tampered = bytearray(signed)
        tampered[position] ^= 0x01
        with pytest.raises(SignatureError):
            verify(bytes(tampered), KEY_A.public_key)


SIGNED_ONCE = sign(component(), KEY_A)
SIGNED_TWICE = sign(sign(module(), KEY_A), KEY_B)


@settings(max_examples=150, deadline=None)
@given(position=st.integers(0, len(SIGNED_ONCE) - 1), mask=st.integers(1, 255))
def test_random_byte_changes_are_detected(position: int, mask: int) -> None:
    tampered = bytearray(SIGNED_ONCE)
    tampered[position] ^= mask
    with pytest.raises(SignatureError):
        verify(bytes(tampered), KEY_A.public_key)


@settings(max_examples=150, deadline=None)
@given(position=st.integers(0, len(SIGNED_TWICE) - 1), mask=st.integers(1, 255))
def test_byte_changes_with_two_signers(position: int, mask: int) -> None:
    """A change can damage one signer's record and leave the other's valid (the spec asks
    for at least one valid signature), but never leaves both valid; a change to the
    signed content invalidates both."""
    tampered = bytearray(SIGNED_TWICE)
    tampered[position] ^= mask
    survivors = []
    for key in (KEY_A, KEY_B):
        try:
            verify(bytes(tampered), key.public_key)
            survivors.append(key)
        except SignatureError:
            pass
    assert len(survivors) <= 1
    content_start = parse_sections(SIGNED_TWICE)[1][1].start
    if position >= content_start or position < 8:
        assert survivors == []


def test_content_change_is_reported_as_tampering() -> None:
    signed = bytearray(sign(component(), KEY_A))
    signed[-1] ^= 0xFF  # last byte of the nested core module
    with pytest.raises(TamperedComponent, match="modified after signing"):
        verify(bytes(signed), KEY_A.public_key)


def test_damaged_signature_bytes_are_invalid() -> None:
    signed = bytearray(sign(component(), KEY_A))
    section = parse_sections(bytes(signed))[1][0]
    signed[section.end - 1] ^= 0x01  # last byte of the Ed25519 signature
    with pytest.raises(InvalidSignature, match=KEY_A.public_key.fingerprint):
        verify(bytes(signed), KEY_A.public_key)


def test_stripped_signature() -> None:
    unsigned, _ = detach(sign(component(), KEY_A))
    assert unsigned == component()
    with pytest.raises(NoSignature, match="no signature"):
        verify(unsigned, KEY_A.public_key)


def test_appended_section_without_delimiter_breaks_the_signature() -> None:
    signed = sign(component(), KEY_A)
    with pytest.raises(TamperedComponent):
        verify(signed + custom(b"extra", b"x"), KEY_A.public_key)
    with pytest.raises(TamperedComponent):
        verify(signed + custom(b"extra", b"x"), KEY_A.public_key, allow_partial=True)


def test_appended_section_after_delimiter_verifies_partially() -> None:
    signed = sign(component(), KEY_A, allow_extensions=True)
    extended = signed + custom(b"extra", b"x")
    with pytest.raises(PartiallySigned, match="first 1 of 2 parts") as info:
        verify(extended, KEY_A.public_key)
    assert (info.value.covered_parts, info.value.total_parts) == (1, 2)
    partial = verify(extended, KEY_A.public_key, allow_partial=True)
    assert not partial.complete
    assert (partial.covered_parts, partial.total_parts) == (1, 2)
    assert partial.covered_until == len(signed)
    # Tampering inside the covered part is still caught in partial mode.
    tampered = bytearray(extended)
    tampered[len(signed) - 30] ^= 0x01
    with pytest.raises(SignatureError):
        verify(bytes(tampered), KEY_A.public_key, allow_partial=True)


def test_second_signer_can_sign_the_extension() -> None:
    signed = sign(component(), KEY_A, allow_extensions=True)
    extended = add_delimiter(signed + custom(b"extra", b"x"))
    assert add_delimiter(extended) == extended
    both = sign(extended, KEY_B)
    assert verify(both, KEY_B.public_key).complete
    a = verify(both, KEY_A.public_key, allow_partial=True)
    assert (a.complete, a.covered_parts, a.total_parts) == (False, 1, 2)
    assert len(read_signature(both).signed_hashes) == 2


def test_removed_part_is_detected() -> None:
    base = sign(component(), KEY_A, allow_extensions=True)
    unsigned, _ = detach(base)
    two_parts = add_delimiter(unsigned + custom(b"extra", b"x"))
    signed = sign(two_parts, KEY_A)
    first_part_only = signed[: len(signed) - len(custom(b"extra", b"x")) - 38]
    assert len(parse_sections(first_part_only)[1]) == len(parse_sections(base)[1])
    with pytest.raises(TamperedComponent, match="2 part hashes, the component has 1"):
        verify(first_part_only, KEY_A.public_key)
    assert verify(first_part_only, KEY_A.public_key, allow_partial=True).covered_parts == 1


def test_extension_refused_when_it_would_break_existing_signatures() -> None:
    signed = sign(component(), KEY_A)
    with pytest.raises(SignatureError, match="invalidate"):
        sign(signed, KEY_B, allow_extensions=True)


# --- keys, multiple signatures --------------------------------------------------------------


def test_wrong_key_is_untrusted() -> None:
    signed = sign(component(), KEY_A)
    with pytest.raises(UntrustedKey, match=KEY_A.public_key.fingerprint) as info:
        verify(signed, KEY_B.public_key)
    assert info.value.key_ids == (KEY_A.public_key.key_id,)


def test_signature_without_key_id() -> None:
    signed = sign(component(), KEY_A, key_id=b"")
    assert read_signature(signed).signed_hashes[0].signatures[0].key_id == b""
    assert verify(signed, [KEY_B.public_key, KEY_A.public_key]).key == KEY_A.public_key
    with pytest.raises(UntrustedKey, match="names no key id"):
        verify(signed, KEY_B.public_key)
    with pytest.raises(UntrustedKey, match="no keys"):
        verify(signed, [])


def test_one_trusted_among_several_signers() -> None:
    signed = sign(sign(sign(component(), KEY_A), KEY_B), KEY_C)
    data = read_signature(signed)
    assert len(data.signed_hashes) == 1 and len(data.signed_hashes[0].signatures) == 3
    stranger = generate_keypair().public_key
    assert verify(signed, [stranger, KEY_B.public_key]).key == KEY_B.public_key
    found = verify_all(signed, [KEY_C.public_key, stranger, KEY_A.public_key])
    assert [r.key for r in found] == [KEY_C.public_key, KEY_A.public_key]


def test_signing_twice_with_one_key_is_refused() -> None:
    with pytest.raises(DuplicateSignature):
        sign(sign(component(), KEY_A), KEY_A)


def test_custom_key_id_round_trips() -> None:
    signed = sign(component(), KEY_A, key_id=b"release-2026")
    with pytest.raises(UntrustedKey, match=b"release-2026".hex()):
        verify(signed, KEY_A.public_key)
    assert verify(signed, KEY_A.public_key.with_key_id(b"release-2026")).key_id == b"release-2026"


# --- detached signatures --------------------------------------------------------------------


def test_detached_signature_round_trip() -> None:
    data = component()
    signature = sign(data, KEY_A, detached=True)
    assert SignatureData.decode(signature).signed_hashes[0].hashes == (
        hashlib.sha256(data[8:]).digest(),
    )
    assert verify(data, KEY_A.public_key, detached_signature=signature).complete
    with pytest.raises(NoSignature):
        verify(data, KEY_A.public_key)
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(TamperedComponent):
        verify(tampered, KEY_A.public_key, detached_signature=signature)


def test_detached_and_embedded_are_equivalent() -> None:
    data = component()
    signature = sign(data, KEY_A, detached=True)
    embedded = sign(data, KEY_A)
    assert attach(data, signature) == embedded
    assert detach(embedded) == (data, signature)


def test_detached_multi_signature() -> None:
    data = module()
    first = sign(data, KEY_A, detached=True)
    both = sign(data, KEY_B, detached=True, existing_signature=first)
    for key in (KEY_A, KEY_B):
        assert verify(data, key.public_key, detached_signature=both).complete


def test_detached_with_embedded_is_refused() -> None:
    signed = sign(component(), KEY_A)
    with pytest.raises(MalformedSignature, match="both"):
        verify(signed, KEY_A.public_key, detached_signature=read_signature(signed).encode())
    with pytest.raises(SignatureError, match="already has an embedded signature"):
        sign(signed, KEY_B, detached=True)
    with pytest.raises(SignatureError, match="already has an embedded signature"):
        attach(signed, read_signature(signed).encode())


def test_bad_argument_combinations() -> None:
    with pytest.raises(ValueError, match="add_delimiter"):
        sign(component(), KEY_A, detached=True, allow_extensions=True)
    with pytest.raises(ValueError, match="detached"):
        sign(component(), KEY_A, existing_signature=b"\x01\x01\x01\x00")
    with pytest.raises(TypeError):
        sign("not bytes", KEY_A)  # type: ignore[arg-type]


# --- malformed inputs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "no \\\\0asm magic"),
        (b"\x7fELF\x02\x01\x01\x00", "no \\\\0asm magic"),
        (b"\x00asm\x02\x00\x00\x00", "unknown WebAssembly version"),
        (b"\x00asm\x01\x00\x00\x00\x01\x05\x00", "runs past the end"),
        (b"\x00asm\x01\x00\x00\x00\x01", "truncated LEB128"),
        (b"\x00asm\x01\x00\x00\x00\x01\xff\xff\xff\xff\xff", "longer than 5 bytes|over 32 bits"),
        (b"\x00asm\x01\x00\x00\x00\x00\x02\x05a", "name runs past"),
    ],
)
def test_malformed_components(data: bytes, match: str) -> None:
    with pytest.raises(MalformedComponent, match=match):
        verify(data, KEY_A.public_key)
    with pytest.raises(MalformedComponent):
        sign(data, KEY_A)


def test_signature_section_must_come_first() -> None:
    data = module() + custom(b"signature", sign(module(), KEY_A, detached=True))
    with pytest.raises(MalformedSignature, match="not the first section"):
        verify(data, KEY_A.public_key)


@pytest.mark.parametrize(
    ("payload", "error", "match"),
    [
        (b"\x02\x01\x01\x00", UnsupportedSignature, "spec version 0x02"),
        (b"\x01\x02\x01\x00", UnsupportedSignature, "content type 0x02"),
        (b"\x01\x01\x02\x00", UnsupportedSignature, "hash function 0x02"),
        (b"\x01\x01\x01", MalformedSignature, "only 3 bytes"),
        (b"\x01\x01\x01\x00\x00", MalformedSignature, "stray bytes"),
        (b"\x01\x01\x01\x41", MalformedSignature, "65 signed hash sets"),
        (b"\x01\x01\x01\x01\x05\x01", MalformedSignature, "runs past the signature data"),
        (b"\x01\x01\x01\x01\x02\x01\x00", MalformedSignature, "hashes run past"),
        (b"\x01\x01\x01\x00", UnsupportedSignature, "no Ed25519 signature"),
    ],
)
def test_malformed_signature_data(payload: bytes, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        verify(module(), KEY_A.public_key, detached_signature=payload)


def test_unknown_algorithm_records_are_skipped_not_fatal() -> None:
    data = module()
    digest = hashlib.sha256(data[8:]).digest()
    good = sign(data, KEY_A, detached=True)
    record_other = leb(0) + b"\x07" + b"opaque-signature"
    body = leb(1) + digest + leb(1) + leb(len(record_other)) + record_other
    other_set = leb(len(body)) + body
    # Prepend a set signed with an unknown algorithm 0x07 before the Ed25519 one.
    payload = b"\x01\x01\x01\x02" + other_set + good[4:]
    parsed = SignatureData.decode(payload)
    assert parsed.signed_hashes[0].signatures[0].algorithm == 0x07
    assert parsed.encode() == payload
    assert verify(data, KEY_A.public_key, detached_signature=payload).complete


# --- fixture: a signature pinned in bytes ------------------------------------------------------


def test_pinned_fixture_still_verifies_and_reproduces() -> None:
    unsigned = (FIXTURES / "answer.wasm").read_bytes()
    signed = (FIXTURES / "answer.signed.wasm").read_bytes()
    detached = (FIXTURES / "answer.wasm.sig").read_bytes()
    public = PublicKey.from_bytes((FIXTURES / "rfc8032-test1.pub").read_bytes())
    assert verify(signed, public).complete
    assert verify(unsigned, public, detached_signature=detached).complete
    key = SecretKey.from_seed(
        bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    )
    assert sign(unsigned, key) == signed
    assert sign(unsigned, key, detached=True) == detached
