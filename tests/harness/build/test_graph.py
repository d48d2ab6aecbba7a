"""Tests for harness.graph: the composition graph file format and its checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.build.graph import ALL_IMPORTS, Instance, OuterExport, Wiring, load_graph, parse_graph
from harness.errors import GraphError, HarnessError

PASE_GRAPH = """
description = "two cores over a loopback"
require_wired = ["matter:pase/transport@0.1.0"]

[nodes.core]
path = "../build/core.wasm"
[nodes.loopback]
path = "../build/loopback.wasm"

[instances.commissioner]
node = "core"
[instances.commissionee]
node = "core"
require_wired = "*"
[instances.wire]
node = "loopback"

[[wiring]]
instance = "commissioner"
import = "matter:pase/transport@0.1.0"
from = "wire"
export = "matter:pase/endpoint-a@0.1.0"

[[wiring]]
instance = "commissionee"
import = "matter:pase/transport@0.1.0"
from = "wire"

[[exports]]
instance = "commissioner"
export = "matter:pase/session-control@0.1.0"
as = "commissioner-control"

[[exports]]
instance = "commissionee"
export = "matter:pase/session-control@0.1.0"
"""


def _write(tmp_path: Path, text: str) -> Path:
    graphs = tmp_path / "graphs"
    graphs.mkdir(exist_ok=True)
    path = graphs / "graph.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_full_graph_file_loads(tmp_path: Path) -> None:
    path = _write(tmp_path, PASE_GRAPH)
    graph = load_graph(path)
    assert graph.source == str(path)
    assert graph.description == "two cores over a loopback"
    assert graph.require_wired == ("matter:pase/transport@0.1.0",)
    assert [n.name for n in graph.nodes] == ["core", "loopback"]
    core = graph.node("core")
    assert core.path == (tmp_path / "build" / "core.wasm").resolve()
    assert core.path_text == "../build/core.wasm"
    assert graph.instances == (
        Instance("commissioner", "core"),
        Instance("commissionee", "core", ALL_IMPORTS),
        Instance("wire", "loopback"),
    )
    assert graph.wiring == (
        Wiring(
            "commissioner",
            "matter:pase/transport@0.1.0",
            "wire",
            "matter:pase/endpoint-a@0.1.0",
        ),
        # export defaults to the import's name
        Wiring(
            "commissionee",
            "matter:pase/transport@0.1.0",
            "wire",
            "matter:pase/transport@0.1.0",
        ),
    )
    assert graph.exports == (
        OuterExport("commissioner", "matter:pase/session-control@0.1.0", "commissioner-control"),
        # "as" defaults to the export's name
        OuterExport(
            "commissionee",
            "matter:pase/session-control@0.1.0",
            "matter:pase/session-control@0.1.0",
        ),
    )


def test_instances_default_to_one_per_node(tmp_path: Path) -> None:
    graph = parse_graph(
        {"nodes": {"a": {"path": "a.wasm"}, "b": {"path": "b.wasm"}}}, base_dir=tmp_path
    )
    assert graph.instances == (Instance("a", "a"), Instance("b", "b"))
    assert graph.wiring == () and graph.exports == () and graph.require_wired == ()


def test_lookup_of_unknown_names_fails(tmp_path: Path) -> None:
    graph = parse_graph({"nodes": {"a": {"path": "a.wasm"}}}, base_dir=tmp_path, source="g")
    with pytest.raises(GraphError, match="unknown node 'x'"):
        graph.node("x")
    with pytest.raises(GraphError, match="unknown instance 'x'"):
        graph.instance("x")


BASE: dict[str, Any] = {
    "nodes": {"p": {"path": "p.wasm"}, "c": {"path": "c.wasm"}},
    "instances": {"p1": {"node": "p"}, "c1": {"node": "c"}},
}


def _with(**changes: Any) -> dict[str, Any]:
    data = {key: value for key, value in BASE.items()}
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_with(extra=1), "top level: unknown key 'extra'"),
        ({"instances": {}}, "missing required key 'nodes'"),
        (_with(nodes=[]), r"\[nodes\]: expected a table, found an array"),
        (_with(nodes={}), "the graph has no nodes"),
        (_with(nodes={"p": "p.wasm"}), r"\[nodes.p\]: expected a table, found a string"),
        (_with(nodes={"p": {}}), "missing required key 'path'"),
        (_with(nodes={"p": {"path": 3}}), r"\[nodes.p\] path: expected a string, found a number"),
        (_with(nodes={"p": {"path": ""}}), "must not be empty"),
        (_with(nodes={"p": {"path": "p.wasm", "sha": "x"}}), "unknown key 'sha'"),
        (_with(nodes={"9p": {"path": "p.wasm"}}), "'9p' is not a valid name"),
        (
            _with(nodes={"p": {"path": "p.wasm"}, "c": {"path": "c.wasm"}, "u": {"path": "u"}}),
            r"\[nodes.u\]: no instance uses this node",
        ),
        (_with(instances={}), r"\[instances\]: the table is empty"),
        (_with(instances={"p1": {"node": "zzz"}, "c1": {"node": "c"}}), "unknown node 'zzz'"),
        (_with(instances={"p1": {}, "c1": {"node": "c"}}), "missing required key 'node'"),
        (
            _with(instances={"p1": {"node": "p", "count": 2}, "c1": {"node": "c"}}),
            "unknown key 'count'",
        ),
        (
            _with(instances={"p1": {"node": "p", "require_wired": "all"}, "c1": {"node": "c"}}),
            "require_wired: expected a list of strings",
        ),
        (_with(instances={"p.1": {"node": "p"}, "c1": {"node": "c"}}), "not a valid name"),
        (_with(require_wired="x"), "require_wired: expected a list of strings, found a string"),
        (_with(require_wired=["a", "a"]), "'a' is listed twice"),
        (_with(require_wired=[1]), r"require_wired\[0\]: expected a string"),
        (_with(description=5), "description: expected a string"),
        (_with(wiring={"instance": "c1"}), r"expected an array of tables \(\[\[wiring\]\]\)"),
        (_with(wiring=[{"instance": "c1", "import": "i"}]), "missing required key 'from'"),
        (
            _with(wiring=[{"instance": "c1", "import": "i", "from": "p1", "x": 1}]),
            r"\[\[wiring\]\] #1: unknown key 'x'",
        ),
        (
            _with(wiring=[{"instance": "nope", "import": "i", "from": "p1"}]),
            "unknown instance 'nope'",
        ),
        (
            _with(wiring=[{"instance": "c1", "import": "i", "from": "nope"}]),
            r"\[\[wiring\]\] #1 from: unknown instance 'nope'",
        ),
        (
            _with(wiring=[{"instance": "c1", "import": "i", "from": "c1"}]),
            "cannot satisfy its own import",
        ),
        (
            _with(wiring=[{"instance": "c1", "import": "i", "from": "p1"}] * 2),
            r"\[\[wiring\]\] #2: import 'i' of 'c1' is wired twice",
        ),
        (
            _with(wiring=[{"instance": "c1", "import": 7, "from": "p1"}]),
            "import: expected a string, found a number",
        ),
        (_with(exports=[{"instance": "c1"}]), "missing required key 'export'"),
        (_with(exports=[{"instance": "zz", "export": "e"}]), "unknown instance 'zz'"),
        (
            _with(exports=[{"instance": "c1", "export": "e", "as": True}]),
            "as: expected a string, found a boolean",
        ),
        (
            _with(exports=[{"instance": "c1", "export": "e"}, {"instance": "p1", "export": "e"}]),
            r"\[\[exports\]\] #2: the composed component already exports 'e'",
        ),
        (_with(exports=[{"instance": "c1", "export": "e", "rename": "f"}]), "unknown key 'rename'"),
    ],
)
def test_malformed_graphs_are_rejected(data: dict[str, Any], message: str, tmp_path: Path) -> None:
    with pytest.raises(GraphError, match=message) as info:
        parse_graph(data, base_dir=tmp_path, source="graph.toml")
    assert str(info.value).startswith("graph.toml: ")
    assert isinstance(info.value, HarnessError)


@pytest.mark.parametrize(
    "name",
    ["runner-a", "runner-A", "abc-DEF-g1", "x:y/z", "ns:pkg/iface@0.1.0", "a:b/c/d@1.2.3-rc.1"],
)
def test_valid_export_names_are_accepted(name: str, tmp_path: Path) -> None:
    graph = parse_graph(
        _with(exports=[{"instance": "c1", "export": "e", "as": name}]), base_dir=tmp_path
    )
    assert graph.exports[0].name == name


@pytest.mark.parametrize("name", ["runner_a", "Bad Name!", "a--b", "1abc", "x:y", "aB"])
def test_invalid_export_names_are_rejected(name: str, tmp_path: Path) -> None:
    with pytest.raises(GraphError, match="not a valid component export name"):
        parse_graph(_with(exports=[{"instance": "c1", "export": name}]), base_dir=tmp_path)


def test_invalid_toml_is_a_graph_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "[nodes.core\npath = 1\n")
    with pytest.raises(GraphError, match="not valid TOML"):
        load_graph(path)


def test_missing_graph_file_is_a_graph_error(tmp_path: Path) -> None:
    with pytest.raises(GraphError, match="cannot read graph file"):
        load_graph(tmp_path / "absent.toml")


def test_non_utf8_graph_file_is_a_graph_error(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(GraphError, match="not UTF-8"):
        load_graph(path)


def test_explain_prints_message_and_hint() -> None:
    error = HarnessError("something broke", hint="do this")
    assert error.explain() == "error: something broke\n  hint: do this"
    assert HarnessError("plain").explain() == "error: plain"
    assert str(error) == "something broke"
