"""Tests for ``matter-harness signature detach`` and ``signature show``, and for the
``sign --detached`` error that points to them (finding 8 of the security review), through
click's CliRunner.

Everything is written under ``tmp_path``: keys, components, the trust store
(``isolated_trust`` sets ``MATTER_HARNESS_TRUST_STORE``) and the build directory
(``--build-dir``), never the user's or the project's.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import click
import pytest
import wasmtime
from click.testing import CliRunner, Result

from harness.cli import cli
from harness.supply.chain import signed_content
from harness.supply.keys import load_or_create_build_key, load_public_key
from harness.supply.signature_format import SIGNATURE_SECTION, custom_section, layout

pytestmark = pytest.mark.usefixtures("isolated_trust")

COMPONENT = bytes(
    wasmtime.wat2wasm(
        '(component (core module $m (func (export "f") (result i32) i32.const 7))'
        " (core instance (instantiate $m)))"
    )
)


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def clean_exit(result: Result, code: int) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    if code:
        assert isinstance(result.exception, SystemExit)


def fingerprint(key: Path) -> str:
    return load_public_key(Path(f"{key}.pub")).fingerprint


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """An empty build directory, so the project's build key plays no part."""
    path = tmp_path / "build"
    path.mkdir()
    return path


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    """Two key pairs made by `keys generate`, the first trusted as 'one'."""
    made = []
    for name in ("one", "two"):
        path = tmp_path / f"{name}.key"
        clean_exit(invoke("keys", "generate", path), 0)
        made.append(path)
    clean_exit(invoke("trust", "add", f"{made[0]}.pub", "--name", "one"), 0)
    return made[0], made[1]


@pytest.fixture
def signed(tmp_path: Path, keys: tuple[Path, Path]) -> Path:
    """A component with an embedded signature by key 'one'."""
    path = tmp_path / "app.wasm"
    path.write_bytes(COMPONENT)
    clean_exit(invoke("sign", path, "--key", keys[0]), 0)
    return path


# --------------------------------------------------------------------------- finding 8


def test_finding_8_a_built_component_can_be_detached_and_signed_detached(
    tmp_path: Path, build: Path
) -> None:
    # A built component: signed (embedded) with the build directory's build key.
    build_key = load_or_create_build_key(build)
    built = tmp_path / "core.wasm"
    built.write_bytes(COMPONENT)
    clean_exit(invoke("sign", built, "--key", build / "keys" / "build.key"), 0)
    as_built = built.read_bytes()
    assert layout(as_built).signature_section is not None
    clean_exit(invoke("trust", "add", build / "keys" / "build.pub", "--name", "builder"), 0)
    release = tmp_path / "release.key"
    clean_exit(invoke("keys", "generate", release), 0)
    clean_exit(invoke("trust", "add", f"{release}.pub", "--name", "release"), 0)

    # Signing it detached is refused, naming the command that helps.
    refused = invoke("sign", built, "--key", release, "--detached", tmp_path / "core.sig")
    clean_exit(refused, 2)
    assert "already has an embedded signature" in refused.stderr
    assert f"matter-harness signature detach {built}" in refused.stderr
    assert not (tmp_path / "core.sig").exists() and built.read_bytes() == as_built

    # Detach the embedded signature, then sign the detached content with a second key.
    plain, build_sig = tmp_path / "core.plain.wasm", tmp_path / "core.build.sig"
    detached = invoke("signature", "detach", built, "-o", plain, "--signature", build_sig)
    clean_exit(detached, 0)
    assert plain.read_bytes() == signed_content(as_built) == COMPONENT
    assert built.read_bytes() == as_built
    release_sig = tmp_path / "core.release.sig"
    clean_exit(invoke("sign", plain, "--key", release, "--detached", release_sig), 0)
    assert plain.read_bytes() == COMPONENT

    # Both signatures verify the same bytes, each by its own key.
    for sig, name, key_id in (
        (build_sig, "builder", build_key.public_key.fingerprint),
        (release_sig, "release", fingerprint(release)),
    ):
        ok = invoke("verify", plain, "--signature", sig, "--build-dir", build)
        clean_exit(ok, 0)
        assert ok.stdout.startswith(
            f"VERIFIED {plain}: strict: valid signature by trusted key {name!r} {key_id} "
            "covering the whole component"
        )
    original = invoke("verify", built, "--build-dir", build)
    clean_exit(original, 0)
    assert f"trusted key 'builder' {build_key.public_key.fingerprint}" in original.stdout
    # A detached signature covers the signed content (the built file holds it too), and
    # nothing else.
    clean_exit(invoke("verify", built, "--signature", release_sig, "--build-dir", build), 0)
    plain.write_bytes(COMPONENT + custom_section(b"added", b""))
    changed = invoke("verify", plain, "--signature", release_sig, "--build-dir", build)
    clean_exit(changed, 1)
    assert "refusing to load" in changed.stderr


# --------------------------------------------------------------------------- detach


def test_detach_writes_a_pair_that_verifies_like_the_original(
    tmp_path: Path, signed: Path, keys: tuple[Path, Path], build: Path
) -> None:
    clean_exit(invoke("sign", signed, "--key", keys[1], "--key-id", "two-1"), 0)
    out, sig = tmp_path / "out" / "plain.wasm", tmp_path / "out" / "app.sig"
    result = invoke("signature", "detach", signed, "-o", out, "--signature", sig)
    clean_exit(result, 0)
    found = layout(signed.read_bytes())
    assert found.signature_section is not None
    embedded = signed.read_bytes()[
        found.signature_section.content_start : found.signature_section.end
    ]
    assert out.read_bytes() == COMPONENT and sig.read_bytes() == embedded
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"wrote {out}: {signed} without its signature section (sha256 ")
    assert lines[1] == (
        f"wrote detached signature {sig}: 2 signature(s), key id(s) {fingerprint(keys[0])}, "
        f"{b'two-1'.hex()}"
    )

    before = invoke("verify", signed, "--build-dir", build)
    after = invoke("verify", out, "--signature", sig, "--build-dir", build)
    clean_exit(before, 0)
    clean_exit(after, 0)
    detail = f"strict: valid signature by trusted key 'one' {fingerprint(keys[0])} covering"
    assert before.stdout.startswith(f"VERIFIED {signed}: {detail}")
    assert after.stdout.startswith(f"VERIFIED {out}: {detail}")
    # Without its detached signature the output is unsigned, and refused.
    clean_exit(invoke("verify", out, "--build-dir", build), 1)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unsigned", "has no embedded signature: nothing to detach"),
        ("not-a-component", "is not a WebAssembly component"),
        ("output-exists", "refusing to overwrite existing file"),
        ("signature-exists", "refusing to overwrite existing file"),
        ("output-is-input", "must be three different files"),
        ("signature-is-input", "must be three different files"),
        ("output-is-signature", "must be three different files"),
    ],
)
def test_detach_refuses_with_one_line_and_writes_nothing(
    tmp_path: Path, signed: Path, case: str, message: str
) -> None:
    out, sig = tmp_path / "plain.wasm", tmp_path / "app.sig"
    force: list[str] = []
    if case == "unsigned":
        signed.write_bytes(COMPONENT)
    elif case == "not-a-component":
        signed.write_text("(component)\n")
        message = f"{signed} is not a WebAssembly component: it does not start with"
    elif case == "output-exists":
        out.write_bytes(b"keep")
    elif case == "signature-exists":
        sig.write_bytes(b"keep")
    elif case == "output-is-input":
        out, force = signed, ["--force"]
    elif case == "signature-is-input":
        sig, force = signed, ["--force"]
    else:
        sig, force = out, ["--force"]
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    result = invoke("signature", "detach", signed, "-o", out, "--signature", sig, *force)
    clean_exit(result, 2)
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_detach_force_replaces_existing_outputs(tmp_path: Path, signed: Path) -> None:
    out, sig = tmp_path / "plain.wasm", tmp_path / "app.sig"
    out.write_bytes(b"old")
    sig.write_bytes(b"old")
    clean_exit(invoke("signature", "detach", signed, "-o", out, "--signature", sig, "--force"), 0)
    assert out.read_bytes() == COMPONENT and sig.read_bytes() != b"old"


def test_detach_usage_errors(tmp_path: Path, signed: Path) -> None:
    missing = invoke("signature", "detach", tmp_path / "nope.wasm", "-o", "o", "--signature", "s")
    clean_exit(missing, 2)
    clean_exit(invoke("signature", "detach", signed, "--signature", tmp_path / "s"), 2)
    clean_exit(invoke("signature", "detach", signed, "-o", tmp_path / "o"), 2)
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".wasm") == ["app.wasm"]


# --------------------------------------------------------------------------- show


def test_show_lists_every_embedded_signature(
    signed: Path, keys: tuple[Path, Path], build: Path
) -> None:
    clean_exit(invoke("sign", signed, "--key", keys[1], "--key-id", "two-1"), 0)
    result = invoke("signature", "show", signed, "--build-dir", build)
    clean_exit(result, 0)
    text = result.stdout
    content = signed_content(signed.read_bytes())
    assert text.startswith(f"{signed}: component, 2 signature(s), 1 verified; embedded signature")
    assert "section #0 custom 'signature' [8, " in text
    assert f"signed content sha256  {hashlib.sha256(content).hexdigest()}" in text
    assert "signature data: spec version 0x01, content type wasm, hash function sha256" in text
    assert f"signature 1 of 2: key id {fingerprint(keys[0])}, trusted key 'one'\n" in text
    assert "verifies: yes (verified: valid signature by trusted key 'one'" in text
    assert f"signature 2 of 2: key id {b'two-1'.hex()} ('two-1')\n" in text
    assert "verifies: no (unknown-key: no trusted or known key has this key id)" in text
    assert "algorithm ed25519, hash function sha256, content type wasm" in text
    assert (
        "covers the whole component: 1 of 1 part(s) (0 ended by a delimiter), sections #1-#3"
        in text
    )
    assert "#1 core module [" in text and "#3 custom 'component-name' [" in text


def test_show_json_with_a_detached_signature_and_a_known_key(
    tmp_path: Path, signed: Path, keys: tuple[Path, Path], build: Path
) -> None:
    out, sig = tmp_path / "plain.wasm", tmp_path / "app.sig"
    clean_exit(invoke("signature", "detach", signed, "-o", out, "--signature", sig), 0)
    two_sig = tmp_path / "two.sig"
    clean_exit(invoke("sign", out, "--key", keys[1], "--detached", two_sig), 0)
    args = ("signature", "show", out, "--format", "json", "--build-dir", build)
    shown = invoke(*args, "--signature", sig)
    clean_exit(shown, 0)
    record = json.loads(shown.stdout)
    assert (record["source"], record["signature_path"], record["kind"]) == (
        "detached",
        str(sig),
        "component",
    )
    assert record["content_sha256"] == record["file_sha256"]
    [one] = record["signatures"]
    assert (one["key_id"], one["signer"], one["trusted"], one["verified"]) == (
        fingerprint(keys[0]),
        "one",
        True,
        True,
    )
    assert (one["hash_function"], one["content_type"], one["status"]) == (
        "sha256",
        "wasm",
        "verified",
    )
    assert one["covers"]["whole"] and one["covers"]["parts"] == [1]
    assert [s["name"] for s in one["covers"]["sections"]] == [
        "core module",
        "core instance",
        "custom 'component-name'",
    ]
    unknown = json.loads(invoke(*args, "--signature", two_sig).stdout)["signatures"][0]
    assert (unknown["status"], unknown["verified"]) == ("unknown-key", False)
    known = invoke(*args, "--signature", two_sig, "--public-key", f"{keys[1]}.pub")
    clean_exit(known, 0)
    [two] = json.loads(known.stdout)["signatures"]
    assert (two["verified"], two["trusted"], two["signer"]) == (True, False, None)


def test_show_exits_0_when_nothing_verifies(tmp_path: Path, build: Path) -> None:
    plain = tmp_path / "plain.wasm"
    plain.write_bytes(COMPONENT)
    unsigned = invoke("signature", "show", plain, "--build-dir", build)
    clean_exit(unsigned, 0)
    assert "0 signature(s), 0 verified; no signature, embedded or detached" in unsigned.stdout
    other = tmp_path / "other.key"
    clean_exit(invoke("keys", "generate", other), 0)
    clean_exit(invoke("sign", plain, "--key", other), 0)
    tampered = bytearray(plain.read_bytes())
    tampered[-1] ^= 0xFF
    plain.write_bytes(bytes(tampered))
    untrusted = invoke("signature", "show", plain, "--build-dir", build, "--format", "json")
    clean_exit(untrusted, 0)
    assert json.loads(untrusted.stdout)["signatures"][0]["status"] == "unknown-key"
    clean_exit(invoke("trust", "add", f"{other}.pub", "--name", "other"), 0)
    modified = invoke("signature", "show", plain, "--build-dir", build)
    clean_exit(modified, 0)
    assert (
        "verifies: no (modified: valid signature by trusted key 'other', but the component "
        in modified.stdout
    )


def test_show_exits_2_for_unreadable_input(tmp_path: Path, signed: Path, build: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a component\n")
    bad = invoke("signature", "show", text, "--build-dir", build)
    clean_exit(bad, 2)
    assert f"{text} is not a WebAssembly component: it does not start with" in bad.stderr
    empty = tmp_path / "empty.sig"
    empty.write_bytes(b"")
    no_data = invoke("signature", "show", signed, "--signature", empty, "--build-dir", build)
    clean_exit(no_data, 2)
    assert "signature data is only 0 bytes" in no_data.stderr
    broken = tmp_path / "broken.wasm"
    broken.write_bytes(
        COMPONENT[:8] + custom_section(SIGNATURE_SECTION, b"\x01\x01") + COMPONENT[8:]
    )
    clean_exit(invoke("signature", "show", broken, "--build-dir", build), 2)
    clean_exit(invoke("signature", "show", tmp_path / "missing.wasm"), 2)
    clean_exit(invoke("signature", "show", signed, "--format", "yaml"), 2)


def test_every_signature_command_and_option_has_help() -> None:
    ctx = click.Context(cli)
    group = cli.get_command(ctx, "signature")
    assert isinstance(group, click.Group) and group.help
    assert sorted(group.commands) == ["detach", "show"]
    for name, command in group.commands.items():
        assert command.help, name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.name}"
        usage = invoke("signature", name, "--help")
        clean_exit(usage, 0)
    sign = cli.get_command(ctx, "sign")
    assert sign is not None
    assert all(p.help for p in sign.params if isinstance(p, click.Option))
