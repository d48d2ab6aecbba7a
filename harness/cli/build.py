"""``build``, ``inspect`` and ``compose``: components and composed graphs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from harness.build import COMPONENTS
from harness.cli.app import cli
from harness.cli.options import (
    announce,
    build_dir_option,
    progress,
    settings,
    signing_key_option,
    trust_options,
    verified_lines,
)


@cli.command()
@build_dir_option
@click.option("--force", is_flag=True, help="Rebuild even when the cache says it is current.")
@signing_key_option
@click.argument("names", nargs=-1, type=click.Choice(sorted(COMPONENTS)))
def build(build_dir: Path, force: bool, signing_key: Path | None, names: tuple[str, ...]) -> None:
    """Build the components and sign them: the core with componentize-py, the loopback
    transport from its component-model text (components/loopback/*.wat).

    A content-hash cache of the inputs (WIT, sources, tool version) skips unchanged
    rebuilds. Outputs are signed with --signing-key, else with the build directory's
    build key (generated on first use in BUILD_DIR/keys/).
    """
    from harness.build import build_all
    from harness.supply import SupplyChain

    chain = SupplyChain.local(settings(None, None, signing_key), build_dir)
    results = build_all(
        build_dir, names=names or None, force=force, progress=progress, supply_chain=chain
    )
    built = sum(not r.cached for r in results.values())
    signer = chain.build_signer().public_key.fingerprint
    click.echo(
        f"{len(results)} component(s) ready in {build_dir} ({built} built), "
        f"signed with key {signer}"
    )


@cli.command()
@click.argument("component", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def inspect(component: Path, as_json: bool) -> None:
    """Show a component's imports and exports with their types, size and digest."""
    from harness.runtime import describe_component

    info = describe_component(component)
    if as_json:
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


@cli.command()
@click.argument("graph_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
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

    Each component is verified first; the result is signed like a build output and must
    nest exactly the verified files.
    """
    from harness.build import compose_to_file
    from harness.runtime import Runtime
    from harness.supply import SupplyChain

    chain = SupplyChain.local(settings(trust_mode, trust_store, signing_key), build_dir)
    announce(chain)
    runtime = Runtime(build_dir / "cache")
    try:
        result, signed, compose_seconds = compose_to_file(
            graph_file,
            output,
            runtime=runtime,
            build_dir=build_dir,
            supply_chain=chain,
            validate=not no_validate,
            progress=progress,
        )
    finally:
        runtime.close()
    verified_lines(chain)
    click.echo(f"wrote {output} ({len(signed)} bytes, composed in {compose_seconds:.2f} s)")
    click.echo(f"  signed with key {chain.build_signer().public_key.fingerprint}")
    click.echo("  imports: " + (", ".join(result.outer_imports) or "none"))
    click.echo("  exports: " + ", ".join(result.outer_exports))
