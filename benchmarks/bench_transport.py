"""The loopback transport before and after it was rewritten in component-model text.

Run: ``python benchmarks/bench_transport.py [--repeat 10] [--cold 2] [--quick]
[--before-rev REV]``.

"Before" is the componentize-py guest (``components/loopback/app.py`` and
``link_faults.py``, bundling a CPython), taken from git revision ``--before-rev`` (the
last one that had it) and built once into ``build/bench-transport/`` (cached there by
its input key, like any build); "after" is the component built from
``components/loopback/*.wat``. Each is composed with the current core into the PASE graph
(signed with the build directory's key, as ``compose`` does), and the two are measured
side by side in this one process: the component's size and cold compile, the composed
graph's size and cold compile (no artifact cache; the two alternate), and one composed
handshake (warm; the two alternate, one seed per pair). Every figure is a median; the
machine and its load are printed. Exit status is 0 either way: this reports.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

# bench_components (beside this script) also puts this source tree first on sys.path.
from bench_components import (
    CACHE_DIR,
    PROJECT,
    Row,
    cold_compiles,
    counts,
    machine_facts,
    ms_row,
    option_parser,
    print_table,
    ratio_row,
    require_ok,
)

from harness.build.componentize import build_component
from harness.build.compositions import compose_to_file
from harness.build.specs import LOOPBACK, ComponentSpec
from harness.drive.composed import run_composed
from harness.drive.config import RunConfig
from harness.project import DEFAULT_BUILD_DIR
from harness.runtime.engine import Runtime
from harness.supply import SupplyChain

#: The last revision with the componentize-py loopback guest.
BEFORE_REV = "35a2919"
BEFORE_SOURCES = ("components/loopback/app.py", "components/loopback/link_faults.py")
WORK_DIR = DEFAULT_BUILD_DIR / "bench-transport"
GRAPH_TEMPLATE = (PROJECT / "components" / "graphs" / "pase-loopback.toml").read_text()


def before_spec(rev: str) -> ComponentSpec:
    """The componentize-py loopback guest of ``rev``, written out under WORK_DIR."""
    source = WORK_DIR / "before-src"
    source.mkdir(parents=True, exist_ok=True)
    for name in BEFORE_SOURCES:
        done = subprocess.run(
            ["git", "-C", str(PROJECT), "show", f"{rev}:{name}"],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"cannot read {name} at {rev}: {done.stderr.decode().strip()}")
        target = source / Path(name).name
        if not target.is_file() or target.read_bytes() != done.stdout:
            target.write_bytes(done.stdout)
    return ComponentSpec(
        name="loopback-before", world="loopback", app_module="app", python_paths=(source,)
    )


def composed(loopback: Path, label: str, runtime: Runtime, chain: SupplyChain) -> Path:
    """The PASE graph with ``loopback`` as its transport, composed and signed."""
    graph = WORK_DIR / f"graph-{label}.toml"
    core = DEFAULT_BUILD_DIR / "core.wasm"
    text = GRAPH_TEMPLATE.replace('"../../build/core.wasm"', f'"{core.as_posix()}"')
    text = text.replace('"../../build/loopback.wasm"', f'"{loopback.as_posix()}"')
    graph.write_text(text)
    output = WORK_DIR / f"composed-{label}.wasm"
    compose_to_file(
        graph,
        output,
        runtime=runtime,
        build_dir=DEFAULT_BUILD_DIR,
        supply_chain=chain,
        validate=False,
    )
    return output


def alternating_cold_compiles(before: bytes, after: bytes, count: int) -> tuple[list[float], ...]:
    """Cold compiles of ``before`` and ``after``, alternating, ``count`` of each."""
    first: list[float] = []
    second: list[float] = []
    for _ in range(count):
        first += cold_compiles(before, 1)
        second += cold_compiles(after, 1)
    return first, second


def handshakes(
    before: Path, after: Path, chain: SupplyChain, count: int
) -> tuple[list[float], ...]:
    """Composed handshakes over each transport, alternating, one seed per pair."""
    runtime = Runtime(CACHE_DIR)
    first: list[float] = []
    second: list[float] = []
    try:
        for path in (before, after):  # warm-up: compiles into the artifact cache
            require_ok(run_composed(RunConfig(seed=2999), runtime, path, supply_chain=chain))
        for seed in range(3000, 3000 + count):
            for path, samples in ((before, first), (after, second)):
                report = run_composed(RunConfig(seed=seed), runtime, path, supply_chain=chain)
                samples.append(require_ok(report).timings["handshake"])
    finally:
        runtime.close()
    return first, second


def size_row(name: str, size: int) -> Row:
    return Row(name, size / 1e6, "MB") if size >= 1e6 else Row(name, size / 1e3, "kB")


def main(argv: list[str] | None = None) -> int:
    """Build both transports, compose both graphs, measure, print."""
    parser = option_parser(__doc__.splitlines()[0])
    parser.add_argument("--before-rev", default=BEFORE_REV, help="revision of the old guest")
    args = parser.parse_args(argv)
    counts(args, {"repeat": (10, 3), "cold": (2, 1)})
    for line in machine_facts():
        print(line)
    print(f"repeat {args.repeat}, cold compiles {args.cold} of each", flush=True)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    chain = SupplyChain.local(None, DEFAULT_BUILD_DIR)
    build_component(LOOPBACK, DEFAULT_BUILD_DIR, supply_chain=chain)
    old = build_component(before_spec(args.before_rev), WORK_DIR, supply_chain=chain)
    print(f"before: {old.path} ({'cached' if old.cached else f'built in {old.seconds:.1f} s'})")
    new = DEFAULT_BUILD_DIR / "loopback.wasm"
    runtime = Runtime(None)
    try:
        graphs = (
            composed(old.path, "before", runtime, chain),
            composed(new, "after", runtime, chain),
        )
    finally:
        runtime.close()
    print("measuring cold compiles ...", flush=True)
    transport = alternating_cold_compiles(old.path.read_bytes(), new.read_bytes(), args.cold)
    graph = alternating_cold_compiles(graphs[0].read_bytes(), graphs[1].read_bytes(), args.cold)
    print("measuring composed handshakes ...", flush=True)
    shakes = handshakes(graphs[0], graphs[1], chain, args.repeat)
    rows: list[Row] = []
    for label, files in (("transport component", (old.path, new)), ("composed graph", graphs)):
        rows.append(size_row(f"{label} size, before", files[0].stat().st_size))
        rows.append(size_row(f"{label} size, after", files[1].stat().st_size))
    for label, pair in (
        ("transport", transport),
        ("composed graph", graph),
        ("composed handshake", shakes),
    ):
        what = f"{label} cold compile" if label != "composed handshake" else f"one {label}"
        before = ms_row(f"{what}, before", pair[0])
        after = ms_row(f"{what}, after", pair[1])
        rows += [before, after, ratio_row(f"{what}, after / before", after, before)]
    print_table(
        "loopback transport: componentize-py guest (before) vs component text (after)", rows
    )
    for line in machine_facts():
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
