"""Tests for harness.peer and ``matter-harness peer``: PASE over real UDP on 127.0.0.1.

Each end-to-end test runs a listening commissionee and a connecting commissioner, each a
core instance (the component, or the core package natively), on ephemeral loopback
ports, with the host's real monotonic clock: retransmission is the core's own MRP timer.
"""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from loopback_net import ipv6_loopback_available
from matter_core import spake2p
from matter_core.message import (
    MessageHeader,
    ProtocolHeader,
    SecureChannelOpcode,
    UnsecuredMessage,
)
from matter_core.tlv import ByteReader

from harness.build.componentize import build_all
from harness.cli.app import cli
from harness.drive.config import DEFAULT_ITERATIONS, DEFAULT_LINGER_MS, DEFAULT_SALT
from harness.drive.driver import PROBE_OPCODE, PROBE_PROTOCOL_ID
from harness.drive.peer import PeerResult, run_peer, summary_lines
from harness.drive.peer_config import PeerConfig, PeerConfigError, prepare
from harness.project import DEFAULT_BUILD_DIR
from harness.seams.udp import LOCAL_TO_PEER, PEER_TO_LOCAL, Endpoint, UdpTransport
from harness.wit import TransportSeam

PASSCODE = 20202021
SEED = 11
PROJECT_ROOT = Path(__file__).resolve().parents[3]


needs_ipv6 = pytest.mark.skipif(
    not ipv6_loopback_available(), reason="this machine has no IPv6 loopback (::1)"
)

DEVICE = PeerConfig(
    role="commissionee", listen=("127.0.0.1", 0), passcode=PASSCODE, seed=SEED, timeout_s=10
)


def controller_for(
    address: Endpoint,
    *,
    passcode: int = PASSCODE,
    native: bool = False,
    send_secured: bool = False,
    core_path: Path | None = None,
) -> PeerConfig:
    """A seeded commissioner config connecting to ``address``."""
    return PeerConfig(
        role="commissioner",
        connect=address,
        passcode=passcode,
        seed=SEED,
        timeout_s=10,
        native=native,
        send_secured=send_secured,
        core_path=core_path,
    )


class DropSends:
    """A transport wrapper that loses (or, with ``flip``, damages) chosen outgoing
    datagrams, by 0-based send index."""

    def __init__(self, inner: TransportSeam, drop: set[int], *, flip: bool = False) -> None:
        self.inner = inner
        self.drop = drop
        self.flip = flip
        self.sends = 0
        self.dropped: list[bytes] = []

    def send(self, datagram: bytes) -> bool:
        index = self.sends
        self.sends += 1
        if index not in self.drop:
            return self.inner.send(datagram)
        self.dropped.append(datagram)
        if self.flip:
            return self.inner.send(datagram[:-1] + bytes([datagram[-1] ^ 0x01]))
        return True  # lost on the way: the sender cannot tell

    def receive(self) -> bytes | None:
        return self.inner.receive()


def run_pair(
    device: PeerConfig,
    controller: Callable[[Endpoint], PeerConfig],
    *,
    wrap_device: Callable[[UdpTransport], TransportSeam] | None = None,
    wrap_controller: Callable[[UdpTransport], TransportSeam] | None = None,
    host: str = "127.0.0.1",
    before_controller: Callable[[Endpoint], None] | None = None,
) -> tuple[PeerResult, PeerResult]:
    """Run the device in a thread, then the controller here; both results.

    ``before_controller`` is called with the device's address once it listens, before
    the controller starts (to send it something from elsewhere first)."""
    ready = threading.Event()
    box: dict[str, object] = {}

    def on_ready(address: Endpoint) -> None:
        box["address"] = address
        ready.set()

    def serve() -> None:
        try:
            box["device"] = run_peer(device, on_ready=on_ready, wrap_transport=wrap_device)
        except BaseException as exc:  # surfaced in the test thread below
            box["error"] = exc
            ready.set()

    thread = threading.Thread(target=serve, name="commissionee", daemon=True)
    thread.start()
    assert ready.wait(30), "the commissionee never became ready"
    if "error" in box:
        raise AssertionError(f"commissionee failed to start: {box['error']!r}")
    address = box["address"]
    assert isinstance(address, tuple)
    if before_controller is not None:
        before_controller((host, address[1]))
    result = run_peer(controller((host, address[1])), wrap_transport=wrap_controller)
    thread.join(30)
    assert not thread.is_alive(), "the commissionee did not finish"
    if "error" in box:
        raise AssertionError(f"commissionee raised {box['error']!r}")
    device_result = box["device"]
    assert isinstance(device_result, PeerResult)
    return device_result, result


@pytest.fixture(scope="module")
def core_path() -> Path:
    """The core component, built (or taken from the build cache) once for this module."""
    return build_all(DEFAULT_BUILD_DIR, names=["core"])["core"].path


@pytest.fixture(scope="module")
def native_transcript() -> bytes:
    """The transcript of a seeded native pair over UDP: the reference for every placement."""
    device, controller = run_pair(
        replace(DEVICE, native=True), lambda a: controller_for(a, native=True)
    )
    assert device.ok and controller.ok
    assert len(controller.transcript_hash) == 32
    return controller.transcript_hash


# -- configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (PeerConfig(role="observer"), "role must be one of"),
        (PeerConfig(role="commissioner", passcode=PASSCODE), "needs --connect"),
        (PeerConfig(role="commissioner", connect=("127.0.0.1", 5540)), "needs --passcode"),
        (
            PeerConfig(role="commissioner", connect=("127.0.0.1", 5540), passcode=11111111),
            "not a valid Matter setup passcode",
        ),
        (
            PeerConfig(role="commissioner", connect=("127.0.0.1", 5540), passcode=1, salt=b"x"),
            "--salt does not apply to the commissioner",
        ),
        (
            PeerConfig(
                role="commissioner", connect=("127.0.0.1", 5540), passcode=1, expect_secured=True
            ),
            "--expect-secured is for the commissionee",
        ),
        (PeerConfig(role="commissionee", passcode=PASSCODE), "needs --listen"),
        (PeerConfig(role="commissionee", listen=("127.0.0.1", 0)), "exactly one of"),
        (
            PeerConfig(
                role="commissionee", listen=("127.0.0.1", 0), passcode=1, verifier=bytes(97)
            ),
            "exactly one of",
        ),
        (
            PeerConfig(role="commissionee", listen=("127.0.0.1", 0), verifier=bytes(96)),
            "invalid --verifier",
        ),
        (
            PeerConfig(role="commissionee", listen=("127.0.0.1", 0), passcode=1, salt=b"short"),
            "invalid PBKDF parameters",
        ),
        (
            PeerConfig(role="commissionee", listen=("127.0.0.1", 0), passcode=1, iterations=999),
            "invalid PBKDF parameters",
        ),
        (
            PeerConfig(
                role="commissionee", listen=("127.0.0.1", 0), passcode=1, connect=("::1", 1)
            ),
            "--connect does not apply to the commissionee",
        ),
        (
            PeerConfig(role="commissionee", listen=("127.0.0.1", 0), passcode=1, timeout_s=0),
            "--timeout must be between 0 and",
        ),
        (
            PeerConfig(
                role="commissionee", listen=("127.0.0.1", 0), passcode=1, timeout_s=float("inf")
            ),
            "--timeout must be between 0 and",
        ),
        (
            PeerConfig(
                role="commissionee", listen=("127.0.0.1", 0), passcode=1, timeout_s=float("nan")
            ),
            "--timeout must be between 0 and",
        ),
        (
            PeerConfig(role="commissionee", listen=("127.0.0.1", 0), passcode=1, linger_ms=-1),
            "--linger must be between 0 and 60000 ms",
        ),
        (
            PeerConfig(
                role="commissioner", connect=("127.0.0.1", 5540), passcode=1, linger_ms=60_001
            ),
            "--linger must be between 0 and 60000 ms",
        ),
    ],
)
def test_prepare_rejects_configs_that_cannot_run(config: PeerConfig, message: str) -> None:
    with pytest.raises(PeerConfigError, match=message):
        prepare(config)


def test_prepare_derives_the_verifier_and_a_matching_bind_address() -> None:
    plan = prepare(DEVICE)
    assert plan.verifier == spake2p.compute_verifier(PASSCODE, DEFAULT_SALT, DEFAULT_ITERATIONS)
    assert (plan.salt, plan.iterations) == (DEFAULT_SALT, DEFAULT_ITERATIONS)
    assert plan.linger_ms == DEFAULT_LINGER_MS == 513  # ceil(300 * 1.1 * 1.25) + 100
    assert prepare(replace(DEVICE, linger_ms=0)).linger_ms == 0
    assert prepare(controller_for(("127.0.0.1", 5540))).bind == ("0.0.0.0", 0)
    assert prepare(controller_for(("::1", 5540))).bind == ("::", 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "commissioner", "--connect", "127.0.0.1", "--passcode", "1"], "no port"),
        (["--role", "commissioner", "--connect", "::1:5540", "--passcode", "1"], "brackets"),
        (["--role", "commissioner", "--connect", "127.0.0.1:99999", "--passcode", "1"], "port"),
        (["--role", "commissioner", "--connect", "127.0.0.1:5540", "--passcode", "0"], "passcode"),
        (["--role", "commissionee", "--listen", "127.0.0.1:0"], "exactly one of"),
        (["--role", "commissionee", "--listen", "x:0", "--verifier", "zz"], "not hex at position"),
        (["--role", "commissionee", "--listen", "x:0", "--verifier", "00"], "invalid --verifier"),
        (["--role", "spy"], "Invalid value for '--role'"),
    ],
)
def test_cli_bad_arguments_exit_2_without_traceback(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["peer", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


@pytest.mark.network
def test_cli_address_in_use_exits_2() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        args = ["--role", "commissionee", "--listen", f"127.0.0.1:{port}", "--passcode", "5"]
        result = CliRunner().invoke(cli, ["peer", *args, "--native"])
    assert result.exit_code == 2, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


def is_secured(datagram: bytes) -> bool:
    """The test's own reading of a message header: a session id, or a group session."""
    return int.from_bytes(datagram[1:3], "little") != 0 or datagram[3] & 0x03 != 0


def unsecured_opcode(datagram: bytes) -> int:
    """The Secure Channel opcode of an unsecured message."""
    reader = ByteReader(datagram)
    MessageHeader.pull(reader)
    return ProtocolHeader.pull(reader).opcode


# -- end to end, natively (fast) ------------------------------------------------------------


@pytest.mark.network
def test_native_pair_establishes_and_carries_a_secured_message(native_transcript: bytes) -> None:
    device, controller = run_pair(
        replace(DEVICE, native=True, expect_secured=True),
        lambda a: controller_for(a, native=True, send_secured=True),
    )
    assert controller.ok and device.ok, (controller.failure, device.failure)
    assert device.transcript_hash == controller.transcript_hash == native_transcript
    assert device.peer == ("127.0.0.1", controller.local[1])
    assert controller.peer == ("127.0.0.1", device.local[1])
    assert device.secured is not None
    assert (device.secured.protocol_id, device.secured.opcode) == (PROBE_PROTOCOL_ID, PROBE_OPCODE)
    assert device.secured.message_counter == controller.sealed_counter


@pytest.mark.network
@needs_ipv6
def test_native_pair_over_ipv6_loopback(native_transcript: bytes) -> None:
    device, controller = run_pair(
        replace(DEVICE, native=True, listen=("::1", 0)),
        lambda a: controller_for(a, native=True),
        host="::1",
    )
    assert device.ok and controller.ok, (device.failure, controller.failure)
    assert device.local[0] == "::1" and device.peer == ("::1", controller.local[1])
    assert controller.local[0] == "::"  # bound to the IPv6 wildcard, matching the peer
    assert device.transcript_hash == controller.transcript_hash == native_transcript


@pytest.mark.network
def test_commissionee_with_a_verifier_instead_of_a_passcode(native_transcript: bytes) -> None:
    verifier = spake2p.compute_verifier(PASSCODE, DEFAULT_SALT, DEFAULT_ITERATIONS)
    device_config = replace(DEVICE, native=True, passcode=None, verifier=verifier)
    device, controller = run_pair(device_config, lambda a: controller_for(a, native=True))
    assert device.ok and controller.ok
    assert device.transcript_hash == native_transcript


@pytest.mark.network
def test_wrong_passcode_fails_on_both_sides_with_the_core_failure() -> None:
    device, controller = run_pair(
        replace(DEVICE, native=True), lambda a: controller_for(a, native=True, passcode=20202022)
    )
    assert not controller.ok and not device.ok
    assert controller.failure is not None and "confirmation" in controller.failure
    assert device.failure is not None and "peer reported failure" in device.failure
    assert controller.status is not None and controller.status.state == "FAILED"


@pytest.mark.network
def test_lost_status_report_is_recovered_after_establishment() -> None:
    # The commissionee's third datagram (its success StatusReport) is lost: it is already
    # ESTABLISHED, and must stay up to answer the commissioner's Pake3 retransmission.
    holder: dict[str, DropSends] = {}

    def lossy(udp: UdpTransport) -> TransportSeam:
        holder["drop"] = DropSends(udp, {2})
        return holder["drop"]

    device, controller = run_pair(
        replace(DEVICE, native=True), lambda a: controller_for(a, native=True), wrap_device=lossy
    )
    assert device.ok and controller.ok, (device.failure, controller.failure)
    assert len(holder["drop"].dropped) == 1
    assert controller.seconds >= 0.28  # one MRP interval (300 ms) went by
    assert device.transcript_hash == controller.transcript_hash


@pytest.mark.network
def test_commissionee_reports_a_secured_message_that_does_not_open() -> None:
    # The commissioner's sixth send is its sealed message (after the request, the
    # standalone ack of the response sent before PBKDF2, Pake1, Pake3 and the ack of the
    # device's StatusReport); one bit of the MIC flips.
    holder: dict[str, DropSends] = {}

    def corrupt(udp: UdpTransport) -> TransportSeam:
        holder["fault"] = DropSends(udp, {5}, flip=True)
        return holder["fault"]

    device, controller = run_pair(
        replace(DEVICE, native=True, expect_secured=True),
        lambda a: controller_for(a, native=True, send_secured=True),
        wrap_controller=corrupt,
    )
    assert controller.ok
    assert len(holder["fault"].dropped) == 1 and is_secured(holder["fault"].dropped[0])
    assert device.established and not device.ok and device.secured is None
    assert device.failure is not None
    assert device.failure.startswith("cannot open the peer's secured message: ")
    assert "MIC mismatch" in device.failure


@pytest.mark.network
def test_commissionee_expecting_a_secured_message_fails_when_none_comes() -> None:
    device, controller = run_pair(
        replace(DEVICE, native=True, expect_secured=True, timeout_s=1.0),
        lambda a: controller_for(a, native=True),
    )
    assert controller.ok
    assert device.established and not device.ok
    assert device.failure == (
        "no secured message from the peer within 1 s after the session was established"
    )


@pytest.mark.network
def test_commissionee_without_a_controller_times_out() -> None:
    started = time.monotonic()
    result = run_peer(replace(DEVICE, native=True, timeout_s=0.3))
    elapsed = time.monotonic() - started
    assert not result.ok
    assert (
        result.failure
        == "timed out after 0.3 s: no controller connected (state EXPECT_PBKDF_PARAM_REQUEST)"
    )
    assert 0.28 <= elapsed < 2.0


# -- end to end, core components ----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.parametrize(
    ("device_native", "controller_native"),
    [(False, False), (True, False), (False, True)],
    ids=["component-component", "native-commissionee", "native-commissioner"],
)
def test_component_peers_complete_pase_over_udp(
    core_path: Path, native_transcript: bytes, device_native: bool, controller_native: bool
) -> None:
    device, controller = run_pair(
        replace(DEVICE, native=device_native, core_path=core_path, expect_secured=True),
        lambda a: controller_for(
            a, native=controller_native, core_path=core_path, send_secured=True
        ),
    )
    assert controller.ok and device.ok, (controller.failure, device.failure)
    # Same seeds, same bytes: the placement of the core does not change the handshake.
    assert controller.transcript_hash == device.transcript_hash == native_transcript
    assert device.secured is not None
    assert (device.secured.protocol_id, device.secured.opcode) == (PROBE_PROTOCOL_ID, PROBE_OPCODE)
    assert controller.counters.clock_reads > 0 and controller.counters.entropy_calls > 0
    assert device.udp.strangers == 0 and controller.udp.send_errors == 0


@pytest.mark.slow
@pytest.mark.network
def test_lost_first_datagram_is_retransmitted_by_the_core(
    core_path: Path, native_transcript: bytes
) -> None:
    holders: list[DropSends] = []

    def lossy(udp: UdpTransport) -> TransportSeam:
        holders.append(DropSends(udp, {0}))
        return holders[-1]

    device, controller = run_pair(
        replace(DEVICE, core_path=core_path),
        lambda a: controller_for(a, core_path=core_path),
        wrap_controller=lossy,
    )
    assert controller.ok and device.ok, (controller.failure, device.failure)
    assert len(holders[0].dropped) == 1
    assert controller.status is not None
    assert controller.status.retransmissions == 1
    # Request, the standalone ack of the response (sent before PBKDF2), Pake1, Pake3, the
    # final ack, plus the one retransmitted request.
    assert controller.status.datagrams_sent == 6
    assert controller.seconds >= 0.28
    assert controller.transcript_hash == device.transcript_hash
    # The retransmission drew its MRP jitter from the run's one seeded entropy stream, so
    # the handshake is not the unfaulted one; it is the one the native core makes when the
    # same datagram is lost.
    assert controller.transcript_hash != native_transcript
    native_device, native_controller = run_pair(
        replace(DEVICE, native=True),
        lambda a: controller_for(a, native=True),
        wrap_controller=lossy,
    )
    assert native_controller.ok and native_device.ok
    assert len(holders[1].dropped) == 1
    assert native_controller.transcript_hash == controller.transcript_hash


@pytest.mark.slow
@pytest.mark.network
def test_cli_commissioner_with_nobody_listening_exits_1(core_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.setblocking(False)
        port = silent.getsockname()[1]
        started = time.monotonic()
        result = CliRunner().invoke(
            cli,
            [
                "peer",
                "--role",
                "commissioner",
                "--connect",
                f"127.0.0.1:{port}",
                "--passcode",
                str(PASSCODE),
                "--timeout",
                "1",
                "--core",
                str(core_path),
            ],
        )
        elapsed = time.monotonic() - started
        requests = 0
        while True:
            try:
                silent.recv(2048)
            except BlockingIOError:
                break
            requests += 1
    assert result.exit_code == 1, result.output
    assert (
        f"timed out after 1 s: no answer from 127.0.0.1:{port} "
        "(state EXPECT_PBKDF_PARAM_RESPONSE)" in result.stderr
    )
    assert "PASE-RUNS-OK" not in result.output
    assert "Traceback" not in result.output
    assert 1.0 <= elapsed < 3.0
    assert requests >= 2  # the first request and at least one MRP retransmission


@pytest.mark.slow
@pytest.mark.network
def test_cli_peers_in_two_processes(core_path: Path, tmp_path: Path) -> None:
    device = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from harness.cli import main; main()",
            "peer",
            "--role",
            "commissionee",
            "--listen",
            "127.0.0.1:0",
            "--passcode",
            str(PASSCODE),
            "--expect-secured",
            "--timeout",
            "20",
            "--core",
            str(core_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
    )
    try:
        assert device.stdout is not None
        readable, _w, _x = select.select([device.stdout], [], [], 30)
        assert readable, "the commissionee printed nothing"
        listening = device.stdout.readline().split()
        assert listening[0] == "LISTENING", listening
        port = int(listening[1].rsplit(":", 1)[1])
        trace = tmp_path / "trace.jsonl"
        result = CliRunner().invoke(
            cli,
            [
                "peer",
                "--role",
                "commissioner",
                "--connect",
                f"127.0.0.1:{port}",
                "--passcode",
                str(PASSCODE),
                "--send-secured",
                "--trace",
                str(trace),
                "--core",
                str(core_path),
            ],
        )
        out, err = device.communicate(timeout=30)
    finally:
        if device.poll() is None:
            device.kill()
            device.wait()
    assert result.exit_code == 0, result.output
    assert device.returncode == 0, err
    # The commissioner binds like a UDP client and says so (it does not listen).
    assert "LISTENING" not in result.output
    assert f"CONNECTING 127.0.0.1:{port} role=commissioner from=0.0.0.0:" in result.output
    assert "(UDP client)" in result.output
    assert "  linger: " in out  # it stayed up to acknowledge what came last
    controller_ok = [line for line in result.output.splitlines() if "PASE-RUNS-OK" in line]
    device_ok = [line for line in out.splitlines() if "PASE-RUNS-OK" in line]
    assert len(controller_ok) == len(device_ok) == 1
    assert controller_ok[0].startswith(f"PASE-RUNS-OK peer=127.0.0.1:{port} transcript=")
    # Unseeded (OS entropy), yet both sides agree on the transcript.
    assert controller_ok[0].split("transcript=")[1] == device_ok[0].split("transcript=")[1]
    assert "SECURED-MESSAGE protocol=0x0001 opcode=0x02" in out
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    # Request, response, the standalone ack of the response (sent before PBKDF2), Pake1,
    # Pake2, Pake3, StatusReport, final ack, the sealed message.
    out_, in_ = LOCAL_TO_PEER, PEER_TO_LOCAL
    assert [r["direction"] for r in records] == [out_, in_, out_, out_, in_, out_, in_, out_, out_]
    assert all(len(bytes.fromhex(r["bytes"])) == r["size"] for r in records)
    assert [r["message_type"] for r in records] == [
        "PBKDFParamRequest",
        "PBKDFParamResponse",
        "StandaloneAck",
        "Pake1",
        "Pake2",
        "Pake3",
        "StatusReport",
        "StandaloneAck",
        "Secured",
    ]


# -- strangers and lingering ----------------------------------------------------------------


def standalone_ack(counter: int = 7, acked: int = 1234) -> bytes:
    """A well-formed unsecured StandaloneAck, as any host on the network could send."""
    return UnsecuredMessage(
        MessageHeader(session_id=0, message_counter=counter, source_node_id=0xABCDEF),
        ProtocolHeader(
            opcode=SecureChannelOpcode.STANDALONE_ACK,
            exchange_id=0x5555,
            initiator=True,
            ack_counter=acked,
        ),
    ).encode()


class Stranger:
    """A UDP socket on another port than the controller's, sending datagrams to the device."""

    def __init__(self, *datagrams: bytes) -> None:
        self.datagrams = datagrams
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address: Endpoint = self.sock.getsockname()

    def __call__(self, device: Endpoint) -> None:
        for datagram in self.datagrams:
            self.sock.sendto(datagram, device)

    def close(self) -> None:
        self.sock.close()


@pytest.mark.network
def test_a_stray_datagram_before_the_controller_does_not_lock_the_commissionee() -> None:
    # Another host speaks first (a well-formed message, not a PBKDFParamRequest): the
    # device hands it to the core, which keeps waiting, so nobody is bound; the real
    # controller's request then binds the session to the controller.
    stranger = Stranger(standalone_ack())
    try:
        device, controller = run_pair(
            replace(DEVICE, native=True),
            lambda a: controller_for(a, native=True),
            before_controller=stranger,
        )
    finally:
        stranger.close()
    assert device.ok and controller.ok, (device.failure, controller.failure)
    assert device.peer == ("127.0.0.1", controller.local[1]) != stranger.address
    assert device.transcript_hash == controller.transcript_hash
    assert device.udp.unbound == 2 and device.udp.refused == 1
    assert device.udp.strangers == 0


@pytest.mark.network
@pytest.mark.parametrize(
    "stray",
    [b"\x04\x00\x00", b"", bytes(range(40)), standalone_ack()[:-1]],
    ids=["truncated-security-flags", "empty", "junk", "truncated-ack"],
)
def test_malformed_datagrams_before_the_controller_do_not_stop_the_commissionee(
    stray: bytes,
) -> None:
    # Needs the core's message layer to drop (not fail on) what is not for the session.
    stranger = Stranger(stray, stray)
    try:
        device, controller = run_pair(
            replace(DEVICE, native=True),
            lambda a: controller_for(a, native=True),
            before_controller=stranger,
        )
    finally:
        stranger.close()
    assert device.ok and controller.ok, (device.failure, controller.failure)
    assert device.transcript_hash == controller.transcript_hash
    assert device.udp.refused == 2


class StrangerOnBinding:
    """A transport wrapper that, the moment the device binds to its controller, makes a
    stranger send ``count`` datagrams (junk and a copy of the controller's request)."""

    def __init__(self, inner: UdpTransport, count: int) -> None:
        self.inner = inner
        self.count = count
        self.stranger = Stranger()
        self.sent = 0
        self.first: bytes | None = None

    def send(self, datagram: bytes) -> bool:
        return self.inner.send(datagram)

    def receive(self) -> bytes | None:
        datagram = self.inner.receive()
        if self.first is None and datagram is not None:
            self.first = datagram
        if self.inner.bound and self.sent == 0 and self.first is not None:
            for i in range(self.count):
                junk = self.first if i % 2 else bytes([0x04, i & 0xFF, 0])
                self.stranger.sock.sendto(junk, self.inner.local)
            self.sent = self.count
        return datagram


@pytest.mark.network
def test_strangers_after_binding_are_dropped_at_the_socket_and_counted(
    native_transcript: bytes,
) -> None:
    holder: dict[str, StrangerOnBinding] = {}

    def hostile(udp: UdpTransport) -> TransportSeam:
        holder["w"] = StrangerOnBinding(udp, 20)
        return holder["w"]

    try:
        device, controller = run_pair(
            replace(DEVICE, native=True),
            lambda a: controller_for(a, native=True),
            wrap_device=hostile,
        )
    finally:
        if "w" in holder:
            holder["w"].stranger.close()
    wrapper = holder["w"]
    assert device.ok and controller.ok, (device.failure, controller.failure)
    assert device.transcript_hash == native_transcript
    assert wrapper.sent == 20
    # Not one reached the core: each was dropped at the socket, by address.
    assert device.udp.strangers == 20
    assert device.udp.stranger_sources == {wrapper.stranger.address: 20}
    assert device.udp.unbound == 1 and device.udp.refused == 0
    # Request, the standalone ack of the response, Pake1, Pake3, the ack of our StatusReport.
    assert device.status is not None and device.status.datagrams_received == 5
    assert device.peer == ("127.0.0.1", controller.local[1])
    summary = "\n".join(summary_lines(device))
    assert "strangers (dropped at the socket): 20 datagrams from 1 addresses" in summary


@pytest.mark.network
def test_the_commissioner_lingers_to_acknowledge_a_retransmitted_status_report() -> None:
    # The commissioner's fifth send (its ack of the device's success StatusReport, after
    # the request, the standalone ack of the response, Pake1 and Pake3) is lost: the
    # device retransmits the StatusReport after one MRP interval, and the commissioner,
    # lingering, acknowledges it again.
    holder: dict[str, DropSends] = {}

    def lossy(udp: UdpTransport) -> TransportSeam:
        holder["drop"] = DropSends(udp, {4})
        return holder["drop"]

    device, controller = run_pair(
        replace(DEVICE, native=True),
        lambda a: controller_for(a, native=True),
        wrap_controller=lossy,
    )
    assert device.ok and controller.ok, (device.failure, controller.failure)
    assert [unsecured_opcode(d) for d in holder["drop"].dropped] == [
        SecureChannelOpcode.STANDALONE_ACK
    ]
    assert controller.linger.ms >= DEFAULT_LINGER_MS
    assert controller.linger.received == 1 and controller.linger.sent == 1
    assert controller.linger.refused == []
    # The device saw its StatusReport acknowledged (and stopped waiting for it).
    assert device.status is not None and device.status.next_deadline_ms is None
    statuses = [p.data for p in device.trace if p.direction == LOCAL_TO_PEER][2:]
    assert len(statuses) == 2 and statuses[0] == statuses[1]
    assert any(line.startswith("  linger: ") for line in summary_lines(controller))


@pytest.mark.network
def test_linger_zero_ends_the_run_with_the_outcome() -> None:
    device, controller = run_pair(
        replace(DEVICE, native=True, linger_ms=0),
        lambda a: replace(controller_for(a, native=True), linger_ms=0),
    )
    assert device.ok and controller.ok
    assert device.linger.ms == controller.linger.ms == 0
    assert "linger" not in controller.timings
    assert not any(line.startswith("  linger: ") for line in summary_lines(controller))


@pytest.mark.network
def test_a_commissionee_nobody_came_to_does_not_linger() -> None:
    result = run_peer(replace(DEVICE, native=True, timeout_s=0.2))
    assert not result.ok and result.linger.ms == 0
