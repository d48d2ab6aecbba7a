"""Building the second, independent core: ``mjs-core``, from matter.js with componentize-js.

``components/mjs-core/`` holds a PASE core for the ``core`` world made of matter.js's
pieces (npm ``@matter/general`` and ``@matter/protocol``) and pure-JS crypto, with the
npm dependencies pinned exactly in its ``package.json`` and ``package-lock.json``. Its
``build.mjs`` bundles the glue with esbuild and turns it into a component with
componentize-js; this module installs the dependencies (``npm ci``, through
:func:`harness.build.jco.ensure_npm_deps`), runs that script behind a content-hash cache
like the componentize-py builds, and signs the output with the supply chain's build
signer.

The component is optional: it needs Node.js and npm. Without them :func:`build_mjs_core`
raises a :class:`~harness.build.jco.JsRuntimeError` subclass, which ``matter-harness
build`` reports as a skip. It is not one of :data:`~harness.build.specs.COMPONENTS`, so
``run`` and the gate never build or use it by default.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from harness.build.componentize import BuildError, BuildResult
from harness.build.jco import NodeInfo, ensure_npm_deps, find_node
from harness.build.specs import MJS_CORE_NAME
from harness.project import COMPONENTS_DIR, DEFAULT_BUILD_DIR, WIT_DIR
from harness.supply import SupplyChain

MJS_CORE_DIR = COMPONENTS_DIR / MJS_CORE_NAME
"""package.json, package-lock.json, build.mjs and the glue under src/."""
COMPONENTIZE_JS_PACKAGE = "@bytecodealliance/componentize-js"
#: Seconds the bundle-and-componentize step may take (measured: 70-150 s on a loaded
#: 2-core machine, mostly Wizer snapshotting the engine).
BUILD_TIMEOUT_S = 1800

Progress = Callable[[str], None]


class MjsBuildError(BuildError):
    """build.mjs failed, or printed no result."""


def _sources(component_dir: Path, wit_dir: Path) -> list[tuple[str, Path]]:
    files = [
        (name, component_dir / name) for name in ("package.json", "package-lock.json", "build.mjs")
    ]
    files += [
        (f"src/{path.relative_to(component_dir / 'src')}", path)
        for path in sorted((component_dir / "src").rglob("*.js"))
    ]
    files += [(f"wit/{path.relative_to(wit_dir)}", path) for path in sorted(wit_dir.rglob("*.wit"))]
    return files


def input_key(node: NodeInfo, component_dir: Path = MJS_CORE_DIR, wit_dir: Path = WIT_DIR) -> str:
    """SHA-256 over everything that determines the component: the glue, the pinned
    dependency tree (the lockfile), the build script, the WIT and the Node version."""
    digest = hashlib.sha256(json.dumps({"node": node.version_text}).encode())
    for name, path in _sources(component_dir, wit_dir):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise MjsBuildError(f"cannot read {path}: {exc.strerror}") from exc
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def _key_file(output: Path) -> Path:
    return output.with_name(output.name + ".inputs.json")


def _recorded(output: Path) -> dict[str, object]:
    try:
        recorded = json.loads(_key_file(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


def build_mjs_core(
    build_dir: Path = DEFAULT_BUILD_DIR,
    *,
    force: bool = False,
    progress: Progress | None = None,
    supply_chain: SupplyChain | None = None,
    component_dir: Path = MJS_CORE_DIR,
    wit_dir: Path = WIT_DIR,
) -> BuildResult:
    """Build ``build_dir/mjs-core.wasm`` unless the cache says it is current; signed.

    Raises :class:`~harness.build.jco.NodeNotFoundError` (or another
    :class:`~harness.build.jco.JsRuntimeError`) when Node.js or npm is missing, and
    :class:`MjsBuildError` when the build itself fails.
    """
    say = progress or (lambda _msg: None)
    node = find_node()
    chain = supply_chain or SupplyChain.local(None, build_dir)
    output = build_dir / f"{MJS_CORE_NAME}.wasm"
    key = input_key(node, component_dir, wit_dir)
    recorded = _recorded(output)
    if not force and output.is_file() and recorded.get("key") == key:
        produced = recorded.get("content_sha256")
        if chain.seal(output, produced if isinstance(produced, str) else None, say) != "rebuild":
            say(f"{MJS_CORE_NAME}: up to date ({output})")
            return BuildResult(MJS_CORE_NAME, output, True, 0.0, key)
    version = ensure_npm_deps(component_dir, say, package=COMPONENTIZE_JS_PACKAGE)
    build_dir.mkdir(parents=True, exist_ok=True)
    say(
        f"{MJS_CORE_NAME}: bundling matter.js and componentizing with componentize-js {version} ..."
    )
    started = time.perf_counter()
    scratch = build_dir / f".{MJS_CORE_NAME}-build.wasm"
    bundle = build_dir / f"{MJS_CORE_NAME}.bundle.js"
    try:
        summary = _run_build_script(node, component_dir, wit_dir, scratch, bundle)
        data = scratch.read_bytes()
    except OSError as exc:
        raise MjsBuildError(f"cannot read what build.mjs wrote: {exc.strerror}") from exc
    finally:
        scratch.unlink(missing_ok=True)
    chain.seal_new(output, data)
    record = {
        "key": key,
        "world": "core",
        "componentize-js": version,
        "node": node.version_text,
        "content_sha256": hashlib.sha256(data).hexdigest(),
        "build_seconds": summary.get("seconds"),
    }
    _key_file(output).write_text(json.dumps(record) + "\n", encoding="utf-8")
    seconds = time.perf_counter() - started
    say(f"{MJS_CORE_NAME}: built {output} ({len(data) / 1e6:.1f} MB, {seconds:.1f} s)")
    return BuildResult(MJS_CORE_NAME, output, False, seconds, key)


def _run_build_script(
    node: NodeInfo, component_dir: Path, wit_dir: Path, output: Path, bundle: Path
) -> dict[str, object]:
    args = node.command(
        str(component_dir / "build.mjs"),
        "--wit",
        str(wit_dir),
        "--out",
        str(output),
        "--bundle",
        str(bundle),
    )
    try:
        done = subprocess.run(
            args,
            cwd=component_dir,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise MjsBuildError(f"cannot run {component_dir}/build.mjs: {exc}") from exc
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or not output.is_file():
        tail = "\n".join(
            "    " + line for line in (done.stderr or done.stdout).strip().splitlines()[-25:]
        )
        raise MjsBuildError(
            f"build.mjs failed to build {MJS_CORE_NAME} (exit {done.returncode}):\n{tail}"
        )
    try:
        summary = json.loads(lines[-1])
    except ValueError as exc:
        raise MjsBuildError(f"build.mjs printed no JSON summary: {lines[-1][:200]!r}") from exc
    return summary if isinstance(summary, dict) else {}
