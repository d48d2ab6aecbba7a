"""Secret key files and trust stores with loose permissions are refused, as ssh does.

Modes are set with ``os.chmod`` (never left to the umask), and the override variable is
cleared for every test, so the results do not depend on the environment.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import wasmtime

from harness.supply.keys import (
    InsecureKeyFile,
    MalformedKeyError,
    SecretKey,
    build_key_path,
    load_or_create_build_key,
    load_secret_key,
    read_build_public_key,
    save_public_key,
    save_secret_key,
)
from harness.supply.permissions import INSECURE_PERMISSIONS_ENV, InsecurePermissions
from harness.supply.signing import sign
from harness.supply.trust import (
    STORE_FILE_NAME,
    InsecureTrustStore,
    TrustStore,
    TrustStoreError,
    check_component,
)

KEY = SecretKey.from_seed(b"\x44" * 32)
OTHER = SecretKey.from_seed(b"\x45" * 32)
COMPONENT = bytes(
    wasmtime.wat2wasm(
        '(component (core module $m (func (export "f") (result i32) i32.const 7))'
        " (core instance (instantiate $m)))"
    )
)


@pytest.fixture(autouse=True)
def checks_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the developer's environment says, the checks are on unless a test says."""
    monkeypatch.delenv(INSECURE_PERMISSIONS_ENV, raising=False)


@pytest.fixture
def umask_zero() -> Iterator[None]:
    """Run with umask 0, so only the mode a file is created with limits its permissions."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def secret_key_file(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "signer.key"
    save_secret_key(path, KEY, overwrite=True)
    os.chmod(path, mode)
    return path


def trust_store(tmp_path: Path, *, dir_mode: int = 0o700, file_mode: int = 0o644) -> TrustStore:
    store = TrustStore(tmp_path / "trust")
    store.add("signer", KEY.public_key)
    os.chmod(store.path.parent, dir_mode)
    os.chmod(store.path, file_mode)
    return store


def test_finding_6_loose_permissions_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = secret_key_file(tmp_path, 0o644)
    with pytest.raises(InsecureKeyFile, match="0644"):
        load_secret_key(secret)
    store_dir = tmp_path / "trust"
    TrustStore(store_dir).add("signer", KEY.public_key)
    os.chmod(store_dir, 0o777)
    with pytest.raises(InsecureTrustStore, match="0777"):
        TrustStore(store_dir).entries()
    os.chmod(store_dir, 0o700)
    os.chmod(store_dir / STORE_FILE_NAME, 0o666)
    with pytest.raises(InsecureTrustStore, match="0666"):
        TrustStore(store_dir).entries()
    os.chmod(store_dir, 0o777)
    # The explicit override lets each through: the argument ...
    assert load_secret_key(secret, check_permissions=False).to_bytes() == KEY.to_bytes()
    loose = TrustStore(store_dir, check_permissions=False)
    assert [e.name for e in loose.entries()] == ["signer"]
    loose.add("other", OTHER.public_key)
    assert [e.name for e in TrustStore.open(store_dir, check_permissions=False).entries()] == [
        "signer",
        "other",
    ]
    # ... and the environment variable, read at the check.
    monkeypatch.setenv(INSECURE_PERMISSIONS_ENV, "1")
    assert load_secret_key(secret).to_bytes() == KEY.to_bytes()
    assert len(TrustStore(store_dir).entries()) == 2
    TrustStore(store_dir).remove("other")


def test_secret_key_message_names_file_mode_and_fix(tmp_path: Path) -> None:
    path = secret_key_file(tmp_path, 0o640)
    with pytest.raises(InsecureKeyFile) as info:
        load_secret_key(path)
    error = info.value
    assert isinstance(error, InsecurePermissions)
    assert str(path) in error.message
    assert "(mode 0640)" in error.message
    assert f"`chmod 600 {path}`" in error.message
    assert INSECURE_PERMISSIONS_ENV in error.explain()
    assert (error.path, stat.S_IMODE(error.mode)) == (path, 0o640)


def test_the_fix_command_quotes_the_path(tmp_path: Path) -> None:
    odd = tmp_path / "my keys"
    odd.mkdir()
    path = secret_key_file(odd, 0o644)
    with pytest.raises(InsecureKeyFile, match=r"`chmod 600 '.*/my keys/signer\.key'`"):
        load_secret_key(path)


@pytest.mark.parametrize("mode", [0o604, 0o620, 0o640, 0o644, 0o660, 0o601, 0o610, 0o666])
def test_secret_key_readable_or_writable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = secret_key_file(tmp_path, mode)
    with pytest.raises(InsecureKeyFile, match=f"mode {mode:04o}"):
        load_secret_key(path)


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_owner_only_secret_keys_load(tmp_path: Path, mode: int) -> None:
    assert load_secret_key(secret_key_file(tmp_path, mode)).to_bytes() == KEY.to_bytes()


def test_a_public_key_passed_as_secret_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "signer.pub"
    save_public_key(path, KEY.public_key)
    os.chmod(path, 0o644)
    with pytest.raises(MalformedKeyError, match="public key") as info:
        load_secret_key(path)
    assert not isinstance(info.value, InsecurePermissions)


def test_build_keys_are_checked_too(tmp_path: Path) -> None:
    build = tmp_path / "build"
    key = load_or_create_build_key(build)
    path = build_key_path(build)
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0
    os.chmod(path, 0o644)
    with pytest.raises(InsecureKeyFile):
        load_or_create_build_key(build)
    assert load_or_create_build_key(build, check_permissions=False).to_bytes() == key.to_bytes()
    path.with_suffix(".pub").unlink()  # a build between writing the halves
    with pytest.raises(InsecureKeyFile):
        read_build_public_key(build)
    assert read_build_public_key(build, check_permissions=False) == key.public_key


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_env_values_that_switch_the_checks_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(INSECURE_PERMISSIONS_ENV, value)
    load_secret_key(secret_key_file(tmp_path, 0o666))
    trust_store(tmp_path, dir_mode=0o777, file_mode=0o666).entries()


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_env_values_that_keep_the_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(INSECURE_PERMISSIONS_ENV, value)
    with pytest.raises(InsecureKeyFile):
        load_secret_key(secret_key_file(tmp_path, 0o644))


# --- the trust store -----------------------------------------------------------------------


def test_trust_store_message_names_path_mode_and_fix(tmp_path: Path) -> None:
    store = trust_store(tmp_path, dir_mode=0o775)
    with pytest.raises(InsecureTrustStore) as info:
        store.entries()
    error = info.value
    assert isinstance(error, TrustStoreError) and isinstance(error, InsecurePermissions)
    directory = store.path.parent
    assert f"trust store directory {directory} " in error.message
    assert "(mode 0775)" in error.message
    assert f"`chmod go-w {directory}`" in error.message
    assert INSECURE_PERMISSIONS_ENV in error.explain()
    os.chmod(directory, 0o700)
    os.chmod(store.path, 0o646)
    with pytest.raises(InsecureTrustStore, match=r"trust store file .*\(mode 0646\)") as info:
        store.entries()
    assert f"`chmod go-w {store.path}`" in info.value.message


@pytest.mark.parametrize(
    ("dir_mode", "file_mode", "bad"),
    [
        (0o777, 0o644, "0777"),
        (0o770, 0o644, "0770"),
        (0o757, 0o644, "0757"),
        (0o1777, 0o644, "1777"),  # sticky, like /tmp: others may still plant a missing file
        (0o700, 0o666, "0666"),
        (0o700, 0o664, "0664"),
        (0o755, 0o646, "0646"),
    ],
)
def test_a_store_others_may_write_is_refused_for_reading_and_writing(
    tmp_path: Path, dir_mode: int, file_mode: int, bad: str
) -> None:
    store = trust_store(tmp_path, dir_mode=dir_mode, file_mode=file_mode)
    before = store.path.read_bytes()
    signed = sign(COMPONENT, KEY)
    for attempt in (
        store.entries,
        lambda: store.get("signer"),
        lambda: store.add("other", OTHER.public_key),
        lambda: store.remove("signer"),
        lambda: check_component(signed, "strict", store),
        lambda: TrustStore.open(store.location).public_keys(),
    ):
        with pytest.raises(InsecureTrustStore, match=f"mode {bad}"):
            attempt()
    assert store.path.read_bytes() == before


@pytest.mark.parametrize(
    ("dir_mode", "file_mode"), [(0o700, 0o644), (0o755, 0o600), (0o750, 0o640)]
)
def test_a_store_only_its_owner_may_write_is_used(
    tmp_path: Path, dir_mode: int, file_mode: int
) -> None:
    store = trust_store(tmp_path, dir_mode=dir_mode, file_mode=file_mode)
    store.add("other", OTHER.public_key)
    assert [e.name for e in store.entries()] == ["signer", "other"]
    assert check_component(sign(COMPONENT, OTHER), "strict", store).signer_name == "other"


def test_a_loose_directory_is_refused_before_a_store_file_exists(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    directory.mkdir()
    os.chmod(directory, 0o777)
    store = TrustStore(directory)
    with pytest.raises(InsecureTrustStore, match="directory"):
        store.entries()
    with pytest.raises(InsecureTrustStore, match="directory"):
        store.add("signer", KEY.public_key)
    assert list(directory.iterdir()) == []  # not even the lock file was made


def test_a_store_file_in_a_loose_directory(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    directory.mkdir()
    path = directory / "team.json"
    path.write_text(json.dumps({"format": "matter-harness-trust-store", "version": 1, "keys": []}))
    os.chmod(path, 0o644)
    os.chmod(directory, 0o733)
    with pytest.raises(InsecureTrustStore, match=f"directory {directory} "):
        TrustStore(path).entries()
    os.chmod(directory, 0o755)
    assert TrustStore(path).entries() == []


def test_what_the_store_creates_passes_its_own_checks(tmp_path: Path, umask_zero: None) -> None:
    store = TrustStore(tmp_path / "trust")
    store.add("signer", KEY.public_key)
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o644
    lock = store.path.with_name(STORE_FILE_NAME + ".lock")
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    store.add("other", OTHER.public_key)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o644
    os.chmod(store.path, 0o600)  # a mode the owner narrowed is kept by later writes
    store.remove("other")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert [e.name for e in TrustStore(store.location).entries()] == ["signer"]


def test_a_forced_loose_store_is_not_made_looser(tmp_path: Path, umask_zero: None) -> None:
    store = trust_store(tmp_path, file_mode=0o666)
    TrustStore(store.location, check_permissions=False).add("other", OTHER.public_key)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o644  # group/other write dropped
    assert len(store.entries()) == 2


def test_secret_keys_the_harness_writes_pass(tmp_path: Path, umask_zero: None) -> None:
    path = tmp_path / "signer.key"
    save_secret_key(path, KEY)
    assert load_secret_key(path).to_bytes() == KEY.to_bytes()
