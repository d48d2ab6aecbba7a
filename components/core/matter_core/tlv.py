"""Matter TLV: one reader and one writer for every TLV payload in the core.

Wire format (pase-facts.md 3.6, CHIP ``TLVTypes.h`` / ``TLVTags.h``): each element is a
control byte (tag control in bits 7..5, element type in bits 4..0), the tag bytes, then
the length or value, all little-endian.

Decoded elements are :class:`Element` trees. The writer always picks the smallest integer
width and the smallest string-length width, as CHIP, rs-matter and CircuitMatter do, so
re-encoding a minimally encoded message reproduces it byte for byte. The reader accepts
every width and is strict about everything else; any malformed input raises
:class:`~matter_core.errors.DecodeError` and nothing else.

:class:`TLVStruct` is a read-only view of a context-tagged structure with typed getters,
which the message codecs use to pull fields out with field-named errors.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeAlias, TypeVar

from .errors import DecodeError

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


class TagForm(IntEnum):
    """The profile-tag forms (everything except anonymous and context tags)."""

    COMMON_PROFILE = 1
    IMPLICIT_PROFILE = 2
    FULLY_QUALIFIED = 3


@dataclass(frozen=True, slots=True)
class ProfileTag:
    """A common-profile, implicit-profile or fully-qualified tag.

    ``vendor_id`` and ``profile_number`` only mean something for fully-qualified tags and
    stay 0 otherwise. The writer uses the 2-byte tag-number form when the number fits.
    """

    form: TagForm
    tag_number: int
    vendor_id: int = 0
    profile_number: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.tag_number <= 0xFFFFFFFF:
            raise ValueError("profile tag number must fit in 32 bits")
        if not (0 <= self.vendor_id <= 0xFFFF and 0 <= self.profile_number <= 0xFFFF):
            raise ValueError("vendor id and profile number must fit in 16 bits")
        if self.form != TagForm.FULLY_QUALIFIED and (self.vendor_id or self.profile_number):
            raise ValueError("only fully-qualified tags carry a vendor id and profile number")


Tag: TypeAlias = int | ProfileTag | None
"""``None`` = anonymous, ``int`` = context-specific tag (0..255), else a :class:`ProfileTag`."""


class ElementType(IntEnum):
    """Kinds of decoded element (the width is not kept: the writer picks the smallest)."""

    SIGNED_INT = 1
    UNSIGNED_INT = 2
    BOOL = 3
    FLOAT32 = 4
    FLOAT64 = 5
    UTF8_STRING = 6
    OCTET_STRING = 7
    NULL = 8
    STRUCTURE = 9
    ARRAY = 10
    LIST = 11


CONTAINER_TYPES = frozenset({ElementType.STRUCTURE, ElementType.ARRAY, ElementType.LIST})
"""Element types whose value is a tuple of child elements."""

Value: TypeAlias = "int | bool | float | str | bytes | tuple[Element, ...] | None"


@dataclass(frozen=True, slots=True)
class Element:
    """One TLV element: its tag, kind and value (a tuple of children for containers)."""

    tag: Tag
    type: ElementType
    value: Value

    @property
    def children(self) -> tuple[Element, ...]:
        """The members of a container element; DecodeError for any other kind."""
        if self.type not in CONTAINER_TYPES or not isinstance(self.value, tuple):
            raise DecodeError(f"expected a container, got {self.type.name}")
        return self.value


def uint(tag: Tag, value: int) -> Element:
    """An unsigned-integer element."""
    return Element(tag, ElementType.UNSIGNED_INT, value)


def sint(tag: Tag, value: int) -> Element:
    """A signed-integer element."""
    return Element(tag, ElementType.SIGNED_INT, value)


def boolean(tag: Tag, value: bool) -> Element:
    """A boolean element."""
    return Element(tag, ElementType.BOOL, value)


def float32(tag: Tag, value: float) -> Element:
    """A single-precision float element."""
    return Element(tag, ElementType.FLOAT32, value)


def float64(tag: Tag, value: float) -> Element:
    """A double-precision float element."""
    return Element(tag, ElementType.FLOAT64, value)


def utf8(tag: Tag, value: str) -> Element:
    """A UTF-8 string element."""
    return Element(tag, ElementType.UTF8_STRING, value)


def octets(tag: Tag, value: bytes) -> Element:
    """An octet-string element."""
    return Element(tag, ElementType.OCTET_STRING, bytes(value))


def null(tag: Tag) -> Element:
    """A null element."""
    return Element(tag, ElementType.NULL, None)


def structure(tag: Tag, members: Sequence[Element]) -> Element:
    """A structure element."""
    return Element(tag, ElementType.STRUCTURE, tuple(members))


def array(tag: Tag, members: Sequence[Element]) -> Element:
    """An array element (members are anonymous)."""
    return Element(tag, ElementType.ARRAY, tuple(members))


def tlv_list(tag: Tag, members: Sequence[Element]) -> Element:
    """A list element (members may have any tag)."""
    return Element(tag, ElementType.LIST, tuple(members))


# Wire element-type codes (bits 4..0 of the control byte).
_SIGNED = 0x00  # 0x00..0x03: 1, 2, 4, 8 bytes
_UNSIGNED = 0x04  # 0x04..0x07
_FALSE = 0x08
_TRUE = 0x09
_FLOAT32 = 0x0A
_FLOAT64 = 0x0B
_UTF8 = 0x0C  # 0x0C..0x0F: 1, 2, 4, 8-byte length
_OCTETS = 0x10  # 0x10..0x13
_NULL = 0x14
_STRUCTURE = 0x15
_ARRAY = 0x16
_LIST = 0x17
_END = 0x18

_WIDTHS = (1, 2, 4, 8)
_CONTAINER_CODES = {
    ElementType.STRUCTURE: _STRUCTURE,
    ElementType.ARRAY: _ARRAY,
    ElementType.LIST: _LIST,
}
_CODE_CONTAINERS = {code: kind for kind, code in _CONTAINER_CODES.items()}

# Tag-control values (bits 7..5 of the control byte).
_TAG_ANONYMOUS = 0x00
_TAG_CONTEXT = 0x20
_TAG_COMMON_2 = 0x40
_TAG_COMMON_4 = 0x60
_TAG_IMPLICIT_2 = 0x80
_TAG_IMPLICIT_4 = 0xA0
_TAG_FULL_6 = 0xC0
_TAG_FULL_8 = 0xE0


def _width_index_unsigned(value: int) -> int:
    for index, width in enumerate(_WIDTHS):
        if value < 1 << (8 * width):
            return index
    raise ValueError(f"unsigned integer {value} does not fit in 64 bits")


def _width_index_signed(value: int) -> int:
    for index, width in enumerate(_WIDTHS):
        if -(1 << (8 * width - 1)) <= value < 1 << (8 * width - 1):
            return index
    raise ValueError(f"signed integer {value} does not fit in 64 bits")


def _check_tag_placement(tag: Tag, parent: ElementType | None) -> str | None:
    """Why ``tag`` may not appear inside ``parent`` (None: it may). Rules of CHIP's reader."""
    if parent is None:
        if isinstance(tag, int):
            return "a context tag is not allowed at top level"
    elif parent == ElementType.STRUCTURE:
        if tag is None:
            return "structure members must be tagged"
    elif parent == ElementType.ARRAY and tag is not None:
        return "array members must be anonymous"
    return None


class TLVWriter:
    """Builds a TLV encoding element by element, always with minimal widths.

    Misuse (a value out of range, a tag not allowed where it is put, an unclosed
    container) is our own bug and raises ValueError or TypeError.
    """

    __slots__ = ("_buf", "_stack")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._stack: list[ElementType] = []

    def _head(self, tag: Tag, code: int) -> None:
        problem = _check_tag_placement(tag, self._stack[-1] if self._stack else None)
        if problem:
            raise ValueError(problem)
        if tag is None:
            self._buf.append(_TAG_ANONYMOUS | code)
        elif isinstance(tag, ProfileTag):
            self._profile_tag(tag, code)
        elif isinstance(tag, int) and not isinstance(tag, bool):
            if not 0 <= tag <= 0xFF:
                raise ValueError(f"context tag {tag} out of range 0..255")
            self._buf += bytes((_TAG_CONTEXT | code, tag))
        else:
            raise TypeError(f"invalid tag {tag!r}")

    def _profile_tag(self, tag: ProfileTag, code: int) -> None:
        short = tag.tag_number <= 0xFFFF
        width = 2 if short else 4
        if tag.form == TagForm.COMMON_PROFILE:
            control = _TAG_COMMON_2 if short else _TAG_COMMON_4
            prefix = b""
        elif tag.form == TagForm.IMPLICIT_PROFILE:
            control = _TAG_IMPLICIT_2 if short else _TAG_IMPLICIT_4
            prefix = b""
        else:
            control = _TAG_FULL_6 if short else _TAG_FULL_8
            prefix = tag.vendor_id.to_bytes(2, "little") + tag.profile_number.to_bytes(2, "little")
        self._buf.append(control | code)
        self._buf += prefix + tag.tag_number.to_bytes(width, "little")

    def put_uint(self, tag: Tag, value: int) -> None:
        """Append an unsigned integer in the smallest of u8/u16/u32/u64."""
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError("unsigned integer value must be an int")
        if value < 0:
            raise ValueError(f"unsigned integer {value} is negative")
        index = _width_index_unsigned(value)
        self._head(tag, _UNSIGNED + index)
        self._buf += value.to_bytes(_WIDTHS[index], "little")

    def put_int(self, tag: Tag, value: int) -> None:
        """Append a signed integer in the smallest of s8/s16/s32/s64."""
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError("signed integer value must be an int")
        index = _width_index_signed(value)
        self._head(tag, _SIGNED + index)
        self._buf += value.to_bytes(_WIDTHS[index], "little", signed=True)

    def put_bool(self, tag: Tag, value: bool) -> None:
        """Append a boolean (no value bytes)."""
        if not isinstance(value, bool):
            raise TypeError("boolean value must be a bool")
        self._head(tag, _TRUE if value else _FALSE)

    def put_float32(self, tag: Tag, value: float) -> None:
        """Append a single-precision float (ValueError if it overflows float32)."""
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise TypeError("float value must be a float")
        try:
            packed = struct.pack("<f", value)
        except (struct.error, OverflowError) as exc:
            raise ValueError(f"{value!r} is not representable as float32") from exc
        self._head(tag, _FLOAT32)
        self._buf += packed

    def put_float64(self, tag: Tag, value: float) -> None:
        """Append a double-precision float."""
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise TypeError("float value must be a float")
        self._head(tag, _FLOAT64)
        self._buf += struct.pack("<d", value)

    def _put_string(self, tag: Tag, base: int, data: bytes) -> None:
        index = _width_index_unsigned(len(data))
        self._head(tag, base + index)
        self._buf += len(data).to_bytes(_WIDTHS[index], "little") + data

    def put_str(self, tag: Tag, value: str) -> None:
        """Append a UTF-8 string with the smallest length field."""
        if not isinstance(value, str):
            raise TypeError("UTF-8 string value must be a str")
        self._put_string(tag, _UTF8, value.encode("utf-8"))

    def put_bytes(self, tag: Tag, value: bytes) -> None:
        """Append an octet string with the smallest length field."""
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError("octet string value must be bytes")
        self._put_string(tag, _OCTETS, bytes(value))

    def put_null(self, tag: Tag) -> None:
        """Append a null."""
        self._head(tag, _NULL)

    def start_container(self, tag: Tag, kind: ElementType) -> None:
        """Open a structure, array or list; close it with :meth:`end_container`."""
        if kind not in _CONTAINER_CODES:
            raise ValueError(f"{kind!r} is not a container type")
        self._head(tag, _CONTAINER_CODES[kind])
        self._stack.append(kind)

    def end_container(self) -> None:
        """Close the innermost open container."""
        if not self._stack:
            raise ValueError("no open container to end")
        self._stack.pop()
        self._buf.append(_END)

    @contextmanager
    def container(self, tag: Tag, kind: ElementType) -> Iterator[TLVWriter]:
        """``with writer.container(tag, kind):`` opens and closes a container."""
        self.start_container(tag, kind)
        yield self
        self.end_container()

    @contextmanager
    def structure(self, tag: Tag) -> Iterator[TLVWriter]:
        """``with writer.structure(tag):`` writes a structure."""
        with self.container(tag, ElementType.STRUCTURE):
            yield self

    def put(self, element: Element) -> None:
        """Append a whole element tree."""
        kind, tag, value = element.type, element.tag, element.value
        if kind in _CONTAINER_CODES:
            if not isinstance(value, tuple):
                raise TypeError("container value must be a tuple of elements")
            self.start_container(tag, kind)
            for child in value:
                self.put(child)
            self.end_container()
        elif kind == ElementType.UNSIGNED_INT:
            self.put_uint(tag, value)  # type: ignore[arg-type]
        elif kind == ElementType.SIGNED_INT:
            self.put_int(tag, value)  # type: ignore[arg-type]
        elif kind == ElementType.BOOL:
            self.put_bool(tag, value)  # type: ignore[arg-type]
        elif kind == ElementType.FLOAT32:
            self.put_float32(tag, value)  # type: ignore[arg-type]
        elif kind == ElementType.FLOAT64:
            self.put_float64(tag, value)  # type: ignore[arg-type]
        elif kind == ElementType.UTF8_STRING:
            self.put_str(tag, value)  # type: ignore[arg-type]
        elif kind == ElementType.OCTET_STRING:
            self.put_bytes(tag, value)  # type: ignore[arg-type]
        elif kind == ElementType.NULL:
            if value is not None:
                raise TypeError("null element value must be None")
            self.put_null(tag)
        else:
            raise ValueError(f"unknown element type {kind!r}")

    def to_bytes(self) -> bytes:
        """The encoding so far; ValueError while a container is still open."""
        if self._stack:
            raise ValueError(f"{len(self._stack)} container(s) left open")
        return bytes(self._buf)


def encode(element: Element) -> bytes:
    """Encode one top-level element tree with minimal widths."""
    writer = TLVWriter()
    writer.put(element)
    return writer.to_bytes()


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
