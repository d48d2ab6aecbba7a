"""Who may talk to a PASE role, on which exchange, and what it knows about the session ids.

Matter Core Specification 1.0, §4.4.3 Protocol Header Field Descriptions: every message
of an exchange carries the exchange id its initiator chose and the I flag set exactly on
the initiator's messages. A role takes only messages that continue its own exchange; the
message layer drops any other (see test_message_layer_and_mrp.py). The commissioner's
exchange id, node
id, counter and session id come from the entropy seam in the order :mod:`matter_core.pase`
documents, so a scripted entropy source decides them.
"""

from __future__ import annotations

from collections import deque

from helpers import (
    ITERATIONS,
    PASSCODE,
    SALT,
    HmacCounterEntropy,
    ScriptedEntropy,
    verifier_for,
)
from matter_core.endpoint import CoreEndpoint
from matter_core.message import SecureChannelOpcode, UnsecuredMessage
from matter_core.pase import Commissionee, Commissioner
from matter_core.pase_messages import PBKDFParamRequest

OP = SecureChannelOpcode
FAILURE_STATUS = bytes.fromhex("0100 00000000 0200")


# Messages on another exchange, from another node, with the wrong I flag and the like are
# dropped by the message layer, not fatal: see test_message_layer_and_mrp.py.


def _scripted_commissioner(exchange: bytes, *session_draws: bytes) -> tuple[bytes, ScriptedEntropy]:
    """Start a commissioner on scripted entropy; returns its request and the script."""
    entropy = ScriptedEntropy(
        [
            bytes.fromhex("78563412"),  # message counter (masked to 28 bits)
            bytes.fromhex("0807060504030201"),  # ephemeral node id
            exchange,
            *session_draws,
            bytes(range(32)),  # initiator random
            b"\x00",  # MRP jitter of the PBKDFParamRequest
        ]
    )
    commissioner = Commissioner(PASSCODE, entropy=entropy, now_ms=0)
    commissioner.start(0)
    (request,) = commissioner.datagrams_to_send()
    return request, entropy


def test_commissioner_exchange_id_is_the_drawn_value() -> None:
    request, entropy = _scripted_commissioner(b"\xcd\xab", b"\x00\x00", b"\x34\x12")
    assert entropy.requests == [4, 8, 2, 2, 2, 32, 1]  # session id 0 is drawn again
    assert entropy.remaining == 0
    message = UnsecuredMessage.decode(request)
    assert message.protocol.exchange_id == 0xABCD  # little-endian, as drawn
    assert message.protocol.initiator
    assert message.header.source_node_id == 0x0102030405060708
    assert message.header.message_counter == 0x02345678
    payload = PBKDFParamRequest.decode(message.payload)
    assert payload.initiator_session_id == 0x1234
    assert payload.initiator_random == bytes(range(32))


def test_commissioner_exchange_id_zero_is_kept_not_redrawn() -> None:
    # Session id 0 is the unsecured session and is redrawn; exchange id 0 is an ordinary
    # 16-bit exchange id (§4.4.3), so it is drawn once and kept.
    request, entropy = _scripted_commissioner(b"\x00\x00", b"\x01\x00")
    assert entropy.requests == [4, 8, 2, 2, 32, 1]
    assert UnsecuredMessage.decode(request).protocol.exchange_id == 0


# --- session ids before and after they are known ---------------------------------------


def test_session_ids_read_zero_until_known_then_the_negotiated_values() -> None:
    entropy = HmacCounterEntropy(31, "commissioner")
    commissioner = Commissioner(PASSCODE, entropy=entropy, now_ms=0)
    verifier = verifier_for(PASSCODE, SALT, ITERATIONS)
    commissionee = Commissionee(
        verifier, SALT, ITERATIONS, entropy=HmacCounterEntropy(31, "commissionee"), now_ms=0
    )
    drawn = int.from_bytes(entropy.draws[3], "little")  # counter, node id, exchange id, this
    # The commissioner draws its own id at construction; nobody knows the peer's yet.
    assert commissioner.local_session_id == drawn != 0
    assert commissioner.peer_session_id == 0
    assert commissionee.local_session_id == 0
    assert commissionee.peer_session_id == 0

    commissionee.start(0)
    commissioner.start(0)
    assert (commissionee.local_session_id, commissionee.peer_session_id) == (0, 0)
    assert commissioner.peer_session_id == 0
    (request,) = commissioner.datagrams_to_send()
    commissionee.receive_datagram(request, 0)
    assert commissionee.peer_session_id == commissioner.local_session_id
    assert commissionee.local_session_id != 0
    assert commissioner.peer_session_id == 0
    (response,) = commissionee.datagrams_to_send()
    commissioner.receive_datagram(response, 0)
    assert commissioner.peer_session_id == commissionee.local_session_id


class _Inbox:
    """A transport that only collects what is sent."""

    def __init__(self) -> None:
        self.sent: deque[bytes] = deque()

    def send(self, datagram: bytes) -> bool:
        self.sent.append(datagram)
        return True

    def receive(self) -> bytes | None:
        return None


class _Clock:
    def now_ms(self) -> int:
        return 0


def test_endpoint_status_reports_session_id_zero_until_known() -> None:
    device = CoreEndpoint(_Inbox(), _Clock(), HmacCounterEntropy(32, "commissionee"))
    status = device.start_commissionee(verifier_for(PASSCODE, SALT, ITERATIONS), SALT, ITERATIONS)
    assert (status.local_session_id, status.peer_session_id) == (0, 0)

    controller = CoreEndpoint(_Inbox(), _Clock(), HmacCounterEntropy(32, "commissioner"))
    status = controller.start_commissioner(PASSCODE)
    assert status.local_session_id != 0
    assert status.peer_session_id == 0
