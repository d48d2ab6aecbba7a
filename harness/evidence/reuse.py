"""Evidence reuse (``gate --reuse``): a claim whose inputs are unchanged is not re-verified.

Every gate record carries ``inputs["gate-inputs"]``, the SHA-256 of everything its verdict
depends on (:func:`reuse_key`): the claim (id, verifier, parameters), the project's
sources (:func:`source_digest`: the harness, the components' sources, the tests, the
traceability data, the WIT), every component file of the gated graph (a foreign file's
digest), the graph file, the seed, the resource limits, the trust configuration, whether
seam coverage is measured, and the versions of Python, wasmtime, componentize-py and
cryptography. With ``--reuse``, a claim whose key equals that of a passing (or
not-applicable) record of an earlier gate run in the same ledger gets a new record that
repeats that verdict and names the record it came from (``figures["reused"]``); anything
else runs. A gated claim's failure, an error and a skip are never reused: they always run
again; a claim that does not gate (E1 today) repeats its failure too, since it cannot
change the gate's outcome.

This is a cache, as a build system caches test results: it trusts the ledger as much as
the sources. A component the project builds is named, not hashed: its bytes follow from
the sources and the toolchain, and hashing it would mean building it first. The ledger's
hash chain shows a record was not altered after it was written, not who wrote it, so
whoever can write the ledger could plant a record with a matching key. That is why reuse
is off unless asked for: a CI gate on a fresh clone runs everything (its ledger starts
empty anyway), and a local warm run opts in.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.evidence.context import GateContext
from harness.evidence.ledger import Record
from harness.evidence.traceability import VerificationClaim as Claim
from harness.project import PROJECT_ROOT, file_sha256, files_digest
from harness.supply import SupplyChain

#: The record input that holds a claim's reuse key.
REUSE_INPUT = "gate-inputs"

#: What the project's evidence depends on, relative to the project root: the directories
#: are walked (minus :data:`SKIPPED_DIRS`), the files read as they are.
SOURCE_DIRS = ("harness", "components", "tests", "traceability", "wit", "jshost")
SOURCE_FILES = ("pyproject.toml", "conftest.py")
#: Generated or installed trees inside the source directories (never sources).
SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "build", "dist"})

#: Verdicts a later run may repeat: a failure or an error always runs again.
REUSABLE_VERDICTS = frozenset({"pass", "not-applicable"})
#: A claim that does not gate cannot change the gate's outcome, so its failure with the
#: same inputs is repeated too (a seeded campaign gives the same verdict again); an error
#: (the verifier could not reach a verdict) or a skip always runs again.
NON_GATING_REUSABLE = REUSABLE_VERDICTS | {"fail"}


def source_files(root: Path = PROJECT_ROOT) -> list[Path]:
    """The project's source files, sorted by path (hidden entries and generated trees
    left out)."""
    found = [root / name for name in SOURCE_FILES if (root / name).is_file()]
    for top in SOURCE_DIRS:
        # os.walk, pruned: an installed tree (node_modules) is never entered.
        for folder, dirs, files in os.walk(root / top):
            dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(".")]
            found.extend(
                Path(folder, name)
                for name in files
                if not name.startswith(".") and not name.endswith((".pyc", ".pyo"))
            )
    return sorted(found)


def source_digest(root: Path = PROJECT_ROOT) -> str:
    """SHA-256 over the relative path and the bytes of every source file: any edit,
    addition, removal or rename changes it."""
    return files_digest(root, source_files(root))


@dataclass(frozen=True)
class ReuseBase:
    """The inputs shared by every claim of one gate run (see the module docstring)."""

    sources: str
    components: Mapping[str, str]
    roles: Mapping[str, Sequence[str]]
    graph: str
    seed: int
    limits: Mapping[str, Any]
    trust: Sequence[str]
    require_signed: bool
    coverage: bool
    tools: Mapping[str, str]
    selection: Sequence[str]


def reuse_key(claim: Claim, base: ReuseBase, *, run_last: bool = False) -> str:
    """The SHA-256 of what ``claim``'s verdict depends on in a run with ``base``.

    ``run_last`` claims (seam coverage) measure the whole run, so the claims selected
    for it are part of their key; every other claim stands alone.
    """
    shared = asdict(base)
    if not run_last:
        shared.pop("selection")
    body = {
        "claim": claim.id,
        "verifier": claim.verifier,
        "parameters": claim.parameters,
        "gated": claim.gates_ci,
        **shared,
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def reusable_records(
    records: Iterable[Record], verdicts: Collection[str] = REUSABLE_VERDICTS
) -> dict[str, Record]:
    """The latest gate record per reuse key whose verdict is one of ``verdicts``
    (campaign records have no key)."""
    found: dict[str, Record] = {}
    for record in records:
        key = record.inputs.get(REUSE_INPUT)
        if key is not None and record.verdict in verdicts:
            found[key] = record
    return found


def origin_of(record: Record) -> dict[str, Any]:
    """Where the evidence of ``record`` was found: the record itself, or (for a record
    that reused another) the run that actually verified the claim."""
    earlier = record.figures.get("reused")
    if isinstance(earlier, dict) and "record" in earlier:
        return dict(earlier)
    return {
        "run_id": record.run_id,
        "record": record.hash,
        "started_at": record.started_at,
        "duration_s": record.duration_s,
    }


def trust_inputs(chain: SupplyChain) -> list[str]:
    """What a verdict reached under ``chain`` depends on, stably across runs: the mode,
    who signs, the trust store's bytes (not the key a gate run generates for itself)."""
    if chain.run_key is not None:
        signer = "a key generated per gate run"
    elif chain.settings.signing_key is not None:
        signer = chain.build_signer().public_key.fingerprint
    else:
        signer = "the build key"
    store = chain.store.path
    stored = file_sha256(store) if store.is_file() else "no trust store file"
    return [f"mode {chain.mode.value}", f"signer {signer}", f"trust store {stored}"]


def reuse_base(
    ctx: GateContext, tools: Mapping[str, str], measure_coverage: bool, claims: Sequence[Claim]
) -> ReuseBase:
    """What every claim of the run ``ctx`` serves depends on."""
    described = ctx.subject.describe()
    return ReuseBase(
        sources=source_digest(),
        components=ctx.node_identities(),
        roles={node: entry["roles"] for node, entry in described["components"].items()},
        graph=file_sha256(ctx.graph),
        seed=ctx.seed,
        limits=asdict(ctx.limits),
        trust=trust_inputs(ctx.supply_chain),
        require_signed=ctx.require_signed,
        coverage=measure_coverage,
        tools=dict(tools),
        selection=[c.id for c in claims],
    )


def claim_keys(
    claims: Sequence[Claim], base: ReuseBase, run_last: Collection[str]
) -> dict[str, str]:
    """Each claim's reuse key in the run ``base`` describes (``run_last``: the verifiers
    that measure the whole run)."""
    return {c.id: reuse_key(c, base, run_last=c.verifier in run_last) for c in claims}


def plan_reuse(
    records: Iterable[Record],
    claims: Sequence[Claim],
    keys: Mapping[str, str],
    measure_coverage: bool,
    run_last: Collection[str],
) -> dict[str, Record]:
    """The earlier record each claim can repeat (claims without one run): a passing or
    not-applicable one, or for a claim that does not gate also a failing one.

    Seam coverage is measured over the whole run: when a claim measuring it must run
    again, nothing is reused, so that it measures every claim's seam crossings.
    """
    records = list(records)
    gating = reusable_records(records)
    other = reusable_records(records, NON_GATING_REUSABLE)
    found = {}
    for c in claims:
        index = gating if c.gates_ci else other
        if keys[c.id] in index:
            found[c.id] = index[keys[c.id]]
    must_measure = [
        c for c in claims if c.verifier in run_last and c.id not in found and measure_coverage
    ]
    return {} if must_measure else found
