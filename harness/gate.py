"""The CI gate: run every claim's verifier and append one evidence record per claim.

Verifiers are registered by name (the ``verifier`` field of a claim in
``traceability/``). Each returns :class:`Evidence`; a verifier that raises produces an
``error`` record, never a crash of the gate. The gate exits 0 only when every gated
claim has a passing record from this run, 1 when any gated claim failed or errored (or
fewer than ``--min`` claims were verified), 2 for usage or environment errors.

Work shared between claims (building, composing, the seeded runs) is done once per gate
run and reused, through :class:`GateContext`.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import wasmtime.component as wc

from harness import __version__
from harness.build import PROJECT_ROOT, WIT_DIR, build_all, componentize_py_version
from harness.errors import HarnessError
from harness.inspect import check_core_imports, describe_component
from harness.placements import RunConfig, RunReport, run_component, run_native
from harness.runtime import SESSION_CONTROL, WASMTIME_VERSION, Runtime
from harness.supply_chain import SupplyChain

DEFAULT_GRAPH = PROJECT_ROOT / "components" / "graphs" / "pase-loopback.toml"
DEFAULT_SEED = 7
SEAM_MODULES = (PROJECT_ROOT / "harness" / "seams.py",)


@dataclass
class Evidence:
    """What a verifier found."""

    verdict: str
    message: str
    figures: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    transcript_hash: str | None = None
    reason: str | None = None


class GateContext:
    """Shared, lazily computed artefacts of one gate run.

    ``supply_chain`` verifies every component before it is compiled and signs what the
    gate builds (default: a key generated for this gate run, see
    :mod:`harness.supply_chain`).
    """

    def __init__(
        self,
        build_dir: Path,
        seed: int,
        graph: Path = DEFAULT_GRAPH,
        supply_chain: SupplyChain | None = None,
    ) -> None:
        self.build_dir = build_dir
        self.seed = seed
        self.graph = graph
        self.supply_chain = supply_chain or SupplyChain.for_gate(None, build_dir)
        self._runtime: Runtime | None = None
        self._paths: dict[str, Path] = {}
        self._reports: dict[str, RunReport] = {}
        self.build_figures: dict[str, Any] = {}
        self.coverage: Any = None
        self._digests: dict[Path, str] = {}

    @property
    def runtime(self) -> Runtime:
        """The run's wasmtime runtime (compiled-artifact cache under the build dir)."""
        if self._runtime is None:
            self._runtime = Runtime(self.build_dir / "cache")
        return self._runtime

    def component(self, name: str) -> Path:
        """The built component ``name`` (built once, through the cache)."""
        if name not in self._paths:
            results = build_all(self.build_dir, names=[name], supply_chain=self.supply_chain)
            result = results[name]
            self._paths[name] = result.path
            self.build_figures[name] = {"cached": result.cached, "seconds": result.seconds}
        return self._paths[name]

    def composed(self) -> Path:
        """The composed PASE graph (composed once, cached by input digests)."""
        if "composed" not in self._paths:
            from harness.composed_run import compose_cached

            self.component("core")
            self.component("loopback")
            artifact = compose_cached(
                self.graph, self.runtime, self.build_dir, supply_chain=self.supply_chain
            )
            self._paths["composed"] = artifact.path
            self.build_figures["composed"] = {
                "cached": artifact.cached,
                "seconds": artifact.seconds,
            }
        return self._paths["composed"]

    def report(self, mode: str) -> RunReport:
        """The seeded run in ``mode`` (native, component, composed), computed once."""
        if mode not in self._reports:
            config = RunConfig(seed=self.seed)
            if mode == "native":
                self._reports[mode] = run_native(config)
            elif mode == "component":
                self._reports[mode] = run_component(
                    config, self.runtime, self.component("core"), supply_chain=self.supply_chain
                )
            elif mode == "composed":
                from harness.composed_run import run_composed

                self._reports[mode] = run_composed(
                    config, self.runtime, self.composed(), supply_chain=self.supply_chain
                )
            else:
                raise ValueError(f"unknown mode {mode}")
        return self._reports[mode]

    def load(self, name: str) -> wc.Component:
        """The component ``name`` (or ``composed``), verified by the supply chain, compiled."""
        path = self.composed() if name == "composed" else self.component(name)
        role = "composed" if name == "composed" else name
        return self.supply_chain.load_component(self.runtime, path, role=role)

    def inputs(self, *names: str) -> dict[str, str]:
        """SHA-256 of the named artefacts (components, composed graph) and the WIT files."""
        digests = {f"wit/{p.name}": self._digest(p) for p in sorted(WIT_DIR.glob("*.wit"))}
        for name in names:
            path = self.composed() if name == "composed" else self.component(name)
            digests[f"{name}:{path.name}"] = self._digest(path)
        return digests

    def _digest(self, path: Path) -> str:
        # Inputs do not change during a gate run; most claims name the same 18-37 MB files.
        if path not in self._digests:
            self._digests[path] = _sha256(path)
        return self._digests[path]

    def close(self) -> None:
        """Release the runtime."""
        if self._runtime is not None:
            self._runtime.close()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


Verifier = Callable[[GateContext, Mapping[str, Any]], Evidence]
REGISTRY: dict[str, Verifier] = {}


def verifier(name: str) -> Callable[[Verifier], Verifier]:
    """Register a verifier under ``name`` (the name claims refer to)."""

    def register(fn: Verifier) -> Verifier:
        REGISTRY[name] = fn
        return fn

    return register


def trace_figure(report: RunReport) -> list[dict[str, Any]]:
    """The packet trace in the ledger's ``figures.trace`` shape (opcode names, sizes)."""
    from matter_core.message import SecureChannelOpcode, UnsecuredMessage

    out = []
    for packet in report.trace:
        try:
            message = UnsecuredMessage.decode(packet.data)
            try:
                opcode = SecureChannelOpcode(message.protocol.opcode).name
            except ValueError:
                opcode = f"0x{message.protocol.opcode:02x}"
        except Exception:
            opcode = "Secured"
        out.append(
            {
                "t_ms": packet.time_ms,
                "direction": packet.direction,
                "opcode": opcode,
                "size": len(packet.data),
            }
        )
    return out


def _run_figures(report: RunReport) -> dict[str, Any]:
    return {
        "seams": {role: c.as_dict() for role, c in report.seams.items()},
        "timings_ms": {k: round(v * 1000, 3) for k, v in report.timings.items()},
        "fuel": report.fuel,
        "rounds": report.outcome.rounds,
        "transport_component": report.transport_stats,
    }


@verifier("core-component-imports")
def verify_core_imports(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """C1: the core component's imports are exactly transport, clock and entropy."""
    path = ctx.component("core")
    info = describe_component(path)
    imports = sorted(info["imports"])
    figures = {
        "headline": f"{len(imports)} imports: "
        + ", ".join(i.split("/")[1].split("@")[0] for i in imports),
        "imports": imports,
        "size": info["size"],
        "build": ctx.build_figures.get("core"),
    }
    problems = check_core_imports(path)
    if problems:
        figures["problems"] = problems
        message = "core imports are not exactly the three seams: " + "; ".join(problems)
        return Evidence("fail", message, figures, ctx.inputs("core"))
    if SESSION_CONTROL not in info["exports"]:
        return Evidence("fail", "core does not export session-control", figures, ctx.inputs("core"))
    return Evidence("pass", "imports are exactly the three seams", figures, ctx.inputs("core"))


def _handshake_evidence(ctx: GateContext, mode: str, names: tuple[str, ...]) -> Evidence:
    report = ctx.report(mode)
    figures = _run_figures(report)
    figures["trace"] = trace_figure(report)
    handshake_ms = report.timings.get("handshake", 0.0) * 1000
    figures["headline"] = f"handshake {handshake_ms:.0f} ms, {report.outcome.rounds} rounds"
    thash = report.transcript_hash.hex() or None
    if not report.ok:
        from harness.driver import describe_failure

        message = "; ".join(
            describe_failure(report.outcome) + ([report.error] if report.error else [])
        )
        return Evidence("fail", message, figures, ctx.inputs(*names), ctx.seed, thash)
    return Evidence(
        "pass",
        f"PASE established in {mode} mode and the secure session carried both probes",
        figures,
        ctx.inputs(*names),
        ctx.seed,
        thash,
    )


@verifier("component-handshake")
def verify_component_handshake(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """C2: PASE completes inside the core component with host-provided seams."""
    return _handshake_evidence(ctx, "component", ("core",))


@verifier("composed-handshake")
def verify_composed_handshake(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """C3: PASE completes across the composed graph; transport counters non-zero both ways."""
    evidence = _handshake_evidence(ctx, "composed", ("core", "loopback", "composed"))
    stats = ctx.report("composed").transport_stats
    forward = stats.get("commissioner->commissionee packets", 0)
    backward = stats.get("commissionee->commissioner packets", 0)
    evidence.figures["headline"] = f"transport component: {forward} / {backward} packets"
    if evidence.verdict == "pass" and (forward == 0 or backward == 0):
        evidence.verdict = "fail"
        evidence.message = f"transport component counted {forward} / {backward} packets"
    return evidence


@verifier("seeded-determinism")
def verify_determinism(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """C4: clock and entropy cross the seam; the seeded transcript is the same everywhere."""
    hashes = {
        mode: ctx.report(mode).transcript_hash.hex() for mode in ("native", "component", "composed")
    }
    again = run_component(
        RunConfig(seed=ctx.seed), ctx.runtime, ctx.component("core"), supply_chain=ctx.supply_chain
    )
    hashes["component (second run)"] = again.transcript_hash.hex()
    component = ctx.report("component")
    crossings = {
        role: {"clock_reads": c.clock_reads, "entropy_calls": c.entropy_calls}
        for role, c in component.seams.items()
    }
    graph = ctx.report("composed").seams
    crossings.update(
        {
            f"composed {k}": {"clock_reads": c.clock_reads, "entropy_calls": c.entropy_calls}
            for k, c in graph.items()
        }
    )
    figures: dict[str, Any] = {
        "headline": f"{len(set(hashes.values()))} distinct hash(es) over {len(hashes)} runs",
        "transcript_hashes": hashes,
        "seam_crossings": crossings,
    }
    inputs = ctx.inputs("core", "loopback", "composed")
    values = set(hashes.values())
    if "" in values or len(values) != 1:
        return Evidence("fail", f"transcript hashes differ: {hashes}", figures, inputs, ctx.seed)
    quiet = [r for r, c in crossings.items() if c["clock_reads"] == 0 or c["entropy_calls"] == 0]
    if quiet:
        return Evidence(
            "fail",
            f"clock or entropy never crossed the seam for {quiet}",
            figures,
            inputs,
            ctx.seed,
        )
    return Evidence(
        "pass",
        "native, component (twice) and composed runs give the same transcript hash",
        figures,
        inputs,
        ctx.seed,
        values.pop(),
    )


@verifier("negative-paths")
def verify_negative_paths(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """C5: wrong passcode, corrupted and truncated datagrams fail cleanly on both sides."""
    cases = {
        "wrong-passcode": RunConfig(seed=ctx.seed, wrong_passcode=True),
        "corrupted-datagram": RunConfig(seed=ctx.seed, fault="corrupt"),
        "truncated-message": RunConfig(seed=ctx.seed, fault="truncate"),
    }
    expected_kinds = {"wrong-passcode": ("confirmation-failed", "peer-status")}
    results: dict[str, Any] = {}
    problems = []
    for name, config in cases.items():
        report = run_component(
            config, ctx.runtime, ctx.component("core"), supply_chain=ctx.supply_chain
        )
        ci, ce = report.outcome.commissioner.failure, report.outcome.commissionee.failure
        results[name] = {
            "commissioner": None if ci is None else {"kind": ci.kind, "message": ci.message},
            "commissionee": None if ce is None else {"kind": ce.kind, "message": ce.message},
        }
        if report.ok or ci is None or ce is None:
            problems.append(f"{name}: both roles must fail, got {results[name]}")
            continue
        want = expected_kinds.get(name)
        if want is not None and (ci.kind, ce.kind) != want:
            problems.append(f"{name}: expected failure kinds {want}, got {(ci.kind, ce.kind)}")
    inputs = ctx.inputs("core")
    if problems:
        figures = {"headline": f"{len(problems)} of {len(cases)} cases wrong", "cases": results}
        return Evidence("fail", "; ".join(problems), figures, inputs, ctx.seed)
    return Evidence(
        "pass",
        "all negative runs failed cleanly on both roles",
        {"headline": f"{len(cases)} of {len(cases)} failed cleanly", "cases": results},
        inputs,
        ctx.seed,
    )


@verifier("seam-coverage")
def verify_seam_coverage(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """C6: branch coverage of the host seam modules, measured during the gate."""
    threshold = float(params.get("coverage-threshold", 90))
    cov = ctx.coverage
    if cov is None:
        return Evidence(
            "skip", "coverage was not measured", reason="the gate ran with --no-coverage"
        )
    problems = exercise_seams()
    cov.stop()
    import io

    text = io.StringIO()
    percent = cov.report(file=text, show_missing=True)
    figures = {
        "headline": f"{percent:.1f}% branch coverage (threshold {threshold:g}%)",
        "branch_coverage_percent": round(percent, 2),
        "threshold": threshold,
        "modules": [str(p.relative_to(PROJECT_ROOT)) for p in SEAM_MODULES],
        "report": text.getvalue().splitlines()[-3:],
    }
    figures["exercise_problems"] = problems
    if problems:
        return Evidence("fail", "seam exercise failed: " + "; ".join(problems), figures)
    if percent < threshold:
        return Evidence("fail", f"seam coverage {percent:.1f}% is below {threshold}%", figures)
    return Evidence("pass", f"seam coverage {percent:.1f}% >= {threshold}%", figures)


def exercise_seams() -> list[str]:
    """Drive the seam glue through the paths a clean seeded run never takes, checking each.

    OS entropy and the real clock, a lost datagram (retransmission), a flooded queue,
    an oversize datagram, scripted entropy running out, and requests the seams refuse.
    Returns what did not behave as specified (empty when all did).
    """
    from harness import seams

    problems: list[str] = []

    def expect(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    real = run_native(RunConfig(seed=None, real_clock=True))
    expect(real.ok, "handshake with OS entropy and the real clock failed")
    link = seams.LoopbackLink(queue_limit=2, clock=seams.VirtualClock())
    a, b = link.endpoint("commissioner"), link.endpoint("commissionee")
    expect(a.send(b"1") and a.send(b"2") and not a.send(b"3"), "full queue accepted a datagram")
    expect(not b.send(bytes(seams.MAX_DATAGRAM + 1)), "oversize datagram accepted")
    expect(link.dropped == 2 and link.pending() == 2, "drops or pending miscounted")
    expect(b.receive() == b"1" and b.receive() == b"2" and b.receive() is None, "queue order")
    link.inject("commissionee", b"x")
    expect(b.receive() == b"x", "injected datagram not delivered")
    try:
        link.endpoint("nobody")
        problems.append("unknown endpoint accepted")
    except ValueError:
        pass
    lossy = seams.FaultyTransport(a, fault="drop", on_sends=frozenset({0}))
    expect(lossy.send(b"lost") and b.receive() is None, "dropped datagram arrived")
    expect(lossy.send(b"kept") and b.receive() == b"kept", "datagram after the loss lost")
    for bad in ({"fault": "melt"}, {"mask": 0}, {"keep": -1}):
        try:
            seams.FaultyTransport(a, **bad)
            problems.append(f"FaultyTransport accepted {bad}")
        except ValueError:
            pass
    cut = seams.FaultyTransport(a, fault="truncate", keep=2)
    expect(cut.send(b"ab") and b.receive() == b"ab", "short datagram changed by truncate")
    expect(cut.send(b"abcd") and b.receive() == b"ab", "truncate did not cut")
    flip = seams.FaultyTransport(a, fault="flip", offset=5)
    expect(flip.send(b"ab") and b.receive() == b"ab", "flip outside the datagram changed it")
    expect(flip.receive() is None, "receive through a faulty transport")
    scripted = seams.ScriptedEntropy([b"\x01\x02"])
    expect(scripted.random_bytes(2) == b"\x01\x02" and scripted.remaining == 0, "script")
    for source, n in ((scripted, 2), (seams.ScriptedEntropy([b"\x01"]), 2)):
        try:
            source.random_bytes(n)
            problems.append("scripted entropy served a wrong draw")
        except seams.EntropyExhausted:
            pass
    for entropy in (seams.OsEntropy(), seams.SeededEntropy(1, "x")):
        try:
            entropy.random_bytes(seams.MAX_ENTROPY_REQUEST + 1)
            problems.append("oversize entropy request served")
        except ValueError:
            pass
    drbg = seams.HmacDrbg(b"seed")
    try:
        drbg.generate(-1)
        problems.append("negative DRBG request served")
    except ValueError:
        pass
    clock = seams.VirtualClock()
    try:
        clock.advance(-1)
        problems.append("virtual clock went backwards")
    except ValueError:
        pass
    clock.advance(5)
    expect(clock.now_ms() == 5 and clock.peek() == 5, "virtual clock advance")
    mono = seams.MonotonicClock()
    mono.advance_to(mono.peek() + 2)
    expect(mono.now_ms() >= 2, "monotonic clock did not wait")
    total = seams.SeamCounters(clock_reads=1).merged(seams.SeamCounters(clock_reads=2))
    expect(total.clock_reads == 3 and total.as_dict()["clock_reads"] == 3, "counter merge")
    return problems


@verifier("vectors-in-component")
def verify_vectors(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """C7: the SPAKE2+ and PASE vectors pass inside the component."""
    from harness.conformance import instantiate_conformance, load_vectors, run_conformance

    target, _seams = instantiate_conformance(ctx.runtime, ctx.load("core"))
    results = run_conformance(target, load_vectors())
    failed = [r for r in results if not r.passed]
    figures = {
        "headline": f"{len(results) - len(failed)} of {len(results)} vectors",
        "vectors": len(results),
        "failed": [f"{r.name}: {r.detail}" for r in failed],
    }
    if not results:
        return Evidence("fail", "no vectors were run", figures, ctx.inputs("core"))
    if failed:
        return Evidence(
            "fail", f"{len(failed)} of {len(results)} vectors failed", figures, ctx.inputs("core")
        )
    return Evidence(
        "pass", f"all {len(results)} vectors pass in the component", figures, ctx.inputs("core")
    )


@verifier("signature-verification")
def verify_signature_claim(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """S1: every component that runs verifies against the trust store; tampering is refused."""
    from harness.supply_chain import verify_signatures

    return verify_signatures(ctx, params)


@verifier("capability-policy")
def verify_policy(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """S2: the core's imports satisfy its capability policy (and WASI probes are refused)."""
    from harness.policy import verify_capability_policy

    policy = params.get("policy")
    verdict, message, figures = verify_capability_policy(
        ctx.component("core"), PROJECT_ROOT / policy if isinstance(policy, str) else None
    )
    figures.setdefault("headline", message)
    inputs = ctx.inputs("core")
    inputs["policy"] = str(figures["policy"]["sha256"])
    return Evidence(verdict, message, figures, inputs)


@verifier("resource-limits")
def verify_limits(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """S3: each limit stops a runaway guest with its typed error; the host survives."""
    from harness.sandbox import KINDS, verify_resource_limits

    verdict, message, figures = verify_resource_limits(
        ctx.runtime, ctx.component("core"), ctx.seed, kinds=KINDS
    )
    figures.setdefault("headline", message)
    before = figures.get("handshake_before", {})
    thash = before.get("transcript_hash") if isinstance(before, dict) else None
    return Evidence(verdict, message, figures, ctx.inputs("core"), ctx.seed, thash)


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
    """The whole gate run."""

    run_id: str
    outcomes: list[ClaimOutcome]
    ledger: Path
    exit_code: int
    summary: str


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
    progress: Callable[[str], None] | None = None,
    supply_chain: SupplyChain | None = None,
) -> GateResult:
    """Run every claim's verifier, append evidence, and decide the exit code."""
    import importlib

    from harness import ledger as ledger_mod
    from harness import traceability

    say = progress or (lambda _m: None)
    verifiers = dict(REGISTRY if registry is None else registry)
    try:
        artifacts = traceability.load_artifacts(traceability_dir)
    except HarnessError as exc:
        raise GateUsageError(exc.explain()) from exc
    findings = traceability.validate(artifacts, verifiers.keys())
    errors = [d for d in findings if d.severity.value == "error"]
    if errors:
        raise GateUsageError(
            "traceability data has errors; fix them first:\n" + "\n".join(str(d) for d in errors)
        )
    claims = sorted(traceability.claims(artifacts), key=lambda c: (c.verifier in RUN_LAST, c.id))
    ctx = GateContext(build_dir, seed, supply_chain=supply_chain)
    ctx.coverage = None
    if measure_coverage:
        import coverage

        import harness.seams

        ctx.coverage = coverage.Coverage(
            branch=True, include=[str(p) for p in SEAM_MODULES], data_file=None
        )
        ctx.coverage.start()
        # Re-run the module body under measurement, so its definitions count as executed.
        importlib.reload(harness.seams)
    run_id = ledger_mod.new_run_id()
    tools = tool_versions()
    commit = git_commit()
    outcomes: list[ClaimOutcome] = []
    try:
        with ledger_mod.EvidenceLedger(ledger_path) as ledger:
            for claim in claims:
                say(f"{claim.id}: {claim.verifier or '(no verifier)'} ...")
                started_at = ledger_mod.utc_now_iso()
                started = time.perf_counter()
                fn = verifiers.get(claim.verifier or "")
                if fn is None:
                    evidence = Evidence("error", f"no verifier registered as {claim.verifier!r}")
                else:
                    try:
                        evidence = fn(ctx, claim.parameters)
                    except Exception as exc:
                        evidence = Evidence(
                            "error",
                            f"verifier raised {type(exc).__name__}: {exc}",
                            {"traceback": traceback.format_exc(limit=8)},
                        )
                if evidence.verdict == "skip" and not evidence.reason:
                    evidence.reason = evidence.message or "skipped"
                record = ledger.append(
                    {
                        "run_id": run_id,
                        "claim": claim.id,
                        "verifier": claim.verifier or "",
                        "verdict": evidence.verdict,
                        "reason": evidence.reason,
                        "message": evidence.message,
                        "started_at": started_at,
                        "duration_s": round(time.perf_counter() - started, 6),
                        "command": f"harness.gate:{claim.verifier}",
                        "inputs": evidence.inputs,
                        "tools": tools,
                        "git_commit": commit,
                        "seed": evidence.seed,
                        "transcript_hash": evidence.transcript_hash,
                        "figures": evidence.figures,
                    }
                )
                outcomes.append(
                    ClaimOutcome(
                        claim.id,
                        claim.verifier,
                        claim.gates_ci,
                        evidence.verdict,
                        evidence.message,
                        record.hash,
                    )
                )
                say(f"{claim.id}: {evidence.verdict.upper()} - {evidence.message}")
    finally:
        if ctx.coverage is not None:
            ctx.coverage.stop()
        ctx.close()
    gated_bad = [o for o in outcomes if o.gated and o.verdict != "pass"]
    passed = sum(o.verdict == "pass" for o in outcomes)
    exit_code = 0
    lines = []
    if gated_bad:
        exit_code = 1
        lines.append(
            "gated claims without passing evidence: " + ", ".join(o.claim for o in gated_bad)
        )
    if passed < min_claims:
        exit_code = 1
        lines.append(f"only {passed} claim(s) verified, --min requires {min_claims}")
    if exit_code == 0:
        lines.append(f"GATE-PASSED: {passed} of {len(outcomes)} claims verified (run {run_id})")
    else:
        lines.insert(0, f"GATE-FAILED (run {run_id})")
    return GateResult(run_id, outcomes, ledger_path, exit_code, "\n".join(lines))
