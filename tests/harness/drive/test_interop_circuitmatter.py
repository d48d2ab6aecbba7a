"""Interoperability: our commissioner against CircuitMatter, an independent Matter device.

CircuitMatter (adafruit, pure Python, MIT) implements the device side of PASE with its
own SPAKE2+ (the ``ecdsa`` package), its own TLV, message framing and MRP. Nothing of it
is shared with ``matter_core``: if our commissioner (the core natively, or the core
component in wasmtime) completes PASE with it and it opens our first secured message
with the keys *it* derived, the two implementations agree on the wire format, the
context hash, the SPAKE2+ transcript and the session keys.

CircuitMatter is written for CircuitPython: it takes a socket pool and an mDNS server.
The adapters here are minimal: a pool of real CPython UDP sockets that binds to a
loopback address and an ephemeral port whatever CircuitMatter asks for (it asks for
``[::]:5541``), records every datagram, and an mDNS server that only records the
advertisements. CircuitMatter opens an AF_INET6 socket, so the tests need IPv6; IPv4
is covered through an IPv4-mapped bind (``::ffff:127.0.0.1``).

The device draws its own randomness (its responder random, its SPAKE2+ share, its
session id and counters), so the handshake differs from run to run: the tests check
that it completes and that both sides agree, never a fixed transcript hash.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import select
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import circuitmatter  # type: ignore[import-untyped]
import pytest
from circuitmatter import certificates
from circuitmatter import session as cm_session
from circuitmatter.message import ExchangeFlags, Message  # type: ignore[import-untyped]
from circuitmatter.protocol import SecureProtocolOpcode  # type: ignore[import-untyped]
from circuitmatter.utility import random as cm_random  # type: ignore[import-untyped]
from loopback_net import ipv6_loopback_available

from harness.drive.driver import PROBE_OPCODE, PROBE_PROTOCOL_ID
from harness.drive.peer import PEER_PROBE, PeerResult, run_peer
from harness.drive.peer_config import PeerConfig
from harness.runtime.engine import Runtime
from harness.seams.udp import LOCAL_TO_PEER, PEER_TO_LOCAL, Endpoint, UdpTransport
from harness.wit import TransportSeam

pytestmark = [pytest.mark.slow, pytest.mark.network, pytest.mark.interop]

PASSCODE = 20202021
WRONG_PASSCODE = 20202022
#: CircuitMatter only generates state for the test vendor and product ids.
VENDOR_ID = 0xFFF4
PRODUCT_ID = 0x1234
#: How long the device loop sleeps on its socket between polls (also its stop latency).
DEVICE_POLL_S = 0.01
#: Every wait in this module is bounded by this.
WAIT_S = 5.0
#: Our timeout per run: generous for a loaded machine, far below pytest's patience.
PEER_TIMEOUT_S = 8.0
IPV4_MAPPED_LOOPBACK = "::ffff:127.0.0.1"
#: CircuitMatter's secure channel StatusReport codes (Matter spec 4.11.1.2, 4.10.1.1).
GENERAL_FAILURE = 1
INVALID_PARAMETER = 2


needs_ipv6 = pytest.mark.skipif(
    not ipv6_loopback_available(),
    reason="CircuitMatter opens an AF_INET6 socket and this machine has no IPv6 loopback",
)


# -- the CircuitPython-style adapters ------------------------------------------------------


class LoopbackSocket:
    """A real UDP socket with the calls CircuitMatter makes, bound to loopback only.

    CircuitMatter binds ``("::", 5541)``: every interface, a fixed port. The test binds
    ``host`` and an ephemeral port instead, so runs are loopback-only and never collide.
    Every datagram in and out is recorded, as the device saw it.
    """

    def __init__(self, family: int, kind: int, host: str) -> None:
        self._sock = socket.socket(family, kind)
        self._host = host
        self.requested: Any = None
        self.received: list[bytes] = []
        self.sent: list[bytes] = []

    def bind(self, address: Any) -> None:
        """Bind loopback (``host``, ephemeral port); remember what was asked for."""
        self.requested = address
        if self._host.startswith("::ffff:"):
            # Dual-stack, so the IPv4-mapped loopback takes IPv4 peers.
            self._sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self._sock.bind((self._host, 0))

    def setblocking(self, flag: bool) -> None:
        """Switch blocking mode, as asked."""
        self._sock.setblocking(flag)

    def recvfrom_into(self, buffer: Any, nbytes: int) -> tuple[int, Any]:
        """Receive one datagram into ``buffer`` and record it."""
        count, address = self._sock.recvfrom_into(buffer, nbytes)
        self.received.append(bytes(buffer[:count]))
        return count, address

    def sendto(self, data: Any, address: Any) -> int:
        """Send one datagram and record it."""
        payload = bytes(data)
        self.sent.append(payload)
        return self._sock.sendto(payload, address)

    def fileno(self) -> int:
        """The OS socket, for ``select``."""
        return self._sock.fileno()

    @property
    def port(self) -> int:
        """The ephemeral port the OS chose."""
        return int(self._sock.getsockname()[1])

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()


class LoopbackSocketPool:
    """A CircuitPython ``socketpool.SocketPool`` look-alike handing out loopback sockets."""

    AF_INET6 = socket.AF_INET6
    SOCK_DGRAM = socket.SOCK_DGRAM

    def __init__(self, host: str) -> None:
        self.host = host
        self.sockets: list[LoopbackSocket] = []

    def socket(self, family: int, kind: int) -> LoopbackSocket:
        """A new loopback UDP socket."""
        sock = LoopbackSocket(family, kind, self.host)
        self.sockets.append(sock)
        return sock


@dataclass(frozen=True)
class Advertisement:
    """One ``advertise_service`` call."""

    service_type: str
    protocol: str
    port: int
    txt_records: dict[str, str]
    subtypes: list[str]
    instance_name: str


class RecordingMdns:
    """An mDNS server that advertises nothing and remembers what it was asked to."""

    def __init__(self) -> None:
        self.advertisements: list[Advertisement] = []

    def advertise_service(
        self,
        service_type: str,
        protocol: str,
        port: int,
        txt_records: dict[str, str] | None = None,
        subtypes: list[str] | None = None,
        instance_name: str = "",
    ) -> None:
        """Record one advertisement."""
        self.advertisements.append(
            Advertisement(
                service_type,
                protocol,
                port,
                dict(txt_records or {}),
                list(subtypes or []),
                instance_name,
            )
        )


# -- the device ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceOpened:
    """A secured datagram as CircuitMatter's session opened it."""

    session_id: int
    message_counter: int
    protocol_id: int
    opcode: int
    payload: bytes


@dataclass(frozen=True)
class DeviceSession:
    """A secure session CircuitMatter derived keys for (its PASE session)."""

    local_session_id: int
    peer_session_id: int
    i2r_key: bytes
    r2i_key: bytes


def write_device_state(path: Path, passcode: int) -> dict[str, Any]:
    """CircuitMatter's own initial state (what it generates on first start), with a
    known passcode and the verifier CircuitMatter computes for it; salt and iteration
    count stay CircuitMatter's (random salt, 10000 iterations)."""
    state: dict[str, Any] = certificates.generate_initial_state(
        VENDOR_ID, PRODUCT_ID, "matter-harness interop", cm_random
    )
    salt = binascii.a2b_base64(state["salt"])
    verifier = certificates.compute_verifier(passcode, salt, state["iteration-count"])
    state["passcode"] = passcode
    state["manual_code"] = certificates.compute_manual_code(state["discriminator"], passcode)
    state["verifier"] = binascii.b2a_base64(verifier, newline=False).decode("ascii")
    path.write_text(json.dumps(state, indent=1))
    return state


@dataclass
class CircuitMatterDevice:
    """A CircuitMatter device serving on loopback from a thread, with a stop flag.

    Secured datagrams are opened here with CircuitMatter's own session objects
    (``get_session``, ``decrypt_and_verify``, ``parse_protocol_header``, the calls its
    ``process_packet`` makes), then recorded instead of being dispatched: our probe's
    payload is not Interaction Model TLV, and CircuitMatter's ReadRequest decoder would
    raise on it after the decryption this test is about.
    """

    state_dir: Path
    host: str = "::1"
    passcode: int = PASSCODE
    mdns: RecordingMdns = field(default_factory=RecordingMdns)
    errors: list[str] = field(default_factory=list)
    opened: list[DeviceOpened] = field(default_factory=list)
    unopened: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state = write_device_state(self.state_dir / "matter-device-state.json", self.passcode)
        self.pool = LoopbackSocketPool(self.host)
        self.matter: Any = circuitmatter.CircuitMatter(
            socketpool=self.pool,
            mdns_server=self.mdns,
            random_source=cm_random,
            state_filename=str(self.state_dir / "matter-device-state.json"),
            vendor_id=VENDOR_ID,
            product_id=PRODUCT_ID,
        )
        (self.socket,) = self.pool.sockets
        self._dispatch = self.matter.process_packet
        self.matter.process_packet = self._process_packet
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="circuitmatter", daemon=True)

    @property
    def address(self) -> Endpoint:
        """Where our commissioner connects (the IPv4 form for an IPv4-mapped bind)."""
        host = self.host.removeprefix("::ffff:")
        return host, self.socket.port

    @property
    def salt(self) -> bytes:
        """The PBKDF salt in CircuitMatter's state."""
        return binascii.a2b_base64(self.state["salt"])

    def _serve(self) -> None:
        while not self._stop.is_set():
            select.select([self.socket], [], [], DEVICE_POLL_S)
            try:
                self.matter.process_packets()
            except Exception:
                self.errors.append(traceback.format_exc())

    def _process_packet(self, address: Any, data: Any) -> None:
        message = Message()
        message.decode(data)
        message.source_ipaddress = address
        if not message.secure_session:
            self._dispatch(address, data)
            return
        context = self.matter.manager.get_session(message)
        if context is None or not context.decrypt_and_verify(message):
            self.unopened.append(bytes(data))
            return
        message.parse_protocol_header()
        self.opened.append(
            DeviceOpened(
                session_id=message.session_id,
                message_counter=message.message_counter,
                protocol_id=int(message.protocol_id),
                opcode=int(message.protocol_opcode),
                payload=bytes(message.application_payload),
            )
        )

    def sessions(self) -> list[DeviceSession]:
        """The secure sessions CircuitMatter holds keys for."""
        return [
            DeviceSession(c.local_session_id, c.peer_session_id, c.i2r_key, c.r2i_key)
            for c in self.matter.manager.secure_session_contexts
            if isinstance(c, cm_session.SecureSessionContext) and c.i2r_key is not None
        ]

    def wait_for(self, condition: Callable[[], bool]) -> bool:
        """Poll ``condition`` until it holds or WAIT_S passes."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(DEVICE_POLL_S)
        return condition()

    def __enter__(self) -> CircuitMatterDevice:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(WAIT_S)
        self.socket.close()
        assert not self._thread.is_alive(), "the CircuitMatter loop did not stop"


# -- helpers ---------------------------------------------------------------------------------


def framed_transcript(initiator: list[bytes], responder: list[bytes]) -> bytes:
    """The README's transcript hash over three request/reply pairs, from wire bytes."""
    digest = hashlib.sha256()
    for sent, answered in zip(initiator[:3], responder[:3], strict=True):
        for direction, datagram in ((1, sent), (2, answered)):
            digest.update(bytes([direction]) + len(datagram).to_bytes(4, "little") + datagram)
    return digest.digest()


def decode(datagram: bytes) -> Any:
    """A datagram parsed by CircuitMatter (header, then the unsecured protocol header)."""
    message = Message()
    message.decode(datagram)
    message.parse_protocol_header()
    return message


def is_secured(datagram: bytes) -> bool:
    """CircuitMatter's reading of the message header: a secure session, or not."""
    message = Message()
    message.decode(datagram)
    return bool(message.secure_session)


def is_standalone_ack(datagram: bytes) -> bool:
    """An unsecured MRP standalone acknowledgement, as CircuitMatter parses it."""
    return (
        not is_secured(datagram)
        and decode(datagram).protocol_opcode == SecureProtocolOpcode.MRP_STANDALONE_ACK
    )


class DropReceives:
    """Loses chosen incoming datagrams (0-based, in arrival order) before the core sees them."""

    def __init__(self, inner: TransportSeam, drop: set[int]) -> None:
        self.inner = inner
        self.drop = drop
        self.arrived = 0
        self.dropped: list[bytes] = []

    def send(self, datagram: bytes) -> bool:
        """Pass a datagram out unchanged."""
        return self.inner.send(datagram)

    def receive(self) -> bytes | None:
        """The next datagram not chosen to be lost, or None."""
        while True:
            datagram = self.inner.receive()
            if datagram is None:
                return None
            index = self.arrived
            self.arrived += 1
            if index not in self.drop:
                return datagram
            self.dropped.append(datagram)


def commission(
    device: CircuitMatterDevice,
    *,
    native: bool = True,
    passcode: int = PASSCODE,
    core_path: Path | None = None,
    runtime: Runtime | None = None,
    wrap: Callable[[UdpTransport], TransportSeam] | None = None,
    timeout_s: float = PEER_TIMEOUT_S,
) -> tuple[PeerResult, list[str]]:
    """Our commissioner against ``device``: bound to loopback, sealing one message."""
    host = device.address[0]
    config = PeerConfig(
        role="commissioner",
        connect=device.address,
        listen=(host, 0),
        passcode=passcode,
        timeout_s=timeout_s,
        send_secured=True,
        native=native,
        core_path=core_path,
    )
    lines: list[str] = []
    result = run_peer(config, runtime=runtime, emit=lines.append, wrap_transport=wrap)
    return result, lines


def distinct(datagrams: list[bytes]) -> list[bytes]:
    """The datagrams without repeats, in first-seen order."""
    return list(dict.fromkeys(datagrams))


def wire(result: PeerResult, direction: str) -> list[bytes]:
    """Our side's datagrams in one direction, in order."""
    return [p.data for p in result.trace if p.direction == direction]


@pytest.fixture
def device(tmp_path: Path) -> Iterator[CircuitMatterDevice]:
    """A CircuitMatter device on ``[::1]``, serving for the test's duration."""
    with CircuitMatterDevice(tmp_path) as served:
        yield served


# -- the tests -------------------------------------------------------------------------------


def check_commissioned(device: CircuitMatterDevice, result: PeerResult, lines: list[str]) -> None:
    """Both sides established the same PASE session, and CircuitMatter opened our probe."""
    assert result.ok, result.failure
    assert result.status is not None
    assert lines[0] == (
        f"PASE-RUNS-OK peer={result.peer_text} transcript={result.transcript_hash.hex()}"
    )
    # The device processes datagrams in order: once the probe is opened, all is done.
    assert device.wait_for(lambda: bool(device.opened or device.unopened or device.errors))
    assert device.errors == []
    assert device.unopened == []
    # CircuitMatter derived session keys, with session ids crossed.
    (session,) = device.sessions()
    assert session.local_session_id == result.status.peer_session_id
    assert session.peer_session_id == result.status.local_session_id
    assert len(session.i2r_key) == len(session.r2i_key) == 16
    # Its I2R key opens our sealed message: the session keys agree.
    (opened,) = device.opened
    assert opened.session_id == session.local_session_id
    assert (opened.protocol_id, opened.opcode) == (PROBE_PROTOCOL_ID, PROBE_OPCODE)
    assert opened.payload == PEER_PROBE
    assert opened.message_counter == result.sealed_counter
    # The wire is the same seen from both ends: request, a standalone ack of the response
    # (sent before PBKDF2), Pake1, Pake3, a standalone ack of the device's StatusReport,
    # then the sealed message; three answers back. (Distinct datagrams: on a loaded
    # machine an MRP retransmission may repeat one, and a duplicate is re-acknowledged.)
    ours_out, ours_in = wire(result, LOCAL_TO_PEER), wire(result, PEER_TO_LOCAL)
    assert device.socket.received == ours_out
    assert device.socket.sent[: len(ours_in)] == ours_in
    sent, answered = distinct(ours_out), distinct(ours_in)
    assert len(answered) == 3
    assert is_secured(sent[-1]) and not any(is_secured(d) for d in sent[:-1])
    acks = [d for d in sent[:-1] if is_standalone_ack(d)]
    handshake = [d for d in sent[:-1] if not is_standalone_ack(d)]
    assert [decode(d).protocol_opcode for d in handshake] == [
        SecureProtocolOpcode.PBKDF_PARAM_REQUEST,
        SecureProtocolOpcode.PASE_PAKE1,
        SecureProtocolOpcode.PASE_PAKE3,
    ]
    # Our transcript hash is over exactly the bytes CircuitMatter received and sent.
    assert framed_transcript(handshake, answered) == result.transcript_hash
    # Our commissioner took PBKDF parameters from the device: its salt is in the response.
    assert device.salt in answered[0]
    status = decode(answered[2])
    assert status.application_payload[:8] == bytes(8)  # SUCCESS, secure channel, code 0
    # The response was acknowledged before Pake1 went out, the StatusReport after Pake3;
    # CircuitMatter took both acks (it opened the probe, and reported no error).
    response = decode(answered[0])
    assert sent.index(acks[0]) < sent.index(handshake[1])
    assert decode(acks[0]).acknowledged_message_counter == response.message_counter
    assert decode(acks[-1]).acknowledged_message_counter == status.message_counter
    assert {decode(a).acknowledged_message_counter for a in acks} <= {
        decode(d).message_counter for d in answered
    }


@needs_ipv6
def test_circuitmatter_device_is_commissioned_by_the_native_core(
    device: CircuitMatterDevice,
) -> None:
    started = time.perf_counter()
    result, lines = commission(device, native=True)
    check_commissioned(device, result, lines)
    assert result.peer == device.address == ("::1", device.socket.port)
    assert time.perf_counter() - started < PEER_TIMEOUT_S


@needs_ipv6
def test_circuitmatter_device_is_commissioned_by_the_core_component(
    device: CircuitMatterDevice, core_path: Path, shared_runtime: Runtime
) -> None:
    result, lines = commission(device, native=False, core_path=core_path, runtime=shared_runtime)
    check_commissioned(device, result, lines)
    assert result.counters.entropy_calls > 0 and result.counters.clock_reads > 0


@needs_ipv6
def test_device_advertises_commissioning_and_keeps_its_requested_address(
    device: CircuitMatterDevice,
) -> None:
    # What the adapters saw: CircuitMatter asked for [::]:5541 and advertised
    # _matterc._udp with its discriminator, commissioning mode 1.
    assert device.socket.requested == ("::", 5541)
    (advert,) = device.mdns.advertisements
    assert (advert.service_type, advert.protocol, advert.port) == ("_matterc", "_udp", 5541)
    assert advert.txt_records["D"] == str(device.state["discriminator"])
    assert advert.txt_records["CM"] == "1"
    assert f"_L{device.state['discriminator']}._sub._matterc._udp" in advert.subtypes


@needs_ipv6
def test_wrong_passcode_fails_on_both_sides(device: CircuitMatterDevice) -> None:
    result, lines = commission(device, passcode=WRONG_PASSCODE)
    assert not result.ok and lines == []
    assert result.failure is not None and "confirmation" in result.failure
    assert result.status is not None and result.status.state == "FAILED"
    # We reject the device's cB and tell it so (after the request, the standalone ack of
    # the response and Pake1); it never derives session keys.
    assert device.wait_for(lambda: len(device.socket.received) >= 4)
    assert is_standalone_ack(device.socket.received[1])
    report = decode(device.socket.received[3])
    assert report.protocol_opcode == SecureProtocolOpcode.STATUS_REPORT
    assert report.exchange_flags & ExchangeFlags.R  # reliable: retransmitted until acked
    status = cm_session.StatusReport()
    status.decode(report.application_payload)
    assert status.general_code == GENERAL_FAILURE
    assert status.protocol_code == INVALID_PARAMETER
    assert device.sessions() == []
    assert device.errors == []


def lose_reply(lost: int) -> tuple[Callable[[UdpTransport], TransportSeam], list[DropReceives]]:
    """A ``wrap_transport`` losing the device's reply number ``lost``, and its wrapper."""
    made: list[DropReceives] = []

    def lossy(udp: UdpTransport) -> TransportSeam:
        made.append(DropReceives(udp, {lost}))
        return made[0]

    return lossy, made


@needs_ipv6
def test_a_lost_pbkdf_param_response_is_recovered(device: CircuitMatterDevice) -> None:
    # CircuitMatter never retransmits on the unsecured session by itself: our core's MRP
    # timer resends the request, byte for byte; CircuitMatter sees a duplicate and resends
    # its pending response.
    lossy, made = lose_reply(0)
    result, lines = commission(device, wrap=lossy)
    (dropped,) = made[0].dropped
    assert result.ok, result.failure
    assert lines and lines[0].startswith("PASE-RUNS-OK")
    assert result.seconds >= 0.25  # one MRP interval went by
    request = device.socket.received[0]
    assert device.socket.received[:2] == [request, request]
    assert device.socket.sent[:2] == [dropped, dropped]
    assert device.wait_for(lambda: bool(device.opened))
    assert device.opened[0].payload == PEER_PROBE
    assert device.errors == []


@needs_ipv6
def test_a_lost_pake2_is_recovered(device: CircuitMatterDevice) -> None:
    # Our Pake1 carries no acknowledgement (the PBKDFParamResponse was acknowledged by a
    # standalone ack before PBKDF2), so CircuitMatter's Exchange.receive, which drops a
    # message acknowledging anything but its pending message, takes our retransmitted
    # Pake1 as a reliable duplicate and resends its pending Pake2 (section 4.12.5.2.2).
    lossy, made = lose_reply(1)
    result, lines = commission(device, wrap=lossy)
    (dropped,) = made[0].dropped
    assert result.ok, result.failure
    assert lines and lines[0].startswith("PASE-RUNS-OK")
    assert result.status is not None and result.status.retransmissions >= 1
    pake1 = device.socket.received[2]
    assert decode(pake1).protocol_opcode == SecureProtocolOpcode.PASE_PAKE1
    assert decode(pake1).acknowledged_message_counter is None
    assert device.socket.received[2:4] == [pake1, pake1]  # retransmitted byte for byte
    assert decode(dropped).protocol_opcode == SecureProtocolOpcode.PASE_PAKE2
    assert device.socket.sent[1:3] == [dropped, dropped]
    assert device.wait_for(lambda: bool(device.opened))
    assert device.opened[0].payload == PEER_PROBE
    assert device.errors == []


@needs_ipv6
def test_circuitmatter_cannot_recover_a_lost_status_report(
    device: CircuitMatterDevice,
) -> None:
    # A known CircuitMatter limitation, pinned so a fix shows up: our retransmitted Pake3
    # is byte-identical, so it still acknowledges the device's Pake2 (on its reply, as a
    # CHIP commissioner's Pake3 does); CircuitMatter's Exchange.receive drops any message
    # whose acknowledged counter is not its pending one (now its StatusReport), so it
    # neither acknowledges the duplicate nor resends its StatusReport, and it has no
    # retransmission timer of its own on the unsecured session.
    lossy, made = lose_reply(2)
    result, lines = commission(device, wrap=lossy, timeout_s=1.5)
    (dropped,) = made[0].dropped
    assert not result.ok and lines == []
    assert result.status is not None and result.status.state == "EXPECT_STATUS_REPORT"
    ours = wire(result, LOCAL_TO_PEER)
    # The request, the standalone ack of the response, Pake1, then Pake3 and its copies.
    pake3 = ours[3]
    assert decode(pake3).protocol_opcode == SecureProtocolOpcode.PASE_PAKE3
    assert len(ours) >= 5  # at least one retransmission went out
    assert set(ours[3:]) == {pake3}  # every retransmission is the original's bytes
    assert (
        decode(pake3).acknowledged_message_counter == decode(device.socket.sent[1]).message_counter
    )
    assert device.wait_for(lambda: len(device.socket.received) == len(ours))
    assert decode(dropped).protocol_opcode == SecureProtocolOpcode.STATUS_REPORT
    assert device.socket.sent.count(dropped) == 1  # never resent
    assert len(device.socket.sent) == 3
    assert device.errors == []


@needs_ipv6
def test_ipv4_peer_through_an_ipv4_mapped_bind(tmp_path: Path) -> None:
    with CircuitMatterDevice(tmp_path, host=IPV4_MAPPED_LOOPBACK) as device:
        result, lines = commission(device)
        check_commissioned(device, result, lines)
        assert result.local[0] == "127.0.0.1"
        assert result.peer == ("127.0.0.1", device.socket.port)
