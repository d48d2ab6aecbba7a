"""The CI gate: run every claim's verifier and append one evidence record per claim.

Verifiers are registered by name (the ``verifier`` field of a claim in
``traceability/``, see :mod:`harness.evidence.verifiers`). Each returns
:class:`~harness.evidence.verifiers.Evidence`; a verifier that raises produces an
``error`` record, never a crash of the gate. The gate passes only when every gated claim
has a passing record from this run and at least ``min_claims`` claims passed; the
command line turns that into exit code 0 or 1 (2 for usage or environment errors).

Work shared between claims (building, composing, the seeded runs) is done once per gate
run and reused, through :class:`~harness.evidence.context.GateContext`.
"""

from __future__ import annotations

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
from harness.build import componentize_py_version
from harness.drive import DEFAULT_SEED
from harness.errors import ExitCode, HarnessError, LedgerRecordError
from harness.evidence.context import GateContext
from harness.evidence.ledger import EvidenceLedger
from harness.evidence.ledger_schema import new_run_id, utc_now_iso
from harness.evidence.trace_rules import validate
from harness.evidence.traceability import VerificationClaim as Claim
from harness.evidence.traceability import claims as traceability_claims
from harness.evidence.traceability import load_artifacts
from harness.evidence.verifiers.base import REGISTRY, Evidence, Verdict, Verifier
from harness.evidence.verifiers.seams import start_seam_coverage
from harness.project import PROJECT_ROOT
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
) -> GateResult:
    """Run every claim's verifier, append evidence, and say whether the gate passed.

    ``limits`` apply to the gate's handshake runs (default: :class:`Limits`' defaults).
    ``only`` names the claims to run (default: all); the gate then passes on those alone,
    and its summary says how many of all the claims it ran.
    """
    say = progress or (lambda _m: None)
    verifiers = dict(REGISTRY if registry is None else registry)
    every = load_claims(traceability_dir, verifiers)
    claims = select_claims(every, only)
    ctx = GateContext(build_dir, seed, supply_chain=supply_chain, limits=limits)
    ctx.coverage = start_seam_coverage() if measure_coverage else None
    run_id = new_run_id()
    recorder = _Recorder(run_id, tool_versions(), git_commit())
    outcomes: list[ClaimOutcome] = []
    try:
        with EvidenceLedger(ledger_path) as ledger:
            for claim in claims:
                say(f"{claim.id}: {claim.verifier or '(no verifier)'} ...")
                outcome = recorder.run(ledger, ctx, claim, verifiers.get(claim.verifier or ""))
                outcomes.append(outcome)
                say(f"{claim.id}: {outcome.verdict.upper()} - {outcome.message}")
    finally:
        if ctx.coverage is not None:
            ctx.coverage.stop()
        ctx.close()
    return _result(run_id, outcomes, ledger_path, min_claims, len(every))


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
        self, ledger: EvidenceLedger, ctx: GateContext, claim: Claim, fn: Verifier | None
    ) -> ClaimOutcome:
        started_at = utc_now_iso()
        started = time.perf_counter()
        return self.append(ledger, claim, _evidence(ctx, claim, fn), started_at, started)

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
    run_id: str | None = None,
) -> ClaimOutcome:
    """Append ``evidence`` for ``claim_id``, found outside a gate run, as a run of its own.

    For campaigns too long for the gate (``matter-harness mutation``): the record is the
    gate's, with its own run id and ``command``; ``started`` is a ``perf_counter`` value.
    Records of one suite of checks (``matter-harness conformance``) share ``run_id``.
    """
    found = [c for c in traceability_claims(load_artifacts(traceability_dir)) if c.id == claim_id]
    if not found:
        raise GateUsageError(f"no claim {claim_id} in the traceability data")
    recorder = _Recorder(run_id or new_run_id(), tool_versions(), git_commit())
    with EvidenceLedger(ledger_path) as ledger:
        return recorder.append(ledger, found[0], evidence, started_at, started, command)


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
    gated_bad = [o for o in outcomes if o.gated and o.verdict != Verdict.PASS]
    passed = sum(o.verdict == Verdict.PASS for o in outcomes)
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
    return GateResult(run_id, outcomes, ledger_path, ok, "\n".join(lines))
