"""Driving a PASE handshake between two role handles, and proving the secure session.

The driver is the same for every placement of the core (native, one component per
role, the composed graph): it polls both roles in a fixed order, advances the virtual
clock one millisecond per round (or jumps to the next timer deadline when nothing moved),
and stops when both roles are established, one has failed and the other has settled,
or the deadline passes. With a seed, everything it does is deterministic.

When the link between the roles holds datagrams back (the fault model of
:mod:`harness.seams.linkfaults`: delay, reorder), the driver also wakes at the link's next
release time. A *link adversary* (``adversary``) is called before each round with the
round number and an ``inject(receiver_role, datagram)`` function that delivers an
arbitrary datagram to that role through the link (counted ``injected``), so a test can
interleave stray datagrams with the real ones, over the host loopback or inside the
composed graph alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from harness.drive.roles import RoleError, RoleEvent, RoleHandle, RoleStatus
from harness.errors import HarnessError

#: Virtual milliseconds a handshake may take before the driver gives up.
DEFAULT_DEADLINE_MS = 120_000
#: Rounds after one role failed, to let the failure StatusReport reach the other.
SETTLE_ROUNDS = 4
#: Interaction Model protocol and an opcode used only for the secure-session probe.
PROBE_PROTOCOL_ID = 0x0001
PROBE_OPCODE = 0x02
#: After a faulted handshake, how many more times the receiver of a probe is asked to
#: open it (each call drains a bounded number of leftover handshake datagrams).
PROBE_OPEN_ATTEMPTS = 64


@dataclass(frozen=True)
class HandshakeParams:
    """What the two roles are given."""

    passcode: int
    salt: bytes
    iterations: int
    verifier: bytes
    """The commissionee's w0 || L (from ``verifier_passcode``, normally the same passcode)."""


@dataclass
class HandshakeOutcome:
    """What happened: both statuses, rounds, virtual time and wall time."""

    commissioner: RoleStatus
    commissionee: RoleStatus
    rounds: int
    virtual_ms: int
    seconds: float
    timed_out: bool = False
    secure_probe: list[str] = field(default_factory=list)
    secure_seconds: float = 0.0
    events: dict[str, list[RoleEvent]] = field(default_factory=dict)
    """What each role's core reported (established, failed, message-opened), by role."""

    def take_events(self, *roles: RoleHandle) -> None:
        """Add what ``roles`` reported since they were last asked to :attr:`events`."""
        for role in roles:
            self.events.setdefault(role.label, []).extend(role.take_events())

    @property
    def established(self) -> bool:
        """Both roles reached ESTABLISHED with the same transcript hash."""
        return (
            self.commissioner.established
            and self.commissionee.established
            and self.commissioner.transcript_hash == self.commissionee.transcript_hash
        )

    @property
    def transcript_hash(self) -> bytes:
        """The transcript hash both roles agree on (empty if they do not)."""
        return self.commissioner.transcript_hash if self.established else b""


Injector = Callable[[str, bytes], None]
"""``inject(receiver_role, datagram)``: deliver ``datagram`` to that role through the link."""
LinkAdversary = Callable[[int, Injector], None]
"""``adversary(round, inject)``: called before each round's polls (rounds count from 1)."""


@runtime_checkable
class WatchingAdversary(Protocol):
    """A link adversary that also watches: told both roles' status after each round."""

    def __call__(self, round_: int, inject: Injector) -> None:
        """Called before the round's polls (see :data:`LinkAdversary`)."""
        ...

    def observe(self, round_: int, commissioner: RoleStatus, commissionee: RoleStatus) -> None:
        """Called after the round's polls with what each role reported."""
        ...


class Link(Protocol):
    """What the driver needs of the link between the roles (host loopback or graph)."""

    def next_release_ms(self) -> int | None:
        """When a held or delayed datagram next becomes deliverable (None: nothing held)."""
        ...

    def inject(self, receiver: str, datagram: bytes) -> None:
        """Deliver ``datagram`` to the role ``receiver`` now, as if its peer had sent it."""
        ...

    def calm(self) -> None:
        """Stop applying faults to new datagrams (what is held is still delivered)."""
        ...


class Clock(Protocol):
    """What the driver needs of a clock: read without counting, and move forward."""

    def peek(self) -> int:
        """Current time in ms."""
        ...

    def advance_to(self, when_ms: int) -> None:
        """Move (or wait) forward to ``when_ms``."""
        ...


def drive_handshake(
    commissioner: RoleHandle,
    commissionee: RoleHandle,
    clock: Clock,
    params: HandshakeParams,
    *,
    deadline_ms: int = DEFAULT_DEADLINE_MS,
    on_round: Callable[[int, RoleStatus, RoleStatus], None] | None = None,
    link: Link | None = None,
    adversary: LinkAdversary | None = None,
) -> HandshakeOutcome:
    """Run PASE between the two roles until it ends or ``deadline_ms`` of clock time pass.

    ``link`` (needed with ``adversary``) is asked for its next release time whenever
    nothing moved, so held and delayed datagrams arrive; ``adversary`` is called before
    each round (see the module docstring).
    """
    if adversary is not None and link is None:
        raise ValueError("a link adversary needs the link to inject through")
    started = time.perf_counter()
    start_ms = clock.peek()
    commissionee.start_commissionee(params.verifier, params.salt, params.iterations)
    commissioner.start_commissioner(params.passcode)
    rounds = 0
    settle = 0
    last_activity: tuple[int, ...] = ()
    timed_out = False
    watcher = adversary if isinstance(adversary, WatchingAdversary) else None
    while True:
        rounds += 1
        if adversary is not None and link is not None:
            adversary(rounds, link.inject)
        status_i = commissioner.poll()
        status_r = commissionee.poll()
        if on_round is not None:
            on_round(rounds, status_i, status_r)
        if watcher is not None:
            watcher.observe(rounds, status_i, status_r)
        if status_i.established and status_r.established:
            break
        if status_i.failure is not None or status_r.failure is not None:
            both_done = status_i.failure is not None and status_r.failure is not None
            settle += 1
            if both_done or settle > SETTLE_ROUNDS:
                break
        activity = (
            status_i.datagrams_sent,
            status_i.datagrams_received,
            status_r.datagrams_sent,
            status_r.datagrams_received,
        )
        now = clock.peek()
        if now - start_ms >= deadline_ms:
            timed_out = True
            break
        if activity == last_activity:
            deadlines = [
                d for d in (status_i.next_deadline_ms, status_r.next_deadline_ms) if d is not None
            ]
            release = link.next_release_ms() if link is not None else None
            if release is not None:
                deadlines.append(max(release, now + 1))  # always move: it is due next round
            if not deadlines and settle == 0:
                timed_out = True  # nothing in flight and nothing scheduled: stuck
                break
            clock.advance_to(min(deadlines) if deadlines else now + 1)
        else:
            clock.advance_to(now + 1)
        last_activity = activity
    outcome = HandshakeOutcome(
        commissioner=status_i,
        commissionee=status_r,
        rounds=rounds,
        virtual_ms=clock.peek() - start_ms,
        seconds=time.perf_counter() - started,
        timed_out=timed_out,
    )
    outcome.take_events(commissioner, commissionee)
    return outcome


class SecureSessionProofError(HarnessError):
    """The established session did not carry a message intact in both directions."""


def prove_secure_session(
    commissioner: RoleHandle,
    commissionee: RoleHandle,
    outcome: HandshakeOutcome,
    seed: int | None,
    *,
    clock: Clock | None = None,
    link: Link | None = None,
) -> None:
    """Seal a probe in each role and open it in the other; record what crossed.

    Session keys never leave the core: the host sees only plaintext in and plaintext out.
    The probes have no retransmission, so a faulty ``link`` is calmed first (faults apply
    to the handshake); a probe the link still delays is waited for on ``clock``.
    """
    started = time.perf_counter()
    if link is not None:
        link.calm()
    for sender, receiver in ((commissioner, commissionee), (commissionee, commissioner)):
        probe = f"matter-harness probe {sender.label}->{receiver.label} seed={seed}".encode()
        try:
            counter = sender.seal(PROBE_PROTOCOL_ID, PROBE_OPCODE, probe)
            opened = receiver.open()
            for _ in range(PROBE_OPEN_ATTEMPTS if link is not None else 0):
                if opened is not None:
                    break
                # Leftovers of a faulted handshake may still be ahead of the probe, or
                # the link may still hold it: let the receiver drain, wait for releases.
                release = link.next_release_ms() if link is not None else None
                if release is not None and clock is not None:
                    clock.advance_to(max(release, clock.peek() + 1))
                opened = receiver.open()
        except RoleError as exc:
            raise SecureSessionProofError(f"secure session probe failed: {exc}") from exc
        if opened is None:
            raise SecureSessionProofError(
                f"{receiver.label} received nothing after {sender.label} sealed a message"
            )
        if opened.payload != probe or opened.message_counter != counter:
            raise SecureSessionProofError(
                f"{receiver.label} opened a different message than {sender.label} sealed"
            )
        if (opened.protocol_id, opened.opcode) != (PROBE_PROTOCOL_ID, PROBE_OPCODE):
            raise SecureSessionProofError("the probe's protocol id or opcode changed in transit")
        outcome.secure_probe.append(
            f"{sender.label}->{receiver.label}: {len(probe)} bytes, counter {counter}"
        )
    outcome.secure_seconds = time.perf_counter() - started
    outcome.take_events(commissioner, commissionee)


def describe_failure(outcome: HandshakeOutcome) -> list[str]:
    """One line per role saying how it ended, for error messages."""
    lines = []
    for status in (outcome.commissioner, outcome.commissionee):
        if status.failure is not None:
            lines.append(f"{status.role}: FAILED ({status.failure.kind}): {status.failure.message}")
        elif status.established:
            lines.append(f"{status.role}: established")
        else:
            lines.append(f"{status.role}: stopped in state {status.state}")
    if outcome.timed_out:
        lines.append(f"the handshake did not finish within {outcome.virtual_ms} ms of clock time")
    return lines
