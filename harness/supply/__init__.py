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
    "Admission": "foreign",
    "AuditReport": "capabilities",
    "BUILD_KEY_NAME": "settings",
    "CORE_ROLE": "policy",
    "ComponentRejected": "chain",
    "DetachOutcome": "files",
    "GATE_KEY_NAME": "settings",
    "INSECURE_PERMISSIONS_ENV": "permissions",
    "InsecureKeyFile": "keys",
    "InsecureTrustStore": "trust",
    "NonCanonicalSignature": "signing",
    "Policy": "policy",
    "PolicyError": "policy",
    "PolicyViolation": "capabilities",
    "PublicKey": "keys",
    "RiskClass": "policy",
    "SIGNING_KEY_ENV": "settings",
    "SecretKey": "keys",
    "SignatureData": "signature_format",
    "SignatureError": "signing",
    "SignatureFileError": "files",
    "SignatureListing": "signature_listing",
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
    "WeakPublicKey": "keys",
    "admit_foreign": "foreign",
    "audit": "capabilities",
    "build_key_path": "keys",
    "check_core_imports": "capabilities",
    "describe_signatures": "signature_listing",
    "detach_signature_file": "files",
    "enforce": "capabilities",
    "generate_key_files": "files",
    "infer_role": "capabilities",
    "layout": "signature_format",
    "load_policy": "policy",
    "load_public_key": "keys",
    "load_secret_key": "keys",
    "read_component": "chain",
    "read_public_key_argument": "files",
    "save_public_key": "keys",
    "save_secret_key": "keys",
    "show_signature_file": "signature_listing",
    "sign": "signing",
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
        DetachOutcome,
        SignatureFileError,
        detach_signature_file,
        generate_key_files,
        read_public_key_argument,
        sign_component_file,
        verify_component_file,
    )
    from harness.supply.foreign import Admission, admit_foreign
    from harness.supply.keys import (
        InsecureKeyFile,
        PublicKey,
        SecretKey,
        WeakPublicKey,
        build_key_path,
        load_public_key,
        load_secret_key,
        save_public_key,
        save_secret_key,
    )
    from harness.supply.permissions import INSECURE_PERMISSIONS_ENV
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
    from harness.supply.signature_format import SignatureData, layout
    from harness.supply.signature_listing import (
        SignatureListing,
        describe_signatures,
        show_signature_file,
    )
    from harness.supply.signing import (
        NonCanonicalSignature,
        SignatureError,
        TamperedComponent,
        sign,
    )
    from harness.supply.trust import InsecureTrustStore, TrustedKey, TrustStore

__all__ = [
    "BUILD_KEY_NAME",
    "CORE_ROLE",
    "GATE_KEY_NAME",
    "INSECURE_PERMISSIONS_ENV",
    "SIGNING_KEY_ENV",
    "TRUST_MODE_ENV",
    "TRUST_STORE_ENV",
    "Admission",
    "AuditReport",
    "ComponentRejected",
    "DetachOutcome",
    "InsecureKeyFile",
    "InsecureTrustStore",
    "NonCanonicalSignature",
    "Policy",
    "PolicyError",
    "PolicyViolation",
    "PublicKey",
    "RiskClass",
    "SecretKey",
    "SignatureData",
    "SignatureError",
    "SignatureFileError",
    "SignatureListing",
    "SupplyChain",
    "SupplyChainError",
    "TamperedComponent",
    "TrustMode",
    "TrustSettings",
    "TrustStore",
    "TrustedKey",
    "Verification",
    "VerifiedComponent",
    "WeakPublicKey",
    "admit_foreign",
    "audit",
    "build_key_path",
    "check_core_imports",
    "describe_signatures",
    "detach_signature_file",
    "enforce",
    "generate_key_files",
    "infer_role",
    "layout",
    "load_policy",
    "load_public_key",
    "load_secret_key",
    "read_component",
    "read_public_key_argument",
    "save_public_key",
    "save_secret_key",
    "show_signature_file",
    "sign",
    "sign_component_file",
    "signed_content",
    "verify_component_file",
]
