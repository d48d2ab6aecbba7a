"""The only package that imports wasmtime: engine and compiled-artifact cache, stores
under resource limits, typed traps, calls into instances, component types, inspection,
and the runaway guests that prove the limits.

Layer: above ``errors``, ``project`` and ``wit`` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.lazy import lazy_exports

#: Each public name and the module (in this package) that defines it.
EXPORTS = {
    "CHECK_DEADLINE_MS": "runaway",
    "CompiledCache": "cache",
    "Component": "engine",
    "ComponentInterface": "types",
    "DeadlineExceeded": "traps",
    "EXPECTED": "runaway",
    "Engine": "engine",
    "GuestCall": "engine",
    "GuestError": "traps",
    "GuestTrap": "traps",
    "InstanceLimitExceeded": "traps",
    "InstantiationError": "traps",
    "Json": "types",
    "KINDS": "runaway",
    "Limits": "limits",
    "MemoryBudgetExceeded": "traps",
    "MemoryLimitExceeded": "traps",
    "OutOfFuel": "traps",
    "ResourceLimitExceeded": "traps",
    "RunawayOutcome": "runaway",
    "Runtime": "engine",
    "RuntimeLoadError": "traps",
    "TableLimitExceeded": "traps",
    "WASMTIME_VERSION": "engine",
    "WASM_PAGE": "limits",
    "cache_key_path": "cache",
    "check_preamble": "inspect",
    "classify_trap": "traps",
    "describe_component": "inspect",
    "field": "engine",
    "new_engine": "engine",
    "read_interface": "types",
    "record": "engine",
    "run_runaway": "runaway",
    "runaway_limits": "runaway",
    "try_compile": "types",
    "unwrap_result": "engine",
    "wat2wasm": "engine",
}

__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)

if TYPE_CHECKING:
    from harness.runtime.cache import CompiledCache, cache_key_path
    from harness.runtime.engine import (
        WASMTIME_VERSION,
        Component,
        Engine,
        GuestCall,
        Runtime,
        field,
        new_engine,
        record,
        unwrap_result,
        wat2wasm,
    )
    from harness.runtime.inspect import check_preamble, describe_component
    from harness.runtime.limits import WASM_PAGE, Limits
    from harness.runtime.runaway import (
        CHECK_DEADLINE_MS,
        EXPECTED,
        KINDS,
        RunawayOutcome,
        run_runaway,
        runaway_limits,
    )
    from harness.runtime.traps import (
        DeadlineExceeded,
        GuestError,
        GuestTrap,
        InstanceLimitExceeded,
        InstantiationError,
        MemoryBudgetExceeded,
        MemoryLimitExceeded,
        OutOfFuel,
        ResourceLimitExceeded,
        RuntimeLoadError,
        TableLimitExceeded,
        classify_trap,
    )
    from harness.runtime.types import ComponentInterface, Json, read_interface, try_compile

__all__ = [
    "CHECK_DEADLINE_MS",
    "EXPECTED",
    "KINDS",
    "WASMTIME_VERSION",
    "WASM_PAGE",
    "CompiledCache",
    "Component",
    "ComponentInterface",
    "DeadlineExceeded",
    "Engine",
    "GuestCall",
    "GuestError",
    "GuestTrap",
    "InstanceLimitExceeded",
    "InstantiationError",
    "Json",
    "Limits",
    "MemoryBudgetExceeded",
    "MemoryLimitExceeded",
    "OutOfFuel",
    "ResourceLimitExceeded",
    "RunawayOutcome",
    "Runtime",
    "RuntimeLoadError",
    "TableLimitExceeded",
    "cache_key_path",
    "check_preamble",
    "classify_trap",
    "describe_component",
    "field",
    "new_engine",
    "read_interface",
    "record",
    "run_runaway",
    "runaway_limits",
    "try_compile",
    "unwrap_result",
    "wat2wasm",
]
