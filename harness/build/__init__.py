"""Making components: componentize-py builds and component-text compiles behind a
content-hash cache, graph files, the pure-Python composer and its component-text
generator, cached compositions, heterogeneous PASE graphs (a different core per role).

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
    "MJS_CORE_NAME": "specs",
    "MjsBuildError": "mjs",
    "build_mjs_core": "mjs",
    "BuildError": "componentize",
    "BuildResult": "componentize",
    "COMPONENTS": "specs",
    "ComponentSpec": "specs",
    "TextComponentSpec": "specs",
    "TextComponentError": "wat_component",
    "ComposeResult": "composer",
    "ComposedArtifact": "compositions",
    "ON_REQUEST": "specs",
    "SPIKE": "specs",
    "Graph": "graph",
    "GraphRoles": "graph",
    "ROLE_DEFAULTS": "graph",
    "build_all": "componentize",
    "build_component": "componentize",
    "componentize_py_version": "componentize",
    "compose": "composer",
    "compose_cached": "compositions",
    "compose_to_file": "compositions",
    "composed_roles": "compositions",
    "load_graph": "graph",
    "pase_graph_text": "hetero",
    "write_pase_graph": "hetero",
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
    from harness.build.compositions import (
        ComposedArtifact,
        compose_cached,
        compose_to_file,
        composed_roles,
    )
    from harness.build.graph import ROLE_DEFAULTS, Graph, GraphRoles, load_graph
    from harness.build.hetero import pase_graph_text, write_pase_graph
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
    from harness.build.mjs import MjsBuildError, build_mjs_core
    from harness.build.specs import (
        COMPONENTS,
        MJS_CORE_NAME,
        ON_REQUEST,
        SPIKE,
        ComponentSpec,
        TextComponentSpec,
    )
    from harness.build.wat_component import TextComponentError

__all__ = [
    "COMPONENTS",
    "JSHOST_DIR",
    "MJS_CORE_NAME",
    "ON_REQUEST",
    "ROLE_DEFAULTS",
    "SPIKE",
    "BuildError",
    "BuildResult",
    "ComponentSpec",
    "ComposeResult",
    "ComposedArtifact",
    "Graph",
    "GraphRoles",
    "JsRuntimeError",
    "MjsBuildError",
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
    "build_mjs_core",
    "componentize_py_version",
    "compose",
    "compose_cached",
    "compose_to_file",
    "composed_roles",
    "ensure_npm_deps",
    "find_node",
    "load_graph",
    "pase_graph_text",
    "transpile_cached",
    "write_pase_graph",
]
