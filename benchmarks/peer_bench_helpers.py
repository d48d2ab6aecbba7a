"""Helper processes for ``bench_peer.py``: a CircuitMatter device server and a CHIP
controller that runs PASE again and again. Each reads commands on stdin, one a line, and
answers with one JSON line on stdout (everything else they print goes to stderr).

``python peer_bench_helpers.py device``: ``new`` starts a fresh CircuitMatter device on
``[::1]`` (the previous one stops) and answers ``{"host":..., "port":..., "passcode":...}``.

``python peer_bench_helpers.py chip``: ``HOST PORT PASSCODE NODE_ID`` runs the CHIP
controller's ``EstablishPASESessionIP`` and answers ``{"ok":..., "seconds":...}`` (the wall
time of that call alone). Runs only inside ``tests/fixtures/interop/chip/sandbox.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]


def answer(value: dict[str, Any], out: Any) -> None:
    out.write(json.dumps(value) + "\n")
    out.flush()


def private_stdout() -> Any:
    """The answer channel: the original stdout, kept on its own descriptor; descriptor 1
    itself (what native code writes to) and ``sys.stdout`` then go to stderr."""
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def serve_devices() -> None:
    """One CircuitMatter device at a time, a fresh one per ``new``."""
    out = private_stdout()  # CircuitMatter prints its QR code and every message
    sys.path[:0] = [
        str(PROJECT / "tests" / "harness"),
        str(PROJECT / "tests" / "harness" / "drive"),
    ]
    import test_interop_circuitmatter as cm  # type: ignore[import-not-found]

    device: Any = None
    with tempfile.TemporaryDirectory() as root:
        for count, line in enumerate(sys.stdin):
            if device is not None:
                device.__exit__(None, None, None)
                device = None
            if line.strip() != "new":
                break
            state = Path(root) / str(count)
            state.mkdir()
            device = cm.CircuitMatterDevice(state).__enter__()
            host, port = device.address
            answer({"host": host, "port": port, "passcode": cm.PASSCODE}, out)
        if device is not None:
            device.__exit__(None, None, None)


def serve_chip() -> None:
    """The CHIP controller, initialised once, running PASE per command."""
    out = private_stdout()  # the CHIP stack prints from native code too
    import chip.logging  # type: ignore[import-untyped]
    import chip.native  # type: ignore[import-untyped]

    chip.logging.RedirectToPythonLogging()
    chip.native.Init()
    from chip import CertificateAuthority
    from chip.ChipStack import ChipStack  # type: ignore[import-untyped]

    storage = os.path.join(tempfile.mkdtemp(prefix="chip-bench-"), "repl.json")
    stack = ChipStack(persistentStoragePath=storage, enableServerInteractions=False)
    authorities = CertificateAuthority.CertificateAuthorityManager(stack)
    authority = authorities.NewCertificateAuthority()
    admin = authority.NewFabricAdmin(vendorId=0xFFF1, fabricId=1)
    controller = admin.NewController(nodeId=112233, paaTrustStorePath="")

    async def pase(host: str, port: int, passcode: int, node_id: int) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(
                controller.EstablishPASESessionIP(host, passcode, node_id, port=port), 15
            )
        except Exception as exc:  # the failure is the answer
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return {"ok": True, "seconds": time.perf_counter() - started}

    async def loop() -> None:
        for line in sys.stdin:
            parts = line.split()
            if len(parts) != 4:
                break
            host, port, passcode, node_id = parts[0], int(parts[1]), int(parts[2]), int(parts[3])
            answer(await pase(host, port, passcode, node_id), out)
        with contextlib.suppress(Exception):
            controller.Shutdown()

    try:
        asyncio.run(loop())
    finally:
        authorities.Shutdown()
        stack.Shutdown()


if __name__ == "__main__":
    if sys.argv[1:] == ["device"]:
        serve_devices()
    elif sys.argv[1:] == ["chip"]:
        serve_chip()
    else:
        raise SystemExit("usage: peer_bench_helpers.py device|chip")
