"""Evidence: the hash-chained ledger, traceability data, the gate and its shared
context, one verifier module per claim family (one registry, one
:class:`~harness.evidence.verifiers.Evidence` type), and the reports.

Layer: above ``drive``; only ``cli`` imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.lazy import lazy_exports

#: Each public name and the module (in this package) that defines it.
EXPORTS = {
    "record_campaigns": "verifiers.fuzzing",
    "Evidence": "verifiers",
    "EvidenceLedger": "ledger",
    "GateContext": "context",
    "GateResult": "gate",
    "GateUsageError": "gate",
    "REGISTRY": "verifiers",
    "Verdict": "verifiers",
    "Verifier": "verifiers",
    "check_provenance": "merge",
    "load_artifacts": "traceability",
    "merge_ledgers": "merge",
    "read_records": "ledger",
    "render_ledger": "reports",
    "run_gate": "gate",
    "trace_validate": "trace_rules",
    "verifier": "verifiers",
    "verify_ledger": "ledger",
}

__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)

if TYPE_CHECKING:
    from harness.evidence.context import GateContext
    from harness.evidence.gate import GateResult, GateUsageError, run_gate
    from harness.evidence.ledger import EvidenceLedger, read_records, verify_ledger
    from harness.evidence.merge import check_provenance, merge_ledgers
    from harness.evidence.reports import render_ledger
    from harness.evidence.trace_rules import trace_validate
    from harness.evidence.traceability import load_artifacts
    from harness.evidence.verifiers import REGISTRY, Evidence, Verdict, Verifier, verifier
    from harness.evidence.verifiers.fuzzing import record_campaigns

__all__ = [
    "REGISTRY",
    "Evidence",
    "EvidenceLedger",
    "GateContext",
    "GateResult",
    "GateUsageError",
    "Verdict",
    "Verifier",
    "check_provenance",
    "load_artifacts",
    "merge_ledgers",
    "read_records",
    "record_campaigns",
    "render_ledger",
    "run_gate",
    "trace_validate",
    "verifier",
    "verify_ledger",
]
