"""``keys``, ``sign``, ``verify``, ``trust``, ``signature`` and ``audit``: signatures, trust,
policy."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from harness.cli.exits import EXIT_FAILED
from harness.cli.options import (
    ComponentPath,
    announce,
    build_dir_option,
    format_option,
    settings,
    trust_mode_option,
    trust_options,
    trust_store_option,
)

if TYPE_CHECKING:
    from harness.supply import TrustStore


@click.group()
def keys() -> None:
    """Signing keys (Ed25519, WebAssembly tool-conventions format, wasmsign2-compatible)."""


@keys.command("generate")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite existing key files.")
def keys_generate(path: Path, force: bool) -> None:
    """Write a new secret key to PATH (mode 0600) and its public key to PATH.pub."""
    from harness.supply import generate_key_files

    key, secret, public = generate_key_files(path, overwrite=force)
    click.echo(f"secret key {secret} (keep it private), public key {public}")
    click.echo(f"key id {key.public_key.fingerprint}")


@click.command()
@click.argument("component", type=ComponentPath())
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    required=True,
    help="Secret key file (from `keys generate`).",
)
@click.option(
    "--detached",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a detached signature here; the component is left unchanged.",
)
@click.option("--key-id", default=None, help="Key id stored with the signature (text).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the signed component here instead of signing COMPONENT in place.",
)
def sign(
    component: Path, key_path: Path, detached: Path | None, key_id: str | None, output: Path | None
) -> None:
    """Sign COMPONENT (embedded signature, added to any it has), or write a detached one."""
    from harness.supply import load_secret_key, sign_component_file

    if detached is not None and output is not None:
        raise click.UsageError("--detached and --output exclude each other")
    outcome = sign_component_file(
        component,
        load_secret_key(key_path),
        key_id=key_id.encode("utf-8") if key_id is not None else None,
        detached=detached,
        output=output,
    )
    what = "detached signature" if outcome.detached else "signed component"
    click.echo(f"wrote {what} {outcome.written} (key id {outcome.key_id})")


@click.command()
@click.argument("component", type=ComponentPath())
@click.option(
    "--signature",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A detached signature of COMPONENT.",
)
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    help="A known (not trusted) public key, file or hex; counts in self-signed mode.",
)
@build_dir_option
@trust_mode_option
@trust_store_option
def verify(
    component: Path,
    signature: Path | None,
    public_keys: tuple[str, ...],
    build_dir: Path,
    trust_mode: str | None,
    trust_store: Path | None,
) -> None:
    """Check COMPONENT's signature as `run` would; exit 1 if it would be refused.

    Strict mode trusts the trust store and the build key of --build-dir.
    """
    from harness.supply import SupplyChain, read_public_key_argument, verify_component_file

    extra = [read_public_key_argument(text) for text in public_keys]
    chain = SupplyChain.local(settings(trust_mode, trust_store, None), build_dir, extra_keys=extra)
    announce(chain)
    verification = verify_component_file(chain, component, signature)
    status = "VERIFIED" if verification.verified else "NOT-VERIFIED"
    click.echo(f"{status} {component}: {verification.detail}")
    click.echo(f"  sha256 {verification.sha256}")


@click.group()
@trust_options
@click.pass_context
def trust(
    ctx: click.Context,
    trust_mode: str | None,
    trust_store: Path | None,
    signing_key: Path | None,
) -> None:
    """The trust store: public keys whose signatures strict mode accepts.

    The trust options are accepted here and on each subcommand (the subcommand's win),
    so the options given to `run` or `gate` work unchanged; only --trust-store matters
    to these commands.
    """
    settings(trust_mode, trust_store, signing_key)  # same checks as every other command
    ctx.obj = trust_store


def _open_store(ctx: click.Context, trust_store: Path | None) -> TrustStore:
    """The trust store a subcommand works on: its own --trust-store when given on its
    command line, else the group's (or the environment's, or the default)."""
    from harness.supply import TrustStore

    given_here = ctx.get_parameter_source("trust_store") is ParameterSource.COMMANDLINE
    return TrustStore.open(trust_store if given_here or ctx.obj is None else ctx.obj)


@trust.command("add")
@click.argument("pubkey")
@click.option("--name", required=True, help="Name of the key (A-Z a-z 0-9 . _ @ -).")
@click.option("--key-id", default=None, help="The key id its signatures carry, if not the default.")
@trust_options
@click.pass_context
def trust_add(
    ctx: click.Context,
    pubkey: str,
    name: str,
    key_id: str | None,
    trust_mode: str | None,
    trust_store: Path | None,
    signing_key: Path | None,
) -> None:
    """Trust PUBKEY (a .pub file from `keys generate`, or hex) under NAME."""
    from harness.supply import read_public_key_argument

    settings(trust_mode, trust_store, signing_key)
    store = _open_store(ctx, trust_store)
    key = read_public_key_argument(pubkey)
    if key_id is not None:
        key = key.with_key_id(key_id.encode("utf-8"))
    entry = store.add(name, key)
    click.echo(f"trusted {entry.name}: key id {entry.key.fingerprint} (in {store.path})")


@trust.command("list")
@trust_options
@click.pass_context
def trust_list(
    ctx: click.Context, trust_mode: str | None, trust_store: Path | None, signing_key: Path | None
) -> None:
    """List the trusted keys."""
    settings(trust_mode, trust_store, signing_key)
    store = _open_store(ctx, trust_store)
    entries = store.entries()
    click.echo(f"trust store {store.path}: {len(entries)} key(s)")
    for entry in entries:
        click.echo(f"  {entry.name}  key id {entry.key.fingerprint}  added {entry.added_at}")


@trust.command("remove")
@click.argument("name")
@trust_options
@click.pass_context
def trust_remove(
    ctx: click.Context,
    name: str,
    trust_mode: str | None,
    trust_store: Path | None,
    signing_key: Path | None,
) -> None:
    """Stop trusting the key called NAME."""
    settings(trust_mode, trust_store, signing_key)
    store = _open_store(ctx, trust_store)
    entry = store.remove(name)
    click.echo(f"removed {entry.name} (key id {entry.key.fingerprint}) from {store.path}")


@click.group("signature")
def signature_group() -> None:
    """Embedded and detached signatures: list and check them, or split one off a component."""


@signature_group.command("detach")
@click.argument("component", type=ComponentPath())
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write COMPONENT without its signature section here.",
)
@click.option(
    "--signature",
    "signature_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write the embedded signature here, as a detached signature of --output.",
)
@click.option("--force", is_flag=True, help="Replace --output and --signature if they exist.")
def signature_detach(component: Path, output: Path, signature_path: Path, force: bool) -> None:
    """Split COMPONENT's embedded signature off into a detached signature file.

    `verify OUTPUT --signature SIG` then accepts OUTPUT exactly as `verify COMPONENT`
    accepted COMPONENT, and OUTPUT can be signed again with `sign --detached`.
    COMPONENT is left unchanged.
    """
    from harness.supply import detach_signature_file

    outcome = detach_signature_file(component, output, signature_path, overwrite=force)
    click.echo(
        f"wrote {outcome.component}: {component} without its signature section "
        f"(sha256 {outcome.content_sha256})"
    )
    ids = ", ".join(key_id or "(none)" for key_id in outcome.key_ids)
    click.echo(
        f"wrote detached signature {outcome.signature}: {len(outcome.key_ids)} signature(s), "
        f"key id(s) {ids}"
    )


@signature_group.command("show")
@click.argument("component", type=ComponentPath())
@click.option(
    "--signature",
    "signature_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A detached signature of COMPONENT, shown instead of an embedded one.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Plain text, or one JSON object.",
)
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    help="A known (not trusted) public key, file or hex, to check signatures with too.",
)
@build_dir_option
@trust_store_option
def signature_show(
    component: Path,
    signature_path: Path | None,
    output_format: str,
    public_keys: tuple[str, ...],
    build_dir: Path,
    trust_store: Path | None,
) -> None:
    """List every signature of COMPONENT (embedded, or the detached --signature).

    For each: its key id and the trusted key of that id, whether it verifies, its hash
    function and content type, and what it covers (parts, sections, byte ranges); and
    the SHA-256 of the signed content. Keys: those `verify` trusts in strict mode (the
    trust store, and --build-dir's build key when `verify` trusts it), and
    --public-key. Exits 0 even when nothing verifies, 2 for unreadable input.
    """
    from harness.supply import SupplyChain, TrustMode, read_public_key_argument, show_signature_file

    extra = [read_public_key_argument(text) for text in public_keys]
    strict = settings(TrustMode.STRICT.value, trust_store, None)
    chain = SupplyChain.local(strict, build_dir, extra_keys=extra)
    listing = show_signature_file(chain, component, signature_path)
    if output_format == "json":
        click.echo(json.dumps(listing.to_dict(), indent=2))
    else:
        click.echo(listing.render())


@click.command()
@click.argument("component", type=ComponentPath())
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Capability policy (TOML) [default: components/policy.toml].",
)
@click.option(
    "--role",
    default=None,
    help="Role to audit under [default: 'composed' for a composed graph, else the file's stem].",
)
@format_option
def audit(component: Path, policy_file: Path | None, role: str | None, output_format: str) -> None:
    """List a component's imports with their risk class and the policy's verdict.

    Exits 0 when every import is allowed, 1 when any is refused, 2 for a bad policy file,
    an unknown role or an unreadable component.
    """
    from harness.supply import audit as audit_imports
    from harness.supply import infer_role, load_policy

    policy = load_policy(policy_file)
    report = audit_imports(component, role or infer_role(component, policy), policy)
    click.echo(
        json.dumps(report.as_dict(), indent=2) if output_format == "json" else report.render()
    )
    if not report.allowed:
        sys.exit(EXIT_FAILED)
