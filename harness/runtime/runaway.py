"""Runaway guests and the S3 check: every resource limit stops a guest, the host goes on.

The runaway guests are small components written in component-model text and compiled
with ``wasmtime.wat2wasm``; each misbehaves in one way:

* ``spin`` computes forever (stopped by fuel, or by the deadline when fuel is off);
* ``grow-memory`` allocates a page at a time and uses each page without checking that
  it got one, like an allocator that ignores a failed ``sbrk``;
* ``grow-table`` adds functions to its table and calls each new slot without checking,
  like a JIT registering code;
* the instances guest holds more core instances than the store allows.

:func:`run_runaway` runs one of them under given :class:`Limits` and reports which
typed error stopped it and whether the trapped instance refused to be entered again.
:mod:`harness.evidence.verifiers.limits` (claim S3) runs every one of them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import wasmtime
import wasmtime.component as wc

from harness.errors import HarnessError
from harness.runtime.engine import GuestCall, Runtime, wat2wasm
from harness.runtime.limits import Limits
from harness.runtime.traps import (
    DeadlineExceeded,
    GuestTrap,
    InstanceLimitExceeded,
    MemoryBudgetExceeded,
    MemoryLimitExceeded,
    OutOfFuel,
    ResourceLimitExceeded,
    TableLimitExceeded,
)

#: The runaway kinds, one per limit, in the order the S3 check runs them.
KINDS = ("fuel", "memory", "table", "deadline", "instances", "memory-budget")
#: The typed error each runaway must be stopped with.
EXPECTED: dict[str, type[ResourceLimitExceeded]] = {
    "fuel": OutOfFuel,
    "memory": MemoryLimitExceeded,
    "table": TableLimitExceeded,
    "deadline": DeadlineExceeded,
    "instances": InstanceLimitExceeded,
    "memory-budget": MemoryBudgetExceeded,
}
#: The export each call-time runaway runs (instances fail at instantiation instead).
_EXPORTS = {"fuel": "spin", "deadline": "spin", "memory": "grow-memory", "table": "grow-table"}
#: The interface the runaway component exports its functions under.
RUNAWAY_INTERFACE = "runaway"
#: The S3 check's deadline for the deadline runaway: the default (10 s per call) would
#: only make the gate slower; the mechanism is the same.
CHECK_DEADLINE_MS = 1_000

RUNAWAY_WAT = """
(component
  (core module $m
    (type $answer (func (result i32)))
    (memory 1)
    (table $t 1 funcref)
    (func $one (type $answer) (i32.const 1))
    (elem (table $t) (i32.const 0) func $one)
    (elem declare func $one)
    (func (export "spin") (local $x i32) (local $y i32)
      (loop $forever
        (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 1103515245))
                               (i32.const 12345)))
        (local.set $y (i32.xor (local.get $y) (i32.rotl (local.get $x) (i32.const 7))))
        (local.set $x (i32.add (local.get $x) (local.get $y)))
        (br $forever)))
    (func (export "grow-memory") (local $page i32)
      (loop $more
        ;; memory.grow gives the old size in pages, or -1 once the limit refuses.
        (local.set $page (memory.grow (i32.const 1)))
        (i32.store (i32.mul (local.get $page) (i32.const 65536)) (i32.const 1))
        (br $more)))
    (func (export "grow-table") (local $slot i32)
      (loop $more
        ;; table.grow gives the old size, or -1 once the limit refuses.
        (local.set $slot (table.grow $t (ref.func $one) (i32.const 1024)))
        (drop (call_indirect $t (type $answer) (local.get $slot)))
        (br $more)))
    (func (export "ping") (result i32) (i32.const 1)))
  (core instance $i (instantiate $m))
  (func $spin (canon lift (core func $i "spin")))
  (func $grow-memory (canon lift (core func $i "grow-memory")))
  (func $grow-table (canon lift (core func $i "grow-table")))
  (func $ping (result u32) (canon lift (core func $i "ping")))
  (instance $api
    (export "spin" (func $spin))
    (export "grow-memory" (func $grow-memory))
    (export "grow-table" (func $grow-table))
    (export "ping" (func $ping)))
  (export "runaway" (instance $api)))
"""


class SandboxError(HarnessError):
    """A runaway kind that does not exist."""


@lru_cache(maxsize=1)
def runaway_component() -> bytes:
    """The runaway component (spin, grow-memory, grow-table, ping), compiled once."""
    return wat2wasm(RUNAWAY_WAT)


@lru_cache(maxsize=8)
def instances_component(count: int, pages: int | None = None) -> bytes:
    """A component that instantiates a core module ``count`` times: an empty one, or one
    with a linear memory of ``pages`` pages (so every instance holds memory)."""
    module = "(core module $m)" if pages is None else f"(core module $m (memory {pages}))"
    body = "\n".join("  (core instance (instantiate $m))" for _ in range(count))
    return wat2wasm(f"(component\n  {module}\n{body})")


def runaway_limits(kind: str, base: Limits | None = None) -> Limits:
    """``base`` (default: the defaults), with the limit that would otherwise stop the
    guest first turned off, so the limit under test is the one that stops it: the other
    time limit for ``fuel`` and ``deadline``, the instance count for ``memory-budget``."""
    limits = base or Limits()
    if kind == "fuel":
        return replace(limits, deadline_ms=None)
    if kind == "deadline":
        return replace(limits, fuel=None)
    if kind == "memory-budget":
        return replace(limits, instances=None)
    return limits


@dataclass
class RunawayOutcome:
    """How one runaway guest ended."""

    kind: str
    limits: Limits
    error: GuestTrap | None
    """The error that stopped it (None: it was not stopped, or it returned)."""
    seconds: float
    fuel_used: int | None = None
    """Fuel the call used; None after a trap other than OutOfFuel, since wasmtime does
    not write back the fuel count of a call that trapped any other way."""
    guest_refused_reentry: bool | None = None
    """The harness refused a second call into the trapped instance (None: no instance)."""
    wasmtime_refused_reentry: bool | None = None
    """wasmtime itself refused it too, when asked directly (None: no instance)."""

    @property
    def expected(self) -> type[ResourceLimitExceeded]:
        """The typed error this kind must end with."""
        return EXPECTED[self.kind]

    @property
    def stopped(self) -> bool:
        """Stopped by the expected typed error, and the instance (if any) is dead."""
        if not isinstance(self.error, self.expected):
            return False
        return (
            self.guest_refused_reentry is not False and self.wasmtime_refused_reentry is not False
        )

    def figures(self) -> dict[str, Any]:
        """The outcome as plain data (for the evidence ledger)."""
        error = self.error
        return {
            "expected": self.expected.__name__,
            "error": type(error).__name__ if error is not None else None,
            "cause": error.cause if error is not None else None,
            "inferred": getattr(error, "inferred", None),
            "bound": getattr(error, "bound", None),
            "message": str(error) if error is not None else None,
            "limits": self.limits.as_dict(),
            "seconds": round(self.seconds, 4),
            "fuel_used": self.fuel_used,
            "guest_refused_reentry": self.guest_refused_reentry,
            "wasmtime_refused_reentry": self.wasmtime_refused_reentry,
            "stopped": self.stopped,
        }


def run_runaway(runtime: Runtime, kind: str, limits: Limits | None = None) -> RunawayOutcome:
    """Run the ``kind`` runaway under ``limits`` (default: :func:`runaway_limits`)."""
    if kind not in EXPECTED:
        raise SandboxError(f"unknown runaway kind {kind!r}; one of {', '.join(KINDS)}")
    limits = limits or runaway_limits(kind)
    if kind in ("instances", "memory-budget"):
        return _run_many(runtime, kind, limits)
    component = runtime.load_bytes(runaway_component(), name="runaway.wasm")
    store = runtime.new_store(limits)
    guest = runtime.instantiate(wc.Linker(runtime.engine), store, component, f"{kind} runaway")
    fuel_before = store.get_fuel()
    started = time.perf_counter()
    error: GuestTrap | None = None
    try:
        guest.call(RUNAWAY_INTERFACE, _EXPORTS[kind])
    except GuestTrap as exc:
        error = exc
    seconds = time.perf_counter() - started
    fuel_used: int | None = guest.fuel_consumed(fuel_before)
    if error is not None and not isinstance(error, OutOfFuel):
        fuel_used = None
    outcome = RunawayOutcome(kind, limits, error, seconds, fuel_used)
    if error is not None:
        outcome.guest_refused_reentry = _refuses(guest)
        outcome.wasmtime_refused_reentry = _wasmtime_refuses(guest)
    return outcome


def _run_many(runtime: Runtime, kind: str, limits: Limits) -> RunawayOutcome:
    """A component with one instance more than the store allows (``instances``), or one
    linear memory more than the run's memory budget allows (``memory-budget``: each
    instance holds a one-page memory, as a guest hoarding memory across instances would
    hold a large one)."""
    if kind == "instances":
        count = (limits.instances or Limits().instances or 0) + 1
        data = instances_component(count)
    else:
        count = (limits.memories_allowed() or Limits().memories_allowed() or 0) + 1
        data = instances_component(count, pages=1)
    component = runtime.load_bytes(data, name=f"{kind}.wasm")
    store = runtime.new_store(limits)
    started = time.perf_counter()
    error: GuestTrap | None = None
    try:
        runtime.instantiate(wc.Linker(runtime.engine), store, component, f"{kind} runaway")
    except GuestTrap as exc:
        error = exc
    return RunawayOutcome(kind, limits, error, time.perf_counter() - started)


def _refuses(guest: GuestCall) -> bool:
    try:
        guest.call(RUNAWAY_INTERFACE, "ping")
    except GuestTrap as exc:
        return "cannot be entered again" in str(exc)
    return False


def _wasmtime_refuses(guest: GuestCall) -> bool:
    """Ask wasmtime directly, past the harness's own refusal."""
    try:
        guest.func(RUNAWAY_INTERFACE, "ping")(guest.store)
    except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
        return "cannot enter component instance" in str(exc)
    return False
