"""Branch coverage of the core component's guest glue, ``components/core/app.py``.

Claim C6 measures the host side of the seams while the gate runs; this measures the guest
side: the module componentize-py bundles as the component's entry point, which adapts the
WIT imports to the core and turns every exception into a WIT error value.

**Where it is measured: natively, not inside the component.** coverage.py would have to be
bundled into the component and its data carried out, and a ``--stub-wasi`` guest has no
file system or stdout to carry it; its C tracer cannot load in the guest at all. So the
glue runs in a fresh Python process against the bindings componentize-py generates for
the ``core`` world (``componentize-py bindings``: the same record, enum and export
classes the component is built with; only the import functions are replaced, by the
host's seams). Two copies of ``app.py`` (one per role, each with its own endpoint) run a
seeded handshake over the host loopback, the secure-session probe, the conformance
exports, and the error paths (a wrong-state call, an entropy seam returning too few
bytes, a non-core exception), under coverage.py's branch measurement.

The probe (:func:`probe`) runs in the subprocess; :func:`measure_guest_glue` starts it and
reads its JSON result.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import coverage
from matter_core import spake2p

from harness.build import componentize_py_version
from harness.drive import (
    DEFAULT_ITERATIONS,
    DEFAULT_PASSCODE,
    DEFAULT_SALT,
    SPAKE2P_FIELDS,
    ConformanceCallError,
    load_vectors,
    run_conformance,
)
from harness.errors import HarnessError
from harness.project import COMPONENTS_DIR, PROJECT_ROOT, WIT_DIR
from harness.seams import LoopbackLink, SeededEntropy, VirtualClock

APP = COMPONENTS_DIR / "core" / "app.py"
#: Seconds the probe may take (a handshake, the vectors, a few error paths).
PROBE_TIMEOUT_S = 300


class GuestGlueError(HarnessError):
    """The guest-glue probe could not run (bindings not generated, probe crashed)."""


@dataclass(frozen=True)
class GuestGlueCoverage:
    """What the probe measured: branch coverage of ``app.py`` and the exercises' checks."""

    percent: float
    missing: str
    problems: list[str] = field(default_factory=list)
    exercises: list[str] = field(default_factory=list)


def bindings_dir(build_dir: Path) -> Path:
    """Where the ``core`` world's generated bindings are kept, by WIT and tool version."""
    digest = hashlib.sha256()
    for path in sorted(WIT_DIR.glob("*.wit")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(componentize_py_version().encode())
    return build_dir / "cache" / "bindings" / f"core-{digest.hexdigest()[:16]}"


def generate_bindings(build_dir: Path) -> Path:
    """The ``core`` world's Python bindings, generated once (atomically) and reused."""
    target = bindings_dir(build_dir)
    if (target / "wit_world" / "__init__.py").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".bindings-", dir=target.parent))
    script = Path(sys.executable).with_name("componentize-py")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "componentize_py"]
    command += ["-d", str(WIT_DIR), "-w", "core", "bindings", str(scratch)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise GuestGlueError(
                f"componentize-py bindings failed: {(done.stderr or done.stdout).strip()}"
            )
        scratch.rename(target)
    except (OSError, subprocess.SubprocessError) as exc:
        raise GuestGlueError(f"cannot generate the core world's bindings: {exc}") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def measure_guest_glue(build_dir: Path, app: Path = APP) -> GuestGlueCoverage:
    """Run the probe on ``app`` (the project's glue by default) in a fresh interpreter and
    return what it measured."""
    bindings = generate_bindings(build_dir)
    with tempfile.TemporaryDirectory(prefix="guest-glue-") as tmp:
        out = Path(tmp) / "result.json"
        env = {k: v for k, v in os.environ.items() if k != "COVERAGE_PROCESS_START"}
        command = [
            sys.executable,
            "-m",
            "harness.evidence.guest_glue",
            str(bindings),
            str(out),
            str(app),
        ]
        try:
            done = subprocess.run(
                command,
                cwd=PROJECT_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=PROBE_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as exc:
            raise GuestGlueError(f"the guest-glue probe ran past {exc.timeout} s") from exc
        if done.returncode != 0 or not out.is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise GuestGlueError("the guest-glue probe failed: " + " | ".join(tail))
        data = json.loads(out.read_text())
    return GuestGlueCoverage(
        percent=float(data["percent"]),
        missing=str(data["missing"]),
        problems=list(data["problems"]),
        exercises=list(data["exercises"]),
    )


# ------------------------------------------------------------------ in the subprocess


#: The ``core`` world's imports, in the order :class:`_Binder` keeps them.
_IMPORTS = ("transport", "clock", "entropy")


def _generated(name: str) -> Any:
    """A module of the generated bindings (on ``sys.path`` only inside the probe)."""
    return importlib.import_module(name)


def _load_app(name: str, app: Path) -> ModuleType:
    """A fresh copy of the glue under ``name`` (each copy has its own endpoint)."""
    spec = importlib.util.spec_from_file_location(name, app)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Binder:
    """Points the bindings' import functions at one role's host seams before each call."""

    def __init__(self, seed: int) -> None:
        self.modules = tuple(_generated(f"wit_world.imports.{n}") for n in _IMPORTS)
        self.clock = VirtualClock()
        self.link = LoopbackLink(clock=self.clock)
        self.entropy = SeededEntropy(seed)
        self.short_entropy = False

    def use(self, role: str) -> None:
        transport, clock, entropy = self.modules
        endpoint = self.link.endpoint(role)
        transport.send = endpoint.send
        transport.receive = endpoint.receive
        clock.now_ms = self.clock.now_ms
        entropy.random_bytes = self._random_bytes

    def _random_bytes(self, n: int) -> bytes:
        data = self.entropy.random_bytes(n)
        return data[:-1] if self.short_entropy and n else data


def probe(bindings: Path, out: Path, app: Path = APP) -> None:
    """Run the glue under coverage (in a fresh process: ``python -m`` this module)."""
    sys.path.insert(0, str(bindings))
    cov = coverage.Coverage(branch=True, include=[str(app)], data_file=None)
    cov.start()
    problems: list[str] = []
    exercises: list[str] = []
    try:
        _exercise(problems, exercises, app)
    finally:
        cov.stop()
    text = io.StringIO()
    percent = cov.report(file=text, show_missing=True)
    out.write_text(
        json.dumps(
            {
                "percent": percent,
                "missing": next(
                    (line for line in text.getvalue().splitlines() if app.name in line), ""
                ),
                "problems": problems,
                "exercises": exercises,
            }
        )
    )


def _expect(problems: list[str], exercises: list[str], ok: bool, what: str) -> None:
    exercises.append(what)
    if not ok:
        problems.append(what)


def _exercise(problems: list[str], exercises: list[str], app: Path) -> None:
    err = _generated("componentize_py_types").Err
    types = _generated("wit_world.exports.session_control")

    binder = _Binder(seed=7)
    roles = {
        "commissioner": _load_app("app_commissioner", app),
        "commissionee": _load_app("app_commissionee", app),
    }
    control = {role: app.SessionControl() for role, app in roles.items()}

    def call(role: str, name: str, *args: Any) -> Any:
        binder.use(role)
        return getattr(control[role], name)(*args)

    def error_kind(role: str, name: str, *args: Any) -> Any:
        try:
            call(role, name, *args)
        except err as exc:
            return exc.value.kind
        except Exception as exc:  # an exception escaping an export would trap the guest
            return f"escaped {type(exc).__name__}"
        return None

    def check(ok: bool, what: str) -> None:
        _expect(problems, exercises, ok, what)

    check(
        error_kind("commissioner", "poll") is types.ErrorKind.WRONG_STATE,
        "poll before a session is a wrong-state error value",
    )
    verifier = spake2p.compute_verifier(DEFAULT_PASSCODE, DEFAULT_SALT, DEFAULT_ITERATIONS)
    pbkdf = types.PbkdfParams(iterations=DEFAULT_ITERATIONS, salt=DEFAULT_SALT)
    call("commissionee", "start_commissionee", types.CommissioneeConfig(verifier, pbkdf))
    call("commissioner", "start_commissioner", types.CommissionerConfig(DEFAULT_PASSCODE))
    statuses: dict[str, Any] = {}
    for _ in range(20):
        statuses = {role: call(role, "poll") for role in ("commissioner", "commissionee")}
        if all(s.established for s in statuses.values()):
            break
        binder.clock.advance(1)
    check(
        all(s.established for s in statuses.values())
        and statuses["commissioner"].transcript_hash == statuses["commissionee"].transcript_hash,
        "a seeded handshake through the glue establishes both roles",
    )
    counter = call("commissioner", "seal", 1, 2, b"probe")
    opened = call("commissionee", "open")
    check(
        opened is not None and opened.payload == b"probe" and opened.message_counter == counter,
        "seal in one copy, open in the other",
    )
    check(call("commissionee", "open") is None, "open with nothing waiting is none")
    events = call("commissionee", "take_events")
    check(
        [e.kind for e in events][-1] is types.EventKind.MESSAGE_OPENED,
        "events reach the host as records",
    )
    check(call("commissioner", "status").established, "status without doing anything")
    check(
        error_kind("commissioner", "seal", 1, 2, None) is types.ErrorKind.INTERNAL,
        "a non-core exception in an export becomes an internal error value",
    )
    check(
        error_kind("commissioner", "start_commissioner", types.CommissionerConfig(11111111))
        is types.ErrorKind.INVALID_ARGUMENT,
        "an excluded passcode is an invalid-argument error value",
    )
    binder.short_entropy = True
    kind = error_kind("commissioner", "start_commissioner", types.CommissionerConfig(20202021))
    binder.short_entropy = False
    check(kind is types.ErrorKind.INTERNAL, "an entropy seam returning too few bytes is refused")
    _conformance(roles["commissioner"], check)


class _GlueConformance:
    """The glue's ``conformance`` export as a :class:`~harness.drive.conformance.
    ConformanceTarget`: generated records in, bytes out, error values as failures."""

    label = "guest glue (native)"

    def __init__(self, app: ModuleType) -> None:
        self.export = app.Conformance()

    def _call(self, name: str, *args: Any) -> Any:
        try:
            return getattr(self.export, name)(*args)
        except _generated("componentize_py_types").Err as exc:
            raise ConformanceCallError(f"{name} returned an error: {exc.value}") from exc

    def passcode_verifier(self, passcode: int, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
        ws, verifier = self._call("passcode_verifier", passcode, salt, iterations)
        return bytes(ws), bytes(verifier)

    def spake2p_exchange(self, inputs: Any) -> dict[str, bytes]:
        # The harness's input dataclass has the WIT record's field names.
        record = _generated("wit_world.exports.conformance").Spake2pInput(**asdict(inputs))
        value = self._call("spake2p_exchange", record)
        return {key: bytes(getattr(value, key)) for _, key in SPAKE2P_FIELDS}

    def session_keys(self, ke: bytes) -> bytes:
        return bytes(self._call("session_keys", ke))

    def ccm_decrypt(self, key: bytes, nonce: bytes, aad: bytes, data: bytes) -> bytes:
        return bytes(self._call("ccm_decrypt", key, nonce, aad, data))

    def ccm_encrypt(self, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        return bytes(self._call("ccm_encrypt", key, nonce, aad, plaintext))


def _conformance(app: ModuleType, check: Callable[[bool, str], None]) -> None:
    target = _GlueConformance(app)
    results = run_conformance(target, load_vectors())
    check(bool(results) and all(r.passed for r in results), "the vectors pass through the glue")
    try:
        target.ccm_decrypt(bytes(16), bytes(13), b"", bytes(16))
        refused = False
    except ConformanceCallError:
        refused = True
    check(refused, "a MIC mismatch is an error value, not an exception")


if __name__ == "__main__":
    probe(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]) if len(sys.argv) > 3 else APP)
