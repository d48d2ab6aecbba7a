"""Progress lines for the steps that can take more than a second, on stderr.

One small reporter for every layer: the build (componentize-py, compose, validate,
transpile), the runtime (compile, cold or from the cache) and the gate (each claim) call
:func:`step`; the CLI decides once, with :func:`configure`, whether the lines are shown.
By default they are shown when stderr is a terminal and not otherwise; ``--progress`` (or
``MATTER_HARNESS_PROGRESS=1``) shows them anyway, ``--no-progress`` (or ``=0``) never.

A step prints a line when it starts and one when it ends, with the elapsed time and
what it found (``compile build/core.wasm: 12.41 s (cold compile)``), so a long step is
never silent and every label names exactly the work that was timed.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

PROGRESS_ENV = "MATTER_HARNESS_PROGRESS"
"""``1`` shows the progress lines even when stderr is not a terminal; ``0`` hides them."""

Sink = Callable[[str], None]
"""Where progress lines go (one call per line, no trailing newline)."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

_lock = threading.Lock()
_sink: Sink | None = None


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def wanted(
    flag: bool | None,
    env: Mapping[str, str] | None = None,
    stream: TextIO | None = None,
) -> bool:
    """Whether progress lines are shown: ``flag`` if given (``--progress`` /
    ``--no-progress``), else :data:`PROGRESS_ENV` if set, else whether ``stream``
    (default stderr) is a terminal. An unreadable environment value counts as unset."""
    if flag is not None:
        return flag
    value = (os.environ if env is None else env).get(PROGRESS_ENV)
    if value is not None:
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    target = sys.stderr if stream is None else stream
    try:
        return target.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


def configure(enabled: bool, sink: Sink | None = None) -> None:
    """Show progress lines (to ``sink``, default stderr) or hide them."""
    global _sink
    with _lock:
        _sink = (sink or _stderr) if enabled else None


def enabled() -> bool:
    """True when progress lines are shown."""
    return _sink is not None


def note(message: str) -> None:
    """Print one progress line (when progress is shown)."""
    sink = _sink
    if sink is not None:
        with _lock:
            sink(message)


@dataclass
class Step:
    """A running step: the body may add what it found to ``detail`` (shown at the end)."""

    label: str
    detail: str = ""
    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        """Seconds since the step started."""
        return time.perf_counter() - self.started


def seconds(value: float) -> str:
    """An elapsed time for a progress line: ``0.42 s``, ``12.4 s``, ``2 min 13 s``."""
    if value < 10:
        return f"{value:.2f} s"
    if value < 120:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest} s"


@contextmanager
def step(label: str) -> Iterator[Step]:
    """Time the body as ``label``: a line when it starts, one with the elapsed time (and
    the step's ``detail``) when it ends, and one saying it failed if it raises."""
    current = Step(label)
    note(f"{label} ...")
    try:
        yield current
    except BaseException:
        note(f"{label}: failed after {seconds(current.elapsed)}")
        raise
    detail = f" ({current.detail})" if current.detail else ""
    note(f"{label}: {seconds(current.elapsed)}{detail}")


__all__ = [
    "PROGRESS_ENV",
    "Sink",
    "Step",
    "configure",
    "enabled",
    "note",
    "seconds",
    "step",
    "wanted",
]
