"""Tests for matter_core.tlv_reader: what each refusal says, and the view's defaults.

A peer that sends malformed TLV gets a DecodeError that names the field the reader was
pulling when the bytes ran out, with how many it needed and how many were left, so a
capture can be diagnosed from the message alone. The messages are pinned exactly here
(``fullmatch``), field by field: a check that only looks for "truncated" cannot tell a
tag's vendor id from its profile number. The :class:`TLVStruct` getters are pinned at
their defaults (64-bit integers, empty octet strings allowed), which the PASE codecs rely
on when they pass no bounds.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from matter_core.errors import DecodeError
from matter_core.tlv import (
    ByteReader,
    ProfileTag,
    TagForm,
    TLVStruct,
    decode,
    encode,
    octets,
    structure,
    uint,
)


def _message(action: Callable[[], object]) -> str:
    """The message of the DecodeError ``action`` raises (the test fails if it raises none)."""
    with pytest.raises(DecodeError) as caught:
        action()
    return str(caught.value)


def _refusal(data: bytes) -> str:
    return _message(lambda: decode(data))


# --- truncation names the field -------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # Tag fields after the control octet: Matter Core Specification 1.0, Appendix A.7.2
        # (tag control field) and A.8 (tag encoding): a context tag is 1 octet, a common or
        # implicit profile tag 2 or 4, a fully qualified tag a 2-octet vendor id, a 2-octet
        # profile number and a 2- or 4-octet tag number.
        ("20", "truncated context tag: need 1 bytes, 0 left"),
        ("4001", "truncated profile tag: need 2 bytes, 1 left"),
        ("60010000", "truncated profile tag: need 4 bytes, 3 left"),
        ("8001", "truncated profile tag: need 2 bytes, 1 left"),
        ("a0010203", "truncated profile tag: need 4 bytes, 3 left"),
        ("c001", "truncated tag vendor id: need 2 bytes, 1 left"),
        ("c0f1ff02", "truncated tag profile number: need 2 bytes, 1 left"),
        ("c0f1ff010001", "truncated profile tag: need 2 bytes, 1 left"),
        ("e0f1ff0100010203", "truncated profile tag: need 4 bytes, 3 left"),
        # Value fields: Appendix A.7.1 (element type field) fixes each width; A.11.1
        # integers, A.11.2 strings (length field, then the octets), floats are IEEE 754.
        ("0101", "truncated signed int: need 2 bytes, 1 left"),
        ("0501", "truncated unsigned int: need 2 bytes, 1 left"),
        ("0a0000", "truncated float32: need 4 bytes, 2 left"),
        ("0b00000000", "truncated float64: need 8 bytes, 4 left"),
        ("0d01", "truncated string length: need 2 bytes, 1 left"),
        ("0c056162", "truncated UTF-8 string: need 5 bytes, 2 left"),
        ("1108", "truncated octet string length: need 2 bytes, 1 left"),
        ("1005aabb", "truncated octet string: need 5 bytes, 2 left"),
    ],
)
def test_a_truncated_element_names_the_field_that_ran_out(data: str, message: str) -> None:
    assert _refusal(bytes.fromhex(data)) == message


def test_a_truncated_element_inside_a_structure_names_the_same_field() -> None:
    # The member's tag and value are pulled by the same code at any depth: a structure
    # (0x15) holding a context-tagged 4-octet float (0x2a, tag 1) cut after two octets.
    assert _refusal(bytes.fromhex("152a010000")) == "truncated float32: need 4 bytes, 2 left"


# --- framing: empty input, trailing bytes, containers (Appendix A.10, A.11.4) ----------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "empty TLV"),
        ("040000", "1 trailing bytes after the top-level TLV element"),
        ("0400" + "00" * 3, "3 trailing bytes after the top-level TLV element"),
        # A container runs until its end-of-container octet 0x18 (A.10); none arrives.
        ("15", "unterminated structure"),
        ("16", "unterminated array"),
        ("17", "unterminated list"),
        ("1715240101", "unterminated structure"),
    ],
)
def test_framing_errors_say_what_was_wrong(data: str, message: str) -> None:
    assert _refusal(bytes.fromhex(data)) == message


# --- end-of-container (Appendix A.10) -------------------------------------------------


def test_an_end_of_container_outside_any_container_is_refused_by_name() -> None:
    assert _refusal(bytes.fromhex("18")) == "end-of-container outside any container"


def test_an_end_of_container_with_a_tag_is_refused_by_name() -> None:
    # 0x38: context tag control with the end-of-container type; A.10 allows only 0x18.
    assert _refusal(bytes.fromhex("153818")) == "end-of-container must not carry a tag"


# --- ByteReader's default labels ------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "pull", "message"),
    [
        ("", lambda r: r.pull_u8(), "truncated u8: need 1 bytes, 0 left"),
        ("01", lambda r: r.pull_u16(), "truncated u16: need 2 bytes, 1 left"),
        ("010203", lambda r: r.pull_u32(), "truncated u32: need 4 bytes, 3 left"),
        ("01020304050607", lambda r: r.pull_u64(), "truncated u64: need 8 bytes, 7 left"),
        ("01", lambda r: r.pull_uint(2), "truncated integer: need 2 bytes, 1 left"),
        ("01", lambda r: r.pull_int(2), "truncated integer: need 2 bytes, 1 left"),
        ("0102", lambda r: len(r.pull_bytes(3)), "truncated data: need 3 bytes, 2 left"),
    ],
)
def test_a_byte_reader_pull_without_a_label_names_its_width(
    data: str, pull: Callable[[ByteReader], int], message: str
) -> None:
    reader = ByteReader(bytes.fromhex(data))
    assert _message(lambda: pull(reader)) == message


def test_a_byte_reader_refuses_a_negative_length_and_stays_put() -> None:
    reader = ByteReader(b"\x01\x02")
    assert _message(lambda: reader.pull_bytes(-1)) == "truncated data: need -1 bytes, 2 left"
    assert reader.position == 0 and reader.remaining == 2


def test_a_byte_reader_names_unread_bytes_at_its_end() -> None:
    reader = ByteReader(b"\x01\x02\x03")
    reader.pull_u8()
    assert _message(reader.require_end) == "2 trailing bytes after data"
    assert _message(lambda: reader.require_end("the header")) == (
        "2 trailing bytes after the header"
    )
    assert reader.pull_rest() == b"\x02\x03"
    reader.require_end()


# --- TLVStruct ------------------------------------------------------------------------

NAMES = {1: "alpha", 2: "beta"}
INNER_NAMES = {7: "gamma"}


def test_a_struct_view_keeps_its_element_and_iterates_tags_in_wire_order() -> None:
    element = structure(None, [uint(3, 30), uint(1, 10), octets(2, b"x")])
    fields = TLVStruct(element, NAMES)
    assert fields.element is element
    assert list(fields) == [3, 1, 2]
    assert dict(fields) == {3: uint(3, 30), 1: uint(1, 10), 2: octets(2, b"x")}


def test_a_named_top_level_structure_is_refused_by_name() -> None:
    tagged = encode(structure(ProfileTag(TagForm.COMMON_PROFILE, 1), []))
    assert _message(lambda: TLVStruct.decode(tagged)) == "top-level structure must be anonymous"


def test_uint_getters_default_to_64_bits() -> None:
    # A hand-built element can hold any int; the TLV wire cannot carry more than 8 octets
    # (A.11.1), and the getters' default bound is exactly that.
    fields = TLVStruct(structure(None, [uint(1, 2**64 - 1), uint(2, 2**64)]), NAMES)
    assert fields.get_uint(1) == 2**64 - 1
    assert fields.require_uint(1) == 2**64 - 1
    too_wide = "field beta (tag 2): 18446744073709551616 does not fit in 64 bits"
    assert _message(lambda: fields.get_uint(2)) == too_wide
    assert _message(lambda: fields.require_uint(2)) == too_wide


def test_bytes_getters_accept_an_empty_octet_string_by_default() -> None:
    fields = TLVStruct(structure(None, [octets(1, b"")]), NAMES)
    assert fields.get_bytes(1) == b""
    assert fields.require_bytes(1) == b""


def test_require_struct_names_the_missing_field_and_hands_names_to_the_nested_view() -> None:
    fields = TLVStruct(structure(None, [structure(2, [uint(8, 1)])]), NAMES)
    assert _message(lambda: fields.require_struct(1)) == "missing field alpha (tag 1)"
    nested = fields.require_struct(2, INNER_NAMES)
    assert nested.names == INNER_NAMES
    assert _message(lambda: nested.require_uint(7)) == "missing field gamma (tag 7)"
