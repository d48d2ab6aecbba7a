"""The gate's verifiers: one module per claim family, one registry, one return type.

Importing this package registers every verifier in :data:`REGISTRY`:

| module        | claims | what is checked                                              |
|---------------|--------|--------------------------------------------------------------|
| ``runs``      | C1-C5  | the core's imports, handshakes, determinism, negative paths  |
| ``seams``     | C6     | branch coverage of the host seam glue                        |
| ``vectors``   | C7     | conformance vectors computed in the component                |
| ``network``   | C8, C9 | strays at every step stop nothing; the graph survives loss   |
| ``signatures``| S1     | signatures verify; tampered copies are refused               |
| ``policy``    | S2     | the capability policy holds; WASI probes are refused         |
| ``limits``    | S3     | each resource limit stops a runaway guest                    |
| ``runtimes``  | C10    | the same transcript and vectors under V8 (jco) and wasmtime  |
| ``reproducibility`` | E3 | a rebuilt core computes the same transcript and vectors  |
| ``fuzzing``   | E2     | fuzz campaigns: no trap, untyped error, hang or divergence   |
| ``mutation``  | E1     | mutmut's score per ``matter_core`` module (a seeded sample)  |

A check a claim needs lives here, not in the library it checks.
"""

from __future__ import annotations

from harness.evidence.verifiers import (
    fuzzing,
    limits,
    mutation,
    network,
    policy,
    reproducibility,
    runs,
    runtimes,
    seams,
    signatures,
    vectors,
)
from harness.evidence.verifiers.base import REGISTRY, Evidence, Verdict, Verifier, verifier
from harness.evidence.verifiers.fuzzing import fuzz_evidence
from harness.evidence.verifiers.mutation import campaign_evidence
from harness.evidence.verifiers.seams import SEAM_MODULES, exercise_seams, start_seam_coverage

#: The claim-family modules, imported for their side effect of registering verifiers.
FAMILIES = (
    runs,
    seams,
    vectors,
    network,
    runtimes,
    signatures,
    policy,
    limits,
    reproducibility,
    fuzzing,
    mutation,
)

__all__ = [
    "FAMILIES",
    "REGISTRY",
    "SEAM_MODULES",
    "Evidence",
    "Verdict",
    "Verifier",
    "campaign_evidence",
    "exercise_seams",
    "fuzz_evidence",
    "start_seam_coverage",
    "verifier",
]
