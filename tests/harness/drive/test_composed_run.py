"""End-to-end tests of PASE across the composed graph (components/graphs/pase-loopback.toml).

One composed artifact is shared by the whole module: composed with ``compose_cached``
into the default build directory and compiled once through the session runtime, whose
artifact cache the CLI shares, so the CLI tests below load it from the cache too.
Tests that need the built components are marked slow; the graph-file error tests of
``matter-harness compose`` need none and stay quick.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path

import pytest
import wasmtime.component as wc
from click.testing import CliRunner, Result

from harness.build.componentize import BuildResult
from harness.build.compositions import ComposedArtifact, compose_cached, graph_key
from harness.build.graph import load_graph
from harness.cli.app import cli
from harness.drive.composed import run_composed
from harness.drive.config import RunConfig
from harness.drive.driver import HandshakeOutcome
from harness.drive.placements import RunReport, run_component, run_native
from harness.project import DEFAULT_BUILD_DIR, PROJECT_ROOT
from harness.runtime.engine import Runtime
from harness.wasm_binary import component_imports, read_manifest
from harness.wit import (
    CLOCK,
    COMMISSIONEE_EXPORT,
    COMMISSIONER_EXPORT,
    ENTROPY,
    ROLES,
    TRANSPORT,
    TRANSPORT_FAULTS_EXPORT,
)
from harness.wit import TRANSPORT_STATS_EXPORT as STATS_EXPORT

slow = pytest.mark.slow
GRAPH = PROJECT_ROOT / "components" / "graphs" / "pase-loopback.toml"
OK_LINE = re.compile(r"^PASE-RUNS-OK transcript=([0-9a-f]{64}) mode=(\w+) seed=(\S+)$", re.M)
A_TO_B = "commissioner->commissionee"
B_TO_A = "commissionee->commissioner"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def composed(built_components: dict[str, BuildResult], shared_runtime: Runtime) -> ComposedArtifact:
    """The PASE graph, composed (or found composed) once for the module."""
    return compose_cached(GRAPH, shared_runtime, DEFAULT_BUILD_DIR)


@pytest.fixture(scope="module")
def composed_component(shared_runtime: Runtime, composed: ComposedArtifact) -> wc.Component:
    """The composed component, compiled once; later loads come from the artifact cache.

    What is compiled (and cached) is the verified content, as every run compiles it.
    """
    assert composed.verified is not None
    return shared_runtime.load_bytes(composed.verified.content, name=str(composed.path))


def _composed_run(runtime: Runtime, composed: ComposedArtifact, config: RunConfig) -> RunReport:
    return run_composed(config, runtime, composed.path, verified=composed.verified)


def _failure_kinds(outcome: HandshakeOutcome) -> tuple[str | None, str | None]:
    first, second = (
        None if s.failure is None else s.failure.kind
        for s in (outcome.commissioner, outcome.commissionee)
    )
    return first, second


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _assert_clean_error(result: Result, code: int) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def _error_line(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _key_values(line: str) -> dict[str, int]:
    pairs = (item.rsplit("=", 1) for item in line.split(", "))
    return {key: int(value) for key, value in pairs}


# --------------------------------------------------------------------------- handshakes


@slow
@pytest.mark.usefixtures("composed_component")
@pytest.mark.parametrize(
    ("seed", "passcode", "salt", "iterations"),
    [
        (1, 20202021, b"SPAKE2P Key Salt", 1000),
        (2, 12345679, bytes(range(32)), 2000),
        (3, 99999998, b"salt-of-24-bytes-exactly", 1000),
    ],
)
def test_composed_handshake_establishes_a_secure_session(
    shared_runtime: Runtime,
    composed: ComposedArtifact,
    seed: int,
    passcode: int,
    salt: bytes,
    iterations: int,
) -> None:
    config = RunConfig(seed=seed, passcode=passcode, salt=salt, iterations=iterations)
    report = _composed_run(shared_runtime, composed, config)
    assert report.ok, report.error
    assert report.mode == "composed"
    outcome = report.outcome
    assert outcome.commissioner.state == outcome.commissionee.state == "ESTABLISHED"
    assert outcome.commissioner.transcript_hash == outcome.commissionee.transcript_hash
    assert len(report.transcript_hash) == 32
    assert not outcome.timed_out
    assert [line.split(":")[0] for line in outcome.secure_probe] == [A_TO_B, B_TO_A]
    assert report.fuel["graph"] > 0


@slow
@pytest.mark.usefixtures("composed_component")
def test_composed_wrong_passcode_fails_cleanly_in_both_roles(
    shared_runtime: Runtime, composed: ComposedArtifact
) -> None:
    config = RunConfig(seed=12, wrong_passcode=True)
    report = _composed_run(shared_runtime, composed, config)
    assert not report.ok
    assert _failure_kinds(report.outcome) == ("confirmation-failed", "peer-status")
    failure = report.outcome.commissioner.failure
    assert failure is not None and "confirmation" in failure.message
    assert not report.outcome.timed_out
    assert report.transcript_hash == b""
    assert report.outcome.secure_probe == []
    # The stats are read only from a graph that did not trap; the failure StatusReport
    # went back to the commissioner across the component seam.
    assert report.transport_stats[f"{B_TO_A} packets"] > 0
    assert report.transport_stats[f"{A_TO_B} packets"] > 0
    assert _failure_kinds(run_native(config).outcome) == _failure_kinds(report.outcome)


@slow
@pytest.mark.usefixtures("composed_component")
@pytest.mark.parametrize("seed", [5, 6])
def test_transcript_hash_is_equal_native_component_composed(
    shared_runtime: Runtime, core_path: Path, composed: ComposedArtifact, seed: int
) -> None:
    config = RunConfig(seed=seed)
    native = run_native(config)
    component = run_component(config, shared_runtime, core_path)
    graph = _composed_run(shared_runtime, composed, config)
    assert native.ok and component.ok and graph.ok
    assert graph.transcript_hash == component.transcript_hash == native.transcript_hash
    assert graph.transcript_hash != run_native(RunConfig(seed=seed + 100)).transcript_hash
    # One clock and one entropy stream serve both cores of the graph: the same crossings,
    # in the same order, as the two roles' separate seams natively.
    total = native.seams["commissioner"].merged(native.seams["commissionee"])
    crossed = graph.seams["graph"]
    assert crossed.clock_reads == total.clock_reads > 0
    assert crossed.entropy_calls == total.entropy_calls > 0
    assert crossed.entropy_bytes == total.entropy_bytes


@slow
@pytest.mark.usefixtures("composed_component")
def test_transport_counters_match_the_native_trace(
    shared_runtime: Runtime, composed: ComposedArtifact
) -> None:
    config = RunConfig(seed=10)
    native = run_native(config)
    report = _composed_run(shared_runtime, composed, config)
    assert report.ok and native.ok
    stats = report.transport_stats
    packets = Counter(p.direction for p in native.trace)
    sizes = Counter[str]()
    for packet in native.trace:
        sizes[packet.direction] += len(packet.data)
    for direction in (A_TO_B, B_TO_A):
        assert stats[f"{direction} packets"] == packets[direction] > 0
        assert stats[f"{direction} bytes"] == sizes[direction] > 0
    assert stats["dropped"] == 0
    assert report.traffic_digest == native.trace_digest
    # Every datagram stayed inside the graph: the host transport was never crossed.
    host = report.seams["graph"]
    assert (host.transport_sends, host.transport_receives, host.transport_empty_receives) == (
        0,
        0,
        0,
    )
    assert report.trace == []


# --------------------------------------------------------------------------- the artifact


@slow
def test_composed_component_imports_only_clock_and_entropy(
    shared_runtime: Runtime, composed: ComposedArtifact, composed_component: wc.Component
) -> None:
    imports = component_imports(composed.path.read_bytes())
    assert [(entry.name, entry.sort) for entry in imports] == [
        (CLOCK, "instance"),
        (ENTROPY, "instance"),
    ]
    engine = shared_runtime.engine
    assert set(composed_component.type.imports(engine)) == {CLOCK, ENTROPY}
    assert TRANSPORT not in composed_component.type.imports(engine)
    assert set(composed_component.type.exports(engine)) == {
        COMMISSIONER_EXPORT,
        COMMISSIONEE_EXPORT,
        STATS_EXPORT,
        TRANSPORT_FAULTS_EXPORT,
    }


@slow
def test_manifest_digests_and_wiring_match_the_graph(
    built_components: dict[str, BuildResult], composed: ComposedArtifact
) -> None:
    manifest = read_manifest(composed.path.read_bytes())
    assert manifest is not None
    assert manifest == composed.manifest
    graph = load_graph(GRAPH)
    assert composed.key == graph_key(graph, GRAPH)
    assert composed.key[:16] in composed.path.name
    assert {n.name: n.path for n in graph.nodes} == {
        name: result.path.resolve() for name, result in built_components.items()
    }
    for entry in manifest["nodes"]:
        data = graph.node(entry["name"]).path.read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["size"] == len(data)
    assert {(i["name"], i["node"]) for i in manifest["instances"]} == {
        (i.name, i.node) for i in graph.instances
    }
    order = [i["name"] for i in manifest["instances"]]
    assert order.index("wire") < min(order.index(role) for role in ROLES)
    assert sorted(
        (w["instance"], w["import"], w["from"], w["export"], w["explicit"])
        for w in manifest["wiring"]
    ) == sorted((w.instance, w.import_name, w.source, w.export, True) for w in graph.wiring)
    assert [(e["instance"], e["export"], e["as"]) for e in manifest["exports"]] == [
        (e.instance, e.export, e.name) for e in graph.exports
    ]
    assert manifest["imports"] == [CLOCK, ENTROPY]
    assert manifest["graph"] == GRAPH.name
    # The roles the composed run reads (the graph has no [roles] table: the defaults).
    assert manifest["roles"] == {
        "commissioner": COMMISSIONER_EXPORT,
        "commissionee": COMMISSIONEE_EXPORT,
        "transport-stats": STATS_EXPORT,
        "transport-faults": TRANSPORT_FAULTS_EXPORT,
    }


# --------------------------------------------------------------------------- the CLI


@slow
@pytest.mark.usefixtures("composed_component")
def test_cli_compose_writes_the_graph_and_prints_its_imports(
    composed: ComposedArtifact, tmp_path: Path
) -> None:
    output = tmp_path / "composed.wasm"
    result = _invoke("compose", str(GRAPH), "-o", str(output))
    assert result.exit_code == 0, result.output
    assert f"  imports: {CLOCK}, {ENTROPY}\n" in result.stdout
    assert (
        f"  exports: {COMMISSIONER_EXPORT}, {COMMISSIONEE_EXPORT}, {STATS_EXPORT}, "
        f"{TRANSPORT_FAULTS_EXPORT}\n" in result.stdout
    )
    assert f"wrote {output} ({output.stat().st_size} bytes" in result.stdout
    # Composing and validating (a wasmtime compile) are timed apart.
    assert re.search(r"composed in [\d.]+ s, validated \(compiled by wasmtime\) in", result.stdout)
    # Composition is deterministic: the same inputs give the cached artifact's bytes.
    assert output.read_bytes() == composed.path.read_bytes()


@slow
@pytest.mark.usefixtures("composed", "composed_component")
def test_cli_run_graph_prints_ok_and_transport_counters() -> None:
    result = _invoke("run", "--graph", str(GRAPH), "--seed", "7")
    assert result.exit_code == 0, result.output
    match = OK_LINE.search(result.stdout)
    assert match is not None, result.output
    assert match.group(2, 3) == ("composed", "7")
    assert match.group(1) == run_native(RunConfig(seed=7)).transcript_hash.hex()
    line = re.search(r"^  transport component: (.+)$", result.stdout, re.M)
    assert line is not None, result.stdout
    counters = _key_values(line.group(1))
    for direction in (A_TO_B, B_TO_A):
        assert counters[f"{direction} packets"] > 0
        assert counters[f"{direction} bytes"] > 0
    assert counters["dropped"] == 0
    assert "composed " in result.stderr and "(cached)" in result.stderr


def _graph_with_missing_core(tmp_path: Path, loopback: Path) -> Path:
    graph = tmp_path / "missing.toml"
    text = GRAPH.read_text(encoding="utf-8")
    text = text.replace('"../../build/core.wasm"', '"missing-core.wasm"')
    text = text.replace('"../../build/loopback.wasm"', f'"{loopback.as_posix()}"')
    graph.write_text(text, encoding="utf-8")
    return graph


@slow
def test_cli_compose_names_a_missing_component_file(loopback_path: Path, tmp_path: Path) -> None:
    graph = _graph_with_missing_core(tmp_path, loopback_path)
    result = _invoke("compose", str(graph), "-o", str(tmp_path / "out.wasm"))
    _assert_clean_error(result, 2)
    missing = (tmp_path / "missing-core.wasm").resolve()
    assert f"error: node 'core': cannot read component {missing}: no such file" in result.stderr
    assert "hint: build the components first" in result.stderr
    assert not (tmp_path / "out.wasm").exists()


@slow
def test_cli_run_graph_names_a_missing_component_file(loopback_path: Path, tmp_path: Path) -> None:
    graph = _graph_with_missing_core(tmp_path, loopback_path)
    result = _invoke("run", "--graph", str(graph), "--seed", "1")
    _assert_clean_error(result, 2)
    missing = (tmp_path / "missing-core.wasm").resolve()
    assert f"error: node 'core': cannot read {missing}" in result.stderr
    assert "PASE-RUNS-OK" not in result.output


MALFORMED = [
    pytest.param("[nodes.core\npath = 'core.wasm'\n", "is not valid TOML", id="toml"),
    pytest.param(
        "[nodes.core]\npath = 'core.wasm'\nflavour = 'x'\n",
        "[nodes.core]: unknown key 'flavour' (allowed: path)",
        id="unknown-key",
    ),
    pytest.param(
        "[nodes.core]\npath = 'core.wasm'\n[instances.a]\nnode = 'kernel'\n",
        "[instances.a] node: unknown node 'kernel'",
        id="unknown-node",
    ),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_cli_compose_rejects_a_malformed_graph(text: str, message: str, tmp_path: Path) -> None:
    graph = tmp_path / "bad.toml"
    graph.write_text(text, encoding="utf-8")
    result = _invoke("compose", str(graph), "-o", str(tmp_path / "out.wasm"))
    _assert_clean_error(result, 2)
    error = _error_line(result)
    assert str(graph) in error and message in error


@slow
@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_cli_run_graph_rejects_a_malformed_graph(
    built_components: dict[str, BuildResult], text: str, message: str, tmp_path: Path
) -> None:
    graph = tmp_path / "bad.toml"
    graph.write_text(text, encoding="utf-8")
    result = _invoke("run", "--graph", str(graph))
    _assert_clean_error(result, 2)
    error = _error_line(result)
    assert str(graph) in error and message in error
    assert "PASE-" not in result.output
