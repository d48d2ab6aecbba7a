"""The work behind ``matter-harness keys``, ``sign``, ``verify`` and ``trust``.

The click commands in :mod:`harness.cli` only parse options and print; these functions
read and write the key, signature and component files. Loading components for a run goes
through :class:`harness.supply.chain.SupplyChain` instead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.project import atomic_write
from harness.supply.chain import SupplyChain, Verification, read_component
from harness.supply.keys import (
    KeyFileError,
    PublicKey,
    SecretKey,
    load_public_key,
    save_public_key,
    save_secret_key,
)
from harness.supply.settings import SupplyChainError
from harness.supply.signing import sign


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
