"""Matter TLV decoding: :class:`ByteReader`, :func:`decode` and the :class:`TLVStruct` view.

The reader accepts every integer and length width and is strict about everything else;
any malformed input raises :class:`~matter_core.errors.DecodeError` and nothing else.
:class:`TLVStruct` is a read-only view of a context-tagged structure with typed getters,
which the message codecs use to pull fields out with field-named errors.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from typing import TypeVar

from .errors import DecodeError
from .tlv_elements import (
    _CODE_CONTAINERS,
    _END,
    _FALSE,
    _FLOAT32,
    _FLOAT64,
    _NULL,
    _OCTETS,
    _TAG_ANONYMOUS,
    _TAG_COMMON_2,
    _TAG_COMMON_4,
    _TAG_CONTEXT,
    _TAG_FULL_6,
    _TAG_IMPLICIT_2,
    _TAG_IMPLICIT_4,
    _TRUE,
    _UNSIGNED,
    _UTF8,
    _WIDTHS,
    Element,
    ElementType,
    ProfileTag,
    Tag,
    TagForm,
    _check_tag_placement,
)

_T = TypeVar("_T")

MAX_NESTING_DEPTH = 16
"""Deepest container nesting the reader accepts (a top-level container is depth 1)."""


class ByteReader:
    """A cursor over immutable bytes whose pulls raise DecodeError on truncation.

    The one buffer type under the TLV reader and the message-header codecs.
    """

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._data = bytes(data)
        self._pos = 0

    @property
    def position(self) -> int:
        """Offset of the next byte to be read."""
        return self._pos

    @property
    def remaining(self) -> int:
        """Number of bytes not read yet."""
        return len(self._data) - self._pos

    def at_end(self) -> bool:
        """True when every byte has been read."""
        return self._pos >= len(self._data)

    def pull_bytes(self, length: int, what: str = "data") -> bytes:
        """Read exactly ``length`` bytes."""
        end = self._pos + length
        if length < 0 or end > len(self._data):
            raise DecodeError(f"truncated {what}: need {length} bytes, {self.remaining} left")
        out = self._data[self._pos : end]
        self._pos = end
        return out

    def pull_uint(self, width: int, what: str = "integer") -> int:
        """Read an unsigned little-endian integer of ``width`` bytes."""
        return int.from_bytes(self.pull_bytes(width, what), "little")

    def pull_int(self, width: int, what: str = "integer") -> int:
        """Read a two's-complement little-endian integer of ``width`` bytes."""
        return int.from_bytes(self.pull_bytes(width, what), "little", signed=True)

    def pull_u8(self, what: str = "u8") -> int:
        """Read one byte."""
        return self.pull_uint(1, what)

    def pull_u16(self, what: str = "u16") -> int:
        """Read a little-endian u16."""
        return self.pull_uint(2, what)

    def pull_u32(self, what: str = "u32") -> int:
        """Read a little-endian u32."""
        return self.pull_uint(4, what)

    def pull_u64(self, what: str = "u64") -> int:
        """Read a little-endian u64."""
        return self.pull_uint(8, what)

    def pull_rest(self) -> bytes:
        """Read every remaining byte (possibly none)."""
        return self.pull_bytes(self.remaining)

    def require_end(self, what: str = "data") -> None:
        """Raise DecodeError if unread bytes remain."""
        if not self.at_end():
            raise DecodeError(f"{self.remaining} trailing bytes after {what}")


def _pull_tag(reader: ByteReader, tag_control: int) -> Tag:
    if tag_control == _TAG_ANONYMOUS:
        return None
    if tag_control == _TAG_CONTEXT:
        return reader.pull_u8("context tag")
    if tag_control in (_TAG_COMMON_2, _TAG_COMMON_4):
        width = 2 if tag_control == _TAG_COMMON_2 else 4
        return ProfileTag(TagForm.COMMON_PROFILE, reader.pull_uint(width, "profile tag"))
    if tag_control in (_TAG_IMPLICIT_2, _TAG_IMPLICIT_4):
        width = 2 if tag_control == _TAG_IMPLICIT_2 else 4
        return ProfileTag(TagForm.IMPLICIT_PROFILE, reader.pull_uint(width, "profile tag"))
    vendor = reader.pull_u16("tag vendor id")
    profile = reader.pull_u16("tag profile number")
    width = 2 if tag_control == _TAG_FULL_6 else 4
    number = reader.pull_uint(width, "profile tag")
    return ProfileTag(TagForm.FULLY_QUALIFIED, number, vendor, profile)


def _pull_element(
    reader: ByteReader, parent: ElementType | None, depth: int, max_depth: int
) -> Element | None:
    """One element, or None for an end-of-container inside a container."""
    control = reader.pull_u8("element control byte")
    tag_control, code = control & 0xE0, control & 0x1F
    if code == _END:
        if parent is None:
            raise DecodeError("end-of-container outside any container")
        if tag_control != _TAG_ANONYMOUS:
            raise DecodeError("end-of-container must not carry a tag")
        return None
    if code > _END:
        raise DecodeError(f"unknown TLV element type 0x{code:02x}")
    tag = _pull_tag(reader, tag_control)
    problem = _check_tag_placement(tag, parent)
    if problem:
        raise DecodeError(problem)

    if code < _UNSIGNED:
        return Element(tag, ElementType.SIGNED_INT, reader.pull_int(_WIDTHS[code], "signed int"))
    if code < _FALSE:
        width = _WIDTHS[code - _UNSIGNED]
        return Element(tag, ElementType.UNSIGNED_INT, reader.pull_uint(width, "unsigned int"))
    if code in (_FALSE, _TRUE):
        return Element(tag, ElementType.BOOL, code == _TRUE)
    if code == _FLOAT32:
        (f32,) = struct.unpack("<f", reader.pull_bytes(4, "float32"))
        return Element(tag, ElementType.FLOAT32, f32)
    if code == _FLOAT64:
        (f64,) = struct.unpack("<d", reader.pull_bytes(8, "float64"))
        return Element(tag, ElementType.FLOAT64, f64)
    if code < _OCTETS:
        length = reader.pull_uint(_WIDTHS[code - _UTF8], "string length")
        raw = reader.pull_bytes(length, "UTF-8 string")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"invalid UTF-8 in string: {exc.reason}") from None
        return Element(tag, ElementType.UTF8_STRING, text)
    if code < _NULL:
        length = reader.pull_uint(_WIDTHS[code - _OCTETS], "octet string length")
        return Element(tag, ElementType.OCTET_STRING, reader.pull_bytes(length, "octet string"))
    if code == _NULL:
        return Element(tag, ElementType.NULL, None)

    kind = _CODE_CONTAINERS[code]
    if depth + 1 > max_depth:
        raise DecodeError(f"containers nested deeper than {max_depth}")
    members: list[Element] = []
    while True:
        if reader.at_end():
            raise DecodeError(f"unterminated {kind.name.lower()}")
        child = _pull_element(reader, kind, depth + 1, max_depth)
        if child is None:
            return Element(tag, kind, tuple(members))
        members.append(child)


def decode(data: bytes | bytearray | memoryview, *, max_depth: int = MAX_NESTING_DEPTH) -> Element:
    """Decode exactly one top-level element; trailing bytes are an error."""
    reader = ByteReader(data)
    if reader.at_end():
        raise DecodeError("empty TLV")
    element = _pull_element(reader, None, 0, max_depth)
    if element is None:  # pragma: no cover - _pull_element raises for a top-level end
        raise DecodeError("end-of-container outside any container")
    reader.require_end("the top-level TLV element")
    return element


class TLVStruct(Mapping[int, Element]):
    """A read-only view of a structure whose members all carry distinct context tags.

    Maps tag number to member, keeps the wire order in :attr:`tags`, and offers typed
    getters that raise DecodeError naming the field (``names`` maps tag numbers to
    field names for those messages). ``get_*`` return None when the field is absent;
    ``require_*`` raise.
    """

    __slots__ = ("_members", "element", "names", "tags")

    def __init__(self, element: Element, names: Mapping[int, str] | None = None) -> None:
        if element.type != ElementType.STRUCTURE:
            raise DecodeError(f"expected a structure, got {element.type.name}")
        self.element = element
        self.names: Mapping[int, str] = names or {}
        members: dict[int, Element] = {}
        for child in element.children:
            if not isinstance(child.tag, int):
                raise DecodeError(f"structure member with non-context tag {child.tag!r}")
            if child.tag in members:
                raise DecodeError(f"duplicate {self._field(child.tag)}")
            members[child.tag] = child
        self._members = members
        self.tags: tuple[int, ...] = tuple(members)

    @classmethod
    def decode(
        cls, data: bytes | bytearray | memoryview, names: Mapping[int, str] | None = None
    ) -> TLVStruct:
        """Decode a payload that must be one anonymous context-tagged structure."""
        element = decode(data)
        if element.tag is not None:
            raise DecodeError("top-level structure must be anonymous")
        return cls(element, names)

    def __getitem__(self, tag: int) -> Element:
        return self._members[tag]

    def __iter__(self) -> Iterator[int]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def _field(self, tag: int) -> str:
        name = self.names.get(tag)
        return f"field {name} (tag {tag})" if name else f"field tag {tag}"

    def require_ascending_tags(self) -> None:
        """Raise DecodeError unless members appear in increasing tag order."""
        for before, after in zip(self.tags, self.tags[1:], strict=False):
            if after <= before:
                raise DecodeError(f"{self._field(after)} out of order after tag {before}")

    def _typed(self, tag: int, kind: ElementType) -> Element | None:
        element = self._members.get(tag)
        if element is not None and element.type != kind:
            raise DecodeError(f"{self._field(tag)}: expected {kind.name}, got {element.type.name}")
        return element

    def _present(self, tag: int, value: _T | None) -> _T:
        if value is None:
            raise DecodeError(f"missing {self._field(tag)}")
        return value

    def get_uint(self, tag: int, *, bits: int = 64) -> int | None:
        """An unsigned integer that must fit in ``bits`` bits, or None if absent."""
        element = self._typed(tag, ElementType.UNSIGNED_INT)
        if element is None:
            return None
        value = element.value
        assert isinstance(value, int)
        if value >= 1 << bits:
            raise DecodeError(f"{self._field(tag)}: {value} does not fit in {bits} bits")
        return value

    def require_uint(self, tag: int, *, bits: int = 64) -> int:
        """Like :meth:`get_uint`, but the field must be present."""
        return self._present(tag, self.get_uint(tag, bits=bits))

    def get_bool(self, tag: int) -> bool | None:
        """A boolean, or None if absent."""
        element = self._typed(tag, ElementType.BOOL)
        return None if element is None else bool(element.value)

    def require_bool(self, tag: int) -> bool:
        """Like :meth:`get_bool`, but the field must be present."""
        return self._present(tag, self.get_bool(tag))

    def get_bytes(
        self,
        tag: int,
        *,
        length: int | None = None,
        min_length: int = 0,
        max_length: int | None = None,
    ) -> bytes | None:
        """An octet string with an exact ``length`` or within the bounds, or None."""
        element = self._typed(tag, ElementType.OCTET_STRING)
        if element is None:
            return None
        value = element.value
        assert isinstance(value, bytes)
        if length is not None and len(value) != length:
            raise DecodeError(f"{self._field(tag)}: expected {length} bytes, got {len(value)}")
        if len(value) < min_length or (max_length is not None and len(value) > max_length):
            raise DecodeError(
                f"{self._field(tag)}: length {len(value)} outside {min_length}..{max_length}"
            )
        return value

    def require_bytes(
        self,
        tag: int,
        *,
        length: int | None = None,
        min_length: int = 0,
        max_length: int | None = None,
    ) -> bytes:
        """Like :meth:`get_bytes`, but the field must be present."""
        value = self.get_bytes(tag, length=length, min_length=min_length, max_length=max_length)
        return self._present(tag, value)

    def get_struct(self, tag: int, names: Mapping[int, str] | None = None) -> TLVStruct | None:
        """A nested context-tagged structure as a :class:`TLVStruct`, or None."""
        element = self._typed(tag, ElementType.STRUCTURE)
        return None if element is None else TLVStruct(element, names)

    def require_struct(self, tag: int, names: Mapping[int, str] | None = None) -> TLVStruct:
        """Like :meth:`get_struct`, but the field must be present."""
        return self._present(tag, self.get_struct(tag, names))
