"""Tests for harness.wasm_binary: LEB128, section framing, custom sections, and that
malformed input only ever raises WasmFormatError."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wasmtime import wat2wasm

from harness import wasm_binary as wb
from harness.errors import HarnessError, WasmFormatError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "compose"

MODULE = bytes(
    wat2wasm(
        """(module
             (memory 1)
             (func (export "add") (param i32 i32) (result i32)
               local.get 0 local.get 1 i32.add))"""
    )
)
COMPONENT = bytes(wat2wasm((FIXTURES / "consumer.wat").read_text()))
PROVIDER = bytes(wat2wasm((FIXTURES / "provider.wat").read_text()))


# --------------------------------------------------------------------------- LEB128


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "00"),
        (127, "7f"),
        (128, "8001"),
        (624485, "e58e26"),  # the example in the DWARF / Wikipedia LEB128 description
        (2**32 - 1, "ffffffff0f"),
    ],
)
def test_unsigned_known_encodings(value: int, encoded: str) -> None:
    assert wb.leb128_u32(value).hex() == encoded
    assert wb.read_leb128_u32(bytes.fromhex(encoded), 0) == (value, len(encoded) // 2)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "00"),
        (-1, "7f"),
        (63, "3f"),
        (64, "c000"),
        (-64, "40"),
        (-65, "bf7f"),
        (-123456, "c0bb78"),
    ],
)
def test_signed_known_encodings(value: int, encoded: str) -> None:
    assert wb.leb128_s32(value).hex() == encoded
    assert wb.read_leb128_s32(bytes.fromhex(encoded), 0) == (value, len(encoded) // 2)


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_u32_round_trip(value: int) -> None:
    encoded = wb.leb128_u32(value)
    assert wb.read_leb128_u32(encoded + b"\xaa", 0) == (value, len(encoded))


@given(st.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_s32_round_trip(value: int) -> None:
    encoded = wb.leb128_s32(value)
    assert wb.read_leb128_s32(encoded, 0) == (value, len(encoded))


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_s64_round_trip(value: int) -> None:
    encoded = wb.leb128_s64(value)
    assert wb.read_leb128_s64(encoded, 0) == (value, len(encoded))


def test_encoders_reject_out_of_range() -> None:
    for bad in (-1, 2**32):
        with pytest.raises(ValueError):
            wb.leb128_u32(bad)
    for bad in (2**31, -(2**31) - 1):
        with pytest.raises(ValueError):
            wb.leb128_s32(bad)
    with pytest.raises(ValueError):
        wb.leb128_s64(2**63)
    with pytest.raises(ValueError):
        wb.leb128_unsigned(-5)


@pytest.mark.parametrize(
    "encoded",
    [
        "",  # nothing at all
        "80",  # continuation bit, then the end
        "ffffffff",  # four continuation bytes, then the end
        "ffffffff1f",  # a 33rd bit set in the last byte
        "8080808080",  # a fifth byte with the continuation bit
        "808080808000",  # six bytes
    ],
)
def test_u32_decoder_rejects_malformed(encoded: str) -> None:
    with pytest.raises(WasmFormatError):
        wb.read_leb128_u32(bytes.fromhex(encoded), 0)


@pytest.mark.parametrize("encoded", ["ffffffff4f", "8080808070", "80"])
def test_s32_decoder_rejects_malformed(encoded: str) -> None:
    # The last byte's unused bits must be a sign extension of bit 31.
    with pytest.raises(WasmFormatError):
        wb.read_leb128_s32(bytes.fromhex(encoded), 0)


def test_s32_decoder_accepts_the_extremes_in_five_bytes() -> None:
    assert wb.read_leb128_s32(bytes.fromhex("ffffffff07"), 0) == (2**31 - 1, 5)
    assert wb.read_leb128_s32(bytes.fromhex("8080808078"), 0) == (-(2**31), 5)


# --------------------------------------------------------------------------- sections


def test_module_sections_round_trip() -> None:
    sections = wb.parse_sections(MODULE)
    assert wb.binary_kind(MODULE) == "module"
    assert [s.id for s in sections] == [1, 3, 5, 7, 10]  # type func memory export code
    assert wb.assemble(wb.MODULE_PREAMBLE, sections) == MODULE
    first = sections[0]
    assert first.offset == 8 and first.payload_offset == 10 and first.end == sections[1].offset


def test_component_sections_round_trip() -> None:
    sections = wb.parse_sections(COMPONENT)
    assert wb.binary_kind(COMPONENT) == "component"
    assert wb.SECTION_IMPORT in [s.id for s in sections]
    assert wb.SECTION_CORE_MODULE in [s.id for s in sections]
    assert wb.assemble(wb.COMPONENT_PREAMBLE, [s.encode() for s in sections]) == COMPONENT


def test_custom_sections_are_appended_and_found() -> None:
    extra = wb.custom_section("matter-harness:test", b"\x00payload\xff")
    data = MODULE + extra + wb.custom_section("other", b"x") + extra
    assert wb.read_custom_sections(data, "matter-harness:test") == [b"\x00payload\xff"] * 2
    assert wb.read_custom_sections(data, "other") == [b"x"]
    assert wb.read_custom_sections(data, "absent") == []
    section = wb.parse_sections(data)[-1]
    assert wb.parse_custom(section) == ("matter-harness:test", b"\x00payload\xff")


def test_parse_custom_refuses_other_sections() -> None:
    with pytest.raises(ValueError):
        wb.parse_custom(wb.parse_sections(MODULE)[0])


def test_parsed_sections_keep_a_non_minimal_size_encoding() -> None:
    data = wb.MODULE_PREAMBLE + b"\x00\x82\x80\x00\x01a"  # size 2 spelled in 3 bytes
    (section,) = wb.parse_sections(data)
    assert section.size == 2 and section.payload_offset == 12
    assert wb.assemble(wb.MODULE_PREAMBLE, [section]) == data
    rebuilt = wb.Section(section.id, section.offset, section.payload_offset, section.payload)
    assert rebuilt.encode() == b"\x00\x02\x01a"  # without a header: minimal encoding


def test_encode_section_frames_the_payload() -> None:
    payload = bytes(200)
    assert wb.encode_section(4, payload) == b"\x04\xc8\x01" + payload
    with pytest.raises(ValueError):
        wb.encode_section(256, b"")


def test_component_imports_and_exports() -> None:
    imports = wb.component_imports(COMPONENT)
    assert [(e.name, e.sort) for e in imports] == [
        ("test:compose/counter@0.1.0", "instance"),
        ("test:compose/log@0.1.0", "instance"),
    ]
    exports = wb.component_exports(PROVIDER)
    assert [(e.name, e.sort) for e in exports] == [
        ("test:compose/counter@0.1.0", "instance"),
        ("exports", "instance"),
    ]


def test_component_helpers_refuse_core_modules() -> None:
    with pytest.raises(WasmFormatError, match="core module"):
        wb.component_imports(MODULE)


def test_type_and_resource_imports_are_decoded() -> None:
    data = bytes(
        wat2wasm(
            """(component
                 (import "r" (type $r (sub resource)))
                 (type $u (record (field "x" u32)))
                 (import "t" (type (eq $u)))
                 (import "f" (func (param "x" (own $r)))))"""
        )
    )
    entries = wb.component_imports(data)
    assert [(e.name, e.sort) for e in entries] == [("r", "type"), ("t", "type"), ("f", "func")]
    assert entries[0].index is None and entries[1].index is not None


# --------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "preamble"),
        (b"\x00asm\x01\x00", "preamble"),
        (b"\x7fELF\x01\x00\x00\x00", "magic"),
        (b"\x00asm\x02\x00\x00\x00", "core wasm version"),
        (b"\x00asm\x0c\x00\x01\x00", "component-model version"),
        (b"\x00asm\x0d\x00\x02\x00", "layer"),
        (wb.MODULE_PREAMBLE + b"\x0e\x00", "unknown module section id 14"),
        (wb.COMPONENT_PREAMBLE + b"\x0d\x00", "unknown component section id 13"),
        (wb.MODULE_PREAMBLE + b"\x01", "truncated LEB128"),
        (wb.MODULE_PREAMBLE + b"\x01\x05abc", "claims 5 bytes but only 3 remain"),
        (wb.MODULE_PREAMBLE + b"\x00\x03\x09ab", "wanted"),  # custom name past its end
        (wb.MODULE_PREAMBLE + b"\x00\x03\x02\xff\xfe", "UTF-8"),
        (MODULE + b"\x00", "truncated LEB128"),  # a trailing byte that starts no section
    ],
)
def test_malformed_binaries_are_rejected(data: bytes, message: str) -> None:
    with pytest.raises(WasmFormatError, match=message) as info:
        wb.parse_sections(data)
    assert isinstance(info.value, HarnessError) and isinstance(info.value, ValueError)
    assert info.value.offset is not None
    assert info.value.explain().startswith("error: ")


def test_trailing_bytes_inside_an_import_section_are_rejected() -> None:
    sections = wb.parse_sections(COMPONENT)
    imports = next(s for s in sections if s.id == wb.SECTION_IMPORT)
    padded = [wb.encode_section(s.id, s.payload + b"\x00") if s is imports else s for s in sections]
    with pytest.raises(WasmFormatError, match="trailing"):
        wb.component_imports(wb.assemble(wb.COMPONENT_PREAMBLE, padded))


def _exercise(data: bytes) -> None:
    """Everything a caller may do with untrusted bytes; must raise only WasmFormatError."""
    sections = wb.parse_sections(data)
    wb.read_custom_sections(data, "name")
    if wb.binary_kind(data) == "component":
        wb.component_imports(data)
        wb.component_exports(data)
    assert wb.assemble(data[:8], sections) == data


@settings(max_examples=300)
@given(st.data())
def test_truncations_raise_only_format_errors(data: st.DataObject) -> None:
    source = data.draw(st.sampled_from([MODULE, COMPONENT, PROVIDER]))
    cut = data.draw(st.integers(min_value=0, max_value=len(source) - 1))
    with contextlib.suppress(WasmFormatError):
        _exercise(source[:cut])


@settings(max_examples=500)
@given(st.data())
def test_byte_flips_raise_only_format_errors(data: st.DataObject) -> None:
    source = bytearray(data.draw(st.sampled_from([MODULE, COMPONENT, PROVIDER])))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        index = data.draw(st.integers(min_value=0, max_value=len(source) - 1))
        source[index] = data.draw(st.integers(min_value=0, max_value=255))
    with contextlib.suppress(WasmFormatError):
        _exercise(bytes(source))


@settings(max_examples=300)
@given(st.binary(max_size=64))
def test_random_bodies_raise_only_format_errors(body: bytes) -> None:
    for preamble in (wb.MODULE_PREAMBLE, wb.COMPONENT_PREAMBLE):
        with contextlib.suppress(WasmFormatError):
            _exercise(preamble + body)


def test_truncating_at_every_offset_never_crashes() -> None:
    # Exhaustive over the small consumer component: each prefix parses or is rejected.
    rejected = 0
    for cut in range(len(COMPONENT)):
        try:
            _exercise(COMPONENT[:cut])
        except WasmFormatError:
            rejected += 1
    assert rejected > len(COMPONENT) // 2
