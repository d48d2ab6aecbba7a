"""Guest glue of the core component (componentize-py world ``core``).

Adapts the WIT imports (transport, clock, entropy) to the small protocols the core
expects and exports :class:`matter_core.endpoint.CoreEndpoint` as ``session-control``.
No exception may escape an export: an escaping exception traps the instance with no
message, and a trapped instance cannot be entered again. So every export catches
everything and returns a WIT error value instead.

Every module used at run time is imported here, at top level: componentize-py only
bundles what is imported while the component is being built.
"""

from __future__ import annotations

import hashlib  # noqa: F401  (bundled for matter_core)
import hmac  # noqa: F401  (bundled for matter_core)
from collections.abc import Callable
from typing import TypeVar

import matter_core.aes_ccm
import matter_core.conformance
import matter_core.endpoint
import matter_core.errors
import matter_core.kdf
import matter_core.message
import matter_core.message_layer
import matter_core.mrp
import matter_core.p256
import matter_core.pase
import matter_core.pase_messages
import matter_core.pase_session
import matter_core.pase_state
import matter_core.secure_session
import matter_core.session_events
import matter_core.spake2p
import matter_core.tlv
import matter_core.tlv_elements
import matter_core.tlv_reader
import matter_core.tlv_writer
import wit_world
from componentize_py_types import Err
from wit_world.exports import conformance as conformance_types
from wit_world.exports import session_control as types
from wit_world.imports import clock, entropy, transport

_T = TypeVar("_T")

# componentize-py runs this module at build time and snapshots the heap (pre-init), so
# building the fixed-base tables for G, M and N here puts them in the component image:
# no instance pays for them at run time.
for _base in (matter_core.p256.G_BASE, matter_core.p256.M_BASE, matter_core.p256.N_BASE):
    _base.prepare()

_KINDS = {
    "invalid-argument": types.ErrorKind.INVALID_ARGUMENT,
    "wrong-state": types.ErrorKind.WRONG_STATE,
    "decode": types.ErrorKind.DECODE,
    "protocol": types.ErrorKind.PROTOCOL,
    "confirmation-failed": types.ErrorKind.CONFIRMATION_FAILED,
    "peer-status": types.ErrorKind.PEER_STATUS,
    "timeout": types.ErrorKind.TIMEOUT,
    "crypto": types.ErrorKind.CRYPTO,
    "internal": types.ErrorKind.INTERNAL,
}


def _error_value(exc: BaseException) -> types.CoreError:
    if isinstance(exc, matter_core.errors.CoreError):
        return types.CoreError(
            kind=_KINDS.get(exc.kind, types.ErrorKind.INTERNAL),
            message=exc.message,
            general_code=exc.general_code,
            protocol_code=exc.protocol_code,
        )
    return types.CoreError(
        kind=types.ErrorKind.INTERNAL,
        message=f"{type(exc).__name__}: {exc}",
        general_code=matter_core.errors.GENERAL_FAILURE,
        protocol_code=matter_core.errors.PROTOCOL_INVALID_PARAMETER,
    )


def _guard(call: Callable[[], _T]) -> _T:
    """Run an export body; any exception becomes a WIT error value (never a trap)."""
    try:
        return call()
    except Err:
        raise
    except BaseException as exc:
        raise Err(_error_value(exc)) from None


class _Transport:
    def send(self, datagram: bytes) -> bool:
        return transport.send(datagram)

    def receive(self) -> bytes | None:
        return transport.receive()


class _Clock:
    def now_ms(self) -> int:
        return clock.now_ms()


class _Entropy:
    def random_bytes(self, n: int) -> bytes:
        data = entropy.random_bytes(n)
        if len(data) != n:
            raise matter_core.errors.CoreError(
                f"entropy seam returned {len(data)} bytes, asked for {n}"
            )
        return bytes(data)


_ENDPOINT = matter_core.endpoint.CoreEndpoint(_Transport(), _Clock(), _Entropy())

_ROLES = {
    matter_core.pase.Role.COMMISSIONER: types.Role.COMMISSIONER,
    matter_core.pase.Role.COMMISSIONEE: types.Role.COMMISSIONEE,
}


_EVENT_KINDS = {
    matter_core.session_events.EventKind.ESTABLISHED: types.EventKind.ESTABLISHED,
    matter_core.session_events.EventKind.FAILED: types.EventKind.FAILED,
    matter_core.session_events.EventKind.MESSAGE_OPENED: types.EventKind.MESSAGE_OPENED,
}


def _event(event: matter_core.session_events.SessionEvent) -> types.SessionEvent:
    return types.SessionEvent(kind=_EVENT_KINDS[event.kind], at_ms=event.at_ms)


def _status(status: matter_core.endpoint.SessionStatus) -> types.SessionStatus:
    return types.SessionStatus(
        role=_ROLES[status.role],
        state=status.state,
        established=status.established,
        local_session_id=status.local_session_id,
        peer_session_id=status.peer_session_id,
        transcript_hash=status.transcript_hash,
        next_deadline_ms=status.next_deadline_ms,
        failure=None if status.failure is None else _error_value(status.failure),
        datagrams_sent=status.datagrams_sent,
        datagrams_received=status.datagrams_received,
        dropped=[types.DropCount(reason=reason, count=count) for reason, count in status.dropped],
        retransmissions=status.retransmissions,
        acks_sent=status.acks_sent,
    )


class SessionControl(wit_world.exports.SessionControl):
    """The ``session-control`` export: one PASE session per instance."""

    def start_commissioner(self, config: types.CommissionerConfig) -> types.SessionStatus:
        return _guard(lambda: _status(_ENDPOINT.start_commissioner(config.passcode)))

    def start_commissionee(self, config: types.CommissioneeConfig) -> types.SessionStatus:
        return _guard(
            lambda: _status(
                _ENDPOINT.start_commissionee(
                    bytes(config.verifier), bytes(config.pbkdf.salt), config.pbkdf.iterations
                )
            )
        )

    def poll(self) -> types.SessionStatus:
        return _guard(lambda: _status(_ENDPOINT.poll()))

    def status(self) -> types.SessionStatus:
        return _guard(lambda: _status(_ENDPOINT.status()))

    def seal(self, protocol_id: int, opcode: int, payload: bytes) -> int:
        return _guard(lambda: _ENDPOINT.seal(protocol_id, opcode, bytes(payload)))

    def open(self) -> types.SecuredMessage | None:
        def body() -> types.SecuredMessage | None:
            message = _ENDPOINT.open()
            if message is None:
                return None
            return types.SecuredMessage(
                protocol_id=message.protocol_id,
                opcode=message.opcode,
                payload=message.payload,
                message_counter=message.message_counter,
            )

        return _guard(body)

    def take_events(self) -> list[types.SessionEvent]:
        return _guard(lambda: [_event(event) for event in _ENDPOINT.take_events()])


class Conformance(wit_world.exports.Conformance):
    """The ``conformance`` export: vector inputs in, computed values out."""

    def passcode_verifier(self, passcode: int, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
        return _guard(
            lambda: matter_core.conformance.passcode_verifier(passcode, bytes(salt), iterations)
        )

    def spake2p_exchange(
        self, input: conformance_types.Spake2pInput
    ) -> conformance_types.Spake2pOutput:
        def body() -> conformance_types.Spake2pOutput:
            values = matter_core.conformance.spake2p_exchange(
                bytes(input.context),
                bytes(input.id_prover),
                bytes(input.id_verifier),
                bytes(input.w0),
                bytes(input.w1),
                bytes(input.x),
                bytes(input.y),
            )
            return conformance_types.Spake2pOutput(**values)

        return _guard(body)

    def session_keys(self, ke: bytes) -> bytes:
        return _guard(lambda: matter_core.conformance.session_key_block(bytes(ke)))

    def ccm_decrypt(self, key: bytes, nonce: bytes, aad: bytes, data: bytes) -> bytes:
        return _guard(
            lambda: matter_core.aes_ccm.AesCcm(bytes(key)).decrypt(
                bytes(nonce), bytes(data), bytes(aad)
            )
        )

    def ccm_encrypt(self, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        return _guard(
            lambda: matter_core.aes_ccm.AesCcm(bytes(key)).encrypt(
                bytes(nonce), bytes(plaintext), bytes(aad)
            )
        )
