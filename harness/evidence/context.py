"""What one gate run shares between claims: the subject, builds, compositions, seeded runs.

Work shared between claims (building, composing, the seeded runs) is done once per gate
run and reused through :class:`GateContext`, lazily: a claim that needs nothing built
builds nothing. What is checked is the context's :class:`~harness.evidence.subject.
GateSubject`: the project's graph and its built components by default, or any graph with
any component files (``gate --graph``, ``--component``).

Verifiers name components by their part: ``"core"`` is the core under check (the one in
:attr:`GateContext.focus` while a per-core claim runs, else the commissioner's core),
``"loopback"`` the transport nodes, ``"composed"`` the composed graph. The ``component``
placement runs each PASE role from the core file the graph gives that role.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

from harness.build import GraphRoles, build_all, compose_cached
from harness.drive import RunConfig, RunReport, run_component, run_composed, run_native
from harness.evidence.subject import (
    GateSubject,
    SubjectComponent,
    check_foreign_files,
    resolve_subject,
)
from harness.project import DEFAULT_GRAPH, WIT_DIR, file_sha256
from harness.runtime import Component, Limits, Runtime
from harness.supply import SupplyChain, admit_foreign
from harness.wit import COMMISSIONEE, COMMISSIONER

T = TypeVar("T")


class GateContext:
    """Shared, lazily computed artefacts of one gate run.

    ``supply_chain`` verifies every component before it is compiled and signs what the
    gate builds (default: a key generated for this gate run, see
    :mod:`harness.supply.chain`). ``components`` replaces node files of ``graph``;
    ``require_signed`` refuses foreign components no trusted key signs.
    """

    def __init__(
        self,
        build_dir: Path,
        seed: int,
        graph: Path = DEFAULT_GRAPH,
        supply_chain: SupplyChain | None = None,
        limits: Limits | None = None,
        components: Mapping[str, Path] | None = None,
        require_signed: bool = False,
    ) -> None:
        self.build_dir = build_dir
        self.seed = seed
        self.limits = limits if limits is not None else Limits()
        self.graph = graph
        self.supply_chain = supply_chain or SupplyChain.for_gate(None, build_dir)
        self.require_signed = require_signed
        self.subject: GateSubject = resolve_subject(graph, components or {}, build_dir)
        self.focus: SubjectComponent | None = None
        """The core a per-core claim is checking (None: the graph's pairing)."""
        self._prepared = False
        self._runtime: Runtime | None = None
        self._paths: dict[str, Path] = {}
        self._reports: dict[tuple[str, Path, Path], RunReport] = {}
        self.build_figures: dict[str, Any] = {}
        self.coverage: Any = None
        self._digests: dict[Path, str] = {}
        self._early: dict[str, Future[Any]] = {}
        self._pool: ThreadPoolExecutor | None = None

    @property
    def runtime(self) -> Runtime:
        """The run's wasmtime runtime (compiled-artifact cache under the build dir)."""
        if self._runtime is None:
            self._runtime = Runtime(self.build_dir / "cache")
        return self._runtime

    @property
    def roles(self) -> GraphRoles:
        """Which export of the composed graph plays which part."""
        return self.subject.roles

    def prepare(self) -> None:
        """Check that every foreign file exists, then admit each (signature status).

        Done once, before any component is built or compiled; raises
        :class:`~harness.errors.ComponentFileError` or
        :class:`~harness.supply.ComponentRejected`.
        """
        if self._prepared:
            return
        check_foreign_files(self.subject)
        for component in self.subject.foreign:
            self.subject.admissions[component.node] = admit_foreign(
                self.supply_chain, component.path, require_signed=self.require_signed
            )
        self._prepared = True

    @contextlib.contextmanager
    def focused(self, core: SubjectComponent | None) -> Iterator[None]:
        """Within the block, ``"core"`` is ``core`` and plays both roles."""
        previous, self.focus = self.focus, core
        try:
            yield
        finally:
            self.focus = previous

    def _file(self, component: SubjectComponent) -> Path:
        """The file of ``component``: built through the cache if it is the project's."""
        self.prepare()
        if component.built is None:
            return component.path
        name = component.built
        if name not in self._paths:
            results = build_all(self.build_dir, names=[name], supply_chain=self.supply_chain)
            result = results[name]
            self._paths[name] = result.path
            self.build_figures[name] = {"cached": result.cached, "seconds": result.seconds}
        return self._paths[name]

    def core_pair(self) -> tuple[Path, Path]:
        """The core files of the commissioner and the commissionee (the focused core twice
        while a per-core claim runs)."""
        if self.focus is not None:
            path = self._file(self.focus)
            return path, path
        return (
            self._file(self.subject.core(COMMISSIONER)),
            self._file(self.subject.core(COMMISSIONEE)),
        )

    def component(self, name: str) -> Path:
        """The file of ``name``: ``"core"`` (the core under check), a project component
        name (``"loopback"``: the first transport node), or a node of the graph."""
        if name == "core":
            return self.core_pair()[0]
        for component in self.subject.components:
            if component.built == name and not component.is_core:
                return self._file(component)
        return self._file(self.subject.node(name))

    def composed(self) -> Path:
        """The composed graph (composed once, cached by input digests)."""
        if "composed" not in self._paths:
            for component in self.subject.components:
                self._file(component)
            artifact = compose_cached(
                self.graph,
                self.runtime,
                self.build_dir,
                supply_chain=self.supply_chain,
                node_paths=self.subject.node_paths,
            )
            self._paths["composed"] = artifact.path
            self.build_figures["composed"] = {
                "cached": artifact.cached,
                "seconds": artifact.seconds,
            }
        return self._paths["composed"]

    def run_component(self, config: RunConfig, **options: Any) -> RunReport:
        """PASE between core components, each role from the core the graph gives it (the
        focused core in both while a per-core claim runs)."""
        commissioner, commissionee = self.core_pair()
        return run_component(
            config,
            self.runtime,
            commissioner,
            supply_chain=self.supply_chain,
            role_cores={COMMISSIONEE: commissionee},
            **options,
        )

    def run_composed(self, config: RunConfig, **options: Any) -> RunReport:
        """PASE across the composed graph, with the graph's roles."""
        return run_composed(
            config,
            self.runtime,
            self.composed(),
            supply_chain=self.supply_chain,
            roles=self.roles,
            **options,
        )

    def report(self, mode: str) -> RunReport:
        """The seeded run in ``mode`` (native, component, composed), computed once."""
        pair = self.core_pair() if mode == "component" else (Path(), Path())
        key = (mode, *pair)
        if key not in self._reports:
            config = self.run_config()
            if mode == "native":
                self._reports[key] = run_native(config)
            elif mode == "component":
                self._reports[key] = self.run_component(config)
            elif mode == "composed":
                self._reports[key] = self.run_composed(config)
            else:
                raise ValueError(f"unknown mode {mode}")
        return self._reports[key]

    def run_config(self, **changes: Any) -> RunConfig:
        """The gate's run parameters (its seed and limits), with ``changes``."""
        return RunConfig(seed=self.seed, limits=self.limits, **changes)

    def load(self, name: str) -> Component:
        """The component ``name`` (or ``composed``), verified by the supply chain, compiled."""
        path = self.composed() if name == "composed" else self.component(name)
        role = "composed" if name == "composed" else "core" if name == "core" else name
        return self.supply_chain.load_component(self.runtime, path, role=role)

    def inputs(self, *names: str) -> dict[str, str]:
        """SHA-256 of the named artefacts and the WIT files: ``core`` (the core(s) under
        check), ``loopback`` (the transport nodes), ``composed``, keyed ``node:file``."""
        digests = {f"wit/{p.name}": self._digest(p) for p in sorted(WIT_DIR.glob("*.wit"))}
        for name in names:
            if name == "composed":
                path = self.composed()
                digests[f"composed:{path.name}"] = self._digest(path)
                continue
            if name == "core":
                chosen = [self.focus] if self.focus is not None else list(self.subject.cores)
            elif name == "loopback":
                chosen = list(self.subject.transport)
            else:
                chosen = [self.subject.node(name)]
            for component in chosen:
                path = self._file(component)
                digests[f"{component.node}:{path.name}"] = self._digest(path)
        return digests

    def node_identities(self) -> dict[str, str]:
        """What each node's file is, without building anything: a foreign file's SHA-256
        (admitted by :meth:`prepare`), or the name of the project build that makes it
        (its bytes follow from the project's sources and toolchain)."""
        self.prepare()
        found: dict[str, str] = {}
        for component in self.subject.components:
            admission = self.subject.admissions.get(component.node)
            if admission is not None:
                found[component.node] = f"sha256 {admission.sha256}"
            elif component.built is not None:
                found[component.node] = f"the project's build of {component.built}"
            else:
                found[component.node] = f"sha256 {self._digest(component.path)}"
        return found

    def component_digests(self) -> dict[str, str]:
        """SHA-256 of each node's file that this run has built or admitted so far."""
        found: dict[str, str] = {}
        for component in self.subject.components:
            admission = self.subject.admissions.get(component.node)
            if admission is not None:
                found[component.node] = admission.sha256
            elif component.built in self._paths:
                found[component.node] = self._digest(self._paths[component.built])
        return found

    def describe_subject(self) -> dict[str, Any]:
        """The gated graph and its components (for every record's figures)."""
        return self.subject.describe(self.component_digests())

    def _digest(self, path: Path) -> str:
        # Inputs do not change during a gate run; most claims name the same 18-37 MB files.
        if path not in self._digests:
            self._digests[path] = file_sha256(path)
        return self._digests[path]

    def start_early(self, name: str, work: Callable[[], Any]) -> None:
        """Start ``work`` (a claim's self-contained campaign) in a background thread; the
        claim collects it with :meth:`early_result`."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="head-start")
        self._early[name] = self._pool.submit(work)

    def started_early(self, name: str) -> bool:
        """Whether :meth:`start_early` started ``name``'s work (not yet collected)."""
        return name in self._early

    def early_result(self, name: str, otherwise: Callable[[], T]) -> T:
        """What ``name``'s background work returned (waiting for it; its exception is
        raised here), or ``otherwise()`` when none was started."""
        future = self._early.pop(name, None)
        return otherwise() if future is None else cast(T, future.result())

    def close(self) -> None:
        """Release the runtime; wait for (or cancel) background work not collected."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._runtime is not None:
            self._runtime.close()
