"""Typed guest errors, and the one place that reads wasmtime's error text.

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
"""

from __future__ import annotations

import re
from typing import ClassVar

from harness.errors import CheckFailed, HarnessError
from harness.runtime.limits import WASM_PAGE, Limits


class RuntimeLoadError(HarnessError):
    """A component file that cannot be read or compiled."""


class InstantiationError(RuntimeLoadError):
    """A component that compiled but cannot be instantiated (a missing import, say)."""


class GuestTrap(CheckFailed):
    """The guest trapped; the instance is gone. ``cause`` names the limit if one was hit.

    A guest stopped mid-run is a failed run (exit 1), not a usage error.
    """

    def __init__(self, message: str, *, cause: str = "trap") -> None:
        super().__init__(message)
        self.cause = cause


class HostCallFailed(GuestTrap):
    """A host function the guest called (a seam) raised; the call and the instance are
    gone. ``import_name`` is ``interface#function``; ``error`` what the host raised."""

    def __init__(self, label: str, import_name: str, error: BaseException) -> None:
        super().__init__(
            f"{label} trapped (host-call-failed): the host function {import_name} "
            f"failed: {type(error).__name__}: {error}",
            cause="host-call-failed",
        )
        self.import_name = import_name
        self.error = error


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


class MemoryBudgetExceeded(ResourceLimitExceeded):
    """The run's linear memories together would have passed the run's memory budget
    (wasmtime refuses one memory more than the store's share allows)."""

    CAUSE = "memory-budget-exceeded"
    LIMIT = "memory-budget"


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


def refusal(dead: GuestTrap, label: str) -> GuestTrap:
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
    (MemoryBudgetExceeded, ("memory count too high",)),
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
        MemoryBudgetExceeded: limits.memory_budget_bytes,
    }.get(kind)


def _trap_summary(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if "Caused by:" in lines:
        after = lines[lines.index("Caused by:") + 1 :]
        if after:
            # A chain of causes is numbered "0: ...", "1: ...": keep them all, on one line.
            return "; ".join(re.sub(r"^\d+: ", "", line) for line in after)
    return lines[0] if lines else "no message"


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"
