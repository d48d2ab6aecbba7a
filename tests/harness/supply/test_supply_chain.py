"""Tests for harness.supply_chain: trust settings, the build key, verification in each
trust mode, sealing build outputs, the gate's run key, composition checks and claim S1.

Most tests use tiny components written as component-model text, in ``tmp_path``; the
trust store is always a temporary one, never the per-user store.
"""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path
from typing import Any

import pytest
import wasmtime
from hypothesis import given, settings
from hypothesis import strategies as st
from wasm_samples import COMPONENT, OTHER, RELEASE, STRANGER, built, chain_in, signed

from harness.build.compositions import compose_cached
from harness.cli.exits import exit_code_for
from harness.component_file import NotAComponent, UnreadableComponent
from harness.errors import HarnessError
from harness.evidence.verifiers.signatures import flip_byte
from harness.project import PROJECT_ROOT
from harness.runtime.engine import Runtime
from harness.supply.chain import ComponentRejected, SupplyChain, _signs_completely, signed_content
from harness.supply.keys import (
    SecretKey,
    build_key_path,
    load_or_create_build_key,
    load_secret_key,
    read_build_public_key,
    save_public_key,
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
    chain = chain_in(build)
    path = signed(chain, build)
    verified = chain.load_verified(path)
    data = path.read_bytes()
    assert verified.data == data and verified.content == COMPONENT
    record = verified.verification
    assert record.sha256 == hashlib.sha256(data).hexdigest()
    assert record.content_sha256 == hashlib.sha256(COMPONENT).hexdigest()
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


@pytest.mark.parametrize(
    ("content", "error", "words"),
    [
        (b"\x00asm\x0d\x00\x01\x00\x01\xff", NotAComponent, "is not a WebAssembly component"),
        (b"\x00asm\x01\x00\x00\x00", NotAComponent, "core WebAssembly module"),
        (None, UnreadableComponent, "cannot read component"),
    ],
    ids=["malformed", "core-module", "missing"],
)
def test_a_file_that_is_no_component_is_refused_before_its_signature(
    tmp_path: Path, content: bytes | None, error: type[Exception], words: str
) -> None:
    # The one component loader answers first: bad input (exit 2), not a refusal (exit 1).
    chain = chain_in(tmp_path / "build")
    path = tmp_path / "x.wasm"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(error, match=words) as info:
        chain.load_verified(path)
    assert isinstance(info.value, HarnessError) and exit_code_for(info.value) == 2
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
    chain = chain_in(build)
    path = signed(chain, build)
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
    chain = chain_in(build)
    path = signed(chain, build, data=importer)
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


def test_seal_new_signs_and_seal_leaves_a_signed_file_alone(tmp_path: Path) -> None:
    build = tmp_path / "build"
    chain = chain_in(build)
    path = signed(chain, build)
    first = path.read_bytes()
    assert layout(first).signature_section is not None
    assert signed_content(first) == COMPONENT
    said: list[str] = []
    assert chain.seal(path, None, said.append) == "ok"
    assert path.read_bytes() == first and said == []


def test_seal_never_signs_a_changed_or_unsigned_file(tmp_path: Path) -> None:
    build = tmp_path / "build"
    chain = chain_in(build)
    path = signed(chain, build)
    produced = hashlib.sha256(COMPONENT).hexdigest()
    tampered = flip_byte(path.read_bytes(), -1)
    path.write_bytes(tampered)
    said: list[str] = []
    assert chain.seal(path, produced, said.append) == "changed"
    assert path.read_bytes() == tampered
    assert "changed after it was made" in said[0] and "not signing it" in said[0]
    with pytest.raises(ComponentRejected, match="modified after signing"):
        chain.load_verified(path)
    # Unsigned, but what was produced: a signer change. Produced afresh, not signed.
    path.write_bytes(COMPONENT)
    assert chain.seal(path, produced, said.append) == "rebuild"
    assert path.read_bytes() == COMPONENT and "rather than signing it" in said[-1]
    assert chain.seal(path, hashlib.sha256(OTHER).hexdigest(), said.append) == "changed"
    assert path.read_bytes() == COMPONENT


def test_seal_re_signs_what_a_trusted_key_vouches_for_keeping_other_signatures(
    tmp_path: Path,
) -> None:
    build = tmp_path / "build"
    path, _ = built(build, data=sign(COMPONENT, RELEASE))
    assert chain_in(build).seal(path, None) == "changed"  # RELEASE untrusted: not re-signed
    TrustStore(tmp_path / "trust").add("release", RELEASE.public_key)
    chain = chain_in(build)
    assert chain.seal(path, None) == "ok"
    assert _signs_completely(path.read_bytes(), chain.build_signer().public_key)
    other = SupplyChain(TrustSettings.from_options("strict", tmp_path / "trust"), None)
    assert other.load_verified(path).verification.signer == "release"


def test_a_configured_signing_key_signs_instead_of_the_build_key(tmp_path: Path) -> None:
    build = tmp_path / "build"
    key_file = tmp_path / "release.key"
    save_secret_key(key_file, RELEASE)
    chain = chain_in(build, signing_key=key_file)
    path = signed(chain, build)
    assert not build_key_path(build).exists()
    with pytest.raises(ComponentRejected, match="untrusted key"):
        chain.load_verified(path)
    TrustStore(tmp_path / "trust").add("release", RELEASE.public_key)
    assert chain.load_verified(path).verification.signer == "release"


def test_finding_2_a_swapped_output_is_never_signed_with_the_signing_key(
    tmp_path: Path,
) -> None:
    # Earlier builds signed build/c.wasm with the build key. An attacker who can write
    # build/ swaps its content, signs it with build/keys/build.key (they can read it)
    # and writes its SHA-256 into the record beside it. A build with a signing key must
    # not sign that: the output is rebuilt, and the swapped file verifies against a
    # store holding only the signing key nowhere.
    build = tmp_path / "build"
    path = signed(chain_in(build), build)
    planted = sign(OTHER, load_secret_key(build_key_path(build)))
    path.write_bytes(planted)
    (build / "c.wasm.inputs.json").write_text(
        json.dumps({"content_sha256": hashlib.sha256(OTHER).hexdigest()})
    )
    key_file = tmp_path / "release.key"
    save_secret_key(key_file, RELEASE)
    TrustStore(tmp_path / "trust").add("release", RELEASE.public_key)
    said: list[str] = []
    chain = chain_in(build, signing_key=key_file)
    assert chain.seal(path, hashlib.sha256(OTHER).hexdigest(), said.append) == "rebuild"
    assert path.read_bytes() == planted and "producing it afresh" in said[0]
    with pytest.raises(ComponentRejected):
        chain.load_verified(path)


def test_finding_3_a_planted_build_key_is_not_trusted_once_trust_is_configured(
    tmp_path: Path,
) -> None:
    # An attacker plants build/keys/build.pub (and signs a modified core with its key).
    build = tmp_path / "build"
    attacker = SecretKey.from_seed(b"\x66" * 32)
    build_key_path(build).parent.mkdir(parents=True)
    save_public_key(build_key_path(build).with_suffix(".pub"), attacker.public_key)
    path, _ = built(build, data=sign(OTHER, attacker))
    key_file = tmp_path / "release.key"
    save_secret_key(key_file, RELEASE)
    # Trust configured two ways: a signing key (the store still empty); a key in the store.
    configured = [chain_in(build, signing_key=key_file)]
    TrustStore(tmp_path / "trust").add("release", RELEASE.public_key)
    configured.append(chain_in(build))
    for chain in configured:
        assert not chain.trusts_build_key
        assert BUILD_KEY_NAME not in [t.name for t in chain.trusted_keys()]
        with pytest.raises(ComponentRejected, match="untrusted key"):
            chain.load_verified(path)
        assert any("not trusting the build key" in line for line in chain.describe())
    # With nothing configured, a local command trusts it (and says what that means).
    bare = SupplyChain(TrustSettings(TrustMode.STRICT, tmp_path / "none"), build)
    assert bare.trusts_build_key
    assert bare.load_verified(path).verification.signer == BUILD_KEY_NAME


# --- the gate's run key -----------------------------------------------------------------


def test_gate_trusts_only_its_run_key(tmp_path: Path) -> None:
    build = tmp_path / "build"
    path = signed(chain_in(build), build)  # signed by the build key earlier
    gate = SupplyChain.for_gate(TrustSettings.from_options(), build)
    assert gate.run_key is not None
    assert [t.name for t in gate.trusted_keys()] == [GATE_KEY_NAME]
    with pytest.raises(ComponentRejected, match="untrusted key") as info:
        gate.load_verified(path)
    assert isinstance(info.value.cause, UntrustedKey)
    assert gate.seal(path, None) == "ok"  # the build signature holds: the run key endorses it
    record = gate.load_verified(path).verification
    assert (record.signer, record.signature) == (GATE_KEY_NAME, "detached")
    assert record.key_id == gate.run_key.public_key.fingerprint
    assert "gate run" in gate.trust_source() and "nothing else" in gate.trust_source()
    path.write_bytes(flip_byte(path.read_bytes(), -1))
    with pytest.raises(ComponentRejected, match="modified after signing"):
        gate.load_verified(path)
    # A later build in this gate run finds the change and refuses it at once.
    with pytest.raises(ComponentRejected, match="changed after it was made"):
        gate.seal(path, hashlib.sha256(COMPONENT).hexdigest())


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
    gate = SupplyChain.for_gate(settings_, build)
    assert gate.run_key is None
    path = signed(gate, build)
    assert gate.seal(path, None) == "ok"
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
        signed(chain, build, f"{name}.wasm", data)
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
                assert gate.seal(build / f"{name}.wasm", None) == "ok"  # build signature holds
            artifact = compose_cached(small_graph, runtime, build, supply_chain=gate)
            assert artifact.cached is cached and artifact.verified is not None
            record = artifact.verified.verification
            assert (record.signer, record.signature) == (GATE_KEY_NAME, "detached")
            assert record.key_id == gate.run_key.public_key.fingerprint
            assert all(v.signer == GATE_KEY_NAME for v in gate.verifications)
    finally:
        runtime.close()
