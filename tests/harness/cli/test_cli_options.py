"""The command line as a whole: bad input is found before anything is built, one loader
answers for every component argument, options are consistent across commands (help text,
--format, trust options), the README's command table matches the CLI, and the evidence
ledger's default is the project's whatever the current directory."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from wasm_samples import COMPONENT

from harness.cli import cli
from harness.cli.options import parse_hex
from harness.project import DEFAULT_LEDGER_PATH, LEDGER_ENV, PROJECT_ROOT
from harness.supply import TRUST_STORE_ENV, TrustStore, generate_key_files
from harness.wasm_binary import MODULE_PREAMBLE

pytestmark = pytest.mark.usefixtures("isolated_trust")

README = PROJECT_ROOT / "README.md"


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def clean_exit(result: Result, code: int) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output


def subcommands(group: click.Group) -> Iterator[tuple[str, click.Command]]:
    """The subcommands of ``group`` by name, as click finds them (the top-level group
    loads each from its module when it is looked up)."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        sub = group.get_command(ctx, name)
        assert sub is not None, name
        yield name, sub


def leaf_commands(
    command: click.Command = cli, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, click.Command]]:
    """Every command that runs (not a group), by its full name (``trust list``)."""
    if isinstance(command, click.Group):
        for name, sub in subcommands(command):
            yield from leaf_commands(sub, (*path, name))
    else:
        yield " ".join(path), command


def all_commands(
    command: click.Command = cli, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, click.Command]]:
    yield " ".join(path) or "matter-harness", command
    if isinstance(command, click.Group):
        for name, sub in subcommands(command):
            yield from all_commands(sub, (*path, name))


# --------------------------------------------------------------------------- 1. fail fast


@pytest.fixture
def empty_build(tmp_path: Path) -> Path:
    build = tmp_path / "build"
    build.mkdir()
    return build


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--graph", "/nonexistent/bad.toml"], "cannot read graph file /nonexistent/bad.toml"),
        (["--graph", "{malformed}"], "is not valid TOML"),
        (["--graph", "{not-a-graph}"], "[nodes.x]: expected a table, found a number"),
        (["--passcode", "11111111"], "passcode 11111111 is not a valid Matter setup passcode"),
        (["--passcode", "0"], "passcode 0 is not a valid"),
        (["--salt", "00"], "PBKDF salt is 1 byte long; Matter allows 16..32 bytes"),
        (["--salt", "5350414b4532"], "PBKDF salt is 6 bytes long"),
        (["--salt", "0"], "odd number of hex digits (1)"),
        (["--salt", "53504g"], "not hex at position 6 ('g')"),
        (["--iterations", "999"], "PBKDF iterations 999 outside 1000..100000"),
        (["--iterations", "100001"], "PBKDF iterations 100001 outside 1000..100000"),
        (["--faults", "drop=2"], "fault rate drop=2 is outside 0..1"),
        (["--faults", "wobble=1"], "wobble"),
        (["--runtime", "jco", "--faults", "drop=0.1"], "not available with --runtime jco"),
    ],
)
@pytest.mark.parametrize("placement", [[], ["--native"]], ids=["component", "native"])
def test_run_refuses_bad_input_before_building_anything(
    tmp_path: Path, empty_build: Path, args: list[str], words: str, placement: list[str]
) -> None:
    if "--native" in placement and ("--graph" in args or "--runtime" in args):
        pytest.skip("--native excludes --graph and --runtime")
    malformed, not_a_graph = tmp_path / "bad.toml", tmp_path / "empty.toml"
    malformed.write_text("nodes = [\n")
    not_a_graph.write_text("[nodes]\nx = 3\n")
    args = [
        str(malformed) if a == "{malformed}" else str(not_a_graph) if a == "{not-a-graph}" else a
        for a in args
    ]
    result = invoke("run", *args, *placement, "--build-dir", empty_build)
    clean_exit(result, 2)
    assert words in result.output
    assert list(empty_build.iterdir()) == []  # nothing built, signed or cached


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--role", "commissioner", "--connect", "127.0.0.1:5540", "--passcode", "12345678"],
         "passcode 12345678 is not a valid"),
        (["--role", "commissionee", "--listen", "127.0.0.1:0", "--passcode", "20202021",
          "--salt", "00"], "invalid PBKDF parameters: PBKDF salt is 1 byte long"),
        (["--role", "commissionee", "--listen", "127.0.0.1:0", "--passcode", "20202021",
          "--iterations", "5"], "PBKDF iterations 5 outside"),
        (["--role", "commissionee", "--listen", "127.0.0.1:0", "--verifier", "abc"],
         "odd number of hex digits (3)"),
        (["--role", "commissionee", "--listen", "127.0.0.1:0", "--passcode", "20202021",
          "--faults", "drop=-1"], "drop"),
    ],
)  # fmt: skip
def test_peer_refuses_bad_input_before_building_anything(
    empty_build: Path, args: list[str], words: str
) -> None:
    result = invoke("peer", *args, "--build-dir", empty_build)
    clean_exit(result, 2)
    assert words in result.output
    assert list(empty_build.iterdir()) == []


def test_gate_refuses_an_unknown_claim_before_building_anything(
    tmp_path: Path, empty_build: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    result = invoke("gate", "--claim", "C99", "--ledger", ledger, "--build-dir", empty_build)
    clean_exit(result, 2)
    assert "no claim C99 in the traceability data" in result.stderr
    assert list(empty_build.iterdir()) == [] and not ledger.exists()


def test_compose_checks_the_graph_and_its_components_before_anything(
    tmp_path: Path, empty_build: Path
) -> None:
    out = tmp_path / "out.wasm"
    malformed = tmp_path / "bad.toml"
    malformed.write_text("nodes = [\n")
    bad = invoke("compose", malformed, "-o", out, "--build-dir", empty_build)
    clean_exit(bad, 2)
    assert "is not valid TOML" in bad.stderr
    notes = tmp_path / "notes.txt"
    notes.write_text("not a component\n")
    graph = tmp_path / "graph.toml"
    graph.write_text('[nodes.core]\npath = "notes.txt"\n\n[instances.a]\nnode = "core"\n')
    text = invoke("compose", graph, "-o", out, "--build-dir", empty_build)
    clean_exit(text, 2)
    assert f"{notes} is not a WebAssembly component" in text.stderr
    assert list(empty_build.iterdir()) == [] and not out.exists()


def test_fuzz_refuses_bad_options_before_building_anything(
    tmp_path: Path, empty_build: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    for args, words in (
        (["--target", "moon"], "unknown target 'moon'"),
        (["--target", "component", "--shard", "3/2"], "shard"),
    ):
        result = invoke("fuzz", *args, "--ledger", ledger, "--build-dir", empty_build)
        clean_exit(result, 2)
        assert words in result.output
    assert list(empty_build.iterdir()) == [] and not ledger.exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", b""), ("00ff", b"\x00\xff"), ("ABcd", b"\xab\xcd")],
)
def test_parse_hex_reads_pairs_of_digits(text: str, expected: bytes) -> None:
    assert parse_hex(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("0", "odd number of hex digits (1)"),
        ("abc", "odd number of hex digits (3)"),
        ("zz", "not hex at position 1 ('z')"),
        ("00 11", "not hex at position 3 (' ')"),
        ("0x00", "not hex at position 2 ('x')"),
    ],
)
def test_parse_hex_says_exactly_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        parse_hex(text)


# --------------------------------------------------------------------------- 2. one loader


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "dev"
    path.parent.mkdir()
    generate_key_files(path)
    return path


def component_commands(tmp_path: Path, key: Path, build: Path) -> dict[str, list[str | Path]]:
    """Each command taking a component path, with {} where the path goes."""
    out = tmp_path / "out"
    return {
        "inspect": ["inspect", "{}"],
        "verify": ["verify", "{}", "--build-dir", build],
        "audit": ["audit", "{}"],
        "sign": ["sign", "{}", "--key", key],
        "signature show": ["signature", "show", "{}", "--build-dir", build],
        "signature detach": ["signature", "detach", "{}", "-o", out, "--signature", f"{out}.sig"],
        "peer --core": [
            "peer", "--role", "commissioner", "--connect", "127.0.0.1:5540",
            "--passcode", "20202021", "--core", "{}", "--build-dir", build, "--timeout", "1",
        ],
    }  # fmt: skip


BAD_INPUTS = {
    "text file": (b"just some notes\n", "is not a WebAssembly component: it does not start"),
    "core module": (MODULE_PREAMBLE, "is not a WebAssembly component: it is a core WebAssembly"),
    "truncated": (COMPONENT[:-5], "is not a WebAssembly component: it is truncated"),
    "missing file": (None, "cannot read component {}: no such file"),
    "directory": (b"", "cannot read component {}: it is a directory"),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_every_command_gives_one_message_and_code_per_bad_component(
    tmp_path: Path, key: Path, empty_build: Path, kind: str
) -> None:
    content, words = BAD_INPUTS[kind]
    path = tmp_path / ("a-dir" if kind == "directory" else "input.wasm")
    if kind == "directory":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    messages = {}
    for name, args in component_commands(tmp_path, key, empty_build).items():
        result = invoke(*[path if a == "{}" else a for a in args])
        clean_exit(result, 2)
        messages[name] = result.stderr.strip()
    assert len(set(messages.values())) == 1, messages  # one message, whichever command
    expected = words.format(path) if "{}" in words else f"{path} {words}"
    assert messages["inspect"].startswith(f"error: {expected}")
    assert list(empty_build.iterdir()) == []


def test_a_component_refused_by_its_signature_exits_1_not_2(
    tmp_path: Path, empty_build: Path
) -> None:
    unsigned = tmp_path / "unsigned.wasm"
    unsigned.write_bytes(COMPONENT)
    result = invoke("verify", unsigned, "--build-dir", empty_build)
    assert result.exit_code == 1, result.output
    assert "NOT-VERIFIED" in result.output or "refusing to load" in result.output


# --------------------------------------------------------------------------- 3. options


def test_every_option_of_every_command_has_help_text() -> None:
    missing = [
        f"{name} {'/'.join(param.opts)}"
        for name, command in all_commands()
        for param in command.params
        if isinstance(param, click.Option) and not (param.help or "").strip()
    ]
    assert missing == []


def test_the_help_walk_would_catch_an_option_without_help() -> None:
    @click.command()
    @click.option("--bare")
    def bare(bare: str | None) -> None:  # pragma: no cover - never run
        """A command whose option has no help."""

    params = [p for p in bare.params if isinstance(p, click.Option) and not p.help]
    assert [p.opts for p in params] == [["--bare"]]


def test_every_command_offering_json_spells_it_format_json() -> None:
    for name, command in leaf_commands():
        options = {o: p for p in command.params if isinstance(p, click.Option) for o in p.opts}
        if "--json" in options:
            assert options["--json"].hidden, name
            fmt = options.get("--format")
            assert fmt is not None, f"{name}: --json without --format"
            assert "json" in getattr(fmt.type, "choices", ()), name


@pytest.mark.parametrize("command", ["inspect", "audit"])
def test_json_is_an_alias_of_format_json(tmp_path: Path, command: str) -> None:
    path = tmp_path / "core.wasm"  # the stem names the policy role audit checks against
    path.write_bytes(COMPONENT)
    by_format = invoke(command, path, "--format", "json")
    by_alias = invoke(command, path, "--json")
    text = invoke(command, path)
    assert by_format.exit_code == by_alias.exit_code == text.exit_code == 0, by_format.output
    assert by_format.stdout == by_alias.stdout != text.stdout
    assert by_format.stdout.lstrip().startswith("{")
    clash = invoke(command, path, "--json", "--format", "text")
    clean_exit(clash, 2)
    assert "--json and --format text exclude each other" in clash.output


def test_trust_options_work_on_the_group_and_on_every_subcommand(tmp_path: Path, key: Path) -> None:
    here, there = tmp_path / "here", tmp_path / "there"
    pub = f"{key}.pub"
    clean_exit(invoke("trust", "add", pub, "--name", "dev", "--trust-store", here), 0)
    listed = invoke("trust", "list", "--trust-store", here)
    clean_exit(listed, 0)
    assert f"trust store {here}" in listed.stdout and "dev" in listed.stdout
    assert [e.name for e in TrustStore.open(here).entries()] == ["dev"]
    on_group = invoke("trust", "--trust-store", there, "list")
    clean_exit(on_group, 0)
    assert f"trust store {there}" in on_group.stdout and "0 key(s)" in on_group.stdout
    # The subcommand's own option wins over the group's.
    both = invoke("trust", "--trust-store", there, "list", "--trust-store", here)
    assert f"trust store {here}" in both.stdout
    # The same trust options `run` takes are accepted (and checked) here too.
    same = invoke(
        "trust", "remove", "dev", "--trust-store", here, "--trust-mode", "strict",
        "--signing-key", key,
    )  # fmt: skip
    clean_exit(same, 0)
    assert TrustStore.open(here).entries() == []
    clean_exit(invoke("trust", "list", "--trust-mode", "lax"), 2)


def test_trust_subcommands_follow_the_environment(tmp_path: Path) -> None:
    store = tmp_path / "from-env"
    listed = invoke("trust", "list", env={TRUST_STORE_ENV: str(store)})
    assert f"trust store {store}" in listed.stdout


TABLE_ROW = re.compile(r"^\| `matter-harness ([^`]*)` \| ([^|]*(?:\\\|[^|]*)*) \|", re.M)


def readme_table(text: str) -> dict[str, set[str]]:
    """The README's command table: each command's name and the long options in its row."""
    rows: dict[str, set[str]] = {}
    for match in TABLE_ROW.finditer(text):
        words = [w for w in match.group(1).split() if re.fullmatch(r"[a-z][a-z-]*", w)]
        rows[" ".join(words)] = set(re.findall(r"--[a-z][a-z0-9-]*", match.group(2)))
    return rows


def cli_table() -> dict[str, set[str]]:
    """Each command's visible long options, from the click tree; ``""`` is the group's own
    (options given before the command, such as ``--progress``)."""
    commands = [("", cli), *leaf_commands()]
    return {
        name: {
            max(param.opts, key=len)
            for param in command.params
            if isinstance(param, click.Option) and not param.hidden
        }
        for name, command in commands
    }


def table_problems(readme: dict[str, set[str]], actual: dict[str, set[str]]) -> list[str]:
    problems = [f"command missing from the README: {n}" for n in sorted(actual.keys() - readme)]
    problems += [f"stale command in the README: {n}" for n in sorted(readme.keys() - actual)]
    for name in sorted(actual.keys() & readme.keys()):
        problems += [f"{name}: option missing: {o}" for o in sorted(actual[name] - readme[name])]
        problems += [f"{name}: stale option: {o}" for o in sorted(readme[name] - actual[name])]
    return problems


def test_the_readme_command_table_matches_the_cli() -> None:
    assert table_problems(readme_table(README.read_text()), cli_table()) == []


def test_the_table_check_finds_a_missing_a_stale_and_an_unknown_entry() -> None:
    text = README.read_text()
    assert len(readme_table(text)) == len(cli_table())
    planted = text.replace("`--no-coverage`, ", "", 1).replace("`--force` |", "`--forcce` |", 1)
    planted += "\n| `matter-harness teleport` | `--to X` | nothing |\n"
    problems = table_problems(readme_table(planted), cli_table())
    assert "gate: option missing: --no-coverage" in problems
    assert any(p.endswith("stale option: --forcce") for p in problems)
    assert "stale command in the README: teleport" in problems


def test_readme_keeps_its_two_top_commands() -> None:
    text = README.read_text()
    assert "&& .venv/bin/matter-harness run --seed 7\n" in text
    assert "&& .venv/bin/just test\n" in text


# --------------------------------------------------------------------------- 4. ledger


def test_the_ledger_default_is_the_projects_whatever_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert DEFAULT_LEDGER_PATH == PROJECT_ROOT / "evidence" / "ledger.jsonl"
    for name in ("gate", "report", "fuzz"):
        command = dict(leaf_commands())[name]
        (ledger,) = [p for p in command.params if p.name == "ledger"]
        assert ledger.default == DEFAULT_LEDGER_PATH, name
    monkeypatch.delenv(LEDGER_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    result = invoke("report", "--format", "json")
    assert f"evidence ledger: reading {DEFAULT_LEDGER_PATH}" in result.stderr
    assert not (tmp_path / "evidence").exists()


def test_the_ledger_is_overridable_by_option_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    from_env = tmp_path / "env" / "ledger.jsonl"
    by_env = invoke("report", env={LEDGER_ENV: str(from_env)})
    assert f"evidence ledger: reading {from_env}" in by_env.stderr
    by_option = invoke("report", "--ledger", "mine.jsonl", env={LEDGER_ENV: str(from_env)})
    assert f"evidence ledger: reading {tmp_path / 'mine.jsonl'}" in by_option.stderr
    clean_exit(by_option, 2)  # it does not exist: one error line, no traceback


def test_evidence_commands_say_which_ledger_they_use(tmp_path: Path) -> None:
    missing = tmp_path / "none.jsonl"
    verified = invoke("evidence", "verify", missing)
    assert f"evidence ledger: reading {missing}" in verified.stderr
    merged = invoke("evidence", "merge", missing, "-o", tmp_path / "out.jsonl")
    assert f"evidence ledger: appending to {tmp_path / 'out.jsonl'}" in merged.stderr
    assert verified.exit_code != 0 and merged.exit_code != 0


def test_fuzz_says_which_ledger_it_appends_to(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    result = invoke(
        "fuzz", "--target", "native", "--engine", "mutational", "--cases", "3", "--ledger", ledger
    )
    clean_exit(result, 0)
    assert f"evidence ledger: appending to {ledger}" in result.stderr
    assert ledger.is_file()


# --------------------------------------------------------------------------- 6. glossary


def test_the_glossary_explains_the_words_run_prints() -> None:
    text = README.read_text()
    glossary = text[text.index("### Glossary") :]
    glossary = glossary[: glossary.index("\n## ")]
    result = invoke("run", "--native", "--seed", "7")
    clean_exit(result, 0)
    for term in ("seam crossings", "empty-polls", "transcript", "seed", "mode", "message layer"):
        assert term in result.stdout, term
        assert term in glossary.lower(), term
    for term in ("fuel", "Owed", "gated", "ledger", "claim", "seed=os", "strangers", "linger"):
        assert term in glossary, term
