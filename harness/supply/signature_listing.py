"""``matter-harness signature show``: every signature of a component, what it covers,
and whether it verifies (and under which trusted key)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.supply.chain import SupplyChain
from harness.supply.files import SignatureFileError, read_input
from harness.supply.keys import PublicKey, read_build_public_key
from harness.supply.signature_format import (
    ALG_ED25519,
    CONTENT_TYPE_WASM,
    HASH_SHA256,
    Section,
    SignatureData,
    SignatureError,
    SignatureRecord,
    SignedHashes,
    layout,
    part_hashes,
)
from harness.supply.signing import NoSignature, TamperedComponent, read_signature, verify_all
from harness.supply.trust import TrustedKey

_MODULE_SECTIONS = "custom type import function table memory global export start element code data"
_COMPONENT_SECTIONS = "custom core_module core_instance core_type component instance alias type"
#: The names of the section ids (in order from 0) of a core module and of a component.
SECTION_NAMES = {
    "module": [*_MODULE_SECTIONS.split(), "data_count", "tag"],
    "component": [*_COMPONENT_SECTIONS.split(), "canon", "start", "import", "export", "value"],
}
_ALGORITHMS = {ALG_ED25519: "ed25519"}
_HASHES = {HASH_SHA256: "sha256"}
_CONTENT_TYPES = {CONTENT_TYPE_WASM: "wasm"}


def _named(table: dict[int, str], value: int) -> str:
    return table.get(value, f"0x{value:02x}")


def _printable(raw: bytes) -> str:
    """``raw`` as text with every control character escaped (names come from the file)."""
    text = raw.decode("utf-8", errors="replace")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


@dataclass(frozen=True)
class SectionInfo:
    """One top-level section of the file: index, id, name, and bytes ``[start, end)``."""

    index: int
    id: int
    name: str
    start: int
    end: int

    def describe(self) -> str:
        """``#1 core module [8, 55)``."""
        return f"#{self.index} {self.name} [{self.start}, {self.end})"


@dataclass(frozen=True)
class PartInfo:
    """One part of the signed content: bytes ``[start, end)`` of the file, ended by a
    ``signature_delimiter`` section (``delimited``) or by the end of the file. ``sha256``
    is the rolling hash at its end, the value a signature signs."""

    number: int
    start: int
    end: int
    delimited: bool
    sha256: str
    sections: tuple[SectionInfo, ...]


@dataclass(frozen=True)
class Coverage:
    """What the hash list a signature signs covers of the content as it is now. ``whole``:
    the list is exactly the content's (the spec's full verification); ``parts``: the leading
    parts whose rolling hash the list holds (a rolling hash commits to all before it)."""

    whole: bool
    signed_hashes: int
    parts: tuple[int, ...]
    total_parts: int
    delimited_parts: int
    sections: tuple[SectionInfo, ...]
    start: int | None
    end: int | None

    def describe(self, kind: str) -> str:
        """In words: how many parts, which sections, which bytes."""
        if not self.parts:
            return (
                f"nothing of the {kind} as it is now: none of its {self.signed_hashes} signed "
                "part hash(es) matches the content"
            )
        first, last = (self.sections[0], self.sections[-1]) if self.sections else (None, None)
        which = f"sections #{first.index}-#{last.index}" if first and last else "no sections"
        what = f"the whole {kind}" if self.whole else f"only the first {len(self.parts)} parts"
        return (
            f"{what}: {len(self.parts)} of {self.total_parts} part(s) ({self.delimited_parts} "
            f"ended by a delimiter), {which}, bytes [{self.start}, {self.end})"
        )


@dataclass(frozen=True)
class SignatureInfo:
    """One signature and what checking it found. ``status``: ``verified`` (valid, by a key
    we have, covering the whole content), ``partial``, ``modified`` (valid, but the content
    changed since), ``invalid`` (not valid for the key its id names), ``unknown-key`` or
    ``unsupported-algorithm``. ``signer`` names the trusted key whose id matches, if any."""

    number: int
    hash_set: int
    key_id: str
    key_id_text: str | None
    algorithm: str
    hash_function: str
    content_type: str
    signer: str | None
    trusted: bool
    verified: bool
    status: str
    detail: str
    covers: Coverage


@dataclass(frozen=True)
class SignatureListing:
    """Every signature of a component (embedded, or a detached file's): what
    ``matter-harness signature show`` prints. ``source``: ``embedded``, ``detached`` or
    ``none``; ``content_sha256``: of the signed content (the file without its signature
    section)."""

    path: str
    kind: str
    source: str
    signature_path: str | None
    signature_section: SectionInfo | None
    file_sha256: str
    content_sha256: str
    content_size: int
    spec_version: int | None
    content_type: str | None
    hash_function: str | None
    hash_sets: int
    parts: tuple[PartInfo, ...]
    signatures: tuple[SignatureInfo, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (``signature show --format json``)."""
        return asdict(self)

    def render(self) -> str:
        """The plain-text listing ``matter-harness signature show`` prints."""
        count, verified = len(self.signatures), sum(s.verified for s in self.signatures)
        where = f"{self.source} signature" if count else "no signature, embedded or detached"
        if self.signature_path is not None:
            where += f" {self.signature_path}"
        if self.signature_section is not None:
            shown = "section" if self.source == "embedded" else "not shown: its embedded one,"
            where += f" ({shown} {self.signature_section.describe()})"
        lines = [
            f"{self.path}: {self.kind}, {count} signature(s), {verified} verified; {where}",
            f"  file sha256            {self.file_sha256}",
            f"  signed content sha256  {self.content_sha256} ({self.content_size} bytes: the "
            "file without its signature section)",
        ]
        if self.spec_version is not None:
            lines.append(
                f"  signature data: spec version 0x{self.spec_version:02x}, content type "
                f"{self.content_type}, hash function {self.hash_function}, "
                f"{self.hash_sets} signed hash set(s)"
            )
        delimited = sum(part.delimited for part in self.parts)
        lines.append(f"  content: {len(self.parts)} part(s), {delimited} ended by a delimiter")
        for part in self.parts:
            end = "ends with a delimiter" if part.delimited else "runs to the end"
            lines.append(
                f"    part {part.number}: bytes [{part.start}, {part.end}), {end}, "
                f"rolling sha256 {part.sha256}"
            )
            lines.extend(f"      {section.describe()}" for section in part.sections)
        for info in self.signatures:
            text = f" ({info.key_id_text!r})" if info.key_id_text else ""
            named = f", trusted key {info.signer!r}" if info.signer else ""
            lines += [
                f"  signature {info.number} of {count}: key id {info.key_id or '(none)'}"
                f"{text}{named}",
                f"    verifies: {'yes' if info.verified else 'no'} ({info.status}: {info.detail})",
                f"    algorithm {info.algorithm}, hash function {info.hash_function}, content "
                f"type {info.content_type}, signed hash set {info.hash_set}",
                f"    covers {info.covers.describe(self.kind)}",
            ]
        return "\n".join(lines)


_Known = tuple[str | None, PublicKey]


def describe_signatures(
    data: bytes,
    *,
    name: str = "<component>",
    detached: bytes | None = None,
    signature_name: str | None = None,
    trusted: Sequence[TrustedKey] = (),
    extra_keys: Sequence[PublicKey] = (),
) -> SignatureListing:
    """List the signatures of ``data`` (embedded, or ``detached``: then over the content
    without any embedded signature), each checked with the ``trusted`` keys and the known
    but untrusted ``extra_keys``.

    Never refuses a signature: one that does not verify is listed with the reason. Raises
    :class:`~harness.supply.signing.SignatureError` for bytes that are not a component or
    module, and for signature data that cannot be decoded.
    """
    data = bytes(data)
    found = layout(data)
    infos = [_section_info(i, s, SECTION_NAMES[found.kind]) for i, s in enumerate(found.sections)]
    content = data[:8] + data[found.content_start :] if found.signature_section else data
    rolling = part_hashes(data, found.content, found.content_start)
    parts, start = [], found.content_start
    for number, part in enumerate(rolling, 1):
        inside = tuple(i for i in infos if i.start >= start and i.end <= part.end)
        parts.append(PartInfo(number, start, part.end, part.delimited, part.hash.hex(), inside))
        start = part.end
    signature: SignatureData | None = None
    with contextlib.suppress(NoSignature):  # detached: over the content, as verify checks it
        signature = read_signature(data) if detached is None else SignatureData.decode(detached)
    known: list[_Known] = [(t.name, t.key) for t in trusted]
    known += [(None, k) for k in extra_keys if all(k.raw != t.key.raw for t in trusted)]
    signatures: list[SignatureInfo] = []
    for set_number, signed in enumerate(signature.signed_hashes if signature else (), 1):
        assert signature is not None
        covers = _coverage(signed, [part.hash for part in rolling], parts)
        for record in signed.signatures:
            candidates = [k for k in known if k[1].matches_key_id(record.key_id)]
            signer = next((k for k in candidates if _valid(data[:8], signed, record, k[1])), None)
            named = signer or (candidates[0] if candidates and record.key_id else None)
            status, detail = _status(record, signer, named, covers, found.kind)
            printable = record.key_id and all(0x20 <= b < 0x7F for b in record.key_id)
            signatures.append(
                SignatureInfo(
                    number=len(signatures) + 1,
                    hash_set=set_number,
                    key_id=record.key_id.hex(),
                    key_id_text=record.key_id.decode("ascii") if printable else None,
                    algorithm=_named(_ALGORITHMS, record.algorithm),
                    hash_function=_named(_HASHES, signature.hash_function),
                    content_type=_named(_CONTENT_TYPES, signature.content_type),
                    signer=named[0] if named else None,
                    trusted=named is not None and named[0] is not None,
                    verified=status == "verified",
                    status=status,
                    detail=detail,
                    covers=covers,
                )
            )
    return SignatureListing(
        path=name,
        kind=found.kind,
        source="none" if signature is None else ("embedded" if detached is None else "detached"),
        signature_path=signature_name if detached is not None else None,
        signature_section=infos[0] if found.signature_section is not None else None,
        file_sha256=hashlib.sha256(data).hexdigest(),
        content_sha256=hashlib.sha256(content).hexdigest(),
        content_size=len(content),
        spec_version=signature.spec_version if signature else None,
        content_type=_named(_CONTENT_TYPES, signature.content_type) if signature else None,
        hash_function=_named(_HASHES, signature.hash_function) if signature else None,
        hash_sets=len(signature.signed_hashes) if signature else 0,
        parts=tuple(parts),
        signatures=tuple(signatures),
    )


def _valid(preamble: bytes, signed: SignedHashes, record: SignatureRecord, key: PublicKey) -> bool:
    """Whether ``record`` is a valid signature by ``key`` of the hashes of ``signed``, as
    :func:`~harness.supply.signing.verify_all` decides it. It is checked against the bare
    ``preamble``: validity does not depend on the content, so nothing large is hashed."""
    alone = SignatureData((SignedHashes(signed.hashes, (record,)),)).encode()
    try:
        verify_all(preamble, key, detached_signature=alone, allow_partial=True)
    except TamperedComponent:  # valid, but for other content: the coverage tells
        return True
    except HarnessError:
        return False
    return True


def _section_info(index: int, section: Section, names: list[str]) -> SectionInfo:
    name = names[section.id].replace("_", " ") if section.id < len(names) else "unknown"
    if section.id == 0 and section.name is not None:
        name = f"custom '{_printable(section.name)}'"
    return SectionInfo(index, section.id, name, section.start, section.end)


def _coverage(signed: SignedHashes, hashes: list[bytes], parts: list[PartInfo]) -> Coverage:
    covered = 0
    for index, digest in enumerate(hashes):
        if digest in signed.hashes:
            covered = index + 1
    inside = parts[:covered]
    return Coverage(
        whole=list(signed.hashes) == hashes,
        signed_hashes=len(signed.hashes),
        parts=tuple(part.number for part in inside),
        total_parts=len(parts),
        delimited_parts=sum(part.delimited for part in inside),
        sections=tuple(section for part in inside for section in part.sections),
        start=inside[0].start if inside else None,
        end=inside[-1].end if inside else None,
    )


def _status(
    record: SignatureRecord,
    signer: _Known | None,
    named: _Known | None,
    covers: Coverage,
    kind: str,
) -> tuple[str, str]:
    if record.algorithm != ALG_ED25519:
        return "unsupported-algorithm", (
            f"signature algorithm 0x{record.algorithm:02x} is not Ed25519; not checked"
        )
    if signer is None:
        if named is not None:
            who = f"trusted key {named[0]!r}" if named[0] else "the known key"
            return "invalid", (
                f"not a valid signature by the {who} its key id names (the signature data "
                "was damaged or forged)"
            )
        if record.key_id:
            return "unknown-key", "no trusted or known key has this key id"
        return "unknown-key", "it names no key id, and no trusted or known key verifies it"
    who = f"trusted key {signer[0]!r}" if signer[0] else "a known, untrusted key"
    if covers.whole:
        return "verified", f"valid signature by {who}, covering the whole {kind}"
    if not covers.parts:
        return "modified", (
            f"valid signature by {who}, but the {kind} was modified after signing: no "
            "signed part hash matches its content"
        )
    if len(covers.parts) == covers.total_parts:
        return "modified", (
            f"valid signature by {who}, but it signs {covers.signed_hashes} part hash(es) and "
            f"the {kind} has {covers.total_parts}: sections or delimiters were removed or "
            "added after signing"
        )
    return "partial", (
        f"valid signature by {who}, but it covers only the first {len(covers.parts)} of "
        f"{covers.total_parts} parts: sections were added after signing"
    )


def show_signature_file(
    chain: SupplyChain, component: Path, signature: Path | None = None
) -> SignatureListing:
    """List the signatures of ``component`` (embedded, or the detached ``signature``) as
    ``matter-harness signature show`` does: each checked with the keys ``chain`` trusts
    in strict mode, and its known but untrusted keys (extra keys, an untrusted build key).

    Raises :class:`SignatureFileError` for unreadable input.
    """
    data = read_input(component, "component")
    detached = read_input(signature, "signature") if signature is not None else None
    build_key = read_build_public_key(chain.build_dir) if chain.build_dir else None
    extra = [*chain.extra_keys, *([] if build_key is None else [build_key])]
    try:
        return describe_signatures(
            data,
            name=str(component),
            detached=detached,
            signature_name=str(signature) if signature is not None else None,
            trusted=chain.trusted_keys(),
            extra_keys=extra,
        )
    except SignatureError as exc:
        raise SignatureFileError(
            f"cannot read the signatures of {component}: {exc.message}", hint=exc.hint
        ) from exc
