"""Package faces that load their modules on first use (PEP 562).

Each sub-package's ``__init__`` names its public API once, in a mapping from each name to
the module that defines it, and hands that mapping to :func:`lazy_exports`. Importing
the package then loads nothing; ``from harness.runtime import Limits`` loads only the
module that defines ``Limits``. So the command line can read option defaults from
``harness.runtime`` or ``harness.drive`` without loading wasmtime or the core, and
``matter-harness --help`` starts fast. The same ``__init__`` repeats the imports under
``TYPE_CHECKING`` for the type checker; a test checks that the two lists agree.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose public ``exports`` map each
    name to the (relative) module defining it."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__


__all__ = ["lazy_exports"]
