"""End-to-end tests of the core component: handshakes, negative cases, determinism, the
import-list check, seam counters and in-component conformance (claim C7).

Tests marked slow need the built core component (built once per session by conftest).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import wasmtime
import wasmtime.component as wc
from matter_core.endpoint import CoreEndpoint

from harness.drive.config import DEFAULT_SALT, RunConfig
from harness.drive.conformance import (
    ConformanceVectorsError,
    NativeConformance,
    VectorResult,
    all_passed,
    instantiate_conformance,
    load_vectors,
    message_header_length,
    run_conformance,
    vector_names,
)
from harness.drive.driver import HandshakeOutcome, drive_handshake
from harness.drive.placements import (
    RunReport,
    Seams,
    handshake_params,
    instantiate_core,
    run_component,
    run_native,
)
from harness.drive.roles import ComponentRole, NativeRole, RoleHandle
from harness.runtime.engine import GuestCall, Runtime
from harness.runtime.limits import Limits
from harness.runtime.traps import GuestTrap
from harness.seams.faults import FaultyTransport
from harness.supply.capabilities import check_core_imports
from harness.wit import CLOCK, ENTROPY, ROLES, TRANSPORT

slow = pytest.mark.slow


# --------------------------------------------------------------------------- helpers


def _component_run(runtime: Runtime, core_path: Path, config: RunConfig) -> RunReport:
    return run_component(config, runtime, core_path)


def _failure_kinds(outcome: HandshakeOutcome) -> tuple[str | None, str | None]:
    return tuple(  # type: ignore[return-value]
        None if s.failure is None else s.failure.kind
        for s in (outcome.commissioner, outcome.commissionee)
    )


class FaultRun:
    """One handshake with a FaultyTransport on one role's sending side."""

    def __init__(
        self,
        role: str,
        fault: dict[str, Any],
        runtime: Runtime | None = None,
        component: wc.Component | None = None,
    ) -> None:
        config = RunConfig(seed=11)
        seams = Seams(config)
        self.faulty = FaultyTransport(seams.transports[role], **fault)
        seams.transports[role] = self.faulty
        self.guests: dict[str, GuestCall] = {}
        roles: list[RoleHandle] = []
        for name in ROLES:
            if component is None:
                endpoint = CoreEndpoint(
                    seams.transports[name], seams.clocks[name], seams.entropy[name]
                )
                roles.append(NativeRole(name, endpoint))
            else:
                assert runtime is not None
                guest = instantiate_core(runtime, component, seams, name, config.limits)
                self.guests[name] = guest
                roles.append(ComponentRole(name, guest))
        self.roles = roles
        self.outcome = drive_handshake(roles[0], roles[1], seams.clock, handshake_params(config))


# The sends of each role in a clean run: the commissioner sends PBKDFParamRequest (0),
# the standalone ack of the PBKDFParamResponse before its PBKDF2 (1), Pake1 (2), Pake3 (3)
# and the final ack (4); the commissionee PBKDFParamResponse (0), Pake2 (1) and the
# success StatusReport (2).

# Damage in the payload of a well-formed handshake message on the PASE exchange fails
# the handshake on both sides.
# (sending role, fault, expected failure kinds of (commissioner, commissionee))
FAULTS = [
    pytest.param(
        "commissionee",
        {"fault": "flip", "on_sends": frozenset({1}), "offset": -3},
        ("confirmation-failed", "peer-status"),
        id="flipped-cB-in-pake2",
    ),
    pytest.param(
        "commissioner",
        {"fault": "truncate", "on_sends": frozenset({2}), "keep": 40},
        ("peer-status", "decode"),
        id="truncated-pake1",
    ),
    pytest.param(
        "commissionee",
        {"fault": "truncate", "on_sends": frozenset({0}), "keep": 40},
        ("decode", "peer-status"),
        id="truncated-pbkdf-param-response",
    ),
]

# Damage the message layer drops (Matter Core Specification 1.3, section 4.12: the
# sender's retransmission recovers): a PBKDFParamRequest that does not decode (a device
# waiting for a request drops a malformed one and keeps waiting), and headers cut short.
# (sending role, fault, the receiver's drops, retransmissions by (commissioner,
# commissionee))
RECOVERED = [
    pytest.param(
        "commissioner",
        {"fault": "flip", "on_sends": frozenset({0}), "offset": -1},
        (("malformed", 1),),
        (1, 0),
        id="flipped-last-byte-of-pbkdf-param-request",
    ),
    pytest.param(
        "commissioner",
        {"fault": "truncate", "on_sends": frozenset({2}), "keep": 20},
        (("malformed", 1),),
        (1, 0),
        id="truncated-header-of-pake1",
    ),
    pytest.param(
        "commissionee",
        {"fault": "truncate", "on_sends": frozenset({0}), "keep": 12},
        (("malformed", 1),),
        (0, 1),
        id="truncated-header-of-pbkdf-param-response",
    ),
]


# --------------------------------------------------------------------------- handshakes


@slow
@pytest.mark.parametrize(
    ("seed", "passcode", "salt", "iterations"),
    [
        (1, 20202021, DEFAULT_SALT, 1000),
        (2, 12345679, bytes(range(32)), 2000),
        (3, 1, b"\xff" * 16, 1000),
        (4, 99999998, b"salt-of-24-bytes-exactly", 2000),
    ],
)
def test_component_handshake(
    shared_runtime: Runtime,
    core_path: Path,
    seed: int,
    passcode: int,
    salt: bytes,
    iterations: int,
) -> None:
    config = RunConfig(seed=seed, passcode=passcode, salt=salt, iterations=iterations)
    report = _component_run(shared_runtime, core_path, config)
    assert report.ok, report.error
    assert report.outcome.commissioner.state == "ESTABLISHED"
    assert report.outcome.commissionee.state == "ESTABLISHED"
    assert len(report.transcript_hash) == 32
    assert len(report.outcome.secure_probe) == 2
    assert not report.outcome.timed_out


@slow
@pytest.mark.parametrize("seed", [5, 6, 7])
def test_component_transcript_equals_native(
    shared_runtime: Runtime, core_path: Path, seed: int
) -> None:
    config = RunConfig(seed=seed)
    component = _component_run(shared_runtime, core_path, config)
    native = run_native(config)
    assert component.ok and native.ok
    assert component.transcript_hash == native.transcript_hash
    assert component.trace == native.trace  # every datagram, byte for byte, at the same time
    assert {r: c.as_dict() for r, c in component.seams.items()} == {
        r: c.as_dict() for r, c in native.seams.items()
    }


@slow
def test_component_run_is_reproducible_and_seed_sensitive(
    shared_runtime: Runtime, core_path: Path
) -> None:
    first = _component_run(shared_runtime, core_path, RunConfig(seed=8))
    again = _component_run(shared_runtime, core_path, RunConfig(seed=8))
    other = _component_run(shared_runtime, core_path, RunConfig(seed=9))
    assert first.transcript_hash == again.transcript_hash
    assert first.transcript_hash != other.transcript_hash


@slow
def test_seam_counters_non_zero_in_both_roles(shared_runtime: Runtime, core_path: Path) -> None:
    report = _component_run(shared_runtime, core_path, RunConfig(seed=10))
    assert report.ok
    for role in ROLES:
        counters = report.seams[role]
        assert counters.transport_sends > 0, role
        assert counters.transport_receives > 0, role
        assert counters.clock_reads > 0, role
        assert counters.entropy_calls > 0 and counters.entropy_bytes > 0, role
    sent = sum(report.seams[r].transport_sends for r in ROLES)
    assert sent == len(report.trace)
    assert report.fuel["commissioner"] > 0 and report.fuel["commissionee"] > 0


# --------------------------------------------------------------------------- negative cases


@slow
def test_wrong_passcode_fails_cleanly(shared_runtime: Runtime, core_path: Path) -> None:
    config = RunConfig(seed=12, wrong_passcode=True)
    report = _component_run(shared_runtime, core_path, config)
    assert not report.ok
    assert _failure_kinds(report.outcome) == ("confirmation-failed", "peer-status")
    failure = report.outcome.commissioner.failure
    assert failure is not None and "confirmation" in failure.message
    assert not report.outcome.timed_out
    assert report.transcript_hash == b""
    assert _failure_kinds(run_native(config).outcome) == ("confirmation-failed", "peer-status")


@slow
@pytest.mark.parametrize(("role", "fault", "kinds"), FAULTS)
def test_damaged_datagram_fails_cleanly_in_component(
    shared_runtime: Runtime,
    core_component: wc.Component,
    role: str,
    fault: dict[str, Any],
    kinds: tuple[str, str],
) -> None:
    run = FaultRun(role, fault, shared_runtime, core_component)
    assert run.faulty.faults_applied == 1
    assert not run.outcome.established
    assert _failure_kinds(run.outcome) == kinds
    for name, guest in run.guests.items():
        assert guest.dead is None, name  # no trap: the failure crossed the seam as a value
    # The instances are still usable: polling again reports the same failure.
    after = [role_handle.poll() for role_handle in run.roles]
    assert tuple(s.failure.kind if s.failure else None for s in after) == kinds


@pytest.mark.parametrize(("role", "fault", "kinds"), FAULTS)
def test_damaged_datagram_fails_cleanly_natively(
    role: str, fault: dict[str, Any], kinds: tuple[str, str]
) -> None:
    run = FaultRun(role, fault)
    assert run.faulty.faults_applied == 1
    assert _failure_kinds(run.outcome) == kinds


def _check_recovered(
    run: FaultRun,
    role: str,
    drops: tuple[tuple[str, int], ...],
    retransmissions: tuple[int, int],
) -> None:
    outcome = run.outcome
    assert run.faulty.faults_applied == 1
    assert outcome.established
    assert _failure_kinds(outcome) == (None, None)
    receiver = outcome.commissionee if role == "commissioner" else outcome.commissioner
    sender = outcome.commissioner if role == "commissioner" else outcome.commissionee
    assert receiver.dropped == drops
    assert sender.dropped == ()
    assert (
        outcome.commissioner.retransmissions,
        outcome.commissionee.retransmissions,
    ) == retransmissions
    assert outcome.commissioner.transcript_hash == outcome.commissionee.transcript_hash


@pytest.mark.parametrize(("role", "fault", "drops", "retransmissions"), RECOVERED)
def test_damage_the_message_layer_drops_is_retransmitted_away_natively(
    role: str,
    fault: dict[str, Any],
    drops: tuple[tuple[str, int], ...],
    retransmissions: tuple[int, int],
) -> None:
    _check_recovered(FaultRun(role, fault), role, drops, retransmissions)


@slow
@pytest.mark.parametrize(("role", "fault", "drops", "retransmissions"), RECOVERED)
def test_damage_the_message_layer_drops_is_retransmitted_away_in_component(
    shared_runtime: Runtime,
    core_component: wc.Component,
    role: str,
    fault: dict[str, Any],
    drops: tuple[tuple[str, int], ...],
    retransmissions: tuple[int, int],
) -> None:
    run = FaultRun(role, fault, shared_runtime, core_component)
    _check_recovered(run, role, drops, retransmissions)
    for name, guest in run.guests.items():
        assert guest.dead is None, name


@slow
@pytest.mark.parametrize(
    ("fault", "kinds"),
    [("corrupt", ("peer-status", "crypto")), ("truncate", ("peer-status", "decode"))],
)
def test_run_config_fault_fails_cleanly(
    shared_runtime: Runtime, core_path: Path, fault: str, kinds: tuple[str, str]
) -> None:
    config = RunConfig(seed=14, fault=fault)
    report = _component_run(shared_runtime, core_path, config)
    assert not report.ok
    assert _failure_kinds(report.outcome) == kinds
    assert _failure_kinds(run_native(config).outcome) == kinds


@slow
def test_corrupted_status_report_never_yields_an_agreed_session(
    shared_runtime: Runtime, core_component: wc.Component
) -> None:
    # The commissionee's third datagram is the success StatusReport; damage its
    # protocol code. Whatever each side concludes, they must not agree on a session.
    fault = {"fault": "flip", "on_sends": frozenset({2}), "offset": -1}
    run = FaultRun("commissionee", fault, shared_runtime, core_component)
    assert run.faulty.faults_applied == 1
    assert not run.outcome.established
    assert all(guest.dead is None for guest in run.guests.values())


@slow
def test_injected_garbage_is_dropped_and_the_handshake_completes(
    shared_runtime: Runtime, core_component: wc.Component
) -> None:
    # A 3-byte "message" reaches the waiting device before the request: the message
    # layer drops it (counted as malformed) and the handshake goes on undisturbed.
    config = RunConfig(seed=13)
    seams = Seams(config)
    seams.link.inject("commissionee", b"\x04\x00\x00")
    guests = {
        r: instantiate_core(shared_runtime, core_component, seams, r, config.limits) for r in ROLES
    }
    roles = [ComponentRole(r, guests[r]) for r in ROLES]
    outcome = drive_handshake(roles[0], roles[1], seams.clock, handshake_params(config))
    assert outcome.established
    assert outcome.commissionee.failure is None and outcome.commissioner.failure is None
    assert outcome.commissionee.dropped == (("malformed", 1),)
    assert outcome.commissioner.dropped == ()
    assert outcome.commissioner.retransmissions == outcome.commissionee.retransmissions == 0
    assert all(guest.dead is None for guest in guests.values())


# --------------------------------------------------------------------------- import list

# The three seams exactly, as instances with the core's function types left out (an
# instance import may export nothing): the checker looks at names and sorts.
SEAMS_ONLY_WAT = f"""
(component
  (import "{TRANSPORT}" (instance))
  (import "{CLOCK}" (instance))
  (import "{ENTROPY}" (instance)))
"""
WASI_WAT = f"""
(component
  (import "{TRANSPORT}" (instance))
  (import "{CLOCK}" (instance))
  (import "{ENTROPY}" (instance))
  (import "wasi:filesystem/types@0.2.0" (instance)))
"""
FUNC_SEAM_WAT = f"""
(component
  (import "{TRANSPORT}" (instance))
  (import "{CLOCK}" (func))
  (import "{ENTROPY}" (instance)))
"""


def _wat_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "probe.wasm"
    path.write_bytes(bytes(wasmtime.wat2wasm(text)))
    return path


@slow
def test_core_imports_exactly_the_three_seams(core_path: Path) -> None:
    assert check_core_imports(core_path) == []


def test_import_check_accepts_seams_only(tmp_path: Path) -> None:
    assert check_core_imports(_wat_file(tmp_path, SEAMS_ONLY_WAT)) == []


def test_import_check_rejects_a_wasi_import(tmp_path: Path) -> None:
    problems = check_core_imports(_wat_file(tmp_path, WASI_WAT))
    assert len(problems) == 1
    assert "wasi:filesystem/types@0.2.0" in problems[0]
    assert "ambient WASI authority" in problems[0]


def test_import_check_rejects_a_seam_of_the_wrong_sort(tmp_path: Path) -> None:
    assert check_core_imports(_wat_file(tmp_path, FUNC_SEAM_WAT)) == [
        f"imports {CLOCK} as a func, not as an instance"
    ]


@slow
def test_import_check_rejects_missing_seams(loopback_path: Path) -> None:
    # The loopback imports the clock alone (for its link faults): two seams are missing.
    problems = check_core_imports(loopback_path)
    assert problems == [f"does not import the seam {name}" for name in (TRANSPORT, ENTROPY)]


def test_import_check_reports_unreadable_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert "is not a readable component" in check_core_imports(text)[0]
    assert "cannot read" in check_core_imports(tmp_path / "absent.wasm")[0]


# --------------------------------------------------------------------------- conformance


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    return load_vectors()


EXPECTED_VECTORS = 4 + 2 + 4  # draft-01, PBKDF2, Apple (verifier, keys, two CCM messages)


def _assert_all_pass(results: list[VectorResult]) -> None:
    failed = [f"{r.name}: {r.detail}" for r in results if not r.passed]
    assert not failed
    assert len(results) == EXPECTED_VECTORS
    assert all_passed(results)


def test_native_conformance_passes_every_vector(vectors: dict[str, Any]) -> None:
    results = run_conformance(NativeConformance(), vectors)
    _assert_all_pass(results)
    spake = [r for r in results if r.name.startswith("spake2p-draft01/")]
    assert len(spake) == 4
    assert all(len(r.checked) == 12 for r in spake)


@slow
def test_component_conformance_passes_every_vector(
    shared_runtime: Runtime, core_component: wc.Component, vectors: dict[str, Any]
) -> None:
    target, seams = instantiate_conformance(shared_runtime, core_component)
    results = run_conformance(target, vectors)
    _assert_all_pass(results)
    assert [r.name for r in results] == vector_names(vectors)
    assert results == run_conformance(NativeConformance(), vectors)
    # The conformance export computes from its arguments alone: no seam was crossed.
    for counters in seams.counters.values():
        assert all(value == 0 for value in counters.as_dict().values())


@slow
def test_component_conformance_reports_a_wrong_expected_value(
    shared_runtime: Runtime, core_component: wc.Component, vectors: dict[str, Any]
) -> None:
    tampered = copy.deepcopy(vectors)
    vector = tampered["spake2p_draft01_matter"][2]
    vector["V"] = vector["V"][:-2] + ("00" if vector["V"][-2:] != "00" else "01")
    apple = tampered["matter_pase_end_to_end_apple_recording"]
    apple["first_secured_msg_from_responder_plaintext"] = (
        "00" + apple["first_secured_msg_from_responder_plaintext"][2:]
    )
    target, _ = instantiate_conformance(shared_runtime, core_component)
    results = {r.name: r for r in run_conformance(target.guest, tampered)}
    bad_spake = results[f"spake2p-draft01/{vector['name']}"]
    assert not bad_spake.passed
    assert bad_spake.detail.startswith("first mismatching field: V ")
    assert bad_spake.checked == ("L", "X", "Y", "Z", "V")
    bad_ccm = results["apple-recording/ccm-r2i-first-message"]
    assert not bad_ccm.passed and "plaintext" in bad_ccm.detail
    assert sum(not r.passed for r in results.values()) == 2
    assert not all_passed(list(results.values()))
    assert vectors["spake2p_draft01_matter"][2]["V"] != vector["V"]  # input untouched


def test_conformance_reports_core_errors_as_failures(vectors: dict[str, Any]) -> None:
    broken = copy.deepcopy(vectors)
    broken["pbkdf2_passcode_to_w0_w1"][0]["iterations"] = 5  # below Matter's minimum
    broken["matter_pase_end_to_end_apple_recording"]["Ke"] = "00"  # not 16 bytes
    results = {r.name: r for r in run_conformance(NativeConformance(), broken)}
    pbkdf = results["pbkdf2/passcode-20202021-iterations-5"]
    assert not pbkdf.passed and "iterations" in pbkdf.detail
    keys = results["apple-recording/session-keys"]
    assert not keys.passed and "Ke" in keys.detail


def test_conformance_reports_a_dead_instance_per_vector(vectors: dict[str, Any]) -> None:
    runtime = Runtime(None)
    component = runtime.load_bytes(bytes(wasmtime.wat2wasm("(component)")))
    store = runtime.new_store(Limits(deadline_ms=None))
    guest = GuestCall(store, wc.Linker(runtime.engine).instantiate(store, component), "core")
    guest.dead = GuestTrap("core trapped (guest-panic): unreachable", cause="guest-panic")
    results = run_conformance(guest, vectors)
    assert len(results) == EXPECTED_VECTORS
    assert all(not r.passed and "cannot be entered again" in r.detail for r in results)


def test_conformance_vector_file_errors(vectors: dict[str, Any], tmp_path: Path) -> None:
    missing = copy.deepcopy(vectors)
    del missing["spake2p_draft01_matter"][0]["cB"]
    with pytest.raises(ConformanceVectorsError, match="has no 'cB'"):
        run_conformance(NativeConformance(), missing)
    with pytest.raises(ConformanceVectorsError, match="no list 'pbkdf2_passcode_to_w0_w1'"):
        run_conformance(NativeConformance(), {"spake2p_draft01_matter": []})
    with pytest.raises(ConformanceVectorsError, match="cannot read"):
        load_vectors(tmp_path / "absent.json")
    assert not all_passed([])


def test_message_header_length() -> None:
    assert message_header_length(bytes(8) + b"payload") == 8
    assert message_header_length(b"\x04" + bytes(15)) == 16  # source node id
    assert message_header_length(b"\x05" + bytes(23)) == 24  # and destination node id
    assert message_header_length(b"\x02" + bytes(9)) == 10  # destination group id
    extended = b"\x00\x00\x00\x20" + bytes(4) + b"\x03\x00abc" + b"rest"
    assert message_header_length(extended) == 13
    with pytest.raises(ConformanceVectorsError):
        message_header_length(bytes(5))
