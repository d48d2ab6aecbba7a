"""Tests for harness.udp: endpoint parsing and the UDP transport seam (loopback only)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loopback_net import ipv6_loopback_available

from harness.seams.clock import VirtualClock
from harness.seams.counters import SeamCounters
from harness.seams.loopback import MAX_DATAGRAM
from harness.seams.udp import (
    LOCAL_TO_PEER,
    MAX_STRANGER_SOURCES,
    PEER_TO_LOCAL,
    EndpointError,
    UdpSocketError,
    UdpStats,
    UdpTransport,
    endpoint_of,
    format_endpoint,
    parse_endpoint,
    wildcard_for,
)

LOOPBACK = ("127.0.0.1", 0)


needs_ipv6 = pytest.mark.skipif(
    not ipv6_loopback_available(), reason="this machine has no IPv6 loopback (::1)"
)


def receive_within(transport: UdpTransport, seconds: float = 2.0) -> bytes | None:
    """The next datagram ``transport`` accepts, waiting up to ``seconds``."""
    end = time.monotonic() + seconds
    while True:
        data = transport.receive()
        if data is not None:
            return data
        left = end - time.monotonic()
        if left <= 0:
            return None
        transport.wait(left)


@pytest.fixture
def pair() -> Iterator[tuple[UdpTransport, UdpTransport]]:
    """A listening device and a controller connected to it, on 127.0.0.1."""
    device = UdpTransport(LOOPBACK)
    controller = UdpTransport(LOOPBACK, device.local)
    yield device, controller
    device.close()
    controller.close()


# -- parse_endpoint ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:5540", ("127.0.0.1", 5540)),
        ("  10.0.0.7:1  ", ("10.0.0.7", 1)),
        ("localhost:65535", ("localhost", 65535)),
        ("[::1]:5540", ("::1", 5540)),
        ("[fe80::1%eth0]:5540", ("fe80::1%eth0", 5540)),
        ("[2001:db8::2]:80", ("2001:db8::2", 80)),
    ],
)
def test_parse_endpoint_accepts(text: str, expected: tuple[str, int]) -> None:
    assert parse_endpoint(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty address"),
        ("127.0.0.1", "has no port"),
        ("[::1]", "has no port"),
        ("[::1]5540", "has no port"),
        ("[::1:5540", "never closes"),
        ("::1:5540", "needs brackets"),
        (":5540", "has no host"),
        ("[]:5540", "not an IPv6 address"),
        ("[127.0.0.1]:5540", "not an IPv6 address"),
        ("127.0.0.1:", "is not a number"),
        ("127.0.0.1:port", "is not a number"),
        ("127.0.0.1:-1", "is not a number"),
        ("127.0.0.1:65536", "outside 1..65535"),
        ("127.0.0.1:0", "outside 1..65535"),
    ],
)
def test_parse_endpoint_rejects_with_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(EndpointError, match=message):
        parse_endpoint(text)


def test_parse_endpoint_allows_port_zero_only_when_asked() -> None:
    assert parse_endpoint("127.0.0.1:0", allow_port_zero=True) == ("127.0.0.1", 0)
    with pytest.raises(EndpointError, match=r"outside 0\.\.65535"):
        parse_endpoint("127.0.0.1:70000", allow_port_zero=True)


@settings(max_examples=60)
@given(
    host=st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str),
    port=st.integers(1, 65_535),
)
def test_format_then_parse_is_identity(host: str, port: int) -> None:
    text = format_endpoint((host, port))
    assert ("[" in text) == (":" in host)
    assert parse_endpoint(text) == (host, port)


def test_endpoint_of_shows_ipv4_mapped_addresses_as_ipv4() -> None:
    assert endpoint_of(("::ffff:127.0.0.1", 5540, 0, 0)) == ("127.0.0.1", 5540)
    assert endpoint_of(("0:0::1", 9, 0, 0)) == ("::1", 9)
    assert endpoint_of(("fe80::1%eth0", 9, 0, 2)) == ("fe80::1%eth0", 9)
    assert endpoint_of(("10.1.2.3", 7)) == ("10.1.2.3", 7)


def test_wildcard_matches_the_peer_family() -> None:
    assert wildcard_for(("127.0.0.1", 5540)) == ("0.0.0.0", 0)
    assert wildcard_for(("::1", 5540)) == ("::", 0)


# -- the transport -------------------------------------------------------------------


@pytest.mark.network
def test_two_transports_exchange_datagrams(pair: tuple[UdpTransport, UdpTransport]) -> None:
    device, controller = pair
    assert controller.send(b"request")
    assert receive_within(device) == b"request"
    device.settle(accepted=True)
    assert device.peer == controller.local
    assert device.send(b"response")
    assert receive_within(controller) == b"response"
    assert controller.stats.sent == 1 and controller.stats.received == 1
    assert device.stats.sent == 1 and device.stats.received == 1


@pytest.mark.network
def test_listener_learns_the_peer_and_replies_to_its_port() -> None:
    with UdpTransport(LOOPBACK) as device:
        assert device.peer is None
        # A plain socket, so the test sees exactly where the reply goes.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.bind(("127.0.0.1", 0))
            client.settimeout(2)
            client.sendto(b"hello", device.local)
            assert receive_within(device) == b"hello"
            assert device.candidate == client.getsockname() and device.peer is None
            # The reply goes to the sender in hand, before anything is settled...
            assert device.send(b"back")
            data, source = client.recvfrom(2048)
            assert (data, source) == (b"back", device.local)
            # ...and accepting it binds the transport to that sender.
            device.settle(accepted=True)
            assert device.bound and device.peer == client.getsockname()
            assert device.candidate is None
    assert device.stats.unbound == 1 and device.stats.refused == 0


@pytest.mark.network
def test_listener_hands_out_one_datagram_at_a_time_until_settled() -> None:
    with (
        UdpTransport(LOOPBACK) as device,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as first,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as second,
    ):
        first.bind(("127.0.0.1", 0))
        second.bind(("127.0.0.1", 0))
        first.sendto(b"one", device.local)
        second.sendto(b"two", device.local)
        assert receive_within(device) == b"one"
        # Not settled: nothing more, though "two" is waiting on the socket.
        assert device.receive() is None
        assert device.wait(2.0) is True
        assert device.receive() is None
        device.settle(accepted=False)
        assert not device.bound and device.candidate is None
        assert receive_within(device) == b"two"
        assert device.candidate == second.getsockname()
        device.settle(accepted=True)
        assert device.peer == second.getsockname()
    assert device.stats.unbound == 2 and device.stats.refused == 1
    assert device.stats.strangers == 0


@pytest.mark.network
def test_a_refused_stranger_does_not_lock_the_listener() -> None:
    # The stranger speaks first; the driver refuses it; the controller's datagram is
    # then taken, the transport binds to it, and the stranger is dropped from then on.
    with (
        UdpTransport(LOOPBACK) as device,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger,
    ):
        stranger.bind(("127.0.0.1", 0))
        controller = UdpTransport(LOOPBACK, device.local)
        try:
            stranger.sendto(b"\x04\x00\x00", device.local)
            assert receive_within(device) == b"\x04\x00\x00"
            device.settle(accepted=False)
            controller.send(b"request")
            assert receive_within(device) == b"request"
            device.settle(accepted=True)
            for _ in range(3):
                stranger.sendto(b"intruder", device.local)
            controller.send(b"next")
            assert receive_within(device) == b"next"
            assert device.send(b"reply")
            assert receive_within(controller) == b"reply"
        finally:
            controller.close()
        stranger_address = stranger.getsockname()
    assert device.peer == controller.local
    assert device.stats.strangers == 3
    assert device.stats.stranger_sources == {stranger_address: 3}
    assert device.stats.refused == 1
    assert device.stats.strangers_text() == (
        f"3 datagrams from 1 addresses ({format_endpoint(stranger_address)} x3)"
    )


@pytest.mark.network
def test_settle_without_a_datagram_in_hand_or_once_bound_changes_nothing(
    pair: tuple[UdpTransport, UdpTransport],
) -> None:
    device, controller = pair
    device.settle(accepted=True)
    assert not device.bound and device.stats.refused == 0
    controller.settle(accepted=False)  # connected from the start: bound already
    assert controller.bound and controller.peer == device.local


def test_stranger_sources_are_bounded() -> None:
    stats = UdpStats()
    for port in range(1, MAX_STRANGER_SOURCES + 10):
        stats.count_stranger(("10.0.0.1", port))
    stats.count_stranger(("10.0.0.1", 1))
    assert stats.strangers == MAX_STRANGER_SOURCES + 10
    assert len(stats.stranger_sources) == MAX_STRANGER_SOURCES
    assert stats.stranger_sources[("10.0.0.1", 1)] == 2
    assert stats.strangers_text().startswith(
        f"{MAX_STRANGER_SOURCES + 10} datagrams from {MAX_STRANGER_SOURCES}+ addresses "
        "(10.0.0.1:1 x2, "
    )
    assert UdpStats().strangers_text() == "none"


@pytest.mark.network
def test_datagrams_from_a_third_address_are_ignored_and_counted(
    pair: tuple[UdpTransport, UdpTransport],
) -> None:
    device, controller = pair
    controller.send(b"first")
    assert receive_within(device) == b"first"
    device.settle(accepted=True)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        stranger.sendto(b"intruder", device.local)
        stranger.sendto(b"intruder again", controller.local)
        time.sleep(0.05)
        controller.send(b"second")
        assert receive_within(device) == b"second"
        device.send(b"reply")
        assert receive_within(controller) == b"reply"
    assert device.stats.strangers == 1
    assert controller.stats.strangers == 1
    assert device.stats.received == 2
    assert [p.data for p in device.trace] == [b"first", b"second", b"reply"]


@pytest.mark.network
def test_receive_never_blocks_and_wait_times_out() -> None:
    with UdpTransport(LOOPBACK) as device:
        started = time.monotonic()
        assert device.receive() is None
        assert device.receive() is None
        assert time.monotonic() - started < 0.05
        assert device.counters.transport_empty_receives == 2
        started = time.monotonic()
        assert device.wait(0.1) is False
        waited = time.monotonic() - started
    assert 0.08 <= waited < 0.5


@pytest.mark.network
def test_wait_wakes_when_a_datagram_arrives(pair: tuple[UdpTransport, UdpTransport]) -> None:
    device, controller = pair
    controller.send(b"ping")
    started = time.monotonic()
    assert device.wait(5.0) is True
    assert time.monotonic() - started < 1.0
    assert device.receive() == b"ping"


@pytest.mark.network
def test_send_without_a_known_peer_is_refused_and_counted() -> None:
    with UdpTransport(LOOPBACK) as device:
        assert device.send(b"to nobody") is False
        assert device.stats.unaddressed == 1
        assert device.stats.sent == 0
        assert device.counters.transport_sends == 1
        assert device.trace == []


@pytest.mark.network
def test_oversize_datagrams_are_counted_not_raised(
    pair: tuple[UdpTransport, UdpTransport],
) -> None:
    device, controller = pair
    assert controller.send(b"x" * (MAX_DATAGRAM + 1)) is False
    assert controller.stats.oversize == 1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
        raw.bind(("127.0.0.1", 0))
        raw.sendto(b"small", device.local)
        assert receive_within(device) == b"small"
        device.settle(accepted=True)
        raw.sendto(b"y" * (MAX_DATAGRAM + 1), device.local)
        raw.sendto(b"after", device.local)
        assert receive_within(device) == b"after"
    assert device.stats.oversize == 1
    assert device.counters.transport_receives == 2


@pytest.mark.network
def test_os_errors_on_send_are_counted_not_raised() -> None:
    # Broadcast without SO_BROADCAST: the kernel refuses the datagram.
    with UdpTransport(("0.0.0.0", 0), ("255.255.255.255", 9)) as transport:
        assert transport.send(b"refused") is False
        assert transport.stats.send_errors == 1
        assert transport.stats.last_error is not None
        assert transport.stats.last_error.startswith("send:")


@pytest.mark.network
def test_trace_records_direction_time_and_bytes() -> None:
    clock = VirtualClock(start_ms=1000)
    counters = SeamCounters()
    with UdpTransport(LOOPBACK) as device:
        controller = UdpTransport(LOOPBACK, device.local, counters, clock=clock)
        try:
            controller.send(b"out")
            assert receive_within(device) == b"out"
            clock.advance(250)
            device.send(b"in")
            assert receive_within(controller) == b"in"
        finally:
            controller.close()
    assert [(p.direction, p.time_ms, p.data) for p in controller.trace] == [
        (LOCAL_TO_PEER, 1000, b"out"),
        (PEER_TO_LOCAL, 1250, b"in"),
    ]
    assert counters.transport_sends == 1 and counters.transport_send_bytes == 3
    assert counters.transport_receives == 1 and counters.transport_receive_bytes == 2
    assert counters.clock_reads == 0  # the trace peeks; it is not a seam crossing


@pytest.mark.network
def test_bind_and_resolve_failures_are_harness_errors() -> None:
    with (
        UdpTransport(LOOPBACK) as taken,
        pytest.raises(UdpSocketError, match=r"cannot listen on 127\.0\.0\.1:"),
    ):
        UdpTransport(taken.local)
    with pytest.raises(UdpSocketError, match="cannot resolve"):
        UdpTransport(("no-such-host.invalid", 1))
    with pytest.raises(UdpSocketError, match="as IPv4"):
        UdpTransport(LOOPBACK, ("::1", 5540))


@pytest.mark.network
def test_wait_after_close_returns_false() -> None:
    transport = UdpTransport(LOOPBACK)
    transport.close()
    transport.close()
    assert transport.wait(0.01) is False


@pytest.mark.network
@needs_ipv6
def test_ipv6_loopback_exchange() -> None:
    with UdpTransport(parse_endpoint("[::1]:0", allow_port_zero=True)) as device:
        assert device.family == socket.AF_INET6
        assert device.local[0] == "::1"
        target = parse_endpoint(format_endpoint(device.local))
        with UdpTransport(("::1", 0), target) as controller:
            assert controller.send(b"v6 request")
            assert receive_within(device) == b"v6 request"
            device.settle(accepted=True)
            assert device.peer == controller.local
            assert device.send(b"v6 response")
            assert receive_within(controller) == b"v6 response"
