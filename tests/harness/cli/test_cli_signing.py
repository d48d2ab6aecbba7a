"""Tests for the signing commands of ``matter-harness`` (keys, sign, verify, trust) and for
the signature check of run, compose and peer, through click's CliRunner.

Everything is written under ``tmp_path``; the trust store is chosen with
``MATTER_HARNESS_TRUST_STORE`` (or ``--trust-store``), never the per-user one.
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest
import wasmtime
from click.testing import CliRunner, Result

from harness.build.componentize import BuildResult
from harness.cli.app import cli
from harness.evidence.verifiers.signatures import flip_byte
from harness.project import DEFAULT_BUILD_DIR, PROJECT_ROOT
from harness.supply.keys import load_public_key, load_secret_key
from harness.supply.settings import SIGNING_KEY_ENV, TRUST_MODE_ENV, TRUST_STORE_ENV
from harness.supply.signature_format import layout

slow = pytest.mark.slow
COMPONENT = bytes(
    wasmtime.wat2wasm(
        '(component (core module $m (func (export "f") (result i32) i32.const 7))'
        " (core instance (instantiate $m)))"
    )
)
MODIFIED = "signature does not verify: component was modified after signing"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str | None]:
    """An environment with a temporary trust store and no other signing settings."""
    return {
        TRUST_STORE_ENV: str(tmp_path / "trust"),
        TRUST_MODE_ENV: None,
        SIGNING_KEY_ENV: None,
    }


def invoke(env: dict[str, str | None], *args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def clean_exit(result: Result, code: int) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    if code:
        assert isinstance(result.exception, SystemExit)


@pytest.fixture
def key(tmp_path: Path, env: dict[str, str | None]) -> Path:
    """A key pair made by `keys generate` (tmp_path/dev.key and dev.key.pub)."""
    path = tmp_path / "dev.key"
    clean_exit(invoke(env, "keys", "generate", path), 0)
    return path


@pytest.fixture
def component(tmp_path: Path) -> Path:
    path = tmp_path / "app.wasm"
    path.write_bytes(COMPONENT)
    return path


# --------------------------------------------------------------------------- keys


def test_keys_generate_writes_a_private_key_and_its_public_key(
    tmp_path: Path, env: dict[str, str | None]
) -> None:
    path = tmp_path / "k" / "release.key"
    path.parent.mkdir()
    result = invoke(env, "keys", "generate", path)
    clean_exit(result, 0)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    public = path.with_name("release.key.pub")
    assert load_public_key(public) == load_secret_key(path).public_key
    assert f"key id {load_public_key(public).fingerprint}" in result.stdout
    again = invoke(env, "keys", "generate", path)
    clean_exit(again, 2)
    assert "refusing to overwrite" in again.stderr
    clean_exit(invoke(env, "keys", "generate", "--force", path), 0)
    assert load_public_key(public) == load_secret_key(path).public_key


# --------------------------------------------------------------------------- sign/verify


def test_sign_then_verify_against_the_trust_store(
    key: Path, component: Path, env: dict[str, str | None], tmp_path: Path
) -> None:
    signed = invoke(env, "sign", component, "--key", key)
    clean_exit(signed, 0)
    assert layout(component.read_bytes()).signature_section is not None
    untrusted = invoke(env, "verify", component, "--build-dir", tmp_path / "build")
    clean_exit(untrusted, 1)
    assert "untrusted key" in untrusted.stderr and str(component) in untrusted.stderr
    clean_exit(invoke(env, "trust", "add", f"{key}.pub", "--name", "dev"), 0)
    ok = invoke(env, "verify", component, "--build-dir", tmp_path / "build")
    clean_exit(ok, 0)
    assert ok.stdout.startswith(f"VERIFIED {component}: strict: valid signature by trusted key")
    component.write_bytes(flip_byte(component.read_bytes(), -1))
    tampered = invoke(env, "verify", component, "--build-dir", tmp_path / "build")
    clean_exit(tampered, 1)
    assert MODIFIED in tampered.stderr


def test_self_signed_mode_accepts_a_known_untrusted_key(
    key: Path, component: Path, env: dict[str, str | None], tmp_path: Path
) -> None:
    clean_exit(invoke(env, "sign", component, "--key", key, "--key-id", "dev-1"), 0)
    args = ("verify", component, "--build-dir", tmp_path / "build", "--trust-mode", "self-signed")
    clean_exit(invoke(env, *args), 1)  # the signer's key is not known at all
    public = load_public_key(Path(f"{key}.pub"))
    known = invoke(env, *args, "--public-key", public.to_bytes().hex())
    # The signature names its key "dev-1", not the key's default id: no key matches.
    clean_exit(known, 1)
    clean_exit(invoke(env, "trust", "add", f"{key}.pub", "--name", "dev", "--key-id", "dev-1"), 0)
    clean_exit(invoke(env, *args), 0)


def test_detached_signature_leaves_the_component_unchanged(
    key: Path, component: Path, env: dict[str, str | None], tmp_path: Path
) -> None:
    signature = tmp_path / "app.sig"
    clean_exit(invoke(env, "sign", component, "--key", key, "--detached", signature), 0)
    assert component.read_bytes() == COMPONENT
    clean_exit(invoke(env, "trust", "add", f"{key}.pub", "--name", "dev"), 0)
    build = tmp_path / "build"
    clean_exit(invoke(env, "verify", component, "--build-dir", build), 1)  # no signature
    ok = invoke(env, "verify", component, "--signature", signature, "--build-dir", build)
    clean_exit(ok, 0)
    assert "VERIFIED" in ok.stdout
    component.write_bytes(COMPONENT + b"\x00\x01\x00")  # an empty custom section appended
    changed = invoke(env, "verify", component, "--signature", signature, "--build-dir", build)
    clean_exit(changed, 1)
    assert "refusing to load" in changed.stderr


def test_sign_to_another_file_and_option_conflicts(
    key: Path, component: Path, env: dict[str, str | None], tmp_path: Path
) -> None:
    out = tmp_path / "signed.wasm"
    clean_exit(invoke(env, "sign", component, "--key", key, "-o", out), 0)
    assert component.read_bytes() == COMPONENT
    assert layout(out.read_bytes()).signature_section is not None
    both = invoke(env, "sign", component, "--key", key, "-o", out, "--detached", tmp_path / "s")
    clean_exit(both, 2)
    public_as_secret = invoke(env, "sign", component, "--key", f"{key}.pub")
    clean_exit(public_as_secret, 2)
    assert "public key" in public_as_secret.stderr


def test_unsigned_mode_from_the_environment_loads_with_a_warning(
    component: Path, env: dict[str, str | None], tmp_path: Path
) -> None:
    env[TRUST_MODE_ENV] = "unsigned"
    result = invoke(env, "verify", component, "--build-dir", tmp_path / "build")
    clean_exit(result, 0)
    assert result.stdout.startswith("NOT-VERIFIED")
    assert "WARNING: trust mode 'unsigned'" in result.stderr
    assert "signature checks are OFF" in result.stderr
    env[TRUST_MODE_ENV] = "lenient"
    bad = invoke(env, "verify", component, "--build-dir", tmp_path / "build")
    clean_exit(bad, 2)
    assert "--trust-mode" in bad.stderr


# --------------------------------------------------------------------------- trust store


def test_trust_add_list_remove_with_the_environment_store(
    key: Path, env: dict[str, str | None], tmp_path: Path
) -> None:
    store_file = tmp_path / "trust" / "trusted-keys.json"
    empty = invoke(env, "trust", "list")
    clean_exit(empty, 0)
    assert f"trust store {store_file}: 0 key(s)" in empty.stdout
    added = invoke(env, "trust", "add", f"{key}.pub", "--name", "ci")
    clean_exit(added, 0)
    fingerprint = load_public_key(Path(f"{key}.pub")).fingerprint
    assert f"trusted ci: key id {fingerprint}" in added.stdout
    assert json.loads(store_file.read_text())["keys"][0]["name"] == "ci"
    listed = invoke(env, "trust", "list")
    assert f"  ci  key id {fingerprint}" in listed.stdout
    clean_exit(invoke(env, "trust", "add", f"{key}.pub", "--name", "again"), 2)
    clean_exit(invoke(env, "trust", "remove", "ci"), 0)
    assert "0 key(s)" in invoke(env, "trust", "list").stdout
    missing = invoke(env, "trust", "remove", "ci")
    clean_exit(missing, 2)
    assert "no key named 'ci'" in missing.stderr
    other = tmp_path / "elsewhere.json"
    clean_exit(invoke(env, "trust", "--trust-store", other, "add", f"{key}.pub", "--name", "x"), 0)
    assert json.loads(other.read_text())["keys"][0]["name"] == "x"
    clean_exit(invoke(env, "trust", "add", "not-a-key", "--name", "y"), 2)


# --------------------------------------------------------------------------- run, compose, peer


@pytest.fixture
def tampered_build(built_components: dict[str, BuildResult], tmp_path: Path) -> Path:
    """A copy of the build directory whose core has one byte flipped."""
    build = tmp_path / "build"
    build.mkdir()
    for name in ("core", "loopback"):
        for suffix in (".wasm", ".wasm.inputs.json"):
            shutil.copy2(DEFAULT_BUILD_DIR / (name + suffix), build / (name + suffix))
    shutil.copytree(DEFAULT_BUILD_DIR / "keys", build / "keys")
    core = build / "core.wasm"
    core.write_bytes(flip_byte(core.read_bytes(), core.stat().st_size // 2))
    return build


@slow
def test_run_refuses_a_core_with_one_byte_flipped(
    tampered_build: Path, env: dict[str, str | None]
) -> None:
    result = invoke(env, "run", "--seed", "7", "--build-dir", tampered_build)
    clean_exit(result, 1)
    core = tampered_build / "core.wasm"
    assert f"error: refusing to load {core} (trust mode strict): {MODIFIED}" in result.stderr
    assert "PASE-RUNS-OK" not in result.output
    assert "not signing it" in result.stderr  # the build step left the changed file alone


@slow
def test_compose_and_peer_refuse_the_flipped_core(
    tampered_build: Path, env: dict[str, str | None], tmp_path: Path
) -> None:
    graph_text = (PROJECT_ROOT / "components" / "graphs" / "pase-loopback.toml").read_text()
    graph = tampered_build / "graph.toml"
    graph.write_text(graph_text.replace("../../build/", ""))
    out = tmp_path / "out.wasm"
    composed = invoke(env, "compose", graph, "-o", out, "--build-dir", tampered_build)
    clean_exit(composed, 1)
    assert MODIFIED in composed.stderr and not out.exists()
    peer = invoke(
        env,
        "peer",
        "--role",
        "commissioner",
        "--connect",
        "127.0.0.1:9",
        "--passcode",
        "20202021",
        "--core",
        tampered_build / "core.wasm",
        "--build-dir",
        tampered_build,
    )
    clean_exit(peer, 1)
    assert MODIFIED in peer.stderr and "LISTENING" not in peer.stdout


@slow
@pytest.mark.parametrize("mode", ["strict", "self-signed", "unsigned"])
def test_run_in_each_trust_mode(
    built_components: dict[str, BuildResult], env: dict[str, str | None], mode: str
) -> None:
    result = invoke(env, "run", "--seed", "7", "--trust-mode", mode)
    clean_exit(result, 0)
    assert "PASE-RUNS-OK" in result.stdout
    warned = "signature checks are OFF" in result.stderr
    assert warned == (mode == "unsigned")
    if mode != "unsigned":
        assert "trusting the local build key" in result.stderr
        assert "signed by local-build-key" in result.stderr
