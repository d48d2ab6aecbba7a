"""Matter TLV encoding: :class:`TLVWriter` and :func:`encode`.

The writer always picks the smallest integer width and the smallest string-length width,
as CHIP, rs-matter and CircuitMatter do, so re-encoding a minimally encoded message
reproduces it byte for byte. Misuse is our own bug and raises ValueError or TypeError,
never :class:`~matter_core.errors.DecodeError`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager

from .tlv_elements import (
    _CONTAINER_CODES,
    _END,
    _FALSE,
    _FLOAT32,
    _FLOAT64,
    _NULL,
    _OCTETS,
    _SIGNED,
    _TAG_ANONYMOUS,
    _TAG_COMMON_2,
    _TAG_COMMON_4,
    _TAG_CONTEXT,
    _TAG_FULL_6,
    _TAG_FULL_8,
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
