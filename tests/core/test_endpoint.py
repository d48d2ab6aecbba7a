"""CoreEndpoint driven through fake transport, clock and entropy objects.

The fakes are the smallest things with the seams' shape: a two-ended in-memory queue
that can drop datagrams, a clock the test moves, and the seeded test entropy.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import pytest
from helpers import ITERATIONS, PASSCODE, SALT, HmacCounterEntropy, verifier_for
from matter_core.endpoint import (
    MAX_DATAGRAMS_PER_POLL,
    MAX_SECURED_BACKLOG,
    CoreEndpoint,
    SessionStatus,
)
from matter_core.errors import (
    ConfirmationError,
    CryptoError,
    HandshakeTimeout,
    LocalProtocolError,
    PeerStatusError,
    WrongStateError,
)
from matter_core.message import (
    MIC_LENGTH,
    MessageHeader,
    ProtocolId,
    SecureChannelOpcode,
    UnsecuredMessage,
)
from matter_core.message import SessionType as WireSessionType
from matter_core.pase import MAX_RETRANSMISSIONS, Role
from matter_core.secure_session import SecureSession
from matter_core.session_events import MAX_EVENTS, EventKind, EventQueue, SessionEvent
from matter_core.tlv import ByteReader

OP = SecureChannelOpcode


class FakeClock:
    """A clock that only moves when the test says so; counts its reads."""

    def __init__(self, start_ms: int = 1_000) -> None:
        self.now = start_ms
        self.reads = 0

    def now_ms(self) -> int:
        """The current fake time."""
        self.reads += 1
        return self.now


class FakeEnd:
    """One end of an in-memory datagram link."""

    def __init__(self, name: str, link: FakeLink) -> None:
        self.name = name
        self.link = link
        self.inbox: deque[bytes] = deque()
        self.sent: list[bytes] = []

    def send(self, datagram: bytes) -> bool:
        """Hand a datagram to the other end, unless the link's filter drops it."""
        self.sent.append(datagram)
        if self.link.drop(self.name, datagram):
            return True  # lost on the way, as on a real network
        self.link.other(self).inbox.append(datagram)
        return True

    def receive(self) -> bytes | None:
        """The next waiting datagram, or None."""
        return self.inbox.popleft() if self.inbox else None


class FakeLink:
    """Two connected ends; ``drop(sender, datagram)`` decides losses."""

    def __init__(self, drop: Callable[[str, bytes], bool] | None = None) -> None:
        self.a = FakeEnd("commissioner", self)
        self.b = FakeEnd("commissionee", self)
        self.drop: Callable[[str, bytes], bool] = drop or (lambda sender, datagram: False)

    def other(self, end: FakeEnd) -> FakeEnd:
        """The end opposite ``end``."""
        return self.b if end is self.a else self.a


def endpoints(
    seed: int = 1, *, drop: Callable[[str, bytes], bool] | None = None
) -> tuple[CoreEndpoint, CoreEndpoint, FakeLink, FakeClock]:
    """A commissioner and a commissionee endpoint sharing one link and one clock."""
    link = FakeLink(drop)
    clock = FakeClock()
    commissioner = CoreEndpoint(link.a, clock, HmacCounterEntropy(seed, "commissioner"))
    commissionee = CoreEndpoint(link.b, clock, HmacCounterEntropy(seed, "commissionee"))
    return commissioner, commissionee, link, clock


def start(
    commissioner: CoreEndpoint, commissionee: CoreEndpoint, *, device_passcode: int = PASSCODE
) -> None:
    """Start both roles (the device first, as in real commissioning)."""
    verifier = verifier_for(device_passcode, SALT, ITERATIONS)
    commissionee.start_commissionee(verifier, SALT, ITERATIONS)
    commissioner.start_commissioner(PASSCODE)


def run(
    commissioner: CoreEndpoint, commissionee: CoreEndpoint, clock: FakeClock, rounds: int = 20
) -> tuple[SessionStatus, SessionStatus]:
    """Poll in turn until both are established or one failed.

    Stops right after the commissioner's poll that establishes it, so its final
    standalone ack is still waiting in the commissionee's inbox.
    """
    b = commissionee.status()
    for _ in range(rounds):
        a = commissioner.poll()
        if (a.established and b.established) or a.failure or b.failure:
            return a, b
        b = commissionee.poll()
        if b.failure:
            return a, b
        clock.now += 1
    raise AssertionError("the handshake did not finish")


def unsecured(datagram: bytes) -> bool:
    """True for a datagram of the unsecured session (session id 0)."""
    return datagram[1:3] == b"\x00\x00"


def opcode(datagram: bytes) -> int:
    """The opcode of an unsecured datagram."""
    return UnsecuredMessage.decode(datagram).protocol.opcode


def test_a_full_handshake_through_the_seams() -> None:
    commissioner, commissionee, link, clock = endpoints()
    start(commissioner, commissionee)
    a, b = run(commissioner, commissionee, clock)

    assert a.role is Role.COMMISSIONER and b.role is Role.COMMISSIONEE
    assert a.state == b.state == "ESTABLISHED"
    assert a.established and b.established
    assert a.failure is None and b.failure is None
    assert a.transcript_hash == b.transcript_hash and len(a.transcript_hash) == 32
    assert a.local_session_id == b.peer_session_id
    assert b.local_session_id == a.peer_session_id
    # The commissioner acks the PBKDFParamResponse alone before its PBKDF2, and the success
    # StatusReport last; every other ack rides on the next handshake message (the
    # commissionee's Pake2 carries the ack of Pake1, as a CHIP device's does).
    assert (a.datagrams_sent, a.datagrams_received) == (5, 3)
    assert (b.datagrams_sent, b.datagrams_received) == (3, 4)  # the final ack still waits
    assert [opcode(d) for d in link.a.sent] == [0x20, 0x10, 0x22, 0x24, 0x10]
    assert [opcode(d) for d in link.b.sent] == [0x21, 0x23, 0x40]
    assert (a.acks_sent, b.acks_sent) == (2, 0)
    assert a.dropped == b.dropped == ()
    assert a.retransmissions == b.retransmissions == 0
    assert clock.reads > 0


def test_seal_and_open_across_the_endpoints() -> None:
    commissioner, commissionee, _, clock = endpoints(2)
    start(commissioner, commissionee)
    run(commissioner, commissionee, clock)

    counter = commissioner.seal(0x0001, 0x02, b"read request")
    # The device has not polled since: the final ack is queued before the secured message.
    opened = commissionee.open()
    assert opened is not None
    assert (opened.protocol_id, opened.opcode, opened.payload) == (1, 2, b"read request")
    assert opened.message_counter == counter
    assert commissionee.open() is None

    back = commissionee.seal(0x0001, 0x05, b"report data")
    reply = commissioner.open()
    assert reply is not None and reply.payload == b"report data"
    assert reply.message_counter == back
    assert commissioner.open() is None


def test_open_hands_unsecured_datagrams_to_the_handshake_first() -> None:
    commissioner, commissionee, link, clock = endpoints(3)
    start(commissioner, commissionee)
    run(commissioner, commissionee, clock)
    # Queued for the device: the commissioner's final standalone ack, then a secured message.
    commissioner.seal(0x0001, 0x02, b"after the ack")
    assert [unsecured(d) for d in link.b.inbox] == [True, False]
    assert opcode(link.b.inbox[0]) == OP.STANDALONE_ACK
    before = commissionee.status()
    assert before.next_deadline_ms is not None  # its StatusReport still awaits that ack

    opened = commissionee.open()

    assert opened is not None and opened.payload == b"after the ack"
    after = commissionee.status()
    assert after.datagrams_received == before.datagrams_received + 1
    assert after.next_deadline_ms is None  # the ack reached the handshake
    assert after.state == "ESTABLISHED"


def test_a_retransmitted_status_report_met_in_open_is_answered() -> None:
    drop_ack = {"on": True}

    def drop(sender: str, datagram: bytes) -> bool:
        return drop_ack["on"] and unsecured(datagram) and opcode(datagram) == OP.STANDALONE_ACK

    commissioner, commissionee, link, clock = endpoints(4, drop=drop)
    start(commissioner, commissionee)
    run(commissioner, commissionee, clock)
    drop_ack["on"] = False
    assert commissionee.status().next_deadline_ms is not None

    clock.now += 10_000
    commissionee.poll()  # retransmits its StatusReport
    assert opcode(link.b.sent[-1]) == OP.STATUS_REPORT
    acks_before = sum(opcode(d) == OP.STANDALONE_ACK for d in link.a.sent)
    assert commissioner.open() is None  # only the unsecured report was waiting
    assert sum(opcode(d) == OP.STANDALONE_ACK for d in link.a.sent) == acks_before + 1
    status = commissionee.poll()
    assert status.next_deadline_ms is None and status.established


def test_calls_before_start_raise_wrong_state() -> None:
    commissioner, _, _, _ = endpoints()
    with pytest.raises(WrongStateError):
        commissioner.poll()
    with pytest.raises(WrongStateError):
        commissioner.status()
    with pytest.raises(WrongStateError):
        commissioner.seal(1, 2, b"x")
    with pytest.raises(WrongStateError):
        commissioner.open()


def test_seal_and_open_before_establishment_raise_wrong_state() -> None:
    commissioner, commissionee, link, _ = endpoints()
    start(commissioner, commissionee)
    for endpoint in (commissioner, commissionee):
        with pytest.raises(WrongStateError, match="no secure session"):
            endpoint.seal(1, 2, b"too early")
        with pytest.raises(WrongStateError):
            endpoint.open()
    assert len(link.a.sent) == 1 and link.b.sent == []  # nothing extra went out
    assert isinstance(WrongStateError("x"), LocalProtocolError)


def test_an_invalid_passcode_leaves_no_session() -> None:
    commissioner, _, link, _ = endpoints()
    with pytest.raises(LocalProtocolError):
        commissioner.start_commissioner(12345678)
    assert link.a.sent == []
    with pytest.raises(WrongStateError):
        commissioner.status()


def test_mismatched_passcodes_report_through_status() -> None:
    commissioner, commissionee, _, clock = endpoints(5)
    start(commissioner, commissionee, device_passcode=20202022)
    a, b = run(commissioner, commissionee, clock)
    b = commissionee.poll()  # take the commissioner's failure report
    assert a.state == b.state == "FAILED"
    assert isinstance(a.failure, ConfirmationError)
    assert isinstance(b.failure, PeerStatusError)
    assert not a.established and not b.established
    with pytest.raises(WrongStateError):
        commissioner.seal(1, 2, b"x")


def test_a_silent_peer_ends_in_a_handshake_timeout() -> None:
    commissioner, _, link, clock = endpoints(6)
    commissioner.start_commissioner(PASSCODE)
    for _ in range(30):
        status = commissioner.poll()
        if status.failure is not None:
            break
        assert status.next_deadline_ms is not None
        clock.now = status.next_deadline_ms
    assert status.state == "FAILED"
    assert isinstance(status.failure, HandshakeTimeout)
    assert len(link.a.sent) == 1 + MAX_RETRANSMISSIONS
    assert len(set(link.a.sent)) == 1  # every copy is the same request
    assert status.next_deadline_ms is None


def test_one_poll_takes_a_bounded_number_of_datagrams() -> None:
    _, commissionee, link, _ = endpoints()
    commissionee.start_commissionee(verifier_for(PASSCODE, SALT, ITERATIONS), SALT, ITERATIONS)
    link.b.inbox.extend(b"\x00" for _ in range(MAX_DATAGRAMS_PER_POLL + 10))
    status = commissionee.poll()
    assert status.datagrams_received == MAX_DATAGRAMS_PER_POLL
    assert len(link.b.inbox) == 10
    # A byte is no message: each is dropped and counted, and the device keeps waiting.
    assert status.state == "EXPECT_PBKDF_PARAM_REQUEST"
    assert status.failure is None
    assert status.dropped == (("malformed", MAX_DATAGRAMS_PER_POLL),)


def test_a_forged_secured_message_raises_from_open() -> None:
    commissioner, commissionee, link, clock = endpoints(7)
    start(commissioner, commissionee)
    run(commissioner, commissionee, clock)
    commissionee.poll()  # take the final ack
    commissioner.seal(1, 2, b"genuine")
    forged = bytearray(link.b.inbox.pop())
    forged[-1] ^= 0x01
    link.b.inbox.append(bytes(forged))
    with pytest.raises(CryptoError):
        commissionee.open()
    assert commissionee.status().established  # a forgery does not end the session


def test_seeded_endpoints_are_deterministic() -> None:
    runs = []
    for _ in range(2):
        commissioner, commissionee, link, clock = endpoints(8)
        start(commissioner, commissionee)
        run(commissioner, commissionee, clock)
        runs.append((link.a.sent, link.b.sent))
    assert runs[0] == runs[1]


def test_a_secured_message_met_in_poll_is_kept_for_open() -> None:
    # The peer may seal before we call open(): poll() must neither fail the session nor
    # lose the message.
    commissioner, commissionee, _link, clock = endpoints()
    start(commissioner, commissionee)
    run(commissioner, commissionee, clock)
    commissionee.poll()  # takes the final standalone ack
    counter = commissioner.seal(0x0001, 0x02, b"early")
    status = commissionee.poll()
    assert status.established and status.failure is None
    opened = commissionee.open()
    assert opened is not None
    assert (opened.payload, opened.message_counter) == (b"early", counter)
    assert commissionee.open() is None


# --- secured datagrams never reach the handshake --------------------------------------


def secured_datagram(counter: int, *, group: bool = False, session_id: int = 0x4242) -> bytes:
    """A datagram whose header says it is secured (it opens on no session, though)."""
    if group:
        header = MessageHeader(
            session_id=0,
            message_counter=counter,
            destination_group_id=0x0101,
            session_type=WireSessionType.GROUP,
        )
    else:
        header = MessageHeader(session_id=session_id, message_counter=counter)
    return header.encode() + bytes(8 + MIC_LENGTH)


def until_commissionee_established(
    commissioner: CoreEndpoint, commissionee: CoreEndpoint, clock: FakeClock
) -> None:
    """Poll in turn until the commissionee has sent its success StatusReport.

    The commissioner has not seen that report yet: it is the one datagram waiting in the
    commissioner's inbox.
    """
    for _ in range(20):
        commissioner.poll()
        if commissionee.poll().established:
            return
        clock.now += 1
    raise AssertionError("the commissionee did not establish")


def test_a_secured_datagram_before_establishment_waits_for_open() -> None:
    # The device may seal as soon as it has sent its StatusReport; if that report is
    # delayed, the sealed message reaches the commissioner while it is still in PASE.
    commissioner, commissionee, link, clock = endpoints(9)
    start(commissioner, commissionee)
    until_commissionee_established(commissioner, commissionee, clock)
    assert [opcode(d) for d in link.a.inbox] == [OP.STATUS_REPORT]
    report = link.a.inbox.popleft()
    counter = commissionee.seal(0x0001, 0x05, b"before you knew")
    before = commissioner.status()

    early = commissioner.poll()  # only the secured datagram is waiting

    assert early.failure is None and early.state == before.state == "EXPECT_STATUS_REPORT"
    assert early.datagrams_received == before.datagrams_received  # not the handshake's
    with pytest.raises(WrongStateError):
        commissioner.open()  # still no secure session: open() refuses as before
    link.a.inbox.append(report)
    status = commissioner.poll()
    assert status.established and status.failure is None
    opened = commissioner.open()
    assert opened is not None
    assert (opened.payload, opened.message_counter) == (b"before you knew", counter)
    assert commissioner.open() is None
    assert commissioner.secured_dropped == 0


@pytest.mark.parametrize(
    ("group", "reason"), [(False, "session-id"), (True, "group")], ids=["unicast", "group"]
)
def test_secured_datagrams_for_no_session_of_ours_are_dropped_and_counted(
    group: bool, reason: str
) -> None:
    _, commissionee, link, _ = endpoints()
    commissionee.start_commissionee(verifier_for(PASSCODE, SALT, ITERATIONS), SALT, ITERATIONS)
    total = MAX_SECURED_BACKLOG + 6
    link.b.inbox.extend(secured_datagram(n, group=group) for n in range(total))

    first = commissionee.poll()
    second = commissionee.poll()

    for status in (first, second):
        assert status.state == "EXPECT_PBKDF_PARAM_REQUEST" and status.failure is None
        assert status.datagrams_received == 0 and status.datagrams_sent == 0
    assert second.dropped == ((reason, total),)
    assert not link.b.inbox
    assert commissionee.secured_dropped == 0  # nothing was kept: no backlog to overflow
    assert link.b.sent == []  # no StatusReport went out for them


def test_secured_datagrams_before_establishment_are_kept_up_to_the_bound() -> None:
    commissioner, _, link, _ = endpoints()
    ours = commissioner.start_commissioner(PASSCODE).local_session_id
    extra = 6
    link.a.inbox.extend(
        secured_datagram(n, session_id=ours) for n in range(MAX_SECURED_BACKLOG + extra)
    )
    commissioner.poll()
    status = commissioner.poll()
    assert status.state == "EXPECT_PBKDF_PARAM_RESPONSE" and status.failure is None
    assert commissioner.secured_dropped == extra
    assert status.dropped == (("backlog-full", extra),)


def test_the_secured_backlog_keeps_the_oldest_and_counts_the_rest() -> None:
    commissioner, commissionee, link, clock = endpoints(10)
    start(commissioner, commissionee)
    run(commissioner, commissionee, clock)
    extra = 6
    counters = [
        commissioner.seal(0x0001, 0x02, n.to_bytes(2, "big"))
        for n in range(MAX_SECURED_BACKLOG + extra)
    ]
    # The final standalone ack plus every sealed message: more than one poll's worth.
    while link.b.inbox:
        assert commissionee.poll().failure is None
    assert commissionee.secured_dropped == extra

    opened = []
    while (message := commissionee.open()) is not None:
        opened.append(message.message_counter)
    assert opened == counters[:MAX_SECURED_BACKLOG]
    assert commissionee.status().next_deadline_ms is None  # the ack reached the handshake


def test_starting_a_session_forgets_the_last_backlog() -> None:
    commissioner, _, link, _ = endpoints()
    ours = commissioner.start_commissioner(PASSCODE).local_session_id
    link.a.inbox.extend(
        secured_datagram(n, session_id=ours) for n in range(MAX_SECURED_BACKLOG + 1)
    )
    commissioner.poll()
    commissioner.poll()
    assert commissioner.secured_dropped == 1
    assert commissioner.start_commissioner(PASSCODE).dropped == ()
    assert commissioner.secured_dropped == 0


# --- MRP on the secure session (Matter Core Specification 1.3, section 4.12.2.2) -------


def secure_of(endpoint: CoreEndpoint) -> SecureSession:
    """The endpoint's secure session, to seal what the endpoint API does not (an R-flagged
    message, as a peer that uses MRP on the session sends)."""
    return endpoint._require_secure()


def established_pair(seed: int) -> tuple[CoreEndpoint, CoreEndpoint, FakeLink]:
    """Both endpoints established, the final unsecured ack taken: the link is empty."""
    commissioner, commissionee, link, clock = endpoints(seed)
    start(commissioner, commissionee)
    run(commissioner, commissionee, clock)
    commissionee.poll()  # takes the final standalone ack
    assert not link.a.inbox and not link.b.inbox
    return commissioner, commissionee, link


def test_the_first_secured_message_asking_for_an_ack_gets_a_secured_standalone_ack() -> None:
    commissioner, commissionee, link = established_pair(15)
    sender = secure_of(commissioner)
    sent_before = len(link.b.sent)
    acks_before = commissionee.status().acks_sent
    datagram = sender.seal(0x0001, 0x02, b"invoke", 0x5A5A, needs_ack=True)
    counter = sender.last_counter
    link.b.inbox.append(datagram)

    opened = commissionee.open()

    assert opened is not None
    assert (opened.payload, opened.exchange_id, opened.message_counter) == (
        b"invoke",
        0x5A5A,
        counter,
    )
    assert len(link.b.sent) == sent_before + 1
    ack = link.b.sent[-1]
    header = MessageHeader.pull(ByteReader(ack))
    assert header.is_secure and header.session_id == sender.local_session_id
    # The commissioner's own secure session opens it: an encrypted standalone ack on the
    # message's exchange, from its responder side, acknowledging the message's counter.
    frame = sender.open_frame(ack)
    assert not frame.duplicate
    assert frame.protocol.protocol_id == ProtocolId.SECURE_CHANNEL
    assert frame.protocol.opcode == OP.STANDALONE_ACK
    assert frame.protocol.exchange_id == 0x5A5A
    assert not frame.protocol.initiator  # the sealed message had the I flag
    assert frame.protocol.ack_counter == counter
    assert not frame.protocol.needs_ack  # an ack is not acknowledged
    assert frame.message.payload == b""
    assert commissionee.status().acks_sent == acks_before + 1
    assert commissionee.open() is None


def test_a_secured_message_without_the_r_flag_is_not_acknowledged() -> None:
    commissioner, commissionee, link = established_pair(16)
    sent_before = len(link.b.sent)
    commissioner.seal(0x0001, 0x02, b"no ack wanted")
    assert commissionee.open() is not None
    assert len(link.b.sent) == sent_before
    assert commissionee.status().acks_sent == 0


def test_a_duplicate_secured_message_is_reacked_and_not_returned_twice() -> None:
    commissioner, commissionee, link = established_pair(17)
    sender = secure_of(commissioner)
    datagram = sender.seal(0x0001, 0x02, b"once", 0x0101, needs_ack=True)
    counter = sender.last_counter
    following = sender.seal(0x0001, 0x02, b"next", 0x0102)
    link.b.inbox.extend([datagram, datagram, following])

    first = commissionee.open()
    assert first is not None and first.payload == b"once"
    second = commissionee.open()
    assert second is not None and second.payload == b"next"  # the copy was skipped
    assert commissionee.open() is None

    # Both copies were acknowledged (the first ack may have been lost), with the same
    # acknowledged counter and new message counters of our own.
    acks = [sender.open_frame(d) for d in link.b.sent[-2:]]
    assert [frame.protocol.opcode for frame in acks] == [OP.STANDALONE_ACK] * 2
    assert [frame.protocol.ack_counter for frame in acks] == [counter, counter]
    assert acks[1].message.message_counter == acks[0].message.message_counter + 1
    status = commissionee.status()
    assert status.acks_sent == 2
    assert status.dropped == (("duplicate", 1),)
    opened_events = [e for e in commissionee.take_events() if e.kind is EventKind.MESSAGE_OPENED]
    assert len(opened_events) == 2


def test_a_secured_standalone_ack_met_in_open_is_consumed() -> None:
    commissioner, commissionee, link = established_pair(18)
    # The device acks a reliable message of the commissioner's; the commissioner's open()
    # meets that secured ack first, then a message.
    link.b.inbox.append(secure_of(commissioner).seal(0x0001, 0x02, b"ping", 7, needs_ack=True))
    assert commissionee.open() is not None
    assert len(link.a.inbox) == 1  # the device's secured standalone ack
    sent_before = len(link.a.sent)

    assert commissioner.open() is None  # consumed, not returned as opcode 0x10
    assert len(link.a.sent) == sent_before  # and an ack is not acknowledged
    status = commissioner.status()
    assert status.failure is None and status.dropped == ()
    assert [e.kind for e in commissioner.take_events()] == [EventKind.ESTABLISHED]

    link.b.inbox.append(secure_of(commissioner).seal(0x0001, 0x02, b"ping 2", 8, needs_ack=True))
    assert commissionee.open() is not None
    counter = commissionee.seal(0x0001, 0x05, b"pong")
    # The ack, then the message: open() skips the ack and returns the message.
    assert len(link.a.inbox) == 2
    reply = commissioner.open()
    assert reply is not None
    assert (reply.opcode, reply.payload, reply.message_counter) == (0x05, b"pong", counter)
    assert commissioner.open() is None


# --- events ----------------------------------------------------------------------------


def test_events_of_a_successful_handshake_in_order() -> None:
    link, clock = FakeLink(), FakeClock()
    entropy = HmacCounterEntropy(11, "commissioner")
    commissioner = CoreEndpoint(link.a, clock, entropy)
    commissionee = CoreEndpoint(link.b, clock, HmacCounterEntropy(11, "commissionee"))
    assert commissioner.take_events() == []  # no session yet: nothing happened
    start(commissioner, commissionee)
    a, b = run(commissioner, commissionee, clock)
    assert a.established and b.established
    established_at = clock.now  # run() stops right after the commissioner's poll

    reads, draws = clock.reads, list(entropy.draws)
    assert commissioner.take_events() == [SessionEvent(EventKind.ESTABLISHED, established_at)]
    assert commissioner.take_events() == []  # taken means gone
    # Keeping and taking events crosses no seam.
    assert (clock.reads, entropy.draws) == (reads, draws)

    clock.now += 7
    commissionee.poll()  # takes the final ack at the new time
    commissioner.seal(0x0001, 0x02, b"one")
    commissioner.seal(0x0001, 0x02, b"two")
    reads = clock.reads
    assert commissionee.open() is not None and commissionee.open() is not None
    assert clock.reads == reads  # open() of secured datagrams reads no clock
    device = commissionee.take_events()
    assert [event.kind for event in device] == [
        EventKind.ESTABLISHED,
        EventKind.MESSAGE_OPENED,
        EventKind.MESSAGE_OPENED,
    ]
    assert device[0].at_ms < device[1].at_ms == device[2].at_ms == clock.now
    assert [event.kind.value for event in device] == [
        "established",
        "message-opened",
        "message-opened",
    ]


def test_events_of_a_failed_handshake() -> None:
    commissioner, commissionee, _, clock = endpoints(12)
    start(commissioner, commissionee, device_passcode=20202022)
    a, _ = run(commissioner, commissionee, clock)
    assert isinstance(a.failure, ConfirmationError)
    assert commissioner.take_events() == [SessionEvent(EventKind.FAILED, clock.now)]

    clock.now += 3
    b = commissionee.poll()  # takes the commissioner's failure report
    assert isinstance(b.failure, PeerStatusError)
    assert commissionee.take_events() == [SessionEvent(EventKind.FAILED, clock.now)]
    assert commissionee.poll().failure is not None
    assert commissionee.take_events() == []  # a failure is reported once


def test_a_timeout_is_a_failed_event_at_the_time_of_the_poll() -> None:
    commissioner, _, _, clock = endpoints(13)
    commissioner.start_commissioner(PASSCODE)
    status = commissioner.poll()
    while status.failure is None:
        assert status.next_deadline_ms is not None
        clock.now = status.next_deadline_ms
        status = commissioner.poll()
    assert isinstance(status.failure, HandshakeTimeout)
    assert commissioner.take_events() == [SessionEvent(EventKind.FAILED, clock.now)]


def test_the_event_queue_drops_the_oldest_and_counts_them() -> None:
    commissioner, commissionee, _, clock = endpoints(14)
    start(commissioner, commissionee)
    run(commissioner, commissionee, clock)
    commissionee.poll()  # takes the final ack
    opens = MAX_EVENTS + 5
    for n in range(opens):
        commissioner.seal(0x0001, 0x02, n.to_bytes(2, "big"))
        assert commissionee.open() is not None

    events = commissionee.take_events()
    assert len(events) == MAX_EVENTS
    assert {event.kind for event in events} == {EventKind.MESSAGE_OPENED}  # established went
    assert commissionee.events_dropped == 1 + opens - MAX_EVENTS
    assert commissionee.take_events() == []

    verifier = verifier_for(PASSCODE, SALT, ITERATIONS)
    commissionee.start_commissionee(verifier, SALT, ITERATIONS)
    assert commissionee.events_dropped == 0  # counted per session


def test_an_event_queue_keeps_the_newest_events() -> None:
    queue = EventQueue(limit=2)
    for at_ms in (1, 2, 3):
        queue.append(SessionEvent(EventKind.MESSAGE_OPENED, at_ms))
    assert (len(queue), queue.dropped) == (2, 1)
    assert [event.at_ms for event in queue.take()] == [2, 3]
    assert (len(queue), queue.dropped) == (0, 1)  # taking does not reset the count
    queue.clear()
    assert queue.dropped == 0
    with pytest.raises(ValueError):
        EventQueue(limit=0)
