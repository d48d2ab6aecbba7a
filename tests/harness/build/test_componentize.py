"""Component builds: the content-hash cache and what a failed build leaves behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.build import componentize
from harness.build.componentize import (
    BuildError,
    build_all,
    build_component,
    input_key,
    is_current,
)
from harness.build.specs import CORE, SPIKE, ComponentSpec
from harness.project import WIT_DIR


def guest_spec(tmp_path: Path, source: str, *, name: str = "probe") -> ComponentSpec:
    """A one-module guest for the project's ``loopback`` world, from ``source``."""
    guest = tmp_path / "guest"
    guest.mkdir(exist_ok=True)
    (guest / "app.py").write_text(source)
    return ComponentSpec(name=name, world="loopback", app_module="app", python_paths=(guest,))


def test_the_key_covers_sources_and_ignores_bytecode(tmp_path: Path) -> None:
    spec = guest_spec(tmp_path, "X = 1\n")
    first = input_key(spec)
    assert input_key(spec) == first
    cache = tmp_path / "guest" / "__pycache__"
    cache.mkdir()
    (cache / "app.cpython-311.pyc").write_bytes(b"\x00" * 16)
    assert input_key(spec) == first
    (tmp_path / "guest" / "app.py").write_text("X = 2\n")
    assert input_key(spec) != first
    (tmp_path / "guest" / "helper.py").write_text("Y = 1\n")
    assert input_key(guest_spec(tmp_path, "X = 2\n")) != first


def test_the_key_covers_the_world(tmp_path: Path) -> None:
    spec = guest_spec(tmp_path, "X = 1\n")
    other = ComponentSpec(
        name=spec.name, world="core", app_module="app", python_paths=spec.python_paths
    )
    assert input_key(spec) != input_key(other)
    assert spec.wit_dir == WIT_DIR


def test_nothing_is_current_without_its_key_file(tmp_path: Path) -> None:
    spec = guest_spec(tmp_path, "X = 1\n")
    output = tmp_path / "probe.wasm"
    assert not is_current(spec, output)
    output.write_bytes(b"\x00asm")
    assert not is_current(spec, output)
    output.with_name(output.name + ".inputs.json").write_text("not json")
    assert not is_current(spec, output)


def test_unknown_component_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="unknown component"):
        build_all(tmp_path, names=["core", "nonesuch"])


def test_the_spike_is_built_only_when_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []

    def record(spec: ComponentSpec, *args: object, **kwargs: object) -> str:
        built.append(spec.name)
        return spec.name

    monkeypatch.setattr(componentize, "build_component", record)
    build_all(tmp_path)
    assert built == ["core", "loopback"]
    built.clear()
    build_all(tmp_path, names=["spike"])
    assert built == ["spike"]
    # A real WASI command: no --stub-wasi, and matter_core on its path.
    assert not SPIKE.stub_wasi
    assert any(path.name == "core" for path in SPIKE.python_paths)
    assert input_key(SPIKE) != input_key(CORE)


@pytest.mark.slow
def test_a_built_component_is_served_from_the_cache(built_components: object) -> None:
    messages: list[str] = []
    result = build_all(names=["core"], progress=messages.append)["core"]
    assert result.cached and result.path.is_file()
    assert any("up to date" in m for m in messages)
    assert is_current(CORE, result.path)


@pytest.mark.slow
def test_a_failing_guest_shows_componentize_py_s_message_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    spec = guest_spec(tmp_path, "raise RuntimeError('guest refuses to initialise')\n")
    build_dir = tmp_path / "build"
    with pytest.raises(BuildError) as caught:
        build_component(spec, build_dir)
    message = caught.value.explain()
    assert "componentize-py failed to build 'probe'" in message
    assert "guest refuses to initialise" in message
    assert "Stack backtrace" not in message  # the Rust backtrace is cut off
    leftovers = sorted(p.name for p in build_dir.iterdir() if p.suffix == ".wasm")
    assert leftovers == []
    assert not is_current(spec, build_dir / "probe.wasm")
