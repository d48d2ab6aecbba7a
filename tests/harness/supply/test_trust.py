"""Tests for harness.trust: the trust store, its location, and the trust modes."""

from __future__ import annotations

import json
import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import wasmtime

from harness.supply.keys import PublicKey, SecretKey, generate_keypair
from harness.supply.settings import (
    TRUST_STORE_ENV,
    TrustMode,
    default_trust_store_path,
    resolve_trust_store_path,
)
from harness.supply.signature_format import MalformedComponent
from harness.supply.signing import (
    NoSignature,
    PartiallySigned,
    TamperedComponent,
    UntrustedKey,
    sign,
)
from harness.supply.trust import (
    STORE_FILE_NAME,
    CorruptTrustStore,
    DuplicateTrustedKey,
    InvalidTrustName,
    TrustedKey,
    TrustStore,
    TrustStoreError,
    UnknownTrustedKey,
    check_component,
)

KEY_CI = SecretKey.from_seed(b"\x11" * 32)
KEY_DEV = SecretKey.from_seed(b"\x22" * 32)
KEY_OTHER = SecretKey.from_seed(b"\x33" * 32)
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

COMPONENT = bytes(
    wasmtime.wat2wasm(
        '(component (core module $m (func (export "f") (result i32) i32.const 7))'
        " (core instance (instantiate $m)))"
    )
)


@pytest.fixture
def store(tmp_path: Path) -> TrustStore:
    """A store with the CI key trusted as 'ci'."""
    trust = TrustStore(tmp_path / "trust")
    trust.add("ci", KEY_CI.public_key, now=NOW)
    return trust


# --- location --------------------------------------------------------------------------------


def test_default_location_follows_xdg(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "HOME": "/nonexistent"}
    assert default_trust_store_path(env) == tmp_path / "cfg" / "matter-harness" / "trust"


@pytest.mark.parametrize("xdg", [None, "", "relative/dir"])
def test_default_location_without_usable_xdg(
    xdg: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    env = {} if xdg is None else {"XDG_CONFIG_HOME": xdg}
    expected = tmp_path / ".config" / "matter-harness" / "trust"
    assert default_trust_store_path(env) == expected


def test_location_precedence(tmp_path: Path) -> None:
    env = {TRUST_STORE_ENV: str(tmp_path / "from-env"), "XDG_CONFIG_HOME": str(tmp_path)}
    assert resolve_trust_store_path(tmp_path / "explicit", env) == tmp_path / "explicit"
    assert resolve_trust_store_path(None, env) == tmp_path / "from-env"
    env[TRUST_STORE_ENV] = ""
    assert resolve_trust_store_path(None, env) == tmp_path / "matter-harness" / "trust"


def test_env_variable_selects_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TRUST_STORE_ENV, str(tmp_path / "team.json"))
    trust = TrustStore.open()
    assert trust.path == tmp_path / "team.json"
    trust.add("ci", KEY_CI.public_key)
    assert (tmp_path / "team.json").is_file()
    assert [k.name for k in TrustStore(tmp_path / "team.json").entries()] == ["ci"]


def test_directory_store_keeps_one_file(tmp_path: Path) -> None:
    trust = TrustStore(tmp_path / "trust")
    assert trust.path == tmp_path / "trust" / STORE_FILE_NAME
    assert trust.entries() == []
    trust.add("ci", KEY_CI.public_key)
    # No temporary files survive a write (the lock file is expected).
    assert sorted(p.name for p in (tmp_path / "trust").iterdir()) == [
        STORE_FILE_NAME,
        STORE_FILE_NAME + ".lock",
    ]


# --- operations ------------------------------------------------------------------------------


def test_add_list_get_remove(store: TrustStore) -> None:
    dev = store.add("dev@laptop", KEY_DEV.public_key, now=NOW)
    assert dev == TrustedKey("dev@laptop", KEY_DEV.public_key, "2026-01-02T03:04:05Z")
    assert [k.name for k in store.entries()] == ["ci", "dev@laptop"]
    assert store.get("dev@laptop").key == KEY_DEV.public_key
    assert store.find(KEY_DEV.public_key) == dev
    assert store.find(KEY_OTHER.public_key) is None
    assert store.public_keys() == [KEY_CI.public_key, KEY_DEV.public_key]
    assert store.remove("ci").key == KEY_CI.public_key
    assert [k.name for k in store.entries()] == ["dev@laptop"]
    assert [k.name for k in TrustStore(store.location).entries()] == ["dev@laptop"]


def test_file_content(store: TrustStore) -> None:
    document = json.loads(store.path.read_text())
    assert document == {
        "format": "matter-harness-trust-store",
        "version": 1,
        "keys": [
            {
                "name": "ci",
                "public_key": KEY_CI.public_key.to_bytes().hex(),
                "key_id": KEY_CI.public_key.key_id.hex(),
                "added_at": "2026-01-02T03:04:05Z",
            }
        ],
    }
    assert stat.S_IMODE(store.path.stat().st_mode) & 0o022 == 0


def test_duplicates_are_refused(store: TrustStore) -> None:
    before = store.path.read_bytes()
    with pytest.raises(DuplicateTrustedKey, match="named 'ci' is already trusted"):
        store.add("ci", KEY_DEV.public_key)
    with pytest.raises(DuplicateTrustedKey, match="already trusted as 'ci'"):
        store.add("ci-again", KEY_CI.public_key)
    assert store.path.read_bytes() == before


def test_unknown_names(store: TrustStore) -> None:
    with pytest.raises(UnknownTrustedKey, match="'nobody'"):
        store.remove("nobody")
    with pytest.raises(UnknownTrustedKey, match="'nobody'"):
        store.get("nobody")


@pytest.mark.parametrize("name", ["", "-x", "a b", "x" * 65, "../escape", "é"])
def test_bad_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidTrustName):
        TrustStore(tmp_path).add(name, KEY_CI.public_key)
    assert not (tmp_path / STORE_FILE_NAME).exists()


def test_bad_key_type(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        TrustStore(tmp_path).add("ci", KEY_CI)  # type: ignore[arg-type]


def test_explicit_key_id_survives(tmp_path: Path) -> None:
    trust = TrustStore(tmp_path)
    trust.add("release", KEY_CI.public_key.with_key_id(b"release-2026"))
    assert trust.get("release").key.key_id == b"release-2026"
    signed = sign(COMPONENT, KEY_CI, key_id=b"release-2026")
    assert check_component(signed, "strict", trust).signer_name == "release"


# --- corruption and atomic writes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not JSON"),
        ("[]", "top level is not an object"),
        ('{"format": "other", "version": 1, "keys": []}', "'format'"),
        ('{"format": "matter-harness-trust-store", "version": 9, "keys": []}', "version"),
        ('{"format": "matter-harness-trust-store", "version": 1, "keys": {}}', "not a list"),
        (
            '{"format": "matter-harness-trust-store", "version": 1, "keys": [{"name": "a"}]}',
            "keys\\[0\\]: 'public_key' is missing",
        ),
        (
            '{"format": "matter-harness-trust-store", "version": 1, "keys": [{"name": "a",'
            ' "public_key": "0200", "added_at": "x"}]}',
            "keys\\[0\\]: 'public_key'",
        ),
    ],
)
def test_corrupt_store_is_reported_and_kept(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "trust.json"
    path.write_text(content)
    path.chmod(0o644)  # not the umask's choice: a group-writable store is refused first
    trust = TrustStore(path)
    with pytest.raises(CorruptTrustStore, match=reason) as info:
        trust.entries()
    assert str(path) in info.value.message
    assert "not changed" in info.value.explain()
    with pytest.raises(CorruptTrustStore):
        trust.add("ci", KEY_CI.public_key)
    with pytest.raises(CorruptTrustStore):
        trust.remove("a")
    with pytest.raises(CorruptTrustStore):
        check_component(sign(COMPONENT, KEY_CI), "strict", trust)
    assert path.read_text() == content


def test_duplicate_entries_in_file_are_corrupt(store: TrustStore) -> None:
    document = json.loads(store.path.read_text())
    document["keys"].append(dict(document["keys"][0]))
    store.path.write_text(json.dumps(document))
    with pytest.raises(CorruptTrustStore, match="appears twice"):
        store.entries()


def test_failed_write_leaves_the_old_store(
    store: TrustStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = store.path.read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(TrustStoreError, match="No space left"):
        store.add("dev", KEY_DEV.public_key)
    assert store.path.read_bytes() == before
    assert sorted(p.name for p in store.path.parent.iterdir()) == [
        STORE_FILE_NAME,
        STORE_FILE_NAME + ".lock",
    ]


def test_write_replaces_the_file_in_one_step(
    store: TrustStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []
    real = os.replace

    def spy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        # At the moment of replacement the old store is still complete and readable.
        assert [k.name for k in TrustStore(store.location).entries()] == ["ci"]
        calls.append((os.fspath(src), os.fspath(dst)))
        real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    store.add("dev", KEY_DEV.public_key)
    assert len(calls) == 1 and calls[0][1] == str(store.path)
    assert Path(calls[0][0]).parent == store.path.parent


def test_concurrent_adds_lose_nothing(tmp_path: Path) -> None:
    trust = TrustStore(tmp_path)
    keys = [generate_keypair().public_key for _ in range(12)]
    errors: list[BaseException] = []

    def add(index: int) -> None:
        try:
            TrustStore(tmp_path).add(f"k{index}", keys[index])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(len(keys))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(k.name for k in trust.entries()) == sorted(f"k{i}" for i in range(len(keys)))


# --- trust modes -----------------------------------------------------------------------------


def test_mode_parsing() -> None:
    assert TrustMode.parse("strict") is TrustMode.STRICT
    assert TrustMode.parse("self-signed") is TrustMode.SELF_SIGNED
    assert TrustMode.parse(TrustMode.UNSIGNED) is TrustMode.UNSIGNED
    with pytest.raises(ValueError, match="choose from strict, self-signed, unsigned"):
        TrustMode.parse("lenient")


def test_strict_accepts_a_trusted_signer(store: TrustStore) -> None:
    signed = sign(COMPONENT, KEY_CI)
    verdict = check_component(signed, "strict", store)
    assert verdict.verified and verdict.trusted and verdict.complete
    assert verdict.signer_name == "ci"
    assert verdict.key_id == KEY_CI.public_key.fingerprint
    assert verdict.warning is None
    assert "trusted key 'ci'" in verdict.detail
    assert json.loads(json.dumps(verdict.to_dict()))["signer_name"] == "ci"
    assert check_component(signed, TrustMode.STRICT, store.entries()).signer_name == "ci"


def test_strict_is_the_default(store: TrustStore) -> None:
    with pytest.raises(UntrustedKey):
        check_component(sign(COMPONENT, KEY_DEV), trust_store=store)


def test_strict_refuses_an_untrusted_signer(store: TrustStore) -> None:
    signed = sign(COMPONENT, KEY_DEV)
    with pytest.raises(UntrustedKey, match="signed by an untrusted key") as info:
        check_component(signed, "strict", store)
    assert KEY_DEV.public_key.fingerprint in info.value.message
    assert str(store.path) in info.value.message
    assert "valid" not in info.value.message
    with pytest.raises(UntrustedKey, match="the signature is valid, but the key is not trusted"):
        check_component(signed, "strict", store, extra_keys=[KEY_DEV.public_key])


def test_strict_refuses_unsigned(store: TrustStore) -> None:
    with pytest.raises(NoSignature, match="no signature"):
        check_component(COMPONENT, "strict", store)


def test_strict_refuses_tampered(store: TrustStore) -> None:
    signed = bytearray(sign(COMPONENT, KEY_CI))
    signed[-2] ^= 0x40
    with pytest.raises(TamperedComponent, match="component was modified after signing"):
        check_component(bytes(signed), "strict", store)


def test_strict_with_empty_store(tmp_path: Path) -> None:
    with pytest.raises(UntrustedKey, match="signed by an untrusted key"):
        check_component(sign(COMPONENT, KEY_CI), "strict", TrustStore(tmp_path))
    with pytest.raises(UntrustedKey):
        check_component(sign(COMPONENT, KEY_CI), "strict", None)


def test_one_trusted_among_several(store: TrustStore) -> None:
    signed = sign(sign(sign(COMPONENT, KEY_OTHER), KEY_CI), KEY_DEV)
    verdict = check_component(signed, "strict", store)
    assert verdict.signer_name == "ci"
    # In self-signed mode a trusted signer is still preferred for the report.
    verdict = check_component(signed, "self-signed", store, extra_keys=[KEY_DEV.public_key])
    assert verdict.trusted and verdict.signer_name == "ci"


def test_self_signed_accepts_a_valid_untrusted_signature(store: TrustStore) -> None:
    signed = sign(COMPONENT, KEY_DEV)
    verdict = check_component(signed, "self-signed", store, extra_keys=[KEY_DEV.public_key])
    assert verdict.verified and not verdict.trusted and verdict.signer_name is None
    assert verdict.key_id == KEY_DEV.public_key.fingerprint
    assert "untrusted key" in verdict.detail
    trusted = check_component(sign(COMPONENT, KEY_CI), "self-signed", store)
    assert trusted.trusted and trusted.signer_name == "ci"


def test_self_signed_still_checks_the_signature(store: TrustStore) -> None:
    with pytest.raises(NoSignature):
        check_component(COMPONENT, "self-signed", store)
    with pytest.raises(UntrustedKey, match="signed by an unknown key") as info:
        check_component(sign(COMPONENT, KEY_DEV), "self-signed", store)
    assert "self-signed mode still needs the signer's public key" in info.value.explain()
    tampered = bytearray(sign(COMPONENT, KEY_DEV))
    tampered[-2] ^= 0x40
    with pytest.raises(TamperedComponent):
        check_component(bytes(tampered), "self-signed", store, extra_keys=[KEY_DEV.public_key])


@pytest.mark.parametrize(
    "data",
    [
        COMPONENT,
        sign(COMPONENT, KEY_DEV),
        sign(COMPONENT, KEY_CI)[:-1] + b"\x00",
        b"not wasm at all",
    ],
    ids=["unsigned", "untrusted", "tampered", "garbage"],
)
def test_unsigned_mode_loads_anything_with_a_warning(store: TrustStore, data: bytes) -> None:
    verdict = check_component(data, "unsigned", store)
    assert verdict.mode is TrustMode.UNSIGNED
    assert not verdict.verified and not verdict.trusted
    assert verdict.warning is not None
    assert "signature checks are OFF" in verdict.warning
    assert verdict.component_sha256 in verdict.warning


def test_unsigned_mode_reports_a_good_signature(store: TrustStore) -> None:
    verdict = check_component(sign(COMPONENT, KEY_CI), "unsigned", store)
    assert verdict.verified and verdict.trusted and verdict.signer_name == "ci"
    assert verdict.warning is not None


def test_detached_signature_through_the_modes(store: TrustStore) -> None:
    signature = sign(COMPONENT, KEY_CI, detached=True)
    assert check_component(COMPONENT, "strict", store, signature).signer_name == "ci"
    with pytest.raises(NoSignature):
        check_component(COMPONENT, "strict", store)


def test_partial_signatures_need_explicit_consent(store: TrustStore) -> None:
    signed = sign(COMPONENT, KEY_CI, allow_extensions=True)
    extended = signed + b"\x00\x06\x05extra"
    with pytest.raises(PartiallySigned):
        check_component(extended, "strict", store)
    verdict = check_component(extended, "strict", store, allow_partial=True)
    assert not verdict.complete and (verdict.covered_parts, verdict.total_parts) == (1, 2)
    assert "only the first 1 of 2 parts" in verdict.detail


def test_malformed_component_in_strict_mode(store: TrustStore) -> None:
    with pytest.raises(MalformedComponent):
        check_component(b"\x00asm\x07\x00\x00\x00", "strict", store)


def test_trusted_key_entry_round_trip() -> None:
    entry = TrustedKey("ci", KEY_CI.public_key, "2026-01-02T03:04:05Z")
    assert TrustedKey.from_json(entry.to_json(), "entry") == entry
    with pytest.raises(ValueError, match="not an object"):
        TrustedKey.from_json([], "entry")
    bad = entry.to_json() | {"key_id": "zz"}
    with pytest.raises(ValueError, match="'key_id' is not hex"):
        TrustedKey.from_json(bad, "entry")
    assert isinstance(PublicKey.from_hex(entry.to_json()["public_key"]), PublicKey)
