"""Tests for harness.sandbox: each runaway guest is stopped by its limit with its typed
error, the trapped instance stays dead, and the host goes on to run a real handshake."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import wasmtime
import wasmtime.component as wc

from harness.drive.config import RunConfig
from harness.drive.placements import Seams, run_component
from harness.runtime import runaway as sandbox
from harness.runtime.engine import Runtime, link_seams
from harness.runtime.limits import WASM_PAGE, Limits
from harness.runtime.runaway import (
    KINDS,
    RUNAWAY_INTERFACE,
    SandboxError,
    run_runaway,
    runaway_component,
    runaway_limits,
)
from harness.runtime.traps import (
    DeadlineExceeded,
    GuestTrap,
    InstanceLimitExceeded,
    MemoryBudgetExceeded,
    MemoryLimitExceeded,
    OutOfFuel,
    TableLimitExceeded,
)
from harness.wit import ROLES

#: Small limits, so every runaway in the fast tests stops within a fraction of a second.
SMALL = Limits(
    fuel=50_000_000,
    memory_bytes=2 * 1024 * 1024,
    table_elements=4096,
    instances=8,
    deadline_ms=200,
)


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    rt = Runtime(None)
    yield rt
    rt.close()


# --------------------------------------------------------------------------- runaways


def test_spinning_guest_is_stopped_by_fuel(runtime: Runtime) -> None:
    outcome = run_runaway(runtime, "fuel", runaway_limits("fuel", SMALL))
    assert isinstance(outcome.error, OutOfFuel)
    assert outcome.error.bound == SMALL.fuel and not outcome.error.inferred
    assert outcome.fuel_used == SMALL.fuel
    assert outcome.limits.deadline_ms is None  # only fuel could have stopped it
    assert outcome.stopped


def test_spinning_guest_is_stopped_by_the_deadline(runtime: Runtime) -> None:
    outcome = run_runaway(runtime, "deadline", runaway_limits("deadline", SMALL))
    assert isinstance(outcome.error, DeadlineExceeded)
    assert outcome.error.bound == SMALL.deadline_ms
    assert outcome.limits.fuel is None  # only the deadline could have stopped it
    assert 0.2 <= outcome.seconds < 5.0
    assert outcome.fuel_used is None  # wasmtime does not write back a trapped call's fuel
    assert outcome.stopped


def test_allocating_guest_is_stopped_by_the_memory_limit(runtime: Runtime) -> None:
    outcome = run_runaway(runtime, "memory", SMALL)
    error = outcome.error
    assert isinstance(error, MemoryLimitExceeded)
    assert error.inferred and error.bound == SMALL.memory_bytes
    assert f"in linear memory of size {hex(2 * 1024 * 1024)}" in str(error)
    assert outcome.stopped


def test_memory_limit_between_pages(runtime: Runtime) -> None:
    limits = replace(SMALL, memory_bytes=5 * WASM_PAGE + 123)
    outcome = run_runaway(runtime, "memory", limits)
    assert isinstance(outcome.error, MemoryLimitExceeded)
    assert f"in linear memory of size {hex(5 * WASM_PAGE)}" in str(outcome.error)


def test_table_growing_guest_is_stopped_by_the_table_limit(runtime: Runtime) -> None:
    outcome = run_runaway(runtime, "table", SMALL)
    assert isinstance(outcome.error, TableLimitExceeded)
    assert outcome.error.inferred and outcome.error.bound == SMALL.table_elements
    assert outcome.stopped


def test_too_many_instances_are_refused(runtime: Runtime) -> None:
    outcome = run_runaway(runtime, "instances", SMALL)
    assert isinstance(outcome.error, InstanceLimitExceeded)
    assert "instance count too high at 9" in str(outcome.error)
    assert outcome.guest_refused_reentry is None  # there never was an instance
    assert outcome.stopped


def test_default_limits_stop_the_quick_runaways(runtime: Runtime) -> None:
    for kind in ("memory", "table", "instances"):
        outcome = run_runaway(runtime, kind)
        assert outcome.limits == Limits()
        assert isinstance(outcome.error, sandbox.EXPECTED[kind]), kind
        assert outcome.error.bound == getattr(Limits(), _FIELD[kind])


_FIELD = {"memory": "memory_bytes", "table": "table_elements", "instances": "instances"}


def test_a_runaway_stopped_by_another_limit_is_not_counted(runtime: Runtime) -> None:
    # No memory limit: the allocating guest runs out of fuel instead, and that is not
    # what the memory check asked for.
    outcome = run_runaway(runtime, "memory", Limits(fuel=3000, memory_bytes=None))
    assert isinstance(outcome.error, OutOfFuel)
    assert not outcome.stopped
    assert outcome.figures()["error"] == "OutOfFuel"
    assert outcome.figures()["expected"] == "MemoryLimitExceeded"


def test_unknown_runaway_kind(runtime: Runtime) -> None:
    with pytest.raises(SandboxError, match="unknown runaway kind 'disk'"):
        run_runaway(runtime, "disk")


def test_runaway_limits_isolate_the_limit_under_test() -> None:
    assert runaway_limits("fuel").deadline_ms is None
    assert runaway_limits("fuel").fuel == Limits().fuel
    assert runaway_limits("deadline").fuel is None
    assert runaway_limits("deadline").deadline_ms == Limits().deadline_ms
    assert runaway_limits("memory") == Limits()
    assert runaway_limits("table", SMALL) == SMALL


@pytest.mark.parametrize("kind", ["fuel", "memory", "table", "deadline"])
def test_trapped_instance_cannot_be_entered_again(runtime: Runtime, kind: str) -> None:
    component = runtime.load_bytes(runaway_component())
    store = runtime.new_store(runaway_limits(kind, SMALL))
    guest = runtime.instantiate(wc.Linker(runtime.engine), store, component, "runaway")
    assert guest.call(RUNAWAY_INTERFACE, "ping") == 1
    export = {"fuel": "spin", "deadline": "spin"}.get(kind, f"grow-{kind}")
    with pytest.raises(sandbox.EXPECTED[kind]) as first:
        guest.call(RUNAWAY_INTERFACE, export)
    with pytest.raises(sandbox.EXPECTED[kind], match="cannot be entered again") as again:
        guest.call(RUNAWAY_INTERFACE, "ping")
    assert again.value.cause == first.value.cause
    # wasmtime refuses too, asked directly past the harness's bookkeeping.
    with pytest.raises(wasmtime.WasmtimeError, match="cannot enter component instance"):
        guest.func(RUNAWAY_INTERFACE, "ping")(store)


def test_outcome_figures_are_plain_data(runtime: Runtime) -> None:
    figures = run_runaway(runtime, "table", SMALL).figures()
    assert figures["error"] == "TableLimitExceeded"
    assert figures["cause"] == "table-limit-exceeded"
    assert figures["limits"] == SMALL.as_dict()
    assert figures["stopped"] is True
    assert figures["guest_refused_reentry"] is True
    assert figures["wasmtime_refused_reentry"] is True


def test_host_survives_every_runaway_in_turn(runtime: Runtime) -> None:
    for kind in KINDS:
        assert run_runaway(runtime, kind, runaway_limits(kind, SMALL)).stopped, kind
    # The same runtime still runs a well-behaved guest.
    component = runtime.load_bytes(runaway_component())
    store = runtime.new_store(SMALL)
    guest = runtime.instantiate(wc.Linker(runtime.engine), store, component, "fresh")
    assert guest.call(RUNAWAY_INTERFACE, "ping") == 1


# --------------------------------------------------------------------------- the real core


@pytest.mark.slow
def test_tiny_fuel_stops_a_real_handshake_cleanly(shared_runtime: Runtime, core_path: Path) -> None:
    with pytest.raises(OutOfFuel) as info:
        run_component(RunConfig(seed=7, limits=Limits(fuel=1_000_000)), shared_runtime, core_path)
    assert info.value.bound == 1_000_000
    assert str(info.value).startswith("core component (")
    assert isinstance(info.value, GuestTrap)
    # The host goes on: the next handshake in this process passes.
    assert run_component(RunConfig(seed=7), shared_runtime, core_path).ok


@pytest.mark.slow
def test_memory_below_the_cores_own_size_is_refused_at_instantiation(
    shared_runtime: Runtime, core_component: wc.Component
) -> None:
    seams = Seams(RunConfig(seed=7))
    linker = wc.Linker(shared_runtime.engine)
    role = ROLES[0]
    link_seams(
        linker,
        transport=seams.transports[role],
        clock=seams.clocks[role],
        entropy=seams.entropy[role],
    )
    store = shared_runtime.new_store(Limits(memory_bytes=1024 * 1024))
    with pytest.raises(MemoryLimitExceeded, match="exceeds memory limits") as info:
        shared_runtime.instantiate(linker, store, core_component, "core")
    assert not info.value.inferred and info.value.bound == 1024 * 1024


@pytest.mark.slow
def test_runaways_then_a_handshake_in_the_same_process(
    shared_runtime: Runtime, core_path: Path
) -> None:
    before = run_component(RunConfig(seed=7), shared_runtime, core_path)
    assert before.ok
    for kind in KINDS:
        assert run_runaway(shared_runtime, kind, runaway_limits(kind, SMALL)).stopped, kind
    after = run_component(RunConfig(seed=7), shared_runtime, core_path)
    assert after.ok
    assert after.transcript_hash == before.transcript_hash


def _hoarder(count: int) -> bytes:
    """A component instantiating ``count`` core modules that each hold one memory page."""
    body = "\n".join("  (core instance (instantiate $m))" for _ in range(count))
    return bytes(wasmtime.wat2wasm(f"(component\n  (core module $m (memory 1))\n{body})"))


def test_finding_5_total_guest_memory_is_bounded_across_instances(runtime: Runtime) -> None:
    # Before: only each memory was limited, so 48 instances reached 1.58 GB of host RSS.
    limits = Limits(memory_bytes=2 * 1024 * 1024, memory_budget_bytes=8 * 1024 * 1024)
    assert limits.memories_allowed() == 4 and limits.memories_allowed(stores=2) == 2
    within = runtime.load_bytes(_hoarder(4))
    runtime.instantiate(wc.Linker(runtime.engine), runtime.new_store(limits), within, "four")
    over = runtime.load_bytes(_hoarder(5))
    with pytest.raises(MemoryBudgetExceeded, match=r"five \(instantiation\) trapped") as info:
        runtime.instantiate(wc.Linker(runtime.engine), runtime.new_store(limits), over, "five")
    assert info.value.bound == 8 * 1024 * 1024 and info.value.limit == "memory-budget"
    # Two stores of one run share the budget: each may hold half of it.
    half = runtime.new_store(limits, stores_in_run=2)
    with pytest.raises(MemoryBudgetExceeded):
        runtime.instantiate(wc.Linker(runtime.engine), half, within, "four of eight")


def test_a_budget_below_one_memory_limit_lowers_each_memory() -> None:
    limits = Limits(memory_bytes=32 * 1024 * 1024, memory_budget_bytes=1024 * 1024)
    assert limits.memory_size() == 1024 * 1024 and limits.memory_size(stores=2) == 512 * 1024
    assert Limits(memory_budget_bytes=None).memory_size() == Limits().memory_bytes
    assert Limits(memory_bytes=None, memory_budget_bytes=None).memory_size() is None
    assert Limits(memory_budget_bytes=None).memories_allowed() is None
