"""The byte layout of WebAssembly tool-conventions signatures (spec version 0x01).

Sections and LEB128s of the signed module or component, the signature data
(:class:`SignatureData` and its parts), the signed message, and the rolling part hashes.
:mod:`harness.supply.signing` builds signing and verification on top; the format itself is
described there.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from harness.errors import HarnessError
from harness.wasm_binary import leb128_u32

SIGNATURE_SECTION = b"signature"
"""Name of the custom section that holds embedded signature data."""
DELIMITER_SECTION = b"signature_delimiter"
"""Name of the custom sections that end a signed part."""
SIGNATURE_DOMAIN = b"wasmsig"
"""Prefix of every signed message (domain separation)."""
SPEC_VERSION = 0x01
"""The only specification version there is."""
CONTENT_TYPE_WASM = 0x01
"""Content type of WebAssembly modules and components."""
HASH_SHA256 = 0x01
"""Hash function id of SHA-256."""
ALG_ED25519 = 0x01
"""Signature algorithm id of Ed25519."""
HASH_SIZE = 32
"""Length of one part hash (SHA-256)."""
DELIMITER_SIZE = 16
"""Length of the random payload of a delimiter section."""
MAX_SIGNED_HASH_SETS = 64
"""Most signed hash sets accepted in one signature section (wasmsign2's limit)."""
MAX_HASHES = 64
"""Most hashes accepted in one signed hash set (wasmsign2's limit)."""
MAX_SIGNATURES = 256
"""Most signatures accepted for one signed hash set (wasmsign2's limit)."""

MODULE_PREAMBLE = b"\x00asm\x01\x00\x00\x00"
"""Magic and version of a core WebAssembly module."""
COMPONENT_PREAMBLE = b"\x00asm\x0d\x00\x01\x00"
"""Magic, version 0x0d and layer 1 of a component (component model, pre-1.0 encoding)."""


class SignatureError(HarnessError):
    """Base of every failure to sign or verify a component."""


class MalformedComponent(SignatureError, ValueError):
    """The bytes are not a WebAssembly module or component whose sections can be read."""


class MalformedSignature(SignatureError, ValueError):
    """The signature data cannot be decoded (truncated, trailing bytes, misplaced)."""


class UnsupportedSignature(MalformedSignature):
    """The signature data uses a version, content type, hash or algorithm we do not know."""


# --- Reading LEB128 and sections, with this module's own error types -----------------


def _read_u32(
    data: bytes, pos: int, what: str, error: type[SignatureError], end: int | None = None
) -> tuple[int, int]:
    """Decode a varuint32 at ``pos`` (at most 5 bytes); return it and the next position."""
    limit = len(data) if end is None else end
    result = 0
    for index in range(5):
        if pos >= limit:
            raise error(f"{what}: truncated LEB128 at byte offset {pos}")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            if index == 4 and byte > 0x0F:
                raise error(f"{what}: LEB128 value over 32 bits at byte offset {pos - 1}")
            return result, pos
    raise error(f"{what}: LEB128 longer than 5 bytes at byte offset {pos - 1}")


@dataclass(frozen=True)
class Section:
    """One top-level section: where it lies in the input and, if custom, its name."""

    id: int
    start: int
    end: int
    name: bytes | None
    content_start: int

    def is_custom(self, name: bytes) -> bool:
        """Whether this is a custom section called ``name``."""
        return self.id == 0 and self.name == name


def as_bytes(data: bytes | bytearray | memoryview) -> bytes:
    """Return ``data`` as ``bytes`` (``wasmtime.wat2wasm`` gives a ``bytearray``)."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    raise TypeError(f"a component is bytes, not {type(data).__name__}")


def parse_sections(data: bytes) -> tuple[str, list[Section]]:
    """Split a module or component into its top-level sections.

    Returns ``"module"`` or ``"component"`` and the sections in order. Section ids are not
    checked (the two layers number them differently; the signature format does not care).
    """
    data = as_bytes(data)
    preamble = data[:8]
    if preamble == MODULE_PREAMBLE:
        kind = "module"
    elif preamble == COMPONENT_PREAMBLE:
        kind = "component"
    elif preamble[:4] != MODULE_PREAMBLE[:4]:
        raise MalformedComponent("not a WebAssembly binary: no \\0asm magic at its start")
    else:
        raise MalformedComponent(f"unknown WebAssembly version/layer bytes {preamble[4:].hex()}")
    sections: list[Section] = []
    pos = 8
    while pos < len(data):
        start = pos
        section_id = data[pos]
        size, pos = _read_u32(data, pos + 1, "section size", MalformedComponent)
        end = pos + size
        if end > len(data):
            raise MalformedComponent(
                f"section at byte offset {start} runs past the end ({end} > {len(data)})"
            )
        name = None
        content_start = pos
        if section_id == 0:
            name_len, name_pos = _read_u32(data, pos, "custom section name", MalformedComponent)
            if name_pos + name_len > end:
                raise MalformedComponent(f"custom section at {start}: name runs past its end")
            name = data[name_pos : name_pos + name_len]
            content_start = name_pos + name_len
        sections.append(Section(section_id, start, end, name, content_start))
        pos = end
    return kind, sections


def custom_section(name: bytes, payload: bytes) -> bytes:
    """Encode a custom section (id 0, size, name, payload) with minimal LEB128s."""
    body = leb128_u32(len(name)) + name + payload
    return b"\x00" + leb128_u32(len(body)) + body


def new_delimiter() -> bytes:
    """Return a fresh ``signature_delimiter`` section with 16 random bytes."""
    return custom_section(DELIMITER_SECTION, os.urandom(DELIMITER_SIZE))


# --- the signature data ----------------------------------------------------------------


@dataclass(frozen=True)
class SignatureRecord:
    """One signature of a hash set: the signer's key id (may be empty), algorithm, bytes."""

    key_id: bytes
    algorithm: int
    signature: bytes

    def encode(self) -> bytes:
        """Encode the record body (without its outer length prefix)."""
        if self.algorithm != ALG_ED25519:
            # Records of algorithms we do not know are kept verbatim after the id byte.
            return (
                leb128_u32(len(self.key_id))
                + self.key_id
                + bytes([self.algorithm])
                + self.signature
            )
        return (
            leb128_u32(len(self.key_id))
            + self.key_id
            + bytes([self.algorithm])
            + leb128_u32(len(self.signature))
            + self.signature
        )

    @classmethod
    def decode(cls, blob: bytes) -> SignatureRecord:
        """Decode a record body; it must be consumed exactly."""
        key_id_len, pos = _read_u32(blob, 0, "key id length", MalformedSignature)
        if pos + key_id_len + 1 > len(blob):
            raise MalformedSignature("signature record: key id runs past the record")
        key_id = blob[pos : pos + key_id_len]
        pos += key_id_len
        algorithm = blob[pos]
        pos += 1
        if algorithm != ALG_ED25519:
            return cls(key_id, algorithm, blob[pos:])
        sig_len, pos = _read_u32(blob, pos, "signature length", MalformedSignature)
        if pos + sig_len != len(blob):
            raise MalformedSignature("signature record: length does not match its contents")
        return cls(key_id, algorithm, blob[pos:])


@dataclass(frozen=True)
class SignedHashes:
    """A list of part hashes and the signatures over it."""

    hashes: tuple[bytes, ...]
    signatures: tuple[SignatureRecord, ...]

    def encode(self) -> bytes:
        """Encode the set body (without its outer length prefix)."""
        out = bytearray(leb128_u32(len(self.hashes)))
        for digest in self.hashes:
            out += digest
        out += leb128_u32(len(self.signatures))
        for record in self.signatures:
            body = record.encode()
            out += leb128_u32(len(body)) + body
        return bytes(out)

    @classmethod
    def decode(cls, blob: bytes) -> SignedHashes:
        """Decode a set body; it must be consumed exactly."""
        count, pos = _read_u32(blob, 0, "hashes count", MalformedSignature)
        if count > MAX_HASHES:
            raise MalformedSignature(f"{count} hashes in one set (at most {MAX_HASHES})")
        if pos + count * HASH_SIZE > len(blob):
            raise MalformedSignature("signed hash set: hashes run past the set")
        hashes = tuple(blob[pos + i * HASH_SIZE : pos + (i + 1) * HASH_SIZE] for i in range(count))
        pos += count * HASH_SIZE
        sig_count, pos = _read_u32(blob, pos, "signature count", MalformedSignature)
        if sig_count > MAX_SIGNATURES:
            raise MalformedSignature(
                f"{sig_count} signatures in one set (at most {MAX_SIGNATURES})"
            )
        records = []
        for _ in range(sig_count):
            size, pos = _read_u32(blob, pos, "signature record length", MalformedSignature)
            if pos + size > len(blob):
                raise MalformedSignature("signature record runs past its set")
            records.append(SignatureRecord.decode(blob[pos : pos + size]))
            pos += size
        if pos != len(blob):
            raise MalformedSignature(f"{len(blob) - pos} stray bytes after a signed hash set")
        return cls(hashes, tuple(records))


@dataclass(frozen=True)
class SignatureData:
    """The decoded payload of a ``signature`` section (or a detached signature file)."""

    signed_hashes: tuple[SignedHashes, ...]
    spec_version: int = SPEC_VERSION
    content_type: int = CONTENT_TYPE_WASM
    hash_function: int = HASH_SHA256

    def encode(self) -> bytes:
        """Encode to the section payload / detached signature bytes."""
        out = bytearray([self.spec_version, self.content_type, self.hash_function])
        out += leb128_u32(len(self.signed_hashes))
        for signed in self.signed_hashes:
            body = signed.encode()
            out += leb128_u32(len(body)) + body
        return bytes(out)

    @classmethod
    def decode(cls, payload: bytes) -> SignatureData:
        """Decode signature data; unknown version, content type or hash is refused."""
        payload = bytes(payload)
        if len(payload) < 4:
            raise MalformedSignature(f"signature data is only {len(payload)} bytes")
        version, content_type, hash_function = payload[0], payload[1], payload[2]
        if version != SPEC_VERSION:
            raise UnsupportedSignature(f"signature spec version 0x{version:02x} (we know 0x01)")
        if content_type != CONTENT_TYPE_WASM:
            raise UnsupportedSignature(f"signature content type 0x{content_type:02x} (0x01)")
        if hash_function != HASH_SHA256:
            raise UnsupportedSignature(f"signature hash function 0x{hash_function:02x} (0x01)")
        count, pos = _read_u32(payload, 3, "signed hashes count", MalformedSignature)
        if count > MAX_SIGNED_HASH_SETS:
            raise MalformedSignature(f"{count} signed hash sets (at most {MAX_SIGNED_HASH_SETS})")
        sets = []
        for _ in range(count):
            size, pos = _read_u32(payload, pos, "signed hash set length", MalformedSignature)
            if pos + size > len(payload):
                raise MalformedSignature("a signed hash set runs past the signature data")
            sets.append(SignedHashes.decode(payload[pos : pos + size]))
            pos += size
        if pos != len(payload):
            raise MalformedSignature(f"{len(payload) - pos} stray bytes after the last signature")
        return cls(tuple(sets), version, content_type, hash_function)

    def message(self, hashes: Sequence[bytes]) -> bytes:
        """The bytes an Ed25519 signature over ``hashes`` signs."""
        return signing_message(hashes, self.spec_version, self.content_type, self.hash_function)


def signing_message(
    hashes: Sequence[bytes],
    spec_version: int = SPEC_VERSION,
    content_type: int = CONTENT_TYPE_WASM,
    hash_function: int = HASH_SHA256,
) -> bytes:
    """``"wasmsig" || spec_version || content_type || hash_fn || h1 || ... || hn``."""
    return SIGNATURE_DOMAIN + bytes([spec_version, content_type, hash_function]) + b"".join(hashes)


# --- parts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One signed part: the rolling hash at its end and where it ends in the input."""

    hash: bytes
    end: int
    delimited: bool


@dataclass(frozen=True)
class Layout:
    """A component split into preamble, (embedded) signature section and signed content."""

    kind: str
    sections: tuple[Section, ...]
    signature_section: Section | None
    content: tuple[Section, ...]
    content_start: int


def layout(data: bytes) -> Layout:
    """Parse ``data`` and find its embedded signature section, if any.

    A ``signature`` section anywhere but first is refused: the spec puts it first, and a
    signature section in the signed content would be hashed as content.
    """
    kind, sections = parse_sections(data)
    signature_section = None
    content = sections
    if sections and sections[0].is_custom(SIGNATURE_SECTION):
        signature_section, content = sections[0], sections[1:]
    for section in content:
        if section.is_custom(SIGNATURE_SECTION):
            raise MalformedSignature(
                f"a signature section at byte offset {section.start} is not the first section"
            )
    start = signature_section.end if signature_section else 8
    return Layout(kind, tuple(sections), signature_section, tuple(content), start)


def part_hashes(data: bytes, content: Sequence[Section], content_start: int) -> list[Part]:
    """Hash the content as the spec's rolling hash: one :class:`Part` per delimiter, plus
    one for the content after the last delimiter (or for all of it, if there is none)."""
    view = memoryview(data)
    hasher = hashlib.sha256()
    parts = []
    fed = content_start
    for section in content:
        if section.is_custom(DELIMITER_SECTION):
            hasher.update(view[fed : section.end])
            fed = section.end
            parts.append(Part(hasher.copy().digest(), section.end, True))
    end = content[-1].end if content else content_start
    if not parts or fed != end:
        hasher.update(view[fed:end])
        parts.append(Part(hasher.digest(), end, False))
    return parts
