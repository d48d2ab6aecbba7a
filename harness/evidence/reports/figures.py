"""Key figures: what a claim's evidence record says in one short sentence, for people.

Each verifier records its own set of figures. A formatter per figure set (keyed by the
verifier's name, :data:`FORMATTERS`) turns the figures that matter into a sentence
("3 components verified (strict mode); 8 tampered or unsigned copies refused"); a record
without a formatter is summed up by its ``headline``; a record with neither, by its
scalar figures as a readable ``name: value`` list. Every formatter returns ``None`` when
the figures are not the shape it knows, so an older or a foreign record falls back
rather than failing.

The figures a sentence leaves out are kept as :attr:`KeyFigure.details` (label, value),
for the HTML report's expandable cell.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.evidence.ledger import Record

#: Figures the reports draw elsewhere (or that make no sense in a list of figures).
NOT_LISTED = frozenset({"headline", "trace", "seams", "seam_crossings", "timings_ms"})
#: Figures listed at most in an expandable cell.
MAX_DETAILS = 12
#: Units of a figure name's suffix, shown in parentheses after the humanized name.
UNITS = {"_ms": "ms", "_s": "s", "_seconds": "s", "_bytes": "bytes", "_percent": "%"}


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float)  # bool is an int


def format_value(value: Any) -> str:
    """Format a figure value compactly (floats to 4 significant digits)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    if value is None:
        return "—"
    return str(value)


def humanize(name: str) -> str:
    """A figure or counter name as words: ``components_verified`` -> ``components
    verified``, ``handshake_ms`` -> ``handshake (ms)``, ``branch_coverage_pct`` ->
    ``branch coverage (%)``."""
    unit = ""
    for suffix, text in {**UNITS, "_pct": "%"}.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            name, unit = name[: -len(suffix)], f" ({text})"
            break
    words = name.replace("_", " ").replace("-", " ").strip()
    return (words or name) + unit


def readable(figures: Mapping[str, Any], limit: int | None = None) -> list[tuple[str, str]]:
    """The scalar figures (and small mappings of scalars) as ``(name, value)`` pairs in
    name order, names humanized; the reports' fallback for figures nobody formats."""
    pairs: list[tuple[str, str]] = []
    for name, value in sorted(figures.items()):
        if name in NOT_LISTED:
            continue
        if _scalar(value):
            pairs.append((humanize(name), format_value(value)))
        elif (
            isinstance(value, dict)
            and value
            and len(value) <= 6
            and all(_scalar(v) for v in value.values())
        ):
            inner = ", ".join(f"{humanize(str(k))} {format_value(v)}" for k, v in value.items())
            pairs.append((humanize(name), inner))
    return pairs if limit is None else pairs[:limit]


@dataclass(frozen=True)
class KeyFigure:
    """A record's key figure: one short sentence and the figures it leaves out."""

    text: str
    details: tuple[tuple[str, str], ...] = ()


Formatter = Callable[[Mapping[str, Any]], str | None]


def _int(figures: Mapping[str, Any], name: str) -> int | None:
    value = figures.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(figures: Mapping[str, Any], name: str) -> float | None:
    value = figures.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, dict):
        value = list(value.values())
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _signatures(figures: Mapping[str, Any]) -> str | None:
    """S1: components verified and in which mode; tampered copies and attacks refused."""
    verified, mode = _int(figures, "components_verified"), figures.get("mode")
    if verified is None or not isinstance(mode, str):
        return None
    parts = [f"{verified} component{'s' if verified != 1 else ''} verified ({mode} mode)"]
    refused = figures.get("refused")
    if isinstance(refused, list) and refused:
        parts.append(f"{len(refused)} tampered or unsigned copies refused")
    attacks = _dicts(figures.get("attacks"))
    if attacks:
        stopped = sum(1 for a in attacks if a.get("refused") is True)
        parts.append(f"{stopped} of {len(attacks)} attacks on build/ refused")
    return "; ".join(parts)


def _policy(figures: Mapping[str, Any]) -> str | None:
    """S2: the core's imports against its policy; the WASI probes refused."""
    core = figures.get("core")
    if not isinstance(core, dict) or not isinstance(core.get("imports"), list):
        return None
    role = figures.get("role") if isinstance(figures.get("role"), str) else "core"
    imports = _dicts(core["imports"])
    allowed = sum(1 for i in imports if i.get("allowed") is True)
    parts = [f"{allowed} of {len(imports)} imports allowed by the {role} policy"]
    probes = _dicts(figures.get("probes"))
    if probes:
        refused = sum(1 for p in probes if p.get("refused") is True)
        parts.append(f"{refused} of {len(probes)} WASI probes refused")
    return "; ".join(parts)


def _limits(figures: Mapping[str, Any]) -> str | None:
    """S3: runaways stopped, and how far the default limits sit above a handshake."""
    runaways = figures.get("runaways")
    if not isinstance(runaways, dict) or not runaways:
        return None
    stopped = sum(1 for r in runaways.values() if isinstance(r, dict) and r.get("stopped"))
    parts = [f"{stopped} of {len(runaways)} runaways stopped by their limits"]
    margins = [
        f"{value:.3g}× a handshake's {what}"
        for what, value in (
            ("fuel", _number(figures, "fuel_margin")),
            ("memory", _number(figures, "memory_margin")),
        )
        if value is not None
    ]
    if margins:
        parts.append("the default limits allow " + ", ".join(margins))
    return "; ".join(parts)


def _mutation(figures: Mapping[str, Any]) -> str | None:
    """E1: mutants killed over all modules, and the modules below the threshold."""
    total, threshold = figures.get("total"), _number(figures, "threshold")
    if not isinstance(total, dict) or threshold is None:
        return None
    killed, counted = _int(total, "killed"), _int(total, "counted")
    if killed is None or counted is None:
        return None
    share = f" ({100 * killed / counted:.1f} %)" if counted else ""
    parts = [f"{killed} of {counted} mutants killed{share}"]
    modules = figures.get("modules")
    if isinstance(modules, dict) and modules:
        scores = [_number(m, "score") if isinstance(m, dict) else None for m in modules.values()]
        below = sum(1 for s in scores if s is None or s < threshold)
        parts.append(f"{below} of {len(modules)} modules below {100 * threshold:g} %")
    return "; ".join(parts)


def _fuzzing(figures: Mapping[str, Any]) -> str | None:
    """E2: cases per target, and how many failed."""
    targets = figures.get("targets")
    if not isinstance(targets, dict) or not targets:
        return None
    runs = {name: t for name, t in targets.items() if isinstance(t, dict)}
    cases = [(name, _int(t, "cases")) for name, t in runs.items()]
    if any(count is None for _, count in cases):
        return None
    failed = sum(_int(t, "failed") or 0 for t in runs.values())
    total = sum(count or 0 for _, count in cases)
    each = ", ".join(f"{name} {count}" for name, count in cases)
    return f"{total} cases ({each}); {failed} failing"


FORMATTERS: dict[str, Formatter] = {
    "signature-verification": _signatures,
    "capability-policy": _policy,
    "resource-limits": _limits,
    "mutation-score": _mutation,
    "fuzz-campaigns": _fuzzing,
}
"""One formatter per verifier whose figures need more than their ``headline``."""


def key_figure_of(record: Record | None) -> KeyFigure:
    """The key figure of ``record`` (see the module docstring); empty for no record. A
    record repeated from an earlier run (``gate --reuse``) says which run verified it."""
    figure = _key_figure(record)
    reused = record.figures.get("reused") if record is not None else None
    if isinstance(reused, dict) and figure.text:
        return KeyFigure(f"{figure.text} (reused from run {reused.get('run_id')})", figure.details)
    return figure


def _key_figure(record: Record | None) -> KeyFigure:
    if record is None:
        return KeyFigure("")
    figures = record.figures
    listed = readable(figures)
    headline = figures.get("headline")
    headline = " ".join(headline.split()) if isinstance(headline, str) else ""
    formatter = FORMATTERS.get(record.verifier)
    text = formatter(figures) if formatter is not None else None
    if text:
        extra = [("Headline", headline)] if headline and headline != text else []
        return KeyFigure(text, tuple([*extra, *listed][:MAX_DETAILS]))
    if headline:
        return KeyFigure(headline, tuple(listed[:MAX_DETAILS]))
    lead = [f"{len(record.trace)} datagrams"] if record.trace else []
    shown = [f"{name}: {value}" for name, value in listed[:2]]
    if lead or shown:
        return KeyFigure(", ".join(lead + shown), tuple(listed[2 : 2 + MAX_DETAILS]))
    if record.transcript_hash:
        return KeyFigure(f"transcript {record.transcript_hash[:12]}")
    return KeyFigure("")


__all__ = [
    "FORMATTERS",
    "KeyFigure",
    "format_value",
    "humanize",
    "key_figure_of",
    "readable",
]
