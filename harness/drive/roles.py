"""Role handles: one PASE role, natively or inside a component, behind one interface.

The driver (:mod:`harness.drive.driver`) pumps two :class:`RoleHandle` objects and does not
care where they run: :class:`NativeRole` calls the core package in-process;
:class:`ComponentRole` calls the ``session-control`` export of a component instance
(the core component linked to host seams, or one role of the composed graph).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from matter_core.endpoint import CoreEndpoint, SessionStatus
from matter_core.errors import CoreError

from harness.errors import HarnessError
from harness.runtime import GuestCall, GuestError, field, record
from harness.wit import SESSION_CONTROL


@dataclass(frozen=True)
class Failure:
    """Why a role failed: the core's error kind and message, and the StatusReport codes."""

    kind: str
    message: str
    general_code: int
    protocol_code: int


@dataclass(frozen=True)
class RoleStatus:
    """A role's session status, wherever the role runs."""

    role: str
    state: str
    established: bool
    local_session_id: int
    peer_session_id: int
    transcript_hash: bytes
    next_deadline_ms: int | None
    failure: Failure | None
    datagrams_sent: int
    datagrams_received: int
    dropped: tuple[tuple[str, int], ...] = ()
    """(reason, count) of the datagrams the core's message layer dropped, reasons with a
    count only, in the core's fixed order."""
    retransmissions: int = 0
    acks_sent: int = 0

    def message_layer(self) -> dict[str, Any]:
        """The MRP and message-layer counters, JSON-ready (for reports and evidence)."""
        return {
            "dropped": dict(self.dropped),
            "retransmissions": self.retransmissions,
            "acks_sent": self.acks_sent,
        }


@dataclass(frozen=True)
class Opened:
    """A message opened on the secure session."""

    protocol_id: int
    opcode: int
    payload: bytes
    message_counter: int


@dataclass(frozen=True)
class RoleEvent:
    """Something the core reported about its session: ``established``, ``failed`` or
    ``message-opened``, at the core's clock reading ``at_ms``."""

    kind: str
    at_ms: int

    def as_dict(self) -> dict[str, str | int]:
        """A JSON-ready form (for reports and evidence)."""
        return {"kind": self.kind, "at_ms": self.at_ms}


class RoleHandle(Protocol):
    """One PASE role the driver can start, poll and use."""

    label: str

    def start_commissioner(self, passcode: int) -> RoleStatus:
        """Start as commissioner."""
        ...

    def start_commissionee(self, verifier: bytes, salt: bytes, iterations: int) -> RoleStatus:
        """Start as commissionee."""
        ...

    def poll(self) -> RoleStatus:
        """Advance the session."""
        ...

    def seal(self, protocol_id: int, opcode: int, payload: bytes) -> int:
        """Encrypt and send on the secure session."""
        ...

    def open(self) -> Opened | None:
        """Receive and decrypt from the secure session."""
        ...

    def take_events(self) -> list[RoleEvent]:
        """The events the core recorded since the last call, oldest first."""
        ...


class RoleError(HarnessError):
    """A role refused a call (bad parameters, wrong state): kind and message as the core said."""

    def __init__(self, label: str, kind: str, message: str) -> None:
        super().__init__(f"{label}: {kind}: {message}")
        self.label = label
        self.kind = kind
        self.core_message = message
        """What the core said (``message`` is the whole line, with label and kind)."""


class NativeRole:
    """A role running the core package in this process."""

    def __init__(self, label: str, endpoint: CoreEndpoint) -> None:
        self.label = label
        self._endpoint = endpoint

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except CoreError as exc:
            raise RoleError(self.label, exc.kind, exc.message) from exc

    def start_commissioner(self, passcode: int) -> RoleStatus:
        """Start as commissioner."""
        return _native_status(self._call(self._endpoint.start_commissioner, passcode))

    def start_commissionee(self, verifier: bytes, salt: bytes, iterations: int) -> RoleStatus:
        """Start as commissionee."""
        status = self._call(self._endpoint.start_commissionee, verifier, salt, iterations)
        return _native_status(status)

    def poll(self) -> RoleStatus:
        """Advance the session."""
        return _native_status(self._call(self._endpoint.poll))

    def seal(self, protocol_id: int, opcode: int, payload: bytes) -> int:
        """Encrypt and send on the secure session."""
        return int(self._call(self._endpoint.seal, protocol_id, opcode, payload))

    def open(self) -> Opened | None:
        """Receive and decrypt from the secure session."""
        message = self._call(self._endpoint.open)
        if message is None:
            return None
        return Opened(message.protocol_id, message.opcode, message.payload, message.message_counter)

    def take_events(self) -> list[RoleEvent]:
        """The events the core recorded since the last call, oldest first."""
        events = self._call(self._endpoint.take_events)
        return [RoleEvent(event.kind.value, event.at_ms) for event in events]


def _native_status(status: SessionStatus) -> RoleStatus:
    failure = status.failure
    return RoleStatus(
        role=status.role.value,
        state=status.state,
        established=status.established,
        local_session_id=status.local_session_id,
        peer_session_id=status.peer_session_id,
        transcript_hash=status.transcript_hash,
        next_deadline_ms=status.next_deadline_ms,
        failure=None
        if failure is None
        else Failure(failure.kind, failure.message, failure.general_code, failure.protocol_code),
        datagrams_sent=status.datagrams_sent,
        datagrams_received=status.datagrams_received,
        dropped=tuple(status.dropped),
        retransmissions=status.retransmissions,
        acks_sent=status.acks_sent,
    )


class ComponentRole:
    """A role running inside a component instance, reached through its exports.

    ``interface`` is the export carrying session control: the core component's own
    ``session-control``, or a renamed export of the composed graph.
    """

    def __init__(self, label: str, guest: GuestCall, interface: str = SESSION_CONTROL) -> None:
        self.label = label
        self.guest = guest
        self.interface = interface

    def _call(self, name: str, *args: Any) -> Any:
        try:
            return self.guest.call(self.interface, name, *args)
        except GuestError as exc:
            raise RoleError(self.label, exc.kind, exc.guest_message) from exc

    def start_commissioner(self, passcode: int) -> RoleStatus:
        """Start as commissioner."""
        return _component_status(self._call("start-commissioner", record(passcode=passcode)))

    def start_commissionee(self, verifier: bytes, salt: bytes, iterations: int) -> RoleStatus:
        """Start as commissionee."""
        config = record(verifier=verifier, pbkdf=record(iterations=iterations, salt=salt))
        return _component_status(self._call("start-commissionee", config))

    def poll(self) -> RoleStatus:
        """Advance the session."""
        return _component_status(self._call("poll"))

    def seal(self, protocol_id: int, opcode: int, payload: bytes) -> int:
        """Encrypt and send on the secure session."""
        return int(self._call("seal", protocol_id, opcode, payload))

    def open(self) -> Opened | None:
        """Receive and decrypt from the secure session."""
        message = self._call("open")
        if message is None:
            return None
        return Opened(
            int(field(message, "protocol_id")),
            int(message.opcode),
            bytes(message.payload),
            int(field(message, "message_counter")),
        )

    def take_events(self) -> list[RoleEvent]:
        """The events the core recorded since the last call, oldest first."""
        return [
            RoleEvent(str(event.kind), int(field(event, "at_ms")))
            for event in self._call("take-events")
        ]


def _component_status(value: Any) -> RoleStatus:
    failure = value.failure
    return RoleStatus(
        role=str(value.role),
        state=str(value.state),
        established=bool(value.established),
        local_session_id=int(field(value, "local_session_id")),
        peer_session_id=int(field(value, "peer_session_id")),
        transcript_hash=bytes(field(value, "transcript_hash")),
        next_deadline_ms=field(value, "next_deadline_ms"),
        failure=None
        if failure is None
        else Failure(
            str(failure.kind),
            str(failure.message),
            int(field(failure, "general_code")),
            int(field(failure, "protocol_code")),
        ),
        datagrams_sent=int(field(value, "datagrams_sent")),
        datagrams_received=int(field(value, "datagrams_received")),
        dropped=tuple((str(entry.reason), int(entry.count)) for entry in field(value, "dropped")),
        retransmissions=int(value.retransmissions),
        acks_sent=int(field(value, "acks_sent")),
    )
