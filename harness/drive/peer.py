"""One PASE role against a real Matter peer over UDP (``matter-harness peer``).

One core instance (the core component, or the core package natively for interop checks)
is linked to a :class:`~harness.seams.udp.UdpTransport`, the host's monotonic clock and OS
entropy (or a seeded DRBG), and driven by :func:`run_peer`:

* as **commissionee** it listens, learns the controller's address from its first
  datagram, answers the PASE handshake and, with ``expect_secured``, stays up to open the
  controller's first message on the new secure session;
* as **commissioner** it sends PBKDFParamRequest to a listening device and runs PASE to
  the device's success StatusReport, then optionally seals one message.

The loop never sleeps blindly: it polls the core, then waits on the socket until the
core's next timer (MRP retransmission, handshake deadline) or the run's timeout,
whichever is first. So a lost datagram is retransmitted by the core's own timers, and
nothing waits longer than the timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from matter_core import spake2p
from matter_core.endpoint import CoreEndpoint
from matter_core.errors import CoreError
from matter_core.pase import validate_passcode

from harness.build import build_all
from harness.drive.config import DEFAULT_ITERATIONS, DEFAULT_SALT
from harness.drive.driver import PROBE_OPCODE, PROBE_PROTOCOL_ID
from harness.drive.roles import (
    ComponentRole,
    NativeRole,
    Opened,
    RoleError,
    RoleEvent,
    RoleHandle,
    RoleStatus,
)
from harness.errors import HarnessError
from harness.project import DEFAULT_BUILD_DIR
from harness.runtime import Component, GuestTrap, Limits, Runtime
from harness.seams import (
    CountingClock,
    CountingEntropy,
    Endpoint,
    EndpointError,
    MonotonicClock,
    PacketRecord,
    SeamCounters,
    UdpStats,
    UdpTransport,
    entropy_for,
    format_endpoint,
    parse_endpoint,
    wildcard_for,
)
from harness.supply import SupplyChain
from harness.wit import ROLES, TransportSeam

DEFAULT_TIMEOUT_S = 30.0
#: A week: long enough for a device waiting on a person, finite so deadlines stay integers.
MAX_TIMEOUT_S = 7 * 24 * 3600.0
#: Extra wall time the component's epoch deadline allows beyond the run's timeout, so
#: the sandbox limit never fires before the run's own, clearer timeout.
EPOCH_GRACE_MS = 10_000
#: Secured datagrams kept for the session while the handshake still runs.
HOLD_LIMIT = 16
#: What ``send_secured`` seals: the same protocol and opcode as the driver's probe (an
#: Interaction Model ReadRequest opcode, like a real controller's first message).
PEER_PROBE = b"matter-harness peer probe"


class PeerConfigError(HarnessError):
    """Options that do not make a runnable peer (wrong role options, bad passcode...)."""


@dataclass(frozen=True)
class PeerConfig:
    """What one ``peer`` run is asked to do (validated by :func:`prepare`)."""

    role: str
    listen: Endpoint | None = None
    """Commissionee: where to listen. Commissioner: local bind (default: any, ephemeral)."""
    connect: Endpoint | None = None
    passcode: int | None = None
    verifier: bytes | None = None
    """The commissionee's w0 || L (97 bytes), instead of a passcode."""
    salt: bytes | None = None
    iterations: int | None = None
    seed: int | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    expect_secured: bool = False
    send_secured: bool = False
    native: bool = False
    core_path: Path | None = None
    """A core component to run instead of building one in ``build_dir``."""
    build_dir: Path = DEFAULT_BUILD_DIR
    memory_budget_bytes: int | None = Limits().memory_budget_bytes
    """All linear memories of the core component together (None: no budget)."""


@dataclass(frozen=True)
class PeerPlan:
    """A validated :class:`PeerConfig`: addresses resolved to a bind, secrets derived."""

    role: str
    bind: Endpoint
    connect: Endpoint | None
    passcode: int | None
    verifier: bytes | None
    salt: bytes
    iterations: int


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
        f"  seams: transport send={c.transport_sends} ({c.transport_send_bytes} B) "
        f"receive={c.transport_receives} ({c.transport_receive_bytes} B) "
        f"empty={c.transport_empty_receives}; clock reads={c.clock_reads}; "
        f"entropy calls={c.entropy_calls} ({c.entropy_bytes} B)",
        "  udp: " + ", ".join(f"{k}={v}" for k, v in result.udp.as_dict().items()),
    ]
    if result.status is not None:
        lines.append(
            f"  core: state {result.status.state}, {result.status.datagrams_sent} sent, "
            f"{result.status.datagrams_received} received"
        )
    if result.sealed_counter is not None:
        lines.append(f"  secure session: sealed one message, counter {result.sealed_counter}")
    lines.append(
        "  timings: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in result.timings.items())
    )
    return lines


def config_from_options(
    *,
    role: str,
    listen: str | None,
    connect: str | None,
    passcode: int | None,
    verifier: bytes | None,
    salt: bytes | None,
    iterations: int | None,
    seed: int | None,
    timeout_s: float,
    expect_secured: bool,
    send_secured: bool,
    native: bool,
    core_path: Path | None,
    build_dir: Path,
    memory_budget_bytes: int | None = Limits().memory_budget_bytes,
) -> PeerConfig:
    """A :class:`PeerConfig` from command-line text; bad addresses raise PeerConfigError."""
    try:
        listen_at = parse_endpoint(listen, allow_port_zero=True) if listen is not None else None
        connect_to = parse_endpoint(connect) if connect is not None else None
    except EndpointError as exc:
        raise PeerConfigError(exc.message) from None
    config = PeerConfig(
        role=role,
        listen=listen_at,
        connect=connect_to,
        passcode=passcode,
        verifier=verifier,
        salt=salt,
        iterations=iterations,
        seed=seed,
        timeout_s=timeout_s,
        expect_secured=expect_secured,
        send_secured=send_secured,
        native=native,
        core_path=core_path,
        build_dir=build_dir,
        memory_budget_bytes=memory_budget_bytes,
    )
    prepare(config)
    return config


def prepare(config: PeerConfig) -> PeerPlan:
    """Check that ``config`` makes a runnable peer; derive the commissionee's verifier."""
    if config.role not in ROLES:
        raise PeerConfigError(f"role must be one of {', '.join(ROLES)}, not {config.role!r}")
    if not 0 < config.timeout_s <= MAX_TIMEOUT_S:
        raise PeerConfigError(
            f"--timeout must be between 0 and {MAX_TIMEOUT_S:g} seconds, not {config.timeout_s}"
        )
    if config.role == "commissioner":
        return _prepare_commissioner(config)
    return _prepare_commissionee(config)


def _prepare_commissioner(config: PeerConfig) -> PeerPlan:
    _refuse(config, "commissioner", verifier="--verifier", salt="--salt", iterations="--iterations")
    if config.expect_secured:
        raise PeerConfigError("--expect-secured is for the commissionee (use --send-secured)")
    if config.connect is None:
        raise PeerConfigError("the commissioner needs --connect HOST:PORT (the device)")
    if config.passcode is None:
        raise PeerConfigError("the commissioner needs --passcode")
    _check_passcode(config.passcode)
    bind = config.listen if config.listen is not None else _wildcard(config.connect)
    return PeerPlan("commissioner", bind, config.connect, config.passcode, None, DEFAULT_SALT, 0)


def _prepare_commissionee(config: PeerConfig) -> PeerPlan:
    _refuse(config, "commissionee", connect="--connect")
    if config.send_secured:
        raise PeerConfigError("--send-secured is for the commissioner (use --expect-secured)")
    if config.listen is None:
        raise PeerConfigError("the commissionee needs --listen HOST:PORT (port 0: any)")
    salt = config.salt if config.salt is not None else DEFAULT_SALT
    iterations = config.iterations if config.iterations is not None else DEFAULT_ITERATIONS
    try:
        spake2p.validate_pbkdf_params(salt, iterations)
    except CoreError as exc:
        raise PeerConfigError(f"invalid PBKDF parameters: {exc}") from None
    if (config.passcode is None) == (config.verifier is None):
        raise PeerConfigError("the commissionee needs exactly one of --passcode or --verifier")
    if config.passcode is not None:
        _check_passcode(config.passcode)
        verifier = spake2p.compute_verifier(config.passcode, salt, iterations)
    else:
        assert config.verifier is not None
        verifier = config.verifier
        try:
            spake2p.parse_verifier(verifier)
        except CoreError as exc:
            raise PeerConfigError(f"invalid --verifier (w0 || L, 97 bytes): {exc}") from None
    return PeerPlan(
        "commissionee", config.listen, None, config.passcode, verifier, salt, iterations
    )


def _refuse(config: PeerConfig, role: str, **options: str) -> None:
    for attribute, flag in options.items():
        if getattr(config, attribute) is not None:
            raise PeerConfigError(f"{flag} does not apply to the {role}")


def _check_passcode(passcode: int) -> None:
    try:
        validate_passcode(passcode)
    except CoreError as exc:
        raise PeerConfigError(str(exc)) from None


def _wildcard(endpoint: Endpoint) -> Endpoint:
    try:
        return wildcard_for(endpoint)
    except HarnessError as exc:
        raise PeerConfigError(exc.message) from None


@dataclass
class _Session:
    """What the loop works with: the role, the socket and the clock."""

    role: RoleHandle
    udp: UdpTransport
    clock: MonotonicClock
    deadline_ms: int
    link_wake: Callable[[], int | None] | None = None
    """When a fault layer between core and socket next releases a datagram (if any)."""

    def wait_until(self, wake_ms: int | None) -> None:
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
            status, secured, sealed, failure = _drive(session, plan, config, emit or _ignore)
            timings["run"] = time.perf_counter() - started
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
    session: _Session, plan: PeerPlan, config: PeerConfig, say: Callable[[str], None]
) -> tuple[RoleStatus | None, Opened | None, int | None, str | None]:
    """The handshake, then what follows it; returns (status, opened, sealed, failure)."""
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
    status = session.role.poll()
    while not status.established and status.failure is None and not session.expired():
        session.wait_until(status.next_deadline_ms)
        status = session.role.poll()
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
        status = role.poll()  # the core keeps secured datagrams it meets here for open()
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
