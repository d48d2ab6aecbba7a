"""PASE across the composed graph: both cores and the loopback in one component.

The graph is composed on the fly and cached by its input digests (the graph file and
every component it names). The composed component imports only the host's clock and
entropy; every Matter datagram crosses the component-to-component seam between a core
and the loopback transport, and the counters are read from the transport component.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import wasmtime.component as wc

from harness.composer import ComposeResult, compose
from harness.errors import HarnessError
from harness.graph import Graph, load_graph
from harness.placements import RunConfig, RunReport, Seams, _finish, handshake_params
from harness.roles import ComponentRole
from harness.runtime import GuestCall, Runtime, field, link_seams

COMMISSIONER_EXPORT = "commissioner-control"
COMMISSIONEE_EXPORT = "commissionee-control"
STATS_EXPORT = "transport-stats"
COMPOSER_FORMAT = "1"


class ComposedRunError(HarnessError):
    """The composed graph does not have the exports a PASE run needs."""


@dataclass(frozen=True)
class ComposedArtifact:
    """A composed component on disk and where it came from."""

    path: Path
    key: str
    cached: bool
    seconds: float
    manifest: dict[str, object]


def graph_key(graph: Graph, graph_path: Path) -> str:
    """SHA-256 over the graph file and every component file it names."""
    digest = hashlib.sha256(f"composer-format:{COMPOSER_FORMAT}\n".encode())
    digest.update(hashlib.sha256(graph_path.read_bytes()).digest())
    for node in graph.nodes:
        try:
            digest.update(node.name.encode() + b"\0")
            digest.update(hashlib.sha256(node.path.read_bytes()).digest())
        except OSError as exc:
            raise ComposedRunError(
                f"node '{node.name}': cannot read {node.path}: {exc.strerror}",
                hint="run `matter-harness build` first",
            ) from exc
    return digest.hexdigest()


def compose_cached(graph_path: Path, runtime: Runtime, build_dir: Path) -> ComposedArtifact:
    """Compose ``graph_path`` unless a composition of the same inputs is already built."""
    graph = load_graph(graph_path)
    key = graph_key(graph, graph_path)
    out_dir = build_dir / "composed"
    output = out_dir / f"{graph_path.stem}-{key[:16]}.wasm"
    manifest_file = output.with_suffix(".manifest.json")
    if output.is_file() and manifest_file.is_file():
        manifest = json.loads(manifest_file.read_text())
        return ComposedArtifact(output, key, True, 0.0, manifest)
    started = time.perf_counter()
    result: ComposeResult = compose(
        graph, engine=runtime.engine, cache_dir=build_dir / "cache" / "types", validate=False
    )
    seconds = time.perf_counter() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".tmp")
    tmp.write_bytes(result.component)
    tmp.replace(output)
    manifest_file.write_text(json.dumps(result.manifest, indent=2, sort_keys=True) + "\n")
    return ComposedArtifact(output, key, False, seconds, dict(result.manifest))


def run_composed(config: RunConfig, runtime: Runtime, composed: Path) -> RunReport:
    """One instance of the composed graph; the driver talks to both roles' exports."""
    params = handshake_params(config)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    component = runtime.load(composed)
    timings["compile"] = time.perf_counter() - started
    seams = Seams(config)
    graph_counters = seams.counters["commissioner"]  # one set of host seams for the graph
    linker = wc.Linker(runtime.engine)
    link_seams(linker, clock=seams.clocks["commissioner"], entropy=seams.entropy["commissioner"])
    started = time.perf_counter()
    store = runtime.new_store(config.limits)
    try:
        instance = linker.instantiate(store, component)
    except Exception as exc:  # wasmtime raises WasmtimeError for a missing import
        raise ComposedRunError(f"cannot instantiate {composed}: {exc}") from exc
    timings["instantiate"] = time.perf_counter() - started
    guest = GuestCall(store, instance, f"composed graph {composed.name}")
    for name in (COMMISSIONER_EXPORT, COMMISSIONEE_EXPORT, STATS_EXPORT):
        if instance.get_export_index(store, name) is None:
            raise ComposedRunError(f"{composed} does not export '{name}'")
    fuel_before = store.get_fuel()
    roles = (
        ComponentRole("commissioner", guest, COMMISSIONER_EXPORT),
        ComponentRole("commissionee", guest, COMMISSIONEE_EXPORT),
    )
    report = _finish("composed", config, seams, roles, params, timings)
    report.mode = "composed"
    report.seams = {"graph": graph_counters}
    report.fuel = {"graph": guest.fuel_consumed(fuel_before)}
    if guest.dead is None:
        stats = guest.call(STATS_EXPORT, "stats")
        a_to_b, b_to_a = field(stats, "a_to_b"), field(stats, "b_to_a")
        report.transport_stats = {
            "commissioner->commissionee packets": int(a_to_b.packets),
            "commissioner->commissionee bytes": int(a_to_b.bytes),
            "commissionee->commissioner packets": int(b_to_a.packets),
            "commissionee->commissioner bytes": int(b_to_a.bytes),
            "dropped": int(stats.dropped),
        }
        report.traffic_digest = bytes(field(stats, "traffic_digest"))
    return report
