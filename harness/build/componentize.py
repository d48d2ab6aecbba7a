"""Building the components, behind a content-hash cache.

Python guests are built with componentize-py; components written in component-model
text (the loopback transport) are compiled with wasmtime's ``wat2wasm``
(:mod:`harness.build.wat_component`). A component is rebuilt only when its inputs
change: for a Python guest the WIT files, the guest sources (every ``.py`` under the
component's Python paths), the world, the build flags and the componentize-py version;
for a text component its text files and the wasmtime version. The key of each build is
stored beside the output as ``<name>.wasm.inputs.json``; a build whose key matches is
skipped.
componentize-py's output is not byte-reproducible between builds (a known upstream
issue), so the cache key, not the output digest, says whether a build is current.

Every output is signed (an embedded tool-conventions signature) by the supply chain's
build signer: the configured signing key, else the build directory's build key (see
:mod:`harness.supply.chain`). The key file also records the SHA-256 of what
componentize-py produced, so a cached output whose signature does not hold is re-signed
only if its content is exactly that; a component changed after the build is left as it
is, to be refused when it is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from harness import progress as progress_lines
from harness.build.specs import COMPONENTS, ON_REQUEST, AnySpec, ComponentSpec, TextComponentSpec
from harness.build.wat_component import (
    TextComponentError,
    compile_text_component,
    text_input_key,
    wasmtime_version,
)
from harness.errors import HarnessError
from harness.project import DEFAULT_BUILD_DIR
from harness.supply import SupplyChain


class BuildError(HarnessError):
    """componentize-py or the component-text compiler failed, or the toolchain is missing."""


@dataclass(frozen=True)
class BuildResult:
    """One built component: where it is, whether the cache served it, how long it took."""

    name: str
    path: Path
    cached: bool
    seconds: float
    key: str


def componentize_py_version() -> str:
    """The installed componentize-py version (part of every cache key)."""
    try:
        return metadata.version("componentize-py")
    except metadata.PackageNotFoundError as exc:
        raise BuildError(
            "componentize-py is not installed: run the README's set-up command"
        ) from exc


def _files(directory: Path, suffixes: tuple[str, ...]) -> Iterable[Path]:
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.suffix in suffixes and "__pycache__" not in path.parts:
            yield path


def input_key(spec: AnySpec) -> str:
    """SHA-256 over everything that determines the component's content."""
    if isinstance(spec, TextComponentSpec):
        try:
            return text_input_key(spec)
        except TextComponentError as exc:
            raise BuildError(f"cannot build '{spec.name}': {exc}") from exc
    digest = hashlib.sha256()
    header = {
        "world": spec.world,
        "app": spec.app_module,
        "stub_wasi": spec.stub_wasi,
        "componentize-py": componentize_py_version(),
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    roots = [(spec.wit_dir, (".wit",))] + [(p, (".py",)) for p in spec.python_paths]
    for root, suffixes in roots:
        for path in _files(root, suffixes):
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _key_file(output: Path) -> Path:
    return output.with_name(output.name + ".inputs.json")


def _recorded(output: Path) -> dict[str, object] | None:
    try:
        recorded = json.loads(_key_file(output).read_text())
    except (OSError, ValueError):
        return None
    return recorded if isinstance(recorded, dict) else None


def is_current(spec: AnySpec, output: Path) -> bool:
    """True when ``output`` exists and was built from the current inputs.

    A build recorded without its content digest (made before builds were signed) is
    not current.
    """
    if not output.is_file():
        return False
    recorded = _recorded(output)
    return (
        recorded is not None
        and recorded.get("key") == input_key(spec)
        and isinstance(recorded.get("content_sha256"), str)
    )


def build_component(
    spec: AnySpec,
    build_dir: Path = DEFAULT_BUILD_DIR,
    *,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    supply_chain: SupplyChain | None = None,
) -> BuildResult:
    """Build ``spec`` into ``build_dir/<name>.wasm`` unless the cache says it is current.

    The output is signed by ``supply_chain``'s build signer (default: the configured
    signing key, else ``build_dir``'s build key).
    """
    say = progress or (lambda _msg: None)
    chain = supply_chain or SupplyChain.local(None, build_dir)
    output = build_dir / f"{spec.name}.wasm"
    key = input_key(spec)
    if not force and is_current(spec, output):
        recorded = _recorded(output) or {}
        produced = recorded.get("content_sha256")
        # A file changed after the build is left as it is, to be refused when loaded.
        if chain.seal(output, produced if isinstance(produced, str) else None, say) != "rebuild":
            say(f"{spec.name}: up to date ({output})")
            return BuildResult(spec.name, output, True, 0.0, key)
    build_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    record: dict[str, str] = {"key": key, "world": spec.world}
    if isinstance(spec, TextComponentSpec):
        say(f"{spec.name}: compiling world '{spec.world}' from component text ...")
        with progress_lines.step(f"build {spec.name} (component text)") as step:
            try:
                data = compile_text_component(spec)
            except TextComponentError as exc:
                raise BuildError(f"cannot build '{spec.name}': {exc}") from exc
            step.detail = f"{len(data) / 1e3:.1f} kB"
        record["wasmtime"] = wasmtime_version()
    else:
        say(f"{spec.name}: building world '{spec.world}' with componentize-py ...")
        with progress_lines.step(f"build {spec.name} (componentize-py)") as step:
            data = _componentize(spec, build_dir)
            step.detail = f"{len(data) / 1e6:.1f} MB"
        record["componentize-py"] = componentize_py_version()
    chain.seal_new(output, data)
    record["content_sha256"] = hashlib.sha256(data).hexdigest()
    _key_file(output).write_text(json.dumps(record) + "\n")
    seconds = time.perf_counter() - started
    size = output.stat().st_size
    shown = f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"
    say(f"{spec.name}: built {output} ({shown}, {seconds:.1f} s)")
    return BuildResult(spec.name, output, False, seconds, key)


def _componentize(spec: ComponentSpec, build_dir: Path) -> bytes:
    """Run componentize-py for ``spec``; the component's bytes, or a BuildError."""
    # Write to a temporary file, so an interrupted build never leaves a half-written
    # component that a later run would take for current.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.name}-", suffix=".wasm", dir=build_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    command = [
        *_componentize_py_command(),
        "-d",
        str(spec.wit_dir),
        "-w",
        spec.world,
        "--quiet",
        "componentize",
    ]
    if spec.stub_wasi:
        command.append("--stub-wasi")
    for path in spec.python_paths:
        command += ["-p", str(path)]
    command += [spec.app_module, "-o", str(tmp)]
    env = dict(os.environ)
    # componentize-py would otherwise add the whole virtualenv to the guest's path.
    env.pop("VIRTUAL_ENV", None)
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, env=env, cwd=spec.python_paths[0]
        )
        if completed.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            raise BuildError(
                f"componentize-py failed to build '{spec.name}' (exit {completed.returncode}):\n"
                + _condense(completed.stderr or completed.stdout)
            )
        return tmp.read_bytes()
    except OSError as exc:
        raise BuildError(f"cannot run componentize-py: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def build_all(
    build_dir: Path = DEFAULT_BUILD_DIR,
    *,
    names: Iterable[str] | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    supply_chain: SupplyChain | None = None,
) -> dict[str, BuildResult]:
    """Build the named components (default: the project's, not those built only on
    request such as ``spike``), signed."""
    known = {**COMPONENTS, **ON_REQUEST}
    selected = list(names) if names is not None else list(COMPONENTS)
    unknown = [n for n in selected if n not in known]
    if unknown:
        raise BuildError(f"unknown component(s) {unknown}; known: {sorted(known)}")
    chain = supply_chain or SupplyChain.local(None, build_dir)
    return {
        name: build_component(
            known[name], build_dir, force=force, progress=progress, supply_chain=chain
        )
        for name in selected
    }


def _componentize_py_command() -> list[str]:
    script = Path(sys.executable).with_name("componentize-py")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "componentize_py"]


def _condense(text: str) -> str:
    """componentize-py's message without its Rust stack backtrace."""
    lines = text.strip().splitlines()
    for marker in ("Stack backtrace:",):
        if marker in lines:
            lines = lines[: lines.index(marker)]
    return "\n".join("    " + line for line in lines[-40:])
