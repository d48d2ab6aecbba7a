"""The second runtime's tool chain: Node.js, the pinned npm dependencies, jco transpile.

A component runs under V8 after ``jco transpile`` (from ``@bytecodealliance/jco``, pinned
exactly in ``jshost/package.json`` and ``jshost/package-lock.json``) turns it into ES
modules plus core wasm files. This module finds Node, checks its version, detects the
flags its WebAssembly needs, installs the npm dependencies with ``npm ci`` on first use,
and transpiles verified component bytes into a cache keyed by the bytes' SHA-256 and the
jco version. Each failure is a :class:`JsRuntimeError` subclass with a one-line message
(the CLI exits 2 for them: the environment is missing something, no check said no).

The transpile cache (``build/jco/<sha256>-jco<version>/``) holds the output files and a
manifest of their SHA-256 digests; the manifest is re-checked on every use, so a file
changed after transpiling is transpiled again rather than run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import progress as progress_lines
from harness.errors import HarnessError
from harness.project import PROJECT_ROOT, atomic_write

JSHOST_DIR = PROJECT_ROOT / "jshost"
"""The JS host: package.json, package-lock.json, host.mjs and the seams in JS."""
JCO_PACKAGE = "@bytecodealliance/jco"
#: The oldest Node.js whose ES-module loader and WebAssembly the JS host was tried on.
MIN_NODE_MAJOR = 18
#: The environment variable naming the node executable (default: ``node`` on PATH).
NODE_ENV = "MATTER_HARNESS_NODE"
#: The V8 flag that enables the extended-constant-expressions proposal on older Node.
EXTENDED_CONST_FLAG = "--experimental-wasm-extended-const"
#: The entry module every transpile writes (``jco transpile --name``).
ENTRY_NAME = "component"
#: Seconds a tool may take before it is given up on (npm ci on a slow link, transpile).
TOOL_TIMEOUT_S = 600

# A module with one i32 global initialized by `i32.const 1 i32.const 2 i32.add`: valid
# only where the extended-const proposal is enabled (WebAssembly Core Specification 2.0
# section 3.3.10 allows only constants and global.get in constant expressions).
_EXTENDED_CONST_PROBE = "0061736d010000000609017f0041014102 6a0b".replace(" ", "")
_PROBE_SCRIPT = (
    "process.stdout.write(String(WebAssembly.validate(Buffer.from('"
    + _EXTENDED_CONST_PROBE
    + "','hex'))))"
)

Progress = Callable[[str], None]


class JsRuntimeError(HarnessError):
    """Base of the second runtime's environment errors (Node, npm, jco, the JS host)."""


class NodeNotFoundError(JsRuntimeError):
    """No node executable where the harness looked."""


class NodeTooOldError(JsRuntimeError):
    """The node executable is older than the JS host supports, or cannot run wasm it needs."""


class NpmInstallError(JsRuntimeError):
    """``npm ci`` in ``jshost/`` failed or npm is missing."""


class TranspileError(JsRuntimeError):
    """``jco transpile`` refused or failed on a component."""


@dataclass(frozen=True)
class NodeInfo:
    """The node executable the harness runs, and how."""

    path: str
    version: tuple[int, int, int]
    flags: tuple[str, ...]
    """V8 flags the components need on this Node (detected, not assumed)."""

    @property
    def version_text(self) -> str:
        """``v20.20.2`` style."""
        return "v" + ".".join(str(part) for part in self.version)

    def command(self, *args: str) -> list[str]:
        """The command line running node with its flags and ``args``."""
        return [self.path, *self.flags, *args]


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    for line in lines:  # jco and npm put the reason on an "Error"/"ERR!" line
        if "Error" in line or "ERR!" in line or "error" in line:
            return line[:400]
    return lines[0][:400] if lines else "(no output)"


WIT_GAP_HINT = (
    "jco reads a component through WIT, and WIT cannot say that one interface is "
    "exported twice under two names when both exports share one instance type; wasmtime "
    "runs it. Give each such export its own instance type (a type ascription, as the "
    "composer does for every exported instance). See the README, "
    "'A second runtime (V8 via jco)', finding 1"
)


def _transpile_reason(output: str) -> str:
    """jco's error line and the deepest of its "Caused by" lines, on one line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    head = _first_line(output)
    causes = [line for line in lines if re.match(r"\d+: ", line)]
    return f"{head}: {causes[-1].split(': ', 1)[1]}" if causes else head


def _run(args: list[str], *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )


def find_node(executable: str | None = None) -> NodeInfo:
    """Find node (``executable``, else ``$MATTER_HARNESS_NODE``, else ``node`` on PATH),
    check its version and detect the flags its WebAssembly needs."""
    wanted = executable or os.environ.get(NODE_ENV) or "node"
    path = shutil.which(wanted)
    if path is None:
        raise NodeNotFoundError(
            f"Node.js not found ({wanted!r} is not an executable on PATH); the jco runtime "
            f"needs Node.js >= {MIN_NODE_MAJOR}",
            hint=f"install Node.js, or point {NODE_ENV} at a node executable",
        )
    return _probe_node(path)


@functools.cache
def _probe_node(path: str) -> NodeInfo:
    try:
        done = _run([path, "--version"])
    except (OSError, subprocess.SubprocessError) as exc:
        raise NodeNotFoundError(f"cannot run {path} --version: {exc}") from exc
    match = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)\S*", done.stdout.strip())
    if done.returncode != 0 or match is None:
        raise NodeNotFoundError(
            f"{path} --version did not print a Node.js version: "
            + _first_line(done.stdout + done.stderr)
        )
    version = (int(match[1]), int(match[2]), int(match[3]))
    if version[0] < MIN_NODE_MAJOR:
        raise NodeTooOldError(
            f"Node.js {done.stdout.strip()} at {path} is too old: the jco runtime needs "
            f">= {MIN_NODE_MAJOR}",
            hint=f"install a newer Node.js, or point {NODE_ENV} at one",
        )
    flags: tuple[str, ...] = ()
    if not _validates_extended_const(path, ()):
        if not _validates_extended_const(path, (EXTENDED_CONST_FLAG,)):
            raise NodeTooOldError(
                f"Node.js {done.stdout.strip()} at {path} cannot compile extended constant "
                f"expressions, even with {EXTENDED_CONST_FLAG}; the transpiled core uses them"
            )
        flags = (EXTENDED_CONST_FLAG,)
    return NodeInfo(path, version, flags)


def _validates_extended_const(path: str, flags: tuple[str, ...]) -> bool:
    try:
        done = _run([path, *flags, "-e", _PROBE_SCRIPT])
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and done.stdout.strip() == "true"


def pinned_version(directory: Path = JSHOST_DIR, package: str = JCO_PACKAGE) -> str:
    """The version of ``package`` that ``directory/package.json`` pins (exactly), among its
    dependencies or devDependencies."""
    try:
        manifest = json.loads((directory / "package.json").read_text(encoding="utf-8"))
        pins = {**manifest.get("devDependencies", {}), **manifest.get("dependencies", {})}
        version = pins[package]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise NpmInstallError(
            f"cannot read the pinned {package} version from {directory}/package.json: {exc}"
        ) from exc
    if not isinstance(version, str) or not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise NpmInstallError(
            f"{directory}/package.json must pin {package} exactly, not {version!r}"
        )
    return version


def installed_version(directory: Path = JSHOST_DIR, package: str = JCO_PACKAGE) -> str | None:
    """The version of ``package`` in ``directory/node_modules`` (None when not installed)."""
    try:
        data = json.loads(
            (directory / "node_modules" / package / "package.json").read_text(encoding="utf-8")
        )
    except (OSError, ValueError):
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return version if isinstance(version, str) else None


def pinned_jco_version(jshost: Path = JSHOST_DIR) -> str:
    """The jco version ``jshost/package.json`` pins (exactly)."""
    return pinned_version(jshost, JCO_PACKAGE)


def installed_jco_version(jshost: Path = JSHOST_DIR) -> str | None:
    """The jco version in ``jshost/node_modules`` (None when not installed)."""
    return installed_version(jshost, JCO_PACKAGE)


def ensure_npm_deps(
    jshost: Path = JSHOST_DIR, progress: Progress | None = None, package: str = JCO_PACKAGE
) -> str:
    """Install the pinned npm dependencies of ``jshost`` (any directory with a
    package.json and package-lock.json) with ``npm ci`` unless ``package`` is there at its
    pinned version; that version (by default jco's)."""
    pinned = pinned_version(jshost, package)
    if installed_version(jshost, package) == pinned:
        return pinned
    npm = shutil.which("npm")
    if npm is None:
        raise NpmInstallError(
            f"npm not found: {jshost} installs its pinned dependencies with `npm ci`",
            hint="install npm (it comes with Node.js)",
        )
    if progress is not None:
        progress(f"installing the npm dependencies of {jshost} (npm ci, {package} {pinned})")
    try:
        with progress_lines.step(f"npm ci in {jshost}"):
            done = _run([npm, "ci", "--no-audit", "--no-fund"], cwd=jshost)
    except (OSError, subprocess.SubprocessError) as exc:
        raise NpmInstallError(f"npm ci in {jshost} failed: {exc}") from exc
    if done.returncode != 0:
        raise NpmInstallError(
            f"npm ci in {jshost} failed: {_first_line(done.stderr + done.stdout)}"
        )
    if installed_version(jshost, package) != pinned:
        raise NpmInstallError(f"npm ci in {jshost} did not install {package} {pinned}")
    return pinned


def jco_entry(jshost: Path = JSHOST_DIR) -> Path:
    """The jco command-line script (the ``bin`` of its installed package.json)."""
    package = jshost / "node_modules" / JCO_PACKAGE
    try:
        data = json.loads((package / "package.json").read_text(encoding="utf-8"))
        entry = data["bin"]["jco"] if isinstance(data["bin"], dict) else data["bin"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NpmInstallError(f"cannot find jco's command in {package}: {exc}") from exc
    return package / str(entry)


@dataclass(frozen=True)
class Transpiled:
    """A component transpiled by jco: the ES module to import, and how it was obtained."""

    entry: Path
    directory: Path
    component_sha256: str
    jco_version: str
    cached: bool
    seconds: float


MANIFEST = "transpile-manifest.json"


def transpile_cached(
    data: bytes,
    cache_root: Path,
    *,
    node: NodeInfo,
    label: str,
    jshost: Path = JSHOST_DIR,
    progress: Progress | None = None,
) -> Transpiled:
    """The jco output for component ``data`` (already verified by the caller), transpiled
    once per component digest and jco version under ``cache_root``."""
    version = ensure_npm_deps(jshost, progress)
    digest = hashlib.sha256(data).hexdigest()
    cache_root = cache_root.resolve()
    directory = cache_root / f"{digest}-jco{version}"
    if _manifest_holds(directory, digest, version):
        return Transpiled(directory / f"{ENTRY_NAME}.js", directory, digest, version, True, 0.0)
    started = time.perf_counter()
    cache_root.mkdir(parents=True, exist_ok=True)
    with (
        progress_lines.step(f"transpile {label} (jco {version})"),
        tempfile.TemporaryDirectory(dir=cache_root, prefix=".transpile-") as scratch,
    ):
        work = Path(scratch)
        source = work / "input.wasm"
        source.write_bytes(data)
        out = work / "out"
        jco = jco_entry(jshost)
        args = node.command(
            str(jco),
            "transpile",
            str(source),
            "-o",
            str(out),
            "--name",
            ENTRY_NAME,
            "--instantiation",
            "async",
            "--no-wasi-shim",
            "--no-typescript",
            "--quiet",
        )
        try:
            done = _run(args, cwd=jshost)
        except (OSError, subprocess.SubprocessError) as exc:
            raise TranspileError(f"jco transpile of {label} failed: {exc}") from exc
        if done.returncode != 0 or not (out / f"{ENTRY_NAME}.js").exists():
            reason = _transpile_reason(done.stderr + done.stdout)
            raise TranspileError(
                f"jco {version} cannot transpile {label}: {reason}",
                hint=WIT_GAP_HINT if "appears more than once" in reason else None,
            )
        # The generated modules are ES modules: tell Node so, whatever encloses them.
        (out / "package.json").write_text('{"type": "module"}\n', encoding="utf-8")
        files = {
            str(path.relative_to(out)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(out.rglob("*"))
            if path.is_file()
        }
        manifest = {"component_sha256": digest, "jco": version, "files": files}
        atomic_write(out / MANIFEST, json.dumps(manifest, indent=1).encode())
        if directory.exists():
            shutil.rmtree(directory)
        out.rename(directory)
    seconds = time.perf_counter() - started
    return Transpiled(directory / f"{ENTRY_NAME}.js", directory, digest, version, False, seconds)


def _manifest_holds(directory: Path, digest: str, version: str) -> bool:
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        if manifest["component_sha256"] != digest or manifest["jco"] != version:
            return False
        return bool(files) and all(
            hashlib.sha256((directory / name).read_bytes()).hexdigest() == sha
            for name, sha in files.items()
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
