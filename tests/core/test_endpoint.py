"""CoreEndpoint driven through fake transport, clock and entropy objects.

The fakes are the smallest things with the seams' shape: a two-ended in-memory queue
that can drop datagrams, a clock the test moves, and the seeded test entropy.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import pytest
from helpers import ITERATIONS, PASSCODE, SALT, HmacCounterEntropy, verifier_for
from matter_core.endpoint import MAX_DATAGRAMS_PER_POLL, CoreEndpoint, SessionStatus
from matter_core.errors import (
    ConfirmationError,
    CoreError,
    CryptoError,
    HandshakeTimeout,
    LocalProtocolError,
    PeerStatusError,
    WrongStateError,
)
from matter_core.message import SecureChannelOpcode, UnsecuredMessage
from matter_core.pase import MAX_RETRANSMISSIONS, Role

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
    assert (a.datagrams_sent, a.datagrams_received) == (4, 3)
    assert (b.datagrams_sent, b.datagrams_received) == (3, 3)  # the final ack still waits
    assert [opcode(d) for d in link.a.sent] == [0x20, 0x22, 0x24, 0x10]
    assert [opcode(d) for d in link.b.sent] == [0x21, 0x23, 0x40]
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
    assert status.state == "FAILED"
    assert isinstance(status.failure, CoreError)


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
