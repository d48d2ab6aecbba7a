"""Session fixtures for the harness tests: the components, built once, and one runtime.

The components are built into the default build directory, so the build cache (and the
compiled-artifact cache under ``build/cache``) is shared with the ``matter-harness`` CLI:
a session after a CLI run, or a CLI run after a session, does not rebuild or recompile.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import wasmtime.component as wc

from harness.build.componentize import BuildResult, build_all, build_component
from harness.build.specs import SPIKE
from harness.project import DEFAULT_BUILD_DIR
from harness.runtime.engine import Runtime
from harness.supply.settings import SIGNING_KEY_ENV, TRUST_MODE_ENV, TRUST_STORE_ENV


@pytest.fixture(scope="session")
def built_components() -> dict[str, BuildResult]:
    """The core and loopback components, built (or found current) once per session."""
    return build_all(DEFAULT_BUILD_DIR, names=["core", "loopback"])


@pytest.fixture(scope="session")
def core_path(built_components: dict[str, BuildResult]) -> Path:
    """The built core component."""
    return built_components["core"].path


@pytest.fixture(scope="session")
def loopback_path(built_components: dict[str, BuildResult]) -> Path:
    """The built loopback transport component."""
    return built_components["loopback"].path


@pytest.fixture(scope="session")
def shared_runtime() -> Iterator[Runtime]:
    """One wasmtime runtime for the session, caching compiled artifacts in build/cache."""
    runtime = Runtime(DEFAULT_BUILD_DIR / "cache")
    yield runtime
    runtime.close()


@pytest.fixture(scope="session")
def core_component(shared_runtime: Runtime, core_path: Path) -> wc.Component:
    """The core component, compiled (or taken from the cache) once per session."""
    return shared_runtime.load(core_path)


@pytest.fixture
def isolated_trust(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never read the user's trust store or trust configuration in a test."""
    monkeypatch.setenv(TRUST_STORE_ENV, str(tmp_path / "trust"))
    monkeypatch.delenv(TRUST_MODE_ENV, raising=False)
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)


@pytest.fixture(scope="session")
def spike_path() -> Path:
    """The example spike command component (``matter-harness build spike``), built (or
    found current) once per session."""
    return build_component(SPIKE, DEFAULT_BUILD_DIR).path


@pytest.fixture(scope="session")
def spike_component(shared_runtime: Runtime, spike_path: Path) -> wc.Component:
    """The spike command component, compiled (or taken from the cache) once per session."""
    return shared_runtime.load(spike_path)
