"""What a gate run checks: a graph, the component file of each of its nodes, their roles.

``matter-harness gate`` checks the project's own graph (``components/graphs/
pase-loopback.toml``) with the components it builds, or any graph given with ``--graph``,
with node files replaced by ``--component NODE=PATH``. :func:`resolve_subject` reads the
graph and decides, per node, where its file comes from:

* a node whose file is one of the project's build outputs (``<build>/core.wasm``,
  ``<build>/loopback.wasm``, in the gate's build directory or the default one) is
  *built*: the gate builds it through the cache when it is missing or stale, into its
  own build directory, as it always has;
* any other file is *foreign*: it is never built, must exist before anything is
  compiled, and is admitted by :func:`harness.supply.admit_foreign` (its signature
  status is recorded for the evidence).

The roles come from the graph's ``[roles]`` table (:class:`~harness.build.GraphRoles`):
the *core* nodes are those whose instances play commissioner or commissionee; every other
node is part of the transport. A graph whose two roles run different core files is
*heterogeneous*; the gate checks the claims about one core file (imports, vectors,
policy, limits, the V8 run) once per distinct core file, and the claims about a PASE
pair (handshakes, determinism, negative paths, strays) with each file in the role the
graph gives it (see :mod:`harness.evidence.gate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.build import COMPONENTS, Graph, GraphRoles, load_graph
from harness.errors import ComponentFileError, GraphError
from harness.project import DEFAULT_BUILD_DIR
from harness.supply import Admission
from harness.wit import COMMISSIONEE, COMMISSIONER

#: Origins of a component file.
BUILT = "project build"
FOREIGN = "foreign"


@dataclass(frozen=True)
class SubjectComponent:
    """One node of the gated graph: its file, where it comes from, the roles it plays.

    ``built`` names the project component it is built as (``core``, ``loopback``), or is
    None for a foreign file.
    """

    node: str
    path: Path
    built: str | None
    roles: tuple[str, ...]

    @property
    def origin(self) -> str:
        """``project build`` or ``foreign``."""
        return BUILT if self.built is not None else FOREIGN

    @property
    def is_core(self) -> bool:
        """Whether an instance of this node plays commissioner or commissionee."""
        return COMMISSIONER in self.roles or COMMISSIONEE in self.roles


@dataclass
class GateSubject:
    """The gated graph and its components (see the module docstring)."""

    graph_path: Path
    graph: Graph
    components: tuple[SubjectComponent, ...]
    node_paths: dict[str, Path]
    """Files that differ from what the graph file names (for the composer)."""
    admissions: dict[str, Admission] = field(default_factory=dict)
    """Signature status of each foreign node, once admitted."""

    @property
    def roles(self) -> GraphRoles:
        """Which surfaced export plays which part."""
        return self.graph.roles

    def node(self, name: str) -> SubjectComponent:
        """The component of node ``name``."""
        for component in self.components:
            if component.node == name:
                return component
        raise GraphError(f"{self.graph_path}: unknown node {name!r}")

    def core(self, role: str) -> SubjectComponent:
        """The core component playing ``role`` (commissioner or commissionee)."""
        for component in self.components:
            if role in component.roles:
                return component
        raise GraphError(f"{self.graph_path}: no node plays the {role} role")

    @property
    def cores(self) -> tuple[SubjectComponent, ...]:
        """The distinct core components, the commissioner's first."""
        first, second = self.core(COMMISSIONER), self.core(COMMISSIONEE)
        return (first,) if first.path == second.path else (first, second)

    @property
    def heterogeneous(self) -> bool:
        """Whether the two PASE roles run different core files."""
        return len(self.cores) > 1

    @property
    def transport(self) -> tuple[SubjectComponent, ...]:
        """The nodes that are not cores (the transport between them)."""
        return tuple(c for c in self.components if not c.is_core)

    @property
    def foreign(self) -> tuple[SubjectComponent, ...]:
        """The components from outside the project."""
        return tuple(c for c in self.components if c.built is None)

    def project_cores_only(self) -> str | None:
        """None when every core is the project's own build; else why not (for claims
        about the project's build)."""
        foreign = [c for c in self.cores if c.built != "core"]
        if not foreign:
            return None
        names = ", ".join(f"'{c.node}' ({c.path})" for c in foreign)
        return f"the graph's core {names} is not built from this project's sources"

    def unsigned_foreign(self) -> str | None:
        """None when every foreign component is signed by a trusted key; else which not."""
        loose = [
            f"'{c.node}' ({self.admissions[c.node].status})"
            for c in self.foreign
            if c.node in self.admissions and self.admissions[c.node].status != "trusted"
        ]
        if not loose:
            return None
        return "components from outside the project are not signed by a trusted key: " + (
            ", ".join(loose)
        )

    def describe(self, digests: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The graph and each component's origin, roles, signature status and digest."""
        components: dict[str, Any] = {}
        for c in self.components:
            entry: dict[str, Any] = {
                "file": str(c.path),
                "origin": c.origin,
                "roles": list(c.roles),
            }
            admission = self.admissions.get(c.node)
            if admission is not None:
                entry["sha256"] = admission.sha256
                entry["signature"] = admission.status
                if admission.signer:
                    entry["signer"] = admission.signer
            elif digests is not None and c.node in digests:
                entry["sha256"] = digests[c.node]
            if c.built is not None:
                entry.setdefault("signature", "signed by this build (endorsed by the gate)")
            components[c.node] = entry
        return {
            "file": str(self.graph_path),
            "heterogeneous": self.heterogeneous,
            "roles": {k: v for k, v in self.roles.to_json().items() if v is not None},
            "components": components,
        }


def resolve_subject(
    graph_path: Path, components: Mapping[str, Path], build_dir: Path
) -> GateSubject:
    """Read ``graph_path``, replace the files ``components`` names, classify each node.

    Raises :class:`GraphError` for a bad graph, an unknown node or a graph without the
    commissioner and commissionee roles.
    """
    graph = load_graph(graph_path)
    if components:
        graph = graph.with_paths(components)
    where = str(graph_path)
    graph.roles.require(COMMISSIONER, where)
    graph.roles.require(COMMISSIONEE, where)
    outputs: dict[Path, str] = {}
    for directory in (DEFAULT_BUILD_DIR, build_dir):
        for name in COMPONENTS:
            outputs[(directory / f"{name}.wasm").resolve()] = name
    played: dict[str, list[str]] = {node.name: [] for node in graph.nodes}
    for role in (COMMISSIONER, COMMISSIONEE, "transport-stats", "transport-faults"):
        node = graph.role_node(role)
        if node is not None:
            played[node.name].append(role)
    subject_components: list[SubjectComponent] = []
    node_paths: dict[str, Path] = {}
    for node in graph.nodes:
        built = outputs.get(node.path)
        path = node.path
        if built is not None:
            # A project build output is taken from the gate's own build directory.
            path = (build_dir / f"{built}.wasm").resolve()
        if node.name in components or path != node.path:
            node_paths[node.name] = path
        subject_components.append(
            SubjectComponent(node.name, path, built, tuple(played[node.name]))
        )
    return GateSubject(graph_path, graph, tuple(subject_components), node_paths)


def check_foreign_files(subject: GateSubject) -> None:
    """Every foreign file exists (before anything is built or compiled)."""
    for component in subject.foreign:
        if not component.path.is_file():
            raise ComponentFileError(
                f"component file of node {component.node!r} not found: {component.path}",
                hint="a component from outside the project is never built by the gate: "
                "build it first, or give its file with --component "
                f"{component.node}=PATH",
            )
