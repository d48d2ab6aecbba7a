"""The core package stays pure: standard library only, no ambient time, randomness or I/O.

Every module of ``matter_core`` is parsed with :mod:`ast` (never imported for this), and
its imports and calls are checked against the rules the design sets for the verified
core: time and entropy arrive through the seams, never from the host directly. A second
test feeds the scanner a module that breaks the rules, to show it can fail.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# The source tree, not whatever copy happens to be installed.
CORE_DIR = Path(__file__).resolve().parents[2] / "components" / "core" / "matter_core"
CORE_PACKAGE = "matter_core"

FORBIDDEN_MODULES = frozenset(
    {
        "random",
        "secrets",
        "time",
        "datetime",
        "socket",
        "os",
        "threading",
        "asyncio",
        "subprocess",
        "ssl",
        "select",
    }
)
"""Standard-library modules the core must not import: ambient time, entropy, I/O."""

FORBIDDEN_CALLS = frozenset({"urandom", "monotonic", "monotonic_ns", "perf_counter", "time"})
"""Names the core must not call, whatever they are reached through."""


@dataclass(frozen=True)
class Violation:
    """One rule broken at one place."""

    module: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.what}"


def _called_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def scan_source(source: str, module: str) -> list[Violation]:
    """Every purity violation in one module's source (``module`` names it in reports)."""
    tree = ast.parse(source, filename=module)
    found: list[Violation] = []

    def check_import(name: str, line: int) -> None:
        top = name.split(".")[0]
        if top == CORE_PACKAGE:
            return
        if top in FORBIDDEN_MODULES:
            found.append(Violation(module, line, f"imports forbidden module {name!r}"))
        elif top not in sys.stdlib_module_names:
            found.append(Violation(module, line, f"imports non-stdlib module {name!r}"))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check_import(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level > 0:
                continue  # relative: inside matter_core by construction
            assert node.module is not None
            check_import(node.module, node.lineno)
            for alias in node.names:
                if alias.name in FORBIDDEN_CALLS:
                    found.append(Violation(module, node.lineno, f"imports {alias.name!r}"))
        elif isinstance(node, ast.Call):
            name = _called_name(node)
            if name in FORBIDDEN_CALLS:
                found.append(Violation(module, node.lineno, f"calls {name}()"))
        elif isinstance(node, ast.Attribute) and node.attr == "urandom":
            # Caught even uncalled: ``draw = os.urandom`` would smuggle it out.
            found.append(Violation(module, node.lineno, "refers to urandom"))
    return found


def core_modules() -> list[Path]:
    """Every Python module of the core package."""
    return sorted(CORE_DIR.rglob("*.py"))


def test_the_core_package_is_where_the_tests_expect_it() -> None:
    names = {path.stem for path in core_modules()}
    # The scan would pass vacuously on an empty or wrong directory.
    assert {"pase", "secure_session", "endpoint", "spake2p", "p256", "message"} <= names


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: p.name)
def test_core_module_is_pure(path: Path) -> None:
    violations = scan_source(path.read_text(encoding="utf-8"), path.name)
    assert violations == [], "\n".join(map(str, violations))


def test_the_scanner_catches_what_it_forbids() -> None:
    source = "\n".join(
        [
            "import os",
            "import random",
            "from time import monotonic",
            "import numpy as np",
            "from os import urandom",
            "import matter_core.tlv",
            "from . import errors",
            "import hashlib",
            "def f():",
            "    draw = os.urandom",
            "    return time.time() + perf_counter()",
        ]
    )
    violations = scan_source(source, "synthetic.py")
    lines: dict[int, str] = {}
    for v in violations:
        lines[v.line] = f"{lines.get(v.line, '')}; {v.what}"
    assert "forbidden module 'os'" in lines[1]
    assert "forbidden module 'random'" in lines[2]
    assert "forbidden module 'time'" in lines[3] and "imports 'monotonic'" in lines[3]
    assert "non-stdlib module 'numpy'" in lines[4]
    assert "forbidden module 'os'" in lines[5] and "imports 'urandom'" in lines[5]
    assert 6 not in lines and 7 not in lines and 8 not in lines  # allowed imports
    assert "refers to urandom" in lines[10]
    assert "calls time()" in lines[11] and "calls perf_counter()" in lines[11]


def test_the_scanner_passes_a_clean_module() -> None:
    clean = "import hashlib\nfrom matter_core import tlv\n\ndef f(n):\n    return hashlib.sha256(n)"
    assert scan_source(clean, "clean.py") == []
