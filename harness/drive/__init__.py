"""Driving PASE: the handshake driver, role handles, the placements (native, one
component per role, the composed graph), the UDP peer, the conformance runner.

Layer: above ``build``, ``supply``, ``seams`` and ``runtime``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.lazy import lazy_exports

#: Each public name and the module (in this package) that defines it.
EXPORTS = {
    "CampaignResult": "fuzzing",
    "FuzzError": "fuzz_cases",
    "FUZZ_TARGETS": "fuzz_targets",
    "REGRESSIONS_DIR": "fuzzing",
    "capture_handshake": "fuzz_cases",
    "make_target": "fuzzing",
    "parse_shard": "fuzz_cases",
    "pick_engine": "fuzzing",
    "run_atheris": "fuzzing",
    "run_campaign": "fuzzing",
    "ComponentRole": "roles",
    "config_from_options": "peer_config",
    "ConformanceCallError": "conformance",
    "DEFAULT_ITERATIONS": "config",
    "DEFAULT_LINGER_MS": "config",
    "DEFAULT_PASSCODE": "config",
    "DEFAULT_SALT": "config",
    "DEFAULT_SEED": "config",
    "describe_failure": "driver",
    "drive_and_prove": "placements",
    "drive_handshake": "driver",
    "GraphLink": "composed",
    "handshake_params": "placements",
    "HandshakeOutcome": "driver",
    "HandshakeParams": "driver",
    "Injector": "driver",
    "instantiate_conformance": "conformance",
    "JcoTarget": "jco",
    "JsConformance": "jco",
    "Link": "driver",
    "LinkAdversary": "driver",
    "load_vectors": "conformance",
    "NativeRole": "roles",
    "open_conformance": "jco",
    "PeerConfig": "peer_config",
    "PeerConfigError": "peer_config",
    "PeerResult": "peer",
    "prove_secure_session": "driver",
    "RoleError": "roles",
    "RoleStatus": "roles",
    "run_component": "placements",
    "run_composed": "composed",
    "run_conformance": "conformance",
    "run_jco": "jco",
    "run_native": "placements",
    "run_peer": "peer",
    "RunConfig": "config",
    "check_passcode": "params",
    "check_pbkdf_params": "params",
    "check_run_config": "params",
    "RunReport": "placements",
    "Seams": "placements",
    "SPAKE2P_FIELDS": "conformance",
    "summary_lines": "peer",
    "WatchingAdversary": "driver",
}

__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)

if TYPE_CHECKING:
    from harness.drive.composed import GraphLink, run_composed
    from harness.drive.config import (
        DEFAULT_ITERATIONS,
        DEFAULT_LINGER_MS,
        DEFAULT_PASSCODE,
        DEFAULT_SALT,
        DEFAULT_SEED,
        RunConfig,
    )
    from harness.drive.conformance import (
        SPAKE2P_FIELDS,
        ConformanceCallError,
        instantiate_conformance,
        load_vectors,
        run_conformance,
    )
    from harness.drive.driver import (
        HandshakeOutcome,
        HandshakeParams,
        Injector,
        Link,
        LinkAdversary,
        WatchingAdversary,
        describe_failure,
        drive_handshake,
        prove_secure_session,
    )
    from harness.drive.fuzz_cases import FuzzError, capture_handshake, parse_shard
    from harness.drive.fuzz_targets import FUZZ_TARGETS
    from harness.drive.fuzzing import (
        REGRESSIONS_DIR,
        CampaignResult,
        make_target,
        pick_engine,
        run_atheris,
        run_campaign,
    )
    from harness.drive.jco import JcoTarget, JsConformance, open_conformance, run_jco
    from harness.drive.params import check_passcode, check_pbkdf_params, check_run_config
    from harness.drive.peer import PeerResult, run_peer, summary_lines
    from harness.drive.peer_config import PeerConfig, PeerConfigError, config_from_options
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
    "DEFAULT_LINGER_MS",
    "DEFAULT_PASSCODE",
    "DEFAULT_SALT",
    "DEFAULT_SEED",
    "FUZZ_TARGETS",
    "REGRESSIONS_DIR",
    "SPAKE2P_FIELDS",
    "CampaignResult",
    "ComponentRole",
    "ConformanceCallError",
    "FuzzError",
    "GraphLink",
    "HandshakeOutcome",
    "HandshakeParams",
    "Injector",
    "JcoTarget",
    "JsConformance",
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
    "WatchingAdversary",
    "capture_handshake",
    "check_passcode",
    "check_pbkdf_params",
    "check_run_config",
    "config_from_options",
    "describe_failure",
    "drive_and_prove",
    "drive_handshake",
    "handshake_params",
    "instantiate_conformance",
    "load_vectors",
    "make_target",
    "open_conformance",
    "parse_shard",
    "pick_engine",
    "prove_secure_session",
    "run_atheris",
    "run_campaign",
    "run_component",
    "run_composed",
    "run_conformance",
    "run_jco",
    "run_native",
    "run_peer",
    "summary_lines",
]
