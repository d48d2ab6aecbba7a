"""The work behind ``matter-harness keys``, ``sign``, ``verify``, ``trust`` and ``signature``.

The click commands in :mod:`harness.cli` only parse options and print; these functions
read and write the key, signature and component files. Loading components for a run goes
through :class:`harness.supply.chain.SupplyChain` instead.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.project import atomic_write
from harness.supply.chain import SupplyChain, Verification, read_component
from harness.supply.keys import (
    KeyFileError,
    PublicKey,
    SecretKey,
    WeakPublicKey,
    load_public_key,
    save_public_key,
    save_secret_key,
)
from harness.supply.settings import SupplyChainError
from harness.supply.signature_format import (
    SignatureData,
    SignatureError,
    layout,
)
from harness.supply.signing import (
    NoSignature,
    detach,
    sign,
)


@dataclass(frozen=True)
class SignOutcome:
    """What ``matter-harness sign`` wrote."""

    written: Path
    key_id: str
    sha256: str
    detached: bool


def generate_key_files(path: Path, *, overwrite: bool = False) -> tuple[SecretKey, Path, Path]:
    """Write a new key pair to ``path`` (0600) and its public key to ``path.pub``."""
    key = SecretKey.generate()
    public = path.with_name(path.name + ".pub")
    if not overwrite and public.exists():
        raise KeyFileError(f"refusing to overwrite existing key file {public}")
    save_secret_key(path, key, overwrite=overwrite)
    save_public_key(public, key.public_key, overwrite=overwrite)
    return key, path, public


def sign_component_file(
    component: Path,
    key: SecretKey,
    *,
    key_id: bytes | None = None,
    detached: Path | None = None,
    output: Path | None = None,
) -> SignOutcome:
    """Sign ``component``: embedded (in place, or into ``output``), or into ``detached``."""
    data = read_component(component)
    if detached is not None:
        if layout(data).signature_section is not None:
            raise SignatureError(
                f"{component} already has an embedded signature, so it cannot also be signed "
                "detached: split it first with `matter-harness signature detach "
                f"{component} -o OUT --signature SIG`",
                hint="then sign OUT with --detached (OUT still verifies with SIG), or sign "
                f"{component} without --detached to add an embedded signature",
            )
        signature = sign(data, key, key_id=key_id, detached=True)
        atomic_write(detached, signature, mode=0o644)
        return SignOutcome(detached, _shown_id(key, key_id), _sha(signature), True)
    signed = sign(data, key, key_id=key_id)
    target = output or component
    atomic_write(target, signed)
    return SignOutcome(target, _shown_id(key, key_id), _sha(signed), False)


def _shown_id(key: SecretKey, key_id: bytes | None) -> str:
    return (key.public_key.key_id if key_id is None else key_id).hex()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_public_key_argument(text: str) -> PublicKey:
    """A public key given as a file (``keys generate``'s ``.pub``) or as hex."""
    path = Path(text)
    if path.is_file():
        return load_public_key(path)
    try:
        return PublicKey.from_hex(text)
    except WeakPublicKey:
        raise  # a key, but one that must never be trusted: say exactly that
    except HarnessError as exc:
        raise KeyFileError(
            f"{text!r} is neither a public key file nor a hex public key",
            hint="pass the .pub file written by `matter-harness keys generate`",
        ) from exc


def verify_component_file(
    chain: SupplyChain, component: Path, signature: Path | None = None
) -> Verification:
    """Check one file as ``matter-harness verify`` does (optionally a detached signature)."""
    detached = None
    if signature is not None:
        try:
            detached = signature.read_bytes()
        except OSError as exc:
            raise SupplyChainError(f"cannot read signature {signature}: {exc.strerror}") from exc
    data = read_component(component)
    return chain.verify_data(data, name=component, detached=detached).verification


# --- signature detach ------------------------------------------------------------------


class SignatureFileError(SupplyChainError):
    """A ``signature`` command cannot use its input (unreadable, not a component, no
    signature) or must not write its output (it exists, or is the input)."""


@dataclass(frozen=True)
class DetachOutcome:
    """What ``matter-harness signature detach`` wrote."""

    component: Path  # without its signature section: exactly the content it signs
    signature: Path  # the embedded signature data, byte for byte
    content_sha256: str
    signature_sha256: str
    key_ids: tuple[str, ...]  # hex, in the order of the signature data


def detach_signature_file(
    component: Path, output: Path, signature: Path, *, overwrite: bool = False
) -> DetachOutcome:
    """Write ``component`` without its embedded signature section to ``output``, and the
    signature data to ``signature``: a detached signature of ``output`` that verifies
    exactly as the embedded one verified ``component`` (same signers, same coverage).

    Raises :class:`SignatureFileError`, having written nothing, for an input that is not
    a readable component (or module) with a decodable embedded signature, for an output
    that exists (unless ``overwrite``), or is the input or the other output."""
    for path, other in ((output, component), (signature, component), (output, signature)):
        if _same_file(path, other):
            raise SignatureFileError(
                f"refusing to write {path} over {other}: the input and the two outputs must "
                "be three different files"
            )
    data = read_input(component, "component")
    try:
        unsigned, detached = detach(data)
        decoded = SignatureData.decode(detached)
    except NoSignature as exc:
        raise SignatureFileError(
            f"{component} has no embedded signature: nothing to detach"
        ) from exc
    except SignatureError as exc:
        raise SignatureFileError(
            f"cannot detach the signature of {component}: {exc.message}"
        ) from exc
    if not overwrite:
        for path in (output, signature):
            if path.exists() or path.is_symlink():
                raise SignatureFileError(
                    f"refusing to overwrite existing file {path} (--force replaces it)"
                )
    _write_output(signature, detached, overwrite, "the detached signature")
    try:
        _write_output(output, unsigned, overwrite, "the component")
    except SignatureFileError:
        if not overwrite:  # the signature file is ours alone: do not leave half a pair
            signature.unlink(missing_ok=True)
        raise
    return DetachOutcome(
        component=output,
        signature=signature,
        content_sha256=_sha(unsigned),
        signature_sha256=_sha(detached),
        key_ids=tuple(r.key_id.hex() for s in decoded.signed_hashes for r in s.signatures),
    )


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def read_input(path: Path, what: str) -> bytes:
    """The bytes of an input file; an unreadable one is a :class:`SignatureFileError`."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SignatureFileError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc


def _write_output(path: Path, data: bytes, overwrite: bool, what: str) -> None:
    try:
        atomic_write(path, data, mode=0o644, overwrite=overwrite)
    except FileExistsError as exc:
        raise SignatureFileError(f"refusing to overwrite existing file {path}") from exc
    except OSError as exc:
        raise SignatureFileError(f"cannot write {what} {path}: {exc.strerror or exc}") from exc
