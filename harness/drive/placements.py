"""Where the core runs for one handshake: natively, or one core component per role.

Each ``run_*`` function builds the two roles on the same host seams (seeded or OS
entropy, a virtual or real clock, the in-memory loopback with its packet trace), drives
the handshake, proves the secure session, and returns a :class:`RunReport`. The
composed graph has its own placement in :mod:`harness.drive.composed`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from matter_core import spake2p
from matter_core.endpoint import CoreEndpoint
from matter_core.errors import CoreError
from matter_core.pase import EXCLUDED_PASSCODES, MAX_PASSCODE, validate_passcode

from harness.drive.config import RunConfig
from harness.drive.driver import (
    HandshakeOutcome,
    HandshakeParams,
    Link,
    LinkAdversary,
    SecureSessionProofError,
    drive_handshake,
    prove_secure_session,
)
from harness.drive.roles import ComponentRole, NativeRole, RoleHandle
from harness.errors import RunConfigError
from harness.runtime import Component, GuestCall, Limits, Runtime
from harness.seams import (
    Clock,
    CountingClock,
    CountingEntropy,
    FaultCounts,
    FaultEvent,
    FaultPlan,
    FaultyTransport,
    LinkFaults,
    LoopbackEndpoint,
    LoopbackLink,
    MonotonicClock,
    PacketRecord,
    SeamCounters,
    VirtualClock,
    entropy_for,
    fault_seed_material,
    transcript_digest,
)
from harness.supply import SupplyChain
from harness.wit import COMMISSIONEE, COMMISSIONER, ROLES


@dataclass
class RunReport:
    """Everything one run measured."""

    mode: str
    config: RunConfig
    outcome: HandshakeOutcome
    seams: dict[str, SeamCounters]
    trace: list[PacketRecord]
    timings: dict[str, float] = field(default_factory=dict)
    fuel: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    transport_stats: dict[str, int] = field(default_factory=dict)
    traffic_digest: bytes = b""
    runtime: str = "wasmtime"
    """Which runtime ran the components: ``wasmtime``, or ``jco`` (Node's V8)."""
    faults: FaultCounts | None = None
    """Each link fault applied (None when the run had no fault model)."""
    fault_log: list[FaultEvent] = field(default_factory=list)
    """The link faults applied, in order (the first 4096)."""

    @property
    def ok(self) -> bool:
        """The handshake established and the secure session carried both probes."""
        return self.outcome.established and self.error is None

    @property
    def transcript_hash(self) -> bytes:
        """The transcript hash the two roles agree on."""
        return self.outcome.transcript_hash

    @property
    def trace_digest(self) -> bytes:
        """The host's own digest of every datagram it carried (same framing)."""
        return transcript_digest(self.trace)


def other_passcode(passcode: int) -> int:
    """A valid passcode different from ``passcode`` (for the wrong-passcode run)."""
    candidate = passcode
    while True:
        candidate = candidate % MAX_PASSCODE + 1
        if candidate not in EXCLUDED_PASSCODES:
            return candidate


def handshake_params(config: RunConfig) -> HandshakeParams:
    """The roles' inputs; the commissionee gets a verifier for another passcode if asked."""
    try:
        validate_passcode(config.passcode)
        spake2p.validate_pbkdf_params(config.salt, config.iterations)
        device_passcode = (
            other_passcode(config.passcode) if config.wrong_passcode else config.passcode
        )
        verifier = spake2p.compute_verifier(device_passcode, config.salt, config.iterations)
    except CoreError as exc:
        raise RunConfigError(str(exc)) from exc
    return HandshakeParams(config.passcode, config.salt, config.iterations, verifier)


class Seams:
    """The host seams of one run: a clock, the run's one entropy stream, the loopback.

    Each role sees the shared clock and entropy stream through its own counting view
    (:mod:`harness.seams.counters`), so every crossing is counted once, for the role
    that made it. The entropy convention is :mod:`harness.seams.entropy`'s.

    With ``link_faults`` (``config.faults`` set, or a link adversary to serve) the
    loopback gets the seeded fault model of :mod:`harness.seams.linkfaults`, its
    decisions drawn from the run's seed material on the ``faults`` stream.
    """

    def __init__(self, config: RunConfig, *, link_faults: bool = False) -> None:
        self.counters = {role: SeamCounters() for role in ROLES}
        self.clock: Clock = MonotonicClock() if config.real_clock else VirtualClock()
        self.link = LoopbackLink(clock=self.clock)
        if link_faults:
            plan = config.faults if config.faults is not None else FaultPlan()
            self.link.faults = LinkFaults(plan, fault_seed_material(config.seed))
        self.entropy_source = entropy_for(config.seed)
        self.entropy = {
            role: CountingEntropy(self.entropy_source, self.counters[role]) for role in ROLES
        }
        self.clocks = {role: CountingClock(self.clock, self.counters[role]) for role in ROLES}
        self.transports: dict[str, LoopbackEndpoint | FaultyTransport] = {
            role: self.link.endpoint(role, self.counters[role]) for role in ROLES
        }
        if config.fault is not None:
            if config.fault not in FAULTS:
                raise RunConfigError(f"unknown fault {config.fault!r}; one of {FAULTS}")
            self.transports[COMMISSIONER] = FaultyTransport(
                self.transports[COMMISSIONER],
                fault="flip" if config.fault == "corrupt" else "truncate",
                on_sends=frozenset({FAULT_SEND}),
                offset=-10,  # inside the share: it decodes, but is not a valid point
                mask=0x5A,
                keep=40,
            )


FAULTS = ("corrupt", "truncate")
#: The commissioner's send a fault hits: its third datagram, Pake1 (after the
#: PBKDFParamRequest and the standalone ack of the PBKDFParamResponse it sends before its
#: PBKDF2). The damage lands in Pake1's payload: a well-formed message on the PASE
#: exchange, which fails the handshake; damage the message layer drops would only be
#: retransmitted away.
FAULT_SEND = 2


def drive_and_prove(
    mode: str,
    config: RunConfig,
    seams: Seams,
    roles: tuple[RoleHandle, RoleHandle],
    params: HandshakeParams,
    timings: dict[str, float],
    *,
    link: Link | None = None,
    adversary: LinkAdversary | None = None,
) -> RunReport:
    """Drive the handshake between ``roles`` on ``seams`` and, if it established, prove
    the secure session; the report of the run (shared by every placement).

    ``link`` is what carries the datagrams when it is not the host loopback of ``seams``
    (the composed graph's transport component); the host loopback is the link when it
    has a fault model. ``adversary`` is the driver's link adversary.
    """
    if link is None and seams.link.faults is not None:
        link = seams.link
    outcome = drive_handshake(
        roles[0], roles[1], seams.clock, params, link=link, adversary=adversary
    )
    timings["handshake"] = outcome.seconds
    report = RunReport(mode, config, outcome, seams.counters, seams.link.trace, timings)
    if outcome.established:
        try:
            prove_secure_session(
                roles[0], roles[1], outcome, config.seed, clock=seams.clock, link=link
            )
            timings["secure_session"] = outcome.secure_seconds
        except SecureSessionProofError as exc:
            report.error = str(exc)
    if seams.link.faults is not None:
        report.faults = seams.link.faults.counts
        report.fault_log = seams.link.faults.log
    return report


def run_native(config: RunConfig, *, adversary: LinkAdversary | None = None) -> RunReport:
    """Both roles in this process, on the host seams; ``adversary`` is called before each
    round of the handshake with an ``inject`` function (:mod:`harness.drive.driver`)."""
    params = handshake_params(config)
    seams = Seams(config, link_faults=config.faults is not None or adversary is not None)
    roles = tuple(
        NativeRole(
            role, CoreEndpoint(seams.transports[role], seams.clocks[role], seams.entropy[role])
        )
        for role in ROLES
    )
    return drive_and_prove(
        "native", config, seams, (roles[0], roles[1]), params, {}, adversary=adversary
    )


def instantiate_core(
    runtime: Runtime,
    component: Component,
    seams: Seams,
    role: str,
    limits: Limits,
) -> GuestCall:
    """One core instance for ``role``, linked to that role's host seams, in a store with
    its share of the run's memory budget (one store per role)."""
    return runtime.instantiate_with_seams(
        component,
        limits,
        f"core component ({role})",
        transport=seams.transports[role],
        clock=seams.clocks[role],
        entropy=seams.entropy[role],
        stores_in_run=len(ROLES),
    )


def run_component(
    config: RunConfig,
    runtime: Runtime,
    core_path: Path,
    *,
    supply_chain: SupplyChain | None = None,
    adversary: LinkAdversary | None = None,
    role_paths: Mapping[str, Path] | None = None,
) -> RunReport:
    """Each role in its own instance of the core component, linked to host seams.

    The core is verified by ``supply_chain`` before it is compiled (default: the
    configured trust, plus the build key of the directory holding ``core_path``).
    ``adversary``: as for :func:`run_native`. ``role_paths`` gives a role another core
    component than ``core_path`` (``{"commissionee": other}``): two different cores, one
    per role, e.g. the project's against an independent one.
    """
    params = handshake_params(config)
    timings: dict[str, float] = {}
    paths = {role: core_path for role in ROLES}
    for role, path in (role_paths or {}).items():
        if role not in paths:
            raise RunConfigError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
        paths[role] = path
    chain = supply_chain or SupplyChain.local(None, core_path.parent)
    components: dict[Path, Component] = {}
    for path in dict.fromkeys(paths.values()):
        components[path] = chain.load_component(runtime, path, role="core", timings=timings)
    seams = Seams(config, link_faults=config.faults is not None or adversary is not None)
    started = time.perf_counter()
    guests = {
        role: instantiate_core(runtime, components[paths[role]], seams, role, config.limits)
        for role in ROLES
    }
    timings["instantiate"] = time.perf_counter() - started
    fuel_before = {role: guests[role].store.get_fuel() for role in ROLES}
    roles = (
        ComponentRole(COMMISSIONER, guests[COMMISSIONER]),
        ComponentRole(COMMISSIONEE, guests[COMMISSIONEE]),
    )
    report = drive_and_prove(
        "component", config, seams, roles, params, timings, adversary=adversary
    )
    report.fuel = {role: guests[role].fuel_consumed(fuel_before[role]) for role in ROLES}
    return report
