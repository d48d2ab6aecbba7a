"""Claim S2's verifier: the core's imports satisfy its policy; WASI probes are refused by name."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import wasmtime
from wasm_samples import CLI_ENV, FILESYSTEM, SEAMS, SOCKETS, component

from harness.evidence.verifiers.policy import (
    probe_component,
    verify_capability_policy,
)
from harness.project import DEFAULT_POLICY_PATH
from harness.supply.capabilities import AuditReport, PolicyViolation
from harness.supply.policy import (
    PolicyError,
)
from harness.wit import CLOCK, TRANSPORT


def test_probe_components_validate() -> None:
    data = probe_component((*SEAMS, FILESYSTEM))
    ty = wasmtime.component.Component(wasmtime.Engine(), data).type
    assert sorted(ty.imports(wasmtime.Engine())) == sorted((*SEAMS, FILESYSTEM))


@pytest.mark.slow
def test_s2_passes_for_the_core(core_path: Path) -> None:
    verdict, message, figures = verify_capability_policy(core_path)
    assert verdict == "pass", message
    assert figures["policy"] == {
        "path": "components/policy.toml",
        "sha256": hashlib.sha256(DEFAULT_POLICY_PATH.read_bytes()).hexdigest(),
    }
    assert [(i["name"], i["risk"]) for i in figures["core"]["imports"]] == [
        (n, "seam") for n in SEAMS
    ]
    probes = {p["name"]: p for p in figures["probes"]}
    assert probes["wasi-filesystem-probe"]["refused"]
    assert SOCKETS in probes["wasi-sockets-probe"]["message"]
    assert probes["wasi-sockets-probe"]["offending"] == [SOCKETS]
    json.dumps(figures)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_s2_fails_for_a_core_with_a_wasi_import(tmp_path: Path) -> None:
    core = tmp_path / "core.wasm"
    core.write_bytes(component(*SEAMS, CLI_ENV))
    verdict, message, figures = verify_capability_policy(core)
    assert verdict == "fail"
    assert CLI_ENV in message
    assert figures["core"]["verdict"] == "refused"


def _policy_with_core(tmp_path: Path, extra: str) -> Path:
    text = DEFAULT_POLICY_PATH.read_text().replace(
        '"matter:pase/entropy@0.1.0",\n]', f'"matter:pase/entropy@0.1.0",\n    "{extra}",\n]', 1
    )
    assert extra in text
    return _write(tmp_path / "policy.toml", text)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("wasi:filesystem", ["grants more than seams: wasi:filesystem", "wasi-filesystem-probe"]),
        ("wasi:sockets/tcp", ["grants more than seams: wasi:sockets/tcp", "wasi-sockets-probe"]),
        ("wasi:cli", ["grants more than seams: wasi:cli"]),
    ],
)
def test_s2_fails_when_the_core_policy_is_widened(
    tmp_path: Path, extra: str, expected: list[str]
) -> None:
    core = tmp_path / "core.wasm"
    core.write_bytes(component(*SEAMS))
    policy = _policy_with_core(tmp_path, extra)
    verdict, message, figures = verify_capability_policy(core, policy)
    assert verdict == "fail"
    for text in expected:
        assert text in message
    assert figures["policy"]["sha256"] == hashlib.sha256(policy.read_bytes()).hexdigest()


def test_s2_fails_when_a_probe_is_refused_for_the_wrong_reason(tmp_path: Path) -> None:
    # A core role missing a seam still refuses the probes, but names that seam too:
    # the check insists the refusal names exactly the WASI imports.
    core = tmp_path / "core.wasm"
    core.write_bytes(component(TRANSPORT, CLOCK))
    text = DEFAULT_POLICY_PATH.read_text().replace('    "matter:pase/entropy@0.1.0",\n]', "]", 1)
    verdict, message, _ = verify_capability_policy(core, _write(tmp_path / "p.toml", text))
    assert verdict == "fail"
    assert "wasi-filesystem-probe was refused naming" in message


def test_s2_on_a_policy_without_a_core_role_raises(tmp_path: Path) -> None:
    policy = _write(tmp_path / "p.toml", "[roles.loopback]\nallow = []\n")
    core = tmp_path / "core.wasm"
    core.write_bytes(component(*SEAMS))
    with pytest.raises(PolicyError, match="no role 'core'"):
        verify_capability_policy(core, policy)


def test_s2_fails_when_the_refusal_does_not_name_the_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.evidence.verifiers.policy as s2

    real_enforce = s2.enforce

    def vague_enforce(*args: Any, **kwargs: Any) -> AuditReport:
        try:
            return real_enforce(*args, **kwargs)
        except PolicyViolation as exc:
            exc.message = "refused"
            raise

    monkeypatch.setattr(s2, "enforce", vague_enforce)
    core = tmp_path / "core.wasm"
    core.write_bytes(component(*SEAMS))
    verdict, message, figures = verify_capability_policy(core)
    assert verdict == "fail"
    assert "wasi-sockets-probe was refused naming" in message
    assert [p["named"] for p in figures["probes"]] == [False, False]
