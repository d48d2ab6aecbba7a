"""Where the core runs for one handshake: natively, or one core component per role.

Each ``run_*`` function builds the two roles on the same host seams (seeded or OS
entropy, a virtual or real clock, the in-memory loopback with its packet trace), drives
the handshake, proves the secure session, and returns a :class:`RunReport`. The
composed graph has its own placement in :mod:`harness.composed_run`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import wasmtime.component as wc
from matter_core import spake2p
from matter_core.endpoint import CoreEndpoint
from matter_core.errors import CoreError
from matter_core.pase import EXCLUDED_PASSCODES, MAX_PASSCODE, validate_passcode

from harness.driver import (
    HandshakeOutcome,
    HandshakeParams,
    SecureSessionProofError,
    drive_handshake,
    prove_secure_session,
)
from harness.errors import HarnessError
from harness.roles import ComponentRole, NativeRole, RoleHandle
from harness.runtime import GuestCall, Limits, Runtime, link_seams
from harness.seams import (
    FaultyTransport,
    LoopbackEndpoint,
    LoopbackLink,
    MonotonicClock,
    OsEntropy,
    PacketRecord,
    SeamCounters,
    SeededEntropy,
    VirtualClock,
    transcript_digest,
)
from harness.supply_chain import SupplyChain

DEFAULT_PASSCODE = 20202021
DEFAULT_SALT = b"SPAKE2P Key Salt"
DEFAULT_ITERATIONS = 1000
ROLES = ("commissioner", "commissionee")


class RunConfigError(HarnessError):
    """Run parameters that the core would reject (bad passcode, salt or iterations)."""


@dataclass(frozen=True)
class RunConfig:
    """Parameters of one handshake run."""

    seed: int | None = None
    passcode: int = DEFAULT_PASSCODE
    salt: bytes = DEFAULT_SALT
    iterations: int = DEFAULT_ITERATIONS
    wrong_passcode: bool = False
    real_clock: bool = False
    limits: Limits = field(default_factory=Limits)
    fault: str | None = None
    """Fault injected on the host loopback (negative runs): ``corrupt`` flips a byte of
    the third datagram (Pake1) in flight, ``truncate`` cuts it in half."""


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
    """The host seams of one run: a clock, one entropy stream per role, the loopback."""

    def __init__(self, config: RunConfig) -> None:
        self.counters = {role: SeamCounters() for role in ROLES}
        self.clock: VirtualClock | MonotonicClock = (
            MonotonicClock() if config.real_clock else VirtualClock()
        )
        self.link = LoopbackLink(clock=self.clock)
        # One entropy stream for the whole run, drawn from in the driver's fixed call
        # order: the composed graph has a single entropy import shared by both cores, so
        # a per-role stream could not be reproduced there.
        self.entropy_source: SeededEntropy | OsEntropy = (
            SeededEntropy(config.seed, "run") if config.seed is not None else OsEntropy()
        )
        self.entropy = {
            role: _CountingEntropy(self.entropy_source, self.counters[role]) for role in ROLES
        }
        self.transports: dict[str, LoopbackEndpoint | FaultyTransport] = {
            role: self.link.endpoint(role, self.counters[role]) for role in ROLES
        }
        if config.fault is not None:
            if config.fault not in FAULTS:
                raise RunConfigError(f"unknown fault {config.fault!r}; one of {FAULTS}")
            self.transports["commissioner"] = FaultyTransport(
                self.transports["commissioner"],
                fault="flip" if config.fault == "corrupt" else "truncate",
                on_sends=frozenset({FAULT_SEND}),
                offset=-10,  # inside the share: it decodes, but is not a valid point
                mask=0x5A,
                keep=40,
            )
        self.clocks = {role: _CountingClock(self.clock, self.counters[role]) for role in ROLES}


FAULTS = ("corrupt", "truncate")
#: The commissioner's send a fault hits: its second datagram, Pake1.
FAULT_SEND = 1


class _CountingClock:
    """A per-role view of the shared clock that counts that role's reads."""

    def __init__(self, clock: VirtualClock | MonotonicClock, counters: SeamCounters) -> None:
        self._clock = clock
        self._counters = counters

    def now_ms(self) -> int:
        self._counters.clock_reads += 1
        return self._clock.peek()


class _CountingEntropy:
    """A per-role view of the run's entropy stream that counts that role's draws."""

    def __init__(self, source: SeededEntropy | OsEntropy, counters: SeamCounters) -> None:
        self._source = source
        self._counters = counters

    def random_bytes(self, n: int) -> bytes:
        data = self._source.random_bytes(n)
        self._counters.entropy_calls += 1
        self._counters.entropy_bytes += n
        return data


def drive_and_prove(
    mode: str,
    config: RunConfig,
    seams: Seams,
    roles: tuple[RoleHandle, RoleHandle],
    params: HandshakeParams,
    timings: dict[str, float],
) -> RunReport:
    """Drive the handshake between ``roles`` on ``seams`` and, if it established, prove
    the secure session; the report of the run (shared by every placement)."""
    outcome = drive_handshake(roles[0], roles[1], seams.clock, params)
    timings["handshake"] = outcome.seconds
    report = RunReport(mode, config, outcome, seams.counters, seams.link.trace, timings)
    if outcome.established:
        try:
            prove_secure_session(roles[0], roles[1], outcome, config.seed)
            timings["secure_session"] = outcome.secure_seconds
        except SecureSessionProofError as exc:
            report.error = str(exc)
    return report


def run_native(config: RunConfig) -> RunReport:
    """Both roles in this process, on the host seams."""
    params = handshake_params(config)
    seams = Seams(config)
    roles = tuple(
        NativeRole(
            role, CoreEndpoint(seams.transports[role], seams.clocks[role], seams.entropy[role])
        )
        for role in ROLES
    )
    return drive_and_prove("native", config, seams, (roles[0], roles[1]), params, {})


def instantiate_core(
    runtime: Runtime,
    component: wc.Component,
    seams: Seams,
    role: str,
    limits: Limits,
) -> GuestCall:
    """One core instance for ``role``, linked to that role's host seams."""
    linker = wc.Linker(runtime.engine)
    link_seams(
        linker,
        transport=seams.transports[role],
        clock=seams.clocks[role],
        entropy=seams.entropy[role],
    )
    store = runtime.new_store(limits)
    return runtime.instantiate(linker, store, component, f"core component ({role})")


def run_component(
    config: RunConfig,
    runtime: Runtime,
    core_path: Path,
    *,
    supply_chain: SupplyChain | None = None,
) -> RunReport:
    """Each role in its own instance of the core component, linked to host seams.

    The core is verified by ``supply_chain`` before it is compiled (default: the
    configured trust, plus the build key of the directory holding ``core_path``).
    """
    params = handshake_params(config)
    timings: dict[str, float] = {}
    chain = supply_chain or SupplyChain.local(None, core_path.parent)
    component = chain.load_component(runtime, core_path, role="core", timings=timings)
    seams = Seams(config)
    started = time.perf_counter()
    guests = {
        role: instantiate_core(runtime, component, seams, role, config.limits) for role in ROLES
    }
    timings["instantiate"] = time.perf_counter() - started
    fuel_before = {role: guests[role].store.get_fuel() for role in ROLES}
    roles = (
        ComponentRole("commissioner", guests["commissioner"]),
        ComponentRole("commissionee", guests["commissionee"]),
    )
    report = drive_and_prove("component", config, seams, roles, params, timings)
    report.fuel = {role: guests[role].fuel_consumed(fuel_before[role]) for role in ROLES}
    return report
