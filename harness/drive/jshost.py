"""The Node.js subprocess that runs transpiled components on V8, and the role handles,
clock and conformance target that reach into it.

**Protocol.** ``node [flags] jshost/host.mjs`` speaks JSON lines on stdin/stdout. It first
writes ``{"ready": {"node": ..., "v8": ..., "jco": ...}}``; then every request line
``{"op": OP, ...fields}`` gets exactly one answer line, ``{"ok": VALUE}`` or ``{"error":
{"kind": "guest" | "trap" | "host", "message": TEXT, "payload": VALUE?}}``. Component
values cross as JSON: bytes as ``{"hex": "..."}``, record fields as snake_case keys, u64
as numbers, ``none`` as null. Operations:

=================== ========================================================================
``seams``           ``seed`` (decimal string or null), ``real_clock``, ``roles``: the run's
                    clock, entropy stream and loopback (as :class:`harness.drive.Seams`)
``instantiate``     ``module`` (the transpiled entry), ``name``, ``role``, ``transport``:
                    one instance linked to that role's counted seams
``call``            ``instance``, ``iface``, ``fn`` (kebab-case), ``args``: one export call;
                    a WIT ``result`` error comes back as a ``guest`` error with its payload
``clock_peek``      the clock's time (not counted as a seam crossing)
``clock_advance_to`` ``ms``: move the clock forward (never backwards)
``seam_report``     per-role counters, the packet trace, datagrams refused
``drbg``            ``seed``, ``stream``, ``sizes``: HMAC-DRBG output (cross-language test)
``shutdown``        answer, then exit
=================== ========================================================================

The driver loop stays in Python (:func:`harness.drive.driver.drive_handshake`, the one
algorithm every placement uses); only the guests and the seams live in Node. Stderr is
kept for error messages; an answer that does not come within :data:`REQUEST_TIMEOUT_S`
ends the subprocess.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.build import JSHOST_DIR, JsRuntimeError, NodeInfo, ensure_npm_deps
from harness.drive.roles import Failure, Opened, RoleError, RoleEvent, RoleStatus
from harness.errors import CheckFailed, HarnessError

#: Seconds one request may take (a PBKDF2 of 100000 iterations in CPython-on-wasm is slow).
REQUEST_TIMEOUT_S = 300.0
HOST_SCRIPT = "host.mjs"


class JsHostError(JsRuntimeError):
    """The JS host failed: it did not start, broke the protocol, or raised an exception."""


class JsTrap(CheckFailed):
    """A guest trapped under V8 (the instance is dead from then on): a failed run."""


class JsGuestError(HarnessError):
    """A guest export returned a WIT error value: ``kind`` and ``guest_message`` from it."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.guest_message = message


def _stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class JsHost:
    """One ``node jshost/host.mjs`` subprocess (a context manager; :meth:`close` ends it)."""

    def __init__(self, node: NodeInfo, jshost: os.PathLike[str] | str = JSHOST_DIR) -> None:
        # The host reads jco's package metadata as it starts: install the pinned npm
        # dependencies first if they are missing (a fresh clone), as transpiling does.
        ensure_npm_deps(Path(jshost), _stderr_progress)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the host)
        script = os.path.join(os.fspath(jshost), HOST_SCRIPT)
        try:
            self._proc = subprocess.Popen(
                node.command(script),
                cwd=os.fspath(jshost),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
            )
        except OSError as exc:
            self._stderr.close()
            raise JsHostError(f"cannot start the JS host ({script}): {exc}") from exc
        self._buffer = b""
        self._selector = selectors.DefaultSelector()
        assert self._proc.stdout is not None
        self._selector.register(self._proc.stdout, selectors.EVENT_READ)
        try:
            first = self._read_message("starting")
        except JsHostError:
            self.close()
            raise
        ready = first.get("ready")
        if not isinstance(ready, dict):
            self.close()
            raise JsHostError(f"the JS host did not say it was ready: {first}")
        self.versions: dict[str, str] = {str(k): str(v) for k, v in ready.items()}

    def __enter__(self) -> JsHost:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _stderr_line(self) -> str:
        self._stderr.seek(0)
        lines = [line.strip() for line in self._stderr.read().decode(errors="replace").splitlines()]
        useful = [line for line in lines if line and not line.startswith("at ")]
        return useful[-1][:400] if useful else "(nothing on stderr)"

    def _read_message(self, doing: str) -> dict[str, Any]:
        while b"\n" not in self._buffer:
            if not self._selector.select(REQUEST_TIMEOUT_S):
                self._proc.kill()
                raise JsHostError(
                    f"the JS host did not answer within {REQUEST_TIMEOUT_S:.0f} s ({doing})"
                )
            assert self._proc.stdout is not None
            chunk = os.read(self._proc.stdout.fileno(), 1 << 16)
            if not chunk:
                code = self._proc.wait()
                raise JsHostError(
                    f"the JS host exited (code {code}) while {doing}: {self._stderr_line()}"
                )
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            message = json.loads(line)
        except ValueError as exc:
            raise JsHostError(
                f"the JS host wrote a line that is not JSON while {doing}: {line[:200]!r}"
            ) from exc
        if not isinstance(message, dict):
            raise JsHostError(f"the JS host wrote {message!r} while {doing}")
        return message

    def request(self, op: str, **fields: Any) -> Any:
        """Send one request and return its ``ok`` value, or raise what its error says."""
        if self._proc.poll() is not None:
            raise JsHostError(f"the JS host has exited: {self._stderr_line()}")
        payload = json.dumps({"op": op, **fields}).encode() + b"\n"
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.write(payload)
            self._proc.stdin.flush()
        except OSError as exc:
            raise JsHostError(f"cannot write to the JS host ({op}): {self._stderr_line()}") from exc
        message = self._read_message(op)
        if "ok" in message:
            return message["ok"]
        error = message.get("error")
        if not isinstance(error, dict):
            raise JsHostError(f"the JS host answered {op} with {message}")
        kind, text = error.get("kind"), str(error.get("message"))
        if kind == "guest":
            payload_value = error.get("payload")
            if isinstance(payload_value, dict):
                raise JsGuestError(
                    str(payload_value.get("kind")), str(payload_value.get("message"))
                )
            raise JsGuestError("unknown", str(payload_value))
        if kind == "trap":
            raise JsTrap(f"the guest trapped under V8: {text}")
        raise JsHostError(f"the JS host failed: {text}")

    def close(self) -> None:
        """Ask the host to exit; end it if it does not."""
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write(b'{"op": "shutdown"}\n')
                self._proc.stdin.flush()
                self._proc.stdin.close()
                self._proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._selector.close()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._stderr.close()


def hex_value(value: Any) -> bytes:
    """Bytes from the protocol's ``{"hex": ...}`` form."""
    if isinstance(value, dict) and isinstance(value.get("hex"), str):
        return bytes.fromhex(value["hex"])
    raise JsHostError(f"expected bytes from the JS host, got {value!r}")


def as_hex(data: bytes) -> dict[str, str]:
    """The protocol's form of bytes."""
    return {"hex": bytes(data).hex()}


class JsClock:
    """The run's clock inside the JS host, as the driver sees it (peek, advance_to)."""

    def __init__(self, host: JsHost) -> None:
        self._host = host

    def peek(self) -> int:
        """Current time in ms (no seam crossing)."""
        return int(self._host.request("clock_peek"))

    def advance_to(self, when_ms: int) -> None:
        """Move the clock forward to ``when_ms``."""
        self._host.request("clock_advance_to", ms=when_ms)


class JsRole:
    """A role running in a component instance inside the JS host (a ``RoleHandle``)."""

    def __init__(self, label: str, host: JsHost, instance: str, interface: str) -> None:
        self.label = label
        self.host = host
        self.instance = instance
        self.interface = interface

    def _call(self, name: str, *args: Any) -> Any:
        try:
            return self.host.request(
                "call", instance=self.instance, iface=self.interface, fn=name, args=list(args)
            )
        except JsGuestError as exc:
            raise RoleError(self.label, exc.kind, exc.guest_message) from exc

    def start_commissioner(self, passcode: int) -> RoleStatus:
        """Start as commissioner."""
        return js_status(self._call("start-commissioner", {"passcode": passcode}))

    def start_commissionee(self, verifier: bytes, salt: bytes, iterations: int) -> RoleStatus:
        """Start as commissionee."""
        config = {
            "verifier": as_hex(verifier),
            "pbkdf": {"iterations": iterations, "salt": as_hex(salt)},
        }
        return js_status(self._call("start-commissionee", config))

    def poll(self) -> RoleStatus:
        """Advance the session."""
        return js_status(self._call("poll"))

    def seal(self, protocol_id: int, opcode: int, payload: bytes) -> int:
        """Encrypt and send on the secure session."""
        return int(self._call("seal", protocol_id, opcode, as_hex(payload)))

    def open(self) -> Opened | None:
        """Receive and decrypt from the secure session."""
        message = self._call("open")
        if message is None:
            return None
        return Opened(
            int(message["protocol_id"]),
            int(message["opcode"]),
            hex_value(message["payload"]),
            int(message["message_counter"]),
        )

    def take_events(self) -> list[RoleEvent]:
        """The events the core recorded since the last call, oldest first."""
        return [RoleEvent(str(e["kind"]), int(e["at_ms"])) for e in self._call("take-events")]


def js_status(value: Any) -> RoleStatus:
    """A session-status record from the JS host, read by field name (fields it does not
    know are ignored, so the record may grow)."""
    try:
        failure = value.get("failure")
        deadline = value.get("next_deadline_ms")
        return RoleStatus(
            role=str(value["role"]),
            state=str(value["state"]),
            established=bool(value["established"]),
            local_session_id=int(value["local_session_id"]),
            peer_session_id=int(value["peer_session_id"]),
            transcript_hash=hex_value(value["transcript_hash"]),
            next_deadline_ms=None if deadline is None else int(deadline),
            failure=None
            if failure is None
            else Failure(
                str(failure["kind"]),
                str(failure["message"]),
                int(failure["general_code"]),
                int(failure["protocol_code"]),
            ),
            datagrams_sent=int(value["datagrams_sent"]),
            datagrams_received=int(value["datagrams_received"]),
            dropped=tuple(
                (str(entry["reason"]), int(entry["count"])) for entry in value.get("dropped", [])
            ),
            retransmissions=int(value.get("retransmissions", 0)),
            acks_sent=int(value.get("acks_sent", 0)),
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise JsHostError(f"a session status from the JS host lacks {exc}: {value!r}") from exc
