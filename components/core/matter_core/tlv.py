"""Matter TLV: one reader and one writer for every TLV payload in the core.

Wire format (Matter Core Specification 1.0, Appendix A "Tag-length-value (TLV)
Encoding Format"; CHIP ``TLVTypes.h`` / ``TLVTags.h``): each element is a control byte
(tag control in bits 7..5, element type in bits 4..0), the tag bytes, then the length
or value, all little-endian.

Decoded elements are :class:`Element` trees. The writer always picks the smallest integer
width and the smallest string-length width, as CHIP, rs-matter and CircuitMatter do, so
re-encoding a minimally encoded message reproduces it byte for byte. The reader accepts
every width and is strict about everything else; any malformed input raises
:class:`~matter_core.errors.DecodeError` and nothing else.

:class:`TLVStruct` is a read-only view of a context-tagged structure with typed getters,
which the message codecs use to pull fields out with field-named errors.

This module is the public face of three: the element model and wire codes in
:mod:`matter_core.tlv_elements`, decoding in :mod:`matter_core.tlv_reader` and encoding
in :mod:`matter_core.tlv_writer`. Import from here.
"""

from __future__ import annotations

from .tlv_elements import (
    CONTAINER_TYPES,
    Element,
    ElementType,
    ProfileTag,
    Tag,
    TagForm,
    Value,
    array,
    boolean,
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
from .tlv_reader import MAX_NESTING_DEPTH, ByteReader, TLVStruct, decode
from .tlv_writer import TLVWriter, encode

__all__ = [
    "CONTAINER_TYPES",
    "MAX_NESTING_DEPTH",
    "ByteReader",
    "Element",
    "ElementType",
    "ProfileTag",
    "TLVStruct",
    "TLVWriter",
    "Tag",
    "TagForm",
    "Value",
    "array",
    "boolean",
    "decode",
    "encode",
    "float32",
    "float64",
    "null",
    "octets",
    "sint",
    "structure",
    "tlv_list",
    "uint",
    "utf8",
]
