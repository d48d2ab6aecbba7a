"""The supply chain: keys, the signature format, signing, the trust store and trust
settings, the capability policy and import audit, and the facade that verifies
component bytes and hands exactly those bytes to the runtime.

Layer: above ``runtime``; never imports ``build``, ``drive``, ``evidence`` or ``cli``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.lazy import lazy_exports

#: Each public name and the module (in this package) that defines it.
EXPORTS = {
    "AuditReport": "capabilities",
    "BUILD_KEY_NAME": "settings",
    "CORE_ROLE": "policy",
    "ComponentRejected": "chain",
    "GATE_KEY_NAME": "settings",
    "Policy": "policy",
    "PolicyError": "policy",
    "PolicyViolation": "capabilities",
    "PublicKey": "keys",
    "RiskClass": "policy",
    "SIGNING_KEY_ENV": "settings",
    "SecretKey": "keys",
    "SignatureError": "signing",
    "SupplyChain": "chain",
    "SupplyChainError": "settings",
    "TRUST_MODE_ENV": "settings",
    "TRUST_STORE_ENV": "settings",
    "TamperedComponent": "signing",
    "TrustMode": "settings",
    "TrustSettings": "settings",
    "TrustStore": "trust",
    "TrustedKey": "trust",
    "Verification": "chain",
    "VerifiedComponent": "chain",
    "audit": "capabilities",
    "check_core_imports": "capabilities",
    "enforce": "capabilities",
    "generate_key_files": "files",
    "infer_role": "capabilities",
    "layout": "signature_format",
    "load_policy": "policy",
    "load_public_key": "keys",
    "load_secret_key": "keys",
    "read_component": "chain",
    "read_public_key_argument": "files",
    "sign_component_file": "files",
    "signed_content": "chain",
    "verify_component_file": "files",
}

__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)

if TYPE_CHECKING:
    from harness.supply.capabilities import (
        AuditReport,
        PolicyViolation,
        audit,
        check_core_imports,
        enforce,
        infer_role,
    )
    from harness.supply.chain import (
        ComponentRejected,
        SupplyChain,
        Verification,
        VerifiedComponent,
        read_component,
        signed_content,
    )
    from harness.supply.files import (
        generate_key_files,
        read_public_key_argument,
        sign_component_file,
        verify_component_file,
    )
    from harness.supply.keys import PublicKey, SecretKey, load_public_key, load_secret_key
    from harness.supply.policy import CORE_ROLE, Policy, PolicyError, RiskClass, load_policy
    from harness.supply.settings import (
        BUILD_KEY_NAME,
        GATE_KEY_NAME,
        SIGNING_KEY_ENV,
        TRUST_MODE_ENV,
        TRUST_STORE_ENV,
        SupplyChainError,
        TrustMode,
        TrustSettings,
    )
    from harness.supply.signature_format import layout
    from harness.supply.signing import SignatureError, TamperedComponent
    from harness.supply.trust import TrustedKey, TrustStore

__all__ = [
    "BUILD_KEY_NAME",
    "CORE_ROLE",
    "GATE_KEY_NAME",
    "SIGNING_KEY_ENV",
    "TRUST_MODE_ENV",
    "TRUST_STORE_ENV",
    "AuditReport",
    "ComponentRejected",
    "Policy",
    "PolicyError",
    "PolicyViolation",
    "PublicKey",
    "RiskClass",
    "SecretKey",
    "SignatureError",
    "SupplyChain",
    "SupplyChainError",
    "TamperedComponent",
    "TrustMode",
    "TrustSettings",
    "TrustStore",
    "TrustedKey",
    "Verification",
    "VerifiedComponent",
    "audit",
    "check_core_imports",
    "enforce",
    "generate_key_files",
    "infer_role",
    "layout",
    "load_policy",
    "load_public_key",
    "load_secret_key",
    "read_component",
    "read_public_key_argument",
    "sign_component_file",
    "signed_content",
    "verify_component_file",
]
