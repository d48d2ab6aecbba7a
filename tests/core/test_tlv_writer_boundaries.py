"""Tests for matter_core.tlv_writer: every width boundary, every misuse message.

The writer picks the smallest integer and length width (Matter Core Specification 1.3,
Appendix A.7, "Element types", integers of 1, 2, 4 or 8 octets); a value one past a width's
range must take the next width, the last value inside it must not. Misuse is the caller's
bug and says exactly what was wrong.
"""

from __future__ import annotations

import pytest
from matter_core.tlv import (
    Element,
    ElementType,
    ProfileTag,
    Tag,
    TagForm,
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
    uint,
    utf8,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0400"),
        (0xFF, "04ff"),
        (0x100, "050001"),
        (0xFFFF, "05ffff"),
        (0x10000, "0600000100"),
        (0xFFFFFFFF, "06ffffffff"),
        (0x100000000, "070000000001000000"),
        (2**64 - 1, "07ffffffffffffffff"),
    ],
)
def test_unsigned_integers_at_each_width_boundary_take_the_smallest_width(
    value: int, expected: str
) -> None:
    assert encode(uint(None, value)) == bytes.fromhex(expected)
    assert decode(bytes.fromhex(expected)) == uint(None, value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0000"),
        (-128, "0080"),
        (127, "007f"),
        (-129, "017fff"),
        (128, "018000"),
        (-32768, "010080"),
        (32767, "01ff7f"),
        (-32769, "02ff7fffff"),
        (32768, "0200800000"),
        (-(2**31), "0200000080"),
        (2**31 - 1, "02ffffff7f"),
        (-(2**31) - 1, "03ffffff7fffffffff"),
        (2**31, "030000008000000000"),
        (-(2**63), "030000000000000080"),
        (2**63 - 1, "03ffffffffffffff7f"),
    ],
)
def test_signed_integers_at_each_width_boundary_take_the_smallest_width(
    value: int, expected: str
) -> None:
    assert encode(sint(None, value)) == bytes.fromhex(expected)
    assert decode(bytes.fromhex(expected)) == sint(None, value)


@pytest.mark.parametrize(
    ("element", "error", "message"),
    [
        (uint(None, -1), ValueError, "unsigned integer -1 is negative"),
        (uint(None, 2**64), ValueError, f"unsigned integer {2**64} does not fit in 64 bits"),
        (sint(None, 2**63), ValueError, f"signed integer {2**63} does not fit in 64 bits"),
        (
            sint(None, -(2**63) - 1),
            ValueError,
            f"signed integer {-(2**63) - 1} does not fit in 64 bits",
        ),
        (uint(None, True), TypeError, "unsigned integer value must be an int"),
        (sint(None, False), TypeError, "signed integer value must be an int"),
        (sint(None, 1.0), TypeError, "signed integer value must be an int"),  # type: ignore[arg-type]
        (boolean(None, 1), TypeError, "boolean value must be a bool"),  # type: ignore[arg-type]
        (float32(None, 1e300), ValueError, "1e+300 is not representable as float32"),
        (float32(None, True), TypeError, "float value must be a float"),
        (float32(None, "1"), TypeError, "float value must be a float"),  # type: ignore[arg-type]
        (float64(None, True), TypeError, "float value must be a float"),
        (float64(None, "1"), TypeError, "float value must be a float"),  # type: ignore[arg-type]
        (utf8(None, b"x"), TypeError, "UTF-8 string value must be a str"),  # type: ignore[arg-type]
        (
            Element(None, ElementType.OCTET_STRING, "x"),
            TypeError,
            "octet string value must be bytes",
        ),
        (Element(None, ElementType.NULL, 0), TypeError, "null element value must be None"),
        (
            Element(None, ElementType.STRUCTURE, [uint(1, 1)]),  # type: ignore[arg-type]
            TypeError,
            "container value must be a tuple of elements",
        ),
        (structure(None, [uint(256, 1)]), ValueError, "context tag 256 out of range 0..255"),
        (structure(None, [uint(-1, 1)]), ValueError, "context tag -1 out of range 0..255"),
        (uint(1, 1), ValueError, "a context tag is not allowed at top level"),
        (structure(None, [uint(None, 1)]), ValueError, "structure members must be tagged"),
        (array(None, [uint(1, 1)]), ValueError, "array members must be anonymous"),
        (uint("1", 1), TypeError, "invalid tag '1'"),  # type: ignore[arg-type]
        (structure(None, [uint(True, 1)]), TypeError, "invalid tag True"),  # type: ignore[arg-type]
        (Element(None, "bogus", 1), ValueError, "unknown element type 'bogus'"),  # type: ignore[arg-type]
    ],
)
def test_each_writer_misuse_says_exactly_what_was_wrong(
    element: Element, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        encode(element)
    assert str(raised.value) == message


def test_open_and_unopened_containers_are_refused_with_their_count() -> None:
    writer = TLVWriter()
    writer.start_container(None, ElementType.STRUCTURE)
    writer.start_container(1, ElementType.LIST)
    with pytest.raises(ValueError) as raised:
        writer.to_bytes()
    assert str(raised.value) == "2 container(s) left open"
    writer.end_container()
    writer.end_container()
    with pytest.raises(ValueError) as raised:
        writer.end_container()
    assert str(raised.value) == "no open container to end"
    with pytest.raises(ValueError) as raised:
        writer.start_container(None, ElementType.NULL)
    assert str(raised.value) == f"{ElementType.NULL!r} is not a container type"


def test_every_element_kind_is_written_through_put() -> None:
    tree = structure(
        None,
        [
            uint(0, 1),
            sint(1, -1),
            boolean(2, True),
            float32(3, 0.5),
            float64(4, 0.25),
            utf8(5, "é"),
            octets(6, b"\x01"),
            null(7),
            array(8, [uint(None, 2)]),
        ],
    )
    data = encode(tree)
    assert data.hex() == (
        "15" + "240001" + "2001ff" + "2902" + "2a030000003f" + "2b04000000000000d03f"
        "2c0502c3a9" + "30060101" + "3407" + "360804021818"
    )
    assert decode(data) == tree


def test_context_tags_run_from_0_to_255() -> None:
    for tag in (0, 255):
        data = encode(structure(None, [null(tag)]))
        assert data == bytes((0x15, 0x34, tag, 0x18))
        assert decode(data) == structure(None, [null(tag)])


def test_put_bytes_takes_every_bytes_like_value() -> None:
    for value in (b"\xaa", bytearray(b"\xaa"), memoryview(b"\xaa")):
        writer = TLVWriter()
        writer.put_bytes(None, value)
        assert writer.to_bytes() == bytes.fromhex("1001aa")


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        (ProfileTag(TagForm.COMMON_PROFILE, 0xFFFF), "44ffff00"),
        (ProfileTag(TagForm.COMMON_PROFILE, 0x10000), "640000010000"),
        (ProfileTag(TagForm.IMPLICIT_PROFILE, 0xFFFF), "84ffff00"),
        (ProfileTag(TagForm.IMPLICIT_PROFILE, 0x10000), "a40000010000"),
        (ProfileTag(TagForm.FULLY_QUALIFIED, 0xFFFF, 0x1234, 0x5678), "c434127856ffff00"),
        (ProfileTag(TagForm.FULLY_QUALIFIED, 0x10000, 0x1234, 0x5678), "e4341278560000010000"),
    ],
)
def test_profile_tags_switch_to_four_byte_numbers_just_past_0xffff(tag: Tag, expected: str) -> None:
    writer = TLVWriter()
    writer.put_uint(tag, 0)
    assert writer.to_bytes() == bytes.fromhex(expected)
