"""The transport seam over a real UDP socket, for running PASE against real Matter peers.

:class:`UdpTransport` has the transport seam's shape (``send`` / ``receive``, never
blocking), so it can be linked to the core component or handed to the native
:class:`~matter_core.endpoint.CoreEndpoint` exactly like the in-memory loopback. It adds
what a real network needs, and :meth:`UdpTransport.wait` so a driver can sleep until a
datagram arrives or a timer is due.

A connecting controller is bound to the device's address from the start. A listening
device is not bound to anyone until its core accepts a PBKDFParamRequest: until then it
hands the core datagrams from any address **one at a time** (the next one only after the
driver has settled the last, :meth:`~UdpTransport.settle`), and replies go to the sender of the
datagram in hand (Matter devices answer the port a request came from). The driver, which
reads the core's state, settles each one: accepted (the core moved past waiting for a
PBKDFParamRequest) binds the transport to that sender; refused forgets it. A stranger's
datagram therefore can neither lock the device onto the stranger nor shut out the real
controller. Once bound, datagrams from any other address are dropped here and counted
(:attr:`UdpStats.strangers`, per address in :attr:`UdpStats.stranger_sources`).

Network failures never reach the guest as exceptions: a datagram the OS refuses is
counted and ``send`` returns False, which the core treats like a lost datagram and
retransmits from its MRP timers.
"""

from __future__ import annotations

import contextlib
import ipaddress
import select
import socket
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.errors import HarnessError
from harness.seams.counters import SeamCounters
from harness.seams.loopback import MAX_DATAGRAM, PacketRecord

#: A host (IP literal or name) and a port, as the user gave them or the OS reports them.
Endpoint = tuple[str, int]

#: The largest datagram read from the socket in one call (the UDP maximum).
RECEIVE_BUFFER = 65_535
#: Datagrams from other addresses skipped in one ``receive`` call before it gives up,
#: so a flood from a stranger cannot keep the caller inside the seam.
MAX_SKIPPED_PER_RECEIVE = 64
#: Stranger addresses counted one by one; datagrams from further ones are counted only in
#: the total (a flood from many source ports cannot grow the table without bound).
MAX_STRANGER_SOURCES = 32

LOCAL_TO_PEER = "local->peer"
PEER_TO_LOCAL = "peer->local"


class EndpointError(HarnessError):
    """An address given as text that is not ``HOST:PORT`` or ``[IPv6]:PORT``."""


class UdpSocketError(HarnessError):
    """The UDP socket could not be opened or bound, or the peer address not resolved."""


def parse_endpoint(text: str, *, allow_port_zero: bool = False) -> Endpoint:
    """Parse ``HOST:PORT`` or ``[IPv6]:PORT`` (a scope like ``[fe80::1%eth0]`` is kept).

    Port 0 (an ephemeral port) is accepted only with ``allow_port_zero``, which makes
    sense for an address to listen on, never for a peer to connect to.
    """
    text = text.strip()
    if not text:
        raise EndpointError("empty address: expected HOST:PORT or [IPv6]:PORT")
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise EndpointError(f"address {text!r} opens '[' but never closes it")
        host, rest = text[1:close], text[close + 1 :]
        if not rest.startswith(":"):
            raise EndpointError(f"address {text!r} has no port: expected [IPv6]:PORT")
        port_text = rest[1:]
        _require_ipv6(host, text)
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise EndpointError(f"address {text!r} has no port: expected HOST:PORT")
        if ":" in host:
            raise EndpointError(
                f"address {text!r}: an IPv6 address needs brackets, e.g. [{host}]:{port_text}"
            )
    if not host:
        raise EndpointError(f"address {text!r} has no host")
    if not port_text.isdigit():
        raise EndpointError(f"address {text!r}: port {port_text!r} is not a number")
    port = int(port_text)
    low = 0 if allow_port_zero else 1
    if not low <= port <= 65_535:
        raise EndpointError(f"address {text!r}: port {port} is outside {low}..65535")
    return host, port


def _require_ipv6(host: str, text: str) -> None:
    try:
        ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError:
        raise EndpointError(
            f"address {text!r}: {host!r} in brackets is not an IPv6 address"
        ) from None


def format_endpoint(endpoint: Endpoint) -> str:
    """``HOST:PORT``, with brackets around an IPv6 host."""
    host, port = endpoint
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def endpoint_of(sockaddr: Any) -> Endpoint:
    """(host, port) of a socket address, with IPv4-mapped IPv6 shown as IPv4."""
    host, port = str(sockaddr[0]), int(sockaddr[1])
    bare, _, scope = host.partition("%")
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        return host, port
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped), port
    return (f"{ip}%{scope}" if scope else str(ip)), port


def _resolve(endpoint: Endpoint, family: int, *, passive: bool) -> tuple[int, Any]:
    host, port = endpoint
    try:
        infos = socket.getaddrinfo(
            host,
            port,
            family=family,
            type=socket.SOCK_DGRAM,
            flags=socket.AI_PASSIVE if passive else 0,
        )
    except socket.gaierror as exc:
        names: dict[int, str] = {socket.AF_INET: " as IPv4", socket.AF_INET6: " as IPv6"}
        wanted = names.get(family, "")
        raise UdpSocketError(
            f"cannot resolve {format_endpoint(endpoint)}{wanted}: {exc.strerror}"
        ) from None
    family_found, _type, _proto, _canon, sockaddr = infos[0]
    return int(family_found), sockaddr


class PacketClock(Protocol):
    """What the trace needs of a clock: the time, read without counting a seam crossing."""

    def peek(self) -> int:
        """Current time in ms."""
        ...


@dataclass
class UdpStats:
    """What the socket saw beyond the seam counters: drops, strangers and OS errors."""

    sent: int = 0
    received: int = 0
    unbound: int = 0
    """Datagrams handed to the core before the transport was bound to a sender."""
    refused: int = 0
    """Of those, the ones after which the core still waited (a stranger's, or junk)."""
    strangers: int = 0
    """Datagrams from other addresses than the bound peer, dropped here."""
    oversize: int = 0
    unaddressed: int = 0
    send_errors: int = 0
    receive_errors: int = 0
    last_error: str | None = None
    stranger_sources: dict[Endpoint, int] = field(default_factory=dict)
    """Dropped strangers' datagrams per source address (the first
    :data:`MAX_STRANGER_SOURCES` addresses)."""

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain mapping (for reports)."""
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int)}

    def count_stranger(self, source: Endpoint) -> None:
        """Count one dropped datagram from ``source``."""
        self.strangers += 1
        if source in self.stranger_sources or len(self.stranger_sources) < MAX_STRANGER_SOURCES:
            self.stranger_sources[source] = self.stranger_sources.get(source, 0) + 1

    def strangers_text(self) -> str:
        """``N datagrams from M addresses (ADDR xK, ...)``, the busiest first, or "none"."""
        if not self.strangers:
            return "none"
        top = sorted(self.stranger_sources.items(), key=lambda item: -item[1])[:3]
        shown = ", ".join(f"{format_endpoint(a)} x{n}" for a, n in top)
        more = "+" if len(self.stranger_sources) >= MAX_STRANGER_SOURCES else ""
        return (
            f"{self.strangers} datagrams from {len(self.stranger_sources)}{more} "
            f"addresses ({shown})"
        )


@dataclass(eq=False)
class UdpTransport:
    """A non-blocking UDP socket with the transport seam's shape and a per-packet trace.

    ``bind`` picks the address family (IPv4 or IPv6) and the local port (0: ephemeral).
    With ``peer`` given (a controller connecting to a device) the transport is bound from
    the start: every datagram goes there and only datagrams from there are taken. With
    ``peer`` None (a listening device) :meth:`receive` hands out one datagram from any
    address and then nothing until the driver calls :meth:`settle`, which binds the
    transport to that datagram's sender (``peer`` is then set) or forgets it. Once bound,
    datagrams from any other address are dropped and counted in :attr:`stats`.
    """

    bind: Endpoint
    peer: Endpoint | None = None
    counters: SeamCounters = field(default_factory=SeamCounters)
    clock: PacketClock | None = None
    trace: list[PacketRecord] = field(default_factory=list)
    stats: UdpStats = field(default_factory=UdpStats)

    def __post_init__(self) -> None:
        family, bind_addr = _resolve(self.bind, socket.AF_UNSPEC, passive=True)
        self._family = family
        self._peer_addr: Any = None
        self._peer_key: Endpoint | None = None
        # Before binding: the sender of the datagram handed out and not yet settled.
        self._candidate_addr: Any = None
        self._candidate: Endpoint | None = None
        if self.peer is not None:
            _family, self._peer_addr = _resolve(self.peer, family, passive=False)
            self._peer_key = endpoint_of(self._peer_addr)
        try:
            self._sock = socket.socket(family, socket.SOCK_DGRAM)
        except OSError as exc:
            raise UdpSocketError(f"cannot open a UDP socket: {exc.strerror}") from None
        try:
            self._sock.bind(bind_addr)
        except OSError as exc:
            self._sock.close()
            raise UdpSocketError(
                f"cannot listen on {format_endpoint(self.bind)}: {exc.strerror}",
                hint="pick another port, or use port 0 for an ephemeral one",
            ) from None
        self._sock.setblocking(False)
        self._local = endpoint_of(self._sock.getsockname())

    # -- the transport seam ------------------------------------------------------

    def send(self, datagram: bytes) -> bool:
        """Send one datagram to the peer; False (counted) when it cannot go out."""
        data = bytes(datagram)
        self.counters.transport_sends += 1
        self.counters.transport_send_bytes += len(data)
        if len(data) > MAX_DATAGRAM:
            self.stats.oversize += 1
            return False
        # Bound: the peer. Not yet: whoever sent the datagram the core is answering.
        target = self._peer_addr if self._peer_addr is not None else self._candidate_addr
        if target is None:
            # A listening device has nobody to answer yet.
            self.stats.unaddressed += 1
            return False
        try:
            self._sock.sendto(data, target)
        except OSError as exc:
            self.stats.send_errors += 1
            self.stats.last_error = f"send: {exc.strerror or exc}"
            return False
        self.stats.sent += 1
        self.trace.append(PacketRecord(LOCAL_TO_PEER, self._now(), data))
        return True

    def receive(self) -> bytes | None:
        """The next datagram for the core, or None when none is waiting (never blocks).

        Bound: the next datagram from the peer. Not bound: the next datagram from anyone,
        but only when the previous one has been settled (:meth:`settle`).
        """
        if self._peer_key is None and self._candidate is not None:
            self.counters.transport_empty_receives += 1
            return None
        for _ in range(MAX_SKIPPED_PER_RECEIVE):
            try:
                data, sockaddr = self._sock.recvfrom(RECEIVE_BUFFER)
            except BlockingIOError:
                break
            except OSError as exc:
                # e.g. an ICMP port-unreachable reported on the next read.
                self.stats.receive_errors += 1
                self.stats.last_error = f"receive: {exc.strerror or exc}"
                break
            source = endpoint_of(sockaddr)
            if self._peer_key is not None and source != self._peer_key:
                self.stats.count_stranger(source)
                continue
            if len(data) > MAX_DATAGRAM:
                self.stats.oversize += 1
                continue
            if self._peer_key is None:
                self._candidate_addr, self._candidate = sockaddr, source
                self.stats.unbound += 1
            self.stats.received += 1
            self.counters.transport_receives += 1
            self.counters.transport_receive_bytes += len(data)
            self.trace.append(PacketRecord(PEER_TO_LOCAL, self._now(), data))
            return data
        self.counters.transport_empty_receives += 1
        return None

    # -- for the driver ----------------------------------------------------------

    @property
    def bound(self) -> bool:
        """True once every datagram goes to, and is taken only from, one peer."""
        return self._peer_key is not None

    @property
    def candidate(self) -> Endpoint | None:
        """Not yet bound: the sender of the datagram handed out and not yet settled."""
        return self._candidate

    def settle(self, *, accepted: bool) -> None:
        """Decide on the datagram handed out while not bound (no-op without one).

        ``accepted`` (the core moved past waiting for a PBKDFParamRequest right after it)
        binds the transport to its sender; otherwise the sender is forgotten, counted in
        :attr:`UdpStats.refused`, and the next datagram from anyone may be handed out.
        """
        if self._peer_key is not None or self._candidate is None:
            return
        if accepted:
            self._peer_addr, self._peer_key = self._candidate_addr, self._candidate
            self.peer = self._candidate
        else:
            self.stats.refused += 1
        self._candidate_addr, self._candidate = None, None

    def wait(self, timeout_s: float | None) -> bool:
        """Sleep until a datagram is waiting or ``timeout_s`` passes (None: no limit).

        True when the socket is readable; the datagram may still be one that
        :meth:`receive` ignores.
        """
        if self._sock.fileno() < 0:
            return False
        timeout = None if timeout_s is None else max(0.0, timeout_s)
        try:
            readable, _w, _x = select.select([self._sock], [], [], timeout)
        except (OSError, ValueError) as exc:
            self.stats.receive_errors += 1
            self.stats.last_error = f"wait: {exc}"
            return False
        return bool(readable)

    @property
    def local(self) -> Endpoint:
        """The address the socket is bound to (with the port the OS chose)."""
        return self._local

    @property
    def family(self) -> int:
        """``socket.AF_INET`` or ``socket.AF_INET6``."""
        return self._family

    def close(self) -> None:
        """Close the socket."""
        with contextlib.suppress(OSError):
            self._sock.close()

    def __enter__(self) -> UdpTransport:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _now(self) -> int:
        return self.clock.peek() if self.clock is not None else 0


def wildcard_for(endpoint: Endpoint) -> Endpoint:
    """An any-address, ephemeral-port bind address in ``endpoint``'s family.

    A controller that was given only the device's address binds here; the family must
    match, since an IPv4 socket cannot reach an IPv6 peer.
    """
    family, _addr = _resolve(endpoint, socket.AF_UNSPEC, passive=False)
    return ("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0)
