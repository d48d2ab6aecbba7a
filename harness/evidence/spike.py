"""Evidence of a spike run (``matter-harness spike``): a command component's outcome.

A spike is a team's own command component, not one of the project's claims, so its
records carry the claim id :data:`SPIKE_CLAIM_ID` with a claim described here (see
:func:`spike_claim`) rather than in ``traceability/``: the gate never runs it, and a
report lists it as a claim outside the traceability data. The record holds the exit
status (or what stopped the command), the SHA-256 and size of stdout and stderr, whether
the expected text appeared, the component's digest, the limits in force and what the run
consumed, and what the capability policy gave each WASI interface the command imports
(with how often the command asked for the environment and the preopened directories).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.evidence.traceability import VerificationClaim
from harness.evidence.verifiers.base import Evidence, Verdict
from harness.runtime import CommandOutcome, Limits

#: The claim id of every spike record.
SPIKE_CLAIM_ID = "SPIKE"
#: The ``verifier`` field of spike records: the command that produced them.
SPIKE_VERIFIER = "spike-command"


def spike_claim() -> VerificationClaim:
    """The claim a spike record stands for (not part of the traceability data)."""
    return VerificationClaim(
        id=SPIKE_CLAIM_ID,
        title="A spike command reproduces its expected output under the capability policy",
        statement=(
            "The command component exits 0 (and prints the expected text, when one is "
            "given) with only stdout, stderr, clocks and random granted, under the "
            "harness's resource limits."
        ),
        verifier=SPIKE_VERIFIER,
        gates_ci=False,
        parameters={},
        status="approved",
    )


@dataclass(frozen=True)
class ExpectedText:
    """Whether the expected text appeared in the command's stdout, and on which line."""

    text: str
    line: str | None
    searched_all: bool

    @property
    def found(self) -> bool:
        """True when a line of stdout holds the text."""
        return self.line is not None

    def as_dict(self) -> dict[str, Any]:
        """For the evidence."""
        return {
            "text": self.text,
            "found": self.found,
            "line": self.line,
            "searched_all_output": self.searched_all,
        }


def find_expected(stdout: bytes, text: str, *, searched_all: bool = True) -> ExpectedText:
    """The first line of ``stdout`` (UTF-8, undecodable bytes replaced) holding ``text``."""
    for line in stdout.decode("utf-8", errors="replace").splitlines():
        if text in line:
            return ExpectedText(text, line, searched_all)
    return ExpectedText(text, None, searched_all)


@dataclass(frozen=True)
class SpikeSubject:
    """The component a spike ran, as the evidence names it."""

    path: str
    sha256: str
    size: int


def spike_evidence(
    outcome: CommandOutcome,
    subject: SpikeSubject,
    limits: Limits,
    args: Sequence[str],
    expected: ExpectedText | None,
) -> Evidence:
    """The evidence of one spike run: pass when the command exited 0 and, if a text was
    expected, printed it."""
    if outcome.exit_code is None:
        verdict, message = Verdict.FAIL, f"stopped: {outcome.stop_message}"
    elif outcome.exit_code != 0:
        verdict, message = Verdict.FAIL, f"the command exited with status {outcome.exit_code}"
    elif expected is not None and not expected.found:
        verdict = Verdict.FAIL
        message = f"the command exited 0 but never printed {expected.text!r}"
    else:
        verdict = Verdict.PASS
        message = "the command exited 0" + (
            f" and printed {expected.text!r}" if expected is not None else ""
        )
    ended = (
        f"exit {outcome.exit_code}"
        if outcome.exit_code is not None
        else f"stopped ({outcome.stopped})"
    )
    figures: dict[str, Any] = {
        "headline": ended
        + (f", {expected.text!r} {'found' if expected.found else 'missing'}" if expected else ""),
        "exit_code": outcome.exit_code,
        "stopped": None
        if outcome.stopped is None
        else {"cause": outcome.stopped, "limit": outcome.limit, "message": outcome.stop_message},
        "stdout": outcome.stdout.as_dict(),
        "stderr": outcome.stderr.as_dict(),
        "expected": expected.as_dict() if expected is not None else None,
        "component": {"path": subject.path, "sha256": subject.sha256, "size": subject.size},
        "run_export": outcome.shape.run_export,
        "arguments": list(args),
        "limits": limits.as_dict(),
        "consumed": {
            "fuel": outcome.fuel_consumed,
            # wasmtime writes a running guest's fuel count back to the store only at
            # calls and returns, so a guest stopped by the deadline (or a trap) used at
            # least this much; out of fuel, it used exactly the limit.
            "fuel_is_lower_bound": outcome.stopped not in (None, "out-of-fuel"),
            "seconds": round(outcome.seconds, 6),
        },
        "capabilities": outcome.capabilities,
    }
    return Evidence(verdict, message, figures, {subject.path: subject.sha256})
