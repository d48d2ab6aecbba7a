"""The compiled-artifact cache, authenticated: a cached artifact is only ever used as the
compilation of exactly the bytes that were verified.

Compiling the 18 MB core takes seconds, so compiled components are cached. But a
compiled artifact is native code: wasmtime documents deserializing one as unsafe for
untrusted input, and whoever can write the cache directory (a pull request's cached
``build/``, a restored CI cache) could otherwise get any code run. So each entry carries
an HMAC-SHA256 tag (RFC 2104) over

    "matter-harness compiled-artifact v1" || SHA-256(component) || wasmtime version
    || engine settings || SHA-256(artifact)

keyed by a per-user secret that never lives in the project: ``cache.key`` (32 random
bytes, mode 0600) in ``$XDG_CONFIG_HOME/matter-harness/`` (else
``~/.config/matter-harness/``), created on first use. An entry is deserialized only
after its tag verifies, from the very bytes the tag was checked on; anything else (no
tag, a wrong tag, an artifact for other component bytes or another engine) is discarded
and recompiled, and counted in :attr:`CompiledCache.rejected`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

from harness.project import atomic_write, user_config_dir

#: The label that starts every tag's input (domain separation, format version).
TAG_LABEL = b"matter-harness compiled-artifact v1"
#: The per-user key's file name in the user's configuration directory.
KEY_FILE = "cache.key"
KEY_BYTES = 32

Warn = Callable[[str], None]


def cache_key_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the per-user cache key lives."""
    return user_config_dir(env) / KEY_FILE


def load_or_create_key(path: Path) -> bytes | None:
    """The cache key at ``path``, made (0600, directory 0700) on first use.

    None when it cannot be had safely: unreadable, the wrong length, or readable by
    others (then the cache is not used at all, rather than trusted).
    """
    try:
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Another process may make it first: then use theirs.
            with contextlib.suppress(FileExistsError):
                atomic_write(path, secrets.token_bytes(KEY_BYTES), mode=0o600, overwrite=False)
        if path.stat().st_mode & 0o077:
            return None
        key = path.read_bytes()
    except OSError:
        return None
    return key if len(key) == KEY_BYTES else None


class CompiledCache:
    """Compiled components on disk, each with an authentication tag beside it."""

    def __init__(
        self,
        directory: Path,
        *,
        engine_id: str,
        key: bytes | None,
        warn: Warn | None = None,
    ) -> None:
        self.directory = directory
        self.engine_id = engine_id
        self._key = key
        self._warn = warn or (lambda _message: None)
        self.hits = 0
        self.rejected = 0
        """Entries found but refused (no tag, a wrong tag): discarded and recompiled."""

    @property
    def enabled(self) -> bool:
        """False when no key could be had: nothing is read from or written to disk."""
        return self._key is not None

    def artifact_path(self, component_sha256: str) -> Path:
        """Where the compiled form of the component with this SHA-256 is kept."""
        return self.directory / f"{component_sha256}-{self.engine_id}.cwasm"

    def tag(self, component_sha256: str, artifact: bytes) -> str:
        """The authentication tag of ``artifact`` as the compilation of that component."""
        assert self._key is not None
        message = b"\0".join(
            (
                TAG_LABEL,
                bytes.fromhex(component_sha256),
                self.engine_id.encode("utf-8"),
                hashlib.sha256(artifact).digest(),
            )
        )
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def read(self, component_sha256: str) -> bytes | None:
        """The cached artifact for the component, if present and authentic; else None.

        An entry that fails authentication is removed and counted in :attr:`rejected`.
        """
        if self._key is None:
            return None
        path = self.artifact_path(component_sha256)
        tag_path = path.with_name(path.name + ".tag")
        try:
            artifact = path.read_bytes()
        except OSError:
            return None
        try:
            tag = tag_path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            tag = ""
        if not hmac.compare_digest(tag, self.tag(component_sha256, artifact)):
            self.discard(component_sha256, "its authentication tag is missing or wrong")
            return None
        self.hits += 1
        return artifact

    def write(self, component_sha256: str, artifact: bytes) -> None:
        """Keep ``artifact`` with its tag (the tag last, so a reader never sees a tag
        without its artifact)."""
        if self._key is None:
            return
        path = self.artifact_path(component_sha256)
        try:
            atomic_write(path, artifact, mode=0o600)
            atomic_write(
                path.with_name(path.name + ".tag"),
                (self.tag(component_sha256, artifact) + "\n").encode("ascii"),
                mode=0o600,
            )
        except OSError as exc:
            self._warn(f"warning: cannot write the compiled-artifact cache {path}: {exc}")

    def discard(self, component_sha256: str, why: str) -> None:
        """Remove an entry that must not be used, count it and say so."""
        path = self.artifact_path(component_sha256)
        self.rejected += 1
        self._warn(f"warning: discarded the cached compiled artifact {path}: {why}; recompiling")
        for stale in (path, path.with_name(path.name + ".tag")):
            with contextlib.suppress(OSError):
                os.unlink(stale)


__all__ = ["CompiledCache", "cache_key_path", "load_or_create_key"]
