"""Roles in graph files: which surfaced export plays commissioner, commissionee, stats, faults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.build import GraphRoles, load_graph
from harness.build.graph import parse_graph
from harness.errors import GraphError
from harness.project import DEFAULT_GRAPH

CONTROL = "matter:pase/session-control@0.1.0"


def _graph(roles: dict[str, Any] | None = None, stats: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "nodes": {"mine": {"path": "mine.wasm"}, "link": {"path": "link.wasm"}},
        "instances": {
            "controller": {"node": "mine"},
            "device": {"node": "mine"},
            "wire": {"node": "link"},
        },
        "exports": [
            {"instance": "controller", "export": CONTROL, "as": "ctl-a"},
            {"instance": "device", "export": CONTROL, "as": "ctl-b"},
        ],
    }
    if stats:
        data["exports"].append(
            {"instance": "wire", "export": "matter:pase/loopback-stats@0.1.0", "as": "counters"}
        )
    if roles is not None:
        data["roles"] = roles
    return data


def test_the_project_graph_gets_the_default_roles_without_a_roles_table() -> None:
    graph = load_graph(DEFAULT_GRAPH)
    assert graph.roles == GraphRoles()
    assert graph.role_node("commissioner") == graph.role_node("commissionee") == graph.node("core")
    assert graph.role_node("transport-faults") == graph.node("loopback")


def test_declared_roles_name_surfaced_exports_and_absent_ones_are_none() -> None:
    roles = {"commissioner": "ctl-a", "commissionee": "ctl-b", "transport-stats": "counters"}
    graph = parse_graph(_graph(roles), base_dir=Path("/g"))
    assert graph.roles == GraphRoles("ctl-a", "ctl-b", "counters", None)
    assert graph.role_instance("commissionee") == graph.instance("device")
    assert graph.role_node("transport-faults") is None


def test_a_role_naming_an_export_the_graph_does_not_surface_is_an_error() -> None:
    roles = {"commissioner": "ctl-a", "commissionee": "ctl-b", "transport-faults": "faults"}
    with pytest.raises(GraphError, match=r"\[roles\] transport-faults: 'faults' is not an export"):
        parse_graph(_graph(roles), base_dir=Path("/g"))


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        ({"commissioner": "ctl-a", "commissionee": "ctl-a"}, "both name 'ctl-a'"),
        ({"initiator": "ctl-a"}, "unknown key 'initiator'"),
        ({"commissioner": 3}, "expected a string"),
        ("ctl-a", "expected a table"),
    ],
)
def test_bad_roles_tables_are_refused(roles: Any, message: str) -> None:
    with pytest.raises(GraphError, match=message):
        parse_graph(_graph(roles), base_dir=Path("/g"))


def test_a_missing_required_role_is_named_when_it_is_needed() -> None:
    graph = parse_graph(_graph(), base_dir=Path("/g"))
    assert graph.roles.commissioner is None  # nothing called commissioner-control
    with pytest.raises(GraphError, match="has no commissioner role"):
        graph.roles.require("commissioner", "my graph")


def test_roles_round_trip_through_their_manifest_form() -> None:
    roles = {"commissioner": "ctl-a", "commissionee": "ctl-b"}
    graph = parse_graph(_graph(roles, stats=False), base_dir=Path("/g"))
    recorded = graph.roles.to_json()
    assert recorded == {
        "commissioner": "ctl-a",
        "commissionee": "ctl-b",
        "transport-stats": None,
        "transport-faults": None,
    }
    assert GraphRoles.from_json(recorded) == graph.roles
    assert GraphRoles.from_json(None) == GraphRoles()  # a manifest from before roles
    with pytest.raises(GraphError, match="not a table"):
        GraphRoles.from_json({"commissioner": 7})


def test_node_files_can_be_replaced_and_unknown_nodes_are_named(tmp_path: Path) -> None:
    graph = load_graph(DEFAULT_GRAPH)
    other = tmp_path / "other-core.wasm"
    replaced = graph.with_paths({"core": other})
    assert replaced.node("core").path == other.resolve()
    assert replaced.node("loopback") == graph.node("loopback")
    with pytest.raises(GraphError, match="has no node 'cores' to replace"):
        graph.with_paths({"cores": other})
