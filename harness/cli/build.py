"""``build``, ``inspect`` and ``compose``: components and composed graphs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from harness.build import COMPONENTS, MJS_CORE_NAME, ON_REQUEST
from harness.cli.options import (
    ComponentPath,
    GraphPath,
    announce,
    build_dir_option,
    format_option,
    progress,
    settings,
    signing_key_option,
    trust_options,
    verified_lines,
)
from harness.component_file import ComponentInputError, read_component_file


@click.command()
@build_dir_option
@click.option("--force", is_flag=True, help="Rebuild even when the cache says it is current.")
@signing_key_option
@click.argument(
    "names", nargs=-1, type=click.Choice([*sorted({**COMPONENTS, **ON_REQUEST}), MJS_CORE_NAME])
)
def build(build_dir: Path, force: bool, signing_key: Path | None, names: tuple[str, ...]) -> None:
    """Build the components and sign them: the core with componentize-py, the loopback
    transport from its component-model text (components/loopback/*.wat); and, when Node.js
    and npm are present, mjs-core (a second core from matter.js, built with
    componentize-js), which is skipped with a note when they are not. spike, the example
    spike command, is built only when named.

    A content-hash cache of the inputs (WIT, sources, tool version) skips unchanged
    rebuilds. Outputs are signed with --signing-key, else with the build directory's
    build key (generated on first use in BUILD_DIR/keys/).
    """
    from harness.build import BuildResult, JsRuntimeError, build_all, build_mjs_core
    from harness.supply import SupplyChain

    chain = SupplyChain.local(settings(None, None, signing_key), build_dir)
    wanted = names or (*COMPONENTS, MJS_CORE_NAME)
    py_names = [name for name in wanted if name != MJS_CORE_NAME]
    results: dict[str, BuildResult] = {}
    if py_names:
        results.update(
            build_all(build_dir, names=py_names, force=force, progress=progress, supply_chain=chain)
        )
    if MJS_CORE_NAME in wanted:
        try:
            results[MJS_CORE_NAME] = build_mjs_core(
                build_dir, force=force, progress=progress, supply_chain=chain
            )
        except JsRuntimeError as exc:
            if names:  # asked for by name: missing Node/npm is an error
                raise
            click.echo(f"{MJS_CORE_NAME}: skipped ({exc})")
    built = sum(not r.cached for r in results.values())
    signer = chain.build_signer().public_key.fingerprint
    click.echo(
        f"{len(results)} component(s) ready in {build_dir} ({built} built), "
        f"signed with key {signer}"
    )


@click.command()
@click.argument("component", type=ComponentPath())
@format_option
def inspect(component: Path, output_format: str) -> None:
    """Show a component's imports and exports with their types, size and digest."""
    from harness.runtime import describe_component

    info = describe_component(component)
    if output_format == "json":
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"{component}: {info['size']} bytes, sha256 {info['sha256']}")
    for title, key in (("imports", "imports"), ("exports", "exports")):
        click.echo(f"{title}:")
        for name, text in info[key].items():
            click.echo(f"  {name}")
            for line in text.splitlines():
                click.echo(f"    {line}")
    if info.get("manifest") is not None:
        click.echo("composition manifest:")
        click.echo("  " + json.dumps(info["manifest"], indent=2).replace("\n", "\n  "))


@click.command()
@click.argument("graph_file", type=GraphPath())
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the composed component.",
)
@click.option("--no-validate", is_flag=True, help="Skip loading the result with wasmtime (faster).")
@build_dir_option
@trust_options
def compose(
    graph_file: Path,
    output: Path,
    no_validate: bool,
    build_dir: Path,
    trust_mode: str | None,
    trust_store: Path | None,
    signing_key: Path | None,
) -> None:
    """Compose the components named by GRAPH_FILE (TOML) into one signed component.

    The graph and every component file it names are read and checked before anything
    else; then each component's signature is verified, and the result is signed like a
    build output and must nest exactly the verified files.
    """
    from harness.build import compose_to_file, load_graph
    from harness.runtime import Runtime
    from harness.supply import SupplyChain

    for node in load_graph(graph_file).nodes:  # every input checked before any work
        try:
            read_component_file(node.path)
        except ComponentInputError as exc:
            raise ComponentInputError(
                exc.path,
                f"node {node.name!r}: {exc.message}",
                hint="build the components first (matter-harness build), or fix the path "
                f"in the graph (relative to {graph_file.parent})",
            ) from None
    chain = SupplyChain.local(settings(trust_mode, trust_store, signing_key), build_dir)
    announce(chain)
    runtime = Runtime(build_dir / "cache")
    timings: dict[str, float] = {}
    try:
        result, signed, _ = compose_to_file(
            graph_file,
            output,
            runtime=runtime,
            build_dir=build_dir,
            supply_chain=chain,
            validate=not no_validate,
            progress=progress,
            timings=timings,
        )
    finally:
        runtime.close()
    verified_lines(chain)
    took = f"composed in {timings['compose']:.2f} s"
    if "validate" in timings:
        took += f", validated (compiled by wasmtime) in {timings['validate']:.2f} s"
    click.echo(f"wrote {output} ({len(signed)} bytes, {took})")
    click.echo(f"  signed with key {chain.build_signer().public_key.fingerprint}")
    click.echo("  imports: " + (", ".join(result.outer_imports) or "none"))
    click.echo("  exports: " + ", ".join(result.outer_exports))
