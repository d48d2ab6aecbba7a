"""Running mutmut 3 over ``matter_core``: a staged workspace, one campaign, its results.

mutmut 3 names a mutant after the dotted path of its file and requires the tests to import
the code under that name, from ``./``, ``src/`` or ``source/``. The core lives in
``components/core/matter_core`` and is imported as ``matter_core``, so a campaign runs in a
staged workspace (``build/mutation/`` by default, fresh each time) holding copies of the
package, the core's tests (``tests/core``, ``tests/vectors``), the root ``conftest.py``
(Hypothesis profiles) and a ``pyproject.toml`` with the pytest and ``[tool.mutmut]``
settings below. mutmut records, per test, which functions it reaches, and tries each
mutant only against those tests, each in a forked child.

A campaign is three steps: generate every mutant (so a sample can be drawn from all of
them), ``mutmut run`` the selection, read mutmut's per-file ``.meta`` results. Both mutmut
steps go through :mod:`harness.evidence.mutmut_driver` (run as a script in the
workspace), which tries the mutants in one pytest session instead of a fresh ``pytest``
per mutant and skips mutmut's rerun of the unmutated suite after its stats run.

The generated mutants and the stats run (which tests reach which function) depend only
on the staged sources and tests, so both are cached in ``build/mutation-cache`` under a
digest of the whole staged workspace (package, tests, ``conftest.py``, settings), of
mutmut's version, Python's and the driver's text: any change to any of them is another
digest, hence a new generation and a new stats run. The mutants are kept as generated
(no result in them); a stats file is kept only after a mutmut run that succeeded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.evidence.mutation import (
    PACKAGE,
    Equivalent,
    ModuleScore,
    MutationError,
    Shard,
    score_modules,
    select_mutants,
    stale_equivalents,
    status_of,
)
from harness.project import COMPONENTS_DIR, DEFAULT_BUILD_DIR, PROJECT_ROOT, files_digest

#: Where the staged workspace goes by default.
DEFAULT_MUTATION_WORKDIR = DEFAULT_BUILD_DIR / "mutation"
#: Where mutmut's stats files are kept between campaigns, by workspace digest.
DEFAULT_MUTATION_CACHE = DEFAULT_BUILD_DIR / "mutation-cache"
#: The script that runs mutmut's steps in the workspace.
DRIVER = Path(__file__).with_name("mutmut_driver.py")
#: mutmut's stats file in a workspace.
STATS = Path("mutants") / "mutmut-stats.json"
#: Tests left out of the mutation runs: the purity scan parses the package's source
#: files, which in mutmut's copy hold the trampolines, not the core (and it mutates
#: nothing: it reads files, never calls the core).
DESELECTED = ("tests/core/test_core_purity.py",)

_PYPROJECT = """\
# Written by harness.evidence.mutation_run for one mutation campaign.
[tool.pytest.ini_options]
addopts = "-ra --strict-markers -p no:cacheprovider"
timeout = 900
markers = [
    "slow: builds components or runs wasm",
    "network: uses loopback UDP sockets",
    "interop: runs against an independent Matter implementation",
]

[tool.mutmut]
# A mutant is a timeout (killed) once it has run (estimate + 1 s) * 3, the estimate being
# the summed stats-run durations of its tests (mutmut's default multiplier is 15). The
# stats run's trampolines record every call, so the estimate is about twice what a
# mutant's tests take (they only pass through one trampoline); surviving mutants were
# measured at <= 0.61 of it on a loaded 2-core machine, five times under the limit.
timeout_multiplier = 3.0
source_paths = ["{package}"]
do_not_mutate = ["{package}/__init__.py"]
also_copy = ["conftest.py"]
pytest_add_cli_args_test_selection = {selection}
use_git_change_detection = false
"""

Say = Callable[[str], None]


@dataclass
class Campaign:
    """What one run tried and what happened to each mutant."""

    generated: list[str]
    selected: list[str]
    statuses: dict[str, str]
    seconds: float
    sample: int | None = None
    seed: int = 0
    shard: Shard = field(default_factory=Shard)
    modules: list[str] = field(default_factory=list)
    tool: str = ""

    def scores(self, equivalents: Sequence[Equivalent]) -> dict[str, ModuleScore]:
        """The score per module, ``equivalents`` subtracted."""
        return score_modules(self.statuses, equivalents)

    def stale(self, equivalents: Sequence[Equivalent]) -> list[str]:
        """Listed equivalents this source no longer generates."""
        return stale_equivalents(equivalents, self.generated)

    def describe(self) -> dict[str, Any]:
        """The campaign's parameters, for the ledger."""
        return {
            "tool": self.tool,
            "generated": len(self.generated),
            "tried": len(self.selected),
            "sample": self.sample,
            "seed": self.seed if self.sample is not None else None,
            "shard": str(self.shard),
            "modules": self.modules or "all",
            "seconds": round(self.seconds, 1),
        }


def mutmut_version() -> str:
    """The installed mutmut's version (``MutationError`` when it is missing)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mutmut")
    except PackageNotFoundError as exc:
        raise MutationError(
            "mutmut is not installed: pip install -e '.[dev]' (it is in the dev extra)"
        ) from exc


def stage_workspace(workdir: Path) -> None:
    """A fresh workspace in ``workdir``: the package, the core's tests, the settings."""
    if workdir.exists():
        shutil.rmtree(workdir)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    shutil.copytree(COMPONENTS_DIR / "core" / PACKAGE, workdir / PACKAGE, ignore=ignore)
    for tests in ("core", "vectors"):
        shutil.copytree(PROJECT_ROOT / "tests" / tests, workdir / "tests" / tests, ignore=ignore)
    shutil.copy2(PROJECT_ROOT / "conftest.py", workdir / "conftest.py")
    selection = ["tests/core", *(f"--deselect={t}" for t in DESELECTED)]
    (workdir / "pyproject.toml").write_text(
        _PYPROJECT.format(package=PACKAGE, selection=json.dumps(selection)), encoding="utf-8"
    )


def workspace_digest(workdir: Path) -> str:
    """SHA-256 of every file of a staged workspace (names and bytes), mutmut's version,
    Python's and the driver's text: the key of the workspace's stats in the cache."""
    relative = {p.relative_to(workdir).as_posix(): p for p in workdir.rglob("*") if p.is_file()}
    staged = [
        relative[name]
        for name in sorted(relative)
        if not name.startswith("mutants/") and name != "mutmut.log"
    ]
    salt = (mutmut_version(), sys.version, DRIVER.read_text(encoding="utf-8"))
    return files_digest(workdir, staged, salt=salt)


def restore_cached(workdir: Path, cache: Path, digest: str) -> tuple[bool, bool]:
    """Put what the cache holds for ``digest`` in the workspace: whether it held the
    generated mutants, and whether it held the stats."""
    entry = cache / digest
    if not (entry / "mutants").is_dir():
        return False, False
    shutil.copytree(entry / "mutants", workdir / "mutants")
    stats = entry / STATS.name
    if stats.is_file():
        shutil.copyfile(stats, workdir / STATS)
    return True, stats.is_file()


def store_cached(workdir: Path, cache: Path, digest: str, *, stats: bool) -> None:
    """Keep the workspace's generated mutants (``stats``: its stats file instead) in the
    cache under ``digest``, dropping every other digest's entry."""
    entry = cache / digest
    entry.mkdir(parents=True, exist_ok=True)
    if stats:
        if (workdir / STATS).is_file():
            partial = entry / (STATS.name + ".partial")
            shutil.copyfile(workdir / STATS, partial)
            partial.replace(entry / STATS.name)
    else:
        partial_dir = entry / "mutants.partial"
        shutil.rmtree(partial_dir, ignore_errors=True)
        shutil.copytree(workdir / "mutants", partial_dir)
        partial_dir.replace(entry / "mutants")
    for other in cache.iterdir():
        if other.is_dir() and other.name != digest:
            shutil.rmtree(other, ignore_errors=True)


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    # Derandomized Hypothesis (the root conftest's ``mutation`` profile, ``ci`` without
    # shrinking): the same examples for every mutant and every run, so a seed names a
    # reproducible campaign.
    env["HYPOTHESIS_PROFILE"] = "mutation"
    env.pop("MUTANT_UNDER_TEST", None)
    return env


def _driver(workdir: Path, args: Sequence[str], log: Path) -> None:
    command = [sys.executable, str(DRIVER), *args]
    with log.open("ab") as out:
        done = subprocess.run(
            command, cwd=workdir, env=_environment(), stdout=out, stderr=subprocess.STDOUT
        )
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise MutationError(f"mutmut {args[0]} failed (exit {done.returncode}); log {log}:\n{tail}")


def generate(workdir: Path, children: int, log: Path) -> list[str]:
    """Write every mutant in the workspace; their names."""
    _driver(workdir, ["generate", str(children)], log)
    return sorted(read_results(workdir))


def read_results(workdir: Path) -> dict[str, int | None]:
    """Every mutant mutmut knows in ``workdir`` and its exit code (``None``: not run)."""
    results: dict[str, int | None] = {}
    for meta in sorted((workdir / "mutants" / PACKAGE).glob("*.py.meta")):
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
            results.update(data["exit_code_by_key"])
        except (OSError, ValueError, KeyError) as exc:
            raise MutationError(f"unreadable mutmut results {meta}: {exc}") from exc
    return results


def run_campaign(
    *,
    workdir: Path = DEFAULT_MUTATION_WORKDIR,
    modules: Sequence[str] = (),
    sample: int | None = None,
    seed: int = 0,
    shard: Shard | None = None,
    children: int | None = None,
    progress: Say | None = None,
    cache: Path | None = DEFAULT_MUTATION_CACHE,
) -> Campaign:
    """Stage, generate, select and run the mutants; the status of each one tried.

    ``cache`` is where the generated mutants and the stats run are kept between campaigns
    (``None``: neither read nor written).
    """
    say = progress or (lambda _m: None)
    shard = shard or Shard()
    # Bad options are refused before the minute of mutant generation.
    missing = [m for m in modules if not (COMPONENTS_DIR / "core" / PACKAGE / f"{m}.py").is_file()]
    if missing:
        raise MutationError(f"no module {', '.join(f'{PACKAGE}.{m}' for m in missing)}")
    if sample is not None and sample < 1:
        raise MutationError(f"--sample must be positive, not {sample}")
    tool = f"mutmut {mutmut_version()}"
    children = children or os.cpu_count() or 1
    started = time.perf_counter()
    stage_workspace(workdir)
    digest = workspace_digest(workdir)
    log = workdir / "mutmut.log"
    say(f"{tool}: generating mutants in {workdir}")
    have_mutants, cached = restore_cached(workdir, cache, digest) if cache else (False, False)
    if have_mutants:
        say(f"mutants{' and stats' if cached else ''} of these sources from {cache}")
        generated = sorted(read_results(workdir))
    else:
        generated = generate(workdir, children, log)
        if cache is not None:
            store_cached(workdir, cache, digest, stats=False)
    selected = select_mutants(generated, modules=modules, sample=sample, seed=seed, shard=shard)
    say(f"{len(selected)} of {len(generated)} mutants selected; running (log {log})")
    if selected:
        whole = sample is None and shard.count == 1
        names = (
            [f"{PACKAGE}.{m}.*" for m in modules]
            if whole and modules
            else []
            if whole
            else selected
        )
        trusted = ["--trusted-stats"] if cached else []
        _driver(workdir, ["run", str(children), *trusted, *names], log)
        if cache is not None and not cached:
            store_cached(workdir, cache, digest, stats=True)
    results = read_results(workdir)
    statuses = {name: status_of(results.get(name)) for name in selected}
    return Campaign(
        generated,
        selected,
        statuses,
        time.perf_counter() - started,
        sample,
        seed,
        shard,
        list(modules),
        tool,
    )
