"""A listening commissionee under a flood of hostile datagrams, then a real commissioner.

5,000 datagrams from another socket: random bytes, and mutations of a real handshake's
datagrams (bit flips, truncations, extensions, changed header fields), half of them sent
before the commissioner starts and half while it runs PASE. The device must neither
fail nor bind to the stranger, and then complete PASE with our own commissioner (the
core natively on both sides: the binding is the host's, the dropping the core's, and
both are the same code in the component).

The mutants exclude the few that are still a well-formed PBKDFParamRequest: a stranger
that sends a valid request is a commissioner, and opening a session with it is what a
device in its commissioning window must do. That holds for the flood *during* the
handshake too: it starts as the commissioner does, so its first datagrams may reach the
device before the commissioner's request has bound it (on a loaded machine, a valid
request among them once bound the device to the stranger).
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from matter_core.errors import CoreError
from matter_core.message import ProtocolId, SecureChannelOpcode, UnsecuredMessage
from matter_core.pase_messages import PBKDFParamRequest

from harness.drive.peer import PeerResult, run_peer
from harness.drive.peer_config import PeerConfig
from harness.seams.udp import LOCAL_TO_PEER, PEER_TO_LOCAL, Endpoint, UdpTransport
from harness.wit import TransportSeam

pytestmark = [pytest.mark.slow, pytest.mark.network]

PASSCODE = 20202021
SEED = 23
TOTAL = 5_000
BATCH = 50
#: Every wait for the device is bounded by this (a loaded CI machine included).
WAIT_S = 30.0
DEVICE = PeerConfig(
    role="commissionee",
    listen=("127.0.0.1", 0),
    passcode=PASSCODE,
    seed=SEED,
    timeout_s=60,
    native=True,
)


def commissioner(address: Endpoint) -> PeerConfig:
    """Our commissioner, natively, seeded like the device."""
    return PeerConfig(
        role="commissioner",
        connect=address,
        passcode=PASSCODE,
        seed=SEED,
        timeout_s=30,
        native=True,
    )


class Grab:
    """A ``wrap_transport`` that only remembers the device's UDP transport."""

    def __init__(self) -> None:
        self.udp: UdpTransport | None = None
        self.ready = threading.Event()

    def __call__(self, udp: UdpTransport) -> TransportSeam:
        self.udp = udp
        self.ready.set()
        return udp


def run_device(config: PeerConfig, grab: Grab) -> tuple[threading.Thread, dict[str, object]]:
    """The device in a thread; its result lands in the returned box."""
    box: dict[str, object] = {}

    def serve() -> None:
        try:
            box["result"] = run_peer(config, wrap_transport=grab)
        except BaseException as exc:  # surfaced by the test
            box["error"] = exc
            grab.ready.set()

    thread = threading.Thread(target=serve, name="commissionee", daemon=True)
    thread.start()
    assert grab.ready.wait(WAIT_S), "the commissionee never started"
    assert "error" not in box, box
    return thread, box


def finish(thread: threading.Thread, box: dict[str, object]) -> PeerResult:
    thread.join(WAIT_S)
    assert not thread.is_alive(), "the commissionee did not finish"
    assert "error" not in box, box
    result = box["result"]
    assert isinstance(result, PeerResult)
    return result


@pytest.fixture(scope="module")
def handshake() -> list[bytes]:
    """The datagrams of one real handshake over UDP (both directions), to mutate."""
    grab = Grab()
    thread, box = run_device(DEVICE, grab)
    assert grab.udp is not None
    controller = run_peer(commissioner(grab.udp.local))
    device = finish(thread, box)
    assert device.ok and controller.ok
    return [p.data for p in device.trace if p.direction in (LOCAL_TO_PEER, PEER_TO_LOCAL)]


# -- the mutants -----------------------------------------------------------------------------

#: Byte offsets of message-header fields: flags, session id (2), security flags, counter (4).
HEADER_FIELDS = [0, 1, 2, 3, 4, 5, 6, 7]


def mutate(rng: random.Random, original: bytes) -> bytes:
    """One mutant of ``original``: flip, truncate, extend, or rewrite a header field."""
    data = bytearray(original)
    kind = rng.randrange(6)
    if kind == 0 and data:  # flip one to eight bits
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == 1:  # truncate
        del data[rng.randrange(len(data) + 1) :]
    elif kind == 2:  # extend with random bytes
        data += rng.randbytes(rng.randint(1, 64))
    elif kind == 3 and len(data) > 8:  # rewrite a message-header field byte
        data[rng.choice(HEADER_FIELDS)] = rng.randrange(256)
    elif kind == 4 and len(data) > 16:  # rewrite a protocol-header byte (flags, opcode, ids)
        data[rng.randrange(8, 17)] = rng.randrange(256)
    else:  # splice two halves of different lengths
        cut = rng.randrange(len(data) + 1)
        data = data[:cut] + data[cut:][::-1]
    return bytes(data)


def is_valid_request(datagram: bytes) -> bool:
    """Whether ``datagram`` still decodes as a PBKDFParamRequest on the Secure Channel."""
    try:
        message = UnsecuredMessage.decode(datagram)
        if (
            message.protocol.protocol_id != ProtocolId.SECURE_CHANNEL
            or message.protocol.opcode != SecureChannelOpcode.PBKDF_PARAM_REQUEST
        ):
            return False
        PBKDFParamRequest.decode(message.payload)
    except CoreError:
        return False
    return True


def mutants(handshake: list[bytes], count: int, rng: random.Random) -> Iterator[bytes]:
    """``count`` hostile datagrams: a quarter random bytes, the rest mutants."""
    for _ in range(count):
        if rng.random() < 0.25:
            yield rng.randbytes(rng.randint(0, 200))
        else:
            yield mutate(rng, rng.choice(handshake))


def handed(udp: UdpTransport) -> int:
    """Datagrams the device has taken off its socket so far (to the core or dropped)."""
    stats = udp.stats
    return stats.received + stats.strangers + stats.oversize


def wait_for(condition: object, seconds: float = WAIT_S) -> bool:
    assert callable(condition)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.002)
    return bool(condition())


# -- the test --------------------------------------------------------------------------------


def test_commissionee_survives_5000_hostile_datagrams_then_completes_pase(
    handshake: list[bytes],
) -> None:
    rng = random.Random(SEED)
    hostile = [m for m in mutants(handshake, TOTAL * 6 // 5, rng) if not is_valid_request(m)]
    before, during = hostile[: TOTAL // 2], hostile[TOTAL // 2 : TOTAL]
    assert len(before) + len(during) == TOTAL  # about 3 % of mutants stay valid requests

    grab = Grab()
    thread, box = run_device(replace(DEVICE, seed=SEED + 1), grab)
    udp = grab.udp
    assert udp is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        stranger.bind(("127.0.0.1", 0))
        # Before: in batches the device has taken, so the kernel drops none of them.
        for start in range(0, len(before), BATCH):
            for datagram in before[start : start + BATCH]:
                stranger.sendto(datagram, udp.local)
            sent = start + len(before[start : start + BATCH])
            assert wait_for(lambda n=sent: handed(udp) >= n or "result" in box), (
                f"the device took {handed(udp)} of {sent} datagrams"
            )
            assert "result" not in box, "the commissionee ended under the flood"
        assert not udp.bound and udp.stats.refused == len(before)

        # During: the rest from another thread while the commissioner runs PASE.
        def flood() -> None:
            for start in range(0, len(during), BATCH):
                for datagram in during[start : start + BATCH]:
                    stranger.sendto(datagram, udp.local)
                time.sleep(0.001)

        flooder = threading.Thread(target=flood, name="stranger", daemon=True)
        flooder.start()
        controller = run_peer(commissioner(udp.local))
        flooder.join(WAIT_S)
        assert not flooder.is_alive()
        stranger_address = stranger.getsockname()
    device = finish(thread, box)

    assert controller.ok and device.ok, (controller.failure, device.failure)
    assert device.transcript_hash == controller.transcript_hash
    assert device.peer == ("127.0.0.1", controller.local[1])
    # Every datagram before the controller reached the core and bound nobody; those after
    # binding were dropped at the socket, all counted against the one stranger.
    assert device.udp.refused >= len(before)
    assert set(device.udp.stranger_sources) <= {stranger_address}
    assert device.udp.refused + device.udp.strangers + device.udp.oversize <= TOTAL
