"""The seeded link fault model: the plan syntax, each fault, determinism.

The loopback component's implementation of the same model (components/loopback/link.wat)
is checked against this one in test_link_component.py."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import HarnessError
from harness.seams.clock import VirtualClock
from harness.seams.entropy import HmacDrbg, seed_material
from harness.seams.linkfaults import (
    DECISION_BYTES,
    FAULT_LOG_LIMIT,
    FAULT_STREAM,
    REORDER_HOLD_MS,
    FaultCounts,
    FaultEvent,
    FaultPlan,
    FaultPlanError,
    FaultyDatagramTransport,
    LinkFaults,
    fault_seed_material,
    parse_fault_plan,
)
from harness.seams.loopback import LoopbackLink

SEED = seed_material(7)


# --------------------------------------------------------------------------- the plan


def test_parse_the_issue_example() -> None:
    plan = parse_fault_plan("drop=0.3,duplicate=0.1,reorder=0.1,delay=40,corrupt=0.05")
    assert plan == FaultPlan(drop=0.3, duplicate=0.1, reorder=0.1, corrupt=0.05, delay_ms=40)
    assert not plan.empty
    assert plan.text() == "drop=0.3,corrupt=0.05,duplicate=0.1,reorder=0.1,delay=40"
    assert parse_fault_plan(plan.text()) == plan


@pytest.mark.parametrize("text", ["", "  ", "drop=0", "delay=0,corrupt=0.0"])
def test_empty_plans(text: str) -> None:
    plan = parse_fault_plan(text)
    assert plan.empty and plan == FaultPlan()
    assert plan.text() == "none"


def test_spaces_and_bounds_are_accepted() -> None:
    assert parse_fault_plan(" drop = 1 , reorder=0 ").drop == 1.0
    assert parse_fault_plan("delay=3600000").delay_ms == 3_600_000
    assert parse_fault_plan("corrupt=1e-3").corrupt == 0.001


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("loss=0.1", "unknown fault 'loss'; known: drop, corrupt, duplicate, reorder, delay"),
        ("drop=0.1,drop=0.2", "fault 'drop' is given twice"),
        ("drop", "fault plan entry 'drop' is not key=value"),
        ("drop=abc", "fault rate drop='abc' is not a number"),
        ("drop=", "fault rate drop='' is not a number"),
        ("drop=1.5", "fault rate drop=1.5 is outside 0..1"),
        ("duplicate=-0.1", "fault rate duplicate=-0.1 is outside 0..1"),
        ("reorder=nan", "fault rate reorder=nan is outside 0..1"),
        ("corrupt=inf", "fault rate corrupt=inf is outside 0..1"),
        ("delay=-5", "fault delay='-5' is not a whole number of ms"),
        ("delay=1.5", "fault delay='1.5' is not a whole number of ms"),
        ("delay=3600001", "fault delay=3600001 ms is outside 0..3600000"),
        ("drop=0.1,,delay=3", "empty entry in fault plan"),
    ],
)
def test_bad_plans_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(FaultPlanError) as info:
        parse_fault_plan(text)
    assert message in info.value.message
    assert isinstance(info.value, HarnessError)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"drop": 1.01},
        {"corrupt": -0.5},
        {"reorder": math.nan},
        {"duplicate": True},
        {"drop": "0.1"},
        {"delay_ms": -1},
        {"delay_ms": 2.5},
        {"delay_ms": 3_600_001},
    ],
)
def test_a_plan_checks_its_own_fields(kwargs: dict[str, object]) -> None:
    with pytest.raises(FaultPlanError):
        FaultPlan(**kwargs)  # type: ignore[arg-type]


def test_thresholds_are_floor_of_rate_times_two_to_the_32() -> None:
    assert FaultPlan(drop=1.0).thresholds()[0] == 2**32
    assert FaultPlan(drop=0.5, corrupt=0.25).thresholds()[:2] == (2**31, 2**30)
    assert FaultPlan().thresholds() == (0, 0, 0, 0)


@settings(max_examples=60, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "drop": st.floats(0, 1),
            "corrupt": st.floats(0, 1),
            "duplicate": st.floats(0, 1),
            "reorder": st.floats(0, 1),
            "delay_ms": st.integers(0, 3_600_000),
        },
    )
)
def test_text_round_trips(fields: dict[str, float]) -> None:
    plan = FaultPlan(**fields)  # type: ignore[arg-type]
    again = parse_fault_plan(plan.text() if not plan.empty else "")
    assert again == plan


def test_seed_material_is_the_runs_or_fresh() -> None:
    assert fault_seed_material(7) == seed_material(7)
    assert fault_seed_material(None) != fault_seed_material(None)
    assert len(fault_seed_material(None)) == 32


# --------------------------------------------------------------------------- the model


def _traffic(model: LinkFaults, sends: int, *, step_ms: int = 1) -> list[tuple[int, bytes]]:
    """Send ``sends`` datagrams alternating direction, one ms apart; everything received,
    as (direction, datagram), draining at the end."""
    received = []
    now = 0
    for i in range(sends):
        model.submit(i % 2, f"datagram {i:04d}".encode(), now)
        for direction in (0, 1):
            received += [(direction, d) for d in model.due(direction, now)]
        now += step_ms
    while (release := model.next_release_ms()) is not None:
        now = max(now, release)
        for direction in (0, 1):
            received += [(direction, d) for d in model.due(direction, now)]
    return received


def test_an_empty_plan_passes_everything_in_order_and_draws_nothing() -> None:
    model = LinkFaults(FaultPlan(), SEED)
    received = _traffic(model, 20)
    assert [d for _dir, d in received] == [f"datagram {i:04d}".encode() for i in range(20)]
    assert model.counts == FaultCounts() and model.log == []
    # Nothing was drawn: the stream still starts where a fresh one does.
    fresh = HmacDrbg(SEED, FAULT_STREAM.encode())
    assert model._drbg.generate(DECISION_BYTES) == fresh.generate(DECISION_BYTES)


def test_the_first_decision_is_read_from_the_documented_stream() -> None:
    block = HmacDrbg(SEED, b"faults").generate(DECISION_BYTES)
    u = [int.from_bytes(block[i : i + 4], "big") for i in range(0, 24, 4)]
    # A drop rate just above / at the first draw decides the first datagram's fate.
    above = LinkFaults(FaultPlan(drop=(u[0] + 1) / 2**32), SEED)
    above.submit(0, b"x", 0)
    assert above.counts.dropped == 1
    at = LinkFaults(FaultPlan(drop=u[0] / 2**32), SEED)
    at.submit(0, b"x", 0)
    assert at.counts.dropped == 0 and at.due(0, 0) == [b"x"]
    # Corruption flips the byte at u2 mod len with 1 + u3 mod 255.
    data = bytes(range(50))
    corrupt = LinkFaults(FaultPlan(corrupt=1.0), SEED)
    corrupt.submit(1, data, 5)
    expected = bytearray(data)
    expected[u[2] % 50] ^= 1 + u[3] % 255
    assert corrupt.due(1, 5) == [bytes(expected)]
    assert corrupt.log == [FaultEvent(0, 1, 5, "corrupted", u[2] % 50)]


def test_drop_everything() -> None:
    model = LinkFaults(FaultPlan(drop=1.0), SEED)
    assert _traffic(model, 10) == []
    assert model.counts.dropped == 10
    assert [e.index for e in model.log] == list(range(10))


def test_duplicate_everything() -> None:
    model = LinkFaults(FaultPlan(duplicate=1.0), SEED)
    received = [d for _dir, d in _traffic(model, 6)]
    assert received == [f"datagram {i // 2:04d}".encode() for i in range(12)]
    assert model.counts.duplicated == 6


def test_corrupt_changes_exactly_one_byte_and_never_an_empty_datagram() -> None:
    model = LinkFaults(FaultPlan(corrupt=1.0), SEED)
    for i in range(40):
        data = bytes([i]) * (i % 7 + 1)
        model.submit(0, data, i)
        (out,) = model.due(0, i)
        assert len(out) == len(data)
        assert sum(a != b for a, b in zip(out, data, strict=True)) == 1
    model.submit(0, b"", 100)
    assert model.due(0, 100) == [b""]
    assert model.counts.corrupted == 40


def test_delay_releases_at_send_time_plus_delay() -> None:
    model = LinkFaults(FaultPlan(delay_ms=40), SEED)
    model.submit(0, b"a", 10)
    assert model.next_release_ms() == 50
    assert model.due(0, 49) == [] and model.pending(0) == 1
    assert model.due(1, 60) == []
    assert model.due(0, 50) == [b"a"]
    assert model.next_release_ms() is None
    assert model.log == [FaultEvent(0, 0, 10, "delayed", 50)]


def test_a_reordered_datagram_comes_after_the_next_one_in_its_direction() -> None:
    model = LinkFaults(FaultPlan(reorder=1.0), SEED)
    model.submit(0, b"first", 0)
    assert model.due(0, 0) == []
    assert model.next_release_ms() == REORDER_HOLD_MS
    model.calm()  # the next datagram passes at once and releases the held one after it
    model.submit(1, b"other way", 1)
    assert model.due(1, 1) == [b"other way"] and model.pending(0) == 1
    model.submit(0, b"second", 2)
    assert model.due(0, 2) == [b"second", b"first"]
    assert model.counts.reordered == 1


def test_a_held_datagram_is_released_after_the_hold_time() -> None:
    model = LinkFaults(FaultPlan(reorder=1.0, delay_ms=7), SEED)
    model.submit(0, b"held", 100)
    assert model.next_release_ms() == 100 + REORDER_HOLD_MS + 7
    assert model.due(0, 100 + REORDER_HOLD_MS) == []
    assert model.due(0, 100 + REORDER_HOLD_MS + 7) == [b"held"]
    assert model.counts.reordered == 1 and model.counts.delayed == 1


def test_an_expired_hold_goes_before_a_later_send() -> None:
    model = LinkFaults(FaultPlan(reorder=1.0), SEED)
    model.submit(0, b"old", 0)
    model.calm()
    model.submit(0, b"new", REORDER_HOLD_MS + 5)
    assert model.due(0, REORDER_HOLD_MS + 5) == [b"old", b"new"]


def test_injection_is_counted_delivered_now_and_draws_nothing() -> None:
    plan = FaultPlan(drop=0.5, duplicate=0.5, corrupt=0.5)
    plain, injected = LinkFaults(plan, SEED), LinkFaults(plan, SEED)
    for i in range(30):
        if i % 3 == 0:
            injected.inject(i % 2, b"stray", i)
        plain.submit(i % 2, bytes([i]) * 8, i)
        injected.submit(i % 2, bytes([i]) * 8, i)
    assert injected.counts.injected == 10
    assert [e for e in injected.log if e.kind != "injected"] == plain.log
    assert [e for e in injected.log if e.kind == "injected"][1] == FaultEvent(
        1, 1, 3, "injected", 5
    )


def test_calm_stops_the_draws() -> None:
    model = LinkFaults(FaultPlan(drop=1.0), SEED)
    model.submit(0, b"lost", 0)
    model.calm()
    model.submit(0, b"kept", 1)
    assert model.due(0, 1) == [b"kept"] and model.counts.dropped == 1


def test_rates_are_rates() -> None:
    model = LinkFaults(FaultPlan(drop=0.3, duplicate=0.1, corrupt=0.05), SEED)
    for i in range(4000):
        model.submit(i % 2, b"0123456789", i)
    counts = model.counts
    assert 1050 <= counts.dropped <= 1350
    # Duplicates and corruption are decided only for datagrams not dropped (~2800).
    assert 200 <= counts.duplicated <= 360
    assert 90 <= counts.corrupted <= 200
    assert sum(counts.as_dict().values()) == len(model.log)


def test_the_log_is_bounded_the_counts_are_not() -> None:
    model = LinkFaults(FaultPlan(drop=1.0), SEED)
    for i in range(FAULT_LOG_LIMIT + 10):
        model.submit(0, b"x", i)
    assert model.counts.dropped == FAULT_LOG_LIMIT + 10
    assert len(model.log) == FAULT_LOG_LIMIT


def test_same_seed_same_decisions_other_seed_others() -> None:
    plan = FaultPlan(drop=0.3, duplicate=0.2, reorder=0.2, corrupt=0.1, delay_ms=3)
    first, again = LinkFaults(plan, SEED), LinkFaults(plan, SEED)
    other = LinkFaults(plan, seed_material(8))
    assert _traffic(first, 200) == _traffic(again, 200)
    assert first.log == again.log and first.counts == again.counts
    _traffic(other, 200)
    assert other.log != first.log


# --------------------------------------------------------------------------- the links


def test_the_loopback_link_applies_the_model_and_traces_what_was_sent() -> None:
    clock = VirtualClock()
    link = LoopbackLink(clock=clock)
    link.faults = LinkFaults(FaultPlan(delay_ms=5, duplicate=1.0), SEED)
    a, b = link.endpoint("commissioner"), link.endpoint("commissionee")
    assert a.send(b"hello")
    assert [p.data for p in link.trace] == [b"hello"]  # once, as sent
    assert b.receive() is None and link.pending() == 2
    assert link.next_release_ms() == 5
    clock.advance_to(5)
    assert (b.receive(), b.receive(), b.receive()) == (b"hello", b"hello", None)
    link.inject("commissioner", b"stray")
    assert a.receive() == b"stray"
    assert link.faults.counts.injected == 1 and len(link.trace) == 1
    with pytest.raises(ValueError, match="unknown endpoint"):
        link.inject("nobody", b"x")


def test_the_loopback_queue_limit_counts_held_datagrams() -> None:
    link = LoopbackLink(clock=VirtualClock(), queue_limit=3)
    link.faults = LinkFaults(FaultPlan(delay_ms=100), SEED)
    a = link.endpoint("commissioner")
    assert [a.send(b"x") for _ in range(4)] == [True, True, True, False]
    assert link.dropped == 1


def test_a_link_without_faults_is_unchanged() -> None:
    link = LoopbackLink(clock=VirtualClock())
    a, b = link.endpoint("commissioner"), link.endpoint("commissionee")
    a.send(b"one")
    link.inject("commissionee", b"two")
    link.calm()
    assert (b.receive(), b.receive()) == (b"one", b"two")
    assert link.next_release_ms() is None


class _Wire:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.incoming: list[bytes] = []

    def send(self, datagram: bytes) -> bool:
        self.sent.append(datagram)
        return True

    def receive(self) -> bytes | None:
        return self.incoming.pop(0) if self.incoming else None


def test_the_datagram_transport_faults_both_ways() -> None:
    clock, wire = VirtualClock(), _Wire()
    layer = FaultyDatagramTransport(wire, LinkFaults(FaultPlan(delay_ms=10), SEED), clock)
    assert layer.send(b"out")
    assert wire.sent == [] and layer.next_release_ms() == 10
    wire.incoming.append(b"in")
    assert layer.receive() is None  # taken off the wire, delayed
    clock.advance_to(10)
    assert layer.receive() == b"in"
    assert wire.sent == [b"out"]
    assert layer.faults.counts.delayed == 2
    assert [e.direction for e in layer.faults.log] == [0, 1]


def test_the_datagram_transport_drops_silently() -> None:
    wire = _Wire()
    layer = FaultyDatagramTransport(wire, LinkFaults(FaultPlan(drop=1.0), SEED), VirtualClock())
    assert layer.send(b"lost") is True
    wire.incoming.append(b"also lost")
    assert layer.receive() is None
    assert wire.sent == [] and layer.faults.counts.dropped == 2


def test_a_fault_plan_error_is_a_harness_error_and_a_value_error() -> None:
    assert issubclass(FaultPlanError, HarnessError) and issubclass(FaultPlanError, ValueError)
