"""The harness's layering contract, checked from the source text (nothing is imported).

:func:`violations` reads every module under a ``harness`` directory with :mod:`ast` and
returns one line per broken rule:

1. imports flow one way: each package has a layer (:data:`LAYERS`); a module imports
   only modules of its own package or of lower layers, and ``runtime`` and ``seams``
   (the same layer) never import each other;
2. no import cycle among the harness's modules (every import counts, including those
   under ``TYPE_CHECKING`` and inside functions);
3. only ``harness/runtime/`` imports ``wasmtime``;
4. no function-local import outside ``harness/cli/`` (where they keep start-up fast);
5. another package is imported through its face: ``from harness.<package> import name``
   with ``name`` in that package's ``__all__``, never one of its modules.

The test suite runs it on the real tree (expecting nothing) and on copies with a
forbidden import planted (expecting the violation), so the contract can fail.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: The layer of each top-level part of ``harness``: a module may import its own package
#: and anything in a lower layer. Foundation modules are plain modules, not packages.
LAYERS: dict[str, int] = {
    "__init__": 0,
    "errors": 0,
    "project": 0,
    "wit": 0,
    "wasm_binary": 0,
    "component_file": 0,
    "lazy": 0,
    "progress": 0,
    "runtime": 1,
    "seams": 1,
    "supply": 2,
    "build": 3,
    "drive": 4,
    "evidence": 5,
    "cli": 6,
}
#: The parts allowed to import wasmtime.
WASMTIME_PARTS = {"runtime"}
#: The parts allowed function-local imports (lazy imports for start-up time).
LAZY_IMPORT_PARTS = {"cli"}


@dataclass(frozen=True)
class ImportEdge:
    """One import statement of a module: what it names and where it stands."""

    source: str
    target: str
    names: tuple[str, ...]
    line: int
    local: bool
    """Inside a function (not at module level or under ``if TYPE_CHECKING``)."""


def module_name(root: Path, path: Path) -> str:
    """``harness.seams.clock`` for ``<root>/seams/clock.py`` (``root`` is ``harness/``)."""
    parts = (root.name, *path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def part_of(module: str) -> str:
    """The top-level part of ``harness`` a module belongs to (``seams`` for
    ``harness.seams.clock``, ``__init__`` for ``harness`` itself)."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def _imports(tree: ast.Module, source: str) -> Iterator[ImportEdge]:
    def visit(node: ast.AST, local: bool) -> Iterator[ImportEdge]:
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield ImportEdge(source, alias.name, (), child.lineno, local)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = tuple(alias.name for alias in child.names)
                yield ImportEdge(source, child.module, names, child.lineno, local)
            yield from visit(child, inner)

    yield from visit(tree, False)


def _exports(root: Path, package: str) -> set[str]:
    """The names in a package's ``__all__`` (read from its ``__init__``)."""
    init = root / package / "__init__.py"
    if not init.is_file():
        return set()
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            return {str(name) for name in value}
    return set()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def connect(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def _resolve(target: str, names: tuple[str, ...], modules: set[str]) -> set[str]:
    """The harness modules an import statement reaches (``from a import b`` may name a
    module ``a.b`` or a name in ``a``)."""
    reached = {target} if target in modules else set()
    reached |= {f"{target}.{name}" for name in names if f"{target}.{name}" in modules}
    return reached


def _layer_problem(edge: ImportEdge, target: str) -> str | None:
    source_part, target_part = part_of(edge.source), part_of(target)
    if source_part == target_part:
        return None
    source_layer, target_layer = LAYERS.get(source_part), LAYERS.get(target_part)
    if source_layer is None or target_layer is None:
        return f"{edge.source}:{edge.line}: unknown part {source_part!r} or {target_part!r}"
    if target_layer > source_layer or (target_layer == source_layer and source_layer > 0):
        return (
            f"{edge.source}:{edge.line}: {source_part} (layer {source_layer}) imports "
            f"{target} ({target_part}, layer {target_layer}): imports must flow downwards"
        )
    return None


def _face_problem(root: Path, edge: ImportEdge) -> str | None:
    target_part, source_part = part_of(edge.target), part_of(edge.source)
    if source_part == target_part or LAYERS.get(target_part, 0) == 0:
        return None
    if edge.target != f"harness.{target_part}":
        return (
            f"{edge.source}:{edge.line}: imports the module {edge.target}; import from "
            f"the package face harness.{target_part} instead"
        )
    missing = sorted(set(edge.names) - _exports(root, target_part))
    if missing:
        return (
            f"{edge.source}:{edge.line}: harness.{target_part} does not export "
            f"{', '.join(missing)} (not in its __all__)"
        )
    return None


def violations(root: Path) -> list[str]:
    """Every broken rule of the contract in the ``harness`` tree at ``root``."""
    edges: list[ImportEdge] = []
    for path in sorted(root.rglob("*.py")):
        source = module_name(root, path)
        edges.extend(_imports(ast.parse(path.read_text(), str(path)), source))
    modules = {module_name(root, p) for p in root.rglob("*.py")}
    problems: list[str] = []
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for edge in edges:
        part = part_of(edge.source)
        if edge.target.split(".")[0] == "wasmtime" and part not in WASMTIME_PARTS:
            problems.append(f"{edge.source}:{edge.line}: imports {edge.target} outside runtime/")
        if not edge.target.startswith(root.name):
            continue
        if edge.local and part not in LAZY_IMPORT_PARTS:
            problems.append(f"{edge.source}:{edge.line}: function-local import of {edge.target}")
        face = _face_problem(root, edge)
        if face is not None:
            problems.append(face)
        for target in _resolve(edge.target, edge.names, modules):
            if target != edge.source:
                graph[edge.source].add(target)
            layer = _layer_problem(edge, target)
            if layer is not None:
                problems.append(layer)
    problems.extend(f"import cycle: {' -> '.join(cycle)}" for cycle in _cycles(graph))
    return sorted(set(problems))
