"""Gating any graph: the subject of a gate run, not-applicable claims, foreign components.

The fast tests use a tiny stand-in component as a foreign core and purpose-built
verifiers; the slow ones build a broken core and gate real graphs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from wasm_samples import COMPONENT

from harness.cli import cli
from harness.errors import ComponentFileError, GraphError
from harness.evidence.context import GateContext
from harness.evidence.gate import ClaimOutcome, _result, not_applicable_reason, run_gate
from harness.evidence.ledger import read_records
from harness.evidence.subject import resolve_subject
from harness.evidence.verifiers import REGISTRY
from harness.evidence.verifiers.base import Evidence, Verdict
from harness.project import DEFAULT_BUILD_DIR, DEFAULT_GRAPH, PROJECT_ROOT

pytestmark = pytest.mark.usefixtures("isolated_trust")

CONTROL = "matter:pase/session-control@0.1.0"
TRANSPORT = "matter:pase/transport@0.1.0"


def heterogeneous_graph(directory: Path, commissionee_core: Path, *, faults: bool = True) -> Path:
    """A graph: the project's core as commissioner, ``commissionee_core`` as commissionee,
    the project's loopback between them, with renamed exports and a [roles] table."""
    build = DEFAULT_BUILD_DIR
    text = f'''description = "project commissioner, other commissionee"
[nodes.reference]
path = "{build / "core.wasm"}"
[nodes.candidate]
path = "{commissionee_core}"
[nodes.link]
path = "{build / "loopback.wasm"}"
[instances.controller]
node = "reference"
[instances.device]
node = "candidate"
[instances.wire]
node = "link"
[[wiring]]
instance = "controller"
import = "{TRANSPORT}"
from = "wire"
export = "{TRANSPORT}"
[[wiring]]
instance = "device"
import = "{TRANSPORT}"
from = "wire"
export = "matter:pase/endpoint-b@0.1.0"
[[exports]]
instance = "controller"
export = "{CONTROL}"
as = "controller-session"
[[exports]]
instance = "device"
export = "{CONTROL}"
as = "device-session"
[[exports]]
instance = "wire"
export = "matter:pase/loopback-stats@0.1.0"
as = "link-stats"
'''
    if faults:
        text += """[[exports]]
instance = "wire"
export = "matter:pase/link-faults@0.1.0"
as = "link-faults"
"""
    text += f"""[roles]
commissioner = "controller-session"
commissionee = "device-session"
transport-stats = "link-stats"
{'transport-faults = "link-faults"' if faults else ""}
"""
    path = directory / "hetero.toml"
    path.write_text(text)
    return path


# ------------------------------------------------------------------------- the subject


def test_the_default_subject_is_the_project_graph_with_its_built_components() -> None:
    subject = resolve_subject(DEFAULT_GRAPH, {}, DEFAULT_BUILD_DIR)
    assert [c.node for c in subject.cores] == ["core"] and not subject.heterogeneous
    assert [c.node for c in subject.transport] == ["loopback"]
    assert subject.foreign == () and subject.node_paths == {}
    assert subject.project_cores_only() is None


def test_project_outputs_come_from_the_gates_own_build_directory(tmp_path: Path) -> None:
    subject = resolve_subject(DEFAULT_GRAPH, {}, tmp_path / "build")
    assert subject.node("core").path == (tmp_path / "build" / "core.wasm").resolve()
    assert set(subject.node_paths) == {"core", "loopback"}


def test_a_replaced_core_is_foreign_and_makes_project_claims_not_applicable(
    tmp_path: Path,
) -> None:
    other = tmp_path / "other-core.wasm"
    ctx = GateContext(DEFAULT_BUILD_DIR, 7, components={"core": other})
    assert [c.node for c in ctx.subject.foreign] == ["core"]
    for name in ("functional-reproducibility", "fuzz-campaigns", "mutation-score"):
        reason = not_applicable_reason(ctx, name)
        assert reason is not None and "not built from this project's sources" in reason
    assert not_applicable_reason(ctx, "component-handshake") is None
    # The file does not exist: refused before anything is built or compiled.
    with pytest.raises(ComponentFileError, match="node 'core' not found"):
        ctx.prepare()


def test_a_heterogeneous_graph_has_two_cores_in_their_roles(tmp_path: Path) -> None:
    other = tmp_path / "other.wasm"
    subject = resolve_subject(heterogeneous_graph(tmp_path, other), {}, DEFAULT_BUILD_DIR)
    assert subject.heterogeneous
    assert [(c.node, c.roles) for c in subject.cores] == [
        ("reference", ("commissioner",)),
        ("candidate", ("commissionee",)),
    ]
    assert subject.node("link").roles == ("transport-stats", "transport-faults")
    assert subject.node("reference").built == "core" and subject.node("candidate").built is None


def test_a_graph_without_link_faults_makes_c9_not_applicable(tmp_path: Path) -> None:
    graph = heterogeneous_graph(tmp_path, tmp_path / "other.wasm", faults=False)
    ctx = GateContext(DEFAULT_BUILD_DIR, 7, graph=graph)
    reason = not_applicable_reason(ctx, "lossy-link")
    assert reason is not None and "transport-faults" in reason


def test_a_graph_without_the_pase_roles_is_a_graph_error(tmp_path: Path) -> None:
    graph = tmp_path / "bare.toml"
    graph.write_text(f'[nodes.core]\npath = "{tmp_path / "x.wasm"}"\n')
    with pytest.raises(GraphError, match="has no commissioner role"):
        resolve_subject(graph, {}, DEFAULT_BUILD_DIR)


# -------------------------------------------------------------------- the gate's result


def _outcome(claim: str, verdict: str, gated: bool = True) -> ClaimOutcome:
    return ClaimOutcome(claim, "v", gated, verdict, "m")


def test_not_applicable_gated_claims_do_not_fail_the_gate_and_are_named(tmp_path: Path) -> None:
    result = _result("r", [_outcome("C1", "pass"), _outcome("C9", "not-applicable")], tmp_path, 1)
    assert result.passed and result.exit_code == 0
    assert "GATE-PASSED: 1 of 2" in result.summary
    assert "not applicable to this graph: C9" in result.summary
    failed = _result("r", [_outcome("C1", "fail"), _outcome("C9", "not-applicable")], tmp_path, 1)
    assert not failed.passed and failed.summary.startswith("GATE-FAILED")


def test_only_not_applicable_claims_never_pass_the_minimum(tmp_path: Path) -> None:
    result = _result("r", [_outcome("C9", "not-applicable")], tmp_path, 1)
    assert not result.passed and "only 0 claim(s) verified" in result.summary


def _passing(_ctx: GateContext, _params: Mapping[str, Any]) -> Evidence:
    return Evidence(Verdict.PASS, "fine")


def test_a_gate_on_a_foreign_graph_records_subject_and_not_applicable_reasons(
    tmp_path: Path,
) -> None:
    foreign = tmp_path / "foreign-core.wasm"
    foreign.write_bytes(COMPONENT)
    graph = heterogeneous_graph(tmp_path, foreign, faults=False)
    ledger = tmp_path / "ledger.jsonl"
    registry = {name: _passing for name in REGISTRY}
    result = run_gate(
        ledger_path=ledger,
        build_dir=DEFAULT_BUILD_DIR,
        graph=graph,
        registry=registry,
        measure_coverage=False,
        only=["C1", "C9", "E3", "S1"],
    )
    assert result.passed, result.summary
    records = {r.claim: r for r in read_records(ledger)}
    assert {c: r.verdict for c, r in records.items()} == {
        "C1": "pass",
        "C9": "not-applicable",
        "E3": "not-applicable",
        "S1": "not-applicable",
    }
    assert "unsigned" in (records["S1"].reason or "")
    candidate = records["C1"].figures["subject"]["components"]["candidate"]
    assert candidate["origin"] == "foreign" and candidate["signature"] == "unsigned"
    assert candidate["roles"] == ["commissionee"]
    assert len(candidate["sha256"]) == 64
    assert "candidate:" in result.summary and "signature: unsigned" in result.summary


def test_require_signed_refuses_an_unsigned_foreign_core_before_any_claim(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign-core.wasm"
    foreign.write_bytes(COMPONENT)
    ledger = tmp_path / "ledger.jsonl"
    result = CliRunner().invoke(
        cli,
        [
            "gate",
            "--graph",
            str(heterogeneous_graph(tmp_path, foreign)),
            "--require-signed",
            "--ledger",
            str(ledger),
            "--claim",
            "C1",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "must be signed by a key in the trust store" in result.output
    assert not ledger.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--component", "core"], "is not NODE=PATH"),
        (["--component", "cores=/tmp/x.wasm"], "has no node 'cores' to replace"),
        (["--component", "core=/nonexistent/core.wasm"], "node 'core' not found"),
    ],
)
def test_gate_usage_errors_exit_2_before_anything_is_built(
    tmp_path: Path, args: list[str], message: str
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    result = CliRunner().invoke(cli, ["gate", "--ledger", str(ledger), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not ledger.exists()


def test_a_role_naming_a_missing_export_is_exit_2(tmp_path: Path) -> None:
    graph = tmp_path / "g.toml"
    text = (DEFAULT_GRAPH.read_text()).replace("../../build", str(PROJECT_ROOT / "build"))
    graph.write_text(text + '\n[roles]\ntransport-faults = "faults"\n')
    result = CliRunner().invoke(
        cli, ["gate", "--graph", str(graph), "--ledger", str(tmp_path / "l")]
    )
    assert result.exit_code == 2, result.output
    assert "[roles] transport-faults: 'faults' is not an export the graph surfaces" in (
        result.output
    )


# ------------------------------------------------------------------ real graphs (slow)


@pytest.fixture(scope="session")
def broken_transcript_core(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from broken_cores import build_broken_core

    return build_broken_core("swapped-context", tmp_path_factory.mktemp("broken-cores"))


@pytest.mark.slow
def test_gate_on_the_project_graph_passes_and_records_its_digests(
    built_components: Any, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    result = CliRunner().invoke(
        cli,
        ["gate", "--graph", str(DEFAULT_GRAPH), "--ledger", str(ledger), "--no-coverage"]
        + [arg for claim in ("C1", "C2", "C3") for arg in ("--claim", claim)],
    )
    assert result.exit_code == 0, result.output
    records = read_records(ledger)
    assert [r.verdict for r in records] == ["pass", "pass", "pass"]
    core_digest = records[0].inputs["core:core.wasm"]
    c3 = records[2]
    assert c3.inputs["core:core.wasm"] == core_digest and "loopback:loopback.wasm" in c3.inputs
    components = c3.figures["subject"]["components"]
    assert components["core"]["sha256"] == core_digest
    assert components["core"]["origin"] == "project build"
    assert f"sha256 {core_digest}" in result.output


@pytest.mark.slow
def test_gate_fails_on_a_graph_whose_commissionee_is_a_broken_core(
    built_components: Any, broken_transcript_core: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    graph = heterogeneous_graph(tmp_path, broken_transcript_core)
    result = CliRunner().invoke(
        cli,
        ["gate", "--graph", str(graph), "--ledger", str(ledger), "--no-coverage"]
        + [arg for claim in ("C1", "C2", "C3") for arg in ("--claim", claim)],
    )
    assert result.exit_code == 1, result.output
    assert "gated claims without passing evidence: C2, C3" in result.output
    records = {r.claim: r for r in read_records(ledger)}
    # C1 is about each core file on its own: both import exactly the seams.
    assert records["C1"].verdict == "pass"
    assert set(records["C1"].figures["per_core"]) == {"reference", "candidate"}
    assert records["C2"].verdict == "fail" and records["C3"].verdict == "fail"
    subject = records["C2"].figures["subject"]
    assert subject["heterogeneous"] is True
    candidate = subject["components"]["candidate"]
    # Built in a directory of its own, signed by that directory's build key: a key the
    # gate does not trust, recorded and run (no --require-signed).
    assert (candidate["origin"], candidate["signature"]) == ("foreign", "untrusted")
    assert subject["roles"] == (
        {
            "commissioner": "controller-session",
            "commissionee": "device-session",
            "transport-stats": "link-stats",
            "transport-faults": "link-faults",
        }
    )
