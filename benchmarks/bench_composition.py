"""Benchmarks of the composed PASE graph and of one call across a composed seam.

Run: ``python benchmarks/bench_composition.py [--repeat 10] [--cold 2] [--quick]``.
Every figure is a median over repeated runs, measured in this one process, side by side:
the native, uncomposed-component and composed handshakes alternate, so all three see the
same load. Prints a table of name, median, target and ratio (median / target; <= 1.0
meets the target) and the machine it ran on. Exit status is 0 either way.

Targets (from the issue tracker): composing the graph under 1 s with cached type stubs;
the handshake across the composed graph within 1.2x of the uncomposed component
handshake.

The per-call figures time one transport ``send`` or ``receive`` (a 128-byte datagram)
crossing a seam. Two tiny components written in component-model text
(``tests/fixtures/bench``) stand in for a core and the loopback: ``caller`` imports the
core's transport interface and exports ``run(n)``, which sends and receives ``n`` times;
``provider`` exports the transport interface. The caller's import is satisfied three
ways: by the provider inside a graph composed with :mod:`harness.composer` (the seam the
composed PASE graph uses), by a host Python object through the linker (the seam an
uncomposed core uses), and by the provider in a store of its own, reached through the
host. The cost per call is ``(t(run(n)) - t(run(0))) / 2n``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# bench_components (beside this script) also puts this source tree first on sys.path.
from bench_components import (
    CACHE_DIR,
    PROJECT,
    STEPS,
    Row,
    cold_compiles,
    collect_steps,
    counts,
    machine_facts,
    ms_row,
    option_parser,
    print_table,
    ratio_row,
    require_ok,
    timed,
)
from wasmtime import Engine, wat2wasm
from wasmtime import component as wc

from harness.build.componentize import build_all
from harness.build.composer import compose
from harness.build.compositions import compose_cached
from harness.build.graph import load_graph, parse_graph
from harness.drive.composed import run_composed
from harness.drive.config import RunConfig
from harness.drive.placements import run_component, run_native
from harness.project import DEFAULT_BUILD_DIR
from harness.runtime.engine import GuestCall, Runtime, link_seams
from harness.runtime.limits import Limits
from harness.wit import TRANSPORT

GRAPH = PROJECT / "components" / "graphs" / "pase-loopback.toml"
FIXTURES = PROJECT / "tests" / "fixtures" / "bench"
TYPE_CACHE = CACHE_DIR / "types"
RUNNER = "test:bench/runner@0.1.0"
#: The size of the datagram the caller sends (PASE's are 60 to 200 bytes).
DATAGRAM_BYTES = 128
COMPOSE_TARGET_MS = 1000.0
COMPOSED_RATIO_TARGET = 1.2
#: Calls per timed ``run(n)``: (composed, through the host), normal and --quick.
CALLS = {False: (200_000, 2_000), True: (50_000, 500)}
#: Stores for the seam benchmark: no deadline, since one store serves every repetition.
SEAM_LIMITS = Limits(deadline_ms=None)


# --------------------------------------------------------------------------- the graph


def composes(count: int, type_cache: Path | None) -> list[float]:
    """Seconds of ``count`` compositions of the PASE graph (``None``: a cold type cache)."""
    samples = []
    engine = Engine()  # as the CLI does, the engine is made once, outside the timing
    for _ in range(count):
        with tempfile.TemporaryDirectory(prefix="bench-types-") as tmp:
            cache = type_cache if type_cache is not None else Path(tmp)
            started = time.perf_counter()
            compose(load_graph(GRAPH), engine=engine, cache_dir=cache, validate=False)
            samples.append(time.perf_counter() - started)
    return samples


@dataclass
class ThreeWay:
    """Per-repetition seconds: native, uncomposed and composed handshakes, and the
    composed run's other steps (see :data:`bench_components.STEPS`)."""

    native: list[float] = field(default_factory=list)
    component: list[float] = field(default_factory=list)
    composed: list[float] = field(default_factory=list)
    composed_steps: dict[str, list[float]] = field(default_factory=dict)


def handshakes(core: Path, composed: Path, count: int, first_seed: int = 2000) -> ThreeWay:
    """``count`` handshakes in each placement, alternating, one seed per triple."""
    runtime = Runtime(CACHE_DIR)
    samples = ThreeWay()
    try:
        warm_up = RunConfig(seed=first_seed - 1)
        require_ok(run_component(warm_up, runtime, core))
        require_ok(run_composed(warm_up, runtime, composed))
        for seed in range(first_seed, first_seed + count):
            config = RunConfig(seed=seed)
            samples.native.append(require_ok(run_native(config)).timings["handshake"])
            report = require_ok(run_component(config, runtime, core))
            samples.component.append(report.timings["handshake"])
            report = require_ok(run_composed(config, runtime, composed))
            samples.composed.append(report.timings["handshake"])
            collect_steps(samples.composed_steps, report.timings)
    finally:
        runtime.close()
    return samples


# --------------------------------------------------------------------------- one seam call


class EchoTransport:
    """The transport seam as a host object: remembers a datagram's size, hands one back.

    It does what the ``provider`` fixture does, so both sides of the comparison do the
    same work and only the crossing differs.
    """

    def __init__(self) -> None:
        self.last = 0

    def send(self, datagram: bytes) -> bool:
        """Accept ``datagram``."""
        self.last = len(datagram)
        return True

    def receive(self) -> bytes | None:
        """A datagram the size of the last one sent."""
        return bytes(self.last)


class ProviderTransport:
    """The transport seam served by the ``provider`` component in a store of its own."""

    def __init__(self, runtime: Runtime, provider: wc.Component) -> None:
        self.store = runtime.new_store(SEAM_LIMITS)
        instance = wc.Linker(runtime.engine).instantiate(self.store, provider)
        guest = GuestCall(self.store, instance, "provider")
        self._send = guest.func(TRANSPORT, "send")
        self._receive = guest.func(TRANSPORT, "receive")

    def send(self, datagram: bytes) -> bool:
        """Hand ``datagram`` to the provider."""
        return bool(self._send(self.store, datagram))

    def receive(self) -> bytes | None:
        """Take the provider's next datagram."""
        value = self._receive(self.store)
        return None if value is None else bytes(value)


Runner = Callable[[int], int]


class SeamBench:
    """The caller component wired to its transport in the three ways being compared."""

    def __init__(self, workdir: Path) -> None:
        self.runtime = Runtime(None)
        self.workdir = workdir
        for name in ("caller", "provider"):
            data = wat2wasm((FIXTURES / f"{name}.wat").read_text(encoding="utf-8"))
            (workdir / f"{name}.wasm").write_bytes(bytes(data))
        self.caller = self.runtime.load(workdir / "caller.wasm")
        self.provider = self.runtime.load(workdir / "provider.wasm")

    def _runner(self, component: wc.Component, linker: wc.Linker, export: str) -> Runner:
        store = self.runtime.new_store(SEAM_LIMITS)
        guest = GuestCall(store, linker.instantiate(store, component), "caller")
        return lambda n: int(guest.call(export, "run", n))

    def composed(self) -> Runner:
        """The caller and the provider composed into one component."""
        graph = parse_graph(
            {
                "nodes": {"provider": {"path": "provider.wasm"}, "caller": {"path": "caller.wasm"}},
                "exports": [{"instance": "caller", "export": RUNNER, "as": "runner"}],
            },
            base_dir=self.workdir,
            source="seam-bench.toml",
        )
        result = compose(graph, engine=self.runtime.engine)
        if result.outer_imports or result.compiled is None:
            raise SystemExit(f"the seam graph left imports open: {result.outer_imports}")
        return self._runner(result.compiled, wc.Linker(self.runtime.engine), "runner")

    def host(self) -> Runner:
        """The caller linked to a host Python object, as the uncomposed core is."""
        linker = wc.Linker(self.runtime.engine)
        link_seams(linker, transport=EchoTransport())
        return self._runner(self.caller, linker, RUNNER)

    def mediated(self) -> Runner:
        """The caller linked, through host functions, to the provider in another store."""
        linker = wc.Linker(self.runtime.engine)
        link_seams(linker, transport=ProviderTransport(self.runtime, self.provider))
        return self._runner(self.caller, linker, RUNNER)

    def close(self) -> None:
        """Release the runtime."""
        self.runtime.close()


def per_call(name: str, run: Runner, calls: int, count: int) -> Row:
    """Nanoseconds per crossing: ``run(calls)`` minus ``run(0)``, over 2 * ``calls``."""
    if run(calls) != calls * DATAGRAM_BYTES:  # warm-up, and proof the calls crossed
        raise SystemExit(f"{name}: run({calls}) did not receive every datagram")
    full, empty = [], []
    for _ in range(count):
        full.append(timed(lambda: run(calls)))
        empty.append(timed(lambda: run(0)))
    seconds = statistics.median(full) - statistics.median(empty)
    return Row(name, seconds / (2 * calls) * 1e9, "ns", None, count)


def seam_rows(count: int, quick: bool) -> list[Row]:
    """Per-call cost of the three wirings and their ratios."""
    composed_calls, host_calls = CALLS[quick]
    with tempfile.TemporaryDirectory(prefix="bench-seam-") as tmp:
        bench = SeamBench(Path(tmp))
        try:
            composed = per_call(
                "seam call, composed (component to component)",
                bench.composed(),
                composed_calls,
                count,
            )
            host = per_call(
                "seam call, host linker (Python object)", bench.host(), host_calls, count
            )
            mediated = per_call(
                "seam call, host-mediated (provider in own store)",
                bench.mediated(),
                host_calls,
                count,
            )
        finally:
            bench.close()
    return [
        composed,
        host,
        mediated,
        ratio_row("seam call, host linker / composed", host, composed),
        ratio_row("seam call, host-mediated / composed", mediated, composed),
    ]


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Measure everything and print the table."""
    parser = option_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    counts(args, {"repeat": (10, 3), "cold": (2, 1)})
    print(f"repeat {args.repeat}, cold compiles {args.cold}", flush=True)

    builds = build_all(DEFAULT_BUILD_DIR, names=["core", "loopback"])
    runtime = Runtime(CACHE_DIR)
    try:
        artifact = compose_cached(GRAPH, runtime, DEFAULT_BUILD_DIR)
    finally:
        runtime.close()
    data = artifact.path.read_bytes()
    print(f"composed graph: {artifact.path} ({len(data) / 1e6:.1f} MB)", flush=True)

    composes(1, TYPE_CACHE)  # fills the type cache
    rows = [
        ms_row("compose, cached type stubs", composes(args.repeat, TYPE_CACHE), COMPOSE_TARGET_MS)
    ]
    if args.cold > 0:
        rows.append(ms_row("compose, cold type stubs", composes(args.cold, None)))
        print(f"cold compiles of the composed component ({args.cold}) ...", flush=True)
        rows.append(ms_row("composed compile, cold", cold_compiles(data, args.cold)))
    print(f"handshakes ({args.repeat} triples) ...", flush=True)
    samples = handshakes(builds["core"].path, artifact.path, args.repeat)
    rows += [
        ms_row(f"composed {STEPS[n]}", samples.composed_steps[n]) for n in samples.composed_steps
    ]
    native = ms_row("handshake native, 1000 it", samples.native)
    component = ms_row("handshake component (uncomposed)", samples.component)
    composed = ms_row("handshake composed graph", samples.composed)
    rows += [
        native,
        component,
        composed,
        ratio_row("handshake composed / uncomposed", composed, component, COMPOSED_RATIO_TARGET),
        ratio_row("handshake composed / native", composed, native),
        ratio_row("handshake uncomposed / native", component, native),
    ]
    print("seam calls ...", flush=True)
    rows += seam_rows(args.repeat, args.quick)
    print_table("composition (medians; ratio = median / target, <= 1 meets it)", rows)
    for line in machine_facts():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
