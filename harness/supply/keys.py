"""Ed25519 signing keys in the WebAssembly tool-conventions serialisation, and key files.

The tool-conventions signature format (``Signatures.md`` of WebAssembly/tool-conventions)
fixes how keys are written down, with the algorithm in the first byte:

* public key: ``0x01 || public key (32 bytes)`` -- 33 bytes;
* key pair:   ``0x81 || secret key (32 bytes) || public key (32 bytes)`` -- 65 bytes.

Key files hold exactly those bytes, so they are interchangeable with wasmsign2's
``keygen`` output. The secret half of a key pair is the 32-byte RFC 8032 seed.

A signature may name its key by a *key id*. The spec leaves the id's content open; we use
the one wasmsign2 derives by default (``HMAC-SHA256(key=public key, msg="key_id")``, first
12 bytes), so a component we sign verifies with ``wasmsign2 verify`` and vice versa.

Public keys are strict Ed25519 keys (:mod:`harness.supply.ed25519`): a key of small order
or with a non-canonical encoding is a :class:`WeakPublicKey` wherever it enters (the
constructors, :func:`load_public_key`, and again at verification), and
:meth:`PublicKey.verify` refuses non-canonical signatures before OpenSSL sees them.

A secret key file others can read or write (mode ``& 0o077``) is refused with an
:class:`InsecureKeyFile` (like ssh does), unless ``check_permissions=False`` is passed to
the loading function or ``MATTER_HARNESS_INSECURE_PERMISSIONS=1`` is set (see
:mod:`harness.supply.permissions`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from harness.errors import HarnessError
from harness.project import atomic_write
from harness.supply.ed25519 import is_curve_point, point_problem, verify_strict
from harness.supply.permissions import (
    SECRET_FORBIDDEN_BITS,
    InsecurePermissions,
    chmod_command,
    octal_mode,
    override_hint,
    permission_checks_enabled,
)

ED25519_PUBLIC_KEY_ID = 0x01
"""First byte of a serialised Ed25519 public key (also the signature algorithm id)."""
ED25519_KEY_PAIR_ID = 0x81
"""First byte of a serialised Ed25519 key pair."""
PUBLIC_KEY_SIZE = 33
"""Length of a serialised public key: the type byte and 32 key bytes."""
KEY_PAIR_SIZE = 65
"""Length of a serialised key pair: the type byte, 32 secret and 32 public bytes."""
KEY_ID_SIZE = 12
"""Length of the default key id (wasmsign2's ``attach_default_key_id``)."""


class KeyMaterialError(HarnessError):
    """Base of the key errors: bytes that are not a key of the kind asked for."""


class MalformedKeyError(KeyMaterialError, ValueError):
    """Bytes or a file that do not hold a well-formed key of the expected kind."""


class KeyFileError(KeyMaterialError):
    """A key file that cannot be read or written (missing, exists already, unreadable)."""


class WeakPublicKey(MalformedKeyError):
    """A 32-byte Ed25519 public key strict verification refuses: a point of small order
    (signatures "by" it can be forged without any secret) or a non-canonical encoding."""


class InsecureKeyFile(KeyFileError, InsecurePermissions):
    """A secret key file that group or others may read or write; it was not used."""


def check_public_key(raw: bytes) -> None:
    """Refuse ``raw`` unless it is a strict Ed25519 public key (32 bytes).

    Raises :class:`WeakPublicKey` for a small-order point or a non-canonical encoding,
    :class:`MalformedKeyError` for bytes that encode no curve point at all.
    """
    problem = point_problem(raw)
    if problem is not None:
        raise WeakPublicKey(
            f"refusing Ed25519 public key {raw.hex()}: it is {problem}, "
            "for which signatures can be forged or altered",
            hint="this is not a key made by `keys generate`; check where it came from",
        )
    if not is_curve_point(raw):
        raise MalformedKeyError(
            f"not an Ed25519 public key: {raw.hex()} is not the encoding of a curve point"
        )


def default_key_id(raw_public_key: bytes) -> bytes:
    """Return the default key id of a 32-byte Ed25519 public key.

    It is wasmsign2's: ``HMAC-SHA256(key=public key, message=b"key_id")[:12]``, so signatures
    made by either tool name their key the same way.
    """
    return hmac.new(raw_public_key, b"key_id", hashlib.sha256).digest()[:KEY_ID_SIZE]


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key, with the key id that signatures use to name it.

    ``raw`` is the 32-byte key. ``explicit_key_id`` overrides the default id for keys whose
    signer chose another one (the format allows any id); :attr:`key_id` is what counts.
    """

    raw: bytes
    explicit_key_id: bytes | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        return f"PublicKey(key id {self.fingerprint})"

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes):
            raise TypeError("a public key is bytes")
        if len(self.raw) != 32:
            raise MalformedKeyError(f"an Ed25519 public key is 32 bytes, got {len(self.raw)}")
        check_public_key(self.raw)

    @classmethod
    def from_bytes(cls, serialized: bytes) -> PublicKey:
        """Parse the spec serialisation ``0x01 || key`` (33 bytes)."""
        _expect_kind(serialized, want="public")
        return cls(bytes(serialized[1:]))

    @classmethod
    def from_hex(cls, text: str) -> PublicKey:
        """Parse a public key written as hex: the 33-byte serialisation or the bare 32 bytes."""
        try:
            data = bytes.fromhex(text.strip())
        except ValueError as exc:
            raise MalformedKeyError(f"not a hex string: {text!r}") from exc
        if len(data) == 32:
            return cls(data)
        return cls.from_bytes(data)

    def to_bytes(self) -> bytes:
        """Return the spec serialisation ``0x01 || key`` (33 bytes)."""
        return bytes([ED25519_PUBLIC_KEY_ID]) + self.raw

    @property
    def key_id(self) -> bytes:
        """The id a signature by this key carries: the explicit one, else the default."""
        if self.explicit_key_id is not None:
            return self.explicit_key_id
        return default_key_id(self.raw)

    @property
    def fingerprint(self) -> str:
        """The key id as hex, the name under which messages show this key."""
        return self.key_id.hex()

    def matches_key_id(self, key_id: bytes) -> bool:
        """Whether a signature carrying ``key_id`` may be by this key (empty id: any key)."""
        if not key_id:
            return True
        return key_id in (self.key_id, default_key_id(self.raw))

    def with_key_id(self, key_id: bytes | None) -> PublicKey:
        """Return the same key with another explicit key id (``None``: the default)."""
        return PublicKey(self.raw, key_id)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """Return whether ``signature`` is a valid strict Ed25519 signature of ``message``.

        A non-canonical ``S`` or a small-order or non-canonical ``R`` is never valid
        (:func:`harness.supply.ed25519.signature_problem`). The key itself is checked again
        (:class:`WeakPublicKey`), in case an instance was made around the constructor.
        """
        check_public_key(self.raw)
        return verify_strict(self.raw, signature, message)


class SecretKey:
    """An Ed25519 key pair: signs, and knows its :class:`PublicKey`.

    Its ``repr`` never shows the secret.
    """

    __slots__ = ("_private", "public_key")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        """Wrap a ``cryptography`` Ed25519 private key."""
        self._private = private
        raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key = PublicKey(raw)

    @classmethod
    def generate(cls) -> SecretKey:
        """Make a fresh key pair from the operating system's randomness."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> SecretKey:
        """Make the key pair of a 32-byte RFC 8032 seed (the "secret key" of the spec)."""
        if len(seed) != 32:
            raise MalformedKeyError(f"an Ed25519 secret key is 32 bytes, got {len(seed)}")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_bytes(cls, serialized: bytes) -> SecretKey:
        """Parse the spec serialisation ``0x81 || secret || public`` (65 bytes).

        The public half must be the one the secret half derives, else the bytes were
        damaged or spliced from two keys.
        """
        _expect_kind(serialized, want="secret")
        key = cls.from_seed(bytes(serialized[1:33]))
        if not hmac.compare_digest(key.public_key.raw, bytes(serialized[33:65])):
            raise MalformedKeyError(
                "the public half of this key pair does not belong to its secret half"
            )
        return key

    def to_bytes(self) -> bytes:
        """Return the spec serialisation ``0x81 || secret || public`` (65 bytes)."""
        seed = self._private.private_bytes_raw()
        return bytes([ED25519_KEY_PAIR_ID]) + seed + self.public_key.raw

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``message`` (deterministic, RFC 8032)."""
        return self._private.sign(message)

    def __repr__(self) -> str:
        return f"SecretKey(public key id {self.public_key.fingerprint})"


def generate_keypair() -> SecretKey:
    """Generate a new Ed25519 key pair (``.public_key`` is its public half)."""
    return SecretKey.generate()


def _expect_kind(data: bytes, *, want: str) -> None:
    """Check the type byte and length of a serialised key, naming what the bytes are."""
    if not isinstance(data, bytes | bytearray):
        raise TypeError("a serialised key is bytes")
    kind, size = (
        (ED25519_PUBLIC_KEY_ID, PUBLIC_KEY_SIZE)
        if want == "public"
        else (ED25519_KEY_PAIR_ID, KEY_PAIR_SIZE)
    )
    if len(data) == size and data[0] == kind:
        return
    what = describe_key_bytes(bytes(data))
    expected = (
        "a public key (33 bytes: 0x01 and the 32-byte key)"
        if want == "public"
        else "a secret key (65 bytes: 0x81, the 32-byte secret and the 32-byte public key)"
    )
    raise MalformedKeyError(f"expected {expected}, but this is {what}")


def describe_key_bytes(data: bytes) -> str:
    """Say in words what some bytes look like as a key, for error messages."""
    if len(data) == PUBLIC_KEY_SIZE and data[0] == ED25519_PUBLIC_KEY_ID:
        return "an Ed25519 public key"
    if len(data) == KEY_PAIR_SIZE and data[0] == ED25519_KEY_PAIR_ID:
        return "an Ed25519 secret key (key pair)"
    if data.lstrip().startswith(b"-----BEGIN"):
        return "a PEM file (only the tool-conventions binary serialisation is supported)"
    if data.startswith(b"ssh-") or b"OPENSSH" in data[:64]:
        return "an OpenSSH key (only the tool-conventions binary serialisation is supported)"
    if not data:
        return "empty"
    return f"{len(data)} bytes starting with 0x{data[0]:02x}, not a key"


def save_secret_key(
    path: str | os.PathLike[str], key: SecretKey, *, overwrite: bool = False
) -> Path:
    """Write a key pair file readable by its owner only (mode 0600).

    The file is created with that mode (never widened and narrowed later), written to a
    temporary name and moved into place, so a reader sees the whole key or none. An
    existing file is kept unless ``overwrite``.
    """
    return _write_key_file(Path(path), key.to_bytes(), 0o600, overwrite=overwrite)


def save_public_key(
    path: str | os.PathLike[str], key: PublicKey, *, overwrite: bool = False
) -> Path:
    """Write a public key file (mode 0644, public keys are meant to be shared)."""
    return _write_key_file(Path(path), key.to_bytes(), 0o644, overwrite=overwrite)


def load_secret_key(path: str | os.PathLike[str], *, check_permissions: bool = True) -> SecretKey:
    """Read a key pair file; a public key file or anything else is a :class:`MalformedKeyError`.

    A file that group or others may read or write is an :class:`InsecureKeyFile`, unless
    ``check_permissions`` is false or ``MATTER_HARNESS_INSECURE_PERMISSIONS=1`` is set.
    """
    data = _read_key_file(Path(path), secret=permission_checks_enabled(check_permissions))
    try:
        return SecretKey.from_bytes(data)
    except MalformedKeyError as exc:
        raise MalformedKeyError(
            f"{path}: {exc.message}", hint="a secret key file is made by `keys generate`"
        ) from exc


def load_public_key(path: str | os.PathLike[str]) -> PublicKey:
    """Read a public key file; a key pair file is refused rather than silently split.

    A small-order or non-canonical key is a :class:`WeakPublicKey` naming the file.
    """
    data = _read_key_file(Path(path))
    try:
        return PublicKey.from_bytes(data)
    except MalformedKeyError as exc:
        hint = exc.hint
        if len(data) == KEY_PAIR_SIZE and data[0] == ED25519_KEY_PAIR_ID:
            hint = "this is a secret key: never share it; use its .pub file instead"
        raise type(exc)(f"{path}: {exc.message}", hint=hint) from exc


_MAX_KEY_FILE = 4096


def _read_key_file(path: Path, *, secret: bool = False) -> bytes:
    """The bytes of a key file; with ``secret``, refuse a key pair others may access."""
    try:
        with path.open("rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode  # of the file read, whatever path names
            data = handle.read(_MAX_KEY_FILE + 1)
    except FileNotFoundError as exc:
        raise KeyFileError(f"key file not found: {path}") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from exc
    if len(data) > _MAX_KEY_FILE:
        raise MalformedKeyError(f"{path}: too large to be a key file")
    # Anything but a key pair (a .pub file passed by mistake) is better named as such.
    if secret and len(data) == KEY_PAIR_SIZE and data[0] == ED25519_KEY_PAIR_ID:
        _check_secret_mode(path, mode)
    return data


def _check_secret_mode(path: Path, mode: int) -> None:
    if mode & SECRET_FORBIDDEN_BITS:
        raise InsecureKeyFile(
            f"secret key file {path} is accessible by group or others (mode "
            f"{octal_mode(mode)}); fix it with `{chmod_command('600', path)}`",
            path=path,
            mode=mode,
            hint=override_hint("a secret key must be readable by its owner only"),
        )


def _write_key_file(path: Path, data: bytes, mode: int, *, overwrite: bool) -> Path:
    if not overwrite and path.exists():
        raise KeyFileError(
            f"refusing to overwrite existing key file {path}",
            hint="remove it first, or choose another file name",
        )
    try:
        # Created with its final mode, and linked (not renamed) when it must not
        # overwrite: the secret is never in a file with wider permissions, and no race
        # clobbers a key that appeared meanwhile.
        atomic_write(path, data, mode=mode, overwrite=overwrite, parents=False)
    except FileExistsError as exc:
        raise KeyFileError(f"refusing to overwrite existing key file {path}") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot write key file {path}: {exc.strerror}") from exc
    return path


# --------------------------------------------------------------------------- build key

BUILD_KEY_DIR = "keys"
"""Directory of the build key inside a build directory."""
BUILD_KEY_FILE = "build.key"
"""File name of the build key (its public half is ``build.pub``)."""


def build_key_path(build_dir: Path) -> Path:
    """Where the build key of ``build_dir`` lives (the public half has suffix ``.pub``)."""
    return build_dir / BUILD_KEY_DIR / BUILD_KEY_FILE


def read_build_public_key(build_dir: Path, *, check_permissions: bool = True) -> PublicKey | None:
    """The public half of ``build_dir``'s build key, or None if it has none yet."""
    secret = build_key_path(build_dir)
    public = secret.with_suffix(".pub")
    if public.is_file():
        return load_public_key(public)
    if secret.is_file():  # a concurrent build is between writing the two halves
        return load_secret_key(secret, check_permissions=check_permissions).public_key
    return None


def load_or_create_build_key(build_dir: Path, *, check_permissions: bool = True) -> SecretKey:
    """``build_dir``'s build key, generated (0600, plus ``build.pub``) on first use."""
    path = build_key_path(build_dir)
    if not path.is_file():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Two processes may race here: the loser's link() fails and it reads the winner's.
        with contextlib.suppress(KeyFileError):
            save_secret_key(path, SecretKey.generate())
    key = load_secret_key(path, check_permissions=check_permissions)
    public = path.with_suffix(".pub")
    if not public.is_file():
        with contextlib.suppress(KeyFileError):
            save_public_key(public, key.public_key)
    return key
