"""Tests for harness.composer and harness.component_types.

Most tests use tiny components written in component-model text (fixtures/compose/*.wat,
compiled once per session). One slow test composes real componentize-py components.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from wasmtime import Engine, Store, WasiConfig, wat2wasm
from wasmtime.component import Component, Linker

from harness import wasm_binary as wb
from harness.build.composer import HIDDEN_EXPORTS, ComposeResult, compose
from harness.build.graph import Graph, load_graph, parse_graph
from harness.build.wat import ImportRenderer
from harness.errors import (
    ComponentFileError,
    CompositionError,
    CompositionTypeError,
    ConflictingImportError,
    DependencyCycleError,
    GraphError,
    MissingExportError,
    MissingImportError,
    UnsatisfiedImportError,
    UnsupportedTypeError,
    WasmFormatError,
)
from harness.runtime.types import ComponentInterface, Json, read_interface, type_stub
from harness.wasm_binary import MANIFEST_SECTION, read_manifest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "compose"
REPO = Path(__file__).resolve().parents[3]

COUNTER = "test:compose/counter@0.1.0"
RUNNER = "test:compose/runner@0.1.0"
LOG = "test:compose/log@0.1.0"


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine()


@pytest.fixture(scope="session")
def wasm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every fixtures/compose/*.wat compiled to <name>.wasm in one directory."""
    out = tmp_path_factory.mktemp("compose-fixtures")
    for source in FIXTURES.glob("*.wat"):
        (out / f"{source.stem}.wasm").write_bytes(wat2wasm(source.read_text()))
    return out


def graph_of(wasm_dir: Path, data: dict[str, Any]) -> Graph:
    return parse_graph(data, base_dir=wasm_dir, source="test-graph.toml")


def nodes(**paths: str) -> dict[str, Any]:
    return {name: {"path": path} for name, path in paths.items()}


def instances(**node_of: str) -> dict[str, Any]:
    return {name: {"node": node} for name, node in node_of.items()}


def host_linker(engine: Engine, logged: list[Any]) -> Linker:
    linker = Linker(engine)
    with linker.root() as root, root.add_instance(LOG) as log:
        log.add_func("emit", lambda _store, value: logged.append(value))
    return linker


def caller(result: ComposeResult, store: Store, instance: Any) -> Callable[..., Any]:
    component = result.compiled
    assert component is not None

    def call(export: str, func: str, *args: Any) -> Any:
        outer = component.get_export_index(export)
        index = component.get_export_index(func, outer)
        assert index is not None, f"{export}.{func} not exported"
        f = instance.get_func(store, index)
        value = f(store, *args)
        f.post_return(store)
        return value

    return call


TWO_PAIRS = {
    "nodes": nodes(provider="provider.wasm", consumer="consumer.wasm"),
    "instances": instances(pa="provider", pb="provider", ca="consumer", cb="consumer"),
    "wiring": [
        {"instance": "ca", "import": COUNTER, "from": "pa"},
        {"instance": "cb", "import": COUNTER, "from": "pb", "export": COUNTER},
    ],
    "exports": [
        {"instance": "ca", "export": RUNNER, "as": "runner-a"},
        {"instance": "cb", "export": RUNNER, "as": "runner-b"},
        {"instance": "pa", "export": COUNTER},
    ],
}


# --------------------------------------------------------------------------- composing


def test_two_instances_keep_independent_state(wasm_dir: Path, engine: Engine) -> None:
    result = compose(graph_of(wasm_dir, TWO_PAIRS), engine=engine)
    assert result.outer_imports == (LOG,)  # shared by both consumers, declared once
    assert result.outer_exports == ("runner-a", "runner-b", COUNTER)
    assert result.order == ("pa", "pb", "ca", "cb")
    logged: list[Any] = []
    store = Store(engine)
    assert result.compiled is not None
    instance = host_linker(engine, logged).instantiate(store, result.compiled)
    call = caller(result, store, instance)
    assert call("runner-a", "run", 5) == 5
    assert call("runner-a", "run", 2) == 7
    assert call("runner-b", "run", 1) == 1  # pb's counter is untouched by runner-a
    assert call(COUNTER, "get") == 7  # the renamed export and the plain one share pa
    assert logged == [5, 2, 1]


def test_composed_component_declares_exactly_the_open_imports(
    wasm_dir: Path, engine: Engine
) -> None:
    result = compose(graph_of(wasm_dir, TWO_PAIRS), engine=engine, validate=False)
    assert result.compiled is None
    composed = read_interface(result.component, engine=engine)
    consumer = read_interface((wasm_dir / "consumer.wasm").read_bytes(), engine=engine)
    assert [i.name for i in composed.imports] == [LOG]
    assert composed.imports[0] == consumer.import_named(LOG)
    assert [(e.name, e.sort) for e in composed.exports] == [
        ("runner-a", "instance"),
        ("runner-b", "instance"),
        (COUNTER, "instance"),
    ]


def test_imports_are_wired_automatically_to_the_unique_exporter(
    wasm_dir: Path, engine: Engine
) -> None:
    # The consumer is declared first; it still comes second in instantiation order.
    graph = graph_of(
        wasm_dir,
        {
            "nodes": nodes(consumer="consumer.wasm", provider="provider.wasm"),
            "exports": [{"instance": "consumer", "export": RUNNER}],
        },
    )
    result = compose(graph, engine=engine)
    assert result.order == ("provider", "consumer")
    assert [(w.instance, w.import_name, w.source, w.explicit) for w in result.wiring] == [
        ("consumer", COUNTER, "provider", False)
    ]
    assert result.outer_imports == (LOG,)
    store = Store(engine)
    assert result.compiled is not None
    logged: list[Any] = []
    call = caller(result, store, host_linker(engine, logged).instantiate(store, result.compiled))
    assert call(RUNNER, "run", 3) == 3 and call(RUNNER, "run", 4) == 7


def test_ambiguous_exporters_leave_the_import_open(wasm_dir: Path, engine: Engine) -> None:
    graph = graph_of(
        wasm_dir,
        {
            "nodes": nodes(provider="provider.wasm", consumer="consumer.wasm"),
            "instances": instances(p1="provider", p2="provider", c="consumer"),
        },
    )
    result = compose(graph, engine=engine, validate=False)
    assert result.wiring == ()
    assert result.outer_imports == (COUNTER, LOG)


def test_required_import_with_ambiguous_exporters_is_an_error(
    wasm_dir: Path, engine: Engine
) -> None:
    graph = graph_of(
        wasm_dir,
        {
            "nodes": nodes(provider="provider.wasm", consumer="consumer.wasm"),
            "instances": instances(p1="provider", p2="provider", c="consumer"),
            "require_wired": [COUNTER],
        },
    )
    with pytest.raises(UnsatisfiedImportError, match=r"several instances export it \(p1, p2\)"):
        compose(graph, engine=engine, validate=False)


def test_required_import_nobody_exports_is_an_error(wasm_dir: Path, engine: Engine) -> None:
    graph = graph_of(
        wasm_dir,
        {"nodes": nodes(consumer="consumer.wasm"), "require_wired": [COUNTER]},
    )
    with pytest.raises(UnsatisfiedImportError) as info:
        compose(graph, engine=engine, validate=False)
    assert f"import '{COUNTER}' of instance 'consumer'" in str(info.value)
    assert "no instance exports it" in str(info.value)
    assert info.value.hint is not None and "[[wiring]]" in info.value.explain()


def test_per_instance_require_all_imports(wasm_dir: Path, engine: Engine) -> None:
    graph = graph_of(
        wasm_dir,
        {
            "nodes": nodes(provider="provider.wasm", consumer="consumer.wasm"),
            "instances": {
                "p": {"node": "provider"},
                "c": {"node": "consumer", "require_wired": "*"},
            },
        },
    )
    # counter is wired automatically, but log has no exporter.
    with pytest.raises(UnsatisfiedImportError, match=f"import '{LOG}' of instance 'c'"):
        compose(graph, engine=engine, validate=False)


def test_require_wired_naming_nothing_imported_is_an_error(wasm_dir: Path, engine: Engine) -> None:
    graph = graph_of(
        wasm_dir, {"nodes": nodes(consumer="consumer.wasm"), "require_wired": ["x:y/z"]}
    )
    with pytest.raises(GraphError, match="no node imports"):
        compose(graph, engine=engine, validate=False)
    graph = graph_of(
        wasm_dir,
        {
            "nodes": nodes(consumer="consumer.wasm"),
            "instances": {"c": {"node": "consumer", "require_wired": ["x:y/z"]}},
        },
    )
    with pytest.raises(GraphError, match="node 'consumer' does not import"):
        compose(graph, engine=engine, validate=False)


def test_wiring_to_a_missing_export_is_an_error(wasm_dir: Path, engine: Engine) -> None:
    data = {
        "nodes": nodes(provider="provider.wasm", consumer="consumer.wasm"),
        "wiring": [
            {"instance": "consumer", "import": COUNTER, "from": "provider", "export": "x:y/nope"}
        ],
    }
    with pytest.raises(MissingExportError) as info:
        compose(graph_of(wasm_dir, data), engine=engine, validate=False)
    message = str(info.value)
    assert "instance 'consumer'" in message and COUNTER in message
    assert "'x:y/nope' of instance 'provider'" in message
    assert info.value.hint == f"it has: {COUNTER}"  # the hidden "exports" is not offered


def test_hidden_exports_instance_is_never_wired_or_surfaced(wasm_dir: Path, engine: Engine) -> None:
    assert "exports" in HIDDEN_EXPORTS
    wired = {
        "nodes": nodes(provider="provider.wasm", consumer="consumer.wasm"),
        "wiring": [
            {"instance": "consumer", "import": COUNTER, "from": "provider", "export": "exports"}
        ],
    }
    with pytest.raises(MissingExportError):
        compose(graph_of(wasm_dir, wired), engine=engine, validate=False)
    surfaced = {
        "nodes": nodes(provider="provider.wasm"),
        "exports": [{"instance": "provider", "export": "exports"}],
    }
    with pytest.raises(MissingExportError, match="has no export 'exports'"):
        compose(graph_of(wasm_dir, surfaced), engine=engine, validate=False)


def test_wiring_an_import_the_instance_lacks_is_an_error(wasm_dir: Path, engine: Engine) -> None:
    data = {
        "nodes": nodes(provider="provider.wasm", consumer="consumer.wasm"),
        "wiring": [{"instance": "consumer", "import": "x:y/z", "from": "provider"}],
    }
    with pytest.raises(MissingImportError, match=r"instance 'consumer' .* has no import 'x:y/z'"):
        compose(graph_of(wasm_dir, data), engine=engine, validate=False)


def test_exporting_a_missing_export_is_an_error(wasm_dir: Path, engine: Engine) -> None:
    data = {
        "nodes": nodes(consumer="consumer.wasm"),
        "exports": [{"instance": "consumer", "export": "x:y/z"}],
    }
    with pytest.raises(MissingExportError, match=r"instance 'consumer' .* has no export 'x:y/z'"):
        compose(graph_of(wasm_dir, data), engine=engine, validate=False)


def test_type_mismatch_names_the_instance_and_interface(wasm_dir: Path, engine: Engine) -> None:
    data = {
        "nodes": nodes(wide="wide_provider.wasm", consumer="consumer.wasm"),
        "exports": [{"instance": "consumer", "export": RUNNER}],
    }
    with pytest.raises(CompositionTypeError) as info:
        compose(graph_of(wasm_dir, data), engine=engine)
    message = str(info.value)
    assert "when instantiating 'consumer'" in message
    assert f"type mismatch for import `{COUNTER}`" in message
    assert "expected primitive `u32` found primitive `u64`" in message


def test_sort_mismatch_is_reported_before_validation(wasm_dir: Path, engine: Engine) -> None:
    func_exporter = wasm_dir / "func_exporter.wasm"
    func_exporter.write_bytes(
        wat2wasm(
            f"""(component
                  (core module $m (func (export "f")))
                  (core instance $i (instantiate $m))
                  (func $f (canon lift (core func $i "f")))
                  (export "{COUNTER}" (func $f)))"""
        )
    )
    data = {
        "nodes": nodes(f="func_exporter.wasm", consumer="consumer.wasm"),
        "wiring": [{"instance": "consumer", "import": COUNTER, "from": "f"}],
    }
    with pytest.raises(CompositionTypeError, match=r"is a instance but export .* is a func"):
        compose(graph_of(wasm_dir, data), engine=engine, validate=False)


def test_dependency_cycle_is_an_error(wasm_dir: Path, engine: Engine) -> None:
    data = {"nodes": nodes(ping="ping.wasm", pong="pong.wasm")}
    with pytest.raises(DependencyCycleError, match="ping -> pong -> ping"):
        compose(graph_of(wasm_dir, data), engine=engine, validate=False)


def test_missing_component_file_is_an_error(wasm_dir: Path, engine: Engine) -> None:
    data = {"nodes": nodes(core="../nowhere/core.wasm")}
    with pytest.raises(ComponentFileError, match="node 'core' not found") as info:
        compose(graph_of(wasm_dir, data), engine=engine)
    assert "build the components first" in info.value.explain()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not wasm", "not a well-formed component.*magic"),
        (wb.COMPONENT_PREAMBLE + b"\x07\x10\x00", "not a well-formed component.*claims 16"),
        (bytes(wat2wasm("(module)")), "core wasm module, not a component"),
        # Well-framed but invalid: wasmtime's message is passed on.
        (wb.COMPONENT_PREAMBLE + wb.encode_section(wb.SECTION_TYPE, b"\x01\x99"), "not a valid"),
    ],
)
def test_malformed_component_files_are_errors(
    wasm_dir: Path, engine: Engine, tmp_path: Path, content: bytes, message: str
) -> None:
    (tmp_path / "bad.wasm").write_bytes(content)
    graph = parse_graph({"nodes": nodes(bad="bad.wasm")}, base_dir=tmp_path)
    with pytest.raises(ComponentFileError, match=message) as info:
        compose(graph, engine=engine)
    assert str(info.value).startswith("node 'bad': ")


def test_conflicting_open_import_types_are_an_error(wasm_dir: Path, engine: Engine) -> None:
    (wasm_dir / "wide_logger.wasm").write_bytes(
        wat2wasm(f'(component (import "{LOG}" (instance (export "emit" (func (param "n" u64))))))')
    )
    data = {"nodes": nodes(consumer="consumer.wasm", logger="wide_logger.wasm")}
    with pytest.raises(
        ConflictingImportError, match=f"'consumer' and 'logger' both import '{LOG}'"
    ):
        compose(graph_of(wasm_dir, data), engine=engine, validate=False)


def test_types_that_cannot_be_redeclared_are_reported() -> None:
    renderer = ImportRenderer("$root")
    users: Json = {
        "kind": "instance",
        "exports": [["h", {"kind": "type", "def": {"alias": ["x:y/types", "h"]}}]],
    }
    # The resource comes from an interface the composed component does not import.
    with pytest.raises(UnsupportedTypeError, match="type 'h' of 'x:y/types' is used by"):
        renderer.render("x:y/users", users, "$u")
    with pytest.raises(UnsupportedTypeError, match="import 'm' is a module"):
        renderer.render("m", {"kind": "module"}, "$m")


def test_root_component_imports_are_reported_with_wasmtimes_reason(
    wasm_dir: Path, engine: Engine
) -> None:
    (wasm_dir / "component_importer.wasm").write_bytes(
        wat2wasm('(component (import "plugin" (component)))')
    )
    data = {"nodes": nodes(c="component_importer.wasm")}
    with pytest.raises(ComponentFileError, match="root-level component imports are not supported"):
        compose(graph_of(wasm_dir, data), engine=engine, validate=False)


def test_errors_share_the_harness_base(wasm_dir: Path, engine: Engine) -> None:
    with pytest.raises(CompositionError) as info:
        compose(graph_of(wasm_dir, {"nodes": nodes(ping="ping.wasm", pong="pong.wasm")}))
    assert info.value.explain().startswith("error: the instances depend on each other")


# --------------------------------------------------------------------------- types


def test_rich_import_types_are_redeclared_exactly(wasm_dir: Path, engine: Engine) -> None:
    data = {
        "nodes": nodes(rich="rich_importer.wasm"),
        "exports": [{"instance": "rich", "export": "noop", "as": "noop-renamed"}],
    }
    result = compose(graph_of(wasm_dir, data), engine=engine)
    inner = read_interface((wasm_dir / "rich_importer.wasm").read_bytes(), engine=engine)
    outer = read_interface(result.component, engine=engine)
    # Records, variants, enums, flags, a resource shared through an outer alias, a
    # plain type import and a function import all survive the round trip.
    assert outer.imports == inner.imports
    assert [i.name for i in inner.imports] == [
        "test:rich/types@0.1.0",
        "test:rich/users@0.1.0",
        "shape",
        "tick",
    ]
    users = inner.import_named("test:rich/users@0.1.0")
    assert users is not None and users.kind == "instance"
    assert '"alias": ["test:rich/types@0.1.0", "handle"]' in json.dumps(users.item)
    assert [(e.name, e.sort) for e in outer.exports] == [("noop-renamed", "func")]


def test_type_stub_keeps_only_declarations(wasm_dir: Path, engine: Engine) -> None:
    data = (wasm_dir / "consumer.wasm").read_bytes()
    stub = type_stub(data)
    assert stub is not None and len(stub) < len(data)
    ids = {s.id for s in wb.parse_sections(stub)}
    assert ids <= {wb.SECTION_CUSTOM, wb.SECTION_TYPE, wb.SECTION_ALIAS, wb.SECTION_IMPORT}
    component = Component(engine, stub)
    assert sorted(component.type.imports(engine)) == [COUNTER, LOG]
    assert component.type.exports(engine) == {}


def test_component_with_late_imports_falls_back_to_full_compile(
    wasm_dir: Path, engine: Engine
) -> None:
    late = bytes(
        wat2wasm(
            f"""(component
                  (core module $m)
                  (import "{LOG}" (instance (export "emit" (func (param "n" u32))))))"""
        )
    )
    assert type_stub(late) is None
    interface = read_interface(late, engine=engine)
    assert [i.name for i in interface.imports] == [LOG]


def test_interface_cache_is_written_reused_and_survives_corruption(
    wasm_dir: Path, engine: Engine, tmp_path: Path
) -> None:
    data = (wasm_dir / "consumer.wasm").read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    first = read_interface(data, engine=engine, cache_dir=tmp_path)
    cache_file = tmp_path / f"{digest}.json"
    assert ComponentInterface.from_json(json.loads(cache_file.read_text())) == first
    # A cached entry is used as is (proved by planting a recognisable one)...
    planted = json.loads(cache_file.read_text())
    planted["exports"] = [["planted", "func"]]
    cache_file.write_text(json.dumps(planted))
    assert read_interface(data, engine=engine, cache_dir=tmp_path).exports[0].name == "planted"
    # ...and a corrupt one is ignored and rewritten.
    cache_file.write_text("{not json")
    assert read_interface(data, engine=engine, cache_dir=tmp_path) == first
    assert json.loads(cache_file.read_text())["sha256"] == digest


def test_an_unwritable_cache_only_costs_time(
    wasm_dir: Path, engine: Engine, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    data = (wasm_dir / "consumer.wasm").read_bytes()
    interface = read_interface(data, engine=engine, cache_dir=blocker / "cache")
    assert [i.name for i in interface.imports] == [COUNTER, LOG]


# --------------------------------------------------------------------------- manifest


def test_manifest_records_nodes_digests_and_wiring(wasm_dir: Path, engine: Engine) -> None:
    result = compose(graph_of(wasm_dir, TWO_PAIRS), engine=engine, validate=False)
    manifest = read_manifest(result.component)
    assert manifest == result.manifest
    assert manifest is not None
    for node in manifest["nodes"]:
        content = (wasm_dir / node["file"]).read_bytes()
        assert node["sha256"] == hashlib.sha256(content).hexdigest()
        assert node["size"] == len(content)
    assert [(n["name"], n["instances"]) for n in manifest["nodes"]] == [
        ("provider", ["pa", "pb"]),
        ("consumer", ["ca", "cb"]),
    ]
    assert manifest["instances"][0] == {"name": "pa", "node": "provider"}
    assert manifest["wiring"][0] == {
        "instance": "ca",
        "import": COUNTER,
        "from": "pa",
        "export": COUNTER,
        "explicit": True,
    }
    assert manifest["exports"][0] == {"instance": "ca", "export": RUNNER, "as": "runner-a"}
    assert manifest["imports"] == [LOG]
    assert manifest["graph"] == "test-graph.toml"


def test_read_manifest_of_plain_component_is_none(wasm_dir: Path) -> None:
    assert read_manifest((wasm_dir / "consumer.wasm").read_bytes()) is None


def test_read_manifest_rejects_garbage(wasm_dir: Path) -> None:
    data = (wasm_dir / "consumer.wasm").read_bytes()
    with pytest.raises(WasmFormatError, match="not JSON"):
        read_manifest(data + wb.custom_section(MANIFEST_SECTION, b"{oops"))
    with pytest.raises(WasmFormatError, match="not a JSON object"):
        read_manifest(data + wb.custom_section(MANIFEST_SECTION, b"[1]"))


def test_composition_is_deterministic(wasm_dir: Path, engine: Engine, tmp_path: Path) -> None:
    graph = graph_of(wasm_dir, TWO_PAIRS)
    cold = compose(graph, engine=engine, cache_dir=tmp_path, validate=False)
    warm = compose(graph, engine=engine, cache_dir=tmp_path, validate=False)
    uncached = compose(graph, engine=Engine(), validate=False)
    assert cold.component == warm.component == uncached.component
    assert cold.text == warm.text


def test_graph_file_paths_resolve_relative_to_the_graph(
    wasm_dir: Path, engine: Engine, tmp_path: Path
) -> None:
    build = tmp_path / "build"
    build.mkdir()
    for name in ("provider", "consumer"):
        shutil.copy(wasm_dir / f"{name}.wasm", build / f"{name}.wasm")
    graphs = tmp_path / "graphs"
    graphs.mkdir()
    (graphs / "pair.toml").write_text(
        f"""
[nodes.provider]
path = "../build/provider.wasm"
[nodes.consumer]
path = "../build/consumer.wasm"

[[exports]]
instance = "consumer"
export = "{RUNNER}"
as = "runner"
""",
        encoding="utf-8",
    )
    result = compose(load_graph(graphs / "pair.toml"), engine=engine)
    assert result.outer_exports == ("runner",)
    manifest = read_manifest(result.component)
    assert manifest is not None and manifest["graph"] == "pair.toml"
    assert [n["path"] for n in manifest["nodes"]] == [
        "../build/provider.wasm",
        "../build/consumer.wasm",
    ]


# --------------------------------------------------------------------------- componentize-py


def _build_python_component(world: str, app_dir: str) -> Path:
    """Build (or reuse) a componentize-py component from fixtures/compose/py.

    Cached under build/test-components/ by a SHA-256 of every input.
    """
    sources = FIXTURES / "py"
    inputs = hashlib.sha256()
    for path in sorted(sources.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            inputs.update(str(path.relative_to(sources)).encode() + b"\0" + path.read_bytes())
    inputs.update(f"{world}\0{app_dir}\0componentize-py 0.25.1".encode())
    out = REPO / "build" / "test-components" / inputs.hexdigest()[:32] / f"{world}.wasm"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tool = Path(sys.executable).parent / "componentize-py"
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    subprocess.run(
        [
            str(tool),
            "-d",
            str(sources / "wit"),
            "-w",
            world,
            "componentize",
            "-p",
            str(sources / app_dir),
            "app",
            "-o",
            str(tmp),
        ],
        check=True,
        capture_output=True,
    )
    tmp.replace(out)
    return out


@pytest.mark.slow
def test_componentize_py_components_compose_and_run(engine: Engine, tmp_path: Path) -> None:
    provider = _build_python_component("provider", "provider")
    consumer = _build_python_component("consumer", "consumer")
    graph = parse_graph(
        {
            "nodes": {"provider": {"path": str(provider)}, "consumer": {"path": str(consumer)}},
            "instances": instances(counter="provider", runner="consumer"),
            "require_wired": ["test:pydemo/counter@0.1.0"],
            "exports": [
                {"instance": "runner", "export": "test:pydemo/runner@0.1.0", "as": "runner"}
            ],
        },
        base_dir=tmp_path,
    )
    cache = tmp_path / "cache"
    compose(graph, engine=engine, cache_dir=cache, validate=False)  # warms the stub cache
    started = time.perf_counter()
    unvalidated = compose(graph, engine=engine, cache_dir=cache, validate=False)
    compose_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = compose(graph, engine=engine, cache_dir=cache)
    validate_seconds = time.perf_counter() - started - compose_seconds
    print(
        f"\ncompose (warm stub cache): {compose_seconds:.3f} s; "
        f"compile of the composed component: {validate_seconds:.1f} s; "
        f"size {len(result.component) / 1e6:.1f} MB"
    )
    assert unvalidated.component == result.component
    assert compose_seconds < 2.0

    # The internal "exports" instance of componentize-py is neither wired nor surfaced.
    assert [w.export for w in result.wiring] == ["test:pydemo/counter@0.1.0"]
    assert result.outer_exports == ("runner",)
    assert "exports" not in result.outer_imports
    assert "test:pydemo/log@0.1.0" in result.outer_imports
    assert any(name.startswith("wasi:") for name in result.outer_imports)
    manifest = read_manifest(result.component)
    assert manifest is not None
    assert [n["sha256"] for n in manifest["nodes"]] == [
        hashlib.sha256(p.read_bytes()).hexdigest() for p in (provider, consumer)
    ]

    logged: list[str] = []
    linker = Linker(engine)
    linker.add_wasip2()
    with linker.root() as root:
        with root.add_instance("test:pydemo/log@0.1.0") as log:
            log.add_func("emit", lambda _store, message: logged.append(message))
        with root.add_instance("test:pydemo/types@0.1.0"):
            pass
    store = Store(engine)
    store.set_wasi(WasiConfig())
    assert result.compiled is not None
    instance = linker.instantiate(store, result.compiled)
    call = caller(result, store, instance)
    assert call("runner", "run", 2) == "provider:2"
    assert call("runner", "run", 3) == "provider:5"
    assert logged == [
        "provider inc 2",
        "consumer run 2",
        "provider inc 3",
        "consumer run 3",
    ]


# --------------------------------------------------------------------------- export types

TYPED_API = "test:typed/api@0.1.0"
TYPED_EXTRA = "test:typed/extra@0.1.0"
HANDLES = "test:typed/handles@0.1.0"


def _ascriptions(component: bytes) -> dict[str, bool]:
    """Each top-level export of ``component`` and whether it carries a type ascription."""
    found: dict[str, bool] = {}
    for section in wb.parse_sections(component):
        if section.id != wb.SECTION_EXPORT:
            continue
        reader = wb.ByteReader(section.payload, section.payload_offset)
        for _ in range(reader.u32()):
            assert reader.u8() == 0x00  # plain export names only here
            name = reader.name()
            reader.u8()
            reader.u32()
            ascribed = reader.u8() == 0x01
            if ascribed:
                reader.u8()
                reader.u32()
            found[name] = ascribed
    return found


def test_exported_instances_get_their_own_types(wasm_dir: Path, engine: Engine) -> None:
    result = compose(graph_of(wasm_dir, TWO_PAIRS), engine=engine)
    # One interface exported twice: each export has its own copy of the instance type.
    assert _ascriptions(result.component) == {"runner-a": True, "runner-b": True, COUNTER: True}
    assert '(export $export0 "runner-a" (instance $alias' in result.text
    assert result.text.count("\n(type $export-type") == 3
    inner = read_interface((wasm_dir / "consumer.wasm").read_bytes(), engine=engine)
    outer = read_interface(result.component, engine=engine)
    runner = inner.export_named(RUNNER)
    assert runner is not None and runner.item is not None
    for name in ("runner-a", "runner-b"):
        described = outer.export_named(name)
        assert described is not None and described.item == runner.item


def test_export_types_are_described(wasm_dir: Path, engine: Engine) -> None:
    interface = read_interface((wasm_dir / "typed_exporter.wasm").read_bytes(), engine=engine)
    api = interface.export_named(TYPED_API)
    extra = interface.export_named(TYPED_EXTRA)
    assert api is not None and extra is not None
    assert isinstance(api.item, dict) and isinstance(extra.item, dict)
    types = dict(api.item["exports"])  # type: ignore[arg-type]
    # The re-exported imported resource is the import's (resources are nominal)...
    assert types["handle"] == {"kind": "type", "def": {"alias": [HANDLES, "handle"]}}
    assert types["role"] == {"kind": "type", "def": {"enum": ["commissioner", "commissionee"]}}
    # ...and a type one export takes from another (WIT `use`) is the other's.
    assert dict(extra.item["exports"])["status"] == {  # type: ignore[arg-type]
        "kind": "type",
        "def": {"alias": [TYPED_API, "status"]},
    }
    # A top-level type export that names an unexported type is reported, not fatal.
    status = interface.export_named("status")
    assert status is not None and status.item is None and "unnamed" in status.problem


def test_exports_using_imported_and_sibling_types_compose(wasm_dir: Path, engine: Engine) -> None:
    data = {
        "nodes": nodes(typed="typed_exporter.wasm"),
        "instances": instances(a="typed", b="typed"),
        "exports": [
            # extra-a uses api-a's record, so it is emitted after it whatever the order.
            {"instance": "a", "export": TYPED_EXTRA, "as": "extra-a"},
            {"instance": "a", "export": TYPED_API, "as": "api-a"},
            {"instance": "b", "export": TYPED_API, "as": "api-b"},
        ],
    }
    result = compose(graph_of(wasm_dir, data), engine=engine)  # validates the ascriptions
    assert result.outer_imports == (HANDLES,)
    assert _ascriptions(result.component) == {"api-a": True, "api-b": True, "extra-a": True}
    outer = read_interface(result.component, engine=engine)
    assert [e.name for e in outer.exports] == ["api-a", "extra-a", "api-b"]
    extra = outer.export_named("extra-a")
    assert extra is not None and "alias" in json.dumps(extra.item)
    assert '["api-a", "status"]' in json.dumps(extra.item)


def test_a_type_from_an_unexported_interface_is_a_clear_error(
    wasm_dir: Path, engine: Engine
) -> None:
    data: dict[str, Any] = {
        "nodes": nodes(typed="typed_exporter.wasm", hp="handle_provider.wasm"),
        "instances": instances(a="typed", p="hp"),
        "exports": [{"instance": "a", "export": TYPED_API, "as": "api-a"}],
    }
    with pytest.raises(UnsupportedTypeError, match="which the graph does not export") as info:
        compose(graph_of(wasm_dir, data), engine=engine)
    assert "'api-a'" in info.value.message and "'handle'" in info.value.message
    # Exported too, the provider's resource has a name outside the graph.
    data["exports"] = [
        {"instance": "p", "export": "handle", "as": "handle"},
        {"instance": "p", "export": HANDLES, "as": "handles"},
        *data["exports"],
    ]
    result = compose(graph_of(wasm_dir, data), engine=engine)
    assert result.outer_imports == ()
    api = read_interface(result.component, engine=engine).export_named("api-a")
    assert api is not None and '"alias": ["handle", ""]' in json.dumps(api.item)
