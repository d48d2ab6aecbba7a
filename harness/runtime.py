"""The one place that drives wasmtime: engine, compiled-artifact cache, stores, linking.

* :class:`Runtime` owns an engine (fuel and epoch interruption on) and a cache of
  compiled components keyed by the component's SHA-256 and the wasmtime version:
  compiling the 18 MB core takes seconds cold and well under a second from the cache.
* :meth:`Runtime.new_store` applies :class:`Limits` to a store: fuel, the size of each
  linear memory and table, the instance count, and a wall-clock deadline per guest call.
* :func:`link_seams` provides the host seams (transport, clock, entropy) to a linker;
  every call is counted by the seam objects themselves.
* :class:`GuestCall` wraps calls into an instance: a trap becomes a typed
  :class:`GuestTrap` (and the instance is marked dead, since a trapped component
  instance cannot be entered again), and ``result`` values are unwrapped into Python
  values or :class:`GuestError`.

wasmtime reports limits only as message text; :func:`classify_trap` is the one place
that turns the text into a typed error:

* fuel and the deadline trap inside the guest: :class:`OutOfFuel`,
  :class:`DeadlineExceeded`;
* a memory, table or instance count refused at instantiation is an error from
  ``instantiate``: :class:`MemoryLimitExceeded`, :class:`TableLimitExceeded`,
  :class:`InstanceLimitExceeded` (raised by :meth:`Runtime.instantiate`);
* growth past a limit while the guest runs does not trap. The store limiter makes
  ``memory.grow`` and ``table.grow`` return -1, as the WebAssembly spec has it, and what
  happens next is up to the guest. wasmtime can trap there instead
  (``StoreLimitsBuilder::trap_on_grow_failure``), but wasmtime-py 50 cannot ask for it:
  ``Store.set_limits`` calls the C function ``wasmtime_store_limiter``, which takes the
  five numbers and no such flag, and the C API offers neither a custom limiter nor a way
  to read a component instance's memory size. So a refused growth is attributed from the
  trap that follows, and the error says so (``inferred=True``). A memory fault in a
  linear memory with no room for one more page under the limit is
  :class:`MemoryLimitExceeded`: wasmtime's text gives the memory's size, which is
  evidence. An out-of-bounds table access under a table limit is
  :class:`TableLimitExceeded`: wasmtime's text gives no size, so this is a judgement,
  and a guest whose ``call_indirect`` index is merely wrong is reported the same way. A
  guest that reacts to a refused growth otherwise keeps its generic cause (the core
  component's CPython, out of memory, traps on ``unreachable``: ``guest-panic``).
  wasmtime's own ``trap_on_grow_failure`` text is mapped as well, so a wasmtime-py that
  exposes the flag makes these errors exact with no other change.
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
import tempfile
import threading
import types
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Protocol

import wasmtime
import wasmtime.component as wc

from harness.errors import HarnessError

WASMTIME_VERSION = "50.0.1"

#: WebAssembly page size: linear memory grows in these steps.
WASM_PAGE = 65536


class RuntimeLoadError(HarnessError):
    """A component file that cannot be read or compiled."""


class GuestTrap(HarnessError):
    """The guest trapped; the instance is gone. ``cause`` names the limit if one was hit."""

    #: A guest stopped mid-run is a failed run (exit 1), not a usage error.
    exit_code = 1

    def __init__(self, message: str, *, cause: str = "trap") -> None:
        super().__init__(message)
        self.cause = cause


class ResourceLimitExceeded(GuestTrap):
    """A per-instance limit stopped the guest.

    ``limit`` names the :class:`Limits` field family ("fuel", "memory", "table",
    "deadline", "instances"); ``bound`` is the limit in force when known; ``inferred``
    is true when wasmtime did not report the limit itself and the harness attributed
    the guest's trap to it (see the module docstring).
    """

    CAUSE: ClassVar[str] = "resource-limit-exceeded"
    LIMIT: ClassVar[str] = "resource"

    def __init__(self, message: str, *, bound: int | None = None, inferred: bool = False) -> None:
        super().__init__(message, cause=self.CAUSE)
        self.limit = self.LIMIT
        self.bound = bound
        self.inferred = inferred


class OutOfFuel(ResourceLimitExceeded):
    """The guest used all the fuel its store was given."""

    CAUSE = "out-of-fuel"
    LIMIT = "fuel"


class MemoryLimitExceeded(ResourceLimitExceeded):
    """A linear memory would have passed the memory limit (at instantiation or growing)."""

    CAUSE = "memory-limit-exceeded"
    LIMIT = "memory"


class TableLimitExceeded(ResourceLimitExceeded):
    """A table would have passed the table-elements limit (at instantiation or growing)."""

    CAUSE = "table-limit-exceeded"
    LIMIT = "table"


class DeadlineExceeded(ResourceLimitExceeded):
    """A guest call ran past its wall-clock deadline (epoch interruption)."""

    CAUSE = "deadline-exceeded"
    LIMIT = "deadline"


class InstanceLimitExceeded(ResourceLimitExceeded):
    """Instantiation would have created more instances than the store allows."""

    CAUSE = "instance-limit-exceeded"
    LIMIT = "instances"


class GuestError(HarnessError):
    """The guest returned an error value (a WIT ``core-error``)."""

    def __init__(self, kind: str, message: str, general_code: int, protocol_code: int) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.guest_message = message
        self.general_code = general_code
        self.protocol_code = protocol_code


# Measured on the 2-core development machine (CPython 3.11.7, wasmtime 50.0.1, core
# built by componentize-py 0.25.1), seed 7, 1000 PBKDF2 iterations unless stated:
#
#   what                                           fuel            peak memory / table / instances
#   core component instantiation                   6.1 k
#   handshake + session probe, commissioner        205.1 M         201 pages (12.6 MiB) / 5674 / 38
#   handshake + session probe, commissionee        108.1 M         201 pages (12.6 MiB) / 5674 / 38
#   composed graph (both cores + loopback)         313.6 M         201 pages (12.6 MiB) / 5674 / 116
#   commissioner at 10,000 iterations              1.085 G
#   commissioner at 100,000 (the Matter maximum)   9.894 G         201 pages / 5674 / 38
#   composed graph at 100,000 iterations           10.06 G
#   conformance suite, one instance (C7)           3.347 G         201 pages / 5674 / 38
#   one PBKDF2 iteration in the core               97.8 k
#
# Peak memory is the largest single linear memory (the limit applies to each memory):
# every run above passes with the limit set to the size the core is instantiated with,
# so a handshake does not grow memory or tables at all. Wall time of the longest single
# guest call: 9 ms at 1000 iterations (a poll), 0.12 s in the conformance suite, 0.60 s
# at 100,000 iterations; a whole component handshake takes 35-65 ms.
#
# Defaults, with their margins:
#   fuel            2 x the costliest legitimate instance: the composed graph at 100,000
#                   iterations (10.06 G); about 100 x a default handshake's commissioner.
#                   A guest burns 2-10 G fuel per second, so a runaway stops in 2-10 s.
#   memory_bytes    2 x the peak (12.6 MiB), rounded up to a power of two: 32 MiB (2.5 x).
#   table_elements  2 x the largest table (5674), up to a power of two: 16384 (2.9 x).
#   instances       2 x the composed graph's 116, up to a power of two: 256 (2.2 x).
#   deadline_ms     per guest call, not per instance, so a long-lived instance (a
#                   listening peer) is never stopped for its age: 10 s, 16 x the longest
#                   call at 100,000 iterations, 80 x the longest at default parameters.
@dataclass(frozen=True)
class Limits:
    """Per-instance resource limits (one store per component instance; a composed graph
    is one instance). None means unlimited.

    ``memory_bytes`` and ``table_elements`` bound each linear memory and each table;
    ``instances`` bounds the instances in the store (every core instance inside a
    component counts); ``deadline_ms`` is wall-clock time per guest call (and for
    instantiation), enforced by epoch interruption. The defaults come from measurement;
    the figures are in the comment above.
    """

    fuel: int | None = 20_000_000_000
    memory_bytes: int | None = 32 * 1024 * 1024
    table_elements: int | None = 16_384
    instances: int | None = 256
    deadline_ms: int | None = 10_000

    def as_dict(self) -> dict[str, int | None]:
        """The limits as a plain mapping (for reports and the evidence ledger)."""
        return asdict(self)


#: How often the epoch ticker advances the engine's epoch.
EPOCH_TICK_MS = 10
#: An epoch deadline that never comes (wasmtime adds it to the current epoch: no overflow).
_NO_DEADLINE_TICKS = 2**62


def deadline_ticks(deadline_ms: int) -> int:
    """Epoch ticks that cover at least ``deadline_ms``: the first tick may come at once."""
    return max(1, -(-deadline_ms // EPOCH_TICK_MS)) + 1


class SandboxStore(wasmtime.Store):
    """A store made by :meth:`Runtime.new_store`: it remembers its limits and its runtime,
    so a :class:`GuestCall` can re-arm the deadline before every call and name the limit
    in force when a guest is stopped."""

    def __init__(self, runtime: Runtime, limits: Limits) -> None:
        super().__init__(runtime.engine)
        self.runtime = runtime
        self.limits = limits

    def arm_deadline(self, deadline_ms: int | None) -> None:
        """Start the wall-clock deadline for the next stretch of guest code (now)."""
        if deadline_ms is None:
            self.set_epoch_deadline(_NO_DEADLINE_TICKS)
            return
        self.runtime.start_ticker()
        self.set_epoch_deadline(deadline_ticks(deadline_ms))


class Runtime:
    """A wasmtime engine plus a compiled-component cache directory."""

    def __init__(self, cache_dir: Path | None) -> None:
        config = wasmtime.Config()
        config.consume_fuel = True
        config.epoch_interruption = True
        self.engine = wasmtime.Engine(config)
        self.cache_dir = cache_dir
        self._ticker: threading.Thread | None = None
        self._ticker_stop = threading.Event()
        self._ticker_lock = threading.Lock()
        self.compile_seconds = 0.0
        self.cache_hits = 0

    # -- loading ------------------------------------------------------------------

    def load(self, path: Path) -> wc.Component:
        """Compile (or fetch from the cache) the component at ``path``."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RuntimeLoadError(f"cannot read component {path}: {exc.strerror}") from exc
        return self.load_bytes(data, name=str(path))

    def load_bytes(self, data: bytes, *, name: str = "<component>") -> wc.Component:
        """Compile (or fetch from the cache) a component given as bytes."""
        digest = hashlib.sha256(data).hexdigest()
        cached = self._cache_path(digest)
        if cached is not None and cached.is_file():
            try:
                component = wc.Component.deserialize_file(self.engine, str(cached))
                self.cache_hits += 1
                return component
            except wasmtime.WasmtimeError:
                cached.unlink(missing_ok=True)  # stale or corrupt cache entry: recompile
        try:
            component = wc.Component(self.engine, data)
        except wasmtime.WasmtimeError as exc:
            raise RuntimeLoadError(
                f"{name} is not a valid component: {_first_line(str(exc))}"
            ) from exc
        if cached is not None:
            _atomic_write(cached, bytes(component.serialize()))
        return component

    def _cache_path(self, digest: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"{digest}-wasmtime{WASMTIME_VERSION}.cwasm"

    # -- stores -------------------------------------------------------------------

    def new_store(self, limits: Limits) -> SandboxStore:
        """A store with ``limits`` applied (fuel, memory, tables, instances, deadline).

        The deadline starts now, so it covers instantiation; :class:`GuestCall` starts
        it again before every call.
        """
        store = SandboxStore(self, limits)
        store.set_fuel(limits.fuel if limits.fuel is not None else 2**63 - 1)
        store.set_limits(
            memory_size=limits.memory_bytes if limits.memory_bytes is not None else -1,
            table_elements=limits.table_elements if limits.table_elements is not None else -1,
            instances=limits.instances if limits.instances is not None else -1,
        )
        store.arm_deadline(limits.deadline_ms)
        return store

    def instantiate(
        self,
        linker: wc.Linker,
        store: wasmtime.Store,
        component: wc.Component,
        label: str,
    ) -> GuestCall:
        """Instantiate ``component`` in ``store`` and wrap it in a :class:`GuestCall`.

        A limit that refuses the instantiation (memory, tables, instance count, or fuel
        and the deadline in start-up code) raises its typed error; any other failure
        (a missing import, say) is re-raised as wasmtime's own error.
        """
        limits = store.limits if isinstance(store, SandboxStore) else None
        try:
            instance = linker.instantiate(store, component)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            trap = classify_trap(str(exc), f"{label} (instantiation)", limits)
            if isinstance(trap, ResourceLimitExceeded):
                raise trap from None
            raise
        return GuestCall(store, instance, label)

    def start_ticker(self) -> None:
        """Start the thread that advances the engine's epoch (idempotent)."""
        with self._ticker_lock:
            if self._ticker is not None:
                return
            # A fresh event per thread: a thread from before close() never comes back.
            stop = self._ticker_stop = threading.Event()

            def tick() -> None:
                while not stop.wait(EPOCH_TICK_MS / 1000):
                    self.engine.increment_epoch()

            self._ticker = threading.Thread(target=tick, name="epoch-ticker", daemon=True)
            self._ticker.start()

    def close(self) -> None:
        """Stop the epoch ticker (a later deadline starts it again)."""
        with self._ticker_lock:
            self._ticker_stop.set()
            ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.join(timeout=1)


class TransportSeam(Protocol):
    """The transport seam's host shape."""

    def send(self, datagram: bytes) -> bool:
        """Queue a datagram for the peer."""
        ...

    def receive(self) -> bytes | None:
        """Take the next datagram, if any."""
        ...


class ClockSeam(Protocol):
    """The clock seam's host shape."""

    def now_ms(self) -> int:
        """Monotonic milliseconds."""
        ...


class EntropySeam(Protocol):
    """The entropy seam's host shape."""

    def random_bytes(self, n: int) -> bytes:
        """``n`` random bytes."""
        ...


PACKAGE = "matter:pase"
PACKAGE_VERSION = "0.1.0"


def interface_name(name: str) -> str:
    """The full import/export name of one of the package's interfaces."""
    return f"{PACKAGE}/{name}@{PACKAGE_VERSION}"


TRANSPORT = interface_name("transport")
CLOCK = interface_name("clock")
ENTROPY = interface_name("entropy")
SESSION_CONTROL = interface_name("session-control")
CONFORMANCE = interface_name("conformance")
ENDPOINT_B = interface_name("endpoint-b")
LOOPBACK_STATS = interface_name("loopback-stats")


def link_seams(
    linker: wc.Linker,
    *,
    transport: TransportSeam | None = None,
    clock: ClockSeam | None = None,
    entropy: EntropySeam | None = None,
) -> None:
    """Define the host seams that are given on ``linker``'s root."""
    with linker.root() as root:
        if transport is not None:
            with root.add_instance(TRANSPORT) as inst:
                inst.add_func("send", lambda _store, datagram: transport.send(bytes(datagram)))
                inst.add_func("receive", lambda _store: transport.receive())
        if clock is not None:
            with root.add_instance(CLOCK) as inst:
                inst.add_func("now-ms", lambda _store: clock.now_ms())
        if entropy is not None:
            with root.add_instance(ENTROPY) as inst:
                inst.add_func("random-bytes", lambda _store, n: entropy.random_bytes(n))


def record(**fields: Any) -> types.SimpleNamespace:
    """A value for a WIT record parameter: Python names become WIT (kebab-case) names."""
    value = types.SimpleNamespace()
    for key, item in fields.items():
        setattr(value, key.replace("_", "-"), item)
    return value


def field(value: Any, name: str) -> Any:
    """Read the WIT field ``name`` (given in Python spelling) of a record value."""
    return getattr(value, name.replace("_", "-"))


class _FromStore(enum.Enum):
    TOKEN = "from-store"


#: ``GuestCall(deadline_ms=FROM_STORE)``: the per-call deadline of the store's limits.
FROM_STORE = _FromStore.TOKEN


class GuestCall:
    """Calls into one component instance, with traps and results made typed.

    ``deadline_ms`` is the wall-clock budget of each call, started afresh before every
    call (default: the store's ``Limits.deadline_ms``), so an instance that lives long
    and is called now and then (a listening peer) is never stopped for its age. The
    deadline needs a store made by :meth:`Runtime.new_store`, whose runtime runs the
    epoch ticker.
    """

    def __init__(
        self,
        store: wasmtime.Store,
        instance: wc.Instance,
        label: str,
        *,
        deadline_ms: int | _FromStore | None = FROM_STORE,
    ) -> None:
        self.store = store
        self.instance = instance
        self.label = label
        if isinstance(deadline_ms, _FromStore):
            deadline_ms = store.limits.deadline_ms if isinstance(store, SandboxStore) else None
        self.deadline_ms = deadline_ms
        self.dead: GuestTrap | None = None
        self._funcs: dict[tuple[str, str], wc.Func] = {}

    def func(self, interface: str, name: str) -> wc.Func:
        """The exported function ``name`` of ``interface``."""
        key = (interface, name)
        if key not in self._funcs:
            iface = self.instance.get_export_index(self.store, interface)
            if iface is None:
                raise HarnessError(f"{self.label} does not export {interface}")
            index = self.instance.get_export_index(self.store, name, iface)
            func = None if index is None else self.instance.get_func(self.store, index)
            if func is None:
                raise HarnessError(f"{self.label} does not export {interface}#{name}")
            self._funcs[key] = func
        return self._funcs[key]

    def call(self, interface: str, name: str, *args: Any) -> Any:
        """Call an export; unwrap a ``result`` (raising GuestError); traps -> GuestTrap."""
        if self.dead is not None:
            raise _refusal(self.dead, self.label)
        func = self.func(interface, name)
        if isinstance(self.store, SandboxStore):
            self.store.arm_deadline(self.deadline_ms)
        try:
            value = func(self.store, *args)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            self.dead = classify_trap(str(exc), self.label, self.limits)
            raise self.dead from None
        return unwrap_result(value)

    @property
    def limits(self) -> Limits | None:
        """The limits this instance runs under (None for a store made elsewhere)."""
        if not isinstance(self.store, SandboxStore):
            return None
        return replace(self.store.limits, deadline_ms=self.deadline_ms)

    def fuel_consumed(self, initial: int) -> int:
        """Fuel used since the store had ``initial`` fuel."""
        return initial - self.store.get_fuel()


def _refusal(dead: GuestTrap, label: str) -> GuestTrap:
    """The error for entering an instance that trapped: the same type and cause."""
    message = f"{label} trapped earlier ({dead.cause}) and cannot be entered again"
    if isinstance(dead, ResourceLimitExceeded):
        return type(dead)(message, bound=dead.bound, inferred=dead.inferred)
    return GuestTrap(message, cause=dead.cause)


_MEMORY_FAULT = re.compile(
    r"memory fault at wasm address 0x([0-9a-f]+) in linear memory of size 0x([0-9a-f]+)"
)
#: wasmtime's own texts for each limit (instantiation refusals, ``trap_on_grow_failure``).
_REPORTED: tuple[tuple[type[ResourceLimitExceeded], tuple[str, ...]], ...] = (
    (OutOfFuel, ("all fuel consumed", "out of fuel")),
    (DeadlineExceeded, ("wasm trap: interrupt", "epoch deadline")),
    (MemoryLimitExceeded, ("exceeds memory limits", "forcing trap when growing memory")),
    (TableLimitExceeded, ("exceeds table limits", "forcing trap when growing table")),
    (InstanceLimitExceeded, ("instance count too high",)),
)


def classify_trap(message: str, label: str, limits: Limits | None = None) -> GuestTrap:
    """Map wasmtime's error text to a typed error: the one place that reads that text.

    ``limits`` (those in force, if known) fill in each error's ``bound`` and allow the
    inferred memory and table attributions described in the module docstring.
    """
    lowered = message.lower()
    summary = _trap_summary(message)
    for kind, needles in _REPORTED:
        if any(needle in lowered for needle in needles):
            bound = _bound(kind, limits)
            return kind(f"{label} trapped ({kind.CAUSE}): {summary}", bound=bound)
    inferred = _inferred_limit(lowered, limits)
    if inferred is not None:
        kind, why = inferred
        return kind(
            f"{label} trapped ({kind.CAUSE}, inferred): {summary} [{why}]",
            bound=_bound(kind, limits),
            inferred=True,
        )
    if "cannot enter component instance" in lowered:
        cause = "instance-poisoned"
    elif "unreachable" in lowered:
        cause = "guest-panic"
    else:
        cause = "trap"
    return GuestTrap(f"{label} trapped ({cause}): {summary}", cause=cause)


def _inferred_limit(
    lowered: str, limits: Limits | None
) -> tuple[type[ResourceLimitExceeded], str] | None:
    """A growth the store limiter refused, read from the trap that followed (see above)."""
    if limits is None:
        return None
    fault = _MEMORY_FAULT.search(lowered)
    if fault is not None and limits.memory_bytes is not None:
        size = int(fault.group(2), 16)
        if size + WASM_PAGE > limits.memory_bytes:
            return MemoryLimitExceeded, (
                f"the guest faulted with its memory at {size} bytes, no room for another "
                f"page under the {limits.memory_bytes}-byte limit: memory.grow was refused"
            )
    if "out of bounds table access" in lowered and limits.table_elements is not None:
        return TableLimitExceeded, (
            f"a table access out of bounds under the {limits.table_elements}-element "
            "table limit: taken as a refused table.grow"
        )
    return None


def _bound(kind: type[ResourceLimitExceeded], limits: Limits | None) -> int | None:
    if limits is None:
        return None
    return {
        OutOfFuel: limits.fuel,
        DeadlineExceeded: limits.deadline_ms,
        MemoryLimitExceeded: limits.memory_bytes,
        TableLimitExceeded: limits.table_elements,
        InstanceLimitExceeded: limits.instances,
    }.get(kind)


def _trap_summary(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if "Caused by:" in lines:
        after = lines[lines.index("Caused by:") + 1 :]
        if after:
            # A chain of causes is numbered "0: ...", "1: ...": keep them all, on one line.
            return "; ".join(re.sub(r"^\d+: ", "", line) for line in after)
    return lines[0] if lines else "no message"


def unwrap_result(value: Any) -> Any:
    """Turn a lifted WIT ``result`` into its ok value, or raise GuestError for ``err``.

    wasmtime-py lifts a result whose two cases have distinct Python classes untagged
    (the payload alone) and tags it as ``Variant('ok'|'err', payload)`` otherwise, so
    both shapes are handled; an untagged error is recognised as a ``core-error`` record.
    """
    if isinstance(value, wc.Variant) and value.tag in ("ok", "err"):
        if value.tag == "err":
            raise _guest_error(value.payload)
        return value.payload
    if _is_core_error(value):
        raise _guest_error(value)
    return value


def _is_core_error(value: Any) -> bool:
    return isinstance(value, wc.Record) and all(
        hasattr(value, name) for name in ("kind", "message", "general-code", "protocol-code")
    )


def _guest_error(value: Any) -> GuestError:
    if _is_core_error(value):
        return GuestError(
            str(value.kind),
            str(value.message),
            int(field(value, "general_code")),
            int(field(value, "protocol_code")),
        )
    return GuestError("internal", f"guest returned an error value {value!r}", 1, 2)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
