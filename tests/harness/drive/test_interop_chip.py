"""Interoperability with connectedhomeip: the CHIP controller opens PASE to our commissionee.

The reference controller is the Python controller of the connectedhomeip SDK, as the
``home-assistant-chip-core`` wheel ships it (its native ``_ChipDeviceCtrl.so`` is the C++
SDK). Our side is :func:`harness.peer.run_peer` as a listening commissionee with
``expect_secured``. Both run inside ``tests/fixtures/interop/chip/sandbox.py``: a private
network namespace holding only ``lo`` (the CHIP stack's mDNS cannot reach a real
interface) and private ``/tmp`` and ``/data`` (where the CHIP stack writes its fixed-path
settings files). ``pair.py`` starts our device in a thread and the CHIP controller
(``controller.py``) as a child process, and reports both sides and the packet trace as
JSON. These tests decode that trace with the core's own message codecs, so each check
names what crossed the wire, not only what either side says about it.

Needs the wheels ``home-assistant-chip-core`` and ``home-assistant-chip-clusters``, the
Debian libraries ``libnl-3-200`` and ``libnl-route-3-200`` (the wheel's ``.so`` links
them), and root (or CAP_SYS_ADMIN) for the namespaces; without the wheels or the
namespaces the tests are skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from matter_core.message import (
    ProtocolId,
    SecureChannelOpcode,
    SecuredMessage,
    StatusReport,
    UnsecuredMessage,
)
from matter_core.pase_messages import PBKDFParamRequest, PBKDFParamResponse

from harness.drive.config import DEFAULT_ITERATIONS, DEFAULT_LINGER_MS, DEFAULT_SALT
from harness.seams.loopback import PacketRecord, transcript_digest
from harness.seams.udp import LOCAL_TO_PEER, PEER_TO_LOCAL

PROJECT_ROOT = Path(__file__).resolve().parents[3]
FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "interop" / "chip"
SANDBOX = FIXTURES / "sandbox.py"
PAIR = FIXTURES / "pair.py"
#: sandbox.py's exit status when this machine cannot make the namespaces.
EXIT_NO_SANDBOX = 70
PASSCODE = 20202021
#: The Interaction Model ReadRequest the CHIP controller sends first on the session.
IM_PROTOCOL_ID = 0x0001
IM_READ_REQUEST = 0x02
#: The PASE handshake as it must appear on the device's socket, in order.
HANDSHAKE = [
    (PEER_TO_LOCAL, SecureChannelOpcode.PBKDF_PARAM_REQUEST),
    (LOCAL_TO_PEER, SecureChannelOpcode.PBKDF_PARAM_RESPONSE),
    (PEER_TO_LOCAL, SecureChannelOpcode.PASE_PAKE1),
    (LOCAL_TO_PEER, SecureChannelOpcode.PASE_PAKE2),
    (PEER_TO_LOCAL, SecureChannelOpcode.PASE_PAKE3),
    (LOCAL_TO_PEER, SecureChannelOpcode.STATUS_REPORT),
]

#: Set by `just interop` (and so by CI): there, a missing controller or sandbox is a
#: failure, not a skip, so the interop evidence cannot quietly disappear.
REQUIRED = os.environ.get("MATTER_HARNESS_REQUIRE_INTEROP") == "1"
CHIP_MISSING = (
    importlib.util.find_spec("chip") is None
    or importlib.util.find_spec("chip.ChipDeviceCtrl") is None
    or importlib.util.find_spec("chip.tlv") is None
)


def unavailable(reason: str) -> None:
    """Skip, or fail where interop is required."""
    if REQUIRED:
        pytest.fail(f"interop required but unavailable: {reason}")
    pytest.skip(reason)


pytestmark = [pytest.mark.slow, pytest.mark.network, pytest.mark.interop]


@pytest.fixture(autouse=True)
def chip_installed() -> None:
    """The CHIP controller wheels must be installed (`just interop` installs them)."""
    if CHIP_MISSING:
        unavailable(
            "the CHIP controller is not installed "
            "(home-assistant-chip-core and home-assistant-chip-clusters: run `just interop`)"
        )


@pytest.fixture(scope="module")
def sandbox() -> None:
    """Skip unless this machine can make the private namespaces the pair runs in."""
    probe = subprocess.run(
        [sys.executable, str(SANDBOX), sys.executable, "-c", "pass"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if probe.returncode == EXIT_NO_SANDBOX:
        unavailable(f"no private network namespace here: {probe.stderr.strip()}")
    assert probe.returncode == 0, probe.stderr


def run_pair(*args: str) -> dict[str, Any]:
    """Run pair.py in the sandbox; its JSON report."""
    done = subprocess.run(
        [sys.executable, str(SANDBOX), sys.executable, str(PAIR), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=PROJECT_ROOT,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    assert "error" not in report, report
    return report


def log_tail(report: dict[str, Any]) -> str:
    """The end of the CHIP controller's log, for assertion messages."""
    return "\n".join(report["controller_log"][-40:])


def wire(report: dict[str, Any]) -> list[PacketRecord]:
    """The device's packet trace."""
    packets = report["device"]["trace"]
    return [PacketRecord(p["direction"], 0, bytes.fromhex(p["bytes"])) for p in packets]


def check_handshake_on_the_wire(trace: list[PacketRecord]) -> PBKDFParamResponse:
    """The six PASE messages in order, addressed and acknowledged as CHIP expects them;
    returns our PBKDFParamResponse."""
    messages = [UnsecuredMessage.decode(p.data) for p in trace[: len(HANDSHAKE)]]
    assert [(p.direction, m.protocol.opcode) for p, m in zip(trace, messages, strict=False)] == [
        (d, int(o)) for d, o in HANDSHAKE
    ]
    assert all(m.protocol.protocol_id == ProtocolId.SECURE_CHANNEL for m in messages)
    controller_node = messages[0].header.source_node_id
    assert controller_node is not None  # CHIP sends its ephemeral node id...
    for previous, message in itertools.pairwise(messages):
        ours = message.header.destination_node_id is not None
        if ours:
            # ...and our replies go back to it, acknowledging what they answer.
            assert message.header.destination_node_id == controller_node
            assert message.header.source_node_id is None
        assert message.protocol.ack_counter == previous.header.message_counter
        assert message.protocol.needs_ack
    request = PBKDFParamRequest.decode(messages[0].payload)
    response = PBKDFParamResponse.decode(messages[1].payload)
    assert response.initiator_random == request.initiator_random
    assert response.pbkdf_parameters is not None  # CHIP asked for them (hasPBKDFParameters 0)
    assert not request.has_pbkdf_parameters
    assert (response.pbkdf_parameters.salt, response.pbkdf_parameters.iterations) == (
        DEFAULT_SALT,
        DEFAULT_ITERATIONS,
    )
    # CHIP's request carries its MRP session parameters; our decoder reads them.
    assert request.session_parameters is not None
    assert request.session_parameters.idle_interval_ms is not None
    assert StatusReport.decode(messages[5].payload).is_success
    return response


@pytest.mark.parametrize(
    ("host", "placement"),
    [("127.0.0.1", "component"), ("::1", "native")],
    ids=["ipv4-core-component", "ipv6-native-core"],
)
def test_chip_controller_establishes_pase_with_our_commissionee(
    sandbox: None, core_path: Path, host: str, placement: str
) -> None:
    core = ["--core", str(core_path)] if placement == "component" else []
    report = run_pair("--host", host, "--passcode", str(PASSCODE), *core)
    device, controller = report["device"], report["controller"]
    assert controller is not None, log_tail(report)
    assert controller["established"] and controller["error"] is None, log_tail(report)
    assert report["controller_exit"] == 0
    assert any("Established secure session" in line for line in report["controller_log"])
    assert device["ok"], device["failure"]
    assert device["local"][0] == host and device["peer"][0] == host
    assert device["lines"][0].startswith("PASE-RUNS-OK peer=")
    assert device["lines"][1].startswith(
        f"SECURED-MESSAGE protocol=0x{IM_PROTOCOL_ID:04x} opcode=0x{IM_READ_REQUEST:02x} "
    )

    trace = wire(report)
    response = check_handshake_on_the_wire(trace)
    # Both sides hashed the bytes that crossed the wire: CHIP's and ours.
    handshake = trace[: len(HANDSHAKE)]
    assert transcript_digest(handshake, initiator="peer").hex() == device["transcript"]
    # Then CHIP acknowledges our StatusReport and sends its ReadRequest on our session id.
    ack = UnsecuredMessage.decode(trace[len(HANDSHAKE)].data)
    assert ack.protocol.opcode == SecureChannelOpcode.STANDALONE_ACK
    our_status = UnsecuredMessage.decode(handshake[-1].data)
    assert ack.protocol.ack_counter == our_status.header.message_counter
    read_request = first_secured(trace)
    assert read_request.direction == PEER_TO_LOCAL
    secured = SecuredMessage.split(read_request.data)
    assert secured.header.session_id == response.responder_session_id
    opened = device["secured"]
    assert (opened["protocol_id"], opened["opcode"]) == (IM_PROTOCOL_ID, IM_READ_REQUEST)
    assert opened["counter"] == secured.header.message_counter
    assert opened["payload"].startswith("15")  # an anonymous TLV structure (the request)


@pytest.fixture(scope="module")
def wrong_passcode(sandbox: None) -> dict[str, Any]:
    """One pair run where the CHIP controller has the wrong passcode.

    The device's timeout runs from before the CHIP controller process starts (importing
    and initialising the CHIP stack), so it is pair.py's default, as for every other pair
    run here: with 8 s, a loaded machine once let the device give up before the
    controller's first datagram. A run that works ends at CHIP's failure report anyway.
    """
    return run_pair("--passcode", str(PASSCODE), "--controller-passcode", str(PASSCODE + 1))


def test_chip_controller_with_the_wrong_passcode_fails_on_both_sides(
    wrong_passcode: dict[str, Any],
) -> None:
    report = wrong_passcode
    device, controller = report["device"], report["controller"]
    assert controller is not None, log_tail(report)
    assert not controller["established"] and controller["error"], log_tail(report)
    assert report["controller_exit"] == 1
    assert not device["established"] and device["state"] == "FAILED"
    # CHIP's check of our cB fails and it says so with a StatusReport, which our core reads.
    assert "InvalidParameter" in device["failure"], device["failure"]
    trace = wire(report)
    theirs = [p for p in trace if p.direction == PEER_TO_LOCAL]
    assert theirs, (device["failure"], log_tail(report))
    last = UnsecuredMessage.decode(theirs[-1].data)
    assert last.protocol.opcode == SecureChannelOpcode.STATUS_REPORT
    assert not StatusReport.decode(last.payload).is_success


# -- acknowledgements and strangers ---------------------------------------------------------

#: A retransmission the CHIP stack actually sent (it logs "<<N" for the Nth resend; "??N"
#: lines only schedule one): "(S)" on a secure session, "(U)" unsecured.
CHIP_RESENT = re.compile(
    r"<<\d+ \[E:\S+ with Node: .*\] \((?P<session>[SU])\) Msg Retransmission to"
)


def chip_resent(report: dict[str, Any], session: str) -> list[str]:
    """The CHIP controller's log lines for retransmissions it sent on ``session`` (S / U)."""
    return [
        line
        for line in report["controller_log"]
        if (found := CHIP_RESENT.search(line)) and found.group("session") == session
    ]


def on_a_session(datagram: bytes) -> bool:
    """Whether the message header names a session (a secured message): session id != 0."""
    return int.from_bytes(datagram[1:3], "little") != 0


def first_secured(trace: list[PacketRecord]) -> PacketRecord:
    """The first datagram on the wire with a secure session id (CHIP's ReadRequest)."""
    return next(p for p in trace if on_a_session(p.data))


def test_chip_controllers_first_secured_message_is_acknowledged(sandbox: None) -> None:
    # Needs the core's MRP acknowledgement of a secured message opened with R set.
    report = run_pair("--host", "127.0.0.1", "--passcode", str(PASSCODE))
    device = report["device"]
    assert device["ok"], device["failure"]
    assert device["linger"]["ms"] >= DEFAULT_LINGER_MS
    trace = wire(report)
    read_request = first_secured(trace)
    copies = [p for p in trace if p.data == read_request.data]
    after = trace[trace.index(read_request) + 1 :]
    # We answered it on the session (our acknowledgement), and CHIP never resent it.
    assert any(p.direction == LOCAL_TO_PEER and on_a_session(p.data) for p in after), (
        "no secured datagram from us after the ReadRequest"
    )
    assert len(copies) == 1, f"CHIP sent its ReadRequest {len(copies)} times"
    assert chip_resent(report, "S") == [], log_tail(report)
    assert not any("Retransmission failure" in line for line in report["controller_log"])


def test_chip_controllers_failure_status_report_is_acknowledged(
    wrong_passcode: dict[str, Any],
) -> None:
    # Needs the core's MRP acknowledgement of a failure StatusReport that asks for one.
    report = wrong_passcode
    trace = wire(report)
    theirs = [p for p in trace if p.direction == PEER_TO_LOCAL]
    assert theirs, (report["device"]["failure"], log_tail(report))
    failure = UnsecuredMessage.decode(theirs[-1].data)
    assert failure.protocol.opcode == SecureChannelOpcode.STATUS_REPORT
    assert failure.protocol.needs_ack  # CHIP asks for an acknowledgement
    ours_after = [
        UnsecuredMessage.decode(p.data)
        for p in trace[trace.index(theirs[-1]) + 1 :]
        if p.direction == LOCAL_TO_PEER
    ]
    assert any(m.protocol.ack_counter == failure.header.message_counter for m in ours_after), (
        "the failure StatusReport was never acknowledged"
    )
    assert [p.data for p in theirs].count(theirs[-1].data) == 1
    assert chip_resent(report, "U") == [], log_tail(report)


@pytest.mark.parametrize(
    "stray",
    [
        "040000",  # the reviewer's: a header cut off before its security flags
        # A well-formed unsecured StandaloneAck from node 0xABCDEF, counter 7, acking 1234.
        "0400000007000000efcdab0000000000031055550000d2040000",
    ],
    ids=["truncated-security-flags", "standalone-ack"],
)
def test_a_stray_datagram_before_the_chip_controller_does_not_stop_it(
    sandbox: None, stray: str
) -> None:
    # The truncated one needs the core's message layer to drop what is not for the session.
    report = run_pair("--host", "127.0.0.1", "--passcode", str(PASSCODE), "--stray", stray)
    device, controller = report["device"], report["controller"]
    assert controller is not None, log_tail(report)
    assert controller["established"] and controller["error"] is None, log_tail(report)
    assert device["ok"], device["failure"]
    assert device["udp"]["refused"] == 1
    # The stray went to the core (it is in the trace, first); then the controller's.
    trace = wire(report)
    assert trace[0].data == bytes.fromhex(stray)
    check_handshake_on_the_wire(trace[1:])
    assert device["peer"] != device["local"]
