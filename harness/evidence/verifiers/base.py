"""The verifier registry and the one type every verifier returns.

A verifier is a function ``(GateContext, parameters) -> Evidence`` registered under the
name claims refer to (the ``verifier`` field of a claim in ``traceability/``). One
module per claim family registers its verifiers: :mod:`.runs` (C1-C5), :mod:`.seams`
(C6), :mod:`.vectors` (C7), :mod:`.signatures` (S1), :mod:`.policy` (S2),
:mod:`.limits` (S3).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from harness.evidence.context import GateContext


class Verdict(StrEnum):
    """What a verifier concluded (stored in the ledger as its string value)."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    SKIP = "skip"
    NOT_APPLICABLE = "not-applicable"
    """The claim needs something the gated graph lacks; ``reason`` says what."""


@dataclass
class Evidence:
    """What a verifier found.

    ``verdict`` is a :class:`Verdict` (its string value is accepted and converted; any
    other string is a ``ValueError``).
    """

    verdict: Verdict
    message: str
    figures: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    transcript_hash: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        self.verdict = Verdict(self.verdict)


Verifier = Callable[[GateContext, Mapping[str, Any]], Evidence]
REGISTRY: dict[str, Verifier] = {}


#: Work the gate starts in the background when a run begins, for the verifier of that
#: name: a long campaign that needs nothing of the other claims (E1's mutants, E3's
#: rebuild) then runs while they do, and the verifier collects its result with
#: :meth:`GateContext.early_result` when its turn comes.
HeadStart = Callable[[GateContext, Mapping[str, Any]], Any]
HEAD_STARTS: dict[str, HeadStart] = {}


def head_start(name: str) -> Callable[[HeadStart], HeadStart]:
    """Register ``name``'s head start (see :data:`HEAD_STARTS`)."""

    def register(fn: HeadStart) -> HeadStart:
        HEAD_STARTS[name] = fn
        return fn

    return register


def verifier(name: str) -> Callable[[Verifier], Verifier]:
    """Register a verifier under ``name`` (the name claims refer to)."""

    def register(fn: Verifier) -> Verifier:
        REGISTRY[name] = fn
        return fn

    return register
