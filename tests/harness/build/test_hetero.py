"""Heterogeneous PASE graphs (harness.build.hetero) and the example graph
components/graphs/pase-hetero.toml: two different core components in one composed graph."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.build.componentize import BuildResult
from harness.build.composer import compose
from harness.build.graph import load_graph, parse_graph
from harness.build.hetero import pase_graph_text, write_pase_graph
from harness.cli.app import cli
from harness.project import COMPONENTS_DIR, DEFAULT_GRAPH, PROJECT_ROOT
from harness.wit import COMMISSIONEE_EXPORT, COMMISSIONER_EXPORT, TRANSPORT_STATS_EXPORT

slow = pytest.mark.slow
EXAMPLE = COMPONENTS_DIR / "graphs" / "pase-hetero.toml"
OK_LINE = re.compile(r"^PASE-RUNS-OK transcript=([0-9a-f]{64}) mode=composed seed=7$", re.M)


def _shape(graph_text: str, base: Path) -> tuple[object, ...]:
    """Everything of a graph but its nodes' names and files."""
    graph = parse_graph(tomllib.loads(graph_text), base_dir=base)
    return graph.wiring, graph.exports, graph.require_wired, len(graph.instances)


def test_a_heterogeneous_graph_has_one_node_per_role(tmp_path: Path) -> None:
    text = pase_graph_text(
        ("reference", tmp_path / "core.wasm"),
        ("candidate", tmp_path / "other.wasm"),
        tmp_path / "loopback.wasm",
        description="two cores",
    )
    graph = parse_graph(tomllib.loads(text), base_dir=tmp_path)
    assert [n.name for n in graph.nodes] == ["reference", "candidate", "loopback"]
    assert graph.instance("commissioner").node == "reference"
    assert graph.instance("commissionee").node == "candidate"
    assert graph.node("candidate").path == (tmp_path / "other.wasm").resolve()
    assert {e.name for e in graph.exports} >= {
        COMMISSIONER_EXPORT,
        COMMISSIONEE_EXPORT,
        TRANSPORT_STATS_EXPORT,
    }


def test_it_has_the_shape_of_the_project_graph(tmp_path: Path) -> None:
    text = pase_graph_text(
        ("core", tmp_path / "core.wasm"),
        ("core", tmp_path / "core.wasm"),
        tmp_path / "loopback.wasm",
        description="one core",
    )
    graph = parse_graph(tomllib.loads(text), base_dir=tmp_path)
    assert [n.name for n in graph.nodes] == ["core", "loopback"]
    assert _shape(text, tmp_path) == _shape(DEFAULT_GRAPH.read_text(), DEFAULT_GRAPH.parent)


def test_the_example_is_the_same_shape_with_two_cores() -> None:
    graph = load_graph(EXAMPLE)
    assert graph.instance("commissioner").node == "reference"
    assert graph.instance("commissionee").node == "candidate"
    assert graph.node("reference").path == PROJECT_ROOT / "build" / "core.wasm"
    assert graph.node("candidate").path == PROJECT_ROOT / "build" / "mjs-core.wasm"
    assert _shape(EXAMPLE.read_text(), EXAMPLE.parent) == _shape(
        DEFAULT_GRAPH.read_text(), DEFAULT_GRAPH.parent
    )


def test_bad_node_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="the loopback's"):
        pase_graph_text(("loopback", tmp_path), ("b", tmp_path), tmp_path, description="")
    with pytest.raises(ValueError, match="two files"):
        pase_graph_text(("a", tmp_path / "x"), ("a", tmp_path / "y"), tmp_path, description="")


def test_writing_is_idempotent(tmp_path: Path) -> None:
    args = (("a", tmp_path / "x"), ("b", tmp_path / "y"), tmp_path / "l")
    path = write_pase_graph(tmp_path / "g", "pair", *args, description="d")
    stamp = path.stat().st_mtime_ns
    assert write_pase_graph(tmp_path / "g", "pair", *args, description="d") == path
    assert path.stat().st_mtime_ns == stamp


def _example_with_candidate(tmp_path: Path, core: Path) -> Path:
    """The example graph with its candidate replaced by a copy of the project's core under
    another name (two nodes, two files), as a temp copy of the TOML."""
    candidate = tmp_path / "second-core.wasm"
    shutil.copyfile(core, candidate)
    text = EXAMPLE.read_text()
    text = text.replace('"../../build/mjs-core.wasm"', f'"{candidate.as_posix()}"')
    for name in ("core", "loopback"):
        text = text.replace(
            f'"../../build/{name}.wasm"', f'"{(core.parent / name).as_posix()}.wasm"'
        )
    graph = tmp_path / "pase-hetero.toml"
    graph.write_text(text)
    return graph


@slow
def test_the_example_composes_two_core_files(
    built_components: dict[str, BuildResult], tmp_path: Path
) -> None:
    graph = _example_with_candidate(tmp_path, built_components["core"].path)
    result = compose(load_graph(graph), validate=False)
    files = sorted(str(node["file"]) for node in result.manifest["nodes"])  # type: ignore[index,union-attr]
    assert files == ["core.wasm", "loopback.wasm", "second-core.wasm"]


@slow
def test_run_graph_on_the_heterogeneous_graph_prints_pase_runs_ok(
    built_components: dict[str, BuildResult], tmp_path: Path
) -> None:
    graph = _example_with_candidate(tmp_path, built_components["core"].path)
    result = CliRunner().invoke(cli, ["run", "--graph", str(graph), "--seed", "7"])
    assert result.exit_code == 0, result.output
    match = OK_LINE.search(result.stdout)
    assert match is not None, result.output
    # The same cores' bytes, so the same transcript as the project graph's.
    assert match.group(1) == "445b8f371326dc9279db18e45c24d07e254140362301f422f599d1f798520d7b"
