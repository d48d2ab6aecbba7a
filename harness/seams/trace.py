"""The packet trace as JSON lines (``run --trace``, ``peer --trace``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from harness.seams.loopback import PacketRecord


def write_trace(path: Path, trace: list[PacketRecord]) -> None:
    """The packet trace as JSON lines (direction, time, size, SHA-256, bytes)."""
    lines = [
        json.dumps(
            {
                "direction": p.direction,
                "time_ms": p.time_ms,
                "size": len(p.data),
                "sha256": hashlib.sha256(p.data).hexdigest(),
                "bytes": p.data.hex(),
            }
        )
        for p in trace
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
