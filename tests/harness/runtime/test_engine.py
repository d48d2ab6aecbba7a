"""Tests for harness.runtime: the compiled-component cache, load errors, result unwrapping,
trap classification, and GuestCall's handling of traps (on tiny hand-written components)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import wasmtime
import wasmtime.component as wc

from harness.cli.exits import exit_code_for
from harness.errors import HarnessError
from harness.runtime.cache import cache_key_path
from harness.runtime.engine import (
    WASMTIME_VERSION,
    GuestCall,
    Runtime,
    field,
    link_seams,
    record,
    unwrap_result,
)
from harness.runtime.limits import EPOCH_TICK_MS, WASM_PAGE, Limits, deadline_ticks
from harness.runtime.traps import (
    DeadlineExceeded,
    GuestError,
    GuestTrap,
    HostCallFailed,
    InstanceLimitExceeded,
    InstantiationError,
    MemoryLimitExceeded,
    OutOfFuel,
    ResourceLimitExceeded,
    RuntimeLoadError,
    TableLimitExceeded,
    classify_trap,
)
from harness.seams.clock import VirtualClock
from harness.seams.counters import CountingClock, SeamCounters
from harness.wit import CLOCK

# A component exporting an instance "probe" with a function that traps (`unreachable`),
# one that loops forever, and one that returns 7.
PROBE_WAT = """
(component
  (core module $m
    (func (export "boom") unreachable)
    (func (export "spin") (loop $forever (br $forever)))
    (func (export "seven") (result i32) i32.const 7))
  (core instance $i (instantiate $m))
  (func $boom (canon lift (core func $i "boom")))
  (func $spin (canon lift (core func $i "spin")))
  (func $seven (result u32) (canon lift (core func $i "seven")))
  (instance $api
    (export "boom" (func $boom))
    (export "spin" (func $spin))
    (export "seven" (func $seven)))
  (export "probe" (instance $api)))
"""

# A component that imports the clock seam and exports "probe.read", which returns now-ms.
CLOCK_WAT = f"""
(component
  (import "{CLOCK}" (instance $clock (export "now-ms" (func (result u64)))))
  (core func $now (canon lower (func $clock "now-ms")))
  (core module $m
    (import "host" "now" (func $now (result i64)))
    (func (export "read") (result i64) call $now))
  (core instance $host (export "now" (func $now)))
  (core instance $i (instantiate $m (with "host" (instance $host))))
  (func $read (result u64) (canon lift (core func $i "read")))
  (instance $api (export "read" (func $read)))
  (export "probe" (instance $api)))
"""


@pytest.fixture(scope="module")
def probe_bytes() -> bytes:
    return bytes(wasmtime.wat2wasm(PROBE_WAT))


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime(tmp_path / "cache", cache_key_file=tmp_path / "config" / "cache.key")
    yield rt
    rt.close()


def _guest(runtime: Runtime, data: bytes, limits: Limits | None = None) -> GuestCall:
    component = runtime.load_bytes(data, name="probe.wasm")
    store = runtime.new_store(limits or Limits())
    instance = wc.Linker(runtime.engine).instantiate(store, component)
    return GuestCall(store, instance, "probe component")


# --------------------------------------------------------------------------- cache


def test_second_load_is_a_cache_hit(runtime: Runtime, probe_bytes: bytes, tmp_path: Path) -> None:
    runtime.load_bytes(probe_bytes)
    assert runtime.cache_hits == 0
    entries = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(entries) == 2
    assert entries[0].endswith(f"-wasmtime{WASMTIME_VERSION}-fuel-epochs.cwasm")
    assert entries[1] == entries[0] + ".tag"
    runtime.load_bytes(probe_bytes)
    assert runtime.cache_hits == 1
    # The cache outlives the runtime: a new engine on the same directory hits it too.
    other = Runtime(tmp_path / "cache", cache_key_file=tmp_path / "config" / "cache.key")
    other.load_bytes(probe_bytes)
    assert other.cache_hits == 1


def test_cached_component_still_works(runtime: Runtime, probe_bytes: bytes) -> None:
    runtime.load_bytes(probe_bytes)
    guest = _guest(runtime, probe_bytes)
    assert runtime.cache_hits == 1
    assert guest.call("probe", "seven") == 7


def test_no_cache_dir_never_hits(probe_bytes: bytes) -> None:
    runtime = Runtime(None)
    runtime.load_bytes(probe_bytes)
    runtime.load_bytes(probe_bytes)
    assert runtime.cache_hits == 0


def test_corrupt_cache_entry_is_recompiled(
    runtime: Runtime, probe_bytes: bytes, tmp_path: Path
) -> None:
    runtime.load_bytes(probe_bytes)
    (entry,) = (tmp_path / "cache").glob("*.cwasm")
    entry.write_bytes(b"not a compiled artifact")
    guest = _guest(runtime, probe_bytes)
    assert runtime.cache_hits == 0 and runtime.cache_rejected == 1
    assert guest.call("probe", "seven") == 7
    runtime.load_bytes(probe_bytes)  # the entry was rewritten and is good again
    assert runtime.cache_hits == 1


WASI_PROBE_WAT = """
(component
  (import "wasi:filesystem/types@0.2.0" (instance))
  (import "wasi:sockets/tcp@0.2.0" (instance)))
"""


@pytest.mark.parametrize("with_its_tag", [False, True])
def test_finding_1_a_swapped_compiled_artifact_is_never_deserialized(
    runtime: Runtime, probe_bytes: bytes, tmp_path: Path, with_its_tag: bool
) -> None:
    # An attacker who can write the cache swaps the probe's compiled artifact for the
    # compiled form of a component importing WASI filesystem and sockets (and, in the
    # second case, brings along that artifact's own genuine tag).
    warnings: list[str] = []
    rt = Runtime(
        tmp_path / "cache", cache_key_file=tmp_path / "config" / "cache.key", warn=warnings.append
    )
    rt.load_bytes(probe_bytes)
    evil = bytes(wasmtime.wat2wasm(WASI_PROBE_WAT))
    rt.load_bytes(evil)
    cache = rt.cache
    assert cache is not None
    probe_sha = hashlib.sha256(probe_bytes).hexdigest()
    evil_sha = hashlib.sha256(evil).hexdigest()
    target, source = cache.artifact_path(probe_sha), cache.artifact_path(evil_sha)
    target.write_bytes(source.read_bytes())
    if with_its_tag:
        tag = source.with_name(source.name + ".tag")
        target.with_name(target.name + ".tag").write_bytes(tag.read_bytes())
    loaded = rt.load_bytes(probe_bytes)
    assert list(loaded.type.imports(rt.engine)) == []  # the probe itself, recompiled
    assert rt.cache_rejected == 1
    assert any("discarded the cached compiled artifact" in w for w in warnings)


def test_the_cache_key_is_private_and_outside_the_cache(tmp_path: Path) -> None:
    key_file = tmp_path / "config" / "cache.key"
    rt = Runtime(tmp_path / "cache", cache_key_file=key_file)
    assert rt.cache is not None and rt.cache.enabled
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert not any(p.name == "cache.key" for p in (tmp_path / "cache").rglob("*"))
    key_file.chmod(0o644)  # readable by others: the cache is not used at all
    loose = Runtime(tmp_path / "cache", cache_key_file=key_file)
    assert loose.cache is not None and not loose.cache.enabled


def test_the_default_cache_key_lives_in_the_users_config_directory(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert cache_key_path(env) == tmp_path / "xdg" / "matter-harness" / "cache.key"


@pytest.mark.slow
def test_core_component_second_load_hits_cache(shared_runtime: Runtime, core_path: Path) -> None:
    shared_runtime.load(core_path)
    before = shared_runtime.cache_hits
    started = time.perf_counter()
    shared_runtime.load(core_path)
    assert shared_runtime.cache_hits == before + 1
    assert time.perf_counter() - started < 5.0


# --------------------------------------------------------------------------- load errors


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda d: d[: len(d) // 2], id="truncated"),
        pytest.param(lambda d: d[:8] + b"\xff" * (len(d) - 8), id="body-overwritten"),
        pytest.param(lambda d: b"\x00asm\x0d\x00\x01\x00garbage", id="garbage"),
        pytest.param(lambda d: b"", id="empty"),
    ],
)
def test_corrupt_component_is_a_clear_load_error(
    runtime: Runtime, probe_bytes: bytes, mangle: object
) -> None:
    data = mangle(probe_bytes)  # type: ignore[operator]
    with pytest.raises(RuntimeLoadError) as info:
        runtime.load_bytes(data, name="probe.wasm")
    message = str(info.value)
    assert message.startswith("probe.wasm is not a valid component: ")
    assert "\n" not in message
    assert isinstance(info.value, HarnessError)


def test_missing_component_file(runtime: Runtime, tmp_path: Path) -> None:
    with pytest.raises(RuntimeLoadError, match=r"cannot read component .*missing\.wasm"):
        runtime.load(tmp_path / "missing.wasm")


# --------------------------------------------------------------------------- results


def _core_error(kind: str = "crypto", message: str = "bad MIC") -> wc.Record:
    value = wc.Record()
    for name, item in (
        ("kind", kind),
        ("message", message),
        ("general-code", 1),
        ("protocol-code", 2),
    ):
        setattr(value, name, item)
    return value


def test_unwrap_tagged_ok() -> None:
    assert unwrap_result(wc.Variant("ok", b"\x01")) == b"\x01"
    assert unwrap_result(wc.Variant("ok", None)) is None


def test_unwrap_tagged_err() -> None:
    with pytest.raises(GuestError) as info:
        unwrap_result(wc.Variant("err", _core_error("decode", "short header")))
    error = info.value
    assert (error.kind, error.guest_message) == ("decode", "short header")
    assert (error.general_code, error.protocol_code) == (1, 2)
    assert str(error) == "decode: short header"


def test_unwrap_tagged_err_with_unknown_payload() -> None:
    with pytest.raises(GuestError) as info:
        unwrap_result(wc.Variant("err", "text"))
    assert info.value.kind == "internal"
    assert "'text'" in info.value.guest_message


def test_unwrap_untagged_values() -> None:
    assert unwrap_result(42) == 42
    assert unwrap_result(None) is None
    assert unwrap_result((b"a", b"b")) == (b"a", b"b")
    other = wc.Record()
    other.kind = "not an error: no message or codes"  # type: ignore[attr-defined]
    assert unwrap_result(other) is other
    some = wc.Variant("some", 1)
    assert unwrap_result(some) is some


def test_unwrap_untagged_core_error() -> None:
    with pytest.raises(GuestError, match="wrong-state: no session"):
        unwrap_result(_core_error("wrong-state", "no session"))


# --------------------------------------------------------------------------- traps


@pytest.mark.parametrize(
    ("message", "cause"),
    [
        (
            "error while executing at wasm backtrace:\nCaused by:\n    all fuel consumed",
            "out-of-fuel",
        ),
        ("wasm trap: out of fuel", "out-of-fuel"),
        ("wasm trap: interrupt", "deadline-exceeded"),
        ("epoch deadline reached", "deadline-exceeded"),
        # wasmtime's texts when a store limit refuses an instantiation ...
        ("memory minimum size of 201 pages exceeds memory limits", "memory-limit-exceeded"),
        ("table minimum size of 118 elements exceeds table limits", "table-limit-exceeded"),
        ("resource limit exceeded: instance count too high at 39", "instance-limit-exceeded"),
        # ... and StoreLimitsBuilder::trap_on_grow_failure's, should wasmtime-py expose it.
        ("forcing trap when growing memory to 33619968 bytes", "memory-limit-exceeded"),
        ("forcing trap when growing table to 17408 elements", "table-limit-exceeded"),
        ("cannot enter component instance", "instance-poisoned"),
        # Without the limits in force, a fault is not attributed to a limit.
        (
            "Caused by:\n 0: memory fault at wasm address 0xffff0000 in linear memory of"
            " size 0x2000000\n 1: wasm trap: out of bounds memory access",
            "trap",
        ),
        ("wasm trap: undefined element: out of bounds table access", "trap"),
        ("wasm trap: wasm `unreachable` instruction executed", "guest-panic"),
        ("wasm trap: integer divide by zero", "trap"),
        ("", "trap"),
    ],
)
def test_classify_trap(message: str, cause: str) -> None:
    trap = classify_trap(message, "core (commissioner)")
    assert trap.cause == cause
    assert str(trap).startswith(f"core (commissioner) trapped ({cause}): ")
    assert isinstance(trap, ResourceLimitExceeded) == cause.endswith(
        ("-limit-exceeded", "out-of-fuel", "deadline-exceeded")
    )


@pytest.mark.parametrize(
    ("message", "kind", "limit"),
    [
        ("all fuel consumed by WebAssembly", OutOfFuel, "fuel"),
        ("wasm trap: interrupt", DeadlineExceeded, "deadline"),
        ("memory minimum size of 2 pages exceeds memory limits", MemoryLimitExceeded, "memory"),
        ("table minimum size of 2 elements exceeds table limits", TableLimitExceeded, "table"),
        ("instance count too high at 3", InstanceLimitExceeded, "instances"),
    ],
)
def test_classify_trap_gives_typed_errors_with_their_bound(
    message: str, kind: type[ResourceLimitExceeded], limit: str
) -> None:
    limits = Limits(fuel=11, memory_bytes=22, table_elements=33, instances=44, deadline_ms=55)
    trap = classify_trap(message, "g", limits)
    assert type(trap) is kind and isinstance(trap, GuestTrap)
    assert (trap.limit, trap.inferred) == (limit, False)
    assert (
        trap.bound
        == {"fuel": 11, "memory": 22, "table": 33, "instances": 44, "deadline": 55}[limit]
    )
    unknown = classify_trap(message, "g")  # limits unknown
    assert isinstance(unknown, kind) and unknown.bound is None


MEMORY_FAULT = (
    "error while executing at wasm backtrace:\n    0:     0x5c - m!<wasm function 0>\n\n"
    "Caused by:\n    0: memory fault at wasm address 0xffff0000 in linear memory of size {size}\n"
    "    1: wasm trap: out of bounds memory access\n"
)


def test_memory_fault_at_the_limit_is_an_inferred_memory_limit() -> None:
    limits = Limits(memory_bytes=32 * WASM_PAGE + 100)  # room for no further whole page
    trap = classify_trap(MEMORY_FAULT.format(size=hex(32 * WASM_PAGE)), "g", limits)
    assert isinstance(trap, MemoryLimitExceeded)
    assert trap.inferred and trap.bound == limits.memory_bytes
    assert "inferred" in str(trap) and "memory.grow was refused" in str(trap)
    assert "linear memory of size 0x200000; wasm trap: out of bounds memory access" in str(trap)


def test_memory_fault_with_room_left_is_an_ordinary_trap() -> None:
    limits = Limits(memory_bytes=33 * WASM_PAGE)  # one more page would still have fitted
    trap = classify_trap(MEMORY_FAULT.format(size=hex(32 * WASM_PAGE)), "g", limits)
    assert type(trap) is GuestTrap and trap.cause == "trap"
    unlimited = classify_trap(MEMORY_FAULT.format(size="0x10000"), "g", Limits(memory_bytes=None))
    assert type(unlimited) is GuestTrap


def test_table_out_of_bounds_under_a_table_limit_is_an_inferred_table_limit() -> None:
    text = "wasm trap: undefined element: out of bounds table access"
    trap = classify_trap(text, "g", Limits(table_elements=64))
    assert isinstance(trap, TableLimitExceeded) and trap.inferred and trap.bound == 64
    assert type(classify_trap(text, "g", Limits(table_elements=None))) is GuestTrap


def test_classify_trap_summarises_the_cause_line() -> None:
    trap = classify_trap("error while executing\nbacktrace...\nCaused by:\n  wasm trap: x\n", "g")
    assert str(trap) == "g trapped (trap): wasm trap: x"
    assert str(classify_trap("", "g")).endswith("no message")


def test_guest_call_after_trap_is_refused(runtime: Runtime, probe_bytes: bytes) -> None:
    guest = _guest(runtime, probe_bytes)
    assert guest.call("probe", "seven") == 7
    with pytest.raises(GuestTrap) as info:
        guest.call("probe", "boom")
    assert info.value.cause == "guest-panic"
    assert "unreachable" in str(info.value)
    assert guest.dead is info.value
    with pytest.raises(GuestTrap, match="cannot be entered again") as again:
        guest.call("probe", "seven")
    assert again.value.cause == "guest-panic"


def test_guest_call_out_of_fuel(runtime: Runtime, probe_bytes: bytes) -> None:
    guest = _guest(runtime, probe_bytes, Limits(fuel=100_000))
    with pytest.raises(OutOfFuel) as info:
        guest.call("probe", "spin")
    assert info.value.cause == "out-of-fuel"
    assert info.value.bound == 100_000
    assert guest.fuel_consumed(100_000) == 100_000
    # Entering again is refused with the same type, so `except OutOfFuel` still holds.
    with pytest.raises(OutOfFuel, match="cannot be entered again"):
        guest.call("probe", "seven")


def test_guest_call_deadline(runtime: Runtime, probe_bytes: bytes) -> None:
    guest = _guest(runtime, probe_bytes, Limits(fuel=None, deadline_ms=50))
    started = time.perf_counter()
    with pytest.raises(DeadlineExceeded) as info:
        guest.call("probe", "spin")
    assert info.value.cause == "deadline-exceeded"
    assert info.value.bound == 50
    elapsed = time.perf_counter() - started
    assert 0.05 <= elapsed < 5.0


def test_deadline_is_per_call_not_per_instance(runtime: Runtime, probe_bytes: bytes) -> None:
    # A long-lived instance (a listening peer) is not stopped for its age: each call
    # gets the whole deadline again.
    guest = _guest(runtime, probe_bytes, Limits(fuel=None, deadline_ms=100))
    assert guest.deadline_ms == 100
    for _ in range(3):
        time.sleep(0.15)
        assert guest.call("probe", "seven") == 7
    with pytest.raises(DeadlineExceeded):
        guest.call("probe", "spin")


def test_guest_call_deadline_can_be_set_per_guest(runtime: Runtime, probe_bytes: bytes) -> None:
    component = runtime.load_bytes(probe_bytes)
    store = runtime.new_store(Limits(fuel=None, deadline_ms=None))
    instance = wc.Linker(runtime.engine).instantiate(store, component)
    guest = GuestCall(store, instance, "probe", deadline_ms=30)
    assert guest.limits is not None and guest.limits.deadline_ms == 30
    with pytest.raises(DeadlineExceeded) as info:
        guest.call("probe", "spin")
    assert info.value.bound == 30


def test_deadline_works_after_the_ticker_was_stopped(runtime: Runtime, probe_bytes: bytes) -> None:
    runtime.close()
    guest = _guest(runtime, probe_bytes, Limits(fuel=None, deadline_ms=30))
    with pytest.raises(DeadlineExceeded):
        guest.call("probe", "spin")


def test_deadline_ticks_never_cut_a_deadline_short() -> None:
    assert deadline_ticks(1) == 2
    assert deadline_ticks(EPOCH_TICK_MS) == 2
    assert deadline_ticks(EPOCH_TICK_MS + 1) == 3
    assert (deadline_ticks(1000) - 1) * EPOCH_TICK_MS >= 1000


@pytest.mark.parametrize(
    ("limits", "kind"),
    [
        (Limits(memory_bytes=0), MemoryLimitExceeded),
        (Limits(table_elements=0), TableLimitExceeded),
        (Limits(instances=0), InstanceLimitExceeded),
    ],
)
def test_instantiate_refused_by_a_limit_is_typed(
    runtime: Runtime, limits: Limits, kind: type[ResourceLimitExceeded]
) -> None:
    wat = (
        "(component (core module $m (memory 1) (table 1 funcref)) (core instance (instantiate $m)))"
    )
    component = runtime.load_bytes(bytes(wasmtime.wat2wasm(wat)))
    store = runtime.new_store(limits)
    with pytest.raises(kind, match=r"^tiny \(instantiation\) trapped \(") as info:
        runtime.instantiate(wc.Linker(runtime.engine), store, component, "tiny")
    assert info.value.bound == 0 and not info.value.inferred
    ok = runtime.instantiate(wc.Linker(runtime.engine), runtime.new_store(Limits()), component, "t")
    assert ok.dead is None and ok.label == "t"


def test_guest_call_missing_export(runtime: Runtime, probe_bytes: bytes) -> None:
    guest = _guest(runtime, probe_bytes)
    with pytest.raises(HarnessError, match="does not export nowhere"):
        guest.call("nowhere", "seven")
    with pytest.raises(HarnessError, match="does not export probe#absent"):
        guest.call("probe", "absent")
    assert guest.dead is None


# --------------------------------------------------------------------------- seams and helpers


def test_link_seams_provides_and_counts_the_clock(runtime: Runtime) -> None:
    component = runtime.load_bytes(bytes(wasmtime.wat2wasm(CLOCK_WAT)))
    clock = VirtualClock(start_ms=41)
    counters = SeamCounters()
    linker = wc.Linker(runtime.engine)
    link_seams(linker, clock=CountingClock(clock, counters))
    store = runtime.new_store(Limits())
    guest = GuestCall(store, linker.instantiate(store, component), "clock probe")
    assert guest.call("probe", "read") == 41
    clock.advance(1)
    assert guest.call("probe", "read") == 42
    assert counters.clock_reads == 2


def test_unlinked_seam_fails_instantiation(runtime: Runtime) -> None:
    component = runtime.load_bytes(bytes(wasmtime.wat2wasm(CLOCK_WAT)))
    store = runtime.new_store(Limits())
    with pytest.raises(wasmtime.WasmtimeError):
        wc.Linker(runtime.engine).instantiate(store, component)
    # Not a limit: Runtime.instantiate says so in a typed error naming the instance and
    # the missing import.
    with pytest.raises(InstantiationError, match=r"cannot instantiate c: .*matter:pase/clock"):
        runtime.instantiate(wc.Linker(runtime.engine), runtime.new_store(Limits()), component, "c")


def test_record_and_field_spell_wit_names() -> None:
    value = record(protocol_id=1, opcode=2)
    assert getattr(value, "protocol-id") == 1
    assert field(value, "protocol_id") == 1
    assert field(value, "opcode") == 2


class _BrokenClock:
    def now_ms(self) -> int:
        raise ValueError("the clock broke")


def test_finding_7_a_failing_host_function_is_a_typed_trap_naming_the_import(
    runtime: Runtime,
) -> None:
    # Before: the host's ValueError escaped GuestCall.call untyped, and the instance was
    # left neither dead nor usable ("instance-poisoned" on the next call).
    component = runtime.load_bytes(bytes(wasmtime.wat2wasm(CLOCK_WAT)))
    guest = runtime.instantiate_with_seams(component, Limits(), "probe", clock=_BrokenClock())
    with pytest.raises(HostCallFailed, match=r"matter:pase/clock@0\.1\.0#now-ms failed") as info:
        guest.call("probe", "read")
    assert info.value.cause == "host-call-failed" and isinstance(info.value.error, ValueError)
    assert guest.dead is info.value
    with pytest.raises(GuestTrap, match=r"trapped earlier \(host-call-failed\)"):
        guest.call("probe", "read")
    assert exit_code_for(info.value) == 1  # a failed run, not a usage error
