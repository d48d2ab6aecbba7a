"""Claim E1: the mutation score of every ``matter_core`` module, from mutmut 3.

This module holds what is decided without running anything: which mutants a run tries
(a seeded sample, a shard), the reviewed list of equivalent mutants
(``tests/core/equivalent-mutants.toml``), and the score per module. Running mutmut is
:mod:`harness.evidence.mutation_run`'s job.

A mutant is named as mutmut 3 names it, ``matter_core.<module>.x_<function>__mutmut_<n>``
(methods ``x«Class«method``, with U+01C1 as the separator): the function it mutates and
its number within that function, so an edit elsewhere in the module leaves the name alone.

The score of a module is ``killed / (tried - equivalent)``: a mutant is killed when a test
fails on it or it times out (a hanging mutant is caught by the per-test timeout), and
survives otherwise, including when no test reaches it at all.
"""

from __future__ import annotations

import random
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.project import PROJECT_ROOT

#: The reviewed list of equivalent mutants.
EQUIVALENTS_PATH = PROJECT_ROOT / "tests" / "core" / "equivalent-mutants.toml"
#: Share of non-equivalent mutants each module must kill (issue 12: 97 %).
THRESHOLD = 0.97
#: The package whose modules are mutated.
PACKAGE = "matter_core"

_NAME = re.compile(r"^matter_core\.(?P<module>[a-z_][a-z0-9_]*)\.x.+__mutmut_\d+$")

#: mutmut's exit codes (its ``status_by_exit_code``) grouped the way the score needs.
KILLED_STATUSES = frozenset({"killed", "timeout", "segfault", "caught by type check"})
SURVIVED_STATUSES = frozenset({"survived", "no tests", "suspicious"})
_STATUS_BY_EXIT_CODE: dict[int | None, str] = {
    1: "killed",
    3: "killed",
    0: "survived",
    5: "no tests",
    33: "no tests",
    2: "interrupted",
    34: "skipped",
    35: "suspicious",
    36: "timeout",
    24: "timeout",
    -24: "timeout",
    152: "timeout",
    255: "timeout",
    -11: "segfault",
    -9: "segfault",
    37: "caught by type check",
    None: "not checked",
}


class MutationError(HarnessError):
    """A mutation campaign cannot run or its inputs are unusable."""


def status_of(exit_code: int | None) -> str:
    """mutmut's status for a mutant's exit code (anything unknown is ``suspicious``)."""
    return _STATUS_BY_EXIT_CODE.get(exit_code, "suspicious")


def module_of(mutant: str) -> str:
    """The ``matter_core`` module a mutant name belongs to (``tlv_writer``)."""
    match = _NAME.match(mutant)
    if match is None:
        raise MutationError(f"{mutant!r} is not a mutmut 3 mutant name of {PACKAGE}")
    return match["module"]


# --- Equivalent mutants -------------------------------------------------------------


@dataclass(frozen=True)
class Equivalent:
    """A mutant that no test can kill because it computes the same, and why."""

    mutant: str
    reason: str

    @property
    def module(self) -> str:
        return module_of(self.mutant)


def parse_equivalents(text: str, source: str = "equivalent-mutants.toml") -> list[Equivalent]:
    """The entries of an equivalent-mutants file.

    The file is a TOML array of tables ``[[equivalent]]`` with ``module``, ``mutant`` and a
    one-line ``reason``. An entry without a reason, with a multi-line one, whose module
    does not match its mutant, any other key, or a duplicate is refused: the list is
    reviewed, not a dumping ground.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MutationError(f"{source}: not TOML: {exc}") from exc
    unknown = set(data) - {"equivalent"}
    if unknown:
        raise MutationError(f"{source}: unknown top-level keys {sorted(unknown)}")
    entries = data.get("equivalent", [])
    if not isinstance(entries, list):
        raise MutationError(f"{source}: 'equivalent' must be an array of tables")
    seen: set[str] = set()
    result = []
    for index, entry in enumerate(entries, 1):
        where = f"{source}: entry {index}"
        if not isinstance(entry, dict):
            raise MutationError(f"{where}: not a table")
        extra = set(entry) - {"module", "mutant", "reason"}
        if extra:
            raise MutationError(f"{where}: unknown keys {sorted(extra)}")
        mutant, module, reason = entry.get("mutant"), entry.get("module"), entry.get("reason")
        if not isinstance(mutant, str) or not mutant:
            raise MutationError(f"{where}: 'mutant' (a mutmut mutant name) is required")
        where = f"{source}: {mutant}"
        if not isinstance(reason, str) or not reason.strip():
            raise MutationError(f"{where}: a one-line 'reason' is required")
        if "\n" in reason.strip():
            raise MutationError(f"{where}: the reason must be one line")
        if module != module_of(mutant):
            raise MutationError(f"{where}: 'module' must be {module_of(mutant)!r}, not {module!r}")
        if mutant in seen:
            raise MutationError(f"{where}: listed twice")
        seen.add(mutant)
        result.append(Equivalent(mutant, reason.strip()))
    return result


def load_equivalents(path: Path = EQUIVALENTS_PATH) -> list[Equivalent]:
    """The equivalent mutants listed in ``path`` (none when the file is absent)."""
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MutationError(f"cannot read {path}: {exc}") from exc
    return parse_equivalents(text, str(path.name))


# --- Which mutants a run tries ------------------------------------------------------


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``: every ``count``-th mutant of the selection."""

    index: int = 1
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 1 <= self.index <= self.count:
            raise MutationError(f"shard {self.index}/{self.count}: need 1 <= I <= N")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` as a shard (``MutationError`` on anything else)."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if match is None:
            raise MutationError(f"shard {text!r}: expected I/N, e.g. 1/4")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def select_mutants(
    mutants: Iterable[str],
    *,
    modules: Sequence[str] = (),
    sample: int | None = None,
    seed: int = 0,
    shard: Shard = Shard(),
) -> list[str]:
    """The mutants a run tries, sorted: deterministic for the same inputs.

    ``modules`` restricts to those modules (default: all); ``sample`` draws that many with
    a ``random.Random(seed)`` over the sorted names (same seed, same mutants); ``shard``
    then keeps every N-th of the sorted draw, so the N shards are disjoint and together
    are the whole selection.
    """
    names = sorted(set(mutants))
    if modules:
        unknown = sorted(set(modules) - {module_of(n) for n in names})
        if unknown:
            raise MutationError(f"no mutants in module(s) {', '.join(unknown)}")
        names = [n for n in names if module_of(n) in set(modules)]
    if sample is not None:
        if sample < 1:
            raise MutationError(f"--sample must be positive, not {sample}")
        names = sorted(random.Random(seed).sample(names, min(sample, len(names))))
    return names[shard.index - 1 :: shard.count]


# --- Scores -------------------------------------------------------------------------


@dataclass
class ModuleScore:
    """What happened to one module's mutants."""

    module: str
    tried: int = 0
    killed: int = 0
    equivalent: int = 0
    survivors: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

    @property
    def counted(self) -> int:
        """Non-equivalent mutants with a verdict: the score's denominator."""
        return self.tried - self.equivalent - len(self.unchecked)

    @property
    def score(self) -> float | None:
        """Killed share of the counted mutants (``None`` when nothing was counted)."""
        return self.killed / self.counted if self.counted else None

    def passes(self, threshold: float = THRESHOLD) -> bool:
        """At or above ``threshold``, every mutant checked (vacuously true when none)."""
        return not self.unchecked and (self.score is None or self.score >= threshold)

    def as_dict(self) -> dict[str, Any]:
        score = self.score
        return {
            "tried": self.tried,
            "equivalent": self.equivalent,
            "killed": self.killed,
            "survived": len(self.survivors),
            "unchecked": len(self.unchecked),
            "score": None if score is None else round(score, 4),
        }


def score_modules(
    statuses: Mapping[str, str], equivalents: Iterable[Equivalent] = ()
) -> dict[str, ModuleScore]:
    """Scores per module from each tried mutant's status, equivalent mutants subtracted.

    A status in :data:`KILLED_STATUSES` kills, one in :data:`SURVIVED_STATUSES` survives;
    anything else (not checked, skipped, interrupted) leaves the mutant unchecked, which
    fails its module: a run that did not finish proves nothing.
    """
    listed = {e.mutant for e in equivalents}
    scores: dict[str, ModuleScore] = {}
    for mutant, status in sorted(statuses.items()):
        module = module_of(mutant)
        entry = scores.setdefault(module, ModuleScore(module))
        entry.tried += 1
        if mutant in listed:
            entry.equivalent += 1
        elif status in KILLED_STATUSES:
            entry.killed += 1
        elif status in SURVIVED_STATUSES:
            entry.survivors.append(mutant)
        else:
            entry.unchecked.append(mutant)
    return scores


def stale_equivalents(equivalents: Iterable[Equivalent], generated: Iterable[str]) -> list[str]:
    """Listed equivalent mutants mutmut no longer generates (the list needs review)."""
    names = set(generated)
    return sorted(e.mutant for e in equivalents if e.mutant not in names)


def format_mutation_table(scores: Mapping[str, ModuleScore], threshold: float = THRESHOLD) -> str:
    """The per-module table ``matter-harness mutation`` prints."""
    header = f"{'module':<16} {'tried':>6} {'equiv':>6} {'killed':>7} {'survived':>9} score"
    lines = [header, "-" * len(header)]
    total = ModuleScore("total")
    for name in sorted(scores):
        s = scores[name]
        shown = "-" if s.score is None else f"{100 * s.score:6.2f} %"
        flag = "" if s.passes(threshold) else "  BELOW" if not s.unchecked else "  UNCHECKED"
        lines.append(
            f"{name:<16} {s.tried:>6} {s.equivalent:>6} {s.killed:>7} "
            f"{len(s.survivors):>9} {shown}{flag}"
        )
        total.tried += s.tried
        total.equivalent += s.equivalent
        total.killed += s.killed
        total.survivors += s.survivors
        total.unchecked += s.unchecked
    shown = "-" if total.score is None else f"{100 * total.score:6.2f} %"
    lines.append("-" * len(header))
    lines.append(
        f"{'total':<16} {total.tried:>6} {total.equivalent:>6} {total.killed:>7} "
        f"{len(total.survivors):>9} {shown}"
    )
    return "\n".join(lines)
