"""The harness's shape: layering, package faces, module size, error types, citations.

The layering contract itself is :mod:`architecture` (beside this file); these tests run
it on the real tree, and on copies with a forbidden import planted, to show it can fail.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import shutil
from pathlib import Path

import pytest
from architecture import violations

import harness
from harness.errors import HarnessError

PROJECT = Path(__file__).resolve().parents[2]
HARNESS = PROJECT / "harness"
LAZY_PACKAGES = ("runtime", "seams", "supply", "build", "drive", "evidence")
MAX_MODULE_LINES = 600


def test_the_harness_keeps_its_layering_contract() -> None:
    assert violations(HARNESS) == []


def _planted(tmp_path: Path, module: str, line: str) -> list[str]:
    """The contract's verdict on a copy of the harness with ``line`` added to ``module``."""
    copy = tmp_path / f"plant-{len(list(tmp_path.iterdir()))}" / "harness"
    shutil.copytree(HARNESS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + "\n" + line + "\n")
    return violations(copy)


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    found = _planted(tmp_path, "seams/clock.py", "from harness.evidence import run_gate")
    assert any("imports must flow downwards" in p and "seams" in p for p in found), found


def test_an_import_between_same_layer_packages_breaks_the_contract(tmp_path: Path) -> None:
    found = _planted(tmp_path, "runtime/limits.py", "from harness.seams import VirtualClock")
    assert any("runtime (layer 1) imports harness.seams" in p for p in found), found


def test_a_cycle_breaks_the_contract_even_under_type_checking(tmp_path: Path) -> None:
    line = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from harness.cli import main"
    found = _planted(tmp_path, "errors.py", line)
    assert any(p.startswith("import cycle:") for p in found), found


def test_wasmtime_outside_runtime_breaks_the_contract(tmp_path: Path) -> None:
    found = _planted(tmp_path, "drive/driver.py", "import wasmtime.component")
    assert any("imports wasmtime.component outside runtime/" in p for p in found), found


def test_a_function_local_import_breaks_the_contract(tmp_path: Path) -> None:
    line = "def _late() -> None:\n    from harness.seams import VirtualClock  # noqa"
    found = _planted(tmp_path, "drive/driver.py", line)
    assert any("function-local import of harness.seams" in p for p in found), found


def test_reaching_past_a_package_face_breaks_the_contract(tmp_path: Path) -> None:
    found = _planted(tmp_path, "drive/driver.py", "from harness.seams.clock import VirtualClock")
    assert any("import from the package face harness.seams" in p for p in found), found
    found = _planted(tmp_path, "drive/driver.py", "from harness.seams import _Clock")
    assert any("does not export _Clock" in p for p in found), found


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_each_package_face_names_its_api_once_and_every_name_resolves(package: str) -> None:
    module = importlib.import_module(f"harness.{package}")
    exports = module.EXPORTS
    assert sorted(module.__all__) == sorted(exports)
    checked = _type_checking_imports(HARNESS / package / "__init__.py")
    assert checked == {name: f"harness.{package}.{where}" for name, where in exports.items()}
    for name, where in exports.items():
        defined_in = importlib.import_module(f"harness.{package}.{where}")
        assert getattr(module, name) is getattr(defined_in, name), name


def _type_checking_imports(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for item in node.body:
                assert isinstance(item, ast.ImportFrom) and item.module is not None
                found.update({alias.name: item.module for alias in item.names})
    return found


def test_a_package_face_refuses_names_it_does_not_export() -> None:
    runtime = importlib.import_module("harness.runtime")
    with pytest.raises(AttributeError, match="has no attribute 'classify_trapz'"):
        _ = runtime.classify_trapz


def test_every_error_type_derives_from_harness_error() -> None:
    outside = []
    for path in sorted(HARNESS.rglob("*.py")):
        name = ".".join(path.relative_to(PROJECT).with_suffix("").parts).removesuffix(".__init__")
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if (
                value.__module__ == module.__name__
                and issubclass(value, BaseException)
                and not issubclass(value, HarnessError)
            ):
                outside.append(f"{name}.{value.__name__}")
    assert outside == []


def test_no_module_is_over_the_size_guide() -> None:
    sources = [*HARNESS.rglob("*.py"), *(PROJECT / "components").rglob("*.py")]
    big = {
        str(p.relative_to(PROJECT)): n
        for p in sources
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert big == {}


#: Files outside the repository that comments once cited; a reader cannot follow them.
_OUTSIDE_REFERENCES = re.compile(r"pase-facts|shared/reference|\.\./shared")


def test_no_comment_cites_a_file_outside_the_repository() -> None:
    roots = (HARNESS, PROJECT / "components", PROJECT / "tests", PROJECT / "wit")
    citing = [
        str(p.relative_to(PROJECT))
        for root in roots
        for p in root.rglob("*")
        if p.suffix in {".py", ".wit", ".toml"}
        and p.name != Path(__file__).name
        and _OUTSIDE_REFERENCES.search(p.read_text())
    ]
    assert citing == []


def test_the_package_docstring_names_every_part() -> None:
    parts = {p.name for p in HARNESS.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    for part in parts:
        assert f"``{part}``" in (harness.__doc__ or ""), part
