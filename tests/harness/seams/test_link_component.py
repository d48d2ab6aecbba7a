"""The loopback transport component (components/loopback/*.wat) against the host's link.

Its core module's SHA-256, HMAC-SHA256 and HMAC-DRBG are checked against Python's through
test-only exports of the module compiled on its own; the component itself is driven with
random traffic, side by side with the host's :class:`LoopbackLink` and
:class:`LinkFaults`, which it must match datagram for datagram, decision for decision.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterator
from typing import Any

import pytest
import wasmtime
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.build.specs import LOOPBACK
from harness.build.wat_component import compile_text_component
from harness.runtime import Limits, record
from harness.runtime.engine import GuestCall, Runtime
from harness.seams import CountingClock, SeamCounters, VirtualClock
from harness.seams.entropy import HmacDrbg
from harness.seams.linkfaults import FAULT_STREAM, FaultPlan, LinkFaults
from harness.seams.loopback import (
    LOOPBACK_QUEUE_LIMIT,
    MAX_DATAGRAM,
    LoopbackLink,
    transcript_digest,
)
from harness.wit import COMMISSIONEE, COMMISSIONER, LINK_FAULTS, LOOPBACK_STATS, TRANSPORT

ENDPOINT_B = "matter:pase/endpoint-b@0.1.0"
BUF = 917_504  # the module's heap: free for a test to write into


class CoreModule:
    """link.wat compiled as a plain core module, its test exports callable."""

    def __init__(self) -> None:
        self.store = wasmtime.Store()
        text = LOOPBACK.modules[0].read_text(encoding="utf-8")
        module = wasmtime.Module(self.store.engine, bytes(wasmtime.wat2wasm(text)))
        clock = wasmtime.Func(
            self.store, wasmtime.FuncType([], [wasmtime.ValType.i64()]), lambda: 0
        )
        self.exports = wasmtime.Instance(self.store, module, [clock]).exports(self.store)
        memory = self.exports["memory"]
        assert isinstance(memory, wasmtime.Memory)
        self.memory = memory

    def put(self, address: int, data: bytes) -> None:
        self.memory.write(self.store, data, address)

    def get(self, address: int, length: int) -> bytes:
        return bytes(self.memory.read(self.store, address, address + length))

    def call(self, name: str, *args: int) -> Any:
        func = self.exports[name]
        assert isinstance(func, wasmtime.Func)
        return func(self.store, *args)


@pytest.fixture(scope="module")
def core_module() -> CoreModule:
    return CoreModule()


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    runtime = Runtime(None)
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def component(runtime: Runtime) -> Any:
    return runtime.load_bytes(compile_text_component(LOOPBACK), name="loopback")


def instance(
    runtime: Runtime, component: Any, clock: VirtualClock
) -> tuple[GuestCall, SeamCounters]:
    counters = SeamCounters()
    guest = runtime.instantiate_with_seams(
        component, Limits(), "loopback", clock=CountingClock(clock, counters)
    )
    return guest, counters


def plan_record(plan: FaultPlan) -> object:
    return record(
        drop=plan.drop,
        corrupt=plan.corrupt,
        duplicate=plan.duplicate,
        reorder=plan.reorder,
        delay_ms=plan.delay_ms,
    )


# ----------------------------------------------------------------- the module's crypto


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_sha256_is_fips_180_4(core_module: CoreModule, data: bytes) -> None:
    core_module.put(BUF, data)
    core_module.call("test-sha256", BUF, len(data), BUF + 4096)
    assert core_module.get(BUF + 4096, 32) == hashlib.sha256(data).digest()


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=140), st.binary(max_size=200))
def test_hmac_is_rfc_2104_hmac_sha256(core_module: CoreModule, key: bytes, data: bytes) -> None:
    core_module.put(BUF, key)
    core_module.put(BUF + 1024, data)
    core_module.call("test-hmac-sha256", BUF, len(key), BUF + 1024, len(data), BUF + 4096)
    assert core_module.get(BUF + 4096, 32) == hmac.new(key, data, hashlib.sha256).digest()


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=80), st.integers(1, 6))
def test_the_drbg_is_the_hosts_hmac_drbg(core_module: CoreModule, seed: bytes, blocks: int) -> None:
    core_module.put(BUF, seed)
    core_module.call("test-drbg-instantiate", BUF, len(seed))
    host = HmacDrbg(seed, FAULT_STREAM.encode())
    for _ in range(blocks):
        block = core_module.call("test-drbg-generate")
        assert core_module.get(block, 24) == host.generate(24)


# ----------------------------------------------------------------- the component


def test_the_built_component_is_small() -> None:
    # No language runtime inside: kilobytes, where the componentize-py guest was 18 MB.
    assert len(compile_text_component(LOOPBACK)) < 32_000


def test_an_unconfigured_link_queues_counts_and_never_reads_the_clock(
    runtime: Runtime, component: Any
) -> None:
    guest, counters = instance(runtime, component, VirtualClock())
    assert guest.call(TRANSPORT, "receive") is None
    assert guest.call(TRANSPORT, "send", b"one") is True
    assert guest.call(TRANSPORT, "send", b"") is True
    assert guest.call(ENDPOINT_B, "send", b"three") is True
    assert guest.call(ENDPOINT_B, "receive") == b"one"
    assert guest.call(ENDPOINT_B, "receive") == b""
    assert guest.call(ENDPOINT_B, "receive") is None
    assert guest.call(TRANSPORT, "receive") == b"three"
    assert guest.call(TRANSPORT, "send", bytes(MAX_DATAGRAM + 1)) is False
    stats = guest.call(LOOPBACK_STATS, "stats")
    a_to_b, b_to_a = getattr(stats, "a-to-b"), getattr(stats, "b-to-a")
    assert (a_to_b.packets, a_to_b.bytes, b_to_a.packets, b_to_a.bytes) == (2, 3, 1, 5)
    assert stats.dropped == 1
    expected = hashlib.sha256(
        b"\x01\x03\x00\x00\x00one" + b"\x01\x00\x00\x00\x00" + b"\x02\x05\x00\x00\x00three"
    ).digest()
    assert bytes(getattr(stats, "traffic-digest")) == expected
    assert guest.call(LINK_FAULTS, "inject", True, b"x") is False
    assert guest.call(LINK_FAULTS, "next-release-ms") is None
    assert guest.call(LINK_FAULTS, "events") == []
    assert counters.clock_reads == 0


def test_a_queue_holds_at_most_the_limit(runtime: Runtime, component: Any) -> None:
    guest, _ = instance(runtime, component, VirtualClock())
    for i in range(LOOPBACK_QUEUE_LIMIT):
        assert guest.call(TRANSPORT, "send", i.to_bytes(2, "big") * 600) is True
    assert guest.call(TRANSPORT, "send", b"over") is False
    assert guest.call(ENDPOINT_B, "send", b"the other way") is True
    for i in range(LOOPBACK_QUEUE_LIMIT):
        assert guest.call(ENDPOINT_B, "receive") == i.to_bytes(2, "big") * 600
    assert guest.call(ENDPOINT_B, "receive") is None
    assert guest.call(LOOPBACK_STATS, "stats").dropped == 1
    assert guest.dead is None


@pytest.mark.parametrize(
    "rates",
    [
        {"drop": 2.0},
        {"drop": 1.5},
        {"corrupt": -0.1},
        {"duplicate": -3.0},
        {"reorder": math.nan},
        {"corrupt": math.inf},
        {"drop": -math.inf},
        {"duplicate": 1.0000000000000002},
        {"reorder": 123456.789},
    ],
)
def test_a_refused_rate_is_named_as_python_writes_it(
    runtime: Runtime, component: Any, rates: dict[str, float]
) -> None:
    guest, _ = instance(runtime, component, VirtualClock())
    plan = {"drop": 0.0, "corrupt": 0.0, "duplicate": 0.0, "reorder": 0.0, "delay_ms": 0}
    ((name, rate),) = rates.items()
    refusal = guest.call(LINK_FAULTS, "configure", record(**(plan | rates)), b"s")
    assert refusal == f"fault rate {name}={rate} is outside 0..1"
    assert guest.dead is None


@settings(max_examples=40, deadline=None)
@given(
    st.integers(-(10**9), 10**9).map(lambda n: n / 10**6),
    st.floats(min_value=-1e300, max_value=1e300),
)
def test_refused_rates_read_as_repr(
    runtime: Runtime, component: Any, typed: float, anything: float
) -> None:
    # Rates as people type them (up to six decimals) read exactly as Python writes
    # them; any other refused rate still gets the message, its digits approximated.
    guest, _ = instance(runtime, component, VirtualClock())
    for rate in (typed, anything):
        plan = plan_record(FaultPlan())
        plan.drop = rate  # type: ignore[attr-defined]
        refusal = guest.call(LINK_FAULTS, "configure", plan, b"s")
        if 0.0 <= rate <= 1.0:
            assert refusal is None
            return
        if rate is typed:
            assert refusal == f"fault rate drop={rate} is outside 0..1"
        else:
            assert isinstance(refusal, str) and refusal.startswith("fault rate drop=")
            assert refusal.endswith(" is outside 0..1")
            assert float(refusal.removeprefix("fault rate drop=").split()[0]) == pytest.approx(
                rate, rel=1e-12
            )


def test_configure_refuses_a_long_delay_twice_and_after_traffic(
    runtime: Runtime, component: Any
) -> None:
    guest, _ = instance(runtime, component, VirtualClock())
    long = plan_record(FaultPlan())
    setattr(long, "delay-ms", 3_600_001)
    assert guest.call(LINK_FAULTS, "configure", long, b"s") == (
        "fault delay=3600001 ms is outside 0..3600000"
    )
    assert guest.call(LINK_FAULTS, "configure", plan_record(FaultPlan()), b"s") is None
    assert guest.call(LINK_FAULTS, "configure", plan_record(FaultPlan()), b"s") == (
        "the link's faults are already configured"
    )
    other, _ = instance(runtime, component, VirtualClock())
    assert other.call(ENDPOINT_B, "send", b"x") is True
    assert other.call(LINK_FAULTS, "configure", plan_record(FaultPlan()), b"s") == (
        "configure the link's faults before any datagram is sent"
    )


_plans = st.builds(
    FaultPlan,
    drop=st.sampled_from([0.0, 0.2, 0.5, 1.0]),
    duplicate=st.sampled_from([0.0, 0.3, 1.0]),
    reorder=st.sampled_from([0.0, 0.3, 1.0]),
    corrupt=st.sampled_from([0.0, 0.3, 1.0]),
    delay_ms=st.sampled_from([0, 1, 40, 2000]),
)
_ops = st.lists(
    st.tuples(
        st.sampled_from(["send", "send", "inject", "receive", "receive", "wait", "calm"]),
        st.booleans(),
        st.binary(max_size=24),
        st.integers(0, 1500),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.none(), _plans), _ops, st.binary(min_size=1, max_size=40))
def test_the_component_is_the_hosts_link(
    runtime: Runtime,
    component: Any,
    plan: FaultPlan | None,
    ops: list[tuple[str, bool, bytes, int]],
    seed: bytes,
) -> None:
    clock = VirtualClock()
    host = LoopbackLink(clock=clock)
    guest, _ = instance(runtime, component, clock)
    if plan is not None:
        host.faults = LinkFaults(plan, seed)
        assert guest.call(LINK_FAULTS, "configure", plan_record(plan), seed) is None
    ends = {False: (COMMISSIONER, TRANSPORT), True: (COMMISSIONEE, ENDPOINT_B)}
    sides = {name: host.endpoint(name) for name in (COMMISSIONER, COMMISSIONEE)}
    for op, b_side, data, wait in ops:
        name, interface = ends[b_side]
        if op == "send":
            assert guest.call(interface, "send", data) == sides[name].send(data)
        elif op == "receive":
            assert guest.call(interface, "receive") == sides[name].receive()
        elif op == "inject" and plan is not None:
            assert guest.call(LINK_FAULTS, "inject", b_side, data) is True
            host.inject(name, data)
        elif op == "calm":
            guest.call(LINK_FAULTS, "calm")
            host.calm()
        elif op == "wait":
            clock.advance(wait)
        assert guest.call(LINK_FAULTS, "next-release-ms") == host.next_release_ms()
    stats = guest.call(LOOPBACK_STATS, "stats")
    assert bytes(getattr(stats, "traffic-digest")) == transcript_digest(host.trace)
    assert stats.dropped == host.dropped
    counters = guest.call(LINK_FAULTS, "counters")
    events = guest.call(LINK_FAULTS, "events")
    if host.faults is None:
        assert events == []
        return
    assert {k: getattr(counters, k) for k in host.faults.counts.as_dict()} == (
        host.faults.counts.as_dict()
    )
    logged = [(e.index, e.direction, getattr(e, "at-ms"), str(e.kind), e.detail) for e in events]
    assert logged == [(e.index, e.direction, e.at_ms, e.kind, e.detail) for e in host.faults.log]
    assert guest.dead is None
