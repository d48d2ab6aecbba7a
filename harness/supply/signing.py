"""Signing and verifying WebAssembly modules and components, tool-conventions format.

The format is ``Signatures.md`` of WebAssembly/tool-conventions (spec version 0x01),
as implemented by its reference tool wasmsign2. In short:

* The signature data is the payload of a custom section named ``signature``, which must be
  the first section; or it is kept apart ("detached"), with identical bytes.
* The sections after it are split into *parts* by custom sections named
  ``signature_delimiter`` (16 random bytes each). A rolling SHA-256 runs over the raw bytes
  of the sections (never the 8-byte preamble, never the signature section); its value at
  each delimiter is ``h1, h2, ...``. Without a final delimiter the whole content is one
  more part, hashed to its end.
* ``hashes = h1 || ... || hn`` is signed with Ed25519 over
  ``"wasmsig" || spec_version || content_type || hash_fn || hashes``.
* Layout: ``spec_version (byte) content_type (byte) hash_fn (byte)
  signed_hashes_count (varuint32)`` and that many length-prefixed *signed hash sets*, each
  ``hashes_count (varuint32) hashes signature_count (varuint32)`` and that many
  length-prefixed *signatures*, each ``key_id_len (varuint32) key_id alg_id (byte)
  signature_len (varuint32) signature``. The two length prefixes are what wasmsign2 writes
  (the spec's field type ``bytes``); the data must end exactly with the last signature.

Components are signed exactly like modules (content type 0x01): everything in a component
is a section. Verification of a whole component needs the list of computed part hashes
to equal a signed list; *partial* verification (a signed prefix, e.g. when sections were
appended after a delimiter) must be asked for explicitly, as the spec requires.

Ed25519 is checked strictly (:mod:`harness.supply.ed25519`): every key given must be a
strict public key (else :class:`~harness.supply.keys.WeakPublicKey`), and a signature
record with a non-canonical ``S`` or a small-order or non-canonical ``R`` never reaches
OpenSSL; if no valid signature remains, :class:`NonCanonicalSignature` says why.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.supply.ed25519 import signature_problem
from harness.supply.keys import PublicKey, SecretKey, check_public_key
from harness.supply.signature_format import (
    ALG_ED25519,
    DELIMITER_SECTION,
    MAX_SIGNATURES,
    MAX_SIGNED_HASH_SETS,
    SIGNATURE_SECTION,
    Layout,
    MalformedComponent,
    MalformedSignature,
    Part,
    SignatureData,
    SignatureError,
    SignatureRecord,
    SignedHashes,
    UnsupportedSignature,
    as_bytes,
    custom_section,
    layout,
    new_delimiter,
    part_hashes,
    signing_message,
)

__all__ = [
    "DuplicateSignature",
    "InvalidSignature",
    "MalformedComponent",
    "MalformedSignature",
    "NoSignature",
    "NonCanonicalSignature",
    "PartiallySigned",
    "SignatureError",
    "TamperedComponent",
    "UnsupportedSignature",
    "UntrustedKey",
    "VerifiedSignature",
    "add_delimiter",
    "attach",
    "detach",
    "read_signature",
    "sign",
    "verify",
    "verify_all",
]


class NoSignature(SignatureError):
    """The component carries no signature section and none was given detached."""


class InvalidSignature(SignatureError):
    """A signature names a known key but is not a valid signature by it."""


class NonCanonicalSignature(InvalidSignature):
    """A signature strict Ed25519 refuses before any curve arithmetic: ``S >= L``, or an
    ``R`` of small order or with a non-canonical encoding (forged or altered)."""


class UntrustedKey(SignatureError):
    """No signature verifies with any of the keys given (the trusted keys).

    ``key_ids`` are the non-empty key ids the signatures carry.
    """

    def __init__(
        self, message: str, *, key_ids: Sequence[bytes] = (), hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.key_ids = tuple(key_ids)


class TamperedComponent(SignatureError):
    """A valid signature whose hashes do not match the component: it changed after signing."""


class PartiallySigned(TamperedComponent):
    """A valid signature covers only the first parts; the rest was added after signing."""

    def __init__(self, message: str, *, covered_parts: int, total_parts: int) -> None:
        super().__init__(
            message,
            hint="sections appended after a signature_delimiter are not signed; re-sign, "
            "or ask for partial verification explicitly",
        )
        self.covered_parts = covered_parts
        self.total_parts = total_parts


class DuplicateSignature(SignatureError):
    """Signing with a key that already signed these exact hashes."""


def read_signature(data: bytes, detached_signature: bytes | None = None) -> SignatureData:
    """Return the decoded signature data of ``data`` (embedded, or the detached bytes)."""
    data = as_bytes(data)
    found = layout(data)
    return _signature_data(data, found, detached_signature)


def _signature_data(data: bytes, found: Layout, detached: bytes | None) -> SignatureData:
    if detached is not None:
        if found.signature_section is not None:
            raise MalformedSignature(
                "both an embedded signature section and a detached signature were given",
                hint="detach the embedded signature first, or verify without the detached one",
            )
        return SignatureData.decode(detached)
    if found.signature_section is None:
        raise NoSignature(
            f"no signature: the {found.kind} has no signature section",
            hint="sign it, pass its detached signature, or use the 'unsigned' trust mode",
        )
    section = found.signature_section
    return SignatureData.decode(data[section.content_start : section.end])


# --- signing ---------------------------------------------------------------------------


def add_delimiter(data: bytes) -> bytes:
    """Append a ``signature_delimiter`` unless the last section is one already.

    A signature over content ending with a delimiter still verifies (partially, when
    asked) after more sections are appended. Appending to signed content invalidates
    signatures made without a final delimiter.
    """
    data = as_bytes(data)
    found = layout(data)
    if found.content and found.content[-1].is_custom(DELIMITER_SECTION):
        return data
    return data + new_delimiter()


def sign(
    data: bytes,
    key: SecretKey,
    *,
    key_id: bytes | None = None,
    detached: bool = False,
    allow_extensions: bool = False,
    existing_signature: bytes | None = None,
) -> bytes:
    """Sign a module or component; return the signed bytes, or the detached signature.

    ``key_id`` is stored with the signature: ``None`` gives the key's default id,
    ``b""`` none. Signing an already signed input adds this signature to the others
    (several signers). With ``detached``, ``data`` is left as it is and the signature data
    is returned; ``existing_signature`` is a detached signature to add to.
    ``allow_extensions`` first appends a delimiter so sections may be added later.
    """
    data = as_bytes(data)
    if detached and allow_extensions:
        raise ValueError("allow_extensions changes the component: call add_delimiter() first")
    if existing_signature is not None and not detached:
        raise ValueError("existing_signature is for detached signing")
    found = layout(data)
    if detached and found.signature_section is not None:
        raise SignatureError(
            "the input already has an embedded signature; cannot also sign it detached",
            hint="detach the embedded signature first",
        )
    previous: SignatureData | None = None
    if found.signature_section is not None or existing_signature is not None:
        previous = _signature_data(data, found, existing_signature)
    if allow_extensions and not (found.content and found.content[-1].is_custom(DELIMITER_SECTION)):
        if previous is not None:
            raise SignatureError(
                "adding a delimiter would invalidate the signatures the input already has"
            )
        data += new_delimiter()
        found = layout(data)
    hashes = tuple(part.hash for part in part_hashes(data, found.content, found.content_start))
    record_key_id = key.public_key.key_id if key_id is None else key_id
    record = SignatureRecord(record_key_id, ALG_ED25519, key.sign(signing_message(hashes)))
    merged = _merge(previous, hashes, record).encode()
    if detached:
        return merged
    return data[:8] + custom_section(SIGNATURE_SECTION, merged) + data[found.content_start :]


def _merge(
    previous: SignatureData | None, hashes: tuple[bytes, ...], record: SignatureRecord
) -> SignatureData:
    sets = list(previous.signed_hashes) if previous else []
    for index, signed in enumerate(sets):
        if signed.hashes != hashes:
            continue
        for other in signed.signatures:
            if other.key_id == record.key_id and hmac.compare_digest(
                other.signature, record.signature
            ):
                raise DuplicateSignature("this key already signed this content")
        if len(signed.signatures) >= MAX_SIGNATURES:
            raise SignatureError(f"already {MAX_SIGNATURES} signatures over this content")
        sets[index] = SignedHashes(signed.hashes, (*signed.signatures, record))
        return SignatureData(tuple(sets))
    if len(sets) >= MAX_SIGNED_HASH_SETS:
        raise SignatureError(f"already {MAX_SIGNED_HASH_SETS} signed hash sets")
    sets.append(SignedHashes(hashes, (record,)))
    return SignatureData(tuple(sets))


def detach(data: bytes) -> tuple[bytes, bytes]:
    """Split a signed input into the unsigned input and its detached signature."""
    data = as_bytes(data)
    found = layout(data)
    if found.signature_section is None:
        raise NoSignature("no signature: nothing to detach")
    section = found.signature_section
    return data[:8] + data[found.content_start :], data[section.content_start : section.end]


def attach(data: bytes, signature: bytes) -> bytes:
    """Embed a detached signature as the first section (the inverse of :func:`detach`)."""
    data = as_bytes(data)
    found = layout(data)
    if found.signature_section is not None:
        raise SignatureError("the input already has an embedded signature")
    SignatureData.decode(signature)
    return data[:8] + custom_section(SIGNATURE_SECTION, signature) + data[8:]


# --- verification ----------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedSignature:
    """What one valid signature proves about the input.

    ``covered_parts`` of ``total_parts`` parts are signed; the content bytes from
    ``content_start`` to ``covered_until`` are covered. ``complete`` is the spec's
    full verification: the signed hash list equals the component's.
    """

    key: PublicKey
    key_id: bytes
    kind: str
    complete: bool
    covered_parts: int
    total_parts: int
    content_start: int
    covered_until: int
    signed_hashes: tuple[bytes, ...]
    component_sha256: str

    @property
    def fingerprint(self) -> str:
        """Hex key id of the key that verified (not the record's, which may be empty)."""
        return self.key.fingerprint


def verify(
    data: bytes,
    public_keys: PublicKey | Iterable[PublicKey],
    *,
    detached_signature: bytes | None = None,
    allow_partial: bool = False,
) -> VerifiedSignature:
    """Verify ``data`` against one key or any of several; return the best valid signature.

    Raises :class:`NoSignature`, :class:`MalformedSignature`, :class:`UntrustedKey` (no
    signature by any of these keys), :class:`InvalidSignature` (a signature naming one of
    them does not verify; :class:`NonCanonicalSignature` if strict Ed25519 refuses it
    outright), :class:`TamperedComponent` (signed hashes differ from the content) or
    :class:`PartiallySigned` (only a prefix is signed and ``allow_partial`` is off); and
    :class:`~harness.supply.keys.WeakPublicKey` for a small-order or non-canonical key.
    """
    return verify_all(
        data, public_keys, detached_signature=detached_signature, allow_partial=allow_partial
    )[0]


def verify_all(
    data: bytes,
    public_keys: PublicKey | Iterable[PublicKey],
    *,
    detached_signature: bytes | None = None,
    allow_partial: bool = False,
) -> list[VerifiedSignature]:
    """Like :func:`verify`, but return every key that verifies, complete ones first."""
    data = as_bytes(data)
    keys = [public_keys] if isinstance(public_keys, PublicKey) else list(public_keys)
    for key in keys:  # the constructor checked, but an instance can be made around it
        check_public_key(key.raw)
    # Step 1: the input is a module or component, and it is signed.
    found = layout(data)
    signature = _signature_data(data, found, detached_signature)
    records = [r for s in signature.signed_hashes for r in s.signatures]
    if not any(r.algorithm == ALG_ED25519 for r in records):
        raise UnsupportedSignature("the signature data holds no Ed25519 signature")
    # Step 2: which hash sets carry a valid signature by one of the keys (in key order).
    valid: list[tuple[PublicKey, SignatureRecord, SignedHashes]] = []
    named_but_invalid: list[PublicKey] = []
    non_canonical: list[tuple[PublicKey, str]] = []
    for key in keys:
        for signed in signature.signed_hashes:
            message = signature.message(signed.hashes)
            for record in signed.signatures:
                if record.algorithm != ALG_ED25519 or not key.matches_key_id(record.key_id):
                    continue
                problem = signature_problem(record.signature)
                if problem is not None:  # never handed to OpenSSL
                    non_canonical.append((key, problem))
                elif key.verify(record.signature, message):
                    valid.append((key, record, signed))
                elif record.key_id:
                    named_but_invalid.append(key)
    if not valid and non_canonical:
        key, problem = non_canonical[0]
        raise NonCanonicalSignature(
            f"signature does not verify: a signature for key {key.fingerprint} is not a "
            f"strict Ed25519 signature: {problem}; the signature data was damaged or forged"
        )
    if not valid:
        raise _no_valid_signature(records, keys, named_but_invalid)
    # Step 3: the signed hashes against the content's rolling hashes.
    parts = part_hashes(data, found.content, found.content_start)
    digest = hashlib.sha256(data).hexdigest()
    results = [
        _coverage(key, record, signed, found, parts, digest) for key, record, signed in valid
    ]
    complete = [r for r in results if r.complete]
    partial = sorted(
        (r for r in results if not r.complete and r.covered_parts),
        key=lambda r: r.covered_parts,
        reverse=True,
    )
    if complete or (allow_partial and partial):
        return complete + (partial if allow_partial else [])
    if not partial:
        raise TamperedComponent(
            "signature does not verify: component was modified after signing "
            f"(signed by key {valid[0][0].fingerprint}, but no signed hash matches the content)"
        )
    best = partial[0]
    if best.covered_parts == best.total_parts:
        raise TamperedComponent(
            "signature does not verify: it signs a list of "
            f"{len(best.signed_hashes)} part hashes, the component has {best.total_parts} parts "
            "(sections or delimiters were removed or added after signing)"
        )
    raise PartiallySigned(
        f"signature covers only the first {best.covered_parts} of {best.total_parts} parts: "
        "sections were added after signing",
        covered_parts=best.covered_parts,
        total_parts=best.total_parts,
    )


def _coverage(
    key: PublicKey,
    record: SignatureRecord,
    signed: SignedHashes,
    found: Layout,
    parts: Sequence[Part],
    digest: str,
) -> VerifiedSignature:
    # A rolling hash commits to everything before it, so the last part whose hash was
    # signed bounds the covered content, whichever earlier hashes the signer left out.
    covered = 0
    for index, part in enumerate(parts):
        if part.hash in signed.hashes:
            covered = index + 1
    return VerifiedSignature(
        key=key,
        key_id=record.key_id,
        kind=found.kind,
        complete=list(signed.hashes) == [part.hash for part in parts],
        covered_parts=covered,
        total_parts=len(parts),
        content_start=found.content_start,
        covered_until=parts[covered - 1].end if covered else found.content_start,
        signed_hashes=signed.hashes,
        component_sha256=digest,
    )


def _no_valid_signature(
    records: Sequence[SignatureRecord], keys: Sequence[PublicKey], named: Sequence[PublicKey]
) -> SignatureError:
    if named:
        return InvalidSignature(
            f"signature does not verify: the signature by key {named[0].fingerprint} is not "
            "valid (the signature data was damaged or forged)"
        )
    ids = sorted({r.key_id for r in records if r.algorithm == ALG_ED25519 and r.key_id})
    if not keys:
        what = "no keys to verify with"
    else:
        what = f"none of the {len(keys)} key(s) given verifies it"
    if ids:
        return UntrustedKey(
            f"signed by an untrusted key {', '.join(i.hex() for i in ids)} ({what})",
            key_ids=ids,
            hint="add the signer's public key to the trust store if you trust it",
        )
    return UntrustedKey(
        f"signed by an unknown key: the signature names no key id, and {what}",
        hint="add the signer's public key to the trust store if you trust it",
    )
