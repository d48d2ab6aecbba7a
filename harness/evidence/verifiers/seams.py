"""Claim C6: branch coverage of the host seam glue, measured during the gate run, and
checked exercises of the paths a clean seeded run never takes."""

from __future__ import annotations

import importlib
import io
import sys
from collections.abc import Mapping
from typing import Any

import coverage

from harness import seams
from harness.drive import RunConfig, run_native
from harness.evidence.context import GateContext
from harness.evidence.guest_glue import GuestGlueError, measure_guest_glue
from harness.evidence.verifiers.base import Evidence, Verdict, verifier
from harness.project import PROJECT_ROOT
from harness.wit import COMMISSIONEE, COMMISSIONER

#: The seam glue C6 measures: everything a handshake on the host loopback crosses
#: (the UDP transport and the trace writer serve ``peer`` and have their own tests).
SEAM_MODULE_NAMES = tuple(
    f"harness.seams.{name}"
    for name in ("counters", "entropy", "clock", "loopback", "faults", "linkfaults")
)
SEAM_MODULES = tuple(
    PROJECT_ROOT / "harness" / "seams" / f"{name.rsplit('.', 1)[1]}.py"
    for name in SEAM_MODULE_NAMES
)


def start_seam_coverage() -> coverage.Coverage:
    """Start measuring branch coverage of :data:`SEAM_MODULES` for the rest of the run.

    Modules already imported are executed again under measurement, so that their
    definitions count as executed (the objects made from them keep working: their code
    lives in the same files and lines).
    """
    cov = coverage.Coverage(branch=True, include=[str(p) for p in SEAM_MODULES], data_file=None)
    cov.start()
    for name in SEAM_MODULE_NAMES:
        module = sys.modules.get(name)
        if module is None:
            importlib.import_module(name)
        else:
            importlib.reload(module)
    # The package face caches what it resolved; forget it, so that ``seams.X`` names the
    # reloaded definitions (an exception class from before the reload would not catch
    # one raised by the reloaded module).
    for name in seams.EXPORTS:
        vars(seams).pop(name, None)
    return cov


@verifier("seam-coverage")
def verify_seam_coverage(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """C6: branch coverage of the host seam modules, measured during the gate."""
    threshold = float(params.get("coverage-threshold", 90))
    cov = ctx.coverage
    if cov is None:
        return Evidence(
            Verdict.SKIP, "coverage was not measured", reason="the gate ran with --no-coverage"
        )
    problems = exercise_seams()
    cov.stop()
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
    guest_threshold = float(params.get("guest-coverage-threshold", 90))
    if any(core.built == "core" for core in ctx.subject.cores):
        guest, guest_problems = _guest_glue(ctx, guest_threshold)
    else:
        # The guest glue measured is the project's (components/core/app.py): a graph
        # whose cores all come from elsewhere does not run it.
        guest, guest_problems = {"not_applicable": "no core of the graph is the project's"}, []
    figures["guest_glue"] = guest
    if problems:
        return Evidence(Verdict.FAIL, "seam exercise failed: " + "; ".join(problems), figures)
    if percent < threshold:
        return Evidence(
            Verdict.FAIL, f"seam coverage {percent:.1f}% is below {threshold}%", figures
        )
    if guest_problems:
        return Evidence(Verdict.FAIL, "guest glue: " + "; ".join(guest_problems), figures)
    if "not_applicable" in guest:
        return Evidence(
            Verdict.PASS,
            f"seam coverage {percent:.1f}% >= {threshold}%; guest glue not measured: no core "
            "of the graph is the project's",
            figures,
        )
    figures["headline"] += f"; guest glue {guest['branch_coverage_percent']:.1f}%"
    return Evidence(
        Verdict.PASS,
        f"seam coverage {percent:.1f}% >= {threshold}%; guest glue (app.py, measured "
        f"natively against the generated bindings) {guest['branch_coverage_percent']:.1f}% "
        f">= {guest_threshold:g}%",
        figures,
    )


def _guest_glue(ctx: GateContext, threshold: float) -> tuple[dict[str, Any], list[str]]:
    """Branch coverage of ``components/core/app.py`` (see :mod:`harness.evidence.guest_glue`)."""
    try:
        measured = measure_guest_glue(ctx.build_dir)
    except GuestGlueError as exc:
        return {"method": GUEST_METHOD, "error": str(exc)}, [str(exc)]
    figures: dict[str, Any] = {
        "method": GUEST_METHOD,
        "branch_coverage_percent": round(measured.percent, 2),
        "threshold": threshold,
        "report": measured.missing,
        "exercises": measured.exercises,
        "exercise_problems": measured.problems,
    }
    problems = [f"exercise failed: {p}" for p in measured.problems]
    if measured.percent < threshold:
        problems.append(f"branch coverage {measured.percent:.1f}% is below {threshold:g}%")
    return figures, problems


GUEST_METHOD = (
    "natively, in a fresh process, against componentize-py's generated bindings for the "
    "core world with the import functions bound to the host seams (not inside the "
    "component: a --stub-wasi guest has no file system or stdout to carry coverage data)"
)


def exercise_seams() -> list[str]:
    """Drive the seam glue through the paths a clean seeded run never takes, checking each.

    OS entropy and the real clock, a lost datagram (retransmission), a flooded queue,
    an oversize datagram, scripted entropy running out, and requests the seams refuse.
    Returns what did not behave as specified (empty when all did).
    """
    problems: list[str] = []

    def expect(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    real = run_native(RunConfig(seed=None, real_clock=True))
    expect(real.ok, "handshake with OS entropy and the real clock failed")
    link = seams.LoopbackLink(queue_limit=2, clock=seams.VirtualClock())
    a, b = link.endpoint(COMMISSIONER), link.endpoint(COMMISSIONEE)
    expect(a.send(b"1") and a.send(b"2") and not a.send(b"3"), "full queue accepted a datagram")
    expect(not b.send(bytes(seams.MAX_DATAGRAM + 1)), "oversize datagram accepted")
    expect(link.dropped == 2 and link.pending() == 2, "drops or pending miscounted")
    expect(b.receive() == b"1" and b.receive() == b"2" and b.receive() is None, "queue order")
    link.inject(COMMISSIONEE, b"x")
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
    return problems + exercise_link_faults()


#: Plans the link fault model must refuse, one per check it makes.
BAD_FAULT_PLANS = (
    "loss=1",
    "drop",
    "drop=x",
    "drop=2",
    "drop=nan",
    "drop=0,drop=0",
    "delay=-1",
    "delay=3600001",
    "drop=0,,delay=1",
)


def exercise_link_faults() -> list[str]:
    """Drive the seeded link fault model through a faulted run and every fault alone."""
    problems: list[str] = []

    def expect(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    mixed = seams.parse_fault_plan("drop=0.2,duplicate=0.2,reorder=0.2,corrupt=0.1,delay=40")
    runs = [run_native(RunConfig(seed=7, faults=mixed)) for _ in range(2)]
    expect(runs[0].fault_log == runs[1].fault_log != [], "a faulted seeded run did not repeat")
    expect(seams.parse_fault_plan(mixed.text()) == mixed, "the plan text does not round-trip")
    expect(seams.parse_fault_plan("").text() == "none", "the empty plan")
    for text in BAD_FAULT_PLANS:
        try:
            seams.parse_fault_plan(text)
            problems.append(f"fault plan {text!r} accepted")
        except seams.FaultPlanError:
            pass
    for bad in ({"drop": "1"}, {"corrupt": 2.0}, {"delay_ms": 1.5}, {"delay_ms": -1}):
        try:
            seams.FaultPlan(**bad)
            problems.append(f"FaultPlan accepted {bad}")
        except seams.FaultPlanError:
            pass
    clock = seams.VirtualClock()
    link = seams.LoopbackLink(clock=clock, queue_limit=2)
    plan = seams.FaultPlan(corrupt=1.0, duplicate=1.0, reorder=1.0, delay_ms=5)
    link.faults = seams.LinkFaults(plan, seams.fault_seed_material(None))
    a, b = link.endpoint(COMMISSIONER), link.endpoint(COMMISSIONEE)
    expect(a.send(b"") and not a.send(b"x") and link.pending() == 2, "held datagrams not counted")
    expect(b.receive() is None and link.next_release_ms() == seams.REORDER_HOLD_MS + 5, "hold")
    clock.advance_to(seams.REORDER_HOLD_MS + 5)
    expect((b.receive(), b.receive(), b.receive()) == (b"", b"", None), "held datagram release")
    link.calm()
    link.inject(COMMISSIONER, b"stray")
    expect(a.receive() == b"stray" and link.faults.counts.injected == 1, "injection")
    dropped = seams.LinkFaults(seams.FaultPlan(drop=1.0), b"seed")
    wire = seams.LoopbackLink(clock=clock)
    layer = seams.FaultyDatagramTransport(wire.endpoint(COMMISSIONER), dropped, clock)
    wire.endpoint(COMMISSIONEE).send(b"in")
    expect(layer.send(b"out") and layer.receive() is None, "the datagram layer let a drop by")
    expect(layer.next_release_ms() is None and dropped.counts.dropped == 2, "layer counts")
    return problems
