"""Tests for harness.policy: the policy file, risk classes, audit/enforce and claim S2.

Test components are written in component-model text and compiled with
``wasmtime.wat2wasm``; their import lists are what the policy checks.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
import wasmtime
from hypothesis import given, settings
from hypothesis import strategies as st
from wasm_samples import CLI_ENV, FILESYSTEM, SEAMS, SOCKETS, component

from harness.cli.exits import exit_code_for
from harness.errors import HarnessError
from harness.evidence.verifiers.policy import (
    PROBE_SEAMS,
)
from harness.project import DEFAULT_POLICY_PATH
from harness.supply.capabilities import PolicyViolation, audit, enforce, infer_role
from harness.supply.policy import (
    Grant,
    Policy,
    PolicyError,
    RiskClass,
    classify,
    load_policy,
    parse_policy,
)
from harness.wit import CLOCK, ENTROPY, TRANSPORT

MONOTONIC = "wasi:clocks/monotonic-clock@0.2.0"
WALL = "wasi:clocks/wall-clock@0.2.0"


def policy_of(roles: dict[str, list[str]]) -> Policy:
    return parse_policy({"roles": {name: {"allow": allow} for name, allow in roles.items()}})


@pytest.fixture(scope="module")
def default_policy() -> Policy:
    return load_policy()


# --------------------------------------------------------------------------- policy files


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("roles = {}\nextra = 1\n", "top level: unknown key 'extra'"),
        ("description = 'x'\n", "top level: missing required key 'roles'"),
        ("roles = 3\n", "roles: expected a table of roles, found a number"),
        ("roles = {}\n", "roles: defines no roles"),
        ("[roles]\ncore = 'x'\n", "roles.core: expected a table, found a string"),
        ("[roles.core]\nalow = []\n", "roles.core: unknown key 'alow'"),
        ("[roles.core]\ndescription = 'x'\n", "roles.core: missing required key 'allow'"),
        ("[roles.core]\nallow = 'matter:pase'\n", "roles.core.allow: expected a list"),
        ("[roles.core]\nallow = [1]\n", "roles.core.allow[0]: expected a string, found a number"),
        ("[roles.core]\nallow = [true]\n", "roles.core.allow[0]: expected a string, found a bool"),
        ("[roles.core]\nallow = ['wasi:*']\n", "roles.core.allow[0]: 'wasi:*' is not an import"),
        ("[roles.core]\nallow = ['a:b/c@1']\n", "roles.core.allow[0]: 'a:b/c@1' is not an import"),
        ("[roles.core]\nallow = ['a:b', 'a:b']\n", "roles.core.allow[1]: 'a:b' is listed twice"),
        ("[roles.Core]\nallow = []\n", "roles.Core: 'Core' is not a valid role name"),
        ("[roles.core]\nallow = []\ndescription = 2\n", "roles.core.description: expected a"),
        ("description = []\n[roles.core]\nallow = []\n", "description: expected a string"),
        ("[roles.core\nallow = []\n", "is not valid TOML"),
    ],
)
def test_malformed_policy_file_is_refused_with_the_place(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert expected in info.value.message
    assert str(path) in info.value.message


def test_unreadable_and_non_utf8_policy_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "missing.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe roles")
    with pytest.raises(PolicyError, match="is not UTF-8"):
        load_policy(binary)


def test_unknown_role_names_the_roles_there_are(default_policy: Policy) -> None:
    with pytest.raises(PolicyError) as info:
        default_policy.role("plugin")
    assert "no role 'plugin'" in info.value.message
    assert "core, loopback, composed" in info.value.message
    with pytest.raises(PolicyError, match="no role 'plugin'"):
        audit(component(), "plugin", default_policy)


def test_default_policy_roles(default_policy: Policy) -> None:
    assert default_policy.role_names == ("core", "loopback", "composed")
    assert tuple(g.text for g in default_policy.role("core").allow) == SEAMS
    assert tuple(g.text for g in default_policy.role("loopback").allow) == (CLOCK,)
    assert tuple(g.text for g in default_policy.role("composed").allow) == (CLOCK, ENTROPY)
    assert default_policy.sha256 == hashlib.sha256(DEFAULT_POLICY_PATH.read_bytes()).hexdigest()
    assert all(default_policy.role(r).description for r in default_policy.role_names)


def test_probe_seams_are_the_runtime_seams() -> None:
    assert PROBE_SEAMS == SEAMS


# --------------------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("name", "risk", "level"),
    [
        (TRANSPORT, RiskClass.SEAM, "low"),
        ("matter:pase/session-control", RiskClass.SEAM, "low"),
        (FILESYSTEM, RiskClass.WASI_FILESYSTEM, "high"),
        ("wasi:filesystem/preopens", RiskClass.WASI_FILESYSTEM, "high"),
        (SOCKETS, RiskClass.WASI_SOCKETS, "high"),
        ("wasi:sockets/ip-name-lookup@0.2.3", RiskClass.WASI_SOCKETS, "high"),
        (MONOTONIC, RiskClass.WASI_CLOCKS, "high"),
        ("wasi:random/random@0.2.0", RiskClass.WASI_RANDOM, "high"),
        (CLI_ENV, RiskClass.WASI_CLI, "high"),
        ("wasi:io/streams@0.2.0", RiskClass.WASI_IO, "high"),
        ("wasi:http/outgoing-handler@0.2.0", RiskClass.WASI_HTTP, "high"),
        ("wasi:keyvalue/store@0.2.0-draft", RiskClass.OTHER_WASI, "high"),
        ("WASI:Filesystem/types@0.2.0", RiskClass.WASI_FILESYSTEM, "high"),
        ("acme:tools/log@1.0.0", RiskClass.UNKNOWN, "medium"),
        ("matter:other/transport@0.1.0", RiskClass.UNKNOWN, "medium"),
        ("print", RiskClass.UNKNOWN, "medium"),
    ],
)
def test_classification(name: str, risk: RiskClass, level: str) -> None:
    assert classify(name) is risk
    assert risk.level == level
    assert risk.summary


@settings(max_examples=50)
@given(
    base=st.sampled_from([TRANSPORT.split("@")[0], FILESYSTEM.split("@")[0], "acme:x/y"]),
    version=st.from_regex(r"\A[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(-rc[0-9])?\Z"),
)
def test_classification_ignores_the_version(base: str, version: str) -> None:
    assert classify(f"{base}@{version}") is classify(base)


@pytest.mark.parametrize(
    ("grant", "name", "matches"),
    [
        ("wasi:clocks/monotonic-clock@0.2.0", MONOTONIC, True),
        ("wasi:clocks/monotonic-clock@0.2.0", "wasi:clocks/monotonic-clock@0.2.1", False),
        ("wasi:clocks/monotonic-clock@0.2.0", WALL, False),
        ("wasi:clocks/monotonic-clock", "wasi:clocks/monotonic-clock@0.2.1", True),
        ("wasi:clocks/monotonic-clock", "wasi:clocks/monotonic-clock", True),
        ("wasi:clocks/monotonic-clock", WALL, False),
        ("wasi:clocks@0.2.0", WALL, True),
        ("wasi:clocks@0.2.0", "wasi:clocks/wall-clock@0.2.1", False),
        ("wasi:clocks", WALL, True),
        ("wasi:clocks", "wasi:random/random@0.2.0", False),
        ("wasi:clocks", "wasi:clocks-extra/x@0.2.0", False),
        ("wasi:clocks", "wasi:clocks", False),
        ("print", "print", True),
        ("print", "wasi:print/x", False),
    ],
)
def test_grant_matching(grant: str, name: str, matches: bool) -> None:
    assert Grant.parse(grant).matches(name) is matches


# --------------------------------------------------------------------------- audit and enforce


@pytest.mark.slow
def test_core_passes_its_policy_quickly(core_path: Path, default_policy: Policy) -> None:
    started = time.perf_counter()
    report = enforce(core_path, "core", default_policy)
    seconds = time.perf_counter() - started
    assert report.verdict == "allowed"
    assert [(i.name, i.risk, i.allowed) for i in report.imports] == [
        (name, RiskClass.SEAM, True) for name in SEAMS
    ]
    assert report.notes == ()
    assert report.sha256 == hashlib.sha256(core_path.read_bytes()).hexdigest()
    assert seconds < 1.0  # read from the binary, not compiled (a cold compile is ~5 s)


@pytest.mark.parametrize(
    "wasi", [(FILESYSTEM,), (SOCKETS,), (CLI_ENV,), (FILESYSTEM, SOCKETS, CLI_ENV)]
)
def test_wasi_imports_are_refused_by_name(default_policy: Policy, wasi: tuple[str, ...]) -> None:
    with pytest.raises(PolicyViolation) as info:
        enforce(component(*SEAMS, *wasi), "core", default_policy, label="probe.wasm")
    exc = info.value
    assert exc.offending == wasi
    for name in wasi:
        assert name in exc.message
    for seam in SEAMS:
        assert seam not in exc.message
    assert "probe.wasm" in exc.message and "'core'" in exc.message
    assert exit_code_for(exc) == 1
    assert isinstance(exc, HarnessError)
    assert exc.explain().startswith("error: ")
    assert [i.allowed for i in exc.report.imports] == [True] * 3 + [False] * len(wasi)


def test_enforce_reads_imports_without_compiling(default_policy: Policy) -> None:
    # The import section is followed by a section wasmtime would reject: enforce still
    # answers, so it never needed to compile (or instantiate) anything.
    data = component(FILESYSTEM) + bytes([11, 3, 1, 0xFF, 0xFF])
    with pytest.raises(wasmtime.WasmtimeError):
        wasmtime.component.Component(wasmtime.Engine(), data)
    with pytest.raises(PolicyViolation) as info:
        enforce(data, "core", default_policy)
    assert info.value.offending == (FILESYSTEM,)


def test_granting_wasi_clocks_lets_a_clock_component_pass() -> None:
    policy = policy_of({"timed": ["wasi:clocks"], "monotonic": ["wasi:clocks/monotonic-clock"]})
    data = component(MONOTONIC, WALL)
    report = enforce(data, "timed", policy)
    assert [(i.risk, i.grant) for i in report.imports] == [
        (RiskClass.WASI_CLOCKS, "wasi:clocks")
    ] * 2
    with pytest.raises(PolicyViolation) as info:
        enforce(data, "monotonic", policy)
    assert info.value.offending == (WALL,)
    with pytest.raises(PolicyViolation) as info:
        enforce(component(MONOTONIC, "wasi:random/random@0.2.0"), "timed", policy)
    assert info.value.offending == ("wasi:random/random@0.2.0",)


def test_composed_role(default_policy: Policy) -> None:
    report = enforce(component(CLOCK, ENTROPY), "composed", default_policy)
    assert report.allowed and report.notes == ()
    with pytest.raises(PolicyViolation) as info:
        enforce(component(*SEAMS), "composed", default_policy)
    assert info.value.offending == (TRANSPORT,)


@pytest.mark.slow
def test_composed_role_refuses_the_bare_core(core_path: Path, default_policy: Policy) -> None:
    with pytest.raises(PolicyViolation) as info:
        enforce(core_path, "composed", default_policy)
    assert info.value.offending == (TRANSPORT,)


@pytest.mark.slow
def test_loopback_role(loopback_path: Path, core_path: Path, default_policy: Policy) -> None:
    # The loopback imports the clock alone (for delayed and reordered datagrams).
    imports = enforce(loopback_path, "loopback", default_policy).imports
    assert [(item.name, item.sort) for item in imports] == [(CLOCK, "instance")]
    with pytest.raises(PolicyViolation) as info:
        enforce(core_path, "loopback", default_policy)
    assert info.value.offending == (TRANSPORT, ENTROPY)


def test_loopback_role_refuses_any_import_but_the_clock(default_policy: Policy) -> None:
    assert enforce(component(), "loopback", default_policy).allowed
    assert enforce(component(CLOCK), "loopback", default_policy).allowed
    with pytest.raises(PolicyViolation) as info:
        enforce(component(CLOCK, ENTROPY, TRANSPORT), "loopback", default_policy)
    assert info.value.offending == (ENTROPY, TRANSPORT)
    with pytest.raises(PolicyViolation) as info:
        enforce(component(MONOTONIC), "loopback", default_policy)
    assert info.value.offending == (MONOTONIC,)


def test_missing_seam_is_info_not_violation(default_policy: Policy) -> None:
    report = enforce(component(TRANSPORT, CLOCK), "core", default_policy)
    assert report.allowed
    assert report.notes == (f"granted but not imported: {ENTROPY}",)
    assert f"info: granted but not imported: {ENTROPY}" in report.render()


def test_duplicate_import_is_denied(default_policy: Policy) -> None:
    # wat2wasm refuses duplicate names, so rename the second import in the binary.
    twin = TRANSPORT.replace("transport", "transpork")
    data = component(TRANSPORT, twin).replace(twin.encode(), TRANSPORT.encode())
    report = audit(data, "core", default_policy)
    assert [(i.name, i.allowed, i.reason) for i in report.imports][1] == (
        TRANSPORT,
        False,
        "imported twice",
    )
    assert report.verdict == "refused"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x00asm\x01\x00\x00\x00", "found a core module"),
        (b"not wasm", "bad magic"),
        (b"\x00asm\x0d\x00\x01\x00\x0a\x05\x01", "is not a readable component"),
    ],
)
def test_unreadable_component_is_a_harness_error(
    default_policy: Policy, data: bytes, expected: str
) -> None:
    with pytest.raises(HarnessError, match=expected) as info:
        audit(data, "core", default_policy)
    assert not isinstance(info.value, PolicyViolation)


def test_missing_component_file(tmp_path: Path, default_policy: Policy) -> None:
    with pytest.raises(HarnessError, match="cannot read"):
        audit(tmp_path / "nope.wasm", "core", default_policy)


def test_report_render_and_json(default_policy: Policy) -> None:
    report = audit(component(CLOCK, SOCKETS), "composed", default_policy, label="x.wasm")
    text = report.render()
    assert "x.wasm" in text and "role composed" in text
    assert "wasi-sockets (high)" in text and "DENIED" in text
    assert "seam (low)" in text and "allowed" in text
    assert text.endswith("verdict: REFUSED (2 imports, 1 denied)")
    as_json = json.loads(json.dumps(report.as_dict()))
    assert as_json["verdict"] == "refused"
    assert as_json["imports"][1]["risk"] == "wasi-sockets"
    assert as_json["imports"][1]["level"] == "high"
    assert as_json["policy"]["sha256"] == default_policy.sha256
    assert audit(component(), "loopback", default_policy).render().splitlines()[2] == (
        "imports: none"
    )


_NAMES = [TRANSPORT, CLOCK, ENTROPY, FILESYSTEM, SOCKETS, CLI_ENV, MONOTONIC, "acme:x/y@1.0.0"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(_NAMES), unique=True))
def test_verdict_is_exactly_the_allow_list(names: list[str]) -> None:
    policy = load_policy()
    report = audit(component(*names), "core", policy)
    assert report.allowed is all(n in SEAMS for n in names)
    assert [i.name for i in report.denied] == [n for n in names if n not in SEAMS]


def test_infer_role(tmp_path: Path, default_policy: Policy) -> None:
    core = tmp_path / "core.wasm"
    core.write_bytes(component(*SEAMS))
    assert infer_role(core, default_policy) == "core"
    from harness.wasm_binary import MANIFEST_SECTION, custom_section

    composed = tmp_path / "pase-loopback-1234.wasm"
    composed.write_bytes(component(CLOCK) + custom_section(MANIFEST_SECTION, b"{}"))
    assert infer_role(composed, default_policy) == "composed"
    other = tmp_path / "plugin.wasm"
    other.write_bytes(component())
    with pytest.raises(PolicyError, match="cannot tell which role") as info:
        infer_role(other, default_policy)
    assert info.value.hint is not None and "--role" in info.value.hint


def test_finding_7_a_seam_imported_as_a_function_is_refused_before_compile(
    default_policy: Policy,
) -> None:
    # Before: it passed `audit` (the name is granted) and then crashed `run` at link time.
    data = bytes(wasmtime.wat2wasm(f'(component (import "{SEAMS[1]}" (func)))'))
    report = audit(data, "core", default_policy, label="func-seam.wasm")
    assert not report.allowed
    (item,) = report.denied
    assert item.sort == "func" and "must be imported as an instance, not a func" in item.reason
    with pytest.raises(PolicyViolation, match="must be imported as an instance"):
        enforce(data, "core", default_policy, label="func-seam.wasm")
