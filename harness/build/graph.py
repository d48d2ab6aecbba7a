"""Composition graph files: which components to instantiate and how to wire them.

A graph file is TOML. Paths are relative to the graph file's directory. Example::

    description = "PASE over an in-memory loopback"   # optional
    # Imports that must be satisfied inside the graph, for every instance that has them.
    require_wired = ["matter:pase/transport@0.1.0"]   # optional

    [nodes.core]                       # a component file
    path = "../../build/core.wasm"
    [nodes.loopback]
    path = "../../build/loopback.wasm"

    [instances.commissioner]           # an instantiation of a node
    node = "core"
    [instances.commissionee]
    node = "core"
    require_wired = "*"                # optional: a list of import names, or "*" for all
    [instances.wire]
    node = "loopback"

    [[wiring]]                         # instance's import <- from's export
    instance = "commissioner"
    import = "matter:pase/transport@0.1.0"
    from = "wire"
    export = "matter:pase/endpoint-a@0.1.0"   # optional, defaults to the import name

    [[exports]]                        # surfaced on the composed component
    instance = "commissioner"
    export = "matter:pase/session-control@0.1.0"
    as = "commissioner-control"        # optional, defaults to the export name

    [roles]                            # optional: which surfaced export plays which part
    commissioner = "commissioner-control"   # session control of the PASE initiator
    commissionee = "commissionee-control"   # session control of the PASE responder
    transport-stats = "transport-stats"     # optional: the link's packet counters
    transport-faults = "transport-faults"   # optional: the link's fault injection

Rules:

- ``[instances]`` may be left out: each node is then instantiated once, under its own
  name. Every node must be instantiated at least once.
- An import without a ``[[wiring]]`` entry is wired automatically when exactly one other
  instance exports an item of that name; otherwise it becomes an import of the composed
  component, shared by every instance that leaves it open.
- An import listed in ``require_wired`` (graph-wide or per instance) that ends up open
  is an error.
- ``[roles]`` names, for each role of a PASE run, the surfaced export (an ``as`` name
  of ``[[exports]]``) that plays it; a role naming an export the graph does not surface
  is an error. A role left out defaults to the export of that role's conventional name
  (``commissioner-control``, ``commissionee-control``, ``transport-stats``,
  ``transport-faults``) when the graph surfaces one, and is absent otherwise (the
  claims that need it are then not applicable to the graph).
- Names of nodes and instances start with a letter and use letters, digits, ``-`` and
  ``_``. Unknown keys anywhere are errors, so a typo never silently changes the graph.

:func:`load_graph` reads and checks a file; :func:`parse_graph` checks an already
parsed mapping (the tests use it). Cross-checks against the components themselves
(does the import exist? does the export?) happen in :mod:`harness.build.composer`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from harness.errors import GraphError
from harness.project import load_toml
from harness.wit import (
    COMMISSIONEE_EXPORT,
    COMMISSIONER_EXPORT,
    TRANSPORT_FAULTS_EXPORT,
    TRANSPORT_STATS_EXPORT,
)

ALL_IMPORTS: Literal["*"] = "*"

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")

# Names a component may export (component-model Explainer, "import and export
# definitions"): a kebab-case label, an interface name, or a resource function name.
_WORD = r"(?:[a-z][a-z0-9]*|[A-Z][A-Z0-9]*)"
_LABEL = rf"{_WORD}(?:-{_WORD})*"
_SEMVER = r"[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?"
_EXPORT_NAME = re.compile(
    rf"^(?:{_LABEL}"
    rf"|{_LABEL}:{_LABEL}(?:/{_LABEL})+(?:@{_SEMVER})?"
    rf"|\[(?:method|static)\]{_LABEL}\.{_LABEL}"
    rf"|\[constructor\]{_LABEL})$"
)


@dataclass(frozen=True)
class Node:
    """A component file. ``path`` is resolved; ``path_text`` is as the graph wrote it."""

    name: str
    path: Path
    path_text: str


@dataclass(frozen=True)
class Instance:
    """One instantiation of a node. ``require_wired`` is a tuple of import names or "*"."""

    name: str
    node: str
    require_wired: tuple[str, ...] | Literal["*"] = ()


@dataclass(frozen=True)
class Wiring:
    """``instance``'s import ``import_name`` is satisfied by ``source``'s ``export``."""

    instance: str
    import_name: str
    source: str
    export: str


@dataclass(frozen=True)
class OuterExport:
    """An export of ``instance`` surfaced on the composed component as ``name``."""

    instance: str
    export: str
    name: str


#: The roles a graph may declare in ``[roles]``, with the export name each defaults to.
ROLE_DEFAULTS: Mapping[str, str] = {
    "commissioner": COMMISSIONER_EXPORT,
    "commissionee": COMMISSIONEE_EXPORT,
    "transport-stats": TRANSPORT_STATS_EXPORT,
    "transport-faults": TRANSPORT_FAULTS_EXPORT,
}


@dataclass(frozen=True)
class GraphRoles:
    """Which surfaced export of a composed graph plays which part in a PASE run.

    ``None``: the graph has nothing in that role. The defaults are the project's own
    graph's export names (``components/graphs/pase-loopback.toml``).
    """

    commissioner: str | None = COMMISSIONER_EXPORT
    commissionee: str | None = COMMISSIONEE_EXPORT
    transport_stats: str | None = TRANSPORT_STATS_EXPORT
    transport_faults: str | None = TRANSPORT_FAULTS_EXPORT

    def get(self, role: str) -> str | None:
        """The export playing ``role`` (a key of :data:`ROLE_DEFAULTS`), or None."""
        if role not in ROLE_DEFAULTS:
            raise KeyError(role)
        value: str | None = getattr(self, role.replace("-", "_"))
        return value

    def require(self, role: str, where: str) -> str:
        """The export playing ``role``; a :class:`GraphError` naming ``where`` if none does."""
        name = self.get(role)
        if name is None:
            raise GraphError(
                f"{where} has no {role} role: no [roles] entry and no export named "
                f"{ROLE_DEFAULTS[role]!r}",
                hint=f"surface the export and name it in the graph's [roles] table "
                f'({role} = "...")',
            )
        return name

    def to_json(self) -> dict[str, str | None]:
        """The roles as recorded in a composition manifest (role name to export or null)."""
        return {role: self.get(role) for role in ROLE_DEFAULTS}

    @classmethod
    def from_json(cls, data: object, where: str = "composition manifest") -> GraphRoles:
        """Roles as :meth:`to_json` wrote them; absent (older manifests): the defaults."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping) or not all(
            isinstance(data.get(role), str | type(None)) for role in ROLE_DEFAULTS
        ):
            raise GraphError(f"{where}: 'roles' is not a table of role names to exports")
        return cls(**{role.replace("-", "_"): data.get(role) for role in ROLE_DEFAULTS})


@dataclass(frozen=True)
class Graph:
    """A checked composition graph (see the module docstring for the file format)."""

    source: str
    nodes: tuple[Node, ...]
    instances: tuple[Instance, ...]
    wiring: tuple[Wiring, ...]
    exports: tuple[OuterExport, ...]
    require_wired: tuple[str, ...] = ()
    description: str = ""
    roles: GraphRoles = GraphRoles()

    def node(self, name: str) -> Node:
        """The node called ``name``."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise GraphError(f"{self.source}: unknown node {name!r}")

    def instance(self, name: str) -> Instance:
        """The instance called ``name``."""
        for instance in self.instances:
            if instance.name == name:
                return instance
        raise GraphError(f"{self.source}: unknown instance {name!r}")

    def role_instance(self, role: str) -> Instance | None:
        """The instance whose export plays ``role``, or None when no export does."""
        name = self.roles.get(role)
        for export in self.exports:
            if export.name == name:
                return self.instance(export.instance)
        return None

    def role_node(self, role: str) -> Node | None:
        """The node (component file) of the instance playing ``role``, or None."""
        instance = self.role_instance(role)
        return None if instance is None else self.node(instance.node)

    def with_paths(self, paths: Mapping[str, Path]) -> Graph:
        """This graph with the files of the nodes named in ``paths`` replaced."""
        known = [node.name for node in self.nodes]
        unknown = sorted(set(paths) - set(known))
        if unknown:
            raise GraphError(
                f"{self.source} has no node {unknown[0]!r} to replace (its nodes: "
                + ", ".join(known)
                + ")"
            )
        nodes = tuple(
            Node(node.name, paths[node.name].resolve(), str(paths[node.name]))
            if node.name in paths
            else node
            for node in self.nodes
        )
        return replace(self, nodes=nodes)


def load_graph(path: Path | str) -> Graph:
    """Read and check a graph file; relative component paths resolve from its directory."""
    path = Path(path)
    data, _ = load_toml(path, what="graph file", error=GraphError)
    return parse_graph(data, base_dir=path.parent, source=str(path))


class _Checker:
    """Type and key checks with messages that say where in the file the problem is."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> GraphError:
        return GraphError(f"{self.source}: {where}: {message}")

    def table(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"expected a table, found {_kind(value)}")
        return value

    def keys(
        self, table: Mapping[str, Any], where: str, required: set[str], optional: set[str]
    ) -> None:
        unknown = sorted(set(table) - required - optional)
        if unknown:
            allowed = ", ".join(sorted(required | optional))
            raise self.fail(where, f"unknown key {unknown[0]!r} (allowed: {allowed})")
        missing = sorted(required - set(table))
        if missing:
            raise self.fail(where, f"missing required key {missing[0]!r}")

    def string(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(where, f"expected a string, found {_kind(value)}")
        if not value:
            raise self.fail(where, "must not be empty")
        return value

    def name(self, value: Any, where: str) -> str:
        text = self.string(value, where)
        if not _NAME.match(text):
            raise self.fail(
                where, f"{text!r} is not a valid name (a letter, then letters, digits, - or _)"
            )
        return text

    def strings(self, value: Any, where: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list of strings, found {_kind(value)}")
        items = tuple(self.string(v, f"{where}[{i}]") for i, v in enumerate(value))
        duplicates = sorted({v for v in items if items.count(v) > 1})
        if duplicates:
            raise self.fail(where, f"{duplicates[0]!r} is listed twice")
        return items

    def entries(self, value: Any, where: str) -> list[Mapping[str, Any]]:
        if not isinstance(value, list):
            raise self.fail(
                where, f"expected an array of tables ([[{where}]]), found {_kind(value)}"
            )
        return [self.table(v, f"[[{where}]] #{i + 1}") for i, v in enumerate(value)]


def parse_graph(data: Mapping[str, Any], *, base_dir: Path, source: str = "<graph>") -> Graph:
    """Check a parsed graph mapping and build a :class:`Graph`."""
    check = _Checker(source)
    check.keys(
        data,
        "top level",
        {"nodes"},
        {"instances", "wiring", "exports", "require_wired", "description", "roles"},
    )
    description = ""
    if "description" in data:
        description = check.string(data["description"], "description")
    require_wired: tuple[str, ...] = ()
    if "require_wired" in data:
        require_wired = check.strings(data["require_wired"], "require_wired")
    nodes = _parse_nodes(check, data["nodes"], base_dir)
    instances = _parse_instances(check, data, nodes)
    names = {instance.name for instance in instances}
    exports = _parse_exports(check, data.get("exports", []), names)
    return Graph(
        source=source,
        nodes=nodes,
        instances=instances,
        wiring=_parse_wiring(check, data.get("wiring", []), names),
        exports=exports,
        require_wired=require_wired,
        description=description,
        roles=_parse_roles(check, data.get("roles"), exports),
    )


def _parse_roles(check: _Checker, table: Any, exports: tuple[OuterExport, ...]) -> GraphRoles:
    """``[roles]``: each role names a surfaced export; a role left out takes its default
    name when the graph surfaces it, else it is absent."""
    surfaced = [export.name for export in exports]
    declared: Mapping[str, Any] = {}
    if table is not None:
        declared = check.table(table, "[roles]")
        check.keys(declared, "[roles]", set(), set(ROLE_DEFAULTS))
    chosen: dict[str, str | None] = {}
    for role, default in ROLE_DEFAULTS.items():
        if role in declared:
            name = check.string(declared[role], f"[roles] {role}")
            if name not in surfaced:
                raise check.fail(
                    f"[roles] {role}",
                    f"{name!r} is not an export the graph surfaces (it surfaces: "
                    + (", ".join(surfaced) or "nothing")
                    + ")",
                )
            chosen[role.replace("-", "_")] = name
        else:
            chosen[role.replace("-", "_")] = default if default in surfaced else None
    both = chosen["commissioner"]
    if both is not None and both == chosen["commissionee"]:
        raise check.fail(
            "[roles]", f"commissioner and commissionee both name {both!r}: each needs its own"
        )
    return GraphRoles(**chosen)


def _parse_nodes(check: _Checker, table: Any, base_dir: Path) -> tuple[Node, ...]:
    nodes: list[Node] = []
    for name, spec in check.table(table, "[nodes]").items():
        where = f"[nodes.{name}]"
        check.name(name, where)
        spec = check.table(spec, where)
        check.keys(spec, where, {"path"}, set())
        path_text = check.string(spec["path"], f"{where} path")
        nodes.append(Node(name, (base_dir / path_text).resolve(), path_text))
    if not nodes:
        raise check.fail("[nodes]", "the graph has no nodes")
    return tuple(nodes)


def _parse_instances(
    check: _Checker, data: Mapping[str, Any], nodes: tuple[Node, ...]
) -> tuple[Instance, ...]:
    """The ``[instances]`` table; without one, one instance per node, named after it."""
    node_names = {node.name for node in nodes}
    instances = []
    if "instances" in data:
        for name, spec in check.table(data["instances"], "[instances]").items():
            where = f"[instances.{name}]"
            check.name(name, where)
            spec = check.table(spec, where)
            check.keys(spec, where, {"node"}, {"require_wired"})
            node = check.string(spec["node"], f"{where} node")
            if node not in node_names:
                raise check.fail(f"{where} node", f"unknown node {node!r}")
            required: tuple[str, ...] | Literal["*"] = ()
            if "require_wired" in spec:
                if spec["require_wired"] == ALL_IMPORTS:
                    required = ALL_IMPORTS
                else:
                    required = check.strings(spec["require_wired"], f"{where} require_wired")
            instances.append(Instance(name, node, required))
        if not instances:
            raise check.fail("[instances]", "the table is empty")
    else:
        instances = [Instance(node.name, node.name) for node in nodes]
    used = {instance.node for instance in instances}
    for unused in (n for n in nodes if n.name not in used):
        raise check.fail(f"[nodes.{unused.name}]", "no instance uses this node")
    return tuple(instances)


def _instance_ref(check: _Checker, value: Any, where: str, names: set[str]) -> str:
    name = check.string(value, where)
    if name not in names:
        raise check.fail(where, f"unknown instance {name!r}")
    return name


def _parse_wiring(check: _Checker, entries: Any, names: set[str]) -> tuple[Wiring, ...]:
    wiring = []
    seen_wires: set[tuple[str, str]] = set()
    for i, spec in enumerate(check.entries(entries, "wiring")):
        where = f"[[wiring]] #{i + 1}"
        check.keys(spec, where, {"instance", "import", "from"}, {"export"})
        instance = _instance_ref(check, spec["instance"], f"{where} instance", names)
        import_name = check.string(spec["import"], f"{where} import")
        source_name = _instance_ref(check, spec["from"], f"{where} from", names)
        export = check.string(spec.get("export", import_name), f"{where} export")
        if source_name == instance:
            raise check.fail(where, f"instance {instance!r} cannot satisfy its own import")
        if (instance, import_name) in seen_wires:
            raise check.fail(where, f"import {import_name!r} of {instance!r} is wired twice")
        seen_wires.add((instance, import_name))
        wiring.append(Wiring(instance, import_name, source_name, export))
    return tuple(wiring)


def _parse_exports(check: _Checker, entries: Any, names: set[str]) -> tuple[OuterExport, ...]:
    exports = []
    seen_exports: set[str] = set()
    for i, spec in enumerate(check.entries(entries, "exports")):
        where = f"[[exports]] #{i + 1}"
        check.keys(spec, where, {"instance", "export"}, {"as"})
        instance = _instance_ref(check, spec["instance"], f"{where} instance", names)
        export = check.string(spec["export"], f"{where} export")
        name = check.string(spec.get("as", export), f"{where} as")
        if not _EXPORT_NAME.match(name):
            raise check.fail(
                f"{where} as",
                f"{name!r} is not a valid component export name (a kebab-case label like "
                "'runner-a', or an interface name like 'ns:pkg/iface@1.0.0')",
            )
        if name in seen_exports:
            raise check.fail(where, f"the composed component already exports {name!r}")
        seen_exports.add(name)
        exports.append(OuterExport(instance, export, name))
    return tuple(exports)


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__
