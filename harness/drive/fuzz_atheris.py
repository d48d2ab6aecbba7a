"""The coverage-guided native fuzz target: atheris (libFuzzer) over the core package.

Run as a child process by :func:`harness.drive.fuzzing.run_atheris`, because libFuzzer
ends the process when its runs are done::

    python -m harness.drive.fuzz_atheris RESULT.json RUNS REGRESSIONS_DIR -runs=N -seed=S ...

An input is one step index byte (modulo the number of steps) and the datagram; the core's
decoders and state machine are instrumented (:data:`INSTRUMENTED`, imported before
anything else imports them) so libFuzzer keeps the inputs that reach new branches. The
outcome counts are written to RESULT.json every 256 cases and after each of the last 256.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import atheris

#: The core's modules libFuzzer gets coverage from: the decoders, the message layer and
#: the state machine. The arithmetic (P-256, SPAKE2+, PBKDF2, AES-CCM) is left out: it has
#: no input-dependent branches worth steering toward, and instrumenting it costs 5-10x.
INSTRUMENTED = (
    "matter_core.endpoint",
    "matter_core.message",
    "matter_core.message_layer",
    "matter_core.mrp",
    "matter_core.pase",
    "matter_core.pase_messages",
    "matter_core.pase_session",
    "matter_core.pase_state",
    "matter_core.secure_session",
    "matter_core.tlv",
    "matter_core.tlv_elements",
    "matter_core.tlv_reader",
)
with atheris.instrument_imports(include=list(INSTRUMENTED)):  # type: ignore[attr-defined]
    import matter_core.endpoint
    import matter_core.pase_messages
    import matter_core.secure_session  # noqa: F401

from harness.drive.fuzz_cases import capture_handshake, encode_regression  # noqa: E402
from harness.drive.fuzz_targets import FAILING, NativeTarget  # noqa: E402

#: Written every this many cases.
WRITE_EVERY = 256


class _Campaign:
    def __init__(self, out: Path, runs: int, regressions: Path | None) -> None:
        self.out, self.runs, self.regressions = out, runs, regressions
        self.target = NativeTarget(capture_handshake())
        self.steps = len(self.target.capture.steps)
        self.cases = 0
        self.outcomes: Counter[str] = Counter()
        self.failures: list[dict[str, Any]] = []
        self.saved: list[str] = []

    def one_input(self, data: bytes) -> None:
        step, datagram = (data[0] % self.steps, bytes(data[1:])) if data else (0, b"")
        observed = self.target.run_case(step, datagram)
        self.cases += 1
        self.outcomes[observed.label] += 1
        if observed.label in FAILING:
            self._save(step, datagram, observed.label, observed.detail)
        if self.cases % WRITE_EVERY == 0 or self.cases >= self.runs - WRITE_EVERY:
            self.write()

    def _save(self, step: int, datagram: bytes, label: str, detail: str) -> None:
        if self.regressions is not None:
            data = encode_regression(step, datagram)
            path = self.regressions / "native" / f"{hashlib.sha256(data).hexdigest()}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            if str(path) not in self.saved:
                self.saved.append(str(path))
        if len(self.failures) < 20:
            self.failures.append(
                {"case": self.cases, "step": step, "outcome": label, "detail": detail[:300]}
            )

    def write(self) -> None:
        body = {
            "cases": self.cases,
            "outcomes": dict(self.outcomes),
            "failures": self.failures,
            "saved": self.saved,
            "restarts": self.target.restarts,
        }
        self.out.write_text(json.dumps(body))


def main(argv: list[str]) -> None:
    """Entry point: ``RESULT RUNS REGRESSIONS libFuzzer-args...``."""
    out, runs, regressions = Path(argv[1]), int(argv[2]), argv[3]
    campaign = _Campaign(out, runs, Path(regressions) if regressions else None)
    campaign.write()
    atheris.Setup([argv[0], *argv[4:]], campaign.one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
