"""Driving PASE: the handshake driver, role handles, the placements (native, one
component per role, the composed graph), the UDP peer, the conformance runner.

Layer: above ``build``, ``supply``, ``seams`` and ``runtime``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.lazy import lazy_exports

#: Each public name and the module (in this package) that defines it.
EXPORTS = {
    "ComponentRole": "roles",
    "DEFAULT_ITERATIONS": "config",
    "DEFAULT_PASSCODE": "config",
    "DEFAULT_SALT": "config",
    "DEFAULT_SEED": "config",
    "GraphLink": "composed",
    "HandshakeOutcome": "driver",
    "HandshakeParams": "driver",
    "Injector": "driver",
    "Link": "driver",
    "LinkAdversary": "driver",
    "NativeRole": "roles",
    "PeerConfig": "peer",
    "PeerConfigError": "peer",
    "PeerResult": "peer",
    "RoleError": "roles",
    "RoleStatus": "roles",
    "RunConfig": "config",
    "RunReport": "placements",
    "Seams": "placements",
    "config_from_options": "peer",
    "describe_failure": "driver",
    "drive_and_prove": "placements",
    "drive_handshake": "driver",
    "handshake_params": "placements",
    "instantiate_conformance": "conformance",
    "load_vectors": "conformance",
    "prove_secure_session": "driver",
    "run_component": "placements",
    "run_composed": "composed",
    "run_conformance": "conformance",
    "run_native": "placements",
    "run_peer": "peer",
    "summary_lines": "peer",
}

__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)

if TYPE_CHECKING:
    from harness.drive.composed import GraphLink, run_composed
    from harness.drive.config import (
        DEFAULT_ITERATIONS,
        DEFAULT_PASSCODE,
        DEFAULT_SALT,
        DEFAULT_SEED,
        RunConfig,
    )
    from harness.drive.conformance import instantiate_conformance, load_vectors, run_conformance
    from harness.drive.driver import (
        HandshakeOutcome,
        HandshakeParams,
        Injector,
        Link,
        LinkAdversary,
        describe_failure,
        drive_handshake,
        prove_secure_session,
    )
    from harness.drive.peer import (
        PeerConfig,
        PeerConfigError,
        PeerResult,
        config_from_options,
        run_peer,
        summary_lines,
    )
    from harness.drive.placements import (
        RunReport,
        Seams,
        drive_and_prove,
        handshake_params,
        run_component,
        run_native,
    )
    from harness.drive.roles import ComponentRole, NativeRole, RoleError, RoleStatus

__all__ = [
    "DEFAULT_ITERATIONS",
    "DEFAULT_PASSCODE",
    "DEFAULT_SALT",
    "DEFAULT_SEED",
    "ComponentRole",
    "GraphLink",
    "HandshakeOutcome",
    "HandshakeParams",
    "Injector",
    "Link",
    "LinkAdversary",
    "NativeRole",
    "PeerConfig",
    "PeerConfigError",
    "PeerResult",
    "RoleError",
    "RoleStatus",
    "RunConfig",
    "RunReport",
    "Seams",
    "config_from_options",
    "describe_failure",
    "drive_and_prove",
    "drive_handshake",
    "handshake_params",
    "instantiate_conformance",
    "load_vectors",
    "prove_secure_session",
    "run_component",
    "run_composed",
    "run_conformance",
    "run_native",
    "run_peer",
    "summary_lines",
]
