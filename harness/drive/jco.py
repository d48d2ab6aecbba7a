"""The jco placement: the same handshake and secure-session probe, on Node's V8.

Every claim but this one rests on wasmtime. Here the component's signature and
capability policy are checked exactly as for wasmtime
(:meth:`~harness.supply.SupplyChain.verify_for_role`), the verified bytes are transpiled
by jco (:mod:`harness.build.jco`, cached by component digest and jco version) and run by
the JS host (:mod:`harness.drive.jshost`) with the seams re-implemented in JS
(``jshost/seams.mjs``: the same HMAC-DRBG convention, virtual clock and loopback). The
driver loop is Python's own :func:`~harness.drive.driver.drive_handshake`, so the poll
order and clock advance are the ones every other placement uses.

V8 has no fuel: a run here reports no fuel figures and the resource limits of
:class:`~harness.runtime.Limits` are not enforced (a finding, in the README).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.build import GraphRoles, Transpiled, composed_roles, find_node, transpile_cached
from harness.drive.config import RunConfig
from harness.drive.conformance import SPAKE2P_FIELDS, ConformanceCallError, Spake2pInput
from harness.drive.driver import (
    HandshakeParams,
    SecureSessionProofError,
    drive_handshake,
    prove_secure_session,
)
from harness.drive.jshost import JsClock, JsGuestError, JsHost, JsRole, JsTrap, as_hex, hex_value
from harness.drive.placements import RunReport, handshake_params
from harness.errors import ComposedRunError, RunConfigError
from harness.seams import PacketRecord, SeamCounters
from harness.supply import SupplyChain, VerifiedComponent
from harness.wit import COMMISSIONEE, COMMISSIONER, CONFORMANCE, ROLES, SESSION_CONTROL

Progress = Callable[[str], None]

RUNTIME_NAME = "jco"
"""The value of :attr:`RunReport.runtime` for runs on V8."""


@dataclass(frozen=True)
class JcoTarget:
    """What the JS host runs: the core (one instance per role) or the composed graph.

    ``roles``: which export of a composed graph plays which part (default: the roles its
    manifest records).
    """

    path: Path
    composed: bool
    roles: GraphRoles | None = None

    @property
    def policy_role(self) -> str:
        """The capability-policy role the component is checked against."""
        return "composed" if self.composed else "core"


def prepare(
    target: JcoTarget,
    chain: SupplyChain,
    build_dir: Path,
    timings: dict[str, float],
    progress: Progress | None = None,
) -> tuple[Transpiled, JsHost, VerifiedComponent]:
    """Verify ``target`` (signature, then policy), transpile the verified bytes, start
    the JS host; the verified component too."""
    verified = chain.verify_for_role(target.path, role=target.policy_role, timings=timings)
    node = find_node()
    transpiled = transpile_cached(
        verified.data, build_dir / "jco", node=node, label=str(target.path), progress=progress
    )
    timings["transpile"] = transpiled.seconds
    started = time.perf_counter()
    host = JsHost(node)
    timings["node_start"] = time.perf_counter() - started
    return transpiled, host, verified


def run_jco(
    config: RunConfig,
    target: JcoTarget,
    chain: SupplyChain,
    build_dir: Path,
    *,
    progress: Progress | None = None,
) -> RunReport:
    """PASE between the two roles of ``target`` on V8; the report of the run."""
    if config.fault is not None:
        raise RunConfigError("fault injection is not available on the jco runtime")
    if config.faults is not None:
        # Refused, never ignored: a run that was asked for faults must not pass unfaulted.
        raise RunConfigError(
            "link faults (--faults) are not available on the jco runtime yet: the JS "
            "host's loopback has no fault model; run them on wasmtime (the default runtime)"
        )
    params = handshake_params(config)
    timings: dict[str, float] = {}
    transpiled, host, verified = prepare(target, chain, build_dir, timings, progress)
    roles = target.roles if target.roles is not None else composed_roles(verified.data)
    where = f"the composed graph {target.path.name}"
    with host:
        host.request(
            "seams",
            seed=None if config.seed is None else str(config.seed),
            real_clock=config.real_clock,
            roles=list(ROLES),
        )
        started = time.perf_counter()
        module = str(transpiled.entry)
        if target.composed:
            host.request(
                "instantiate", module=module, name="graph", role=COMMISSIONER, transport=False
            )
            drivers = (
                JsRole(COMMISSIONER, host, "graph", roles.require(COMMISSIONER, where)),
                JsRole(COMMISSIONEE, host, "graph", roles.require(COMMISSIONEE, where)),
            )
        else:
            for role in ROLES:
                host.request("instantiate", module=module, name=role, role=role, transport=True)
            drivers = (
                JsRole(COMMISSIONER, host, COMMISSIONER, SESSION_CONTROL),
                JsRole(COMMISSIONEE, host, COMMISSIONEE, SESSION_CONTROL),
            )
        timings["instantiate"] = time.perf_counter() - started
        report = _drive(config, host, drivers, params, timings, composed=target.composed)
        if target.composed and roles.transport_stats is not None:
            _transport_stats(host, report, roles.transport_stats)
    return report


def _drive(
    config: RunConfig,
    host: JsHost,
    roles: tuple[JsRole, JsRole],
    params: HandshakeParams,
    timings: dict[str, float],
    *,
    composed: bool,
) -> RunReport:
    try:
        outcome = drive_handshake(roles[0], roles[1], JsClock(host), params)
    except JsTrap as exc:
        raise JsTrap(f"{exc} (during the handshake)") from exc
    timings["handshake"] = outcome.seconds
    report = RunReport("composed" if composed else "component", config, outcome, {}, [], timings)
    report.runtime = RUNTIME_NAME
    if outcome.established:
        try:
            prove_secure_session(roles[0], roles[1], outcome, config.seed)
            timings["secure_session"] = outcome.secure_seconds
        except SecureSessionProofError as exc:
            report.error = str(exc)
    seen = host.request("seam_report")
    counters = {role: SeamCounters(**seen["counters"][role]) for role in ROLES}
    report.seams = {"graph": counters[COMMISSIONER]} if composed else counters
    report.trace = [
        PacketRecord(str(p["direction"]), int(p["time_ms"]), hex_value(p["data"]))
        for p in seen["trace"]
    ]
    return report


def _transport_stats(host: JsHost, report: RunReport, export: str) -> None:
    try:
        stats = host.request("call", instance="graph", iface=export, fn="stats", args=[])
    except JsGuestError as exc:
        raise ComposedRunError(f"the graph's {export} failed: {exc}") from exc
    a_to_b, b_to_a = stats["a_to_b"], stats["b_to_a"]
    report.transport_stats = {
        "commissioner->commissionee packets": int(a_to_b["packets"]),
        "commissioner->commissionee bytes": int(a_to_b["bytes"]),
        "commissionee->commissioner packets": int(b_to_a["packets"]),
        "commissionee->commissioner bytes": int(b_to_a["bytes"]),
        "dropped": int(stats["dropped"]),
    }
    report.traffic_digest = hex_value(stats["traffic_digest"])


class JsConformance:
    """The core component's ``conformance`` export on V8 (a ``ConformanceTarget``)."""

    label = "core component on V8 (jco)"

    def __init__(self, host: JsHost, instance: str) -> None:
        self.host = host
        self.instance = instance

    def _call(self, name: str, *args: Any) -> Any:
        try:
            return self.host.request(
                "call", instance=self.instance, iface=CONFORMANCE, fn=name, args=list(args)
            )
        except JsGuestError as exc:
            raise ConformanceCallError(f"{name} returned an error: {exc}") from exc
        except JsTrap as exc:
            raise ConformanceCallError(f"{name}: {exc}") from exc

    def passcode_verifier(self, passcode: int, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
        """PBKDF2 output and verifier, computed on V8."""
        value = self._call("passcode-verifier", passcode, as_hex(salt), iterations)
        return hex_value(value[0]), hex_value(value[1])

    def spake2p_exchange(self, inputs: Spake2pInput) -> dict[str, bytes]:
        """The exchange's values, computed on V8."""
        value = self._call(
            "spake2p-exchange",
            {
                "context": as_hex(inputs.context),
                "id_prover": as_hex(inputs.id_prover),
                "id_verifier": as_hex(inputs.id_verifier),
                "w0": as_hex(inputs.w0),
                "w1": as_hex(inputs.w1),
                "x": as_hex(inputs.x),
                "y": as_hex(inputs.y),
            },
        )
        return {key: hex_value(value[key]) for _, key in SPAKE2P_FIELDS}

    def session_keys(self, ke: bytes) -> bytes:
        """Session keys, derived on V8."""
        return hex_value(self._call("session-keys", as_hex(ke)))

    def ccm_decrypt(self, key: bytes, nonce: bytes, aad: bytes, data: bytes) -> bytes:
        """AES-CCM open, on V8."""
        return hex_value(
            self._call("ccm-decrypt", as_hex(key), as_hex(nonce), as_hex(aad), as_hex(data))
        )

    def ccm_encrypt(self, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        """AES-CCM seal, on V8."""
        return hex_value(
            self._call("ccm-encrypt", as_hex(key), as_hex(nonce), as_hex(aad), as_hex(plaintext))
        )


def open_conformance(
    core_path: Path, chain: SupplyChain, build_dir: Path, progress: Progress | None = None
) -> tuple[JsConformance, JsHost]:
    """A core instance on V8 for the conformance export (the caller closes the host)."""
    timings: dict[str, float] = {}
    transpiled, host, _ = prepare(JcoTarget(core_path, False), chain, build_dir, timings, progress)
    try:
        host.request("seams", seed="0", real_clock=False, roles=list(ROLES))
        host.request(
            "instantiate",
            module=str(transpiled.entry),
            name="conformance",
            role=COMMISSIONER,
            transport=True,
        )
    except BaseException:
        host.close()
        raise
    return JsConformance(host, "conformance"), host
