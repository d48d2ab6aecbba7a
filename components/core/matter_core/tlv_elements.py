"""Matter TLV elements: tags, element kinds, the :class:`Element` tree and the wire codes.

The data model shared by :mod:`matter_core.tlv_reader` (decoding) and
:mod:`matter_core.tlv_writer` (encoding); :mod:`matter_core.tlv` re-exports the public
names. The control-byte codes and the tag-placement rule at the end of this module are
the one definition of the wire format both directions use; their names start with an
underscore because they are not part of the TLV API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeAlias

from .errors import DecodeError


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
