"""The project on disk: where things are, and the three file operations everyone needs.

* Paths: the project root and the directories the harness reads by default (WIT,
  components, graphs, the capability policy, traceability data, the build directory).
* :func:`atomic_write`: replace a file in one step, so a reader (or a crash) never sees
  half of it.
* :func:`file_sha256`: the SHA-256 of a file, read in chunks.
* :func:`load_toml`: read a TOML file with one message per kind of failure.

Nothing here imports anything else of the harness but :mod:`harness.errors`. The
command line reads its default paths from here before it has parsed a single option, so
the standard-library modules only some functions need (``hashlib``, ``secrets``,
``tomllib``, 15 ms together) are imported inside those functions.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The repository root (the directory holding ``harness/``, ``wit/`` and ``components/``)."""
DEFAULT_BUILD_DIR = PROJECT_ROOT / "build"
WIT_DIR = PROJECT_ROOT / "wit"
COMPONENTS_DIR = PROJECT_ROOT / "components"
DEFAULT_GRAPH = COMPONENTS_DIR / "graphs" / "pase-loopback.toml"
DEFAULT_POLICY_PATH = COMPONENTS_DIR / "policy.toml"
TRACEABILITY_DIR = PROJECT_ROOT / "traceability"
EVIDENCE_DIR = PROJECT_ROOT / "evidence"
"""Where evidence lives: the gate's ledger and what commands record beside it."""
DEFAULT_LEDGER_PATH = EVIDENCE_DIR / "ledger.jsonl"
"""The evidence ledger commands read and append to unless told otherwise (``--ledger``,
or the :data:`LEDGER_ENV` environment variable); tied to the project, not to the current
directory, like the build directory and the traceability data."""
LEDGER_ENV = "MATTER_HARNESS_LEDGER"
"""Environment variable naming another default evidence ledger."""
VECTORS_PATH = PROJECT_ROOT / "tests" / "vectors" / "spake2p-vectors.json"
"""The conformance vectors (with their provenance in ``tests/vectors/README.md``)."""

_CHUNK = 1 << 20


def atomic_write(
    path: Path,
    data: bytes,
    *,
    mode: int | None = None,
    overwrite: bool = True,
    parents: bool = True,
) -> None:
    """Replace ``path`` with ``data`` in one step: a reader sees all of it or none.

    The data goes to a fresh, randomly named file beside ``path``, created exclusively
    with its final ``mode`` (default: the mode ``path`` has, else 0644; the umask
    applies, as for any new file), so a secret is
    never, even briefly, in a file with wider permissions or in a file someone else
    made; it is flushed to disk and then renamed over ``path``. With ``overwrite``
    false the rename becomes a hard link, which fails with :class:`FileExistsError` if
    ``path`` appeared meanwhile (no clobbering race). ``parents`` creates missing
    directories. Raises :class:`OSError`; callers say what the file was for.
    """
    import secrets

    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
    directory = path.parent if str(path.parent) else Path(".")
    if parents:
        directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
    created = False
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        created = True
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
            os.unlink(tmp)
        created = False
    finally:
        if created:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def files_digest(root: Path, paths: Iterable[Path], *, salt: Iterable[str] = ()) -> str:
    """SHA-256 over ``salt`` and, for each of ``paths`` in the order given, its path
    relative to ``root`` and its bytes (each length-prefixed): any edit, addition,
    removal or rename changes it."""
    import hashlib

    digest = hashlib.sha256()
    for part in salt:
        encoded = part.encode()
        digest.update(len(encoded).to_bytes(8, "big") + encoded)
    for path in paths:
        name = path.relative_to(root).as_posix().encode()
        data = path.read_bytes()
        digest.update(len(name).to_bytes(4, "big") + name)
        digest.update(len(data).to_bytes(8, "big") + hashlib.sha256(data).digest())
    return digest.hexdigest()


def file_sha256(path: Path | str) -> str:
    """The SHA-256 (hex) of a file's bytes, read in 1 MiB chunks."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_toml(path: Path, *, what: str, error: type[HarnessError]) -> tuple[dict[str, Any], bytes]:
    """Read ``path`` as TOML; ``what`` names the file in messages ("graph file").

    Returns the parsed table and the raw bytes (for a digest). An unreadable file, one
    that is not UTF-8 and one that is not valid TOML each raise ``error`` with a message
    saying which.
    """
    import tomllib

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} {path} is not UTF-8 text") from exc
    try:
        return tomllib.loads(text), raw
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what} {path} is not valid TOML: {exc}") from exc


def user_config_dir(env: Mapping[str, str] | None = None) -> Path:
    """The per-user configuration directory: ``$XDG_CONFIG_HOME/matter-harness``, else
    ``~/.config/matter-harness``. Secrets and trust live here, never in the project."""
    env = os.environ if env is None else env
    config = env.get("XDG_CONFIG_HOME", "")
    # The XDG Base Directory specification: a relative value is invalid and is ignored.
    base = Path(config) if config and os.path.isabs(config) else Path.home() / ".config"
    return base / "matter-harness"


def display_path(path: Path | str) -> str:
    """``path`` relative to the project root when it lies inside it (stable in evidence)."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


__all__ = [
    "COMPONENTS_DIR",
    "DEFAULT_BUILD_DIR",
    "DEFAULT_GRAPH",
    "DEFAULT_LEDGER_PATH",
    "DEFAULT_POLICY_PATH",
    "EVIDENCE_DIR",
    "LEDGER_ENV",
    "PROJECT_ROOT",
    "TRACEABILITY_DIR",
    "VECTORS_PATH",
    "WIT_DIR",
    "atomic_write",
    "display_path",
    "file_sha256",
    "files_digest",
    "load_toml",
    "user_config_dir",
]
