"""Components written directly in component-model text, compiled at build time.

A :class:`~harness.build.specs.TextComponentSpec` names a component text file and the
core-module text files it embeds. Each module file holds one ``(module $name ...)``; the
component text marks where it goes with a line ``;; @name-module``, which is replaced by
the module as a ``(core module $name ...)`` definition (component-model Explainer.md,
"Component Definitions": a component may define core modules inline). The result is
compiled with wasmtime's ``wat2wasm``; no language runtime is bundled, so such a
component is a few kilobytes and compiles in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib import metadata
from pathlib import Path

from harness.build.specs import TextComponentSpec
from harness.errors import HarnessError
from harness.runtime import wat2wasm

_MODULE_HEAD = re.compile(r"^\(module\s+\$([A-Za-z0-9_.-]+)", re.MULTILINE)


class TextComponentError(HarnessError):
    """A text component's sources are missing, inconsistent or do not compile."""


def wasmtime_version() -> str:
    """The installed wasmtime-py version (its ``wat2wasm`` compiles text components)."""
    try:
        return metadata.version("wasmtime")
    except metadata.PackageNotFoundError as exc:  # pragma: no cover - a dependency
        raise TextComponentError("wasmtime is not installed: run the README's set-up") from exc


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TextComponentError(f"cannot read {what} {path}: {exc}") from exc


def component_text(spec: TextComponentSpec) -> str:
    """The component's text with every embedded core module put in place."""
    text = _read(spec.text, "the component text")
    for module_path in spec.modules:
        module = _read(module_path, "the core module text")
        head = _MODULE_HEAD.search(module)
        if head is None:
            raise TextComponentError(f"{module_path} does not define a named (module $name ...)")
        marker = f";; @{head.group(1)}-module"
        if text.count(marker) != 1:
            raise TextComponentError(
                f"{spec.text} must mark the place of module ${head.group(1)} with one "
                f"line {marker!r}"
            )
        inline = module[: head.start()] + "(core module" + module[head.start() + len("(module") :]
        text = text.replace(marker, inline)
    return text


def compile_text_component(spec: TextComponentSpec) -> bytes:
    """The component's binary, or a :class:`TextComponentError` saying why not."""
    try:
        return wat2wasm(component_text(spec))
    except HarnessError as exc:
        if isinstance(exc, TextComponentError):
            raise
        raise TextComponentError(f"{spec.text}: {exc}") from exc


def text_input_key(spec: TextComponentSpec) -> str:
    """SHA-256 over everything that determines the component's content."""
    digest = hashlib.sha256()
    header = {"world": spec.world, "text-component": 1, "wasmtime": wasmtime_version()}
    digest.update(json.dumps(header, sort_keys=True).encode())
    for path in (spec.text, *spec.modules):
        digest.update(path.name.encode() + b"\0")
        digest.update(hashlib.sha256(_read(path, "a source").encode("utf-8")).digest())
    return digest.hexdigest()
