"""Helper processes for ``bench_peer.py``: a CircuitMatter device server and a CHIP
controller that runs PASE again and again. Each reads commands on stdin, one a line, and
answers with one JSON line on stdout (everything else they print goes to stderr).

``python peer_bench_helpers.py device``: ``new`` starts a fresh CircuitMatter device on
``[::1]`` (the previous one stops) and answers ``{"host":..., "port":..., "passcode":...,
"iterations":...}`` (its PBKDF2 iteration count).

``python peer_bench_helpers.py chip``: ``HOST PORT PASSCODE NODE_ID`` runs the CHIP
controller's ``EstablishPASESessionIP`` and answers ``{"ok":..., "seconds":...}`` (the wall
time of that call alone); ``pbkdf2 ITERATIONS`` times the PBKDF2 the CHIP stack runs as a
commissioner (its crypto PAL's ``PKCS5_PBKDF2_HMAC``, from the BoringSSL linked into the
CHIP library) and answers the same way. Runs only inside
``tests/fixtures/interop/chip/sandbox.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
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
            iterations = int(device.state["iteration-count"])
            answer(
                {"host": host, "port": port, "passcode": cm.PASSCODE, "iterations": iterations},
                out,
            )
        if device is not None:
            device.__exit__(None, None, None)


#: PBKDF2 output length of a PASE commissioner: w0s and w1s, 40 bytes each (Matter Core
#: Specification 1.3, section 3.10.3).
WS_LENGTH = 80
#: The passcode and salt of the timed PBKDF2 (the time does not depend on them;
#: ``bench_peer.py`` derives the same bytes with the core to check it is the same work).
PBKDF2_PASSCODE = 20202021
PBKDF2_SALT = bytes(range(32))


def chip_pbkdf2(library: Any, passcode: int, iterations: int) -> dict[str, Any]:
    """Time the CHIP library's own PBKDF2-HMAC-SHA256 (what connectedhomeip's OpenSSL
    crypto PAL calls for ``PBKDF2_sha256``: ``PKCS5_PBKDF2_HMAC`` with ``EVP_sha256``)."""
    try:
        pbkdf2, sha256 = library.PKCS5_PBKDF2_HMAC, library.EVP_sha256
    except AttributeError as exc:
        return {"ok": False, "error": f"the CHIP library exports no PBKDF2: {exc}"}
    sha256.restype = ctypes.c_void_p
    pbkdf2.restype = ctypes.c_int
    pbkdf2.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_char_p,
    ]
    password, salt = passcode.to_bytes(4, "little"), PBKDF2_SALT
    derived = ctypes.create_string_buffer(WS_LENGTH)
    started = time.perf_counter()
    done = pbkdf2(password, 4, salt, len(salt), iterations, sha256(), WS_LENGTH, derived)
    seconds = time.perf_counter() - started
    if done != 1:
        return {"ok": False, "error": "PKCS5_PBKDF2_HMAC failed"}
    return {"ok": True, "seconds": seconds, "derived": derived.raw.hex()}


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
    library = chip.native.GetLibraryHandle()

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
            if len(parts) == 2 and parts[0] == "pbkdf2":
                answer(chip_pbkdf2(library, PBKDF2_PASSCODE, int(parts[1])), out)
                continue
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
