"""The project's components: which world each is built from, and from which sources.

Pure data (no toolchain is loaded), so the command line can list the names cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.project import COMPONENTS_DIR, WIT_DIR


@dataclass(frozen=True)
class ComponentSpec:
    """What to build: a world, a guest module and the directories it imports from."""

    name: str
    world: str
    app_module: str
    python_paths: tuple[Path, ...]
    wit_dir: Path = WIT_DIR
    stub_wasi: bool = True


#: The project's components.
CORE = ComponentSpec(
    name="core",
    world="core",
    app_module="app",
    python_paths=(COMPONENTS_DIR / "core",),
)
LOOPBACK = ComponentSpec(
    name="loopback",
    world="loopback",
    app_module="app",
    python_paths=(COMPONENTS_DIR / "loopback",),
)
COMPONENTS: dict[str, ComponentSpec] = {spec.name: spec for spec in (CORE, LOOPBACK)}

#: The spike command: a WASI command component (it exports ``wasi:cli/run``) that runs
#: both PASE roles of ``matter_core`` in one process and prints ``PASE-RUNS-OK``, for
#: ``matter-harness spike``. Real WASI (stdout, clocks, random), so no ``--stub-wasi``.
SPIKE = ComponentSpec(
    name="spike",
    world="spike",
    app_module="app",
    python_paths=(COMPONENTS_DIR / "spike", COMPONENTS_DIR / "core"),
    wit_dir=COMPONENTS_DIR / "spike" / "wit",
    stub_wasi=False,
)
#: Components built only when asked for by name (``matter-harness build spike``).
ON_REQUEST: dict[str, ComponentSpec] = {SPIKE.name: SPIKE}

MJS_CORE_NAME = "mjs-core"
"""The optional second core, built from matter.js with componentize-js when Node.js is
present (:mod:`harness.build.mjs`); not one of :data:`COMPONENTS`, so ``run`` and the gate
never build or use it by default."""
