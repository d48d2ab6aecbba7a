"""One PASE role against a real Matter peer over UDP (``matter-harness peer``).

One core instance (the core component, or the core package natively for interop checks)
is linked to a :class:`~harness.seams.udp.UdpTransport`, the host's monotonic clock and OS
entropy (or a seeded DRBG), and driven by :func:`run_peer`:

* as **commissionee** it listens, hands the core datagrams from any address one at a
  time until the core accepts a PBKDFParamRequest, then binds the session to that
  sender (every other sender is dropped at the socket and counted); it answers the PASE
  handshake and, with ``expect_secured``, stays up to open the controller's first
  message on the new secure session;
* as **commissioner** it binds like a UDP client (an ephemeral port in the device's
  address family), sends PBKDFParamRequest to a listening device and runs PASE to the
  device's success StatusReport, then optionally seals one message.

After the session's outcome is known (established, or failed), the peer **lingers** for
``linger_ms``, still polling the core, so the core can acknowledge what the other side
sent last (its first secured message, a failure StatusReport) and answer a
retransmission of it: a controller never has to resend into a closed socket. The
default is :data:`DEFAULT_LINGER_MS` (its formula is there).

The loop never sleeps blindly: it polls the core, then blocks on the socket (``select``)
until a datagram arrives, the core's next timer (MRP retransmission, handshake deadline)
or the run's timeout, whichever is first. So a reply is answered as soon as it arrives, a
lost datagram is retransmitted by the core's own timers, and nothing waits longer than
the timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from matter_core.endpoint import CoreEndpoint

from harness.build import build_all
from harness.drive.driver import PROBE_OPCODE, PROBE_PROTOCOL_ID
from harness.drive.peer_config import (
    PeerConfig,
    PeerPlan,
    prepare,
)
from harness.drive.roles import (
    ComponentRole,
    NativeRole,
    Opened,
    RoleError,
    RoleEvent,
    RoleHandle,
    RoleStatus,
)
from harness.runtime import Component, GuestTrap, Limits, Runtime
from harness.seams import (
    CountingClock,
    CountingEntropy,
    Endpoint,
    MonotonicClock,
    PacketRecord,
    SeamCounters,
    UdpStats,
    UdpTransport,
    entropy_for,
    format_endpoint,
)
from harness.supply import SupplyChain
from harness.wit import TransportSeam

#: Extra wall time the component's epoch deadline allows beyond the run's timeout, so
#: the sandbox limit never fires before the run's own, clearer timeout.
EPOCH_GRACE_MS = 10_000
#: Secured datagrams kept for the session while the handshake still runs.
HOLD_LIMIT = 16
#: What ``send_secured`` seals: the same protocol and opcode as the driver's probe (an
#: Interaction Model ReadRequest opcode, like a real controller's first message).
PEER_PROBE = b"matter-harness peer probe"
#: The commissionee's state while it waits for a PBKDFParamRequest: until the core leaves
#: it, the listening socket is bound to nobody.
WAITING_FOR_REQUEST = "EXPECT_PBKDF_PARAM_REQUEST"
#: Core states after which a sender is not bound (nothing was accepted from it).
_NOT_ACCEPTED = frozenset({WAITING_FOR_REQUEST, "FAILED", "IDLE"})


@dataclass
class Linger:
    """What happened while the peer lingered after the outcome was known."""

    ms: int = 0
    """How long it lingered (0: it did not)."""
    received: int = 0
    """Datagrams the core took from the peer meanwhile."""
    sent: int = 0
    """Datagrams the core sent meanwhile (acknowledgements, answers to retransmissions)."""
    opened: int = 0
    """Further secured messages opened (and dropped: the run already has its result)."""
    refused: list[str] = field(default_factory=list)
    """What the core refused meanwhile (a datagram it could not open), at most a few."""


@dataclass
class PeerResult:
    """How one peer run ended, and what crossed the seams."""

    role: str
    local: Endpoint
    peer: Endpoint | None
    status: RoleStatus | None
    failure: str | None
    secured: Opened | None
    sealed_counter: int | None
    trace: list[PacketRecord]
    counters: SeamCounters
    udp: UdpStats
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    events: list[RoleEvent] = field(default_factory=list)
    """What the core reported about its session (established, failed, message-opened)."""
    linger: Linger = field(default_factory=Linger)

    @property
    def established(self) -> bool:
        """The PASE session reached ESTABLISHED."""
        return self.status is not None and self.status.established

    @property
    def ok(self) -> bool:
        """Established, and everything asked for afterwards happened."""
        return self.established and self.failure is None

    @property
    def transcript_hash(self) -> bytes:
        """The core's transcript hash (empty until established)."""
        return self.status.transcript_hash if self.status is not None else b""

    @property
    def peer_text(self) -> str:
        """The peer's address as text ("none" if no datagram ever arrived)."""
        return format_endpoint(self.peer) if self.peer is not None else "none"


def success_line(peer: Endpoint | None, transcript_hash: bytes) -> str:
    """The ``PASE-RUNS-OK`` line for an established session."""
    peer_text = format_endpoint(peer) if peer is not None else "none"
    return f"PASE-RUNS-OK peer={peer_text} transcript={transcript_hash.hex()}"


def secured_line(message: Opened) -> str:
    """The line printed for the peer's first secured message."""
    return (
        f"SECURED-MESSAGE protocol=0x{message.protocol_id:04x} opcode=0x{message.opcode:02x} "
        f"counter={message.message_counter} payload={len(message.payload)} bytes"
    )


def summary_lines(result: PeerResult) -> list[str]:
    """Indented detail lines: datagrams, seam crossings, socket statistics, timings."""
    c = result.counters
    lines = [
        f"  {result.role} on {format_endpoint(result.local)}, peer {result.peer_text}: "
        f"{len(result.trace)} datagrams on the wire",
        f"  seam crossings: transport send={c.transport_sends} ({c.transport_send_bytes} B) "
        f"receive={c.transport_receives} ({c.transport_receive_bytes} B) "
        f"empty-polls={c.transport_empty_receives}; clock reads={c.clock_reads}; "
        f"entropy calls={c.entropy_calls} ({c.entropy_bytes} B)",
        "  udp: " + ", ".join(f"{k}={v}" for k, v in result.udp.as_dict().items()),
        f"  strangers (dropped at the socket): {result.udp.strangers_text()}",
    ]
    if result.status is not None:
        lines.append(
            f"  core: state {result.status.state}, {result.status.datagrams_sent} sent, "
            f"{result.status.datagrams_received} received"
        )
    if result.sealed_counter is not None:
        lines.append(f"  secure session: sealed one message, counter {result.sealed_counter}")
    linger = result.linger
    if linger.ms:
        refused = f", refused: {'; '.join(linger.refused)}" if linger.refused else ""
        lines.append(
            f"  linger: {linger.ms} ms, {linger.received} datagrams taken, {linger.sent} sent, "
            f"{linger.opened} further secured messages{refused}"
        )
    lines.append(
        "  timings: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in result.timings.items())
    )
    return lines


@dataclass
class _Session:
    """What the loop works with: the role, the socket and the clock."""

    role: RoleHandle
    udp: UdpTransport
    clock: MonotonicClock
    deadline_ms: int
    link_wake: Callable[[], int | None] | None = None
    """When a fault layer between core and socket next releases a datagram (if any)."""

    def poll(self) -> RoleStatus:
        """Poll the core, then settle the datagram it was handed while not yet bound:
        bind to its sender only if the core accepted it as a PBKDFParamRequest."""
        status = self.role.poll()
        self.udp.settle(accepted=status.state not in _NOT_ACCEPTED)
        return status

    def wait_until(self, wake_ms: int | None) -> None:
        """Block on the socket until a datagram arrives, ``wake_ms`` or the deadline."""
        release = self.link_wake() if self.link_wake is not None else None
        if release is not None:
            wake_ms = release if wake_ms is None else min(wake_ms, release)
        now = self.clock.peek()
        target = self.deadline_ms if wake_ms is None else min(wake_ms, self.deadline_ms)
        self.udp.wait(max(0, target - now) / 1000)

    def expired(self) -> bool:
        return self.clock.peek() >= self.deadline_ms


def run_peer(
    config: PeerConfig,
    *,
    runtime: Runtime | None = None,
    supply_chain: SupplyChain | None = None,
    on_ready: Callable[[Endpoint], None] | None = None,
    emit: Callable[[str], None] | None = None,
    progress: Callable[[str], None] | None = None,
    wrap_transport: Callable[[UdpTransport], TransportSeam] | None = None,
) -> PeerResult:
    """Run one PASE role against a peer over UDP until it ends or the timeout passes.

    ``on_ready`` is called with the bound address once the core is ready and the socket
    open (before any datagram is sent); ``emit`` receives the result lines as they happen
    (``PASE-RUNS-OK ...``, ``SECURED-MESSAGE ...``); ``wrap_transport`` puts a fault
    injector between the core and the socket. The core component is verified by
    ``supply_chain`` before it is compiled (default: the configured trust plus the build
    key of ``config.build_dir``). Raises :class:`PeerConfigError` or another
    :class:`HarnessError` (a refused component: ``ComponentRejected``) for a peer that
    cannot start; a handshake that fails is a result with ``ok`` false, never an exception.
    """
    plan = prepare(config)
    timings: dict[str, float] = {}
    counters = SeamCounters()
    clock = MonotonicClock()
    own_runtime = runtime is None and not config.native
    if own_runtime:
        runtime = Runtime(config.build_dir / "cache")
    try:
        component: Component | None = None
        if runtime is not None and not config.native:
            started = time.perf_counter()
            chain = supply_chain or SupplyChain.local(None, config.build_dir)
            component = _load_core(config, runtime, chain, progress)
            timings["load"] = time.perf_counter() - started
        with UdpTransport(plan.bind, plan.connect, counters, clock=clock) as udp:
            # Every datagram goes to the core as it came: the core alone decides what it is.
            transport = wrap_transport(udp) if wrap_transport is not None else udp
            seams = _CoreSeams(transport, clock, counters, config.seed)
            role = _make_role(plan, config, seams, runtime, component)
            if on_ready is not None:
                on_ready(udp.local)
            deadline = clock.peek() + int(config.timeout_s * 1000)
            wake = getattr(transport, "next_release_ms", None)  # a FaultyDatagramTransport
            session = _Session(role, udp, clock, deadline, wake)
            started = time.perf_counter()
            status, secured, sealed, failure = _drive(
                session, plan, config, emit or _ignore, timings
            )
            linger = _linger(session, status, plan.linger_ms)
            timings["run"] = time.perf_counter() - started
            if linger.ms:
                timings["linger"] = timings["run"] - timings.get("outcome", timings["run"])
            return PeerResult(
                role=plan.role,
                local=udp.local,
                peer=udp.peer,
                status=status,
                failure=failure,
                secured=secured,
                sealed_counter=sealed,
                trace=udp.trace,
                counters=counters,
                udp=udp.stats,
                seconds=timings["run"],
                timings=timings,
                events=_events(role),
                linger=linger,
            )
    finally:
        if own_runtime and runtime is not None:
            runtime.close()


class _CoreSeams:
    """The core's views of the seams: each crossing counted once in ``counters``; the
    loop itself reads the clock without counting (:mod:`harness.seams.counters`). The
    entropy is the run's one stream (:mod:`harness.seams.entropy`)."""

    def __init__(
        self,
        transport: TransportSeam,
        clock: MonotonicClock,
        counters: SeamCounters,
        seed: int | None,
    ) -> None:
        self.transport = transport
        self.clock = CountingClock(clock, counters)
        self.entropy = CountingEntropy(entropy_for(seed), counters)


def _make_role(
    plan: PeerPlan,
    config: PeerConfig,
    seams: _CoreSeams,
    runtime: Runtime | None,
    component: Component | None,
) -> RoleHandle:
    """The core natively, or one instance of the core component, on ``seams``."""
    if runtime is None or component is None:
        return NativeRole(plan.role, CoreEndpoint(seams.transport, seams.clock, seams.entropy))
    limits = Limits(
        deadline_ms=int(config.timeout_s * 1000) + EPOCH_GRACE_MS,
        memory_budget_bytes=config.memory_budget_bytes,
    )
    guest = runtime.instantiate_with_seams(
        component,
        limits,
        f"core component ({plan.role})",
        transport=seams.transport,
        clock=seams.clock,
        entropy=seams.entropy,
    )
    return ComponentRole(plan.role, guest)


def _events(role: RoleHandle) -> list[RoleEvent]:
    """What the core reported about its session (nothing from a core that trapped)."""
    try:
        return role.take_events()
    except (RoleError, GuestTrap):
        return []


def _ignore(_line: str) -> None:
    """Where result lines go when nobody listens for them."""


def _load_core(
    config: PeerConfig,
    runtime: Runtime,
    chain: SupplyChain,
    progress: Callable[[str], None] | None,
) -> Component:
    path = config.core_path
    if path is None:
        built = build_all(config.build_dir, names=["core"], progress=progress, supply_chain=chain)
        path = built["core"].path
    return chain.load_component(runtime, path, role="core")


def _drive(
    session: _Session,
    plan: PeerPlan,
    config: PeerConfig,
    say: Callable[[str], None],
    timings: dict[str, float],
) -> tuple[RoleStatus | None, Opened | None, int | None, str | None]:
    """The handshake, then what follows it; returns (status, opened, sealed, failure).

    ``timings`` gains ``handshake`` (start to established or failed) and ``outcome``
    (start to the moment the run's result was known, before lingering)."""
    started = time.perf_counter()
    try:
        return _drive_role(session, plan, config, say, timings, started)
    finally:
        timings["outcome"] = time.perf_counter() - started
        timings.setdefault("handshake", timings["outcome"])


def _drive_role(
    session: _Session,
    plan: PeerPlan,
    config: PeerConfig,
    say: Callable[[str], None],
    timings: dict[str, float],
    started: float,
) -> tuple[RoleStatus | None, Opened | None, int | None, str | None]:
    role = session.role
    status: RoleStatus | None = None
    try:
        if plan.role == "commissioner":
            assert plan.passcode is not None
            status = role.start_commissioner(plan.passcode)
        else:
            assert plan.verifier is not None
            status = role.start_commissionee(plan.verifier, plan.salt, plan.iterations)
        status = _handshake(session)
        timings["handshake"] = time.perf_counter() - started
        if not status.established:
            return status, None, None, _handshake_failure(session, status, config)
        say(success_line(session.udp.peer, status.transcript_hash))
        if plan.role == "commissioner":
            sealed = None
            if config.send_secured:
                sealed = role.seal(PROBE_PROTOCOL_ID, PROBE_OPCODE, PEER_PROBE)
            return status, None, sealed, None
        status, opened, failure = _after_establishment(session, status, config)
        if opened is not None:
            say(secured_line(opened))
        return status, opened, None, failure
    except RoleError as exc:
        return status, None, None, f"the core refused a call: {exc.kind}: {exc.core_message}"
    except GuestTrap as exc:
        return status, None, None, str(exc)


def _handshake(session: _Session) -> RoleStatus:
    """Poll, then sleep on the socket until the core's next timer or the timeout."""
    status = session.poll()
    while not status.established and status.failure is None and not session.expired():
        session.wait_until(status.next_deadline_ms)
        status = session.poll()
    return status


def _after_establishment(
    session: _Session, status: RoleStatus, config: PeerConfig
) -> tuple[RoleStatus, Opened | None, str | None]:
    """Keep answering the handshake (a lost StatusReport, the final ack) and open the
    controller's first secured message; returns (status, opened, failure)."""
    role = session.role
    while True:
        try:
            opened = role.open()
        except RoleError as exc:
            return status, None, f"cannot open the peer's secured message: {exc}"
        if opened is not None:
            return status, opened, None
        status = session.poll()  # the core keeps secured datagrams it meets here for open()
        if status.failure is not None:
            return status, None, _core_failure(status)
        if not config.expect_secured and status.next_deadline_ms is None:
            return status, None, None  # our StatusReport was acknowledged
        if session.expired():
            missing = (
                f"no secured message from the peer within {config.timeout_s:g} s "
                "after the session was established"
            )
            return status, None, missing if config.expect_secured else None
        session.wait_until(status.next_deadline_ms)


def _linger(session: _Session, status: RoleStatus | None, linger_ms: int) -> Linger:
    """Keep polling the core for ``linger_ms`` after the outcome is known, so it can
    acknowledge the peer's last message and answer a retransmission of it.

    Nothing here changes the run's result: what the core refuses is only recorded. A peer
    that never bound to anyone (nobody came) or a core that trapped does not linger.
    """
    linger = Linger()
    if linger_ms <= 0 or status is None or not session.udp.bound:
        return linger
    role, counters = session.role, session.udp.counters
    received, sent = counters.transport_receives, counters.transport_sends
    started = session.clock.peek()
    end = started + linger_ms
    try:
        while True:
            if status.established:
                linger.opened += _drain_secured(role, linger)
            status = session.poll()
            now = session.clock.peek()
            if now >= end:
                break
            wake = status.next_deadline_ms
            session.udp.wait(max(0, (end if wake is None else min(wake, end)) - now) / 1000)
    except GuestTrap as exc:
        _note(linger, str(exc))
    except RoleError as exc:
        _note(linger, f"{exc.kind}: {exc.core_message}")
    linger.ms = max(1, session.clock.peek() - started)
    linger.received = counters.transport_receives - received
    linger.sent = counters.transport_sends - sent
    return linger


#: Refusals kept in :attr:`Linger.refused`.
_MAX_LINGER_NOTES = 4
#: ``open()`` calls in one turn of the linger loop, at most (a flood cannot pin it).
MAX_OPENS_PER_TURN = 64


def _drain_secured(role: RoleHandle, linger: Linger) -> int:
    """Open the secured datagrams waiting (at most a socket's worth per call); the
    number opened."""
    opened = 0
    for _ in range(MAX_OPENS_PER_TURN):
        try:
            message = role.open()
        except RoleError as exc:
            _note(linger, f"{exc.kind}: {exc.core_message}")
            continue
        if message is None:
            break
        opened += 1
    return opened


def _note(linger: Linger, text: str) -> None:
    if len(linger.refused) < _MAX_LINGER_NOTES:
        linger.refused.append(text)


def _core_failure(status: RoleStatus) -> str:
    assert status.failure is not None
    return f"PASE failed in the core ({status.failure.kind}): {status.failure.message}"


def _handshake_failure(session: _Session, status: RoleStatus, config: PeerConfig) -> str:
    if status.failure is not None:
        text = _core_failure(status)
    elif status.datagrams_received == 0:
        who = (
            "no controller connected"
            if session.udp.peer is None
            else f"no answer from {format_endpoint(session.udp.peer)}"
        )
        text = f"timed out after {config.timeout_s:g} s: {who} (state {status.state})"
    else:
        text = (
            f"timed out after {config.timeout_s:g} s in state {status.state} "
            f"({status.datagrams_sent} datagrams sent, {status.datagrams_received} received)"
        )
    if session.udp.stats.last_error:
        text += f"; last socket error: {session.udp.stats.last_error}"
    return text
