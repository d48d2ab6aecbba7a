"""Making components: componentize-py builds and component-text compiles behind a
content-hash cache, graph files, the pure-Python composer and its component-text
generator, cached compositions.

Layer: above ``supply`` (outputs are signed) and ``runtime`` (types, validation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.lazy import lazy_exports

#: Each public name and the module (in this package) that defines it.
EXPORTS = {
    "JSHOST_DIR": "jco",
    "JsRuntimeError": "jco",
    "NodeInfo": "jco",
    "NodeNotFoundError": "jco",
    "NodeTooOldError": "jco",
    "NpmInstallError": "jco",
    "TranspileError": "jco",
    "Transpiled": "jco",
    "ensure_npm_deps": "jco",
    "find_node": "jco",
    "transpile_cached": "jco",
    "BuildError": "componentize",
    "BuildResult": "componentize",
    "COMPONENTS": "specs",
    "ComponentSpec": "specs",
    "TextComponentSpec": "specs",
    "TextComponentError": "wat_component",
    "ComposeResult": "composer",
    "ComposedArtifact": "compositions",
    "Graph": "graph",
    "build_all": "componentize",
    "build_component": "componentize",
    "componentize_py_version": "componentize",
    "compose": "composer",
    "compose_cached": "compositions",
    "compose_to_file": "compositions",
    "load_graph": "graph",
}

__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)

if TYPE_CHECKING:
    from harness.build.componentize import (
        BuildError,
        BuildResult,
        build_all,
        build_component,
        componentize_py_version,
    )
    from harness.build.composer import ComposeResult, compose
    from harness.build.compositions import ComposedArtifact, compose_cached, compose_to_file
    from harness.build.graph import Graph, load_graph
    from harness.build.jco import (
        JSHOST_DIR,
        JsRuntimeError,
        NodeInfo,
        NodeNotFoundError,
        NodeTooOldError,
        NpmInstallError,
        Transpiled,
        TranspileError,
        ensure_npm_deps,
        find_node,
        transpile_cached,
    )
    from harness.build.specs import COMPONENTS, ComponentSpec, TextComponentSpec
    from harness.build.wat_component import TextComponentError

__all__ = [
    "COMPONENTS",
    "JSHOST_DIR",
    "BuildError",
    "BuildResult",
    "ComponentSpec",
    "ComposeResult",
    "ComposedArtifact",
    "Graph",
    "JsRuntimeError",
    "NodeInfo",
    "NodeNotFoundError",
    "NodeTooOldError",
    "NpmInstallError",
    "TextComponentError",
    "TextComponentSpec",
    "TranspileError",
    "Transpiled",
    "build_all",
    "build_component",
    "componentize_py_version",
    "compose",
    "compose_cached",
    "compose_to_file",
    "ensure_npm_deps",
    "find_node",
    "load_graph",
    "transpile_cached",
]
