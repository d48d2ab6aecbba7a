"""The traceability rules (see :mod:`harness.evidence.traceability` for the table), and
``matter-harness trace validate``."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from harness.errors import TraceabilityDataError
from harness.evidence.traceability import (
    ARTIFACT_TYPES,
    DEFAULT_DIRECTORY,
    LINK_MATRIX,
    LINK_TYPES,
    REQUIREMENT,
    STATUSES,
    VERIFICATION_CLAIM,
    Artifact,
    Diagnostic,
    Severity,
    is_of_type,
    load_artifacts,
)

# ------------------------------------------------------------------------ validation


def validate(artifacts: Sequence[Artifact], known_verifiers: Collection[str]) -> list[Diagnostic]:
    """Check the artifacts against every rule in the module docstring.

    Returns the findings sorted worst first, then by artifact id; an empty list means
    the data is clean.
    """
    findings: list[Diagnostic] = []
    by_id: dict[str, Artifact] = {}
    for artifact in artifacts:
        findings.extend(_check_shape(artifact))
        if not artifact.id:
            continue
        if artifact.id in by_id:
            first = by_id[artifact.id]
            findings.append(
                _finding(
                    Severity.ERROR,
                    "duplicate-id",
                    artifact,
                    f"id already used by the artifact at {first.source or '?'}",
                )
            )
        else:
            by_id[artifact.id] = artifact
    for artifact in artifacts:
        findings.extend(_check_links(artifact, by_id))
        if artifact.type == VERIFICATION_CLAIM:
            findings.extend(_check_claim(artifact, known_verifiers))
    findings.extend(_check_coverage(by_id))
    findings.sort(key=lambda d: (-d.severity.rank, d.artifact_id or "", d.rule, d.message))
    return findings


def _finding(severity: Severity, rule: str, artifact: Artifact, message: str) -> Diagnostic:
    return Diagnostic(severity, rule, artifact.id or None, message, artifact.source)


def _check_shape(artifact: Artifact) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    raw = artifact.raw
    required = ["id", "type", "title", "status"]
    if artifact.type == VERIFICATION_CLAIM:
        required.append("description")
    for name in required:
        value = raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            out.append(_finding(Severity.ERROR, "missing-field", artifact, f"no {name!r}"))
        elif not isinstance(value, str):
            out.append(
                _finding(
                    Severity.ERROR,
                    "invalid-field",
                    artifact,
                    f"{name!r} must be text, not {type(value).__name__}",
                )
            )
    if artifact.id and any(ch.isspace() for ch in artifact.id):
        out.append(_finding(Severity.ERROR, "invalid-field", artifact, "id contains whitespace"))
    if artifact.type and artifact.type not in ARTIFACT_TYPES:
        out.append(
            _finding(
                Severity.ERROR,
                "unknown-artifact-type",
                artifact,
                f"type {artifact.type!r} is not one of {', '.join(ARTIFACT_TYPES)}",
            )
        )
    if isinstance(raw.get("status"), str) and artifact.status not in STATUSES:
        out.append(
            _finding(
                Severity.ERROR,
                "bad-status",
                artifact,
                f"status {artifact.status!r} is not one of {', '.join(STATUSES)}",
            )
        )
    for name, kind in (("fields", Mapping), ("links", list), ("tags", list)):
        if name in raw and raw[name] is not None and not isinstance(raw[name], kind):
            shape = "a mapping" if kind is Mapping else "a list"
            out.append(
                _finding(Severity.ERROR, "invalid-field", artifact, f"{name!r} must be {shape}")
            )
    links_raw = raw.get("links")
    if isinstance(links_raw, list):
        for index, item in enumerate(links_raw):
            ok = (
                isinstance(item, Mapping)
                and isinstance(item.get("type"), str)
                and isinstance(item.get("target"), str)
                and bool(item["target"])
            )
            if not ok:
                out.append(
                    _finding(
                        Severity.ERROR,
                        "invalid-field",
                        artifact,
                        f"links[{index}] must be a mapping with text 'type' and 'target'",
                    )
                )
    return out


def _check_links(artifact: Artifact, by_id: Mapping[str, Artifact]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for link in artifact.links:
        if not link.type or not link.target:
            continue  # reported as invalid-field by the shape check
        if link.type not in LINK_TYPES:
            out.append(
                _finding(
                    Severity.ERROR,
                    "unknown-link-type",
                    artifact,
                    f"link type {link.type!r} (to {link.target}) is not one of "
                    f"{', '.join(LINK_TYPES)}",
                )
            )
            continue
        target = by_id.get(link.target)
        if target is None:
            out.append(
                _finding(
                    Severity.ERROR,
                    "broken-link",
                    artifact,
                    f"{link.type} -> {link.target}: no artifact has this id",
                )
            )
            continue
        allowed = LINK_MATRIX.get((artifact.type, link.type))
        if allowed is None or target.type not in allowed:
            source = _article(artifact.type or "typeless artifact")
            wanted = (
                f"{source} may not use {link.type!r}"
                if allowed is None
                else f"{link.type!r} from {source} must target {' or '.join(sorted(allowed))}"
            )
            out.append(
                _finding(
                    Severity.ERROR,
                    "link-type-mismatch",
                    artifact,
                    f"{link.type} -> {link.target} ({target.type}): {wanted}",
                )
            )
    return out


def _check_claim(artifact: Artifact, known_verifiers: Collection[str]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    verifier = artifact.fields.get("verifier")
    if verifier is None or (isinstance(verifier, str) and not verifier.strip()):
        out.append(
            _finding(
                Severity.ERROR,
                "claim-without-verifier",
                artifact,
                "no fields.verifier: nothing can produce evidence for this claim",
            )
        )
    elif not isinstance(verifier, str):
        out.append(_finding(Severity.ERROR, "invalid-field", artifact, "verifier must be text"))
    elif verifier not in known_verifiers:
        out.append(
            _finding(
                Severity.ERROR,
                "unknown-verifier",
                artifact,
                f"verifier {verifier!r} is not registered in the harness",
            )
        )
    if "gates-ci" not in artifact.fields:
        out.append(_finding(Severity.ERROR, "missing-field", artifact, "no fields.gates-ci"))
    elif not isinstance(artifact.fields["gates-ci"], bool):
        out.append(
            _finding(Severity.ERROR, "invalid-field", artifact, "fields.gates-ci must be a boolean")
        )
    return out


def _check_coverage(by_id: Mapping[str, Artifact]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    verified: set[str] = set()
    for artifact in by_id.values():
        if artifact.type == VERIFICATION_CLAIM and artifact.live:
            targets = [t for t in artifact.targets("verifies") if is_of_type(by_id, t, REQUIREMENT)]
            verified.update(targets)
            if not targets:
                out.append(
                    _finding(
                        Severity.WARNING,
                        "orphan-claim",
                        artifact,
                        "verifies no requirement: its evidence supports nothing",
                    )
                )
    # A requirement counts as verified when a requirement refining it is: evidence for
    # the refinement is evidence for its parent. Propagate to a fixed point.
    refined_by: dict[str, set[str]] = {}
    for artifact in by_id.values():
        if artifact.type == REQUIREMENT and artifact.live:
            for parent in artifact.targets("refines"):
                refined_by.setdefault(parent, set()).add(artifact.id)
    changed = True
    while changed:
        changed = False
        for parent, children in refined_by.items():
            if parent not in verified and children & verified:
                verified.add(parent)
                changed = True
    for artifact in by_id.values():
        if artifact.type == REQUIREMENT and artifact.live and artifact.id not in verified:
            out.append(
                _finding(
                    Severity.WARNING,
                    "unverified-requirement",
                    artifact,
                    "no live claim verifies this requirement (directly or through a refinement)",
                )
            )
    return out


def _article(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


# ------------------------------------------------------------------------ CLI entry

FAIL_ON_LEVELS: Mapping[str, int] = {"error": 2, "warning": 1, "info": 0}


def trace_validate(
    directory: Path | str | None,
    known_verifiers: Collection[str],
    fail_on: str = "error",
    fmt: str = "text",
) -> tuple[int, str]:
    """Load and validate a traceability directory for the CLI.

    Returns ``(exit_code, output)``: 0 when no finding reaches ``fail_on``, 1 when one
    does, 2 when the data is unreadable. ``fmt`` is ``"text"`` or ``"json"``.
    """
    if fail_on not in FAIL_ON_LEVELS:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON_LEVELS)}, not {fail_on!r}")
    if fmt not in ("text", "json"):
        raise ValueError(f"fmt must be 'text' or 'json', not {fmt!r}")
    root = DEFAULT_DIRECTORY if directory is None else Path(directory)
    try:
        artifacts = load_artifacts(root)
    except TraceabilityDataError as exc:
        if fmt == "json":
            payload = {"directory": str(root), "exit_code": 2, "error": exc.explain()}
            return 2, json.dumps(payload, indent=2, sort_keys=True)
        return 2, exc.explain()
    findings = validate(artifacts, known_verifiers)
    threshold = FAIL_ON_LEVELS[fail_on]
    code = 1 if any(d.severity.rank >= threshold for d in findings) else 0
    counts = {s.value: sum(1 for d in findings if d.severity is s) for s in Severity}
    if fmt == "json":
        payload = {
            "directory": str(root),
            "artifacts": len(artifacts),
            "fail_on": fail_on,
            "exit_code": code,
            "counts": counts,
            "diagnostics": [d.to_dict() for d in findings],
        }
        return code, json.dumps(payload, indent=2, sort_keys=True)
    lines = [str(d) for d in findings]
    tally = ", ".join(
        f"{n} {name}{'' if n == 1 else 's'}"
        for name, n in (
            ("error", counts["error"]),
            ("warning", counts["warning"]),
            ("info", counts["info"]),
        )
    )
    lines.append(
        f"{len(artifacts)} artifacts in {root}: {tally}" + ("" if findings else " (clean)")
    )
    return code, "\n".join(lines)
