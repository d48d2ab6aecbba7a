"""Tests for harness.supply_chain: trust settings, the build key, verification in each
trust mode, sealing build outputs, the gate's run key, composition checks and claim S1.

Most tests use tiny components written as component-model text, in ``tmp_path``; the
trust store is always a temporary one, never the per-user store.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
import wasmtime
from hypothesis import given, settings
from hypothesis import strategies as st
from wasm_samples import COMPONENT, OTHER, RELEASE, STRANGER, built, chain_in

from harness.build.compositions import compose_cached
from harness.cli.exits import exit_code_for
from harness.evidence.verifiers.signatures import flip_byte
from harness.project import PROJECT_ROOT
from harness.runtime.engine import Runtime
from harness.supply.chain import ComponentRejected, SupplyChain, signed_content
from harness.supply.keys import (
    SecretKey,
    build_key_path,
    load_or_create_build_key,
    read_build_public_key,
    save_secret_key,
)
from harness.supply.settings import (
    BUILD_KEY_NAME,
    GATE_KEY_NAME,
    SIGNING_KEY_ENV,
    TRUST_MODE_ENV,
    TRUST_STORE_ENV,
    SupplyChainError,
    TrustMode,
    TrustSettings,
)
from harness.supply.signature_format import layout
from harness.supply.signing import (
    NoSignature,
    TamperedComponent,
    UntrustedKey,
    sign,
)
from harness.supply.trust import TrustStore
from harness.wasm_binary import COMPONENT_PREAMBLE, assemble, custom_section, encode_section

COMPOSE_FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "compose"


pytestmark = pytest.mark.usefixtures("isolated_trust")


# --- settings ---------------------------------------------------------------------------


def test_settings_precedence(tmp_path: Path) -> None:
    env = {
        TRUST_MODE_ENV: "self-signed",
        TRUST_STORE_ENV: str(tmp_path / "env-store"),
        SIGNING_KEY_ENV: str(tmp_path / "env.key"),
    }
    from_env = TrustSettings.from_options(env=env)
    assert from_env.mode is TrustMode.SELF_SIGNED
    assert from_env.trust_store == tmp_path / "env-store"
    assert from_env.signing_key == tmp_path / "env.key"
    chosen = TrustSettings.from_options("unsigned", tmp_path / "opt", tmp_path / "o.key", env=env)
    assert (chosen.mode, chosen.trust_store, chosen.signing_key) == (
        TrustMode.UNSIGNED,
        tmp_path / "opt",
        tmp_path / "o.key",
    )
    default = TrustSettings.from_options(env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert default.mode is TrustMode.STRICT
    assert default.trust_store == tmp_path / "matter-harness" / "trust"
    assert default.signing_key is None


def test_a_bad_mode_is_a_configuration_error() -> None:
    with pytest.raises(SupplyChainError, match="unknown trust mode 'lax'") as info:
        TrustSettings.from_options(env={TRUST_MODE_ENV: "lax"})
    assert exit_code_for(info.value) == 2


# --- the build key ----------------------------------------------------------------------


def test_build_key_is_made_once_with_private_permissions(tmp_path: Path) -> None:
    build = tmp_path / "build"
    assert read_build_public_key(build) is None
    key = load_or_create_build_key(build)
    path = build_key_path(build)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.with_suffix(".pub").is_file()
    assert load_or_create_build_key(build).to_bytes() == key.to_bytes()
    assert read_build_public_key(build) == key.public_key
    path.with_suffix(".pub").unlink()  # a build between writing the two halves
    assert read_build_public_key(build) == key.public_key


# --- local verification -----------------------------------------------------------------


def test_strict_loads_a_build_signed_component_and_records_it(tmp_path: Path) -> None:
    build = tmp_path / "build"
    path, produced = built(build)
    chain = chain_in(build)
    chain.seal(path, produced)
    verified = chain.load_verified(path)
    data = path.read_bytes()
    assert verified.data == data and verified.content == COMPONENT
    record = verified.verification
    assert record.sha256 == hashlib.sha256(data).hexdigest()
    assert record.content_sha256 == produced
    assert record.signer == BUILD_KEY_NAME
    assert record.key_id == chain.build_signer().public_key.fingerprint
    assert (record.mode, record.verified, record.trusted, record.signature) == (
        "strict",
        True,
        True,
        "embedded",
    )
    assert chain.verifications == [record]
    assert any("local build key" in line for line in chain.describe())
    # A fresh chain for the same build directory trusts the same build key.
    assert chain_in(build).load_verified(path).verification.key_id == record.key_id


@pytest.mark.parametrize(
    ("make", "cause", "words"),
    [
        pytest.param(lambda d, k: d, NoSignature, "no signature", id="unsigned"),
        pytest.param(
            lambda d, k: flip_byte(sign(d, k), -1),
            TamperedComponent,
            "signature does not verify: component was modified after signing",
            id="tampered",
        ),
        pytest.param(lambda d, k: sign(d, STRANGER), UntrustedKey, "untrusted key", id="untrusted"),
        pytest.param(
            lambda d, k: b"\x00asm\x0d\x00\x01\x00\x01\xff",
            ComponentRejected,
            "cannot check",
            id="malformed",
        ),
    ],
)
def test_strict_refuses_naming_file_and_failure(
    tmp_path: Path, make: Any, cause: type[Exception], words: str
) -> None:
    build = tmp_path / "build"
    chain = chain_in(build)
    path = tmp_path / "x.wasm"
    path.write_bytes(make(COMPONENT, chain.build_signer()))
    with pytest.raises(ComponentRejected) as info:
        chain.load_verified(path)
    error = info.value
    assert str(path) in error.message and words in error.message
    assert exit_code_for(error) == 1 and error.path == str(path)
    if cause is not ComponentRejected:
        assert isinstance(error.cause, cause)
    assert chain.verifications == []


def test_strict_accepts_a_key_from_the_trust_store(tmp_path: Path) -> None:
    TrustStore(tmp_path / "trust").add("release", RELEASE.public_key)
    path = tmp_path / "x.wasm"
    path.write_bytes(sign(COMPONENT, RELEASE))
    record = chain_in(tmp_path / "build").load_verified(path).verification
    assert (record.signer, record.trusted) == ("release", True)


def test_self_signed_needs_a_known_key_not_a_trusted_one(tmp_path: Path) -> None:
    path = tmp_path / "x.wasm"
    path.write_bytes(sign(COMPONENT, STRANGER))
    known = SupplyChain(
        TrustSettings.from_options("self-signed", tmp_path / "trust"),
        None,
        extra_keys=[STRANGER.public_key],
    )
    record = known.load_verified(path).verification
    assert (record.verified, record.trusted, record.signer) == (True, False, None)
    with pytest.raises(ComponentRejected, match="unknown key"):
        chain_in(tmp_path / "build", "self-signed").load_verified(path)
    path.write_bytes(COMPONENT)
    with pytest.raises(ComponentRejected, match="no signature"):
        known.load_verified(path)


def test_unsigned_mode_loads_anything_and_warns_every_time(tmp_path: Path) -> None:
    warnings: list[str] = []
    chain = chain_in(tmp_path / "build", "unsigned", warnings)
    path = tmp_path / "x.wasm"
    for data in (COMPONENT, flip_byte(sign(COMPONENT, STRANGER), -1), COMPONENT):
        path.write_bytes(data)
        record = chain.load_verified(path).verification
        assert not record.verified and record.signature == "none"
    assert len(warnings) == 3
    assert all("signature checks are OFF" in w and str(path) in w for w in warnings)
    assert chain.describe()[0].startswith("WARNING: trust mode 'unsigned'")


def test_load_component_compiles_the_verified_bytes(tmp_path: Path) -> None:
    build = tmp_path / "build"
    path, produced = built(build)
    chain = chain_in(build)
    chain.seal(path, produced)
    runtime = Runtime(None)
    try:
        timings: dict[str, float] = {}
        component = chain.load_component(runtime, path, role="loopback", timings=timings)
    finally:
        runtime.close()
    assert component is not None
    assert len(chain.verifications) == 1
    assert set(timings) == {"verify", "compile"}


def test_load_component_checks_the_policy_before_compiling(tmp_path: Path) -> None:
    # A correctly signed component whose imports break its role's policy is refused,
    # naming the import, by the same call that would otherwise compile it.
    from harness.supply.capabilities import PolicyViolation

    importer = bytes(
        wasmtime.wat2wasm('(component (import "wasi:filesystem/types@0.2.0" (instance)))')
    )
    build = tmp_path / "build"
    path, produced = built(build, data=importer)
    chain = chain_in(build)
    chain.seal(path, produced)
    runtime = Runtime(None)
    try:
        with pytest.raises(PolicyViolation, match=r"wasi:filesystem/types@0\.2\.0"):
            chain.load_component(runtime, path, role="core")
    finally:
        runtime.close()


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_flipped_byte_of_a_signed_component_is_refused(data: st.DataObject) -> None:
    key = SecretKey.from_seed(b"\x07" * 32)
    signed = sign(COMPONENT, key)
    position = data.draw(st.integers(0, len(signed) - 1))
    chain = SupplyChain(TrustSettings(TrustMode.STRICT, Path("/nonexistent/trust")), None)
    chain._build_key = key.public_key  # the build key of a build directory, in memory
    with pytest.raises(ComponentRejected, match="refusing to load"):
        chain.verify_data(flip_byte(signed, position), name="copy.wasm")
    assert chain.verify_data(signed, name="original.wasm").verification.verified


# --- sealing build outputs --------------------------------------------------------------


def test_seal_signs_once_and_leaves_a_signed_file_alone(tmp_path: Path) -> None:
    build = tmp_path / "build"
    path, produced = built(build)
    path.chmod(0o640)
    chain = chain_in(build)
    said: list[str] = []
    chain.seal(path, produced, said.append)
    first = path.read_bytes()
    assert layout(first).signature_section is not None
    assert signed_content(first) == COMPONENT
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert said == [f"c.wasm: signed with key {chain.build_signer().public_key.fingerprint}"]
    chain.seal(path, produced, said.append)
    assert path.read_bytes() == first and len(said) == 1


def test_seal_does_not_sign_a_changed_file(tmp_path: Path) -> None:
    build = tmp_path / "build"
    path, produced = built(build)
    chain = chain_in(build)
    chain.seal(path, produced)
    tampered = flip_byte(path.read_bytes(), -1)
    path.write_bytes(tampered)
    said: list[str] = []
    chain.seal(path, produced, said.append)
    assert path.read_bytes() == tampered
    assert "changed after it was made" in said[0] and "not signing it" in said[0]
    with pytest.raises(ComponentRejected, match="modified after signing"):
        chain.load_verified(path)
    path.write_bytes(COMPONENT)  # unsigned, and not what was produced
    chain.seal(path, hashlib.sha256(OTHER).hexdigest(), said.append)
    assert path.read_bytes() == COMPONENT


def test_seal_re_signs_for_a_new_build_key_keeping_other_signatures(tmp_path: Path) -> None:
    build = tmp_path / "build"
    path, produced = built(build, data=sign(COMPONENT, RELEASE))
    produced = hashlib.sha256(COMPONENT).hexdigest()
    chain_in(build).seal(path, produced)
    shutil.rmtree(build / "keys")  # a new build key
    fresh = chain_in(build)
    fresh.seal(path, produced)
    assert fresh.load_verified(path).verification.signer == BUILD_KEY_NAME
    TrustStore(tmp_path / "trust").add("release", RELEASE.public_key)
    other = SupplyChain(TrustSettings.from_options("strict", tmp_path / "trust"), None)
    assert other.load_verified(path).verification.signer == "release"


def test_a_configured_signing_key_signs_instead_of_the_build_key(tmp_path: Path) -> None:
    build = tmp_path / "build"
    key_file = tmp_path / "release.key"
    save_secret_key(key_file, RELEASE)
    path, produced = built(build)
    chain = chain_in(build, signing_key=key_file)
    chain.seal(path, produced)
    assert not build_key_path(build).exists()
    with pytest.raises(ComponentRejected, match="untrusted key"):
        chain.load_verified(path)
    TrustStore(tmp_path / "trust").add("release", RELEASE.public_key)
    assert chain.load_verified(path).verification.signer == "release"


# --- the gate's run key -----------------------------------------------------------------


def test_gate_trusts_only_its_run_key(tmp_path: Path) -> None:
    build = tmp_path / "build"
    path, produced = built(build)
    chain_in(build).seal(path, produced)  # signed by the build key earlier
    gate = SupplyChain.for_gate(TrustSettings.from_options(), build)
    assert gate.run_key is not None
    assert [t.name for t in gate.trusted_keys()] == [GATE_KEY_NAME]
    with pytest.raises(ComponentRejected, match="untrusted key") as info:
        gate.load_verified(path)
    assert isinstance(info.value.cause, UntrustedKey)
    gate.seal(path, produced)
    record = gate.load_verified(path).verification
    assert (record.signer, record.signature) == (GATE_KEY_NAME, "detached")
    assert record.key_id == gate.run_key.public_key.fingerprint
    assert "gate run" in gate.trust_source() and "nothing else" in gate.trust_source()
    path.write_bytes(flip_byte(path.read_bytes(), -1))
    with pytest.raises(ComponentRejected, match="modified after signing"):
        gate.load_verified(path)
    # A later build in this gate run finds the change and refuses it at once.
    with pytest.raises(ComponentRejected, match="changed after it was made"):
        gate.seal(path, produced)


def test_gate_run_keys_differ_between_runs(tmp_path: Path) -> None:
    first = SupplyChain.for_gate(None, tmp_path)
    second = SupplyChain.for_gate(None, tmp_path)
    assert first.run_key is not None and second.run_key is not None
    assert first.run_key.public_key != second.run_key.public_key


def test_gate_with_a_signing_key_uses_it_and_the_store(tmp_path: Path) -> None:
    key_file = tmp_path / "release.key"
    save_secret_key(key_file, RELEASE)
    TrustStore(tmp_path / "trust").add("release", RELEASE.public_key)
    settings_ = TrustSettings.from_options(None, tmp_path / "trust", key_file)
    build = tmp_path / "build"
    path, produced = built(build)
    gate = SupplyChain.for_gate(settings_, build)
    assert gate.run_key is None
    gate.seal(path, produced)
    assert gate.load_verified(path).verification.signer == "release"
    assert "trust store" in gate.trust_source()


# --- compositions -----------------------------------------------------------------------


def _outer(nested: list[bytes], manifest_nodes: list[dict[str, Any]] | None) -> bytes:
    sections = [encode_section(4, inner) for inner in nested]
    if manifest_nodes is not None:
        body = json.dumps({"nodes": manifest_nodes}).encode()
        sections.append(custom_section("matter-harness:composition", body))
    return assemble(COMPONENT_PREAMBLE, sections)


def test_check_composition_compares_manifest_and_nested_bytes(tmp_path: Path) -> None:
    chain = chain_in(tmp_path / "build", "unsigned", [])
    a = chain.verify_data(COMPONENT, name="a.wasm")
    b = chain.verify_data(OTHER, name="b.wasm")
    nodes = {"a": a, "b": b}
    good = [{"name": "a", "sha256": a.sha256}, {"name": "b", "sha256": b.sha256}]
    chain.check_composition(_outer([COMPONENT, OTHER], good), nodes, name="out")
    cases = {
        "no composition manifest": _outer([COMPONENT, OTHER], None),
        "names nodes": _outer([COMPONENT, OTHER], good[:1]),
        "gives node 'b' sha256": _outer(
            [COMPONENT, OTHER], [good[0], {"name": "b", "sha256": a.sha256}]
        ),
        "nested components are not the verified": _outer([COMPONENT, COMPONENT], good),
    }
    for words, composed in cases.items():
        with pytest.raises(ComponentRejected, match=words):
            chain.check_composition(composed, nodes, name="out")


GRAPH = """\
[nodes.provider]
path = "provider.wasm"

[nodes.consumer]
path = "consumer.wasm"

[instances.p]
node = "provider"

[instances.c]
node = "consumer"

[[exports]]
instance = "c"
export = "test:compose/runner@0.1.0"
as = "runner"
"""


@pytest.fixture
def small_graph(tmp_path: Path) -> Path:
    """A two-node graph of tiny components, built (and signed) in tmp_path/build."""
    build = tmp_path / "build"
    chain = chain_in(build)
    for name in ("provider", "consumer"):
        data = bytes(wasmtime.wat2wasm((COMPOSE_FIXTURES / f"{name}.wat").read_text()))
        path, produced = built(build, f"{name}.wasm", data)
        chain.seal(path, produced)
    graph = build / "graph.toml"
    graph.write_text(GRAPH)
    return graph


def test_compose_cached_verifies_signs_and_checks(small_graph: Path, tmp_path: Path) -> None:
    build = tmp_path / "build"
    runtime = Runtime(None)
    try:
        chain = chain_in(build)
        artifact = compose_cached(small_graph, runtime, build, supply_chain=chain)
        assert not artifact.cached and artifact.verified is not None
        assert artifact.verified.verification.signer == BUILD_KEY_NAME
        assert [Path(v.path).name for v in chain.verifications] == [
            "provider.wasm",
            "consumer.wasm",
            artifact.path.name,
        ]
        again = compose_cached(small_graph, runtime, build, supply_chain=chain_in(build))
        assert again.cached and again.path == artifact.path
        assert again.verified is not None and again.verified.data == artifact.path.read_bytes()
        # A changed composition is refused, not re-signed nor silently composed again.
        artifact.path.write_bytes(flip_byte(artifact.path.read_bytes(), -3))
        with pytest.raises(ComponentRejected, match="modified after signing"):
            compose_cached(small_graph, runtime, build, supply_chain=chain_in(build))
        # A changed node is refused before anything is composed.
        node = build / "consumer.wasm"
        node.write_bytes(flip_byte(node.read_bytes(), -1))
        with pytest.raises(ComponentRejected, match=r"consumer\.wasm"):
            compose_cached(small_graph, runtime, build, supply_chain=chain_in(build))
    finally:
        runtime.close()


def test_compose_cached_in_gate_runs_uses_each_runs_key(small_graph: Path, tmp_path: Path) -> None:
    build = tmp_path / "build"
    runtime = Runtime(None)
    try:
        for cached in (False, True):
            gate = SupplyChain.for_gate(TrustSettings.from_options(), build)
            assert gate.run_key is not None
            for name in ("provider", "consumer"):
                gate.seal(build / f"{name}.wasm", None)  # the build signature holds
            artifact = compose_cached(small_graph, runtime, build, supply_chain=gate)
            assert artifact.cached is cached and artifact.verified is not None
            record = artifact.verified.verification
            assert (record.signer, record.signature) == (GATE_KEY_NAME, "detached")
            assert record.key_id == gate.run_key.public_key.fingerprint
            assert all(v.signer == GATE_KEY_NAME for v in gate.verifications)
    finally:
        runtime.close()
