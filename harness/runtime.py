"""The one place that drives wasmtime: engine, compiled-artifact cache, stores, linking.

* :class:`Runtime` owns an engine (fuel and epoch interruption on) and a cache of
  compiled components keyed by the component's SHA-256 and the wasmtime version:
  compiling the 18 MB core takes seconds cold and well under a second from the cache.
* :func:`link_seams` provides the host seams (transport, clock, entropy) to a linker;
  every call is counted by the seam objects themselves.
* :class:`GuestCall` wraps calls into an instance: a trap becomes a typed
  :class:`GuestTrap` (and the instance is marked dead, since a trapped component
  instance cannot be entered again), and ``result`` values are unwrapped into Python
  values or :class:`GuestError`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import wasmtime
import wasmtime.component as wc

from harness.errors import HarnessError

WASMTIME_VERSION = "50.0.1"


class RuntimeLoadError(HarnessError):
    """A component file that cannot be read or compiled."""


class GuestTrap(HarnessError):
    """The guest trapped; the instance is gone. ``cause`` names the limit if one was hit."""

    def __init__(self, message: str, *, cause: str = "trap") -> None:
        super().__init__(message)
        self.cause = cause


class GuestError(HarnessError):
    """The guest returned an error value (a WIT ``core-error``)."""

    def __init__(self, kind: str, message: str, general_code: int, protocol_code: int) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.guest_message = message
        self.general_code = general_code
        self.protocol_code = protocol_code


@dataclass(frozen=True)
class Limits:
    """Per-store resource limits. None means unlimited."""

    fuel: int | None = 20_000_000_000
    memory_bytes: int | None = 512 * 1024 * 1024
    table_elements: int | None = 100_000
    instances: int | None = 1000
    deadline_ms: int | None = 60_000


#: How often the epoch ticker advances the engine's epoch.
EPOCH_TICK_MS = 10


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

    def new_store(self, limits: Limits) -> wasmtime.Store:
        """A store with ``limits`` applied (fuel, memory, tables, instances, deadline)."""
        store = wasmtime.Store(self.engine)
        store.set_fuel(limits.fuel if limits.fuel is not None else 2**63 - 1)
        store.set_limits(
            memory_size=limits.memory_bytes if limits.memory_bytes is not None else -1,
            table_elements=limits.table_elements if limits.table_elements is not None else -1,
            instances=limits.instances if limits.instances is not None else -1,
        )
        if limits.deadline_ms is not None:
            self._start_ticker()
            store.set_epoch_deadline(max(1, limits.deadline_ms // EPOCH_TICK_MS))
        else:
            store.set_epoch_deadline(2**62)
        return store

    def _start_ticker(self) -> None:
        if self._ticker is not None:
            return

        def tick() -> None:
            while not self._ticker_stop.wait(EPOCH_TICK_MS / 1000):
                self.engine.increment_epoch()

        self._ticker = threading.Thread(target=tick, name="epoch-ticker", daemon=True)
        self._ticker.start()

    def close(self) -> None:
        """Stop the epoch ticker."""
        self._ticker_stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=1)
            self._ticker = None


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


class GuestCall:
    """Calls into one component instance, with traps and results made typed."""

    def __init__(self, store: wasmtime.Store, instance: wc.Instance, label: str) -> None:
        self.store = store
        self.instance = instance
        self.label = label
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
            raise GuestTrap(
                f"{self.label} trapped earlier ({self.dead.cause}) and cannot be entered again",
                cause=self.dead.cause,
            )
        func = self.func(interface, name)
        try:
            value = func(self.store, *args)
        except wasmtime.WasmtimeError as exc:
            self.dead = classify_trap(str(exc), self.label)
            raise self.dead from None
        except wasmtime.Trap as exc:
            self.dead = classify_trap(str(exc), self.label)
            raise self.dead from None
        return unwrap_result(value)

    def fuel_consumed(self, initial: int) -> int:
        """Fuel used since the store had ``initial`` fuel."""
        return initial - self.store.get_fuel()


def classify_trap(message: str, label: str) -> GuestTrap:
    """Map wasmtime's trap text to a typed cause (wasmtime reports these only as text)."""
    lowered = message.lower()
    if "all fuel consumed" in lowered or "out of fuel" in lowered:
        cause = "out-of-fuel"
    elif "epoch" in lowered or "interrupt" in lowered:
        cause = "deadline-exceeded"
    elif "memory" in lowered and ("limit" in lowered or "grow" in lowered):
        cause = "memory-limit-exceeded"
    elif "table" in lowered and ("limit" in lowered or "grow" in lowered):
        cause = "table-limit-exceeded"
    elif "cannot enter component instance" in lowered:
        cause = "instance-poisoned"
    elif "unreachable" in lowered:
        cause = "guest-panic"
    else:
        cause = "trap"
    return GuestTrap(f"{label} trapped ({cause}): {_trap_summary(message)}", cause=cause)


def _trap_summary(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if "Caused by:" in lines:
        after = lines[lines.index("Caused by:") + 1 :]
        if after:
            return after[0]
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
