"""Types of a composed component's exports: each exported instance gets its own.

The composer (:mod:`harness.build.composer`) exports instances of the nested components
under new names. Exported plainly, two exports of one interface (the PASE graph exports
the core's session control once per core instance) share the nested component's
instance type, which WIT cannot express, so WIT-based tools such as jco refuse the
component although wasmtime runs it. Here every exported instance is ascribed a fresh
copy of its instance type (component-model Explainer.md, "Import and Export Definitions": an
export may carry an ``externdesc`` the exported item must match), re-created from the
type description :func:`harness.runtime.read_interface` gives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from harness.build.graph import Graph, Instance
from harness.build.wat import ImportRenderer, alias_origins, wat_string
from harness.errors import UnsupportedTypeError
from harness.runtime import ComponentInterface

SORT_KEYWORDS = {
    "instance": "instance",
    "func": "func",
    "type": "type",
    "component": "component",
    "module": "core module",
}


class Wire(Protocol):
    """An import of an instance satisfied by an export of another (a resolved wire)."""

    @property
    def import_name(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def export(self) -> str: ...


def _type_provider(
    interfaces: Mapping[str, ComponentInterface],
    instance: Instance,
    wires: Sequence[Wire],
    origin: tuple[str, str],
) -> tuple[str, str] | None:
    """Which instance export holds a named type an export of ``instance`` aliases: the
    export an import is wired to, or another export of ``instance`` itself; None for an
    import left open (an outer import declares it)."""
    name = origin[0]
    interface = interfaces[instance.node]
    if interface.import_named(name) is not None:
        wire = next((w for w in wires if w.import_name == name), None)
        return None if wire is None else (wire.source, wire.export)
    if interface.export_named(name) is not None:
        return (instance.name, name)
    raise UnsupportedTypeError(f"it names {name!r}, which node {instance.node!r} lacks")


def emit_exports(
    graph: Graph,
    interfaces: Mapping[str, ComponentInterface],
    by_instance: Mapping[str, Sequence[Wire]],
    renderer: ImportRenderer,
    alias: Callable[[str, str, str], str],
    lines: list[str],
) -> None:
    """The graph's exports, each exported instance ascribed a fresh copy of its type.

    Matter's composed graph exports one interface twice (once per core instance). An
    export without a type of its own shares the instance type of the nested component,
    which WIT cannot express (jco refuses it), so every exported instance gets its own.
    A type the export takes from another interface (WIT ``use``) is aliased from where
    the composed component names it: an outer import, or another outer export (which
    is then emitted first); a type of an interface that stays inside the graph has no
    name outside it, and is an error.
    """
    exported = {(e.instance, e.export): f"$export{i}" for i, e in enumerate(graph.exports)}
    exported = dict(reversed(list(exported.items())))  # the first of duplicates wins
    plans: list[tuple[int, dict[tuple[str, str], tuple[str, str] | None]]] = []
    for index, export in enumerate(graph.exports):
        instance = graph.instance(export.instance)
        found = interfaces[instance.node].export_named(export.export)
        assert found is not None
        providers: dict[tuple[str, str], tuple[str, str] | None] = {}
        if found.sort == "instance" and found.item is not None:
            wires = by_instance.get(instance.name, [])
            try:
                for origin in alias_origins(found.item):
                    providers[origin] = _type_provider(interfaces, instance, wires, origin)
            except UnsupportedTypeError as exc:
                raise _export_type_error(export.export, instance.name, export.name, exc) from exc
        plans.append((index, providers))
    emitted: set[str] = set()
    while plans:
        # Graph order, except that an export follows the exports whose types it uses.
        ready = next(
            plan
            for plan in plans
            if all(p is None or exported.get(p, "") in emitted | {""} for p in plan[1].values())
        )
        plans.remove(ready)
        index, providers = ready
        export = graph.exports[index]
        instance = graph.instance(export.instance)
        found = interfaces[instance.node].export_named(export.export)
        assert found is not None
        target = alias(export.instance, export.export, found.sort)
        ascription = ""
        if found.sort == "instance":
            type_id = f"$export-type{index}"
            try:
                if found.item is None:
                    raise UnsupportedTypeError(found.problem or "its type is not described")
                origins = {
                    origin: _named_type(origin, provider, exported, renderer, lines)
                    for origin, provider in providers.items()
                }
                lines.extend(renderer.instance_type(export.name, found.item, type_id, origins))
            except UnsupportedTypeError as exc:
                raise _export_type_error(export.export, instance.name, export.name, exc) from exc
            ascription = f" (instance (type {type_id}))"
        keyword = SORT_KEYWORDS[found.sort]
        ident = f"$export{index}"
        emitted.add(ident)
        lines.append(f"(export {ident} {wat_string(export.name)} ({keyword} {target}){ascription})")


def _named_type(
    origin: tuple[str, str],
    provider: tuple[str, str] | None,
    exported: dict[tuple[str, str], str],
    renderer: ImportRenderer,
    lines: list[str],
) -> str:
    """The outer identifier of the named type ``origin``, aliased where the composed
    component names it (see :func:`emit_exports`)."""
    if provider is None:  # an import left open: the outer import declared it
        return renderer.origin_ids[origin]
    outer = exported.get(provider)
    if outer is None:
        raise UnsupportedTypeError(
            f"it uses type {origin[1] or origin[0]!r} of export {provider[1]!r} of instance "
            f"{provider[0]!r}, which the graph does not export (export it too, so the type "
            "has a name outside the graph)"
        )
    if not origin[1]:  # a top-level type export
        return outer
    ident = renderer.fresh("t")
    lines.append(f"(alias export {outer} {wat_string(origin[1])} (type {ident}))")
    return ident


def _export_type_error(
    export: str, instance: str, name: str, exc: UnsupportedTypeError
) -> UnsupportedTypeError:
    return UnsupportedTypeError(
        f"export {export!r} of instance {instance!r} (exported as {name!r}) cannot be "
        f"given its own type: {exc}"
    )


def export_origins_in_imports(
    graph: Graph, interfaces: Mapping[str, ComponentInterface], open_imports: dict[str, list[str]]
) -> set[tuple[str, str]]:
    """Types of open imports that the graph's exported instances alias (WIT ``use``).

    The renderer aliases these out of the outer imports right after declaring them.
    """
    needed: set[tuple[str, str]] = set()
    for export in graph.exports:
        instance = graph.instance(export.instance)
        found = interfaces[instance.node].export_named(export.export)
        if found is None or found.item is None:
            continue
        for name, type_name in alias_origins(found.item):
            if name in open_imports[instance.name] and type_name:
                needed.add((name, type_name))
    return needed
