"""Tests for harness.seams: the DRBG, the entropy sources, the clocks, the loopback link,
the transcript digest and the fault-injecting transport."""

from __future__ import annotations

import hashlib
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.seams.clock import MonotonicClock, VirtualClock
from harness.seams.counters import CountingClock, CountingEntropy, SeamCounters
from harness.seams.entropy import (
    MAX_ENTROPY_REQUEST,
    RUN_STREAM,
    EntropyExhausted,
    HmacDrbg,
    OsEntropy,
    ScriptedEntropy,
    SeededEntropy,
    seed_material,
)
from harness.seams.faults import FaultyTransport
from harness.seams.loopback import (
    LOOPBACK_QUEUE_LIMIT,
    MAX_DATAGRAM,
    LoopbackLink,
    PacketRecord,
    transcript_digest,
)

# --------------------------------------------------------------------------- HMAC-DRBG

# NIST CAVP DRBG test vectors (drbgtestvectors.zip, HMAC_DRBG.rsp, no reseed):
# [SHA-256] [PredictionResistance = False] [EntropyInputLen = 256] [NonceLen = 128]
# [PersonalizationStringLen = 0 or 256] [AdditionalInputLen = 0] [ReturnedBitsLen = 1024].
# Transcribed from patrickfav/dice src/test/java/at/favre/tools/dice/rnd/
# HmacDrbgSha256NistTestVectors.java (commit 32bf5ee4); COUNT 0 also appears, with the
# same values, in several other public test suites quoting HMAC_DRBG.rsp.
# CAVP semantics: instantiate with entropy || nonce || personalization, Generate twice
# (no additional input), and ReturnedBits is the second output. Cases with additional
# input or reseeding cannot be expressed by HmacDrbg (it has neither), so none are used.
CAVP_NO_RESEED = [
    pytest.param(
        "ca851911349384bffe89de1cbdc46e6831e44d34a4fb935ee285dd14b71a7488",
        "659ba96c601dc69fc902940805ec0ca8",
        "",
        "e528e9abf2dece54d47c7e75e5fe302149f817ea9fb4bee6f4199697d04d5b89"
        "d54fbb978a15b5c443c9ec21036d2460b6f73ebad0dc2aba6e624abf07745bc1"
        "07694bb7547bb0995f70de25d6b29e2d3011bb19d27676c07162c8b5ccde0668"
        "961df86803482cb37ed6d5c0bb8d50cf1f50d476aa0458bdaba806f48be9dcb8",
        id="no-personalization-count0",
    ),
    pytest.param(
        "79737479ba4e7642a221fcfd1b820b134e9e3540a35bb48ffae29c20f5418ea3",
        "3593259c092bef4129bc2c6c9e19f343",
        "",
        "cf5ad5984f9e43917aa9087380dac46e410ddc8a7731859c84e9d0f31bd43655"
        "b924159413e2293b17610f211e09f770f172b8fb693a35b85d3b9e5e63b1dc25"
        "2ac0e115002e9bedfb4b5b6fd43f33b8e0eafb2d072e1a6fee1f159df9b51e6c"
        "8da737e60d5032dd30544ec51558c6f080bdbdab1de8a939e961e06b5f1aca37",
        id="no-personalization-count1",
    ),
    pytest.param(
        "5cacc68165a2e2ee20812f35ec73a79dbf30fd475476ac0c44fc6174cdac2b55",
        "6f885496c1e63af620becd9e71ecb824",
        "e72dd8590d4ed5295515c35ed6199e9d211b8f069b3058caa6670b96ef1208d0",
        "f1012cf543f94533df27fedfbf58e5b79a3dc517a9c402bdbfc9a0c0f721f9d5"
        "3faf4aafdc4b8f7a1b580fcaa52338d4bd95f58966a243cdcd3f446ed4bc546d"
        "9f607b190dd69954450d16cd0e2d6437067d8b44d19a6af7a7cfa8794e5fbd72"
        "8e8fb2f2e8db5dd4ff1aa275f35886098e80ff844886060da8b1e7137846b23b",
        id="personalization-count0",
    ),
    pytest.param(
        "8df013b4d103523073917ddf6a869793059e9943fc8654549e7ab22f7c29f122",
        "da2625af2ddd4abcce3cf4fa4659d84e",
        "b571e66d7c338bc07b76ad3757bb2f9452bf7e07437ae8581ce7bc7c3ac651a9",
        "b91cba4cc84fa25df8610b81b641402768a2097234932e37d590b1154cbd23f9"
        "7452e310e291c45146147f0da2d81761fe90fba64f94419c0f662b28c1ed94da"
        "487bb7e73eec798fbcf981b791d1be4f177a8907aa3c401643a5b62b87b89d66"
        "b3a60e40d4a8e4e9d82af6d2700e6f535cdb51f75c321729103741030ccc3a56",
        id="personalization-count1",
    ),
]


@pytest.mark.parametrize(("entropy", "nonce", "personalization", "returned"), CAVP_NO_RESEED)
def test_hmac_drbg_matches_nist_cavp(
    entropy: str, nonce: str, personalization: str, returned: str
) -> None:
    drbg = HmacDrbg(bytes.fromhex(entropy + nonce), bytes.fromhex(personalization))
    first = drbg.generate(128)
    second = drbg.generate(128)
    assert second.hex() == returned
    assert first != second
    assert drbg.reseed_counter == 3


def test_hmac_drbg_personalization_is_appended_seed_material() -> None:
    # SP 800-90A: seed_material = entropy_input || nonce || personalization_string.
    seed, personalization = b"\x01" * 48, b"role"
    split = HmacDrbg(seed, personalization)
    joined = HmacDrbg(seed + personalization)
    assert split.generate(64) == joined.generate(64)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(min_value=0, max_value=200), extra=st.integers(min_value=0, max_value=64))
def test_hmac_drbg_shorter_request_is_a_prefix(n: int, extra: int) -> None:
    # One Generate call makes whole HMAC blocks and truncates: a shorter request from the
    # same state is a prefix of a longer one.
    assert HmacDrbg(b"seed").generate(n) == HmacDrbg(b"seed").generate(n + extra)[:n]


def test_hmac_drbg_rejects_negative_length() -> None:
    with pytest.raises(ValueError, match="negative"):
        HmacDrbg(b"seed").generate(-1)


def test_seed_material_is_documented_hash() -> None:
    assert seed_material(7) == hashlib.sha256(b"matter-harness seed:7").digest()
    assert seed_material(7) != seed_material(8)


# --------------------------------------------------------------------------- entropy


def _draws(source: SeededEntropy, sizes: list[int]) -> list[bytes]:
    return [source.random_bytes(n) for n in sizes]


SIZES = [32, 4, 1, 0, 65, 1024, 16]


@pytest.mark.parametrize("seed", [0, 7, 2**40])
@pytest.mark.parametrize("role", ["commissioner", "commissionee", "run"])
def test_seeded_entropy_is_deterministic_per_seed_and_role(seed: int, role: str) -> None:
    first = _draws(SeededEntropy(seed, role), SIZES)
    again = _draws(SeededEntropy(seed, role), SIZES)
    assert first == again
    assert [len(d) for d in first] == SIZES


def test_seeded_entropy_separates_roles_and_seeds() -> None:
    streams = {
        (seed, role): SeededEntropy(seed, role).random_bytes(32)
        for seed in (1, 2)
        for role in ("commissioner", "commissionee")
    }
    assert len(set(streams.values())) == 4


def test_seeded_entropy_is_the_documented_drbg() -> None:
    expected = HmacDrbg(seed_material(5), b"commissioner").generate(48)
    assert SeededEntropy(5, "commissioner").random_bytes(48) == expected


def test_counting_entropy_counts_calls_and_bytes_once() -> None:
    counters = SeamCounters()
    source = SeededEntropy(1, "x")
    view = CountingEntropy(source, counters)
    assert _draws(view, [3, 5]) == _draws(SeededEntropy(1, "x"), [3, 5])
    assert (counters.entropy_calls, counters.entropy_bytes) == (2, 8)


def test_two_counting_views_share_one_stream_and_count_apart() -> None:
    # The run's one stream: both roles draw from it in call order, each counted apart.
    source = SeededEntropy(3)
    a, b = SeamCounters(), SeamCounters()
    first, second = CountingEntropy(source, a), CountingEntropy(source, b)
    drawn = [first.random_bytes(4), second.random_bytes(6), first.random_bytes(2)]
    reference = SeededEntropy(3, RUN_STREAM)
    assert drawn == [reference.random_bytes(n) for n in (4, 6, 2)]
    assert (a.entropy_calls, a.entropy_bytes, b.entropy_calls, b.entropy_bytes) == (2, 6, 1, 6)


@pytest.mark.parametrize("n", [0, 1, 32, MAX_ENTROPY_REQUEST])
def test_os_entropy_length(n: int) -> None:
    counters = SeamCounters()
    assert len(CountingEntropy(OsEntropy(), counters).random_bytes(n)) == n
    assert (counters.entropy_calls, counters.entropy_bytes) == (1, n)


def test_os_entropy_is_not_constant() -> None:
    source = OsEntropy()
    assert source.random_bytes(32) != source.random_bytes(32)


@pytest.mark.parametrize("n", [-1, MAX_ENTROPY_REQUEST + 1])
def test_entropy_requests_outside_the_wit_limit_are_refused(n: int) -> None:
    for source in (SeededEntropy(1, "r"), OsEntropy(), ScriptedEntropy([b""])):
        with pytest.raises(ValueError, match="outside"):
            source.random_bytes(n)


def test_scripted_entropy_replays_draws_in_order() -> None:
    counters = SeamCounters()
    source = ScriptedEntropy([b"ab", b"cde"])
    view = CountingEntropy(source, counters)
    assert source.remaining == 2
    assert view.random_bytes(2) == b"ab"
    assert view.random_bytes(3) == b"cde"
    assert source.remaining == 0
    assert (counters.entropy_calls, counters.entropy_bytes) == (2, 5)


def test_scripted_entropy_exhausted() -> None:
    source = ScriptedEntropy([])
    with pytest.raises(EntropyExhausted, match="no draw left for 4 bytes"):
        source.random_bytes(4)


def test_scripted_entropy_length_mismatch() -> None:
    source = ScriptedEntropy([b"abc"])
    with pytest.raises(EntropyExhausted, match="has 3 bytes, the core asked for 4"):
        source.random_bytes(4)


# --------------------------------------------------------------------------- clocks


def test_counting_clock_counts_reads_but_not_peeks() -> None:
    clock = VirtualClock(start_ms=10)
    counters = SeamCounters()
    view = CountingClock(clock, counters)
    assert view.now_ms() == 10
    assert clock.peek() == 10 and clock.now_ms() == 10
    assert counters.clock_reads == 1


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["advance", "advance_to", "read"]), st.integers(0, 10_000)),
        max_size=30,
    )
)
def test_virtual_clock_is_monotonic(ops: list[tuple[str, int]]) -> None:
    clock = VirtualClock()
    last = clock.now_ms()
    for op, value in ops:
        if op == "advance":
            clock.advance(value)
        elif op == "advance_to":
            clock.advance_to(value)
        now = clock.now_ms()
        assert now >= last
        last = now


def test_virtual_clock_refuses_to_go_back() -> None:
    clock = VirtualClock(start_ms=100)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    clock.advance_to(50)
    assert clock.peek() == 100


def test_monotonic_clock_is_non_decreasing_and_waits() -> None:
    clock = MonotonicClock()
    counters = SeamCounters()
    view = CountingClock(clock, counters)
    readings = [view.now_ms() for _ in range(100)]
    assert readings == sorted(readings)
    assert counters.clock_reads == 100
    started = time.monotonic()
    clock.advance_to(clock.peek() + 20)
    assert time.monotonic() - started >= 0.015


# --------------------------------------------------------------------------- loopback


def test_loopback_delivers_in_order_with_trace() -> None:
    clock = VirtualClock(start_ms=5)
    link = LoopbackLink(clock=clock)
    a = link.endpoint("commissioner")
    b = link.endpoint("commissionee")
    assert a.send(b"one")
    clock.advance(3)
    assert a.send(b"two")
    assert b.send(b"back")
    assert link.pending() == 3
    assert b.receive() == b"one"
    assert b.receive() == b"two"
    assert b.receive() is None
    assert a.receive() == b"back"
    assert link.trace == [
        PacketRecord("commissioner->commissionee", 5, b"one"),
        PacketRecord("commissioner->commissionee", 8, b"two"),
        PacketRecord("commissionee->commissioner", 8, b"back"),
    ]
    assert (a.counters.transport_sends, a.counters.transport_send_bytes) == (2, 6)
    assert (b.counters.transport_receives, b.counters.transport_receive_bytes) == (2, 6)
    assert b.counters.transport_empty_receives == 1


def test_loopback_queue_limit_drops_and_counts() -> None:
    link = LoopbackLink(queue_limit=3)
    a = link.endpoint("commissioner")
    assert [a.send(bytes([i])) for i in range(5)] == [True, True, True, False, False]
    assert link.dropped == 2
    assert len(link.trace) == 3
    assert a.counters.transport_sends == 5  # refused sends still crossed the seam
    assert link.endpoint("commissionee").receive() == b"\x00"
    assert a.send(b"\x09")  # room again after a take


def test_loopback_default_queue_limit() -> None:
    link = LoopbackLink()
    a = link.endpoint("commissioner")
    accepted = sum(a.send(b"x") for _ in range(LOOPBACK_QUEUE_LIMIT + 1))
    assert accepted == LOOPBACK_QUEUE_LIMIT
    assert link.dropped == 1


def test_loopback_refuses_oversized_datagram() -> None:
    link = LoopbackLink()
    a = link.endpoint("commissioner")
    assert a.send(bytes(MAX_DATAGRAM))
    assert not a.send(bytes(MAX_DATAGRAM + 1))
    assert link.dropped == 1
    assert [len(p.data) for p in link.trace] == [MAX_DATAGRAM]


def test_loopback_inject_bypasses_trace() -> None:
    link = LoopbackLink()
    link.inject("commissionee", b"forged")
    assert link.trace == []
    assert link.endpoint("commissionee").receive() == b"forged"


def test_loopback_unknown_endpoint() -> None:
    with pytest.raises(ValueError, match="unknown endpoint 'mallory'"):
        LoopbackLink().endpoint("mallory")


def test_seam_counters_merge_and_dict() -> None:
    a = SeamCounters(clock_reads=1, entropy_bytes=4)
    b = SeamCounters(clock_reads=2, transport_sends=3)
    merged = a.merged(b)
    assert merged.as_dict()["clock_reads"] == 3
    assert merged.entropy_bytes == 4
    assert merged.transport_sends == 3
    assert set(merged.as_dict()) == set(SeamCounters().__dict__)


# --------------------------------------------------------------------------- transcript


def _frame(direction: int, data: bytes) -> bytes:
    return bytes([direction]) + len(data).to_bytes(4, "little") + data


def test_transcript_digest_framing() -> None:
    trace = [
        PacketRecord("commissioner->commissionee", 0, b"\x01\x02"),
        PacketRecord("commissionee->commissioner", 1, b""),
        PacketRecord("commissioner->commissionee", 2, b"xyz"),
    ]
    expected = hashlib.sha256(_frame(1, b"\x01\x02") + _frame(2, b"") + _frame(1, b"xyz")).digest()
    assert transcript_digest(trace) == expected
    assert transcript_digest([]) == hashlib.sha256().digest()


def test_transcript_digest_length_prefix_separates_splits() -> None:
    def digest(*parts: bytes) -> bytes:
        return transcript_digest([PacketRecord("commissioner->commissionee", 0, p) for p in parts])

    assert digest(b"ab", b"c") != digest(b"a", b"bc")


def test_transcript_digest_initiator_name() -> None:
    trace = [PacketRecord("a->b", 0, b"m"), PacketRecord("b->a", 0, b"n")]
    assert (
        transcript_digest(trace, initiator="a")
        == hashlib.sha256(_frame(1, b"m") + _frame(2, b"n")).digest()
    )
    assert transcript_digest(trace, initiator="b") != transcript_digest(trace, initiator="a")


# --------------------------------------------------------------------------- faults


def _faulty(**kwargs: object) -> tuple[FaultyTransport, LoopbackLink]:
    link = LoopbackLink()
    return FaultyTransport(link.endpoint("commissioner"), **kwargs), link  # type: ignore[arg-type]


def test_faulty_transport_flips_only_chosen_sends() -> None:
    faulty, link = _faulty(fault="flip", on_sends=frozenset({1}), offset=0, mask=0x80)
    for data in (b"\x00a", b"\x00b", b"\x00c"):
        assert faulty.send(data)
    peer = link.endpoint("commissionee")
    assert [peer.receive() for _ in range(3)] == [b"\x00a", b"\x80b", b"\x00c"]
    assert (faulty.sends, faulty.faults_applied) == (3, 1)


def test_faulty_transport_truncates_and_drops() -> None:
    cut, link = _faulty(fault="truncate", keep=2)
    assert cut.send(b"abcdef")
    assert cut.send(b"a")  # already short: passed on whole, not a fault
    assert [p.data for p in link.trace] == [b"ab", b"a"]
    assert cut.faults_applied == 1
    lost, link = _faulty(fault="drop")
    assert lost.send(b"gone")
    assert link.trace == [] and lost.faults_applied == 1


def test_faulty_transport_receive_passes_through() -> None:
    faulty, link = _faulty()
    link.endpoint("commissionee").send(b"reply")
    assert faulty.receive() == b"reply"
    assert faulty.receive() is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"fault": "melt"}, "unknown fault"), ({"mask": 0}, "mask"), ({"keep": -1}, "negative")],
)
def test_faulty_transport_rejects_bad_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _faulty(**kwargs)
