"""The one place that drives wasmtime: engine, compiled-artifact cache, stores, linking.

* :class:`Runtime` owns an engine (fuel and epoch interruption on) and a cache of
  compiled components keyed by the component's SHA-256 and the wasmtime version:
  compiling the 18 MB core takes seconds cold and well under a second from the cache.
* :meth:`Runtime.new_store` applies :class:`~harness.runtime.limits.Limits` to a store:
  fuel, the size of each linear memory and table, the instance count, and a wall-clock
  deadline per guest call.
* :meth:`Runtime.instantiate_with_seams` is the one Linker -> host seams -> store ->
  instantiate sequence; :func:`link_seams` provides the host seams (transport, clock,
  entropy) on a linker's root.
* :func:`wat2wasm` compiles component-model text (the composer's outer component, the
  sandbox's runaway guests, policy probes).

* :class:`GuestCall` wraps calls into one instance: a trap becomes a typed
  :class:`~harness.runtime.traps.GuestTrap` (and the instance is marked dead, since a
  trapped component instance cannot be entered again), and WIT ``result`` values are
  unwrapped into Python values or :class:`~harness.runtime.traps.GuestError`.

Typed traps and the one reading of wasmtime's error text live in
:mod:`harness.runtime.traps`; the limits and their measurements in
:mod:`harness.runtime.limits`.
"""

from __future__ import annotations

import enum
import hashlib
import sys
import threading
import types
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import wasmtime
import wasmtime.component as wc

from harness import progress
from harness.errors import HarnessError
from harness.runtime.cache import CompiledCache, Warn, cache_key_path, load_or_create_key
from harness.runtime.limits import EPOCH_TICK_MS, NO_DEADLINE_TICKS, Limits, deadline_ticks
from harness.runtime.traps import (
    GuestError,
    GuestTrap,
    HostCallFailed,
    InstantiationError,
    ResourceLimitExceeded,
    RuntimeLoadError,
    classify_trap,
    first_line,
    refusal,
)
from harness.wit import CLOCK, ENTROPY, TRANSPORT, ClockSeam, EntropySeam, TransportSeam

WASMTIME_VERSION = "50.0.1"
#: What a compiled artifact depends on besides the component: the wasmtime version and
#: the engine settings this runtime compiles with (part of the cache's tags and names).
ENGINE_ID = f"wasmtime{WASMTIME_VERSION}-fuel-epochs"

Component = wc.Component
"""A compiled component (for type hints outside this package)."""
Engine = wasmtime.Engine
"""A wasmtime engine (for type hints outside this package)."""


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def new_engine() -> Engine:
    """An engine with wasmtime's default configuration (no fuel, no epochs): enough to
    compile a component and read its types."""
    return wasmtime.Engine()


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
            self.set_epoch_deadline(NO_DEADLINE_TICKS)
            return
        self.runtime.start_ticker()
        self.set_epoch_deadline(deadline_ticks(deadline_ms))


class Runtime:
    """A wasmtime engine plus an authenticated compiled-component cache.

    ``cache_dir`` holds the compiled artifacts (None: no cache); each is used only if its
    tag, keyed by the per-user secret at ``cache_key_file`` (default:
    :func:`~harness.runtime.cache.cache_key_path`), authenticates it as the compilation
    of exactly the bytes being loaded (see :mod:`harness.runtime.cache`). ``warn``
    receives the cache's warnings (default: stderr).
    """

    def __init__(
        self,
        cache_dir: Path | None,
        *,
        cache_key_file: Path | None = None,
        warn: Warn | None = None,
    ) -> None:
        config = wasmtime.Config()
        config.consume_fuel = True
        config.epoch_interruption = True
        self.engine = wasmtime.Engine(config)
        self.cache_dir = cache_dir
        self.cache: CompiledCache | None = None
        if cache_dir is not None:
            key = load_or_create_key(cache_key_file or cache_key_path())
            self.cache = CompiledCache(
                cache_dir, engine_id=ENGINE_ID, key=key, warn=warn or _stderr
            )
        self._ticker: threading.Thread | None = None
        self._ticker_stop = threading.Event()
        self._ticker_lock = threading.Lock()

    @property
    def cache_hits(self) -> int:
        """Components served from the cache (authenticated) in this runtime's life."""
        return self.cache.hits if self.cache is not None else 0

    @property
    def cache_rejected(self) -> int:
        """Cached artifacts found but refused (unauthenticated): discarded, recompiled."""
        return self.cache.rejected if self.cache is not None else 0

    # -- loading ------------------------------------------------------------------

    def load(self, path: Path) -> wc.Component:
        """Compile (or fetch from the cache) the component at ``path``."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RuntimeLoadError(f"cannot read component {path}: {exc.strerror}") from exc
        return self.load_bytes(data, name=str(path))

    def load_bytes(self, data: bytes, *, name: str = "<component>") -> wc.Component:
        """Compile ``data``, or take its compiled form from the cache when the cached
        artifact authenticates as the compilation of exactly these bytes."""
        digest = hashlib.sha256(data).hexdigest()
        with progress.step(f"compile {name}") as step:
            if self.cache is not None:
                artifact = self.cache.read(digest)
                if artifact is not None:
                    try:
                        component = wc.Component.deserialize(self.engine, artifact)
                    except wasmtime.WasmtimeError:
                        self.cache.discard(digest, "wasmtime cannot load it")
                    else:
                        step.detail = "compiled-artifact cache hit"
                        return component
            step.detail = f"cold compile of {len(data) / 1e6:.1f} MB"
            try:
                component = wc.Component(self.engine, data)
            except wasmtime.WasmtimeError as exc:
                raise RuntimeLoadError(
                    f"{name} is not a valid component: {first_line(str(exc))}"
                ) from exc
            if self.cache is not None:
                self.cache.write(digest, bytes(component.serialize()))
            return component

    # -- stores -------------------------------------------------------------------

    def new_store(self, limits: Limits, *, stores_in_run: int = 1) -> SandboxStore:
        """A store with ``limits`` applied (fuel, memory, tables, instances, deadline, and
        its share of the run's memory budget when the run has ``stores_in_run`` stores).

        The deadline starts now, so it covers instantiation; :class:`GuestCall` starts
        it again before every call.
        """
        store = SandboxStore(self, limits)
        store.set_fuel(limits.fuel if limits.fuel is not None else 2**63 - 1)
        memories = limits.memories_allowed(stores_in_run)
        per_memory = limits.memory_size(stores_in_run)
        store.set_limits(
            memory_size=per_memory if per_memory is not None else -1,
            table_elements=limits.table_elements if limits.table_elements is not None else -1,
            instances=limits.instances if limits.instances is not None else -1,
            memories=memories if memories is not None else -1,
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
        (a missing import, say) is an :class:`InstantiationError` naming ``label`` and
        wasmtime's first line.
        """
        limits = store.limits if isinstance(store, SandboxStore) else None
        try:
            instance = linker.instantiate(store, component)
        except _HostFailure as failure:  # a start function called a failing seam
            label = f"{label} (instantiation)"
            raise HostCallFailed(label, failure.import_name, failure.error) from failure.error
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            trap = classify_trap(str(exc), f"{label} (instantiation)", limits)
            if isinstance(trap, ResourceLimitExceeded):
                raise trap from None
            raise InstantiationError(f"cannot instantiate {label}: {first_line(str(exc))}") from exc
        return GuestCall(store, instance, label)

    def instantiate_with_seams(
        self,
        component: wc.Component,
        limits: Limits,
        label: str,
        *,
        transport: TransportSeam | None = None,
        clock: ClockSeam | None = None,
        entropy: EntropySeam | None = None,
        stores_in_run: int = 1,
    ) -> GuestCall:
        """One instance of ``component`` in a fresh store under ``limits``, its imports
        satisfied by the given host seams (those left None are not defined). The store
        gets its share of the run's memory budget, shared by ``stores_in_run`` stores."""
        linker = wc.Linker(self.engine)
        link_seams(linker, transport=transport, clock=clock, entropy=entropy)
        store = self.new_store(limits, stores_in_run=stores_in_run)
        return self.instantiate(linker, store, component, label)

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


def wat2wasm(text: str) -> bytes:
    """Compile WebAssembly text (core module or component) to its binary form.

    A syntax error is a :class:`RuntimeLoadError` carrying wasmtime's explanation.
    """
    try:
        return bytes(wasmtime.wat2wasm(text))
    except wasmtime.WasmtimeError as exc:
        raise RuntimeLoadError(f"invalid WebAssembly text: {first_line(str(exc))}") from exc


def link_seams(
    linker: wc.Linker,
    *,
    transport: TransportSeam | None = None,
    clock: ClockSeam | None = None,
    entropy: EntropySeam | None = None,
) -> None:
    """Define the host seams that are given on ``linker``'s root.

    Every host function is wrapped: whatever it raises reaches the caller of the guest
    as a typed :class:`~harness.runtime.traps.HostCallFailed` naming the import (see
    :class:`GuestCall`), never as the bare exception.
    """
    with linker.root() as root:
        if transport is not None:
            with root.add_instance(TRANSPORT) as inst:
                inst.add_func(
                    "send", _host(f"{TRANSPORT}#send", lambda d: transport.send(bytes(d)))
                )
                inst.add_func("receive", _host(f"{TRANSPORT}#receive", transport.receive))
        if clock is not None:
            with root.add_instance(CLOCK) as inst:
                inst.add_func("now-ms", _host(f"{CLOCK}#now-ms", clock.now_ms))
        if entropy is not None:
            with root.add_instance(ENTROPY) as inst:
                inst.add_func(
                    "random-bytes", _host(f"{ENTROPY}#random-bytes", entropy.random_bytes)
                )


class _HostFailure(HarnessError):
    """Carries what a host function raised, and which one, out of the guest call (never
    seen outside this module: :class:`GuestCall` turns it into HostCallFailed)."""

    def __init__(self, import_name: str, error: BaseException) -> None:
        super().__init__(f"the host function {import_name} failed")
        self.import_name = import_name
        self.error = error


def _host(import_name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` as a host function (the store argument dropped), its failures tagged with
    ``import_name``."""

    def call(_store: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            raise _HostFailure(import_name, exc) from exc

    return call


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

    def missing_exports(self, names: tuple[str, ...]) -> list[str]:
        """Those of ``names`` the instance does not export, in order."""
        return [n for n in names if self.instance.get_export_index(self.store, n) is None]

    def call(self, interface: str, name: str, *args: Any) -> Any:
        """Call an export; unwrap a ``result`` (raising GuestError); traps -> GuestTrap."""
        if self.dead is not None:
            raise refusal(self.dead, self.label)
        func = self.func(interface, name)
        if isinstance(self.store, SandboxStore):
            self.store.arm_deadline(self.deadline_ms)
        try:
            value = func(self.store, *args)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            self.dead = classify_trap(str(exc), self.label, self.limits)
            raise self.dead from None
        except _HostFailure as failure:
            self.dead = HostCallFailed(self.label, failure.import_name, failure.error)
            raise self.dead from failure.error
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
