"""The conformance suite of the ``core`` world: the project's checks, run on another core.

A *candidate* is any component that claims to implement the ``core`` world of
``wit/pase.wit``. The contract (``traceability/conformance/contract.yaml``) lists the
checks, each a verification claim that mirrors one of the project's: the candidate's
imports (C1), the vectors computed by its ``conformance`` export (C7), PASE with the
project's reference core (``build/core.wasm``) inside a composed heterogeneous graph, the
candidate in each role (C3), the secure-session probe on that session both ways (C2),
the negative paths (C5), off-path strays (C8) and loss (C9) with the candidate in the
role. The checks are the gate's own routines (:mod:`harness.evidence.verifiers`), given
the candidate's files instead of the project's; C8 and C9 take their parameters from the
project's claims, so the contract asks of a candidate what the gate asks of the core.

:func:`inspect_candidate` refuses bad input before anything slow, naming what is wrong
(:class:`ContractInputError`, exit code 2); :class:`ConformanceSuite` runs the checks and
appends one evidence record per check to a ledger, all under one run id.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.build import build_all, compose_cached, write_pase_graph
from harness.component_file import read_component_file
from harness.drive import (
    DEFAULT_SEED,
    RunConfig,
    RunReport,
    describe_failure,
    instantiate_conformance,
    run_component,
    run_composed,
)
from harness.errors import HarnessError
from harness.evidence.gate import ClaimOutcome, record_evidence
from harness.evidence.ledger_schema import new_run_id, utc_now_iso
from harness.evidence.traceability import VerificationClaim, claims, load_artifacts
from harness.evidence.verifiers.base import Evidence, Verdict
from harness.evidence.verifiers.network import lossy_link_evidence, off_path_evidence
from harness.evidence.verifiers.runs import core_imports_evidence, negative_paths_evidence
from harness.evidence.verifiers.vectors import vectors_evidence
from harness.project import TRACEABILITY_DIR, WIT_DIR, file_sha256
from harness.runtime import (
    Component,
    ComponentInterface,
    Limits,
    Runtime,
    read_interface,
)
from harness.supply import SupplyChain, VerifiedComponent, check_core_imports
from harness.wit import COMMISSIONEE, COMMISSIONER, CONFORMANCE, ROLES, SEAMS, SESSION_CONTROL

#: The contract's checks, as traceability data.
CONTRACT_DIR = TRACEABILITY_DIR / "conformance"
#: ``--role`` values: one role, or both.
BOTH = "both"
ROLE_CHOICES = (COMMISSIONER, COMMISSIONEE, BOTH)
#: The exports the core world requires of a candidate.
REQUIRED_EXPORTS = (SESSION_CONTROL, CONFORMANCE)

Say = Callable[[str], None]


class ContractInputError(HarnessError):
    """The candidate cannot be checked: not a component, the wrong world, or it traps."""


@dataclass(frozen=True)
class Candidate:
    """A candidate file that passed the input checks."""

    path: Path
    sha256: str
    size: int
    interface: ComponentInterface


def _functions(interface: ComponentInterface, export: str) -> set[str]:
    """The function names of the instance ``interface`` exports as ``export``."""
    desc = interface.export_named(export)
    item = desc.item if desc is not None else None
    entries = item.get("exports") if isinstance(item, dict) else None
    names = set()
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, list) and len(entry) == 2:
            name, sub = entry
            if isinstance(sub, dict) and sub.get("kind") == "func":
                names.add(str(name))
    return names


def inspect_candidate(
    path: Path, runtime: Runtime, reference: ComponentInterface, *, cache_dir: Path | None = None
) -> Candidate:
    """Check that ``path`` is a component of the ``core`` world; raise
    :class:`ContractInputError` naming what is not.

    A file, a component (not a core module, not text), importing nothing but the three
    seams (as instances), exporting ``session-control`` and ``conformance`` with every
    function the ``reference`` core's exports have. Reads the binary and a type stub only
    (no whole compile). A missing seam import is not bad input: the imports check says so.
    """
    try:
        data = read_component_file(path)
    except HarnessError as exc:
        raise ContractInputError(f"candidate: {exc.message}") from exc
    wrong = [p for p in check_core_imports(path) if not p.startswith("does not import the seam")]
    if wrong:
        raise ContractInputError(
            f"candidate {path} is not a component of the core world (wit/pase.wit): "
            + "; ".join(wrong),
            hint="the core world imports only " + ", ".join(SEAMS) + " (build without WASI, "
            "e.g. componentize-py --stub-wasi, or jco/componentize-js with every WASI "
            "feature disabled)",
        )
    try:
        interface = read_interface(
            data, engine=runtime.engine, cache_dir=cache_dir, source=str(path)
        )
    except HarnessError as exc:
        raise ContractInputError(f"candidate {exc.message}") from exc
    missing = [name for name in REQUIRED_EXPORTS if interface.export_named(name) is None]
    if missing:
        raise ContractInputError(
            f"candidate {path} does not export {', '.join(missing)} (the core world exports "
            + " and ".join(REQUIRED_EXPORTS)
            + ")"
        )
    lacking = []
    for export in REQUIRED_EXPORTS:
        absent = sorted(_functions(reference, export) - _functions(interface, export))
        if absent:
            lacking.append(f"{export} lacks {', '.join(absent)}")
    if lacking:
        raise ContractInputError(
            f"candidate {path}: exports do not match the core world: " + "; ".join(lacking)
        )
    return Candidate(path, hashlib.sha256(data).hexdigest(), len(data), interface)


def contract_checks(role: str, directory: Path = CONTRACT_DIR) -> list[VerificationClaim]:
    """The contract's checks that apply to a candidate claiming ``role`` (or both)."""
    if role not in ROLE_CHOICES:
        raise ContractInputError(f"unknown role {role!r}; one of {', '.join(ROLE_CHOICES)}")
    found = claims(load_artifacts(directory))
    return [c for c in found if role == BOTH or c.parameters.get("role") in (None, role)]


@dataclass
class SuiteResult:
    """Every check's outcome, and whether all of them passed."""

    run_id: str
    role: str
    outcomes: list[ClaimOutcome]
    ledger: Path

    @property
    def passed(self) -> bool:
        """Every applicable check has a passing record (and there was at least one)."""
        return bool(self.outcomes) and all(o.verdict == Verdict.PASS for o in self.outcomes)

    @property
    def failed(self) -> list[ClaimOutcome]:
        """The checks without a passing record."""
        return [o for o in self.outcomes if o.verdict != Verdict.PASS]


class ConformanceSuite:
    """The contract's checks on one candidate, against the project's reference core.

    :meth:`prepare` builds (or finds current) the reference core and the loopback, checks
    the candidate's input (:func:`inspect_candidate`), verifies and compiles it through
    ``supply_chain`` and instantiates it once; :meth:`run` runs the checks.
    """

    def __init__(
        self,
        candidate: Path,
        *,
        build_dir: Path,
        supply_chain: SupplyChain,
        runtime: Runtime,
        seed: int = DEFAULT_SEED,
        limits: Limits | None = None,
        progress: Say | None = None,
        contract_dir: Path = CONTRACT_DIR,
        traceability_dir: Path | None = None,
    ) -> None:
        self.candidate_path = candidate
        self.build_dir = build_dir
        self.chain = supply_chain
        self.runtime = runtime
        self.seed = seed
        self.limits = limits if limits is not None else Limits()
        self.say = progress or (lambda _m: None)
        self.contract_dir = contract_dir
        self.project_claims = {c.id: c for c in claims(load_artifacts(traceability_dir))}
        self._paths: dict[str, Path] = {}
        self._candidate: Candidate | None = None
        self._component: Component | None = None
        self._composed: dict[str, tuple[Path, VerifiedComponent | None]] = {}
        self._reports: dict[tuple[str, str], RunReport] = {}
        self._digests: dict[Path, str] = {}

    # -- inputs ---------------------------------------------------------------------

    def prepare(self) -> Candidate:
        """Everything that can refuse the candidate as bad input, before any check runs."""
        built = build_all(
            self.build_dir, names=["core", "loopback"], supply_chain=self.chain, progress=self.say
        )
        self._paths = {name: result.path for name, result in built.items()}
        cache = self.build_dir / "cache" / "types"
        reference = read_interface(
            self._paths["core"].read_bytes(), engine=self.runtime.engine, cache_dir=cache
        )
        candidate = inspect_candidate(self.candidate_path, self.runtime, reference, cache_dir=cache)
        component = self.chain.load_component(self.runtime, candidate.path, role="core")
        try:
            instantiate_conformance(self.runtime, component, self.limits)
        except HarnessError as exc:
            raise ContractInputError(
                f"candidate {candidate.path} cannot be instantiated with the three seams: "
                f"{exc.message}"
            ) from exc
        self._candidate, self._component = candidate, component
        return candidate

    @property
    def component(self) -> Component:
        """The candidate, verified and compiled (after :meth:`prepare`)."""
        if self._component is None:
            raise HarnessError("the suite is not prepared: call prepare() first")
        return self._component

    @property
    def candidate(self) -> Candidate:
        """The checked candidate (after :meth:`prepare`)."""
        if self._candidate is None:
            raise HarnessError("the suite is not prepared: call prepare() first")
        return self._candidate

    def inputs(self, role: str | None = None) -> dict[str, str]:
        """SHA-256 of the WIT files, the candidate, the reference core and loopback, and the
        composed graph with the candidate in ``role`` once it exists."""
        digests = {f"wit/{p.name}": self._digest(p) for p in sorted(WIT_DIR.glob("*.wit"))}
        digests[f"candidate:{self.candidate.path.name}"] = self.candidate.sha256
        for name in ("core", "loopback"):
            digests[f"reference-{name}:{self._paths[name].name}"] = self._digest(self._paths[name])
        if role is not None and role in self._composed:
            path = self._composed[role][0]
            digests[f"composed:{path.name}"] = self._digest(path)
        return digests

    def _digest(self, path: Path) -> str:
        if path not in self._digests:
            self._digests[path] = file_sha256(path)
        return self._digests[path]

    def run_config(self, **changes: Any) -> RunConfig:
        """The suite's run parameters (its seed and limits), with ``changes``."""
        return RunConfig(seed=self.seed, limits=self.limits, **changes)

    def parameters(self, check: VerificationClaim) -> dict[str, Any]:
        """The mirrored project claim's parameters, overridden by the check's own."""
        mirrored = self.project_claims.get(str(check.parameters.get("mirrors", "")))
        params = dict(mirrored.parameters) if mirrored is not None else {}
        params.update({k: v for k, v in check.parameters.items() if k not in ("mirrors", "role")})
        return params

    # -- placements -----------------------------------------------------------------

    def composed(self, role: str) -> Path:
        """The heterogeneous graph with the candidate in ``role`` and the reference core in
        the other, composed (cached by input digests), signed and verified."""
        if role not in self._composed:
            other = COMMISSIONEE if role == COMMISSIONER else COMMISSIONER
            nodes = {
                role: ("candidate", self.candidate.path),
                other: ("reference", self._paths["core"]),
            }
            graph = write_pase_graph(
                self.build_dir / "contract",
                f"contract-{role}-{self.candidate.sha256[:12]}",
                nodes[COMMISSIONER],
                nodes[COMMISSIONEE],
                self._paths["loopback"],
                description=f"conformance: candidate {self.candidate.path.name} as {role}, "
                f"the reference core as {other}",
            )
            artifact = compose_cached(graph, self.runtime, self.build_dir, supply_chain=self.chain)
            self._composed[role] = (artifact.path, artifact.verified)
        return self._composed[role][0]

    def run_graph(self, role: str, config: RunConfig, **kw: Any) -> RunReport:
        """One run of the heterogeneous graph with the candidate in ``role``."""
        path = self.composed(role)
        verified = self._composed[role][1]
        return run_composed(
            config, self.runtime, path, supply_chain=self.chain, verified=verified, **kw
        )

    def run_pair(self, role: str, config: RunConfig, **kw: Any) -> RunReport:
        """One run on the host loopback: the candidate in ``role``, the reference in the other."""
        return run_component(
            config,
            self.runtime,
            self._paths["core"],
            supply_chain=self.chain,
            role_cores={role: self.candidate.path},
            **kw,
        )

    def report(self, mode: str, role: str) -> RunReport:
        """The unfaulted seeded run (``graph`` or ``pair``) with the candidate in ``role``."""
        key = (mode, role)
        if key not in self._reports:
            run = self.run_graph if mode == "graph" else self.run_pair
            self._reports[key] = run(role, self.run_config())
        return self._reports[key]

    # -- running --------------------------------------------------------------------

    def run(self, role: str, ledger_path: Path, *, command: str) -> SuiteResult:
        """Run every check that applies to ``role``; one ledger record per check."""
        checks = contract_checks(role, self.contract_dir)
        run_id = new_run_id()
        outcomes = []
        for number, check in enumerate(checks, 1):
            self.say(f"[{number}/{len(checks)}] {check.id}: {check.title} ...")
            started_at, started = utc_now_iso(), time.perf_counter()
            evidence = self.evidence(check)
            outcome = record_evidence(
                ledger_path,
                check.id,
                evidence,
                started_at=started_at,
                started=started,
                command=command,
                traceability_dir=self.contract_dir,
                run_id=run_id,
            )
            outcomes.append(outcome)
            self.say(
                f"[{number}/{len(checks)}] {check.id}: {outcome.verdict.upper()} in "
                f"{time.perf_counter() - started:.1f} s - {outcome.message}"
            )
        return SuiteResult(run_id, role, outcomes, ledger_path)

    def evidence(self, check: VerificationClaim) -> Evidence:
        """What ``check``'s routine found; a missing or raising routine is an error record."""
        routine = CHECKS.get(check.verifier or "")
        role = check.parameters.get("role")
        if routine is None:
            return Evidence(Verdict.ERROR, f"no conformance check called {check.verifier!r}")
        if role is not None and role not in ROLES:
            return Evidence(Verdict.ERROR, f"{check.id}: unknown role {role!r}")
        try:
            return routine(self, check, role)
        except HarnessError as exc:
            return Evidence(
                Verdict.FAIL, f"{type(exc).__name__}: {exc.message}", inputs=self.inputs(role)
            )
        except Exception as exc:
            return Evidence(Verdict.ERROR, f"the check raised {type(exc).__name__}: {exc}")


# ------------------------------------------------------------------------------ checks

Check = Callable[[ConformanceSuite, VerificationClaim, Any], Evidence]


def _imports(suite: ConformanceSuite, check: VerificationClaim, role: Any) -> Evidence:
    return core_imports_evidence(suite.candidate.path, suite.inputs(), runtime=suite.runtime)


def _vectors(suite: ConformanceSuite, check: VerificationClaim, role: Any) -> Evidence:
    return vectors_evidence(suite.runtime, suite.component, suite.inputs(), suite.limits)


def _pase(suite: ConformanceSuite, check: VerificationClaim, role: str) -> Evidence:
    report = suite.report("graph", role)
    stats = report.transport_stats
    forward = stats.get("commissioner->commissionee packets", 0)
    backward = stats.get("commissionee->commissioner packets", 0)
    figures: dict[str, Any] = {
        "headline": f"{report.outcome.rounds} rounds; transport component: {forward} / "
        f"{backward} packets",
        "candidate_role": role,
        "rounds": report.outcome.rounds,
        "transport_component": stats,
        "message_layer": {
            COMMISSIONER: report.outcome.commissioner.message_layer(),
            COMMISSIONEE: report.outcome.commissionee.message_layer(),
        },
    }
    thash = report.transcript_hash.hex() or None
    inputs = suite.inputs(role)
    outcome = report.outcome
    if not outcome.established:
        lines = describe_failure(outcome)
        if outcome.commissioner.established and outcome.commissionee.established:
            lines.append(
                "their transcript hashes differ: commissioner "
                f"{outcome.commissioner.transcript_hash.hex()[:16]}..., commissionee "
                f"{outcome.commissionee.transcript_hash.hex()[:16]}... (the cores framed or "
                "recorded the handshake datagrams differently)"
            )
        return Evidence(Verdict.FAIL, "; ".join(lines), figures, inputs, suite.seed, thash)
    if forward == 0 or backward == 0:
        message = f"transport component counted {forward} / {backward} packets"
        return Evidence(Verdict.FAIL, message, figures, inputs, suite.seed, thash)
    return Evidence(
        Verdict.PASS,
        f"PASE established across the composed graph, candidate as {role}, reference core as "
        "the other role",
        figures,
        inputs,
        suite.seed,
        thash,
    )


def _session(suite: ConformanceSuite, check: VerificationClaim, role: str) -> Evidence:
    report = suite.report("graph", role)
    figures = {
        "headline": f"{len(report.outcome.secure_probe)} of 2 probes opened",
        "probes": report.outcome.secure_probe,
    }
    inputs = suite.inputs(role)
    if not report.outcome.established:
        return Evidence(
            Verdict.FAIL, "no secure session to probe: PASE did not establish", figures, inputs
        )
    if report.error is not None:
        return Evidence(Verdict.FAIL, report.error, figures, inputs, suite.seed)
    return Evidence(
        Verdict.PASS,
        "a message sealed by each role opened in the other (payload and counter intact)",
        figures,
        inputs,
        suite.seed,
        report.transcript_hash.hex(),
    )


def _negative(suite: ConformanceSuite, check: VerificationClaim, role: str) -> Evidence:
    evidence = negative_paths_evidence(
        lambda config: suite.run_pair(role, config), suite.run_config, suite.inputs(), suite.seed
    )
    evidence.figures["candidate_role"] = role
    return evidence


def _off_path(suite: ConformanceSuite, check: VerificationClaim, role: str) -> Evidence:
    runs: dict[str, Callable[..., RunReport]] = {
        "the host loopback": lambda config, **kw: suite.run_pair(role, config, **kw),
        "the composed graph": lambda config, **kw: suite.run_graph(role, config, **kw),
    }
    evidence = off_path_evidence(
        runs,
        suite.report("pair", role),
        suite.run_config,
        suite.seed,
        int(suite.parameters(check).get("strays-per-step", 1000)),
        suite.inputs(role),
    )
    evidence.figures["candidate_role"] = role
    return evidence


def _loss(suite: ConformanceSuite, check: VerificationClaim, role: str) -> Evidence:
    suite.composed(role)
    evidence = lossy_link_evidence(
        lambda config: suite.run_graph(role, config),
        suite.parameters(check),
        suite.limits,
        suite.inputs(role),
    )
    evidence.figures["candidate_role"] = role
    return evidence


#: The check routines, by the contract's ``verifier`` names.
CHECKS: Mapping[str, Check] = {
    "contract-imports": _imports,
    "contract-vectors": _vectors,
    "contract-pase": _pase,
    "contract-session": _session,
    "contract-negative": _negative,
    "contract-off-path": _off_path,
    "contract-loss": _loss,
}


def contract_artifacts(
    traceability_dir: Path | None = None, contract_dir: Path = CONTRACT_DIR, role: str = BOTH
) -> list[Any]:
    """The project's requirements and architecture elements with the contract's checks
    that apply to ``role`` as the claims: what a conformance report is rendered from."""
    project = [a for a in load_artifacts(traceability_dir) if a.type != "verification-claim"]
    applicable = {c.id for c in contract_checks(role, contract_dir)}
    checks = [a for a in load_artifacts(contract_dir) if a.id in applicable]
    return project + checks


def check_names(outcomes: Sequence[ClaimOutcome]) -> str:
    """``CT-x (fail), CT-y (error)``: the checks in ``outcomes`` with their verdicts."""
    return ", ".join(f"{o.claim} ({o.verdict})" for o in outcomes)
