"""Fuzz targets: one PASE role, native or in a component, fed one case at a time.

A target keeps its role (and, for a component, its instance) across cases. It holds the
role at a step of the captured handshake (:mod:`harness.drive.fuzz_cases`) and feeds it
cases while it stays there: most mutated datagrams are dropped and change nothing. Only a
case that moved or failed the session makes the next case restart the role (a fresh
session in the same instance, the role's entropy reset, the prefix replayed); only a trap
costs a new instance.

Each case ends in one outcome (:func:`classify`): ``progressed`` (the state changed),
``dropped`` (a drop was counted, nothing else changed), ``absorbed`` (neither: a standalone
acknowledgement, say), ``rejected`` with the core's error kind (the session failed, or the
call returned a typed error), or one of the failing outcomes: ``trap`` (the guest trapped),
``untyped`` (an exception that is no core error: a native Python exception, or the
component's ``internal`` error kind, which is what its export guard makes of one),
``hang`` (a case that took longer than :data:`HANG_SECONDS`, or hit the call deadline).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from matter_core.endpoint import CoreEndpoint

from harness.build import GraphRoles
from harness.drive.composed import GraphLink
from harness.drive.fuzz_cases import (
    Capture,
    FixedClock,
    FuzzError,
    QueueTransport,
    RoleEntropy,
    Step,
)
from harness.drive.roles import ComponentRole, NativeRole, RoleError, RoleHandle, RoleStatus
from harness.runtime import Component, DeadlineExceeded, GuestCall, GuestTrap, Limits, Runtime
from harness.seams import FaultPlan, fault_seed_material
from harness.wit import COMMISSIONEE, COMMISSIONER

#: A case slower than this is a hang.
HANG_SECONDS = 1.0
#: The outcomes that fail a campaign (with ``divergence``, found by comparing targets).
FAILING = frozenset({"trap", "untyped", "hang", "divergence"})
FUZZ_TARGETS = ("native", "component", "composed")


@dataclass(frozen=True)
class Observation:
    """What one case did to one target."""

    outcome: str
    kind: str | None
    state: str
    dropped: tuple[tuple[str, int], ...]
    sent: str
    """SHA-256 of what the role sent in reply (empty where it cannot be seen)."""
    seconds: float
    detail: str = ""

    @property
    def label(self) -> str:
        """The outcome with its kind for a rejection (``rejected:decode``)."""
        return f"{self.outcome}:{self.kind}" if self.outcome == "rejected" else self.outcome

    def disagreement(self, other: Observation) -> str | None:
        """How ``other`` differs in outcome, error kind, state, drops or replies; or None."""
        mine = (self.label, self.state, self.dropped)
        theirs = (other.label, other.state, other.dropped)
        if mine != theirs:
            return f"{mine} != {theirs}"
        if self.sent and other.sent and self.sent != other.sent:
            return f"replies differ: {self.sent[:16]} != {other.sent[:16]}"
        return None


def classify(
    before: RoleStatus | None,
    after: RoleStatus | None,
    error: BaseException | None,
    seconds: float,
) -> tuple[str, str | None, str]:
    """(outcome, kind, detail) of one case; see the module docstring."""
    if isinstance(error, DeadlineExceeded) or seconds > HANG_SECONDS:
        return "hang", None, f"{seconds:.3f} s" + (f": {error}" if error else "")
    if isinstance(error, GuestTrap):
        return "trap", error.cause, str(error)
    if isinstance(error, RoleError):
        if error.kind == "internal":
            return "untyped", error.kind, error.core_message
        return "rejected", error.kind, error.core_message
    if error is not None:
        return "untyped", type(error).__name__, f"{type(error).__name__}: {error}"
    if after is None:
        raise ValueError("a case with neither an error nor a status")
    if after.failure is not None and (before is None or before.failure is None):
        if after.failure.kind == "internal":
            return "untyped", "internal", after.failure.message
        return "rejected", after.failure.kind, after.failure.message
    if before is None or (after.state, after.established) != (before.state, before.established):
        return "progressed", None, after.state
    if sum(n for _, n in after.dropped) > sum(n for _, n in before.dropped):
        return "dropped", None, ""
    return "absorbed", None, ""


def _digest(datagrams: list[bytes] | None) -> str:
    if datagrams is None:
        return ""
    digest = hashlib.sha256()
    for datagram in datagrams:
        digest.update(len(datagram).to_bytes(4, "big") + datagram)
    return digest.hexdigest()


class _SwitchEntropy:
    """The entropy seam of an instance that plays either role: the current role's stream."""

    def __init__(self) -> None:
        self.streams = {role: RoleEntropy(role) for role in (COMMISSIONER, COMMISSIONEE)}
        self.current = self.streams[COMMISSIONER]

    def random_bytes(self, n: int) -> bytes:
        return self.current.random_bytes(n)


class FuzzTarget:
    """A role kept at a step and fed cases (the base of every placement)."""

    name = "target"
    #: Whether what the role sends can be seen (and so checked against the capture).
    sees_replies = True

    def __init__(self, capture: Capture) -> None:
        self.capture = capture
        self.entropy = _SwitchEntropy()
        self._step: int | None = None
        self._status: RoleStatus | None = None
        self._checked: set[int] = set()
        self.restarts = 0

    # -- what a placement provides --------------------------------------------

    def handle(self, role: str) -> RoleHandle:
        """The role handle playing ``role``."""
        raise NotImplementedError

    def deliver(self, role: str, datagram: bytes) -> None:
        """Put ``datagram`` where ``role`` receives it."""
        raise NotImplementedError

    def take_sent(self) -> list[bytes] | None:
        """What the role sent since the last call (None where it cannot be seen)."""
        return None

    def revive(self) -> None:
        """Replace a trapped instance."""

    def refuel(self) -> None:
        """Give a reused instance its full fuel again (each case gets the whole budget)."""

    # -- cases ----------------------------------------------------------------

    def restart(self, index: int) -> RoleStatus:
        """Start the role of step ``index`` afresh and replay the step's prefix."""
        step = self.capture.steps[index]
        self._step = None
        self.restarts += 1
        self.refuel()
        self.entropy.current = self.entropy.streams[step.role]
        self.entropy.current.reset()
        role = self.handle(step.role)
        if step.role == COMMISSIONER:
            status = role.start_commissioner(self.capture.passcode)
        else:
            status = role.start_commissionee(
                self.capture.verifier, self.capture.salt, self.capture.iterations
            )
        for datagram in step.prefix:
            self.deliver(step.role, datagram)
            status = role.poll()
        sent = self.take_sent()
        if sent is not None and index not in self._checked:
            self._check_replay(step, sent, status)
            self._checked.add(index)
        self._step, self._status = index, status
        return status

    def _check_replay(self, step: Step, sent: list[bytes], status: RoleStatus) -> None:
        if tuple(sent) != step.sent or status.failure is not None:
            raise FuzzError(
                f"{self.name}: replaying the prefix of {step.name} did not reproduce the "
                f"captured handshake ({len(sent)} datagrams sent, {len(step.sent)} captured)"
            )

    def run_case(self, index: int, datagram: bytes) -> Observation:
        """Feed ``datagram`` to the role held at step ``index``."""
        step = self.capture.steps[index]
        before: RoleStatus | None = None
        after: RoleStatus | None = None
        error: BaseException | None = None
        started = time.perf_counter()
        try:
            before = self._status if self._step == index else self.restart(index)
            self.refuel()
            started = time.perf_counter()
            self.deliver(step.role, datagram)
            after = self.handle(step.role).poll()
        except FuzzError:
            raise
        except Exception as exc:  # every other error is an outcome, classified below
            error = exc
        seconds = time.perf_counter() - started
        sent = self.take_sent()
        outcome, kind, detail = classify(before, after, error, seconds)
        if outcome in ("dropped", "absorbed") and after is not None:
            self._status = after
        else:
            self._step = None
        if isinstance(error, GuestTrap):
            self.revive()
        state = after.state if after is not None else "-"
        dropped = after.dropped if after is not None else ()
        return Observation(outcome, kind, state, dropped, _digest(sent), seconds, detail)


class NativeTarget(FuzzTarget):
    """The core package in this process."""

    name = "native"

    def __init__(self, capture: Capture) -> None:
        super().__init__(capture)
        self.transport = QueueTransport()
        self.role = NativeRole("native", CoreEndpoint(self.transport, FixedClock(), self.entropy))

    def handle(self, role: str) -> RoleHandle:
        return self.role

    def deliver(self, role: str, datagram: bytes) -> None:
        self.transport.inbox.append(datagram)

    def take_sent(self) -> list[bytes] | None:
        return self.transport.take_sent()


class ComponentTarget(FuzzTarget):
    """One instance of the core component on host seams, kept across cases."""

    name = "component"

    def __init__(
        self, capture: Capture, runtime: Runtime, component: Component, limits: Limits
    ) -> None:
        super().__init__(capture)
        self.runtime, self.component, self.limits = runtime, component, limits
        self.transport = QueueTransport()
        self.instances = 0
        self.role = self._instantiate()

    def _instantiate(self) -> ComponentRole:
        self.instances += 1
        guest = self.runtime.instantiate_with_seams(
            self.component,
            self.limits,
            "core component (fuzz)",
            transport=self.transport,
            clock=FixedClock(),
            entropy=self.entropy,
        )
        self.guest = guest
        return ComponentRole("component", guest)

    def refuel(self) -> None:
        _refuel(self.guest, self.limits)

    def handle(self, role: str) -> RoleHandle:
        return self.role

    def deliver(self, role: str, datagram: bytes) -> None:
        self.transport.inbox.append(datagram)

    def take_sent(self) -> list[bytes] | None:
        return self.transport.take_sent()

    def revive(self) -> None:
        self.transport.inbox.clear()
        self.role = self._instantiate()


class ComposedTarget(FuzzTarget):
    """One instance of the composed graph: cases reach the role through the transport
    component (its ``transport-faults`` role's inject); what the cores send is dropped by
    the link (and so cannot be compared). ``roles`` name the graph's exports."""

    name = "composed"
    sees_replies = False

    def __init__(
        self,
        capture: Capture,
        runtime: Runtime,
        component: Component,
        limits: Limits,
        roles: GraphRoles,
    ) -> None:
        super().__init__(capture)
        self.runtime, self.component, self.limits = runtime, component, limits
        where = "the composed graph (fuzz target)"
        self.exports = {role: roles.require(role, where) for role in (COMMISSIONER, COMMISSIONEE)}
        self.faults_export = roles.require("transport-faults", where)
        self.instances = 0
        self._instantiate()

    def _instantiate(self) -> None:
        self.instances += 1
        guest: GuestCall = self.runtime.instantiate_with_seams(
            self.component,
            self.limits,
            "composed graph (fuzz)",
            clock=FixedClock(),
            entropy=self.entropy,
        )
        self.roles: dict[str, Any] = {
            role: ComponentRole(role, guest, export) for role, export in self.exports.items()
        }
        # The link drops everything the cores send, so a role hears only the injected
        # datagrams (no leftovers of the other role's earlier session).
        self.guest = guest
        self.link = GraphLink(
            guest, FaultPlan(drop=1.0), fault_seed_material(0), self.faults_export
        )

    def handle(self, role: str) -> RoleHandle:
        handle: RoleHandle = self.roles[role]
        return handle

    def deliver(self, role: str, datagram: bytes) -> None:
        self.link.inject(role, datagram)

    def revive(self) -> None:
        self._instantiate()

    def refuel(self) -> None:
        _refuel(self.guest, self.limits)


def _refuel(guest: GuestCall, limits: Limits) -> None:
    if limits.fuel is not None and guest.dead is None:
        guest.store.set_fuel(limits.fuel)
