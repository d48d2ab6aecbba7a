"""The CI gate: run every claim's verifier and append one evidence record per claim.

Verifiers are registered by name (the ``verifier`` field of a claim in
``traceability/``, see :mod:`harness.evidence.verifiers`). Each returns
:class:`~harness.evidence.verifiers.Evidence`; a verifier that raises produces an
``error`` record, never a crash of the gate. The gate passes only when every gated claim
has a passing record from this run and at least ``min_claims`` claims passed; the
command line turns that into exit code 0 or 1 (2 for usage or environment errors).

Work shared between claims (building, composing, the seeded runs) is done once per gate
run and reused, through :class:`~harness.evidence.context.GateContext`.

**Any graph.** The gate checks the graph its context names (the project's own by
default; ``gate --graph``/``--component``). A claim that needs something that graph lacks
is recorded ``not-applicable`` with the reason (:func:`not_applicable_reason`): never
skipped silently, never a pass; a gated claim that is not applicable does not fail the
gate. Claims about one core file (:data:`PER_CORE`) run once per distinct core file of
a heterogeneous graph, and their evidence is merged (the worst verdict wins); claims
about a PASE pair run each core in the role the graph gives it. Every record carries
the graph, each component's origin, roles, digest and signature status
(``figures["subject"]``).
"""

from __future__ import annotations

import functools
import platform
import subprocess
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from harness import __version__
from harness import progress as progress_lines
from harness.build import componentize_py_version
from harness.drive import DEFAULT_SEED
from harness.errors import ExitCode, HarnessError, LedgerRecordError
from harness.evidence.context import GateContext
from harness.evidence.ledger import EvidenceLedger, Record
from harness.evidence.ledger_schema import new_run_id, utc_now_iso
from harness.evidence.reuse import REUSE_INPUT, claim_keys, origin_of, plan_reuse, reuse_base
from harness.evidence.trace_rules import validate
from harness.evidence.traceability import VerificationClaim as Claim
from harness.evidence.traceability import claims as traceability_claims
from harness.evidence.traceability import load_artifacts
from harness.evidence.verifiers.base import HEAD_STARTS, REGISTRY, Evidence, Verdict, Verifier
from harness.evidence.verifiers.seams import start_seam_coverage
from harness.project import DEFAULT_GRAPH, PROJECT_ROOT
from harness.runtime import WASMTIME_VERSION, Limits
from harness.supply import SupplyChain

Say = Callable[[str], None]


def tool_versions() -> dict[str, str]:
    """Versions of everything that produced the evidence."""
    try:
        cryptography = metadata.version("cryptography")
    except metadata.PackageNotFoundError:
        cryptography = "missing"
    return {
        "python": platform.python_version(),
        "wasmtime": WASMTIME_VERSION,
        "componentize-py": componentize_py_version(),
        "cryptography": cryptography,
        "matter-harness": __version__,
    }


def git_commit() -> str | None:
    """The project's git commit, or None outside a checkout."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


@dataclass
class ClaimOutcome:
    """One claim's result in this gate run."""

    claim: str
    verifier: str | None
    gated: bool
    verdict: str
    message: str
    record_hash: str = ""


@dataclass
class GateResult:
    """The whole gate run: every claim's outcome, and whether the gate passed."""

    run_id: str
    outcomes: list[ClaimOutcome]
    ledger: Path
    passed: bool
    summary: str

    @property
    def exit_code(self) -> ExitCode:
        """0 when the gate passed, 1 when it did not."""
        return ExitCode.OK if self.passed else ExitCode.FAILED


class GateUsageError(HarnessError):
    """The gate cannot run: unreadable traceability data, a broken ledger, no toolchain."""


#: What a repeated record's message ends with (before the run that verified it).
REUSED_MARK = " [reused: "

#: Verifiers that must run after the others (coverage is measured across the whole run).
RUN_LAST = ("seam-coverage",)


def run_gate(
    *,
    ledger_path: Path,
    build_dir: Path,
    seed: int = DEFAULT_SEED,
    min_claims: int = 1,
    traceability_dir: Path | None = None,
    measure_coverage: bool = True,
    registry: Mapping[str, Verifier] | None = None,
    progress: Say | None = None,
    supply_chain: SupplyChain | None = None,
    limits: Limits | None = None,
    only: Sequence[str] = (),
    graph: Path = DEFAULT_GRAPH,
    components: Mapping[str, Path] | None = None,
    require_signed: bool = False,
    reuse: bool = False,
) -> GateResult:
    """Run every claim's verifier, append evidence, and say whether the gate passed.

    ``limits`` apply to the gate's handshake runs (default: :class:`Limits`' defaults).
    ``only`` names the claims to run (default: all); the gate then passes on those alone,
    and its summary says how many of all the claims it ran. ``graph`` is the graph to
    check, ``components`` replaces node files of it, ``require_signed`` refuses foreign
    components no trusted key signs (see :mod:`harness.evidence.subject`); a missing or
    refused foreign file stops the gate before anything is built or compiled.
    ``reuse`` repeats the passing evidence of earlier runs whose inputs are unchanged
    (:mod:`harness.evidence.reuse`); every record carries its inputs' digest either way.
    """
    say = progress or (lambda _m: None)
    verifiers = dict(REGISTRY if registry is None else registry)
    every = load_claims(traceability_dir, verifiers)
    claims = select_claims(every, only)
    ctx = GateContext(
        build_dir,
        seed,
        graph=graph,
        supply_chain=supply_chain,
        limits=limits,
        components=components,
        require_signed=require_signed,
    )
    ctx.prepare()
    tools = tool_versions()
    keys = claim_keys(claims, reuse_base(ctx, tools, measure_coverage, claims), RUN_LAST)
    for line in subject_lines(ctx):
        say(line)
    run_id = new_run_id()
    recorder = _Recorder(run_id, tools, git_commit())
    outcomes: list[ClaimOutcome] = []
    try:
        with EvidenceLedger(ledger_path) as ledger:
            earlier = (
                plan_reuse(ledger.records(), claims, keys, measure_coverage, RUN_LAST)
                if reuse
                else {}
            )
            if len(earlier) < len(claims) and measure_coverage:
                ctx.coverage = start_seam_coverage()
            to_run = [c for c in claims if c.id not in earlier]
            start_head_starts(ctx, to_run, verifiers)
            # Claims whose campaign runs in the background go last, so the others run
            # meanwhile (seam coverage stays last of all).
            for claim in sorted(
                claims,
                key=lambda c: (c.verifier in RUN_LAST, ctx.started_early(c.verifier or "")),
            ):
                label = f"{claim.id}: {claim.verifier or '(no verifier)'}"
                with progress_lines.step(label) as step:
                    found = earlier.get(claim.id)
                    if found is not None:
                        outcome = recorder.repeat(ledger, claim, found, keys[claim.id])
                    else:
                        fn = verifiers.get(claim.verifier or "")
                        outcome = recorder.run(ledger, ctx, claim, fn, keys[claim.id])
                    step.detail = outcome.verdict + (" (reused)" if found is not None else "")
                outcomes.append(outcome)
                say(f"{claim.id}: {outcome.verdict.upper()} - {outcome.message}")
    finally:
        if ctx.coverage is not None:
            ctx.coverage.stop()
        ctx.close()
    result = _result(run_id, outcomes, ledger_path, min_claims, len(every))
    if earlier:
        result.summary += (
            f"\nreused the evidence of {len(earlier)} claim(s) whose inputs are unchanged "
            f"({', '.join(earlier)}); run without --reuse to verify them again"
        )
    result.summary += "\n" + "\n".join(subject_lines(ctx))
    return result


def start_head_starts(
    ctx: GateContext, claims: Sequence[Claim], verifiers: Mapping[str, Verifier]
) -> None:
    """Start the background campaigns of ``claims`` that have one (:data:`HEAD_STARTS`):
    only for the project's own verifier of that name, a claim that applies to the graph,
    and one verified once (not per core file)."""
    chosen = []
    for claim in claims:
        name = claim.verifier or ""
        start = HEAD_STARTS.get(name)
        if start is None or verifiers.get(name) is not REGISTRY.get(name):
            continue
        if not_applicable_reason(ctx, name) is not None:
            continue
        if name in PER_CORE and len(ctx.subject.cores) > 1:
            continue
        chosen.append((name, start, claim.parameters))
    if not chosen:
        return
    # The signing key is created here, once, not by two threads at the same time.
    ctx.supply_chain.build_signer()
    for name, start, parameters in chosen:
        ctx.start_early(name, functools.partial(start, ctx, parameters))


def subject_lines(ctx: GateContext) -> list[str]:
    """The gated graph and each component's origin, roles, digest and signature status."""
    described = ctx.describe_subject()
    lines = [
        f"graph {described['file']}" + (" (heterogeneous)" if described["heterogeneous"] else "")
    ]
    for node, entry in described["components"].items():
        roles = ", ".join(entry["roles"]) or "no role"
        digest = entry.get("sha256", "not read in this run")
        lines.append(
            f"  {node}: {entry['file']} [{entry['origin']}; {roles}] sha256 {digest}; "
            f"signature: {entry.get('signature', 'unknown')}"
        )
    return lines


def select_claims(claims: Sequence[Claim], only: Sequence[str]) -> list[Claim]:
    """The claims named in ``only`` (case-insensitive), in gate order; all when empty."""
    if not only:
        return list(claims)
    wanted = {name.upper() for name in only}
    unknown = sorted(wanted - {c.id.upper() for c in claims})
    if unknown:
        raise GateUsageError(
            f"no claim {', '.join(unknown)} in the traceability data; the claims are "
            + ", ".join(c.id for c in claims)
        )
    return [c for c in claims if c.id.upper() in wanted]


def load_claims(traceability_dir: Path | None, verifiers: Mapping[str, Verifier]) -> list[Claim]:
    """The claims to verify, in the order the gate runs them; refuses broken data."""
    try:
        artifacts = load_artifacts(traceability_dir)
    except HarnessError as exc:
        raise GateUsageError(exc.explain()) from exc
    findings = validate(artifacts, verifiers.keys())
    errors = [d for d in findings if d.severity.value == "error"]
    if errors:
        raise GateUsageError(
            "traceability data has errors; fix them first:\n" + "\n".join(str(d) for d in errors)
        )
    return sorted(traceability_claims(artifacts), key=lambda c: (c.verifier in RUN_LAST, c.id))


@dataclass(frozen=True)
class _Recorder:
    """Runs one claim's verifier and appends its evidence record."""

    run_id: str
    tools: dict[str, str]
    commit: str | None

    def run(
        self,
        ledger: EvidenceLedger,
        ctx: GateContext,
        claim: Claim,
        fn: Verifier | None,
        key: str | None = None,
    ) -> ClaimOutcome:
        started_at = utc_now_iso()
        started = time.perf_counter()
        evidence = _applicable_evidence(ctx, claim, fn)
        # Which graph and components the evidence is about (setdefault: a verifier's own
        # figure of that name wins).
        evidence.figures.setdefault("subject", ctx.describe_subject())
        if key is not None:
            evidence.inputs = {**evidence.inputs, REUSE_INPUT: key}
        return self.append(ledger, claim, evidence, started_at, started)

    def repeat(
        self, ledger: EvidenceLedger, claim: Claim, earlier: Record, key: str
    ) -> ClaimOutcome:
        """Record ``earlier``'s verdict for ``claim`` again (its inputs are unchanged),
        naming the run that verified it."""
        started_at = utc_now_iso()
        started = time.perf_counter()
        origin = origin_of(earlier)
        message = earlier.message.split(REUSED_MARK, 1)[0]
        evidence = Evidence(
            Verdict(earlier.verdict),
            f"{message}{REUSED_MARK}verified by run {origin['run_id']}, inputs unchanged]",
            {**earlier.figures, "reused": origin},
            {**earlier.inputs, REUSE_INPUT: key},
            earlier.seed if isinstance(earlier.seed, int) else None,
            earlier.transcript_hash,
            earlier.reason,
        )
        command = f"harness.gate:{claim.verifier} (reused)"
        return self.append(ledger, claim, evidence, started_at, started, command)

    def append(
        self,
        ledger: EvidenceLedger,
        claim: Claim,
        evidence: Evidence,
        started_at: str,
        started: float,
        command: str | None = None,
    ) -> ClaimOutcome:
        """Append ``evidence`` for ``claim`` (found since ``started``) as one record."""
        fields = self._fields(claim, evidence, started_at, started, command)
        try:
            record = ledger.append(fields)
        except LedgerRecordError as exc:
            # The verifier's evidence is not a valid record: record that, as an error
            # with nothing of what it returned, and go on with the other claims.
            evidence = Evidence(
                Verdict.ERROR, f"the verifier returned evidence the ledger refuses: {exc}"
            )
            record = ledger.append(self._fields(claim, evidence, started_at, started, command))
        return ClaimOutcome(
            claim.id,
            claim.verifier,
            claim.gates_ci,
            evidence.verdict.value,
            evidence.message,
            record.hash,
        )

    def _fields(
        self,
        claim: Claim,
        evidence: Evidence,
        started_at: str,
        started: float,
        command: str | None = None,
    ) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "claim": claim.id,
            "verifier": claim.verifier or "",
            "verdict": evidence.verdict.value,
            "reason": evidence.reason,
            "message": evidence.message,
            "started_at": started_at,
            "duration_s": round(time.perf_counter() - started, 6),
            "command": command or f"harness.gate:{claim.verifier}",
            "inputs": evidence.inputs,
            "tools": self.tools,
            "git_commit": self.commit,
            "seed": evidence.seed,
            "transcript_hash": evidence.transcript_hash,
            "figures": evidence.figures,
        }


def record_evidence(
    ledger_path: Path,
    claim_id: str,
    evidence: Evidence,
    *,
    started_at: str,
    started: float,
    command: str,
    traceability_dir: Path | None = None,
    claim: Claim | None = None,
    run_id: str | None = None,
) -> ClaimOutcome:
    """Append ``evidence`` for ``claim_id``, found outside a gate run, as a run of its own.

    For campaigns too long for the gate (``matter-harness mutation``): the record is the
    gate's, with its own run id and ``command``; ``started`` is a ``perf_counter`` value.
    ``claim`` is given for a claim outside the traceability data (a spike run's, see
    :mod:`harness.evidence.spike`); otherwise ``claim_id`` is looked up there.
    Records of one suite of checks (``matter-harness conformance``) share ``run_id``.
    """
    if claim is not None:
        if claim.id != claim_id:
            raise GateUsageError(f"claim {claim.id} given for claim id {claim_id}")
        found = [claim]
    else:
        artifacts = load_artifacts(traceability_dir)
        found = [c for c in traceability_claims(artifacts) if c.id == claim_id]
    if not found:
        raise GateUsageError(f"no claim {claim_id} in the traceability data")
    recorder = _Recorder(run_id or new_run_id(), tool_versions(), git_commit())
    with EvidenceLedger(ledger_path) as ledger:
        return recorder.append(ledger, found[0], evidence, started_at, started, command)


#: Verifiers of claims about one core file: run once per distinct core file of the graph.
PER_CORE = frozenset(
    {
        "core-component-imports",
        "vectors-in-component",
        "capability-policy",
        "resource-limits",
        "cross-runtime-determinism",
    }
)


def not_applicable_reason(ctx: GateContext, verifier_name: str | None) -> str | None:
    """Why the claim verified by ``verifier_name`` does not apply to the gated graph, or
    None when it does. (Parts of a claim that need a role the graph may lack, such as
    C3's counters or C8's strays across the graph, are decided by their verifiers.)"""
    subject = ctx.subject
    if verifier_name == "lossy-link" and ctx.roles.transport_faults is None:
        return "the graph surfaces no transport-faults role: no link faults can be applied"
    if verifier_name in ("functional-reproducibility", "fuzz-campaigns", "mutation-score"):
        foreign = subject.project_cores_only()
        if foreign is not None:
            what = {
                "functional-reproducibility": "rebuilding the project's core",
                "fuzz-campaigns": "differential fuzzing against the project's native core",
                "mutation-score": "mutation testing of the project's matter_core",
            }[verifier_name]
            return f"{what} says nothing about it: {foreign}"
    if verifier_name == "signature-verification":
        unsigned = subject.unsigned_foreign()
        if unsigned is not None:
            return (
                f"{unsigned}; they were accepted as such (no --require-signed), so the "
                "claim about signed components does not hold for this graph"
            )
    return None


def _applicable_evidence(ctx: GateContext, claim: Claim, fn: Verifier | None) -> Evidence:
    """The claim's evidence: not applicable, once, or per core file (merged)."""
    reason = not_applicable_reason(ctx, claim.verifier)
    if reason is not None:
        return Evidence(Verdict.NOT_APPLICABLE, reason, reason=reason)
    cores = ctx.subject.cores
    if claim.verifier not in PER_CORE or len(cores) == 1:
        return _evidence(ctx, claim, fn)
    found = {}
    for core in cores:
        with ctx.focused(core):
            found[core.node] = _evidence(ctx, claim, fn)
    return merge_per_core(found)


#: Verdicts from worst to best, for merging per-core evidence.
_WORST_FIRST = (
    Verdict.ERROR,
    Verdict.FAIL,
    Verdict.NOT_APPLICABLE,
    Verdict.SKIP,
    Verdict.PASS,
)


def merge_per_core(found: Mapping[str, Evidence]) -> Evidence:
    """One record for a per-core claim checked on each core file: the worst verdict, each
    core's message, figures under ``per_core``, every input."""
    verdict = min((e.verdict for e in found.values()), key=_WORST_FIRST.index)
    message = "; ".join(f"core node '{node}': {e.message}" for node, e in found.items())
    inputs: dict[str, str] = {}
    for evidence in found.values():
        inputs.update(evidence.inputs)
    hashes = {e.transcript_hash for e in found.values()}
    headline = ", ".join(f"{node}: {e.verdict.value}" for node, e in found.items())
    reasons = [f"core node '{n}': {e.reason}" for n, e in found.items() if e.reason]
    seeds = {e.seed for e in found.values()}
    return Evidence(
        verdict,
        message,
        {
            "headline": f"per core file: {headline}",
            "per_core": {node: e.figures for node, e in found.items()},
        },
        inputs,
        seeds.pop() if len(seeds) == 1 else None,
        hashes.pop() if len(hashes) == 1 else None,
        "; ".join(reasons) or None,
    )


def _evidence(ctx: GateContext, claim: Claim, fn: Verifier | None) -> Evidence:
    """What ``fn`` found for ``claim``; a missing or raising verifier is an error record."""
    if fn is None:
        return Evidence(Verdict.ERROR, f"no verifier registered as {claim.verifier!r}")
    try:
        evidence = fn(ctx, claim.parameters)
    except Exception as exc:
        return Evidence(
            Verdict.ERROR,
            f"verifier raised {type(exc).__name__}: {exc}",
            {"traceback": traceback.format_exc(limit=8)},
        )
    if evidence.verdict is Verdict.SKIP and not evidence.reason:
        evidence.reason = evidence.message or "skipped"
    return evidence


def _result(
    run_id: str,
    outcomes: list[ClaimOutcome],
    ledger_path: Path,
    min_claims: int,
    total: int | None = None,
) -> GateResult:
    fine = (Verdict.PASS, Verdict.NOT_APPLICABLE)
    gated_bad = [o for o in outcomes if o.gated and o.verdict not in fine]
    passed = sum(o.verdict == Verdict.PASS for o in outcomes)
    not_applicable = [o.claim for o in outcomes if o.verdict == Verdict.NOT_APPLICABLE]
    lines = []
    if gated_bad:
        lines.append(
            "gated claims without passing evidence: " + ", ".join(o.claim for o in gated_bad)
        )
    if passed < min_claims:
        lines.append(f"only {passed} claim(s) verified, --min requires {min_claims}")
    ok = not lines
    if ok:
        selected = "" if total in (None, len(outcomes)) else f" (selected of {total})"
        lines.append(
            f"GATE-PASSED: {passed} of {len(outcomes)} claims{selected} verified (run {run_id})"
        )
    else:
        lines.insert(0, f"GATE-FAILED (run {run_id})")
    if not_applicable:
        lines.append("not applicable to this graph: " + ", ".join(not_applicable))
    return GateResult(run_id, outcomes, ledger_path, ok, "\n".join(lines))
