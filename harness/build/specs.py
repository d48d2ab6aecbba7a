"""The project's components: which world each is built from, and from which sources.

Pure data (no toolchain is loaded), so the command line can list the names cheaply.
The core is a Python guest built with componentize-py (:class:`ComponentSpec`); the
loopback transport is written directly in component-model text
(:class:`TextComponentSpec`) and compiled with wasmtime's ``wat2wasm``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.project import COMPONENTS_DIR, WIT_DIR


@dataclass(frozen=True)
class ComponentSpec:
    """What to build with componentize-py: a world, a guest module and the directories
    it imports from."""

    name: str
    world: str
    app_module: str
    python_paths: tuple[Path, ...]
    wit_dir: Path = WIT_DIR
    stub_wasi: bool = True


@dataclass(frozen=True)
class TextComponentSpec:
    """A component written in component-model text: the component's text file and the
    core-module text files it embeds (see :mod:`harness.build.wat_component`)."""

    name: str
    world: str
    text: Path
    modules: tuple[Path, ...] = ()


#: Either kind of component.
AnySpec = ComponentSpec | TextComponentSpec

#: The project's components.
CORE = ComponentSpec(
    name="core",
    world="core",
    app_module="app",
    python_paths=(COMPONENTS_DIR / "core",),
)
LOOPBACK = TextComponentSpec(
    name="loopback",
    world="loopback",
    text=COMPONENTS_DIR / "loopback" / "loopback.wat",
    modules=(COMPONENTS_DIR / "loopback" / "link.wat",),
)
COMPONENTS: dict[str, AnySpec] = {spec.name: spec for spec in (CORE, LOOPBACK)}

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
