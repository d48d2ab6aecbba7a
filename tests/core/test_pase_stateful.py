"""The PASE roles under hostile input and an unreliable network.

Two kinds of property:

* garbage in: random bytes, truncations and bit flips of real handshake datagrams, fed
  to a session in every state, never raise; the session either ignores them, takes a
  transition the table allows, or fails for good with a :class:`CoreError`;
* a hypothesis rule-based machine that delivers, drops, duplicates and reorders the
  datagrams between the two roles and moves time; every state change must be one the
  transition table allows (or a move to ``FAILED``), and the two roles must agree on
  the transcript once both are established.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from helpers import C2D, D2C, Trace, handshake, make_pair, reframe, state_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from matter_core.errors import CoreError, HandshakeTimeout
from matter_core.message import UnsecuredMessage
from matter_core.pase import (
    MAX_RETRANSMISSIONS,
    TRANSITIONS,
    Commissionee,
    Commissioner,
    Failed,
    PaseSession,
    Role,
    State,
)

SEED = 21
REFERENCE: Trace = handshake(SEED)[2]
"""A loss-free handshake; sessions re-created from SEED replay it byte for byte."""
ALL_DATAGRAMS = [datagram for _, datagram in REFERENCE.sent]

# (role, datagrams fed from the reference run) -> the state that leaves the session in.
STAGES: list[tuple[Role, int, State]] = [
    (Role.COMMISSIONER, 0, State.EXPECT_PBKDF_PARAM_RESPONSE),
    (Role.COMMISSIONER, 1, State.EXPECT_PAKE2),
    # The commissionee sends only the three handshake messages (its acks ride on them).
    # The commissioner also sends standalone acks: of the PBKDFParamResponse, before its
    # PBKDF2 (so it comes before Pake1), and of the success StatusReport, which closes the
    # exchange. Its five datagrams: request, ack, Pake1, Pake3, ack.
    (Role.COMMISSIONER, 2, State.EXPECT_STATUS_REPORT),
    (Role.COMMISSIONER, 3, State.ESTABLISHED),
    (Role.COMMISSIONEE, 0, State.EXPECT_PBKDF_PARAM_REQUEST),
    (Role.COMMISSIONEE, 1, State.EXPECT_PAKE1),
    (Role.COMMISSIONEE, 2, State.EXPECT_PAKE1),
    (Role.COMMISSIONEE, 3, State.EXPECT_PAKE3),
    (Role.COMMISSIONEE, 4, State.ESTABLISHED),
    (Role.COMMISSIONEE, 5, State.ESTABLISHED),
]


def staged(role: Role, fed: int) -> PaseSession:
    """A fresh session of ``role`` that has received the first ``fed`` reference datagrams."""
    commissioner, commissionee = make_pair(SEED)
    session: PaseSession = commissioner if role is Role.COMMISSIONER else commissionee
    incoming = REFERENCE.by(D2C if role is Role.COMMISSIONER else C2D)
    session.datagrams_to_send()
    for datagram in incoming[:fed]:
        session.receive_datagram(datagram, 0)
    session.datagrams_to_send()
    while session.next_event() is not None:
        pass
    return session


def check_step(session: PaseSession, before: State, error_before: CoreError | None) -> None:
    """One call into ``session`` moved it only as the table (or failing) allows."""
    after = session.state
    if after is State.FAILED:
        assert isinstance(session.error, CoreError)
        if before is State.FAILED:
            assert session.error is error_before, "a failed session changed its error"
        return
    assert session.error is None
    assert before is not State.FAILED, "a failed session left FAILED"
    if after is not before:
        allowed = TRANSITIONS.get((session.role, before), {}).values()
        assert after in allowed, f"{session.role.value}: {before.value} -> {after.value}"


def bit_flip(datagram: bytes, position: int) -> bytes:
    """``datagram`` with one bit inverted (position counts bits from the start)."""
    flipped = bytearray(datagram)
    flipped[position // 8 % len(flipped)] ^= 1 << (position % 8)
    return bytes(flipped)


garbage = st.one_of(
    st.binary(max_size=160),
    st.tuples(st.sampled_from(ALL_DATAGRAMS), st.integers(0, 200)).map(lambda t: t[0][: t[1]]),
    st.tuples(st.sampled_from(ALL_DATAGRAMS), st.integers(0, 8 * 200)).map(lambda t: bit_flip(*t)),
    st.sampled_from(ALL_DATAGRAMS),
)


IDS = [f"{r.value}-{n}-{s.value}" for r, n, s in STAGES]


def test_the_reference_run_has_the_expected_datagrams() -> None:
    opcodes = {
        direction: [UnsecuredMessage.decode(d).protocol.opcode for d in REFERENCE.by(direction)]
        for direction in (C2D, D2C)
    }
    assert opcodes == {C2D: [0x20, 0x10, 0x22, 0x24, 0x10], D2C: [0x21, 0x23, 0x40]}


@pytest.mark.parametrize(("role", "fed", "state"), STAGES, ids=IDS)
def test_staging_reaches_each_state(role: Role, fed: int, state: State) -> None:
    assert staged(role, fed).state is state


@pytest.mark.parametrize(("role", "fed", "state"), STAGES, ids=IDS)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs=st.lists(garbage, min_size=1, max_size=3), now=st.integers(0, 1000))
def test_garbage_never_raises_and_only_fails_or_follows_the_table(
    role: Role, fed: int, state: State, inputs: list[bytes], now: int
) -> None:
    session = staged(role, fed)
    assert session.state is state
    for datagram in inputs:
        before, error_before = session.state, session.error
        session.receive_datagram(datagram, now)  # must not raise
        check_step(session, before, error_before)
        session.handle_timer(now)
        check_step(session, session.state, session.error)
    failures = [e for e in iter(session.next_event, None) if isinstance(e, Failed)]
    assert len(failures) == (1 if session.state is State.FAILED else 0)


@pytest.mark.parametrize(("fed", "opcode"), [(2, 0x22), (3, 0x24)], ids=["pake1", "pake3"])
def test_a_failed_session_stays_failed(fed: int, opcode: int) -> None:
    session = staged(Role.COMMISSIONEE, fed)
    # The next handshake message, well formed on the session's exchange, with a payload
    # that does not decode: that (and only that kind of message) fails the session.
    genuine = REFERENCE.by(C2D)[fed]
    assert UnsecuredMessage.decode(genuine).protocol.opcode == opcode
    session.receive_datagram(reframe(genuine, payload=b"\x15\x18"), 0)
    assert session.state is State.FAILED
    error = session.error
    assert isinstance(error, CoreError)
    (report,) = session.datagrams_to_send()  # the failure report, acking the bad message
    message = UnsecuredMessage.decode(report)
    assert message.protocol.opcode == 0x40 and message.protocol.needs_ack
    assert message.protocol.ack_counter == UnsecuredMessage.decode(genuine).header.message_counter
    # Nobody acknowledges our failure report: it is retransmitted, a bounded number of times.
    for now in (0, 10_000, 20_000, 30_000, 40_000, 100_000):
        session.handle_timer(now)
    assert session.datagrams_to_send() == [report] * MAX_RETRANSMISSIONS
    # Everything after the failure, valid or not, is ignored (acknowledged at most).
    for datagram in [*REFERENCE.by(C2D), *ALL_DATAGRAMS]:
        session.receive_datagram(datagram, 0)
    session.handle_timer(200_000)
    assert state_of(session) is State.FAILED
    assert session.error is error
    sent = session.datagrams_to_send()
    assert all(UnsecuredMessage.decode(d).protocol.opcode == 0x10 for d in sent)
    assert session.next_deadline() is None
    assert session.secure is None


def test_one_pairs_failure_leaves_another_pair_alone() -> None:
    alone = handshake(31)
    hurt_c, hurt_d = make_pair(30)
    fine_c, fine_d = make_pair(31)
    fine_trace = Trace()
    # Interleave the two pairs one step at a time; break the first pair after its Pake1.
    for _ in range(10):
        for sender, receiver, direction in ((fine_c, fine_d, C2D), (fine_d, fine_c, D2C)):
            for datagram in sender.datagrams_to_send():
                fine_trace.sent.append((direction, datagram))
                receiver.receive_datagram(datagram, 0)
        for datagram in hurt_c.datagrams_to_send():
            if hurt_d.state is State.EXPECT_PAKE1:
                hurt_d.receive_datagram(bit_flip(datagram, 8 * 40), 0)
            else:
                hurt_d.receive_datagram(datagram, 0)
        for datagram in hurt_d.datagrams_to_send():
            hurt_c.receive_datagram(datagram, 0)
    assert hurt_d.state is State.FAILED
    assert hurt_c.state is State.FAILED
    assert fine_c.state is State.ESTABLISHED and fine_d.state is State.ESTABLISHED
    assert fine_trace.sent == alone[2].sent
    assert fine_c.transcript_hash == alone[0].transcript_hash


# --- the rule-based machine -------------------------------------------------------------


@dataclass
class Flight:
    """A datagram on the wire, and which way it goes."""

    direction: str
    datagram: bytes


class LossyNetwork(RuleBasedStateMachine):
    """Both roles over a network that drops, duplicates and reorders, with moving time."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0
        self.wire: list[Flight] = []
        self.transitions: list[tuple[Role, State, State]] = []
        self.commissioner: Commissioner
        self.commissionee: Commissionee

    @initialize(seed=st.integers(0, 2**32))
    def start(self, seed: int) -> None:
        self.commissioner, self.commissionee = make_pair(seed)
        self.collect()

    # -- plumbing --

    def collect(self) -> None:
        for session, direction in ((self.commissioner, C2D), (self.commissionee, D2C)):
            self.wire.extend(Flight(direction, d) for d in session.datagrams_to_send())

    def receiver(self, flight: Flight) -> PaseSession:
        return self.commissionee if flight.direction == C2D else self.commissioner

    def observe(self, session: PaseSession, before: State, error: CoreError | None) -> None:
        check_step(session, before, error)
        if session.state is not before:
            self.transitions.append((session.role, before, session.state))
        self.collect()

    # -- rules --

    @precondition(lambda self: self.wire)
    @rule(pick=st.integers(0, 2**16))
    def deliver(self, pick: int) -> None:
        flight = self.wire.pop(pick % len(self.wire))
        session = self.receiver(flight)
        before, error = session.state, session.error
        session.receive_datagram(flight.datagram, self.now)
        self.observe(session, before, error)

    @precondition(lambda self: self.wire)
    @rule(pick=st.integers(0, 2**16))
    def drop(self, pick: int) -> None:
        self.wire.pop(pick % len(self.wire))

    @precondition(lambda self: self.wire)
    @rule(pick=st.integers(0, 2**16))
    def duplicate(self, pick: int) -> None:
        self.wire.append(self.wire[pick % len(self.wire)])

    @rule(ms=st.sampled_from([1, 100, 300, 600, 1200, 5000, 30_000, 61_000]))
    def advance_time(self, ms: int) -> None:
        self.now += ms
        for session in (self.commissioner, self.commissionee):
            before, error = session.state, session.error
            session.handle_timer(self.now)
            self.observe(session, before, error)

    # -- invariants --

    @invariant()
    def states_are_known(self) -> None:
        for session in (self.commissioner, self.commissionee):
            known = {State.ESTABLISHED, State.FAILED}
            for (role, state), accepted in TRANSITIONS.items():
                if role is session.role:
                    known |= {state, *accepted.values()}
            assert session.state in known

    @invariant()
    def established_sessions_agree(self) -> None:
        c, d = self.commissioner, self.commissionee
        if c.state is State.ESTABLISHED and d.state is State.ESTABLISHED:
            assert c.transcript_hash == d.transcript_hash
            assert c.peer_session_id == d.local_session_id
            assert d.peer_session_id == c.local_session_id
        if c.state is State.ESTABLISHED:
            # The commissioner only establishes on the commissionee's success report.
            assert d.state is State.ESTABLISHED

    @invariant()
    def a_benign_network_only_times_out(self) -> None:
        # Loss, duplication, reordering and delay are not attacks: the only way a
        # handshake may fail on such a network is running out of time.
        for session in (self.commissioner, self.commissionee):
            if session.state is State.FAILED:
                assert isinstance(session.error, HandshakeTimeout), repr(session.error)

    @invariant()
    def established_is_final(self) -> None:
        for role, before, after in self.transitions:
            assert before is not State.ESTABLISHED, f"{role.value} left ESTABLISHED for {after}"

    def teardown(self) -> None:
        # Liveness: with a perfect network from here on, the handshake ends, and unless
        # the commissioner already gave up, it ends established on both sides.
        if not hasattr(self, "commissioner"):
            return
        for _ in range(200):
            # Each copy on the wire may start a chain of resends, but every chain ends
            # within one handshake's worth of messages: no ping-pong without end.
            for _ in range(10 * len(self.wire) + 10):
                if not self.wire:
                    break
                self.deliver(0)
            assert not self.wire, "the roles keep answering each other without end"
            deadlines = [
                d
                for d in (self.commissioner.next_deadline(), self.commissionee.next_deadline())
                if d is not None
            ]
            if not deadlines:
                break
            self.advance_time(max(min(deadlines) - self.now, 0))
        if self.commissioner.state is not State.FAILED:
            assert self.commissioner.state is State.ESTABLISHED
            assert self.commissionee.state is State.ESTABLISHED
            self.established_sessions_agree()
        self.a_benign_network_only_times_out()
        self.established_is_final()


LossyNetwork.TestCase.settings = settings(max_examples=30, stateful_step_count=20, deadline=None)
TestLossyNetwork = LossyNetwork.TestCase
