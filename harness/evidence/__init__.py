"""Evidence: the hash-chained ledger, traceability data, the gate and its shared
context, one verifier module per claim family (one registry, one
:class:`~harness.evidence.verifiers.Evidence` type), the reports, and the conformance
suite that runs the checks on another implementation of the core world.

Layer: above ``drive``; only ``cli`` imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.lazy import lazy_exports

#: Each public name and the module (in this package) that defines it.
EXPORTS = {
    "CONTRACT_DIR": "contract",
    "ConformanceSuite": "contract",
    "ContractInputError": "contract",
    "DEFAULT_MUTATION_CACHE": "mutation_run",
    "DEFAULT_MUTATION_WORKDIR": "mutation_run",
    "ROLE_CHOICES": "contract",
    "SuiteResult": "contract",
    "Evidence": "verifiers",
    "EvidenceLedger": "ledger",
    "ExpectedText": "spike",
    "GateContext": "context",
    "GateResult": "gate",
    "GateUsageError": "gate",
    "REGISTRY": "verifiers",
    "SPIKE_CLAIM_ID": "spike",
    "SpikeSubject": "spike",
    "Shard": "mutation",
    "campaign_evidence": "verifiers",
    "fuzz_evidence": "verifiers",
    "find_expected": "spike",
    "Verdict": "verifiers",
    "Verifier": "verifiers",
    "check_names": "contract",
    "check_provenance": "merge",
    "contract_artifacts": "contract",
    "contract_checks": "contract",
    "format_mutation_table": "mutation",
    "inspect_candidate": "contract",
    "load_equivalents": "mutation",
    "load_artifacts": "traceability",
    "merge_ledgers": "merge",
    "read_records": "ledger",
    "record_evidence": "gate",
    "render_ledger": "reports",
    "run_campaign": "mutation_run",
    "run_gate": "gate",
    "load_claims": "gate",
    "select_claims": "gate",
    "spike_claim": "spike",
    "spike_evidence": "spike",
    "trace_validate": "trace_rules",
    "utc_now_iso": "ledger_schema",
    "verifier": "verifiers",
    "verify_ledger": "ledger",
}

__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)

if TYPE_CHECKING:
    from harness.evidence.context import GateContext
    from harness.evidence.contract import (
        CONTRACT_DIR,
        ROLE_CHOICES,
        ConformanceSuite,
        ContractInputError,
        SuiteResult,
        check_names,
        contract_artifacts,
        contract_checks,
        inspect_candidate,
    )
    from harness.evidence.gate import (
        GateResult,
        GateUsageError,
        load_claims,
        record_evidence,
        run_gate,
        select_claims,
    )
    from harness.evidence.ledger import EvidenceLedger, read_records, verify_ledger
    from harness.evidence.ledger_schema import utc_now_iso
    from harness.evidence.merge import check_provenance, merge_ledgers
    from harness.evidence.mutation import Shard, format_mutation_table, load_equivalents
    from harness.evidence.mutation_run import (
        DEFAULT_MUTATION_CACHE,
        DEFAULT_MUTATION_WORKDIR,
        run_campaign,
    )
    from harness.evidence.reports import render_ledger
    from harness.evidence.spike import (
        SPIKE_CLAIM_ID,
        ExpectedText,
        SpikeSubject,
        find_expected,
        spike_claim,
        spike_evidence,
    )
    from harness.evidence.trace_rules import trace_validate
    from harness.evidence.traceability import load_artifacts
    from harness.evidence.verifiers import (
        REGISTRY,
        Evidence,
        Verdict,
        Verifier,
        campaign_evidence,
        fuzz_evidence,
        verifier,
    )

__all__ = [
    "CONTRACT_DIR",
    "DEFAULT_MUTATION_CACHE",
    "DEFAULT_MUTATION_WORKDIR",
    "REGISTRY",
    "ROLE_CHOICES",
    "SPIKE_CLAIM_ID",
    "ConformanceSuite",
    "ContractInputError",
    "Evidence",
    "EvidenceLedger",
    "ExpectedText",
    "GateContext",
    "GateResult",
    "GateUsageError",
    "Shard",
    "SpikeSubject",
    "SuiteResult",
    "Verdict",
    "Verifier",
    "campaign_evidence",
    "check_names",
    "check_provenance",
    "contract_artifacts",
    "contract_checks",
    "find_expected",
    "format_mutation_table",
    "fuzz_evidence",
    "inspect_candidate",
    "load_artifacts",
    "load_claims",
    "load_equivalents",
    "merge_ledgers",
    "read_records",
    "record_evidence",
    "render_ledger",
    "run_campaign",
    "run_gate",
    "select_claims",
    "spike_claim",
    "spike_evidence",
    "trace_validate",
    "utc_now_iso",
    "verifier",
    "verify_ledger",
]
