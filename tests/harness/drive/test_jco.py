"""The jco placement: Node discovery and its errors, the JS host protocol, the seams in JS
against the Python ones, the transpile cache, and a seeded run on V8 against wasmtime."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.build import (
    NodeNotFoundError,
    NodeTooOldError,
    TranspileError,
    find_node,
    transpile_cached,
)
from harness.build.jco import EXTENDED_CONST_FLAG, NODE_ENV
from harness.cli.app import cli
from harness.drive import JcoTarget, RunConfig, run_component, run_jco
from harness.drive.jshost import JsClock, JsHost, JsHostError
from harness.project import DEFAULT_BUILD_DIR
from harness.runtime import Runtime, wat2wasm
from harness.seams import SeededEntropy, VirtualClock
from harness.supply import SupplyChain

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "jco"


def _fake_node(tmp_path: Path, version_line: str) -> Path:
    script = tmp_path / "node"
    script.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


# ------------------------------------------------------------------------ node discovery


def test_missing_node_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NodeNotFoundError, match=r"Node\.js not found") as caught:
        find_node(str(tmp_path / "no-such-node"))
    assert NODE_ENV in (caught.value.hint or "")


def test_too_old_node_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NodeTooOldError, match=r"v16\.20\.0 .* is too old"):
        find_node(str(_fake_node(tmp_path, "v16.20.0")))


def test_a_node_that_prints_no_version_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NodeNotFoundError, match=r"did not print a Node\.js version"):
        find_node(str(_fake_node(tmp_path, "hello")))


@needs_node
def test_extended_const_flag_is_detected_not_assumed() -> None:
    node = find_node()
    if node.version[0] <= 20:
        assert node.flags == (EXTENDED_CONST_FLAG,)  # V8 of Node 20 ships it off by default
    assert set(node.flags) <= {EXTENDED_CONST_FLAG}


def test_cli_reports_missing_node_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(NODE_ENV, str(tmp_path / "no-such-node"))
    result = CliRunner().invoke(cli, ["run", "--seed", "7", "--runtime", "jco"])
    assert result.exit_code == 2, result.output
    assert "error: Node.js not found" in result.output
    assert "Traceback" not in result.output


# ------------------------------------------------------------------------ the JS host


@needs_node
def test_js_host_errors_are_one_line_harness_errors() -> None:
    with JsHost(find_node()) as host:
        assert host.versions["jco"] == "1.35.0"
        with pytest.raises(JsHostError, match="no seams yet"):
            host.request("clock_peek")
        with pytest.raises(JsHostError, match="no instance called ghost"):
            host.request("call", instance="ghost", iface="x", fn="y", args=[])
        with pytest.raises(JsHostError, match="unknown op"):
            host.request("no-such-op")
        host.request("seams", seed="1", real_clock=False, roles=["a", "b"])
        with pytest.raises(JsHostError, match=r"instantiate: .*Cannot find module"):
            host.request(
                "instantiate", module="/nonexistent/component.js", name="a", role="a",
                transport=True,
            )  # fmt: skip
        assert host.request("clock_peek") == 0  # the host survives its errors


@needs_node
@pytest.mark.parametrize("seed", [0, 1, 7, 12345, -3, 2**70])
def test_drbg_is_byte_identical_in_python_and_js(seed: int) -> None:
    sizes = [0, 1, 16, 31, 32, 33, 64, 97, 1024]
    with JsHost(find_node()) as host:
        for stream in ("run", "other"):
            js = host.request("drbg", seed=str(seed), stream=stream, sizes=sizes)
            python = SeededEntropy(seed, stream)
            assert [bytes.fromhex(d["hex"]) for d in js] == [python.random_bytes(n) for n in sizes]


@needs_node
def test_virtual_clock_reads_the_same_in_python_and_js() -> None:
    steps = [0, 1, 1, 5, 3, 300, 299, 301, 10_000]
    python = VirtualClock()
    with JsHost(find_node()) as host:
        host.request("seams", seed="7", real_clock=False, roles=["a", "b"])
        clock = JsClock(host)
        for step in steps:
            python.advance_to(step)
            clock.advance_to(step)
            assert clock.peek() == python.peek()


# ------------------------------------------------------------------------ transpiling


@needs_node
def test_failed_transpile_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TranspileError, match="cannot transpile garbage"):
        transpile_cached(b"\0asm\x0d\0\x01\0garbage", tmp_path, node=find_node(), label="garbage")


@needs_node
def test_finding_1_wasmtime_accepts_what_jco_cannot_transpile(tmp_path: Path) -> None:
    """Minimal reproducer: one interface re-exported under two names (README finding 1)."""
    data = wat2wasm((FIXTURES / "reexport-twice.wat").read_text())
    runtime = Runtime(None)
    try:
        runtime.load_bytes(data, name="reexport-twice")  # wasmtime validates it
    finally:
        runtime.close()
    with pytest.raises(TranspileError, match="appears more than once") as caught:
        transpile_cached(data, tmp_path, node=find_node(), label="reexport-twice")
    assert "WIT cannot say" in (caught.value.hint or "")


@pytest.mark.slow
@needs_node
def test_finding_1_fixed_by_export_type_ascriptions(tmp_path: Path) -> None:
    """The reproducer with each export given its own instance type (what the composer
    emits) validates in wasmtime and transpiles with jco."""
    data = wat2wasm((FIXTURES / "reexport-twice-ascribed.wat").read_text())
    runtime = Runtime(None)
    try:
        runtime.load_bytes(data, name="reexport-twice-ascribed")
    finally:
        runtime.close()
    done = transpile_cached(data, tmp_path, node=find_node(), label="reexport-twice-ascribed")
    assert not done.cached and done.entry.is_file()
    source = done.entry.read_text(encoding="utf-8")
    assert "firstApi" in source and "secondApi" in source


# ------------------------------------------------------------------------ runs on V8


@pytest.mark.slow
@needs_node
def test_seeded_run_on_v8_matches_wasmtime(core_path: Path, shared_runtime: Runtime) -> None:
    chain = SupplyChain.local(None, DEFAULT_BUILD_DIR)
    config = RunConfig(seed=7)
    on_v8 = run_jco(config, JcoTarget(core_path, False), chain, DEFAULT_BUILD_DIR)
    on_wasmtime = run_component(config, shared_runtime, core_path, supply_chain=chain)
    assert on_v8.ok and on_v8.runtime == "jco"
    assert on_v8.transcript_hash == on_wasmtime.transcript_hash
    assert {r: c.as_dict() for r, c in on_v8.seams.items()} == {
        r: c.as_dict() for r, c in on_wasmtime.seams.items()
    }
    # Same datagrams at the same clock readings, same events at the same times.
    assert [(p.direction, p.time_ms, p.data) for p in on_v8.trace] == [
        (p.direction, p.time_ms, p.data) for p in on_wasmtime.trace
    ]
    assert on_v8.outcome.events == on_wasmtime.outcome.events
    assert on_v8.outcome.secure_probe == on_wasmtime.outcome.secure_probe


@pytest.mark.slow
@needs_node
def test_tampered_transpile_cache_is_transpiled_again(core_path: Path, tmp_path: Path) -> None:
    data = core_path.read_bytes()
    node = find_node()
    first = transpile_cached(data, tmp_path, node=node, label="core")
    again = transpile_cached(data, tmp_path, node=node, label="core")
    assert again.cached and again.entry == first.entry
    with open(first.entry, "a", encoding="utf-8") as handle:
        handle.write("\n// changed\n")
    redone = transpile_cached(data, tmp_path, node=node, label="core")
    assert not redone.cached
    assert "// changed" not in redone.entry.read_text(encoding="utf-8")
    assert os.path.getsize(redone.entry) > 0


def test_js_status_reads_the_message_layer_counters() -> None:
    from harness.drive.jshost import js_status

    record = {
        "role": "commissioner",
        "state": "ESTABLISHED",
        "established": True,
        "local_session_id": 1,
        "peer_session_id": 2,
        "transcript_hash": {"hex": "00" * 32},
        "next_deadline_ms": None,
        "failure": None,
        "datagrams_sent": 6,
        "datagrams_received": 4,
        "dropped": [{"reason": "exchange", "count": 3}, {"reason": "duplicate", "count": 1}],
        "retransmissions": 2,
        "acks_sent": 5,
    }
    status = js_status(record)
    assert status.dropped == (("exchange", 3), ("duplicate", 1))
    assert (status.retransmissions, status.acks_sent) == (2, 5)


def test_faults_on_the_jco_runtime_are_refused_not_ignored() -> None:
    from click.testing import CliRunner

    from harness.cli import cli

    result = CliRunner().invoke(cli, ["run", "--runtime", "jco", "--faults", "drop=0.3"])
    assert result.exit_code == 2
    assert "--faults is not available with --runtime jco" in result.output
    assert "Traceback" not in result.output


def test_run_jco_refuses_a_faulted_config() -> None:
    from harness.drive.config import RunConfig
    from harness.drive.jco import run_jco
    from harness.errors import RunConfigError
    from harness.seams import parse_fault_plan

    config = RunConfig(seed=7, faults=parse_fault_plan("drop=0.3"))
    with pytest.raises(RunConfigError, match="not available on the jco runtime"):
        run_jco(config, None, None, Path("build"))  # type: ignore[arg-type]
