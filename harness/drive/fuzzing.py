"""Fuzz campaigns (claim E2): many cases against one target, outcomes counted, crashers kept.

``native`` runs the core package in this process: coverage-guided by atheris (libFuzzer)
in a child process when atheris is installed (:mod:`harness.drive.fuzz_atheris`), or the
seeded mutational generator of :mod:`harness.drive.fuzz_cases`. ``component`` and
``composed`` are mutational from the captured handshake and *differential*: every case is
also run natively, and the two must agree on the outcome, the error kind, the state and
the drop counts (and, for the component, on the bytes sent in reply), else the case is a
``divergence``.

A case that traps, raises an untyped exception, hangs or diverges fails the campaign and
is saved as ``<regressions>/<target>/<sha256>.bin`` (:func:`replay_regression` runs it
again; the test suite replays every saved file).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.build import GraphRoles
from harness.drive.fuzz_cases import (
    Capture,
    FuzzError,
    capture_handshake,
    decode_regression,
    encode_regression,
    generate_case,
    shard_indices,
)
from harness.drive.fuzz_targets import (
    FAILING,
    FUZZ_TARGETS,
    ComponentTarget,
    ComposedTarget,
    FuzzTarget,
    NativeTarget,
    Observation,
)
from harness.project import PROJECT_ROOT
from harness.runtime import Component, Limits, Runtime

REGRESSIONS_DIR = PROJECT_ROOT / "tests" / "fuzz-regressions"
ENGINES = ("auto", "atheris", "mutational")
#: Failing cases listed in a result (all are counted and saved).
MAX_LISTED = 20


@dataclass
class CampaignResult:
    """What one campaign (one shard of it) found."""

    target: str
    engine: str
    seed: int
    shard: tuple[int, int]
    total_cases: int
    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    divergences: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    saved: list[str] = field(default_factory=list)
    restarts: int = 0
    instances: int = 0

    @property
    def failed(self) -> int:
        """Cases with a failing outcome (trap, untyped, hang, divergence)."""
        return sum(n for label, n in self.outcomes.items() if label in FAILING)

    @property
    def ok(self) -> bool:
        """Cases ran and none failed."""
        return self.cases > 0 and self.failed == 0

    @property
    def cases_per_second(self) -> float:
        """Cases per wall-clock second (the differential native run included)."""
        return self.cases / self.seconds if self.seconds else 0.0

    def figures(self) -> dict[str, Any]:
        """JSON-ready figures for the evidence."""
        return {
            "target": self.target,
            "engine": self.engine,
            "seed": self.seed,
            "shard": f"{self.shard[0]}/{self.shard[1]}",
            "campaign_cases": self.total_cases,
            "cases": self.cases,
            "outcomes": dict(sorted(self.outcomes.items())),
            "failed": self.failed,
            "divergences": self.divergences,
            "cases_per_second": round(self.cases_per_second, 1),
            "seconds": round(self.seconds, 2),
            "restarts": self.restarts,
            "instances": self.instances,
            "saved_crashers": self.saved,
            "failures": self.failures,
        }

    def summary(self) -> str:
        """One line: target, cases, rate, outcome counts."""
        counts = ", ".join(f"{label} {n}" for label, n in sorted(self.outcomes.items()))
        return (
            f"fuzz {self.target} ({self.engine}) shard {self.shard[0]}/{self.shard[1]}: "
            f"{self.cases} cases in {self.seconds:.1f} s ({self.cases_per_second:.0f}/s); "
            f"{counts}; {self.failed} failing ({self.divergences} divergences)"
        )


def atheris_available() -> bool:
    """Whether atheris can be imported here."""
    return importlib.util.find_spec("atheris") is not None


def pick_engine(target: str, engine: str) -> str:
    """The engine a campaign runs: atheris only for ``native``; ``auto`` takes it if
    installed."""
    if engine not in ENGINES:
        raise FuzzError(f"unknown engine {engine!r}; one of {', '.join(ENGINES)}")
    if target != "native":
        if engine == "atheris":
            raise FuzzError("atheris drives the native core only; --engine mutational here")
        return "mutational"
    if engine == "auto":
        return "atheris" if atheris_available() else "mutational"
    if engine == "atheris" and not atheris_available():
        raise FuzzError("atheris is not installed: pip install atheris (the dev extra)")
    return engine


def save_crasher(directory: Path, target: str, step: int, datagram: bytes) -> Path:
    """Write a failing case to ``directory/target/<sha256>.bin`` (idempotent)."""
    data = encode_regression(step, datagram)
    path = directory / target / f"{hashlib.sha256(data).hexdigest()}.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_target(
    target: str,
    capture: Capture,
    runtime: Runtime | None = None,
    component: Component | None = None,
    limits: Limits | None = None,
    roles: GraphRoles | None = None,
) -> FuzzTarget:
    """The target named ``target`` (a component or graph needs ``runtime`` and it;
    ``roles``: which exports of a composed graph play which part, default the
    project's graph's names)."""
    if target not in FUZZ_TARGETS:
        raise FuzzError(f"unknown target {target!r}; one of {', '.join(FUZZ_TARGETS)}")
    if target == "native":
        return NativeTarget(capture)
    if runtime is None or component is None:
        raise FuzzError(f"the {target} target needs a runtime and its component")
    if target == "component":
        return ComponentTarget(capture, runtime, component, limits or Limits())
    return ComposedTarget(capture, runtime, component, limits or Limits(), roles or GraphRoles())


def run_campaign(
    target: FuzzTarget,
    cases: int,
    seed: int,
    shard: tuple[int, int] = (1, 1),
    *,
    regressions: Path | None = REGRESSIONS_DIR,
    reference: FuzzTarget | None = None,
    progress: Callable[[str], None] | None = None,
) -> CampaignResult:
    """The seeded mutational campaign: shard ``shard`` of ``cases`` cases on ``target``,
    each also run on ``reference`` (the native core) when given."""
    capture = target.capture
    result = CampaignResult(target.name, "mutational", seed, shard, cases)
    started = time.perf_counter()
    for index, step, datagram in ordered_cases(capture, cases, seed, shard):
        observed = target.run_case(step, datagram)
        label, detail = observed.label, observed.detail
        if reference is not None:
            expected = reference.run_case(step, datagram)
            problem = _disagreement(expected, observed, target)
            if problem is not None and observed.outcome not in FAILING:
                label, detail = "divergence", problem
                result.divergences += 1
        result.outcomes[label] += 1
        result.cases += 1
        if label in FAILING:
            _record_failure(result, regressions, index, step, datagram, label, detail)
        if progress is not None and result.cases % 1000 == 0:
            progress(result.summary())
    result.seconds = time.perf_counter() - started
    result.failures.sort(key=lambda failure: int(failure["case"]))
    result.restarts = target.restarts
    result.instances = int(getattr(target, "instances", 0))
    return result


def ordered_cases(
    capture: Capture, cases: int, seed: int, shard: tuple[int, int] = (1, 1)
) -> list[tuple[int, int, bytes]]:
    """The shard's cases as ``(index, step, datagram)``, ordered by step, then by index.

    A target keeps its role at a step while cases are dropped there, so running the cases
    of one step together restarts the role (replaying the prefix, with its P-256 and
    PBKDF2 work) only after a case that moved or failed the session, not at every change
    of step. The order is a function of ``(cases, seed, shard)``, so a shard stays
    deterministic; which cases a shard holds does not depend on it.
    """
    drawn = [(index, *generate_case(seed, index, capture)) for index in shard_indices(cases, shard)]
    return sorted(drawn, key=lambda case: (case[1], case[0]))


def _disagreement(expected: Observation, observed: Observation, target: FuzzTarget) -> str | None:
    if not target.sees_replies:
        observed = Observation(
            observed.outcome, observed.kind, observed.state, observed.dropped, "", 0.0
        )
    return expected.disagreement(observed)


def _record_failure(
    result: CampaignResult,
    regressions: Path | None,
    index: int,
    step: int,
    datagram: bytes,
    label: str,
    detail: str,
) -> None:
    if regressions is not None:
        path = save_crasher(regressions, result.target, step, datagram)
        if str(path) not in result.saved:
            result.saved.append(str(path))
    if len(result.failures) < MAX_LISTED:
        result.failures.append(
            {"case": index, "step": step, "outcome": label, "detail": detail[:300]}
        )


def replay_regression(path: Path, target: FuzzTarget) -> Observation:
    """Run a saved crasher on ``target`` again."""
    step, datagram = decode_regression(path.read_bytes(), target.capture)
    return target.run_case(step, datagram)


def run_atheris(
    cases: int,
    seed: int,
    shard: tuple[int, int] = (1, 1),
    *,
    regressions: Path | None = REGRESSIONS_DIR,
    timeout_s: float | None = None,
) -> CampaignResult:
    """The coverage-guided native campaign: atheris in a child process, its libFuzzer
    seeded from ``(seed, shard)``, ``len(shard_indices(cases, shard))`` runs, the captured
    handshake's datagrams as its seed corpus. Coverage-guided inputs cannot be split
    between shards; each shard runs its own deterministic libFuzzer stream."""
    runs = len(shard_indices(cases, shard))
    capture = capture_handshake()
    fuzzer_seed = (
        1
        + int.from_bytes(
            hashlib.sha256(f"atheris:{seed}:{shard[0]}/{shard[1]}".encode()).digest()[:4], "big"
        )
        % 0x7FFFFFFE
    )
    result = CampaignResult("native", "atheris", seed, shard, cases)
    with tempfile.TemporaryDirectory(prefix="matter-harness-atheris-") as tmp:
        work = Path(tmp)
        corpus = work / "corpus"
        corpus.mkdir()
        for number, step in enumerate(capture.steps):
            (corpus / f"step-{number}").write_bytes(encode_regression(number, step.base))
        out = work / "result.json"
        command = [
            sys.executable,
            "-m",
            "harness.drive.fuzz_atheris",
            str(out),
            str(runs),
            str(regressions or ""),
            f"-runs={runs}",
            f"-seed={fuzzer_seed}",
            "-max_len=600",
            str(corpus),
        ]
        started = time.perf_counter()
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        result.seconds = time.perf_counter() - started
        if not out.exists():
            tail = (done.stderr or done.stdout)[-2000:]
            raise FuzzError(f"atheris ended (exit {done.returncode}) without a result: {tail}")
        found = json.loads(out.read_text())
    result.cases = int(found["cases"])
    result.outcomes.update(found["outcomes"])
    result.failures = found["failures"][:MAX_LISTED]
    result.saved = found["saved"]
    result.restarts = int(found["restarts"])
    return result
