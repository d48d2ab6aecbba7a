"""Which signers to trust, and how strictly: the trust store and the trust modes.

The trust store is one JSON file listing trusted public keys by name::

    {"format": "matter-harness-trust-store", "version": 1,
     "keys": [{"name": "ci", "public_key": "01<64 hex digits>",
               "key_id": "<24 hex digits>", "added_at": "2026-01-02T03:04:05Z"}]}

``public_key`` is the tool-conventions serialisation (``0x01 || key``) in hex; ``key_id``
is the id signatures by this key carry (wasmsign2's default unless the signer chose
another). A store *location* is either that file (a path ending in ``.json``) or a
directory holding it as ``trusted-keys.json``. The location is, first found:

1. an explicit path (the CLI's ``--trust-store``);
2. the environment variable ``MATTER_HARNESS_TRUST_STORE``;
3. ``$XDG_CONFIG_HOME/matter-harness/trust/`` (``~/.config/matter-harness/trust/`` when
   ``XDG_CONFIG_HOME`` is unset or not absolute).

A missing store is an empty one. A store that cannot be parsed is an error naming the
file, and is never written over; every write goes to a temporary file that replaces the
store in one step, under a lock (``trusted-keys.json.lock`` beside the store file, kept),
so concurrent writers do not lose each other's keys.

Whoever can write the store decides what is trusted, so a store whose directory or file
is writable by group or others (mode ``& 0o022``) is refused with an
:class:`InsecureTrustStore` naming the path, its mode and ``chmod go-w <path>``, each
time the store is read or written. ``TrustStore(..., check_permissions=False)`` (also on
:meth:`TrustStore.open`) or the environment variable
``MATTER_HARNESS_INSECURE_PERMISSIONS=1`` (read at each check) turns this off, for file
systems without Unix permissions (:mod:`harness.supply.permissions`). The harness creates
the directory 0700, the store 0644 and the lock 0600 (narrowed further by the umask).

Every key is a strict Ed25519 public key: a small-order or non-canonical key is refused
by :meth:`TrustStore.add` and, in a store file, makes the store corrupt
(:class:`CorruptTrustStore`); :func:`check_component` refuses such keys given to it too.

Trust modes, for :func:`check_component`:

* ``strict`` (default): a complete, valid signature by a key in the trust store;
* ``self-signed``: a complete, valid signature by any key we have (the store's, or extra
  keys such as a developer's own public key) -- integrity without trust;
* ``unsigned``: anything loads; the verdict carries a warning the caller must print on
  every use.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.project import atomic_write
from harness.supply.keys import MalformedKeyError, PublicKey, check_public_key
from harness.supply.permissions import (
    TRUST_FORBIDDEN_BITS,
    InsecurePermissions,
    chmod_command,
    octal_mode,
    override_hint,
    permission_checks_enabled,
)
from harness.supply.settings import DEFAULT_MODE, TrustMode, resolve_trust_store_path
from harness.supply.signature_format import SignatureError, as_bytes
from harness.supply.signing import UntrustedKey, VerifiedSignature, read_signature, verify_all

"""Environment variable naming the trust store location."""
STORE_FILE_NAME = "trusted-keys.json"
"""Name of the store file inside a store directory."""
STORE_FORMAT = "matter-harness-trust-store"
"""Value of the ``format`` field of a store file."""
STORE_VERSION = 1
"""Version of the store file layout."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class TrustStoreError(HarnessError):
    """Base of the trust store errors."""


class CorruptTrustStore(TrustStoreError):
    """The store file exists but is not a valid store; it was left untouched."""


class DuplicateTrustedKey(TrustStoreError):
    """A key or name that is in the store already."""


class UnknownTrustedKey(TrustStoreError):
    """No key of that name in the store."""


class InsecureTrustStore(TrustStoreError, InsecurePermissions):
    """A store directory or file that group or others may write; it was not used."""


class InvalidTrustName(TrustStoreError, ValueError):
    """A key name that is empty, too long or has characters other than ``A-Za-z0-9._@-``."""


@dataclass(frozen=True)
class TrustedKey:
    """A public key the user trusts, under a name, since ``added_at`` (ISO 8601, UTC)."""

    name: str
    key: PublicKey
    added_at: str

    def to_json(self) -> dict[str, str]:
        """The store file entry of this key."""
        return {
            "name": self.name,
            "public_key": self.key.to_bytes().hex(),
            "key_id": self.key.key_id.hex(),
            "added_at": self.added_at,
        }

    @classmethod
    def from_json(cls, entry: object, where: str) -> TrustedKey:
        """Parse a store file entry; ``where`` names it in errors."""
        if not isinstance(entry, dict):
            raise ValueError(f"{where} is not an object")
        fields = {}
        for field in ("name", "public_key", "added_at"):
            value = entry.get(field)
            if not isinstance(value, str):
                raise ValueError(f"{where}: '{field}' is missing or not a string")
            fields[field] = value
        validate_name(fields["name"])
        try:
            key = PublicKey.from_hex(fields["public_key"])
        except MalformedKeyError as exc:
            raise ValueError(f"{where}: 'public_key': {exc.message}") from exc
        key_id = entry.get("key_id")
        if key_id is not None:
            if not isinstance(key_id, str):
                raise ValueError(f"{where}: 'key_id' is not a string")
            try:
                explicit = bytes.fromhex(key_id)
            except ValueError as exc:
                raise ValueError(f"{where}: 'key_id' is not hex") from exc
            if explicit != key.key_id:
                key = key.with_key_id(explicit)
        return cls(fields["name"], key, fields["added_at"])


def validate_name(name: str) -> str:
    """Return ``name`` if it is a valid key name, else raise :class:`InvalidTrustName`."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidTrustName(
            f"invalid key name {name!r}: use 1-64 characters A-Z a-z 0-9 . _ @ -, "
            "starting with a letter or digit"
        )
    return name


class TrustStore:
    """The set of trusted public keys, kept in one JSON file."""

    def __init__(self, location: str | os.PathLike[str], *, check_permissions: bool = True) -> None:
        """Use the store at ``location``: a ``.json`` file, or a directory holding one.

        ``check_permissions=False`` skips the permission checks (see the module).
        """
        self.location = Path(location)
        self.check_permissions = check_permissions
        if self.location.suffix == ".json" and not self.location.is_dir():
            self.path = self.location
        else:
            self.path = self.location / STORE_FILE_NAME

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        *,
        check_permissions: bool = True,
    ) -> TrustStore:
        """Open the store at the resolved location (see :func:`resolve_trust_store_path`)."""
        return cls(resolve_trust_store_path(path, env), check_permissions=check_permissions)

    def __repr__(self) -> str:
        return f"TrustStore({str(self.path)!r})"

    def entries(self) -> list[TrustedKey]:
        """All trusted keys, in the order they were added. A missing store is empty."""
        return self._read()

    def public_keys(self) -> list[PublicKey]:
        """The trusted public keys."""
        return [entry.key for entry in self._read()]

    def get(self, name: str) -> TrustedKey:
        """The trusted key called ``name``."""
        for entry in self._read():
            if entry.name == name:
                return entry
        raise UnknownTrustedKey(f"no key named {name!r} in the trust store {self.path}")

    def find(self, key: PublicKey) -> TrustedKey | None:
        """The store entry of ``key``, if it is trusted."""
        for entry in self._read():
            if entry.key.raw == key.raw:
                return entry
        return None

    def add(self, name: str, key: PublicKey, *, now: datetime | None = None) -> TrustedKey:
        """Trust ``key`` under ``name``; a name or key already present is an error."""
        validate_name(name)
        if not isinstance(key, PublicKey):
            raise TypeError("trust a PublicKey (see harness.supply.keys.load_public_key)")
        check_public_key(key.raw)  # again: an instance can be made around the constructor
        stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        entry = TrustedKey(name, key, stamp)
        with self._locked():
            entries = self._read()
            for other in entries:
                if other.name == name:
                    raise DuplicateTrustedKey(
                        f"a key named {name!r} is already trusted ({other.key.fingerprint})",
                        hint="remove it first, or choose another name",
                    )
                if other.key.raw == key.raw:
                    raise DuplicateTrustedKey(
                        f"key {key.fingerprint} is already trusted as {other.name!r}"
                    )
            self._write([*entries, entry])
        return entry

    def remove(self, name: str) -> TrustedKey:
        """Stop trusting the key called ``name``; return its entry."""
        with self._locked():
            entries = self._read()
            kept = [entry for entry in entries if entry.name != name]
            if len(kept) == len(entries):
                raise UnknownTrustedKey(
                    f"no key named {name!r} in the trust store {self.path}",
                    hint="list the trusted keys to see their names",
                )
            self._write(kept)
        return next(entry for entry in entries if entry.name == name)

    def _read(self) -> list[TrustedKey]:
        self._check_directory()
        try:
            with self.path.open("rb") as handle:
                self._check_mode(self.path, os.fstat(handle.fileno()).st_mode)
                text = handle.read().decode("utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise CorruptTrustStore(f"cannot read the trust store {self.path}: {exc}") from exc
        try:
            return _parse_store(text)
        except ValueError as exc:
            raise CorruptTrustStore(
                f"the trust store {self.path} is corrupt: {exc}",
                hint="fix or move the file away; it was not changed",
            ) from exc

    def _write(self, entries: list[TrustedKey]) -> None:
        document = {
            "format": STORE_FORMAT,
            "version": STORE_VERSION,
            "keys": [entry.to_json() for entry in entries],
        }
        data = (json.dumps(document, indent=2) + "\n").encode("utf-8")
        try:  # keep a mode the user narrowed (0600), never one others may write
            mode = stat.S_IMODE(self.path.stat().st_mode) & ~TRUST_FORBIDDEN_BITS
        except OSError:
            mode = 0o644
        try:
            atomic_write(self.path, data, mode=mode, parents=False)
        except OSError as exc:
            raise TrustStoreError(f"cannot write the trust store {self.path}: {exc}") from exc

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise TrustStoreError(f"cannot create the trust store {self.path}: {exc}") from exc
        self._check_directory()  # before anything is created in it
        lock = self.path.with_name(self.path.name + ".lock")
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise TrustStoreError(f"cannot create the trust store {self.path}: {exc}") from exc
        with os.fdopen(fd, "ab") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            yield

    def _check_directory(self) -> None:
        directory = self.path.parent
        try:
            mode = directory.stat().st_mode
        except OSError:  # missing: nothing to trust yet; unreadable: reading reports it
            return
        self._check_mode(directory, mode)

    def _check_mode(self, path: Path, mode: int) -> None:
        if mode & TRUST_FORBIDDEN_BITS and permission_checks_enabled(self.check_permissions):
            what = "directory" if stat.S_ISDIR(mode) else "file"
            raise InsecureTrustStore(
                f"trust store {what} {path} is writable by group or others (mode "
                f"{octal_mode(mode)}); fix it with `{chmod_command('go-w', path)}`",
                path=path,
                mode=mode,
                hint=override_hint("whoever can write the trust store decides what is trusted"),
            )


def _parse_store(text: str) -> list[TrustedKey]:
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise ValueError("the top level is not an object")
    if document.get("format") != STORE_FORMAT:
        raise ValueError(f"'format' is not {STORE_FORMAT!r}")
    if document.get("version") != STORE_VERSION:
        raise ValueError(f"unsupported 'version' {document.get('version')!r}")
    raw_keys = document.get("keys")
    if not isinstance(raw_keys, list):
        raise ValueError("'keys' is not a list")
    entries = [TrustedKey.from_json(item, f"keys[{i}]") for i, item in enumerate(raw_keys)]
    names = [entry.name for entry in entries]
    raws = [entry.key.raw for entry in entries]
    if len(set(names)) != len(names) or len(set(raws)) != len(raws):
        raise ValueError("a name or key appears twice")
    return entries


# --- trust modes -----------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureVerdict:
    """What :func:`check_component` established about a component.

    ``verified``: a signature was checked and holds. ``trusted``: its key is in the store.
    ``warning`` is set in ``unsigned`` mode and must be shown to the user on every use.
    """

    mode: TrustMode
    component_sha256: str
    verified: bool
    trusted: bool
    signer_name: str | None
    key_id: str | None
    complete: bool
    covered_parts: int
    total_parts: int
    warning: str | None
    detail: str

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready record, e.g. for the evidence ledger."""
        return {
            "mode": self.mode.value,
            "component_sha256": self.component_sha256,
            "verified": self.verified,
            "trusted": self.trusted,
            "signer_name": self.signer_name,
            "key_id": self.key_id,
            "complete": self.complete,
            "covered_parts": self.covered_parts,
            "total_parts": self.total_parts,
            "warning": self.warning,
            "detail": self.detail,
        }


def unsigned_warning(component_sha256: str) -> str:
    """The warning printed whenever a component is loaded in ``unsigned`` mode."""
    return (
        "WARNING: trust mode 'unsigned': signature checks are OFF. Component sha256 "
        f"{component_sha256} is loaded with no proof of who built it or that it is unmodified."
    )


def check_component(
    data: bytes,
    mode: TrustMode | str = DEFAULT_MODE,
    trust_store: TrustStore | Iterable[TrustedKey] | None = None,
    detached_signature: bytes | None = None,
    *,
    extra_keys: Iterable[PublicKey] = (),
    allow_partial: bool = False,
) -> SignatureVerdict:
    """Decide whether ``data`` may be loaded under ``mode``; raise the reason if not.

    ``trust_store`` is a :class:`TrustStore` or its entries (``None``: no trusted keys).
    ``extra_keys`` are keys that can verify but are not trusted (the signer's own key in
    ``self-signed`` mode; in ``strict`` mode they only sharpen the error message). Raises
    a :class:`~harness.supply.signing.SignatureError` naming the failure in ``strict`` and
    ``self-signed`` modes, and :class:`~harness.supply.keys.WeakPublicKey` if any key
    given (trusted or extra) is small-order or non-canonical; never raises in
    ``unsigned`` mode (a trust store that cannot be read aside).
    """
    mode = TrustMode.parse(mode)
    data = as_bytes(data)
    trusted: list[TrustedKey] = []
    if isinstance(trust_store, TrustStore):
        trusted = trust_store.entries()
    elif trust_store is not None:
        trusted = list(trust_store)
    extra = [key for key in extra_keys if all(key.raw != t.key.raw for t in trusted)]
    if mode is TrustMode.UNSIGNED:
        return _check_unsigned(data, trusted, extra, detached_signature)
    for key in [*(t.key for t in trusted), *extra]:  # trusted or not, before any signature
        check_public_key(key.raw)
    where = "the trusted keys"
    if isinstance(trust_store, TrustStore):
        where = f"the trust store {trust_store.path}"
    keys = [t.key for t in trusted] + (extra if mode is TrustMode.SELF_SIGNED else [])
    try:
        results = verify_all(
            data, keys, detached_signature=detached_signature, allow_partial=allow_partial
        )
    except UntrustedKey as exc:
        raise _untrusted(exc, mode, where, data, extra, detached_signature) from exc
    return _verdict(mode, results, trusted)


def _verdict(
    mode: TrustMode, results: list[VerifiedSignature], trusted: list[TrustedKey]
) -> SignatureVerdict:
    names = {t.key.raw: t.name for t in trusted}
    # Prefer a trusted signer when several keys verify (strict mode only has trusted ones).
    best = next((r for r in results if r.key.raw in names), results[0])
    name = names.get(best.key.raw)
    who = f"trusted key {name!r}" if name else "untrusted key"
    coverage = (
        "the whole component"
        if best.complete
        else f"only the first {best.covered_parts} of {best.total_parts} parts"
    )
    return SignatureVerdict(
        mode=mode,
        component_sha256=best.component_sha256,
        verified=True,
        trusted=name is not None,
        signer_name=name,
        key_id=best.key.fingerprint,
        complete=best.complete,
        covered_parts=best.covered_parts,
        total_parts=best.total_parts,
        warning=None,
        detail=f"{mode.value}: valid signature by {who} {best.key.fingerprint} "
        f"covering {coverage} ({best.kind} sha256 {best.component_sha256})",
    )


def _untrusted(
    exc: UntrustedKey,
    mode: TrustMode,
    where: str,
    data: bytes,
    extra: list[PublicKey],
    detached: bytes | None,
) -> SignatureError:
    ids = ", ".join(i.hex() for i in exc.key_ids) or "(the signature names no key id)"
    if mode is TrustMode.SELF_SIGNED:
        return UntrustedKey(
            f"signed by an unknown key {ids}: no key we have verifies it",
            key_ids=exc.key_ids,
            hint="self-signed mode still needs the signer's public key: pass it as an extra key",
        )
    valid_but_untrusted = ""
    if extra:
        with contextlib.suppress(SignatureError):
            verify_all(data, extra, detached_signature=detached)
            valid_but_untrusted = " (the signature is valid, but the key is not trusted)"
    return UntrustedKey(
        f"signed by an untrusted key {ids}: not in {where}{valid_but_untrusted}",
        key_ids=exc.key_ids,
        hint="add the signer's public key to the trust store if you trust it, or use the "
        "'self-signed' trust mode for local builds",
    )


def _check_unsigned(
    data: bytes,
    trusted: list[TrustedKey],
    extra: list[PublicKey],
    detached: bytes | None,
) -> SignatureVerdict:
    digest = hashlib.sha256(data).hexdigest()
    detail = "unsigned: signature not required"
    # Say what a signature would have shown, without ever refusing the component.
    try:
        read_signature(data, detached)
        results = verify_all(data, [t.key for t in trusted] + extra, detached_signature=detached)
        found = _verdict(TrustMode.SELF_SIGNED, results, trusted)
        detail += f"; {found.detail.removeprefix('self-signed: ')}"
        verified, trusted_flag, name, key_id = True, found.trusted, found.signer_name, found.key_id
        complete, covered, total = found.complete, found.covered_parts, found.total_parts
    except (SignatureError, ValueError) as exc:
        detail += f"; {exc}"
        verified, trusted_flag, name, key_id = False, False, None, None
        complete, covered, total = False, 0, 0
    return SignatureVerdict(
        mode=TrustMode.UNSIGNED,
        component_sha256=digest,
        verified=verified,
        trusted=trusted_flag,
        signer_name=name,
        key_id=key_id,
        complete=complete,
        covered_parts=covered,
        total_parts=total,
        warning=unsigned_warning(digest),
        detail=detail,
    )
