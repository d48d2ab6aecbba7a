"""Is this a readable component? The one answer every command gives.

:func:`read_component_file` reads a file named as a WebAssembly component and checks its
outer framing (the component-model preamble, then each top-level section's id and size
against the bytes that remain), without compiling anything. Each kind of failure has one
error type and one message, whichever command met it:

* :class:`UnreadableComponent`: missing, a directory, no permission, an I/O error;
* :class:`NotAComponent`: a core WebAssembly module, a file that is not WebAssembly at all
  (a text file), an unknown binary version, or a truncated or overlong component.

Both end a command with exit code 2 (the input cannot be used). A component that reads
well but fails its signature check is the supply chain's business (``ComponentRejected``,
exit code 1).

A foundation module: it imports only :mod:`harness.errors` and :mod:`harness.wasm_binary`,
so the runtime, the supply chain and the command line can all use it.
"""

from __future__ import annotations

import errno
from pathlib import Path

from harness import wasm_binary
from harness.errors import HarnessError, WasmFormatError


class ComponentInputError(HarnessError):
    """A file given as a component that cannot be used (exit code 2). ``path`` names it."""

    def __init__(self, path: Path | str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = str(path)


class UnreadableComponent(ComponentInputError):
    """The component file cannot be read: missing, a directory, permissions, I/O."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(path, f"cannot read component {path}: {reason}")
        self.reason = reason


class NotAComponent(ComponentInputError):
    """The file reads, but is not a WebAssembly component: a core module, a text file,
    a truncated or malformed component. ``reason`` says which."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(path, f"{path} is not a WebAssembly component: {reason}")
        self.reason = reason


_OS_REASONS = {
    errno.ENOENT: "no such file",
    errno.EISDIR: "it is a directory",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}


def read_component_file(path: Path | str) -> bytes:
    """The bytes of the component file ``path``, once they read and frame as a component.

    Raises :class:`UnreadableComponent` or :class:`NotAComponent` (see the module
    docstring); nothing else.
    """
    path = Path(path)
    if path.is_dir():
        raise UnreadableComponent(path, _OS_REASONS[errno.EISDIR])
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = _OS_REASONS.get(exc.errno or 0) or (exc.strerror or str(exc)).lower()
        raise UnreadableComponent(path, reason) from exc
    check_component_bytes(data, path)
    return data


def check_component_bytes(data: bytes, path: Path | str) -> None:
    """Raise :class:`NotAComponent` unless ``data`` frames as a component binary.

    Checks the preamble and walks the top-level sections (id, LEB128 size, bounds)
    without copying them; the sections' contents are left to the parsers that need them.
    """
    if data[:4] != wasm_binary.MAGIC:
        raise NotAComponent(
            path,
            "it does not start with the \\0asm magic (a text file or another format?)",
        )
    try:
        kind = wasm_binary.binary_kind(data)
    except WasmFormatError as exc:
        raise NotAComponent(path, str(exc)) from None
    if kind == "module":
        raise NotAComponent(
            path, "it is a core WebAssembly module (a component starts 0d 00 01 00 after \\0asm)"
        )
    pos, end = wasm_binary.PREAMBLE_SIZE, len(data)
    try:
        while pos < end:
            start = pos
            size, pos = wasm_binary.read_leb128_u32(data, pos + 1)
            if size > end - pos:
                raise WasmFormatError(
                    f"it is truncated: section {data[start]} claims {size} bytes "
                    f"but only {end - pos} remain",
                    offset=start,
                )
            pos += size
    except WasmFormatError as exc:
        raise NotAComponent(path, str(exc)) from None


__all__ = [
    "ComponentInputError",
    "NotAComponent",
    "UnreadableComponent",
    "check_component_bytes",
    "read_component_file",
]
