"""Reading and writing the section structure of WebAssembly binaries.

Both binary kinds share one layout: an 8-byte preamble (magic ``\\0asm`` then a 4-byte
version/layer field) followed by sections, each ``id:u8 size:u32(LEB128) payload``.
A core module has version 1 layer 0; a component (component-model binary format) has
version ``0x0d`` layer 1. This module knows that outer structure, LEB128, names and
custom sections, plus the import and export sections of a component (enough to list
what a component imports and exports without compiling it). It never interprets code.

Every malformed input raises :class:`~harness.errors.WasmFormatError` with the byte
offset of the problem; nothing else escapes the parsers (the property tests check this
over truncations and byte flips).

The composer uses it to cut type stubs out of components and to splice nested
components; the signing code uses it to append and find custom sections.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from harness.errors import WasmFormatError

MAGIC = b"\x00asm"
MODULE_VERSION = b"\x01\x00\x00\x00"
COMPONENT_VERSION = b"\x0d\x00\x01\x00"
MODULE_PREAMBLE = MAGIC + MODULE_VERSION
COMPONENT_PREAMBLE = MAGIC + COMPONENT_VERSION
PREAMBLE_SIZE = 8

BinaryKind = Literal["module", "component"]

# Section ids of a component (component-model Binary.md).
SECTION_CUSTOM = 0
SECTION_CORE_MODULE = 1
SECTION_CORE_INSTANCE = 2
SECTION_CORE_TYPE = 3
SECTION_COMPONENT = 4
SECTION_INSTANCE = 5
SECTION_ALIAS = 6
SECTION_TYPE = 7
SECTION_CANON = 8
SECTION_START = 9
SECTION_IMPORT = 10
SECTION_EXPORT = 11
SECTION_VALUE = 12

_MAX_SECTION_ID = {"module": 13, "component": 12}

# Sort bytes of a component sortidx / externdesc, by name.
SORT_CORE = 0x00
SORT_FUNC = 0x01
SORT_VALUE = 0x02
SORT_TYPE = 0x03
SORT_COMPONENT = 0x04
SORT_INSTANCE = 0x05

SORT_NAMES = {
    SORT_CORE: "core",
    SORT_FUNC: "func",
    SORT_VALUE: "value",
    SORT_TYPE: "type",
    SORT_COMPONENT: "component",
    SORT_INSTANCE: "instance",
}


# --------------------------------------------------------------------------- LEB128


def leb128_unsigned(value: int) -> bytes:
    """Encode a non-negative integer as unsigned LEB128 (minimal length)."""
    if value < 0:
        raise ValueError(f"unsigned LEB128 cannot encode {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def leb128_signed(value: int) -> bytes:
    """Encode an integer as signed LEB128 (minimal length)."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40)
        out.append(byte if done else byte | 0x80)
        if done:
            return bytes(out)


def leb128_u32(value: int) -> bytes:
    """Encode a ``u32`` as unsigned LEB128; raise ValueError outside 0..2**32-1."""
    if not 0 <= value < 1 << 32:
        raise ValueError(f"{value} is not a u32")
    return leb128_unsigned(value)


def leb128_s32(value: int) -> bytes:
    """Encode an ``s32`` as signed LEB128; raise ValueError outside its range."""
    if not -(1 << 31) <= value < 1 << 31:
        raise ValueError(f"{value} is not an s32")
    return leb128_signed(value)


def leb128_s64(value: int) -> bytes:
    """Encode an ``s64`` as signed LEB128; raise ValueError outside its range."""
    if not -(1 << 63) <= value < 1 << 63:
        raise ValueError(f"{value} is not an s64")
    return leb128_signed(value)


def read_leb128_unsigned(data: bytes, pos: int, bits: int = 32) -> tuple[int, int]:
    """Decode an unsigned LEB128 of at most ``bits`` bits at ``pos``.

    Returns ``(value, position after it)``. Follows the wasm spec strictly: at most
    ``ceil(bits / 7)`` bytes, and the unused high bits of the last byte must be zero.
    """
    result = 0
    shift = 0
    max_bytes = (bits + 6) // 7
    start = pos
    for i in range(max_bytes):
        if pos >= len(data):
            raise WasmFormatError("truncated LEB128 integer", offset=start)
        byte = data[pos]
        pos += 1
        if i == max_bytes - 1:
            spare = bits - 7 * i
            if byte & 0x80 or byte >> spare:
                raise WasmFormatError(f"LEB128 integer too large for u{bits}", offset=start)
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos
    raise AssertionError("unreachable: the last byte always returns or raises")


def read_leb128_signed(data: bytes, pos: int, bits: int = 32) -> tuple[int, int]:
    """Decode a signed LEB128 of at most ``bits`` bits at ``pos``.

    Returns ``(value, position after it)``. The unused bits of the last byte must be a
    sign extension, as the wasm spec requires.
    """
    result = 0
    shift = 0
    max_bytes = (bits + 6) // 7
    start = pos
    for i in range(max_bytes):
        if pos >= len(data):
            raise WasmFormatError("truncated LEB128 integer", offset=start)
        byte = data[pos]
        pos += 1
        if i == max_bytes - 1:
            # The remaining payload bits (bits - 7i) hold the value; the bits above
            # them, up to bit 6, must all equal its sign bit.
            used = bits - 7 * i
            high = (byte & 0x7F) >> (used - 1)
            if byte & 0x80 or high not in (0, (1 << (8 - used)) - 1):
                raise WasmFormatError(f"LEB128 integer too large for s{bits}", offset=start)
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if byte & 0x40:
                result -= 1 << shift
            return result, pos
    raise AssertionError("unreachable: the last byte always returns or raises")


def read_leb128_u32(data: bytes, pos: int) -> tuple[int, int]:
    """Decode a ``u32`` LEB128 at ``pos``; return ``(value, next position)``."""
    return read_leb128_unsigned(data, pos, 32)


def read_leb128_s32(data: bytes, pos: int) -> tuple[int, int]:
    """Decode an ``s32`` LEB128 at ``pos``; return ``(value, next position)``."""
    return read_leb128_signed(data, pos, 32)


def read_leb128_s64(data: bytes, pos: int) -> tuple[int, int]:
    """Decode an ``s64`` LEB128 at ``pos``; return ``(value, next position)``."""
    return read_leb128_signed(data, pos, 64)


# --------------------------------------------------------------------------- reader


class ByteReader:
    """A cursor over a payload that raises WasmFormatError instead of running off the end.

    ``base`` is the absolute offset of ``data[0]`` in the whole binary, so errors name
    the offset a user can find with a hex dump.
    """

    def __init__(self, data: bytes, base: int = 0) -> None:
        self.data = data
        self.base = base
        self.pos = 0

    @property
    def offset(self) -> int:
        """Absolute offset of the cursor."""
        return self.base + self.pos

    def at_end(self) -> bool:
        """True when every byte has been consumed."""
        return self.pos >= len(self.data)

    def expect_end(self, what: str) -> None:
        """Raise if bytes are left over after ``what``."""
        if not self.at_end():
            raise WasmFormatError(
                f"{len(self.data) - self.pos} unexpected trailing bytes after {what}",
                offset=self.offset,
            )

    def u8(self) -> int:
        """Read one byte."""
        if self.pos >= len(self.data):
            raise WasmFormatError("unexpected end of data", offset=self.offset)
        byte = self.data[self.pos]
        self.pos += 1
        return byte

    def peek(self) -> int:
        """Return the next byte without consuming it."""
        if self.pos >= len(self.data):
            raise WasmFormatError("unexpected end of data", offset=self.offset)
        return self.data[self.pos]

    def u32(self) -> int:
        """Read an unsigned LEB128 ``u32``."""
        try:
            value, self.pos = read_leb128_unsigned(self.data, self.pos, 32)
        except WasmFormatError as exc:
            raise WasmFormatError(_strip_offset(exc), offset=self.offset) from None
        return value

    def s33(self) -> int:
        """Read a signed LEB128 ``s33`` (the encoding of component value types)."""
        try:
            value, self.pos = read_leb128_signed(self.data, self.pos, 33)
        except WasmFormatError as exc:
            raise WasmFormatError(_strip_offset(exc), offset=self.offset) from None
        return value

    def take(self, count: int) -> bytes:
        """Read ``count`` raw bytes."""
        if count > len(self.data) - self.pos:
            raise WasmFormatError(
                f"{count} bytes wanted but only {len(self.data) - self.pos} left",
                offset=self.offset,
            )
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def name(self) -> str:
        """Read a length-prefixed UTF-8 name."""
        start = self.offset
        raw = self.take(self.u32())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise WasmFormatError("name is not valid UTF-8", offset=start) from None


def _strip_offset(exc: WasmFormatError) -> str:
    """The message of ``exc`` without its "(at byte offset N)" suffix."""
    return exc.message.split(" (at byte offset")[0]


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class Section:
    """One top-level section: its id, where it starts, and its payload.

    ``offset`` is the offset of the id byte; ``payload_offset`` of the first payload byte.
    ``header`` is the id and size bytes as they were read (the size may legally use a
    longer LEB128 than needed), so a parsed section re-encodes to its original bytes.
    """

    id: int
    offset: int
    payload_offset: int
    payload: bytes
    header: bytes = b""

    @property
    def size(self) -> int:
        """Payload size in bytes."""
        return len(self.payload)

    @property
    def end(self) -> int:
        """Offset just past the section."""
        return self.payload_offset + len(self.payload)

    def encode(self) -> bytes:
        """The section's bytes: id, LEB128 size, payload (the original header if known)."""
        if self.header:
            return self.header + self.payload
        return encode_section(self.id, self.payload)


def binary_kind(data: bytes) -> BinaryKind:
    """Return whether ``data`` starts with a core-module or a component preamble."""
    if len(data) < PREAMBLE_SIZE:
        raise WasmFormatError(f"only {len(data)} bytes; a wasm preamble is 8 bytes", offset=0)
    if data[:4] != MAGIC:
        raise WasmFormatError("bad magic: not a WebAssembly binary", offset=0)
    version = bytes(data[4:8])
    if version == MODULE_VERSION:
        return "module"
    if version == COMPONENT_VERSION:
        return "component"
    if version[2:4] == b"\x01\x00":
        raise WasmFormatError(
            f"unsupported component-model version 0x{version[0]:02x}{version[1]:02x}", offset=4
        )
    if version[2:4] == b"\x00\x00":
        raise WasmFormatError(f"unsupported core wasm version {version.hex()}", offset=4)
    raise WasmFormatError(f"unknown layer 0x{version[3]:02x}{version[2]:02x}", offset=6)


def iter_sections(data: bytes) -> Iterator[Section]:
    """Yield the top-level sections of a module or component, checking the framing.

    The preamble, each section's id, its size against the bytes that remain, and (for
    custom sections) the name inside the payload are checked as they are reached.
    """
    kind = binary_kind(data)
    max_id = _MAX_SECTION_ID[kind]
    pos = PREAMBLE_SIZE
    end = len(data)
    while pos < end:
        start = pos
        section_id = data[pos]
        if section_id > max_id:
            raise WasmFormatError(f"unknown {kind} section id {section_id}", offset=start)
        size, pos = read_leb128_u32(data, pos + 1)
        if size > end - pos:
            raise WasmFormatError(
                f"section {section_id} claims {size} bytes but only {end - pos} remain",
                offset=start,
            )
        section = Section(
            section_id, start, pos, bytes(data[pos : pos + size]), bytes(data[start:pos])
        )
        if section_id == SECTION_CUSTOM:
            parse_custom(section)
        pos += size
        yield section


def parse_sections(data: bytes) -> list[Section]:
    """Return all top-level sections of a module or component (see :func:`iter_sections`)."""
    return list(iter_sections(data))


def encode_section(section_id: int, payload: bytes) -> bytes:
    """Encode one section: id byte, LEB128 payload size, payload."""
    if not 0 <= section_id <= 0xFF:
        raise ValueError(f"section id {section_id} is not a byte")
    return bytes([section_id]) + leb128_u32(len(payload)) + payload


def encode_name(name: str) -> bytes:
    """Encode a length-prefixed UTF-8 name."""
    raw = name.encode("utf-8")
    return leb128_u32(len(raw)) + raw


def custom_section(name: str, data: bytes) -> bytes:
    """Encode a custom section (id 0) holding ``name`` and ``data``."""
    return encode_section(SECTION_CUSTOM, encode_name(name) + data)


def parse_custom(section: Section) -> tuple[str, bytes]:
    """Split a custom section's payload into its name and its data."""
    if section.id != SECTION_CUSTOM:
        raise ValueError(f"section {section.id} is not a custom section")
    reader = ByteReader(section.payload, section.payload_offset)
    name = reader.name()
    return name, section.payload[reader.pos :]


def read_custom_sections(data: bytes, name: str) -> list[bytes]:
    """Return the data of every top-level custom section called ``name``, in order."""
    found = []
    for section in iter_sections(data):
        if section.id == SECTION_CUSTOM:
            section_name, payload = parse_custom(section)
            if section_name == name:
                found.append(payload)
    return found


def assemble(preamble: bytes, sections: Iterable[Section | bytes]) -> bytes:
    """Rebuild a binary from a preamble and sections (Section objects or encoded bytes)."""
    if len(preamble) != PREAMBLE_SIZE:
        raise ValueError("a preamble is 8 bytes")
    parts = [preamble]
    for section in sections:
        parts.append(section.encode() if isinstance(section, Section) else section)
    return b"".join(parts)


# --------------------------------------------------------------------------- components


@dataclass(frozen=True)
class ExternEntry:
    """One entry of a component's import or export section.

    ``sort`` is ``"func"``, ``"value"``, ``"type"``, ``"component"``, ``"instance"`` or
    ``"module"`` (a core module). ``index`` is the type index of an import's descriptor
    or the item index of an export (``None`` for a type-bound import with a
    ``(sub resource)`` bound).
    """

    name: str
    sort: str
    index: int | None


def _extern_name(reader: ByteReader) -> str:
    """Read an importname'/exportname' (plain, interface or with name options)."""
    start = reader.offset
    tag = reader.u8()
    if tag in (0x00, 0x01):
        return reader.name()
    if tag == 0x02:
        name = reader.name()
        for _ in range(reader.u32()):
            option = reader.u8()
            if option not in (0x00, 0x01):
                raise WasmFormatError(f"unknown name option 0x{option:02x}", offset=start)
            reader.name()
        return name
    raise WasmFormatError(f"unknown extern name tag 0x{tag:02x}", offset=start)


def _extern_desc(reader: ByteReader) -> tuple[str, int | None]:
    """Read an externdesc; return its sort and the index it carries."""
    start = reader.offset
    tag = reader.u8()
    if tag == 0x00:
        if reader.u8() != 0x11:
            raise WasmFormatError("bad core module extern descriptor", offset=start)
        return "module", reader.u32()
    if tag in (0x01, 0x04, 0x05):
        return SORT_NAMES[tag], reader.u32()
    if tag == 0x02:
        bound = reader.u8()
        if bound == 0x00:
            return "value", reader.u32()
        if bound == 0x01:
            return "value", reader.s33()
        raise WasmFormatError(f"unknown value bound 0x{bound:02x}", offset=start)
    if tag == 0x03:
        bound = reader.u8()
        if bound == 0x00:
            return "type", reader.u32()
        if bound == 0x01:
            return "type", None
        raise WasmFormatError(f"unknown type bound 0x{bound:02x}", offset=start)
    raise WasmFormatError(f"unknown extern descriptor 0x{tag:02x}", offset=start)


def _sort_index(reader: ByteReader) -> tuple[str, int]:
    """Read a sortidx."""
    start = reader.offset
    sort = reader.u8()
    if sort == SORT_CORE:
        core_sort = reader.u8()
        if core_sort != 0x11:
            raise WasmFormatError(f"unexpected core sort 0x{core_sort:02x}", offset=start)
        return "module", reader.u32()
    if sort not in SORT_NAMES:
        raise WasmFormatError(f"unknown sort 0x{sort:02x}", offset=start)
    return SORT_NAMES[sort], reader.u32()


def parse_component_imports(section: Section) -> list[ExternEntry]:
    """Decode a component import section (id 10) into its entries."""
    if section.id != SECTION_IMPORT:
        raise ValueError(f"section {section.id} is not an import section")
    reader = ByteReader(section.payload, section.payload_offset)
    entries = []
    for _ in range(reader.u32()):
        name = _extern_name(reader)
        sort, index = _extern_desc(reader)
        entries.append(ExternEntry(name, sort, index))
    reader.expect_end("the import section")
    return entries


def parse_component_exports(section: Section) -> list[ExternEntry]:
    """Decode a component export section (id 11) into its entries."""
    if section.id != SECTION_EXPORT:
        raise ValueError(f"section {section.id} is not an export section")
    reader = ByteReader(section.payload, section.payload_offset)
    entries = []
    for _ in range(reader.u32()):
        name = _extern_name(reader)
        sort, index = _sort_index(reader)
        ascribed = reader.u8()
        if ascribed == 0x01:
            _extern_desc(reader)
        elif ascribed != 0x00:
            raise WasmFormatError("bad export type ascription flag", offset=reader.offset - 1)
        entries.append(ExternEntry(name, sort, index))
    reader.expect_end("the export section")
    return entries


def component_imports(data: bytes) -> list[ExternEntry]:
    """All top-level imports of a component, in declaration order."""
    return [
        entry
        for section in _component_sections(data)
        if section.id == SECTION_IMPORT
        for entry in parse_component_imports(section)
    ]


def component_exports(data: bytes) -> list[ExternEntry]:
    """All top-level exports of a component, in declaration order."""
    return [
        entry
        for section in _component_sections(data)
        if section.id == SECTION_EXPORT
        for entry in parse_component_exports(section)
    ]


def _component_sections(data: bytes) -> list[Section]:
    if binary_kind(data) != "component":
        raise WasmFormatError("expected a component, found a core module", offset=4)
    return parse_sections(data)


# --------------------------------------------------------------------------- manifest

#: The custom section in which the composer records a composed component's nodes.
MANIFEST_SECTION = "matter-harness:composition"


def read_manifest(component: bytes) -> dict[str, Any] | None:
    """The composition manifest embedded in a composed component, or None if absent."""
    sections = read_custom_sections(component, MANIFEST_SECTION)
    if not sections:
        return None
    try:
        manifest = json.loads(sections[-1].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WasmFormatError(f"the {MANIFEST_SECTION} section is not JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise WasmFormatError(f"the {MANIFEST_SECTION} section is not a JSON object")
    return manifest
