"""Composed graphs on disk: composed on demand, cached by their inputs, signed, verified.

The graph is composed and cached by its input digests (the graph file and every
component it names). Every node's file is verified by the supply chain before it is
composed; the composed component is signed like a build output, and its composition
manifest and nested components must match the digests of the files that were verified.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness import progress as progress_lines
from harness.build.composer import ComposeResult, compose
from harness.build.graph import Graph, GraphRoles, load_graph
from harness.errors import ComponentFileError, ComposedRunError
from harness.project import atomic_write
from harness.runtime import Runtime
from harness.supply import SupplyChain, VerifiedComponent
from harness.wasm_binary import read_manifest

#: Part of every cache key; "2": compositions are signed and record their content digest;
#: "3": exported instances carry their own instance types (type ascriptions); "4": the
#: manifest records the graph's roles.
COMPOSER_FORMAT = "4"


@dataclass(frozen=True)
class ComposedArtifact:
    """A composed component on disk and where it came from."""

    path: Path
    key: str
    cached: bool
    seconds: float
    manifest: dict[str, object]
    verified: VerifiedComponent | None = None
    """The composed component as verified (signature, manifest and nested digests)."""


def graph_key(graph: Graph, graph_path: Path, node_digests: Mapping[str, str] | None = None) -> str:
    """SHA-256 over the graph file and every component file it names.

    ``node_digests`` (node name to the SHA-256 of its verified file) saves reading the
    files again.
    """
    digest = hashlib.sha256(f"composer-format:{COMPOSER_FORMAT}\n".encode())
    digest.update(hashlib.sha256(graph_path.read_bytes()).digest())
    for node in graph.nodes:
        digest.update(node.name.encode() + b"\0" + node.path_text.encode() + b"\0")
        if node_digests is not None:
            digest.update(bytes.fromhex(node_digests[node.name]))
            continue
        try:
            digest.update(hashlib.sha256(node.path.read_bytes()).digest())
        except OSError as exc:
            raise ComposedRunError(
                f"node '{node.name}': cannot read {node.path}: {exc.strerror}",
                hint="run `matter-harness build` first",
            ) from exc
    return digest.hexdigest()


def verify_nodes(graph: Graph, supply_chain: SupplyChain) -> dict[str, VerifiedComponent]:
    """Read and verify every node's component file (each read once)."""
    verified = {}
    for node in graph.nodes:
        try:
            data = node.path.read_bytes()
        except OSError as exc:
            raise ComposedRunError(
                f"node '{node.name}': cannot read {node.path}: {exc.strerror}",
                hint="run `matter-harness build` first",
            ) from exc
        verified[node.name] = supply_chain.verify_data(
            data,
            name=node.path,
            detached=supply_chain.detached_signature(node.path),
            record=True,
        )
    return verified


def composed_roles(data: bytes) -> GraphRoles:
    """The roles recorded in a composed component's manifest (the defaults when it records
    none: a composition made before roles were recorded, or by another tool)."""
    manifest = read_manifest(data)
    return GraphRoles.from_json(None if manifest is None else manifest.get("roles"))


def compose_cached(
    graph_path: Path,
    runtime: Runtime,
    build_dir: Path,
    *,
    supply_chain: SupplyChain | None = None,
    progress: Callable[[str], None] | None = None,
    node_paths: Mapping[str, Path] | None = None,
) -> ComposedArtifact:
    """Compose ``graph_path`` unless a composition of the same inputs is already built.

    ``node_paths`` replaces the files of the nodes it names (``gate --component``). The
    node files are verified first and the composition is keyed by their digests; the
    result (new or cached) is signed with the build signer, verified, and checked to nest
    exactly the verified files.
    """
    chain = supply_chain or SupplyChain.local(None, build_dir)
    graph = load_graph(graph_path)
    if node_paths:
        graph = graph.with_paths(node_paths)
    nodes = verify_nodes(graph, chain)
    key = graph_key(graph, graph_path, {name: v.sha256 for name, v in nodes.items()})
    out_dir = build_dir / "composed"
    output = out_dir / f"{graph_path.stem}-{key[:16]}.wasm"
    manifest_file = output.with_suffix(".manifest.json")
    record_file = output.with_name(output.name + ".inputs.json")
    cached = output.is_file() and manifest_file.is_file() and record_file.is_file()
    # A cached composition nothing we trust signs is composed again, never signed on the
    # word of the record beside it; one changed after it was made is refused.
    if cached and chain.seal(output, _recorded_digest(record_file), progress) != "rebuild":
        verified = chain.load_verified(output)
        chain.check_composition(verified.content, nodes, name=output)
        manifest = json.loads(manifest_file.read_text())
        return ComposedArtifact(output, key, True, 0.0, manifest, verified)
    started = time.perf_counter()
    with progress_lines.step(f"compose {graph_path}"):
        result: ComposeResult = compose(
            graph, engine=runtime.engine, cache_dir=build_dir / "cache" / "types", validate=False
        )
    seconds = time.perf_counter() - started
    # The composer read the node files again: the check below proves it read the
    # verified bytes, before anything is signed.
    chain.check_composition(result.component, nodes, name=output)
    signed = chain.seal_new(output, result.component)
    record_file.write_text(
        json.dumps({"key": key, "content_sha256": hashlib.sha256(result.component).hexdigest()})
        + "\n"
    )
    manifest_file.write_text(json.dumps(result.manifest, indent=2, sort_keys=True) + "\n")
    verified = chain.verify_data(
        signed, name=output, detached=chain.detached_signature(output), record=True
    )
    return ComposedArtifact(output, key, False, seconds, dict(result.manifest), verified)


def compose_to_file(
    graph_path: Path,
    output: Path,
    *,
    runtime: Runtime,
    build_dir: Path,
    supply_chain: SupplyChain,
    validate: bool = True,
    progress: Callable[[str], None] | None = None,
    timings: dict[str, float] | None = None,
) -> tuple[ComposeResult, bytes, float]:
    """``matter-harness compose``: verify the nodes, compose, sign, validate, write.

    Returns the composition, the signed bytes written to ``output`` and the seconds
    composing took (validation not included: ``timings``, if given, receives the seconds
    of ``compose`` and of ``validate``). Nothing is written when a check or the
    validation fails.
    """
    graph = load_graph(graph_path)
    for node in graph.nodes:
        if not node.path.is_file():
            raise ComponentFileError(
                f"component file of node {node.name!r} not found: {node.path}",
                hint="build the components first, or fix the path in the graph "
                f"(relative to {graph_path.parent})",
            )
    nodes = verify_nodes(graph, supply_chain)
    started = time.perf_counter()
    with progress_lines.step(f"compose {graph_path}"):
        result = compose(
            graph, engine=runtime.engine, cache_dir=build_dir / "cache" / "types", validate=False
        )
    seconds = time.perf_counter() - started
    if timings is not None:
        timings["compose"] = seconds
    supply_chain.check_composition(result.component, nodes, name=output)
    signed = supply_chain.sign_product(result.component)
    if validate:
        # Validation is a full wasmtime compile of the result: timed on its own, so the
        # composition's time is never reported for it.
        with progress_lines.step(f"validate {output} (wasmtime compile)"):
            started = time.perf_counter()
            runtime.load_bytes(signed, name=str(output))
            if timings is not None:
                timings["validate"] = time.perf_counter() - started
    atomic_write(output, signed, mode=0o644)
    return result, signed, seconds


def _recorded_digest(record_file: Path) -> str | None:
    try:
        recorded = json.loads(record_file.read_text())
    except (OSError, ValueError):
        return None
    digest = recorded.get("content_sha256") if isinstance(recorded, dict) else None
    return digest if isinstance(digest, str) else None
