"""Claim S1's verifier: components verify under strict mode; tampered copies are refused."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from wasm_samples import COMPONENT, RELEASE, chain_in, signed

from harness.build.componentize import BuildResult
from harness.evidence.verifiers.signatures import flip_byte, tamper_positions, verify_signatures
from harness.project import DEFAULT_BUILD_DIR
from harness.supply.chain import SupplyChain
from harness.supply.settings import (
    TrustSettings,
)
from harness.supply.signature_format import layout
from harness.supply.signing import (
    InvalidSignature,
    NonCanonicalSignature,
    sign,
)

pytestmark = pytest.mark.usefixtures("isolated_trust")


def test_tamper_positions_stay_in_the_signed_content() -> None:
    signed = sign(COMPONENT, RELEASE)
    found = layout(signed)
    positions = tamper_positions(signed)
    assert len(positions) >= 3
    assert positions[-1] == len(signed) - 1
    assert all(found.content_start <= p < len(signed) for p in positions)
    assert flip_byte(flip_byte(signed, 5), 5) == signed


@dataclass(frozen=True)
class _Node:
    node: str


class _Subject:
    """The gated graph's nodes (the first plays commissioner)."""

    def __init__(self, nodes: list[str]) -> None:
        self.components = tuple(_Node(name) for name in nodes)

    def core(self, role: str) -> _Node:
        return self.components[0]


class _FakeContext:
    """Just what verify_signatures needs from a GateContext."""

    def __init__(self, chain: SupplyChain, paths: dict[str, Path], graph: Path) -> None:
        self.supply_chain = chain
        self.paths = paths
        self.graph = graph
        self.subject = _Subject([name for name in paths if name != "composed"])

    def component(self, name: str) -> Path:
        return self.paths[name]

    def composed(self) -> Path:
        return self.paths["composed"]

    def inputs(self, *names: str) -> dict[str, str]:
        return {name: hashlib.sha256(self.paths[name].read_bytes()).hexdigest() for name in names}


def test_s1_fails_outside_strict_mode(tmp_path: Path) -> None:
    path = tmp_path / "x.wasm"
    path.write_bytes(COMPONENT)
    paths = {"core": path, "loopback": path, "composed": path}
    for mode in ("self-signed", "unsigned"):
        chain = chain_in(tmp_path / "build", mode, [])
        evidence = verify_signatures(_FakeContext(chain, paths, path), {})  # type: ignore[arg-type]
        assert evidence.verdict == "fail"
        assert f"trust mode is {mode}" in evidence.message
        assert evidence.figures["mode"] == mode


def test_s1_fails_when_a_component_is_refused(tmp_path: Path) -> None:
    build = tmp_path / "build"
    gate = SupplyChain.for_gate(TrustSettings.from_options(), build)
    path = signed(gate, build)
    other = tmp_path / "other.wasm"
    other.write_bytes(COMPONENT)  # never signed by the run key
    paths = {"core": path, "loopback": other, "composed": other}
    evidence = verify_signatures(_FakeContext(gate, paths, path), {})  # type: ignore[arg-type]
    assert evidence.verdict == "fail"
    assert "loopback: refusing to load" in evidence.message
    assert "core" in evidence.figures["components"]


@pytest.mark.slow
def test_s1_passes_on_the_built_components(
    built_components: dict[str, BuildResult], tmp_path: Path
) -> None:
    from harness.evidence.context import GateContext

    ctx = GateContext(DEFAULT_BUILD_DIR, 7)
    try:
        evidence = verify_signatures(ctx, {})
    finally:
        ctx.close()
    assert evidence.verdict == "pass", evidence.message
    figures = evidence.figures
    run_key = ctx.supply_chain.run_key
    assert run_key is not None and figures["run_key_id"] == run_key.public_key.fingerprint
    assert set(figures["components"]) == {"core", "loopback", "composed"}
    for entry in figures["components"].values():
        assert entry["key_id"] == figures["run_key_id"]
        assert entry["sha256"] == hashlib.sha256(Path(entry["path"]).read_bytes()).hexdigest()
    refused = {case["case"]: case["error"] for case in figures["refused"]}
    assert refused["signature removed"] == "NoSignature"
    # Its last byte is the top of S: flipped, S is no longer reduced (strict Ed25519).
    assert refused["run key signature damaged"] == "NonCanonicalSignature"
    assert refused["run key signature missing"] == "UntrustedKey"
    flipped = [e for c, e in refused.items() if c.startswith("byte ")]
    assert len(flipped) >= 3 and set(flipped) == {"TamperedComponent"}
    assert issubclass(NonCanonicalSignature, InvalidSignature)
    assert all(d["refused"] for d in figures["attacks"]) and len(figures["attacks"]) == 5
    assert figures["components_verified"] == 3
