"""Tests for the ``matter-harness`` command line, through click's CliRunner and once
through the installed entry-point script."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from harness.build.componentize import BuildResult
from harness.build.jco import NODE_ENV
from harness.cli.app import cli
from harness.project import DEFAULT_BUILD_DIR
from harness.wit import CLOCK, ENTROPY, TRANSPORT

slow = pytest.mark.slow
OK_LINE = re.compile(r"^PASE-RUNS-OK transcript=([0-9a-f]{64}) mode=(\w+) seed=(\S+)$", re.M)


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _transcript(result: Result) -> str:
    assert result.exit_code == 0, result.output
    match = OK_LINE.search(result.stdout)
    assert match is not None, result.output
    return match.group(1)


def _assert_clean_error(result: Result, code: int) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


# --------------------------------------------------------------------------- run


@slow
def test_run_seed_is_reproducible_and_equals_native(
    built_components: dict[str, BuildResult],
) -> None:
    first = _invoke("run", "--seed", "7")
    assert "mode=component seed=7" in first.stdout
    assert "fuel used:" in first.stdout
    again = _invoke("run", "--seed", "7")
    native = _invoke("run", "--seed", "7", "--native")
    assert "mode=native" in native.stdout
    assert _transcript(first) == _transcript(again) == _transcript(native)
    assert _transcript(_invoke("run", "--seed", "8", "--native")) != _transcript(native)


@slow
def test_run_wrong_passcode_fails_with_exit_1(built_components: dict[str, BuildResult]) -> None:
    result = _invoke("run", "--wrong-passcode", "--seed", "2")
    assert result.exit_code == 1
    assert "PASE-RUNS-OK" not in result.output
    assert "PASE-FAILED mode=component" in result.stderr
    assert "confirmation-failed" in result.stderr
    assert "key confirmation failed" in result.stderr
    assert "Traceback" not in result.output


def test_run_wrong_passcode_natively() -> None:
    result = _invoke("run", "--wrong-passcode", "--native")
    assert result.exit_code == 1
    assert "commissioner: FAILED (confirmation-failed)" in result.stderr


@pytest.mark.parametrize(
    "extra",
    [pytest.param((), marks=slow, id="component"), pytest.param(("--native",), id="native")],
)
def test_run_trivial_passcode_is_a_clear_error(extra: tuple[str, ...]) -> None:
    result = _invoke("run", "--passcode", "11111111", *extra)
    _assert_clean_error(result, 2)
    assert "error: passcode 11111111 is not a valid Matter setup passcode" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--salt", "zz"), "Invalid value for '--salt': not hex at position 1 ('z')"),
        (("--seed", "seven"), "Invalid value for '--seed'"),
        (("--bogus",), "No such option"),
    ],
)
def test_run_usage_errors(args: tuple[str, ...], message: str) -> None:
    result = _invoke("run", "--native", *args)
    _assert_clean_error(result, 2)
    assert message in result.stderr
    assert "Usage: " in result.stderr


def test_run_short_salt_is_a_clear_error() -> None:
    result = _invoke("run", "--native", "--salt", "00" * 8)
    _assert_clean_error(result, 2)
    assert "salt" in result.stderr


def test_run_trace_file_has_json_lines(tmp_path: Path) -> None:
    trace = tmp_path / "deep" / "trace.jsonl"
    result = _invoke("run", "--native", "--seed", "4", "--trace", str(trace), "--mkdir")
    _transcript(result)
    lines = trace.read_text().splitlines()
    count = re.search(r"(\d+) datagrams", result.stdout)
    assert count is not None and len(lines) == int(count.group(1)) > 0
    records = [json.loads(line) for line in lines]
    times = [r["time_ms"] for r in records]
    assert times == sorted(times)
    for record in records:
        assert record["direction"] in ("commissioner->commissionee", "commissionee->commissioner")
        assert isinstance(record["time_ms"], int)
        assert record["size"] == len(bytes.fromhex(record["bytes"])) > 0
    assert records[0]["direction"] == "commissioner->commissionee"
    # Each line names its message: the handshake in order, then the secured probe.
    handshake = [r["message_type"] for r in records if r["message_type"] != "StandaloneAck"]
    assert handshake[:6] == [
        "PBKDFParamRequest",
        "PBKDFParamResponse",
        "Pake1",
        "Pake2",
        "Pake3",
        "StatusReport",
    ]
    assert set(handshake[6:]) == {"Secured"}
    assert "StandaloneAck" in {r["message_type"] for r in records}


def test_run_trace_refuses_a_missing_directory_before_running(tmp_path: Path) -> None:
    trace = tmp_path / "missing" / "trace.jsonl"
    result = _invoke("run", "--native", "--seed", "4", "--trace", str(trace))
    _assert_clean_error(result, 2)
    assert f"the directory {trace.parent} does not exist" in result.stderr
    assert "--mkdir" in result.stderr
    assert "PASE-RUNS-OK" not in result.output  # refused before the run
    assert not trace.parent.exists()


def test_run_trace_refuses_a_directory_or_a_file_in_the_way(tmp_path: Path) -> None:
    result = _invoke("run", "--native", "--trace", str(tmp_path), "--mkdir")
    _assert_clean_error(result, 2)
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = _invoke("run", "--native", "--trace", str(blocker / "trace.jsonl"), "--mkdir")
    _assert_clean_error(result, 2)
    assert f"{blocker} is not a directory" in result.stderr


def test_mkdir_without_trace_is_a_usage_error() -> None:
    result = _invoke("run", "--native", "--mkdir")
    _assert_clean_error(result, 2)
    assert "--mkdir only applies" in result.output


def test_peer_trace_refuses_a_missing_directory_before_anything(tmp_path: Path) -> None:
    trace = tmp_path / "missing" / "trace.jsonl"
    result = _invoke(
        "peer",
        "--role",
        "commissioner",
        "--connect",
        "127.0.0.1:9",
        "--native",
        "--passcode",
        "20202021",
        "--trace",
        str(trace),
    )
    _assert_clean_error(result, 2)
    assert "does not exist" in result.stderr
    assert "CONNECTING" not in result.output


# --------------------------------------------------------------------------- build, inspect


@slow
def test_build_is_up_to_date_when_cached(
    built_components: dict[str, BuildResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without Node.js the optional mjs-core is skipped, with a note, and that is no error.
    monkeypatch.setenv(NODE_ENV, "no-such-node-executable")
    result = _invoke("build")
    assert result.exit_code == 0, result.output
    assert "core: up to date" in result.stderr
    assert "loopback: up to date" in result.stderr
    assert "mjs-core: skipped (Node.js not found" in result.stdout
    assert f"2 component(s) ready in {DEFAULT_BUILD_DIR} (0 built)" in result.stdout


def test_build_mjs_core_by_name_needs_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NODE_ENV, "no-such-node-executable")
    result = _invoke("build", "mjs-core")
    _assert_clean_error(result, 2)
    assert "Node.js not found" in result.stderr


def test_build_rejects_unknown_component() -> None:
    result = _invoke("build", "kernel")
    _assert_clean_error(result, 2)
    assert "Invalid value for" in result.stderr


@slow
def test_inspect_core_lists_the_three_seams(core_path: Path) -> None:
    result = _invoke("inspect", str(core_path))
    assert result.exit_code == 0, result.output
    section = result.stdout.split("imports:\n", 1)[1].split("exports:\n", 1)[0]
    imported = [
        line.strip()
        for line in section.splitlines()
        if line.startswith("  ") and not line.startswith("    ")
    ]
    assert imported == [TRANSPORT, CLOCK, ENTROPY]
    assert "random-bytes: func(len: u32) -> list<u8>" in section


@pytest.mark.parametrize(
    "content",
    [pytest.param(b"# notes\n", id="text"), pytest.param(b"\x7fELF\x02\x01", id="binary")],
)
def test_inspect_non_wasm_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "not-a-component.bin"
    path.write_bytes(content)
    result = _invoke("inspect", str(path))
    _assert_clean_error(result, 2)
    assert f"error: {path} is not a WebAssembly component" in result.stderr
    assert "it does not start with the \\0asm magic" in result.stderr


def test_inspect_core_module_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "module.wasm"
    path.write_bytes(b"\x00asm\x01\x00\x00\x00")
    result = _invoke("inspect", str(path))
    _assert_clean_error(result, 2)
    assert "is not a WebAssembly component: it is a core WebAssembly module" in result.stderr


def test_inspect_damaged_component_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "damaged.wasm"
    path.write_bytes(b"\x00asm\x0d\x00\x01\x00\x07\xff")
    result = _invoke("inspect", str(path))
    _assert_clean_error(result, 2)
    assert f"{path} is not a WebAssembly component: truncated LEB128" in result.stderr


def test_inspect_missing_file() -> None:
    result = _invoke("inspect", "no/such/component.wasm")
    _assert_clean_error(result, 2)
    assert "cannot read component no/such/component.wasm: no such file" in result.stderr


# --------------------------------------------------------------------------- entry point


def test_installed_entry_point_runs_natively() -> None:
    script = Path(sys.executable).with_name("matter-harness")
    assert script.is_file(), f"the entry point is not installed beside {sys.executable}"
    completed = subprocess.run(
        [str(script), "run", "--seed", "3", "--native"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    match = OK_LINE.search(completed.stdout)
    assert match is not None, completed.stdout
    assert match.group(2, 3) == ("native", "3")
    assert match.group(1) == _transcript(_invoke("run", "--seed", "3", "--native"))


# ------------------------------------------------------------------ limits and policy


@pytest.mark.slow
def test_run_with_too_little_fuel_is_a_clean_failure(built_components: object) -> None:
    result = _invoke("run", "--seed", "7", "--fuel", "1000000")
    _assert_clean_error(result, 1)
    assert "out-of-fuel" in result.stderr


@pytest.mark.slow
def test_run_with_a_zero_fuel_option_means_unlimited(built_components: object) -> None:
    result = _invoke("run", "--seed", "7", "--fuel", "0", "--deadline-ms", "0")
    assert result.exit_code == 0, result.output
    assert "PASE-RUNS-OK" in result.stdout


@pytest.mark.slow
def test_audit_allows_the_core(core_path: Path) -> None:
    result = _invoke("audit", str(core_path))
    assert result.exit_code == 0, result.output
    assert "verdict: ALLOWED" in result.stdout
    assert result.stdout.count("seam (low)") == 3


def test_audit_refuses_a_filesystem_import_by_name(tmp_path: Path) -> None:
    import wasmtime

    text = """(component
      (import "matter:pase/clock@0.1.0" (instance (export "now-ms" (func (result u64)))))
      (import "wasi:filesystem/types@0.2.0" (instance))
    )"""
    path = tmp_path / "core.wasm"
    path.write_bytes(wasmtime.wat2wasm(text))
    result = _invoke("audit", str(path))
    assert result.exit_code == 1, result.output
    assert "wasi:filesystem/types@0.2.0" in result.stdout
    assert "DENIED" in result.stdout or "denied" in result.stdout
