"""Tests for matter_core.tlv: round trips, minimal widths, strict decoding, garbage in."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matter_core.errors import DecodeError
from matter_core.tlv import (
    MAX_NESTING_DEPTH,
    ByteReader,
    Element,
    ElementType,
    ProfileTag,
    Tag,
    TagForm,
    TLVStruct,
    TLVWriter,
    array,
    boolean,
    decode,
    encode,
    float32,
    float64,
    null,
    octets,
    sint,
    structure,
    tlv_list,
    uint,
    utf8,
)

# Apple's PBKDFParamRequest payload, from the Apple Home recording in tests/vectors.
APPLE_REQUEST = bytes.fromhex(
    "15300120a882bce8bfdeab50e04ac596bfc05024db5902b7512ed9b278cfaacc12523012"
    "2502b6e4240300280435052501f40125022c012503a00f24041224050b2606000004012407011818"
)

# --- strategies -----------------------------------------------------------------------

profile_tags = st.one_of(
    st.builds(ProfileTag, st.just(TagForm.COMMON_PROFILE), st.integers(0, 0xFFFFFFFF)),
    st.builds(ProfileTag, st.just(TagForm.IMPLICIT_PROFILE), st.integers(0, 0xFFFFFFFF)),
    st.builds(
        ProfileTag,
        st.just(TagForm.FULLY_QUALIFIED),
        st.integers(0, 0xFFFFFFFF),
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFFFF),
    ),
)
context_tags = st.integers(0, 255)


def tags_for(parent: ElementType | None) -> st.SearchStrategy[Tag]:
    """Tags CHIP's reader allows inside ``parent`` (None = top level)."""
    if parent is None:
        return st.one_of(st.none(), profile_tags)
    if parent == ElementType.ARRAY:
        return st.none()
    if parent == ElementType.STRUCTURE:
        return st.one_of(context_tags, profile_tags)
    return st.one_of(st.none(), context_tags, profile_tags)


def scalars(tag: Tag) -> st.SearchStrategy[Element]:
    """Every non-container element type with the full value range."""
    return st.one_of(
        st.integers(0, 2**64 - 1).map(lambda v: uint(tag, v)),
        st.integers(-(2**63), 2**63 - 1).map(lambda v: sint(tag, v)),
        st.booleans().map(lambda v: boolean(tag, v)),
        st.floats(width=32, allow_nan=False).map(lambda v: float32(tag, v)),
        st.floats(allow_nan=False).map(lambda v: float64(tag, v)),
        st.text(max_size=20).map(lambda v: utf8(tag, v)),
        st.binary(max_size=40).map(lambda v: octets(tag, v)),
        st.just(null(tag)),
    )


@st.composite
def elements(draw: st.DrawFn, parent: ElementType | None = None, depth: int = 0) -> Element:
    """A random element tree that respects CHIP's tag-placement rules."""
    tag = draw(tags_for(parent))
    if depth >= 4 or draw(st.integers(0, 3)) > 0:
        return draw(scalars(tag))
    kind = draw(st.sampled_from([ElementType.STRUCTURE, ElementType.ARRAY, ElementType.LIST]))
    members = draw(st.lists(elements(kind, depth + 1), max_size=4))
    return Element(tag, kind, tuple(members))


# --- round trips ----------------------------------------------------------------------


@settings(max_examples=300)
@given(elements())
def test_round_trip(element: Element) -> None:
    data = encode(element)
    decoded = decode(data)
    assert decoded == element
    assert encode(decoded) == data


@pytest.mark.parametrize(
    "element",
    [
        uint(None, 0),
        sint(None, -1),
        boolean(None, True),
        boolean(None, False),
        float32(None, 1.5),
        float64(None, -2.25),
        utf8(None, "héllo"),
        octets(None, b"\x00\x01"),
        null(None),
        structure(None, [uint(1, 1), structure(2, [])]),
        array(None, [uint(None, 1), utf8(None, "x")]),
        tlv_list(None, [uint(None, 1), uint(3, 2), null(ProfileTag(TagForm.COMMON_PROFILE, 9))]),
        uint(ProfileTag(TagForm.FULLY_QUALIFIED, 0x10000, 0xFFF1, 0xDEED), 7),
        uint(ProfileTag(TagForm.IMPLICIT_PROFILE, 5), 7),
    ],
    ids=lambda e: e.type.name,
)
def test_round_trip_each_type(element: Element) -> None:
    assert decode(encode(element)) == element


def test_apple_request_round_trips_byte_for_byte() -> None:
    element = decode(APPLE_REQUEST)
    assert element.tag is None and element.type == ElementType.STRUCTURE
    assert [child.tag for child in element.children] == [1, 2, 3, 4, 5]
    assert element.children[1] == uint(2, 0xE4B6)
    assert element.children[3] == boolean(4, False)
    assert encode(element) == APPLE_REQUEST


def _encode_alone(element: Element) -> bytes:
    """The encoding of one element; context-tagged ones are cut out of a structure."""
    if not isinstance(element.tag, int):
        return encode(element)
    wrapped = encode(structure(None, [element]))
    assert wrapped[0] == 0x15 and wrapped[-1] == 0x18
    return wrapped[1:-1]


def _decode_alone(data: bytes) -> Element:
    """Decode one element; a context-tagged one is decoded inside a structure."""
    if data[0] & 0xE0 != 0x20:
        return decode(data)
    (element,) = decode(b"\x15" + data + b"\x18").children
    return element


# --- minimal-width encoding (as CHIP's TLVWriter::Put; Matter Core Specification 1.0,
# Appendix A Tag-length-value (TLV) Encoding Format) ------------------------------------


@pytest.mark.parametrize(
    ("element", "expected"),
    [
        (uint(1, 10000), "25011027"),  # Apple's iterations
        (uint(3, 1), "240301"),  # Apple's responderSessionId
        (uint(2, 0xE4B6), "2502b6e4"),
        (uint(6, 0x01040000), "260600000401"),
        (uint(None, 0xFF), "04ff"),
        (uint(None, 0x100), "050001"),
        (uint(None, 0x10000), "0600000100"),
        (uint(None, 0x100000000), "070000000001000000"),
        (sint(None, -1), "00ff"),
        (sint(None, 127), "007f"),
        (sint(None, 128), "018000"),
        (sint(None, -129), "017fff"),
        (sint(None, -(2**31)), "0200000080"),
        (sint(None, 2**31), "030000008000000000"),
        (boolean(4, False), "2804"),
        (boolean(4, True), "2904"),
        (null(None), "14"),
        (float32(None, 1.0), "0a0000803f"),
        (float64(None, 1.0), "0b000000000000f03f"),
        (utf8(None, "ab"), "0c026162"),
        (octets(1, b"\xaa"), "300101aa"),
        (structure(None, [structure(5, [])]), "1535051818"),
        (array(None, []), "1618"),
        (tlv_list(None, []), "1718"),
        (uint(ProfileTag(TagForm.COMMON_PROFILE, 1), 0), "44010000"),
        (uint(ProfileTag(TagForm.COMMON_PROFILE, 0x10000), 0), "640000010000"),
        (uint(ProfileTag(TagForm.IMPLICIT_PROFILE, 1), 0), "84010000"),
        (uint(ProfileTag(TagForm.IMPLICIT_PROFILE, 0x10000), 0), "a40000010000"),
        (uint(ProfileTag(TagForm.FULLY_QUALIFIED, 1, 0xFFF1, 2), 0), "c4f1ff0200010000"),
        (
            uint(ProfileTag(TagForm.FULLY_QUALIFIED, 0x10000, 1, 2), 0),
            "e4 0100 0200 00000100 00",
        ),
    ],
)
def test_minimal_width_encoding(element: Element, expected: str) -> None:
    assert _encode_alone(element) == bytes.fromhex(expected)


@pytest.mark.parametrize(
    ("length", "control"),
    [(0, 0x10), (255, 0x10), (256, 0x11), (65535, 0x11), (65536, 0x12)],
)
def test_octet_string_uses_smallest_length_field(length: int, control: int) -> None:
    data = encode(octets(None, bytes(length)))
    assert data[0] == control
    assert decode(data) == octets(None, bytes(length))


def test_utf8_string_uses_smallest_length_field() -> None:
    assert encode(utf8(None, "x" * 255))[0] == 0x0C
    assert encode(utf8(None, "x" * 256))[0] == 0x0D


# --- the decoder accepts non-minimal widths ----------------------------------------------


@pytest.mark.parametrize(
    ("data", "element"),
    [
        ("25010100", uint(1, 1)),
        ("260101000000", uint(1, 1)),
        ("27010100000000000000", uint(1, 1)),
        ("01ffff", sint(None, -1)),
        ("02ffffffff", sint(None, -1)),
        ("03feffffffffffffff", sint(None, -2)),
        ("310102 00abcd".replace(" ", ""), octets(1, b"\xab\xcd")),
        ("1202000000abcd", octets(None, b"\xab\xcd")),
        ("130200000000000000abcd", octets(None, b"\xab\xcd")),
        ("0f01000000000000007a", utf8(None, "z")),
        ("640100000004", uint(ProfileTag(TagForm.COMMON_PROFILE, 1), 4)),
        ("e4f1ff02000100000004", uint(ProfileTag(TagForm.FULLY_QUALIFIED, 1, 0xFFF1, 2), 4)),
    ],
)
def test_decoder_accepts_non_minimal_widths(data: str, element: Element) -> None:
    assert _decode_alone(bytes.fromhex(data)) == element


@pytest.mark.parametrize(
    ("longer", "canonical", "tag"),
    [
        # 4-byte tag numbers that fit the 2-byte forms (tag control 0x60, 0xA0, 0xE0).
        ("64 01000000 04", "44 0100 04", ProfileTag(TagForm.COMMON_PROFILE, 1)),
        ("64 ffff0000 04", "44 ffff 04", ProfileTag(TagForm.COMMON_PROFILE, 0xFFFF)),
        ("a4 01000000 04", "84 0100 04", ProfileTag(TagForm.IMPLICIT_PROFILE, 1)),
        ("a4 ffff0000 04", "84 ffff 04", ProfileTag(TagForm.IMPLICIT_PROFILE, 0xFFFF)),
        (
            "e4 f1ff 0200 01000000 04",
            "c4 f1ff 0200 0100 04",
            ProfileTag(TagForm.FULLY_QUALIFIED, 1, 0xFFF1, 2),
        ),
        (
            "e4 0100 ffff ffff0000 04",
            "c4 0100 ffff ffff 04",
            ProfileTag(TagForm.FULLY_QUALIFIED, 0xFFFF, 1, 0xFFFF),
        ),
    ],
)
def test_a_longer_than_needed_profile_tag_is_accepted_and_normalised(
    longer: str, canonical: str, tag: ProfileTag
) -> None:
    # Appendix A lets a tag number that fits 16 bits use the 32-bit form too; the reader
    # accepts every width, keeps only the tag (not the form) and the writer re-encodes
    # it in the shortest form, so both spellings decode to the same element.
    element = uint(tag, 4)
    assert decode(bytes.fromhex(longer)) == element
    assert decode(bytes.fromhex(canonical)) == element
    assert encode(element) == bytes.fromhex(canonical)
    # The same inside a list, where profile tags may appear.
    wrapped = decode(bytes.fromhex("17" + longer + "18"))
    assert wrapped == tlv_list(None, [element])


def test_profile_tag_fields_have_their_widths() -> None:
    assert ProfileTag(TagForm.FULLY_QUALIFIED, 0xFFFFFFFF, 0xFFFF, 0xFFFF).profile_number == 0xFFFF
    with pytest.raises(ValueError, match="16 bits"):
        ProfileTag(TagForm.FULLY_QUALIFIED, 1, profile_number=0x10000)
    with pytest.raises(ValueError, match="16 bits"):
        ProfileTag(TagForm.FULLY_QUALIFIED, 1, profile_number=-1)
    with pytest.raises(ValueError, match="16 bits"):
        ProfileTag(TagForm.FULLY_QUALIFIED, 1, vendor_id=-1)
    with pytest.raises(ValueError, match="32 bits"):
        ProfileTag(TagForm.IMPLICIT_PROFILE, -1)


# --- strict errors --------------------------------------------------------------------


def _nested(depth: int) -> bytes:
    return b"\x17" * depth + b"\x18" * depth


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (bytes.fromhex("152501 10"), "truncated"),
        (bytes.fromhex("152501"), "truncated"),
        (bytes.fromhex("20"), "truncated"),
        (bytes.fromhex("0b00000000"), "truncated"),
        (bytes.fromhex("15300105aabb"), "truncated"),
        (bytes.fromhex("1108"), "truncated"),
        (bytes.fromhex("13ffffffffffffffff00"), "truncated"),
        (bytes.fromhex("c0f1ff02"), "truncated"),
        (bytes.fromhex("19"), "unknown TLV element type"),
        (bytes.fromhex("1f"), "unknown TLV element type"),
        (bytes.fromhex("151918"), "unknown TLV element type"),
        (bytes.fromhex("0c02c328"), "invalid UTF-8"),
        (bytes.fromhex("0c01ff"), "invalid UTF-8"),
        (bytes.fromhex("0400" + "00"), "trailing"),
        (bytes.fromhex("15181800"), "trailing"),
        (bytes.fromhex("15"), "unterminated"),
        (bytes.fromhex("152401"), "truncated"),
        (bytes.fromhex("15240101"), "unterminated"),
        (bytes.fromhex("1535011818"[:-2]), "unterminated"),
        (bytes.fromhex("18"), "end-of-container outside"),
        (bytes.fromhex("153818"), "must not carry a tag"),
        (bytes.fromhex("2401 00"), "^a context tag is not allowed at top level$"),
        (bytes.fromhex("150418"), "structure members must be tagged"),
        (bytes.fromhex("1624010018"), "array members must be anonymous"),
        (_nested(MAX_NESTING_DEPTH + 1), "nested deeper"),
    ],
)
def test_strict_errors(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode(data)


def test_nesting_at_the_limit_is_accepted() -> None:
    element = decode(_nested(MAX_NESTING_DEPTH))
    for _ in range(MAX_NESTING_DEPTH - 1):
        (element,) = element.children
    assert element == tlv_list(None, [])


def test_max_depth_is_configurable() -> None:
    with pytest.raises(DecodeError):
        decode(_nested(3), max_depth=2)
    assert decode(_nested(2), max_depth=2).type == ElementType.LIST


# --- garbage in: only DecodeError ------------------------------------------------------


def _decode_or_decode_error(data: bytes) -> Element | None:
    try:
        return decode(data)
    except DecodeError:
        return None


@settings(max_examples=500)
@given(st.binary(max_size=64))
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    element = _decode_or_decode_error(data)
    if element is not None:
        # Anything accepted must re-encode to something that decodes to the same tree.
        assert _equal(decode(encode(element)), element)


@settings(max_examples=200)
@given(elements(), st.data())
def test_truncations_always_fail(element: Element, data: st.DataObject) -> None:
    encoded = encode(element)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(DecodeError):
        decode(encoded[:cut])


@settings(max_examples=300)
@given(elements(), st.data())
def test_bit_flips_raise_only_decode_error(element: Element, data: st.DataObject) -> None:
    encoded = bytearray(encode(element))
    position = data.draw(st.integers(0, len(encoded) * 8 - 1))
    encoded[position // 8] ^= 1 << (position % 8)
    _decode_or_decode_error(bytes(encoded))


def test_apple_request_bit_flips_raise_only_decode_error() -> None:
    for position in range(len(APPLE_REQUEST) * 8):
        flipped = bytearray(APPLE_REQUEST)
        flipped[position // 8] ^= 1 << (position % 8)
        _decode_or_decode_error(bytes(flipped))


def _equal(a: Element, b: Element) -> bool:
    """Element equality in which NaN equals NaN (garbage may decode to NaN floats)."""
    if a.tag != b.tag or a.type != b.type:
        return False
    if isinstance(a.value, tuple) and isinstance(b.value, tuple):
        return len(a.value) == len(b.value) and all(
            _equal(x, y) for x, y in zip(a.value, b.value, strict=True)
        )
    if isinstance(a.value, float) and isinstance(b.value, float):
        return a.value == b.value or (math.isnan(a.value) and math.isnan(b.value))
    return a.value == b.value


# --- writer misuse is ValueError / TypeError ------------------------------------------


@pytest.mark.parametrize(
    ("element", "error"),
    [
        (uint(None, -1), ValueError),
        (uint(None, 2**64), ValueError),
        (sint(None, 2**63), ValueError),
        (sint(None, -(2**63) - 1), ValueError),
        (uint(None, True), TypeError),
        (uint(None, "1"), TypeError),  # type: ignore[arg-type]
        (boolean(None, 1), TypeError),  # type: ignore[arg-type]
        (float32(None, 1e300), ValueError),
        (utf8(None, b"x"), TypeError),  # type: ignore[arg-type]
        (Element(None, ElementType.OCTET_STRING, "x"), TypeError),
        (Element(None, ElementType.NULL, 0), TypeError),
        (Element(None, ElementType.STRUCTURE, [uint(1, 1)]), TypeError),  # type: ignore[arg-type]
        (uint(256, 1), ValueError),
        (uint(1, 1), ValueError),  # context tag at top level
        (structure(None, [uint(None, 1)]), ValueError),
        (array(None, [uint(1, 1)]), ValueError),
        (uint("1", 1), TypeError),  # type: ignore[arg-type]
    ],
)
def test_writer_rejects_invalid_values(element: Element, error: type[Exception]) -> None:
    with pytest.raises(error):
        encode(element)


def test_writer_requires_closed_containers() -> None:
    writer = TLVWriter()
    writer.start_container(None, ElementType.STRUCTURE)
    with pytest.raises(ValueError, match="left open"):
        writer.to_bytes()
    writer.end_container()
    assert writer.to_bytes() == b"\x15\x18"
    with pytest.raises(ValueError, match="no open container"):
        writer.end_container()
    with pytest.raises(ValueError, match="not a container"):
        writer.start_container(None, ElementType.NULL)


def test_writer_context_manager_builds_nested_structures() -> None:
    writer = TLVWriter()
    with writer.structure(None):
        writer.put_uint(1, 10000)
        with writer.container(2, ElementType.ARRAY):
            writer.put_null(None)
    assert writer.to_bytes().hex() == "152501102736021418" + "18"


def test_profile_tag_validation() -> None:
    with pytest.raises(ValueError):
        ProfileTag(TagForm.COMMON_PROFILE, 2**32)
    with pytest.raises(ValueError):
        ProfileTag(TagForm.COMMON_PROFILE, 1, vendor_id=1)
    with pytest.raises(ValueError):
        ProfileTag(TagForm.FULLY_QUALIFIED, 1, vendor_id=0x10000)


# --- ByteReader -----------------------------------------------------------------------


def test_byte_reader_pulls_little_endian_and_fails_with_decode_error() -> None:
    reader = ByteReader(bytes.fromhex("01 0201 04030201 0807060504030201 ff".replace(" ", "")))
    assert reader.pull_u8() == 1
    assert reader.pull_u16() == 0x0102
    assert reader.pull_u32() == 0x01020304
    assert reader.pull_u64() == 0x0102030405060708
    assert reader.remaining == 1
    with pytest.raises(DecodeError, match="trailing"):
        reader.require_end()
    assert reader.pull_int(1) == -1
    assert reader.at_end() and reader.pull_rest() == b""
    with pytest.raises(DecodeError, match="truncated"):
        reader.pull_u16()


# --- TLVStruct ------------------------------------------------------------------------

NAMES = {1: "alpha", 2: "beta"}


def _struct(*members: Element) -> TLVStruct:
    return TLVStruct(structure(None, members), NAMES)


def test_struct_typed_getters() -> None:
    fields = TLVStruct.decode(APPLE_REQUEST)
    assert fields.tags == (1, 2, 3, 4, 5)
    assert len(fields) == 5 and 2 in fields and 6 not in fields
    assert fields.require_bytes(1, length=32)[:2] == b"\xa8\x82"
    assert fields.require_uint(2, bits=16) == 0xE4B6
    assert fields.require_bool(4) is False
    nested = fields.require_struct(5)
    assert nested.require_uint(6, bits=32) == 0x01040000
    assert fields.get_uint(9) is None
    assert fields.get_bytes(9) is None
    assert fields.get_struct(9) is None
    assert fields.get_bool(9) is None
    fields.require_ascending_tags()


@pytest.mark.parametrize(
    ("getter", "match"),
    [
        (lambda s: s.require_uint(1), "missing field alpha"),
        (lambda s: s.require_uint(2), "field beta .*expected UNSIGNED_INT, got OCTET_STRING"),
        (lambda s: s.require_bytes(2, length=3), "field beta .*expected 3 bytes, got 2"),
        (lambda s: s.require_bytes(2, min_length=3), "length 2 outside 3"),
        (lambda s: s.require_bytes(2, max_length=1), "length 2 outside 0..1"),
        (lambda s: s.require_uint(3, bits=8), "field tag 3: 256 does not fit in 8 bits"),
        (lambda s: s.require_bool(1), "missing"),
        (lambda s: s.require_struct(1), "missing"),
        (lambda s: s.require_bool(2), "expected BOOL, got OCTET_STRING"),
        (lambda s: s.require_bytes(1), "missing"),
    ],
)
def test_struct_getter_errors_name_the_field(
    getter: Callable[[TLVStruct], object], match: str
) -> None:
    fields = _struct(octets(2, b"ab"), uint(3, 256))
    with pytest.raises(DecodeError, match=match):
        getter(fields)


def test_struct_rejects_duplicates_non_context_tags_and_disorder() -> None:
    with pytest.raises(DecodeError, match="duplicate field alpha"):
        _struct(uint(1, 1), uint(1, 2))
    with pytest.raises(DecodeError, match="non-context tag"):
        _struct(uint(ProfileTag(TagForm.COMMON_PROFILE, 1), 1))
    with pytest.raises(DecodeError, match="expected a structure"):
        TLVStruct(array(None, []))
    with pytest.raises(DecodeError, match=r"field alpha \(tag 1\) out of order"):
        _struct(uint(2, 1), uint(1, 2)).require_ascending_tags()
    with pytest.raises(DecodeError, match="must be anonymous"):
        TLVStruct.decode(encode(structure(ProfileTag(TagForm.COMMON_PROFILE, 1), [])))
    with pytest.raises(DecodeError, match="expected a container"):
        _ = uint(None, 1).children


def test_put_str_refuses_bytes_with_a_clear_message() -> None:
    with pytest.raises(TypeError, match=r"^UTF-8 string value must be a str$"):
        TLVWriter().put_str(None, b"bytes")  # type: ignore[arg-type]
