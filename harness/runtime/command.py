"""Running a WASI command component (``wasi:cli/run``) under a capability policy.

The shape of a ``wasmtime run pase_exec.wasm`` spike, with less authority than
``wasmtime run`` gives: :func:`run_command` links the WASI Preview 2 interfaces of the
``wasi:cli/command`` world (wasmtime's own implementation, ``Linker.add_wasip2``) and
configures them so that a command gets

* **granted**: stdout and stderr (captured, digested, printed back by the caller),
  the wall and monotonic clocks, random bytes, the exit status, the streams and polls
  that carry them;
* **nothing**: no environment variables and no initial working directory, the
  arguments given and nothing else, an empty stdin, no preopened directory (so no file
  can be opened at all), no terminal;
* **refused at use**: sockets. wasmtime links ``wasi:sockets``, but its default
  socket-address check refuses every address (bind, connect, send) and name lookup is
  off, so a command can create a socket and never reach anything.

The environment, the arguments, the working directory and the preopens are host
functions of ours (shadowing wasmtime's), so the run counts how often the guest asked
for them: the evidence says what the command reached for and that it got nothing.

Only the ``wasi:cli/command`` world is linked. A component that imports anything else
(``wasi:http``, a project seam, any other interface) is refused before it is compiled,
with every such import named (:class:`NotACommand`); so is one that does not export
``wasi:cli/run``. ``wasmtime run`` does the same for an unknown import unless told to
trap it; refusing keeps a spike from being mistaken for one that ran.

The resource limits are the project's (:class:`~harness.runtime.limits.Limits`): fuel,
memory, tables, instances and the wall-clock deadline of the ``run`` call, enforced as
for every other guest. A guest stopped by one is an outcome (``stopped``), not an error.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import wasmtime
import wasmtime.component as wc

from harness import wasm_binary as wb
from harness.errors import WasmFormatError
from harness.runtime.engine import Runtime, SandboxStore, _host, _HostFailure
from harness.runtime.limits import Limits
from harness.runtime.traps import GuestTrap, HostCallFailed, RuntimeLoadError, classify_trap

#: The interface a command exports (WASI Preview 2, ``wasi:cli/run``; any 0.2.x).
RUN_INTERFACE = "wasi:cli/run"
#: WASI releases whose command world this runner links (wasmtime 50 implements 0.2.x).
WASI_VERSION_PREFIX = "0.2."

#: Every interface the ``wasi:cli/command`` world imports (``wasi:cli/imports`` of WASI
#: 0.2), with what a spike run gives it. Versions are checked separately.
COMMAND_WORLD: dict[str, str] = {
    "wasi:cli/stdout": "granted: captured by the harness",
    "wasi:cli/stderr": "granted: captured by the harness",
    "wasi:cli/exit": "granted: the exit status",
    "wasi:clocks/wall-clock": "granted: the host's wall clock",
    "wasi:clocks/monotonic-clock": "granted: the host's monotonic clock",
    "wasi:random/random": "granted: the host's random bytes",
    "wasi:random/insecure": "granted: the host's random bytes",
    "wasi:random/insecure-seed": "granted: the host's random bytes",
    "wasi:io/error": "granted: stream plumbing",
    "wasi:io/poll": "granted: stream plumbing",
    "wasi:io/streams": "granted: stream plumbing",
    "wasi:cli/environment": "empty: no variables, no working directory, only the given arguments",
    "wasi:cli/stdin": "empty: end of input at once",
    "wasi:cli/terminal-input": "none: no terminal",
    "wasi:cli/terminal-output": "none: no terminal",
    "wasi:cli/terminal-stdin": "none: no terminal",
    "wasi:cli/terminal-stdout": "none: no terminal",
    "wasi:cli/terminal-stderr": "none: no terminal",
    "wasi:filesystem/preopens": "empty: no directory preopened",
    "wasi:filesystem/types": "unreachable: no descriptor can be obtained",
    "wasi:sockets/network": "denied: every address refused",
    "wasi:sockets/instance-network": "denied: every address refused",
    "wasi:sockets/tcp": "denied: every address refused",
    "wasi:sockets/tcp-create-socket": "denied: every address refused",
    "wasi:sockets/udp": "denied: every address refused",
    "wasi:sockets/udp-create-socket": "denied: every address refused",
    "wasi:sockets/ip-name-lookup": "denied: name lookup disabled",
}
#: What stdout and stderr keep for printing back, each; the digest and size cover all.
OUTPUT_KEPT_BYTES = 1 << 20


class NotACommand(RuntimeLoadError):
    """The file is not a component, or not one this runner can run as a command: no
    ``wasi:cli/run`` export, or imports outside the ``wasi:cli/command`` world (exit 2)."""


@dataclass(frozen=True)
class CommandShape:
    """What the binary says about a command, read without compiling it."""

    run_export: str
    imports: tuple[str, ...]


def _split_version(name: str) -> tuple[str, str]:
    interface, _, version = name.partition("@")
    return interface, version


def command_shape(data: bytes, *, name: str = "<component>") -> CommandShape:
    """Check that ``data`` is a command component this runner links; its run export and
    imports. Reads the binary's export and import sections only (nothing is compiled).

    Raises :class:`NotACommand` naming what is wrong.
    """
    try:
        kind = wb.binary_kind(data)
    except WasmFormatError as exc:
        raise NotACommand(f"{name} is not a WebAssembly component: {exc}") from exc
    if kind != "component":
        raise NotACommand(
            f"{name} is a core WebAssembly module, not a component; a spike must be a "
            f"command component that exports {RUN_INTERFACE}"
        )
    try:
        exports = [entry.name for entry in wb.component_exports(data)]
        imports = [entry.name for entry in wb.component_imports(data)]
    except WasmFormatError as exc:
        raise NotACommand(f"{name} is not a readable component: {exc}") from exc
    runs = [
        e
        for e in exports
        if _split_version(e)[0] == RUN_INTERFACE
        and _split_version(e)[1].startswith(WASI_VERSION_PREFIX)
    ]
    if not runs:
        listed = ", ".join(exports) or "nothing"
        raise NotACommand(
            f"{name} is not a command component: it does not export "
            f"{RUN_INTERFACE}@{WASI_VERSION_PREFIX}x (it exports {listed})"
        )
    foreign = [i for i in imports if not _in_command_world(i)]
    if foreign:
        raise NotACommand(
            f"{name} imports {len(foreign)} interface(s) outside the wasi:cli/command world, "
            f"which a spike run does not provide: {', '.join(foreign)}"
        )
    return CommandShape(runs[0], tuple(imports))


def _in_command_world(name: str) -> bool:
    interface, version = _split_version(name)
    return interface in COMMAND_WORLD and version.startswith(WASI_VERSION_PREFIX)


class OutputCapture:
    """One captured output stream: a SHA-256 and the size of everything written, and
    the first :data:`OUTPUT_KEPT_BYTES` of it."""

    def __init__(self, kept: int = OUTPUT_KEPT_BYTES) -> None:
        self._digest = hashlib.sha256()
        self._kept = bytearray()
        self._limit = kept
        self.size = 0

    def write(self, data: bytes) -> None:
        """Take one write of the guest (called by wasmtime; never raises)."""
        self._digest.update(data)
        self.size += len(data)
        room = self._limit - len(self._kept)
        if room > 0:
            self._kept += data[:room]

    @property
    def data(self) -> bytes:
        """What was kept (all of it unless :attr:`truncated`)."""
        return bytes(self._kept)

    @property
    def truncated(self) -> bool:
        """True when the guest wrote more than was kept."""
        return self.size > len(self._kept)

    @property
    def sha256(self) -> str:
        """SHA-256 of everything written."""
        return self._digest.hexdigest()

    def as_dict(self) -> dict[str, Any]:
        """Digest, size and truncation, for the evidence."""
        return {"sha256": self.sha256, "size": self.size, "truncated": self.truncated}


@dataclass
class CommandOutcome:
    """How a command run ended, and what it wrote and used.

    ``exit_code`` is the command's exit status (0 for ``ok`` from ``run``, 1 for
    ``err``, N for ``wasi:cli/exit``), None when it did not end by itself; then
    ``stopped`` is the trap's cause (``out-of-fuel``, ``deadline-exceeded``,
    ``guest-panic``, ...) and ``stop_message`` the harness's explanation.
    ``capabilities`` has one entry per WASI interface the component imports: what the
    policy gives it and, for those the harness serves itself, how often the guest asked.
    ``fuel_consumed`` is what the store reports: wasmtime writes a running guest's fuel
    count back only at calls and returns, so for a guest stopped by the deadline or a
    trap it is a lower bound (measured: a tight loop stopped by the deadline reports 0).
    """

    shape: CommandShape
    stdout: OutputCapture
    stderr: OutputCapture
    exit_code: int | None = None
    stopped: str | None = None
    stop_message: str | None = None
    limit: str | None = None
    fuel_consumed: int = 0
    seconds: float = 0.0
    capabilities: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the command ended by itself with status 0."""
        return self.exit_code == 0


class _Requests:
    """Counts the guest's requests for the capabilities the harness serves itself."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def served(self, import_name: str, answer: Callable[[], Any]) -> Callable[..., Any]:
        def call() -> Any:
            self.counts[import_name] = self.counts.get(import_name, 0) + 1
            return answer()

        return _host(import_name, call)


#: The functions the harness serves itself, per interface, with what they answer.
SERVED: dict[str, dict[str, str]] = {
    "wasi:cli/environment": {
        "get-environment": "no variables",
        "get-arguments": "the given arguments only",
        "initial-cwd": "no working directory",
    },
    "wasi:filesystem/preopens": {"get-directories": "no directories"},
}


def _shadow_ambient(
    linker: wc.Linker, shape: CommandShape, args: Sequence[str], requests: _Requests
) -> None:
    """Serve the environment and the preopens ourselves (empty), counting the requests.

    Only interfaces the component imports are defined, under the exact imported names
    (wasmtime's definitions from ``add_wasip2`` are shadowed).
    """
    linker.allow_shadowing = True
    arguments = list(args)
    answers: dict[str, Callable[[], Any]] = {
        "get-environment": list,
        "get-arguments": lambda: list(arguments),
        "initial-cwd": lambda: None,
        "get-directories": list,
    }
    with linker.root() as root:
        for name in shape.imports:
            functions = SERVED.get(_split_version(name)[0])
            if functions is None:
                continue
            with root.add_instance(name) as inst:
                for function in functions:
                    inst.add_func(
                        function, requests.served(f"{name}#{function}", answers[function])
                    )


def _capabilities(shape: CommandShape, requests: _Requests) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in shape.imports:
        interface, _ = _split_version(name)
        entry: dict[str, Any] = {"given": COMMAND_WORLD[interface]}
        asked = {
            function: {"calls": requests.counts[f"{name}#{function}"], "answered": answer}
            for function, answer in SERVED.get(interface, {}).items()
            if f"{name}#{function}" in requests.counts
        }
        if asked:
            entry["requests"] = asked
        out[name] = entry
    return out


def run_command(
    runtime: Runtime,
    component: wc.Component,
    shape: CommandShape,
    limits: Limits,
    args: Sequence[str],
    *,
    label: str = "command component",
) -> CommandOutcome:
    """Instantiate ``component`` (checked by :func:`command_shape`) under ``limits`` and
    the capability policy of the module docstring, and call its ``run``.

    ``args`` is the whole argument list the guest sees (``args[0]`` is the program name).
    A guest stopped by a limit or a trap is an outcome (``stopped``), not an error; an
    instantiation that fails for any other reason raises
    :class:`~harness.runtime.traps.InstantiationError`.
    """
    requests = _Requests()
    linker = wc.Linker(runtime.engine)
    linker.add_wasip2()
    _shadow_ambient(linker, shape, args, requests)
    store = runtime.new_store(limits)
    stdout, stderr = OutputCapture(), OutputCapture()
    config = wasmtime.WasiConfig()
    config.argv = list(args)
    config.stdout_custom = stdout.write
    config.stderr_custom = stderr.write
    store.set_wasi(config)
    outcome = CommandOutcome(shape, stdout, stderr)
    fuel_before = store.get_fuel()
    started = time.perf_counter()
    try:
        guest = runtime.instantiate(linker, store, component, label)
        run = guest.func(shape.run_export, "run")
        store.arm_deadline(limits.deadline_ms)
        value = run(store)
    except wasmtime.ExitTrap as exc:
        outcome.exit_code = exc.code
    except GuestTrap as trap:  # stopped at instantiation (a limit, a failing host call)
        _stopped(outcome, trap)
    except _HostFailure as failure:
        _stopped(outcome, HostCallFailed(label, failure.import_name, failure.error))
    except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
        _stopped(outcome, classify_trap(str(exc), label, limits))
    else:
        outcome.exit_code = _exit_status(value)
    outcome.seconds = time.perf_counter() - started
    outcome.fuel_consumed = fuel_before - store.get_fuel()
    outcome.capabilities = _capabilities(shape, requests)
    if isinstance(store, SandboxStore):
        store.arm_deadline(None)
    return outcome


def _stopped(outcome: CommandOutcome, trap: GuestTrap) -> None:
    outcome.stopped = trap.cause
    outcome.stop_message = str(trap)
    outcome.limit = getattr(trap, "limit", None)


def _exit_status(value: Any) -> int:
    """``run``'s ``result`` as an exit status: ``ok`` 0, ``err`` 1 (as ``wasmtime run``)."""
    if isinstance(value, wc.Variant):
        return 0 if value.tag == "ok" else 1
    return 0 if value is None else 1
