"""Guest of the spike command component (componentize-py world ``spike``: a WASI command).

The shape of a ``wasmtime run pase_exec.wasm`` spike: a command that runs the PASE
handshake and prints ``PASE-RUNS-OK``. Both roles of :mod:`matter_core` run here, in one
process, over two in-memory queues and a virtual clock; every random byte comes from
``wasi:random`` (``os.urandom``). ``matter-harness spike`` runs it under its capability
policy. The first argument picks what the command does (the harness tests use each):

* ``pase`` (the default): the handshake both ways, then one message sealed by the
  commissioner and opened by the commissionee; prints
  ``PASE-RUNS-OK transcript=<hex> rounds=<n>``; exit 0, or 1 with the failure.
* ``probe``: tries every ambient authority a command could reach for (environment,
  files, the working directory, stdin, sockets, name lookup) and prints one line each
  with what it got; ends with ``PROBE-DONE``.
* ``exit N``: prints a line and exits with status N through ``wasi:cli/exit`` (whose 0.2
  ``exit`` carries only success or failure: any N but 0 ends with status 1).
* ``fail``: returns ``err`` from ``wasi:cli/run`` (exit status 1).
* ``loop``: never returns (for the resource limits to stop).

Every module used at run time is imported here, at top level: componentize-py only
bundles what is imported while the component is being built.
"""

from __future__ import annotations

import encodings.idna  # noqa: F401  (bundled for socket's host-name encoding)
import hashlib  # noqa: F401  (bundled for matter_core)
import hmac  # noqa: F401  (bundled for matter_core)
import os
import socket
import sys
from collections import deque

import matter_core.endpoint
import matter_core.errors
import matter_core.p256
import matter_core.spake2p
import wit_world.exports
from componentize_py_types import Err

# componentize-py snapshots the heap after this module runs (pre-init), so the fixed-base
# tables are built once, at build time, as in the core component.
for _base in (matter_core.p256.G_BASE, matter_core.p256.M_BASE, matter_core.p256.N_BASE):
    _base.prepare()

#: The Matter test passcode and the PBKDF parameters the harness runs with by default.
PASSCODE = 20202021
SALT = b"SPAKE2P Key Salt"
ITERATIONS = 1000
#: Clock time after which the handshake is abandoned (the MRP retransmissions of a lost
#: message give up well before).
DEADLINE_MS = 60_000
#: A message on the Interaction Model protocol (id 0x0001), opcode 0x02, sealed on the
#: established session to prove both sides hold the same keys.
PROBE_PROTOCOL_ID = 0x0001
PROBE_OPCODE = 0x02
PROBE = b"spike: secure session probe"


class _Queue:
    """One direction of the in-memory link: what one side sends, the other receives."""

    def __init__(self, outbox: deque[bytes], inbox: deque[bytes]) -> None:
        self._outbox = outbox
        self._inbox = inbox

    def send(self, datagram: bytes) -> bool:
        self._outbox.append(bytes(datagram))
        return True

    def receive(self) -> bytes | None:
        return self._inbox.popleft() if self._inbox else None


class _VirtualClock:
    def __init__(self) -> None:
        self.now = 0

    def now_ms(self) -> int:
        return self.now


class _WasiRandom:
    """Random bytes from ``wasi:random`` (CPython's ``os.urandom`` in the component)."""

    def random_bytes(self, n: int) -> bytes:
        return os.urandom(n)


def run_pase() -> int:
    """The handshake between two cores in this process; the exit status."""
    forward: deque[bytes] = deque()
    back: deque[bytes] = deque()
    clock = _VirtualClock()
    entropy = _WasiRandom()
    commissioner = matter_core.endpoint.CoreEndpoint(_Queue(forward, back), clock, entropy)
    commissionee = matter_core.endpoint.CoreEndpoint(_Queue(back, forward), clock, entropy)
    verifier = matter_core.spake2p.compute_verifier(PASSCODE, SALT, ITERATIONS)
    commissionee.start_commissionee(verifier, SALT, ITERATIONS)
    commissioner.start_commissioner(PASSCODE)
    rounds = 0
    last_activity: tuple[int, ...] = ()
    while True:
        rounds += 1
        status_i = commissioner.poll()
        status_r = commissionee.poll()
        if status_i.established and status_r.established:
            break
        for status in (status_i, status_r):
            if status.failure is not None:
                print(f"PASE-FAILED {status.role.value}: {status.failure}", file=sys.stderr)
                return 1
        if clock.now >= DEADLINE_MS:
            print(f"PASE-FAILED: no session after {clock.now} ms", file=sys.stderr)
            return 1
        activity = (
            status_i.datagrams_sent,
            status_i.datagrams_received,
            status_r.datagrams_sent,
            status_r.datagrams_received,
        )
        if activity == last_activity:
            # Nothing moved: jump the clock to the next timer (an MRP retransmission).
            deadlines = [
                d for d in (status_i.next_deadline_ms, status_r.next_deadline_ms) if d is not None
            ]
            clock.now = max(clock.now + 1, min(deadlines)) if deadlines else clock.now + 100
        last_activity = activity
    if status_i.transcript_hash != status_r.transcript_hash:
        print("PASE-FAILED: the two roles disagree on the transcript", file=sys.stderr)
        return 1
    commissioner.seal(PROBE_PROTOCOL_ID, PROBE_OPCODE, PROBE)
    opened = None
    for _ in range(8):
        commissioner.poll()
        opened = commissionee.open()
        if opened is not None:
            break
    if opened is None or opened.payload != PROBE:
        print("PASE-FAILED: the commissionee could not open the sealed probe", file=sys.stderr)
        return 1
    print(f"PASE-RUNS-OK transcript={status_i.transcript_hash.hex()} rounds={rounds}")
    return 0


def _attempt(label: str, action: object) -> None:
    """Print what ``action`` (a callable) returned, or the error it raised."""
    try:
        result = action()  # type: ignore[operator]
    except BaseException as exc:  # a denied capability is any error at all
        print(f"{label}: denied ({type(exc).__name__}: {exc})")
    else:
        print(f"{label}: {result!r}")


def _read(path: str) -> str:
    with open(path, "rb") as handle:
        return f"read {len(handle.read())} bytes"


def _write(path: str) -> str:
    with open(path, "wb") as handle:
        handle.write(b"spike")
    return "written"


def _connect() -> str:
    # A numeric address on a plain socket: no name lookup, the connect itself is tried.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        sock.connect(("127.0.0.1", 9))
        return "connected"


def run_probe() -> int:
    """Reach for every ambient authority; print what came back."""
    print(f"arguments: {sys.argv!r}")
    print(f"environment: {len(os.environ)} variables {sorted(os.environ)!r}")
    _attempt("cwd", os.getcwd)
    _attempt("listdir /", lambda: os.listdir("/"))
    _attempt("read /etc/passwd", lambda: _read("/etc/passwd"))
    _attempt("write spike.txt", lambda: _write("spike.txt"))
    _attempt("stdin", lambda: f"read {len(sys.stdin.buffer.read())} bytes")
    _attempt("connect 127.0.0.1:9", _connect)
    _attempt("resolve localhost", lambda: socket.getaddrinfo("localhost", 80))
    print(f"random: {len(os.urandom(16))} bytes")
    print("PROBE-DONE")
    return 0


class Run(wit_world.exports.Run):
    """``wasi:cli/run``: what ``wasmtime run`` (and ``matter-harness spike``) calls."""

    def run(self) -> None:
        mode = sys.argv[1] if len(sys.argv) > 1 else "pase"
        if mode == "pase":
            status = run_pase()
        elif mode == "probe":
            status = run_probe()
        elif mode == "exit":
            print(f"exiting with status {sys.argv[2]}")
            sys.stdout.flush()
            sys.exit(int(sys.argv[2]))
        elif mode == "fail":
            print("failing by returning err", file=sys.stderr)
            status = 1
        elif mode == "loop":
            while True:
                pass
        else:
            print(f"unknown mode {mode!r}: pase, probe, exit N, fail or loop", file=sys.stderr)
            status = 2
        sys.stdout.flush()
        sys.stderr.flush()
        if status != 0:
            raise Err(None)
