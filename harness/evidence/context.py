"""What one gate run shares between claims: builds, compositions, seeded runs, digests.

Work shared between claims (building, composing, the seeded runs) is done once per gate
run and reused through :class:`GateContext`, lazily: a claim that needs nothing built
builds nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.build import build_all, compose_cached
from harness.drive import RunConfig, RunReport, run_component, run_composed, run_native
from harness.project import DEFAULT_GRAPH, WIT_DIR, file_sha256
from harness.runtime import Component, Limits, Runtime
from harness.supply import SupplyChain


class GateContext:
    """Shared, lazily computed artefacts of one gate run.

    ``supply_chain`` verifies every component before it is compiled and signs what the
    gate builds (default: a key generated for this gate run, see
    :mod:`harness.supply.chain`).
    """

    def __init__(
        self,
        build_dir: Path,
        seed: int,
        graph: Path = DEFAULT_GRAPH,
        supply_chain: SupplyChain | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.build_dir = build_dir
        self.seed = seed
        self.limits = limits if limits is not None else Limits()
        self.graph = graph
        self.supply_chain = supply_chain or SupplyChain.for_gate(None, build_dir)
        self._runtime: Runtime | None = None
        self._paths: dict[str, Path] = {}
        self._reports: dict[str, RunReport] = {}
        self.build_figures: dict[str, Any] = {}
        self.coverage: Any = None
        self._digests: dict[Path, str] = {}

    @property
    def runtime(self) -> Runtime:
        """The run's wasmtime runtime (compiled-artifact cache under the build dir)."""
        if self._runtime is None:
            self._runtime = Runtime(self.build_dir / "cache")
        return self._runtime

    def component(self, name: str) -> Path:
        """The built component ``name`` (built once, through the cache)."""
        if name not in self._paths:
            results = build_all(self.build_dir, names=[name], supply_chain=self.supply_chain)
            result = results[name]
            self._paths[name] = result.path
            self.build_figures[name] = {"cached": result.cached, "seconds": result.seconds}
        return self._paths[name]

    def composed(self) -> Path:
        """The composed PASE graph (composed once, cached by input digests)."""
        if "composed" not in self._paths:
            self.component("core")
            self.component("loopback")
            artifact = compose_cached(
                self.graph, self.runtime, self.build_dir, supply_chain=self.supply_chain
            )
            self._paths["composed"] = artifact.path
            self.build_figures["composed"] = {
                "cached": artifact.cached,
                "seconds": artifact.seconds,
            }
        return self._paths["composed"]

    def report(self, mode: str) -> RunReport:
        """The seeded run in ``mode`` (native, component, composed), computed once."""
        if mode not in self._reports:
            config = self.run_config()
            if mode == "native":
                self._reports[mode] = run_native(config)
            elif mode == "component":
                self._reports[mode] = run_component(
                    config, self.runtime, self.component("core"), supply_chain=self.supply_chain
                )
            elif mode == "composed":
                self._reports[mode] = run_composed(
                    config, self.runtime, self.composed(), supply_chain=self.supply_chain
                )
            else:
                raise ValueError(f"unknown mode {mode}")
        return self._reports[mode]

    def run_config(self, **changes: Any) -> RunConfig:
        """The gate's run parameters (its seed and limits), with ``changes``."""
        return RunConfig(seed=self.seed, limits=self.limits, **changes)

    def load(self, name: str) -> Component:
        """The component ``name`` (or ``composed``), verified by the supply chain, compiled."""
        path = self.composed() if name == "composed" else self.component(name)
        role = "composed" if name == "composed" else name
        return self.supply_chain.load_component(self.runtime, path, role=role)

    def inputs(self, *names: str) -> dict[str, str]:
        """SHA-256 of the named artefacts (components, composed graph) and the WIT files."""
        digests = {f"wit/{p.name}": self._digest(p) for p in sorted(WIT_DIR.glob("*.wit"))}
        for name in names:
            path = self.composed() if name == "composed" else self.component(name)
            digests[f"{name}:{path.name}"] = self._digest(path)
        return digests

    def _digest(self, path: Path) -> str:
        # Inputs do not change during a gate run; most claims name the same 18-37 MB files.
        if path not in self._digests:
            self._digests[path] = file_sha256(path)
        return self._digests[path]

    def close(self) -> None:
        """Release the runtime."""
        if self._runtime is not None:
            self._runtime.close()
