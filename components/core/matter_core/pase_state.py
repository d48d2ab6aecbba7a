"""The PASE state machine as data: the roles, the states and the transition table.

The whole handshake is the table :data:`TRANSITIONS` (in the style of h11's
``_state.py``): for each role and state, the opcodes it accepts and the state each one
leads to. :func:`next_state` applies it; a message with no entry is a protocol error.
Framing, acknowledgements and retransmission live beside this module, in
:mod:`matter_core.pase_session`, and the two roles in :mod:`matter_core.pase`.
"""

from __future__ import annotations

import enum

from matter_core.errors import RemoteProtocolError
from matter_core.message import SecureChannelOpcode


class Role(enum.Enum):
    """Which side of PASE a session plays."""

    COMMISSIONER = "commissioner"
    COMMISSIONEE = "commissionee"


class State(enum.Enum):
    """Session states, named for what the session expects next."""

    IDLE = "IDLE"
    EXPECT_PBKDF_PARAM_REQUEST = "EXPECT_PBKDF_PARAM_REQUEST"
    EXPECT_PBKDF_PARAM_RESPONSE = "EXPECT_PBKDF_PARAM_RESPONSE"
    EXPECT_PAKE1 = "EXPECT_PAKE1"
    EXPECT_PAKE2 = "EXPECT_PAKE2"
    EXPECT_PAKE3 = "EXPECT_PAKE3"
    EXPECT_STATUS_REPORT = "EXPECT_STATUS_REPORT"
    ESTABLISHED = "ESTABLISHED"
    FAILED = "FAILED"


OP = SecureChannelOpcode
"""Short name for :class:`~matter_core.message.SecureChannelOpcode`, used by the table."""

#: The state machine: (role, state) -> {opcode accepted: next state}. Anything missing
#: is a protocol error. FAILED and ESTABLISHED accept no handshake message.
TRANSITIONS: dict[tuple[Role, State], dict[SecureChannelOpcode, State]] = {
    (Role.COMMISSIONER, State.EXPECT_PBKDF_PARAM_RESPONSE): {
        OP.PBKDF_PARAM_RESPONSE: State.EXPECT_PAKE2,
        OP.STATUS_REPORT: State.FAILED,
    },
    (Role.COMMISSIONER, State.EXPECT_PAKE2): {
        OP.PASE_PAKE2: State.EXPECT_STATUS_REPORT,
        OP.STATUS_REPORT: State.FAILED,
    },
    (Role.COMMISSIONER, State.EXPECT_STATUS_REPORT): {
        OP.STATUS_REPORT: State.ESTABLISHED,
    },
    (Role.COMMISSIONEE, State.EXPECT_PBKDF_PARAM_REQUEST): {
        OP.PBKDF_PARAM_REQUEST: State.EXPECT_PAKE1,
    },
    (Role.COMMISSIONEE, State.EXPECT_PAKE1): {
        OP.PASE_PAKE1: State.EXPECT_PAKE3,
        OP.STATUS_REPORT: State.FAILED,
    },
    (Role.COMMISSIONEE, State.EXPECT_PAKE3): {
        OP.PASE_PAKE3: State.ESTABLISHED,
        OP.STATUS_REPORT: State.FAILED,
    },
}


def next_state(role: Role, state: State, opcode: int) -> State:
    """The state after ``role`` in ``state`` receives ``opcode``; raises on a missing entry."""
    accepted = TRANSITIONS.get((role, state), {})
    try:
        return accepted[SecureChannelOpcode(opcode)]
    except (KeyError, ValueError):
        expected = ", ".join(op.name for op in accepted) or "no handshake message"
        raise RemoteProtocolError(
            f"unexpected message (opcode 0x{opcode:02x}) in state {state.value}: "
            f"expected {expected}"
        ) from None
