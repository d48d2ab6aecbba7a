"""Compose a graph of components into one component, in pure Python.

No ``wac`` or ``wasm-tools`` binary is involved. The steps:

1. read each node's component file and describe its imports and exports, with their
   types, with :func:`harness.runtime.types.read_interface`, which compiles only stubs
   (no function bodies) and caches the result by SHA-256;
2. resolve the wiring: explicit ``[[wiring]]`` entries first, then every other import
   that exactly one other instance exports; what is left open becomes an import of the
   composed component (one per name, shared by all instances that leave it open);
3. order the instances topologically by their wiring (a cycle is an error);
4. write the outer component in component-model text, re-declaring the open imports
   with their exact types, ascribing each exported instance a fresh copy of its
   instance type (so one interface exported twice gives two distinct types, as WIT
   and jco require), and using an empty placeholder for each nested component;
   compile that text with ``wasmtime.wat2wasm``;
5. splice the real component binaries into the placeholder sections (id 4) and append
   the composition manifest as a custom section;
6. validate by compiling the result with wasmtime; a wiring whose types do not fit
   fails here, with wasmtime's explanation.

componentize-py components also export an internal instance called ``exports``; it is
never wired automatically and never surfaced (:data:`HIDDEN_EXPORTS`).

The same graph and component files always give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import wasm_binary as wb
from harness.build.ascribe import SORT_KEYWORDS, emit_exports, export_origins_in_imports
from harness.build.graph import ALL_IMPORTS, Graph, Instance
from harness.build.wat import ImportRenderer, alias_origins, import_dependencies, wat_string
from harness.errors import (
    ComponentFileError,
    CompositionError,
    CompositionTypeError,
    ConflictingImportError,
    DependencyCycleError,
    GraphError,
    MissingExportError,
    MissingImportError,
    UnsatisfiedImportError,
    UnsupportedTypeError,
)
from harness.runtime import (
    Component,
    ComponentInterface,
    Engine,
    Json,
    RuntimeLoadError,
    new_engine,
    read_interface,
    try_compile,
    wat2wasm,
)

HIDDEN_EXPORTS = frozenset({"exports"})
MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class ResolvedWire:
    """An import of ``instance`` satisfied by export ``export`` of instance ``source``.

    ``explicit`` is False when the composer found the unique exporter by itself.
    """

    instance: str
    import_name: str
    source: str
    export: str
    sort: str
    explicit: bool


@dataclass(frozen=True)
class ComposeResult:
    """A composed component and what went into it.

    ``component`` is the binary; ``manifest`` the JSON embedded in it; ``order`` the
    instantiation order; ``text`` the generated outer component text (with placeholders
    where the inner components go); ``compiled`` the validated wasmtime Component
    (None when validation was skipped), reusable with the same engine.
    """

    component: bytes
    manifest: dict[str, Json]
    outer_imports: tuple[str, ...]
    outer_exports: tuple[str, ...]
    wiring: tuple[ResolvedWire, ...]
    order: tuple[str, ...]
    text: str
    compiled: Component | None


@dataclass(frozen=True)
class _LoadedNode:
    name: str
    data: bytes
    interface: ComponentInterface


def compose(
    graph: Graph,
    *,
    engine: Engine | None = None,
    cache_dir: Path | None = None,
    validate: bool = True,
) -> ComposeResult:
    """Compose ``graph`` into one component binary (see the module docstring).

    ``cache_dir`` holds the per-file type descriptions. With ``validate`` (the default)
    the result is compiled with ``engine`` to prove it is valid.
    """
    engine = engine if engine is not None else new_engine()
    nodes = {node.name: _load_node(graph, node.name, engine, cache_dir) for node in graph.nodes}
    wires, open_imports = _resolve(graph, nodes)
    order = _instantiation_order(graph, wires)
    outer_imports = _outer_imports(graph, nodes, order, open_imports)
    _check_exports(graph, nodes)
    text = _outer_text(graph, nodes, order, wires, open_imports, outer_imports)
    try:
        skeleton = wat2wasm(text)
    except RuntimeLoadError as exc:  # a bug in the text generation, or an invalid name
        raise CompositionError(f"generating the composed component failed: {exc}") from exc
    manifest = _manifest(graph, nodes, order, wires, outer_imports)
    component = _splice(skeleton, [nodes[node.name].data for node in graph.nodes], manifest)
    compiled = _validate(graph, engine, component, order) if validate else None
    return ComposeResult(
        component=component,
        manifest=manifest,
        outer_imports=tuple(outer_imports),
        outer_exports=tuple(export.name for export in graph.exports),
        wiring=tuple(wires),
        order=tuple(order),
        text=text,
        compiled=compiled,
    )


# --------------------------------------------------------------------------- planning


def _load_node(graph: Graph, name: str, engine: Engine, cache_dir: Path | None) -> _LoadedNode:
    node = graph.node(name)
    try:
        data = node.path.read_bytes()
    except FileNotFoundError:
        raise ComponentFileError(
            f"component file of node {name!r} not found: {node.path}",
            hint="build the components first, or fix the path in the graph "
            f"(relative to {Path(graph.source).parent})",
        ) from None
    except OSError as exc:
        raise ComponentFileError(
            f"cannot read component file of node {name!r} ({node.path}): {exc.strerror}"
        ) from exc
    try:
        interface = read_interface(data, engine=engine, cache_dir=cache_dir, source=str(node.path))
    except ComponentFileError as exc:
        raise ComponentFileError(f"node {name!r}: {exc}") from exc
    return _LoadedNode(name, data, interface)


def _exporters(
    graph: Graph, nodes: dict[str, _LoadedNode], export: str, sort: str, exclude: str
) -> list[str]:
    return [
        instance.name
        for instance in graph.instances
        if instance.name != exclude
        and export not in HIDDEN_EXPORTS
        and (found := nodes[instance.node].interface.export_named(export)) is not None
        and found.sort == sort
    ]


def _resolve(
    graph: Graph, nodes: dict[str, _LoadedNode]
) -> tuple[list[ResolvedWire], dict[str, list[str]]]:
    """Resolve every import of every instance: a wire, or left open (outer import)."""
    explicit = {(w.instance, w.import_name): w for w in graph.wiring}
    wires: list[ResolvedWire] = []
    open_imports: dict[str, list[str]] = {}
    for wiring in graph.wiring:
        instance = graph.instance(wiring.instance)
        if nodes[instance.node].interface.import_named(wiring.import_name) is None:
            raise MissingImportError(
                f"wiring: instance {instance.name!r} (node {instance.node!r}) has no import "
                f"{wiring.import_name!r}",
                hint=_choices(i.name for i in nodes[instance.node].interface.imports),
            )
    for instance in graph.instances:
        interface = nodes[instance.node].interface
        open_imports[instance.name] = []
        for imp in interface.imports:
            chosen = explicit.get((instance.name, imp.name))
            if chosen is not None:
                source = graph.instance(chosen.source)
                found = nodes[source.node].interface.export_named(chosen.export)
                if found is None or chosen.export in HIDDEN_EXPORTS:
                    visible = nodes[source.node].interface.exports
                    raise MissingExportError(
                        f"wiring: import {imp.name!r} of instance {instance.name!r} is wired to "
                        f"export {chosen.export!r} of instance {source.name!r}, which has no "
                        "such export",
                        hint=_choices(e.name for e in visible if e.name not in HIDDEN_EXPORTS),
                    )
                if found.sort != imp.kind:
                    raise CompositionTypeError(
                        f"wiring: import {imp.name!r} of instance {instance.name!r} is a "
                        f"{imp.kind} but export {chosen.export!r} of instance {source.name!r} "
                        f"is a {found.sort}"
                    )
                wires.append(
                    ResolvedWire(
                        instance.name,
                        imp.name,
                        source.name,
                        chosen.export,
                        found.sort,
                        explicit=True,
                    )
                )
                continue
            candidates = _exporters(graph, nodes, imp.name, imp.kind, instance.name)
            if len(candidates) == 1:
                wires.append(
                    ResolvedWire(
                        instance.name, imp.name, candidates[0], imp.name, imp.kind, explicit=False
                    )
                )
            else:
                open_imports[instance.name].append(imp.name)
    _check_required(graph, nodes, open_imports)
    return wires, open_imports


def _check_required(
    graph: Graph, nodes: dict[str, _LoadedNode], open_imports: dict[str, list[str]]
) -> None:
    imported_anywhere = {imp.name for node in nodes.values() for imp in node.interface.imports}
    for name in graph.require_wired:
        if name not in imported_anywhere:
            raise GraphError(f"{graph.source}: require_wired names {name!r}, which no node imports")
    for instance in graph.instances:
        imports = [imp.name for imp in nodes[instance.node].interface.imports]
        if instance.require_wired == ALL_IMPORTS:
            required = set(imports)
        else:
            required = set(instance.require_wired)
            for name in instance.require_wired:
                if name not in imports:
                    raise GraphError(
                        f"{graph.source}: [instances.{instance.name}] require_wired names "
                        f"{name!r}, which node {instance.node!r} does not import"
                    )
        required |= set(graph.require_wired)
        for name in open_imports[instance.name]:
            if name in required:
                raise UnsatisfiedImportError(
                    _unsatisfied_message(graph, nodes, instance, name),
                    hint="add a [[wiring]] entry for it, or instantiate a node that exports it",
                )


def _unsatisfied_message(
    graph: Graph, nodes: dict[str, _LoadedNode], instance: Instance, name: str
) -> str:
    kind = nodes[instance.node].interface.import_named(name)
    sort = kind.kind if kind is not None else "instance"
    exporters = _exporters(graph, nodes, name, sort, instance.name)
    if len(exporters) > 1:
        return (
            f"import {name!r} of instance {instance.name!r} must be wired inside the graph, "
            f"but several instances export it ({', '.join(exporters)}); wire it explicitly"
        )
    return (
        f"import {name!r} of instance {instance.name!r} must be wired inside the graph, "
        "but no instance exports it"
    )


def _instantiation_order(graph: Graph, wires: Sequence[ResolvedWire]) -> list[str]:
    """Instances in dependency order (providers first), ties broken by graph order."""
    names = [instance.name for instance in graph.instances]
    deps: dict[str, set[str]] = {name: set() for name in names}
    for wire in wires:
        deps[wire.instance].add(wire.source)
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(names):
        ready = [n for n in names if n not in done and deps[n] <= done]
        if not ready:
            cycle = _find_cycle({n: deps[n] - done for n in names if n not in done})
            path = " -> ".join(cycle)
            raise DependencyCycleError(
                f"the instances depend on each other in a cycle: {path} "
                "(each needs an export of the next)"
            )
        order.append(ready[0])
        done.add(ready[0])
    return order


def _find_cycle(deps: dict[str, set[str]]) -> list[str]:
    # Every remaining node has a remaining dependency, so walking always closes a loop.
    start = next(iter(deps))
    path = [start]
    while True:
        following = sorted(deps[path[-1]])[0]
        if following in path:
            return [*path[path.index(following) :], following]
        path.append(following)


def _outer_imports(
    graph: Graph,
    nodes: dict[str, _LoadedNode],
    order: Sequence[str],
    open_imports: dict[str, list[str]],
) -> list[str]:
    """The composed component's imports: open imports, once per name, types checked equal.

    Ordered so an import follows those whose types it aliases (WIT ``use``).
    """
    first: dict[str, tuple[str, Json]] = {}
    for name in order:
        instance = graph.instance(name)
        interface = nodes[instance.node].interface
        for import_name in open_imports[name]:
            desc = interface.import_named(import_name)
            assert desc is not None
            if import_name in first and first[import_name][1] != desc.item:
                raise ConflictingImportError(
                    f"instances {first[import_name][0]!r} and {name!r} both import "
                    f"{import_name!r} from outside the graph, with different types",
                    hint="build both components against the same WIT version",
                )
            first.setdefault(import_name, (name, desc.item))
    names = list(first)
    placed: list[str] = []

    def place(name: str, trail: tuple[str, ...]) -> None:
        if name in placed or name in trail:
            return
        for dependency in import_dependencies(first[name][1]):
            if dependency in first:
                place(dependency, (*trail, name))
        placed.append(name)

    for name in names:
        place(name, ())
    return placed


def _check_exports(graph: Graph, nodes: dict[str, _LoadedNode]) -> None:
    for export in graph.exports:
        instance = graph.instance(export.instance)
        interface = nodes[instance.node].interface
        if export.export in HIDDEN_EXPORTS or interface.export_named(export.export) is None:
            visible = [e.name for e in interface.exports if e.name not in HIDDEN_EXPORTS]
            raise MissingExportError(
                f"exports: instance {instance.name!r} (node {instance.node!r}) has no export "
                f"{export.export!r}",
                hint=_choices(visible),
            )


def _choices(names: Any) -> str:
    listed = sorted(set(names))
    return "it has: " + ", ".join(listed) if listed else "it has none"


# --------------------------------------------------------------------------- emitting


def _outer_text(
    graph: Graph,
    nodes: dict[str, _LoadedNode],
    order: Sequence[str],
    wires: Sequence[ResolvedWire],
    open_imports: dict[str, list[str]],
    outer_imports: Sequence[str],
) -> str:
    """The outer component in text form, with an empty placeholder per nested component."""
    items: dict[str, Json] = {}
    for instance in graph.instances:
        interface = nodes[instance.node].interface
        for name in open_imports[instance.name]:
            desc = interface.import_named(name)
            assert desc is not None
            items.setdefault(name, desc.item)
    renderer = ImportRenderer("$root")
    for name in outer_imports:
        renderer.needed.update(alias_origins(items[name]))
    interfaces_by_node = {name: loaded.interface for name, loaded in nodes.items()}
    renderer.needed.update(export_origins_in_imports(graph, interfaces_by_node, open_imports))
    lines = ["(component $root"]
    import_ids: dict[str, str] = {}
    for index, name in enumerate(outer_imports):
        import_ids[name] = f"$import{index}"
        try:
            lines.extend(renderer.render(name, items[name], import_ids[name]))
        except UnsupportedTypeError as exc:
            users = [i for i in order if name in open_imports[i]]
            raise UnsupportedTypeError(
                f"import {name!r} (left open by {', '.join(users)}): {exc}"
            ) from exc
    for node in graph.nodes:
        lines.append(f"(component $node-{node.name})")
    by_instance: dict[str, list[ResolvedWire]] = {}
    for wire in wires:
        by_instance.setdefault(wire.instance, []).append(wire)
    aliases: dict[tuple[str, str], str] = {}

    def alias(instance: str, export: str, sort: str) -> str:
        key = (instance, export)
        if key not in aliases:
            aliases[key] = f"$alias{len(aliases)}"
            lines.append(
                f"(alias export $inst-{instance} {wat_string(export)} "
                f"({SORT_KEYWORDS[sort]} {aliases[key]}))"
            )
        return aliases[key]

    for name in order:
        instance = graph.instance(name)
        args = []
        wired = {wire.import_name: wire for wire in by_instance.get(name, [])}
        for imp in nodes[instance.node].interface.imports:
            if imp.name in wired:
                wire = wired[imp.name]
                target = alias(wire.source, wire.export, wire.sort)
            else:
                target = import_ids[imp.name]
            args.append(f"(with {wat_string(imp.name)} ({SORT_KEYWORDS[imp.kind]} {target}))")
        lines.append(
            f"(instance $inst-{name} (instantiate $node-{instance.node}"
            + "".join(f"\n    {arg}" for arg in args)
            + "))"
        )

    interfaces = {name: loaded.interface for name, loaded in nodes.items()}
    emit_exports(graph, interfaces, by_instance, renderer, alias, lines)
    lines.append(")")
    return "\n".join(lines) + "\n"


def _splice(skeleton: bytes, components: Sequence[bytes], manifest: dict[str, Json]) -> bytes:
    """Put the real components into the placeholder sections and append the manifest."""
    sections = wb.parse_sections(skeleton)
    placeholders = [s for s in sections if s.id == wb.SECTION_COMPONENT]
    if len(placeholders) != len(components):
        raise CompositionError(
            f"internal error: {len(placeholders)} placeholders for {len(components)} components"
        )
    remaining = iter(components)
    parts: list[bytes] = []
    for section in sections:
        if section.id == wb.SECTION_COMPONENT:
            # A placeholder holds at most the name section the text format adds.
            inner = wb.parse_sections(section.payload)
            if any(s.id != wb.SECTION_CUSTOM for s in inner):
                raise CompositionError("internal error: a placeholder is not empty")
            parts.append(wb.encode_section(wb.SECTION_COMPONENT, next(remaining)))
        else:
            parts.append(section.encode())
    body = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode("utf-8")
    parts.append(wb.custom_section(wb.MANIFEST_SECTION, body))
    return wb.assemble(wb.COMPONENT_PREAMBLE, parts)


def _manifest(
    graph: Graph,
    nodes: dict[str, _LoadedNode],
    order: Sequence[str],
    wires: Sequence[ResolvedWire],
    outer_imports: Sequence[str],
) -> dict[str, Json]:
    node_entries: list[Json] = []
    for node in graph.nodes:
        loaded = nodes[node.name]
        node_entries.append(
            {
                "name": node.name,
                "file": node.path.name,
                "path": node.path_text,
                "sha256": hashlib.sha256(loaded.data).hexdigest(),
                "size": len(loaded.data),
                "instances": [i.name for i in graph.instances if i.node == node.name],
            }
        )
    return {
        "format": MANIFEST_FORMAT,
        "graph": Path(graph.source).name,
        "description": graph.description,
        "nodes": node_entries,
        "instances": [{"name": n, "node": graph.instance(n).node} for n in order],
        "wiring": [
            {
                "instance": w.instance,
                "import": w.import_name,
                "from": w.source,
                "export": w.export,
                "explicit": w.explicit,
            }
            for w in wires
        ],
        "exports": [
            {"instance": e.instance, "export": e.export, "as": e.name} for e in graph.exports
        ],
        "imports": list(outer_imports),
        "roles": dict(graph.roles.to_json()),
    }


_OFFSET_IN_MESSAGE = re.compile(r"\(at offset 0x([0-9a-f]+)\)")


def _validate(graph: Graph, engine: Engine, component: bytes, order: Sequence[str]) -> Component:
    compiled, message = try_compile(engine, component)
    if compiled is None:
        offset = _OFFSET_IN_MESSAGE.search(message)
        culprit = _instance_at(component, int(offset.group(1), 16), order) if offset else None
        where = f" when instantiating {culprit!r}" if culprit else ""
        raise CompositionTypeError(
            f"the composed graph {graph.source} does not validate{where}: {message}"
        )
    return compiled


def _instance_at(component: bytes, offset: int, order: Sequence[str]) -> str | None:
    """The instance whose instantiation is encoded at ``offset`` of the composed binary."""
    index = 0
    for section in wb.parse_sections(component):
        if section.id != wb.SECTION_INSTANCE:
            continue
        reader = wb.ByteReader(section.payload, section.payload_offset)
        for _ in range(reader.u32()):
            start = reader.offset
            if reader.u8() != 0x00:  # not an instantiation: the composer emits none
                return None
            reader.u32()
            for _ in range(reader.u32()):
                reader.name()
                if reader.u8() == wb.SORT_CORE:
                    reader.u8()
                reader.u32()
            if start <= offset < reader.offset and index < len(order):
                return order[index]
            index += 1
    return None
