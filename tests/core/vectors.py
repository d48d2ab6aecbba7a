"""Loader for the SPAKE2+ / Matter PASE vectors in ``tests/vectors/spake2p-vectors.json``.

A plain module, not a fixture, so any test can import it. The file's provenance is in
``tests/vectors/README.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS_PATH = Path(__file__).resolve().parent.parent / "vectors" / "spake2p-vectors.json"
"""Where the vector file lives, found relative to this module."""


def load_vectors() -> dict[str, Any]:
    """Parse and return the vector file (freshly read, so callers may mutate the result)."""
    with VECTORS_PATH.open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data
