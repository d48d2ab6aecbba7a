"""Traceability data: requirements, architecture elements and verification claims.

The data lives as YAML under ``traceability/`` in the generic layout of the rivet
traceability tool, so artifacts can move between the two tools::

    artifacts:
      - id: C3
        type: verification-claim
        title: ...
        status: approved
        description: ...
        fields: {verifier: composed-handshake, gates-ci: true}
        links:
          - {type: verifies, target: REQ-4}

Artifact types: ``requirement``, ``architecture-element``, ``verification-claim``.

Status values (one lifecycle for every type):

========== ===========================================================================
draft       written down, not yet agreed
approved    agreed; work may start; the gate runs the claim
implemented built; its evidence has not yet been reviewed
verified    a reviewer accepted passing evidence (the ledger remains the live truth)
obsolete    kept for history; exempt from coverage rules, never gated
========== ===========================================================================

Allowed links (source type, link type -> target types); anything else is
``link-type-mismatch``:

======================== ============== ===========================================
source                   link           targets
======================== ============== ===========================================
verification-claim       verifies       requirement
architecture-element     satisfies      requirement
architecture-element     allocated-from requirement (carries part of it, alone does
                                        not fulfil it)
requirement              refines        requirement
architecture-element     refines        architecture-element
requirement              derives-from   requirement, architecture-element (a
                                        requirement that follows from a design choice)
======================== ============== ===========================================

Validation rules (each diagnostic names its rule):

======================== ======== ==========================================================
rule                     severity finding
======================== ======== ==========================================================
duplicate-id             error    two artifacts share an id
missing-field            error    id, type, title, status (all); description and
                                  ``gates-ci`` (claims)
invalid-field            error    a field of the wrong shape (title not text, links not a
                                  list, ``gates-ci`` not a boolean, ...)
unknown-artifact-type    error    ``type`` outside the three types above
bad-status               error    ``status`` outside the lifecycle above
unknown-link-type        error    a link type outside the five above
broken-link              error    a link target that no artifact has as id
link-type-mismatch       error    a link outside the matrix above
claim-without-verifier   error    a claim with no ``fields.verifier``
unknown-verifier         error    a verifier name the harness has not registered
unverified-requirement   warning  a live requirement that no live claim verifies, directly
                                  or through a requirement that refines it
orphan-claim             warning  a live claim that verifies no requirement
======================== ======== ==========================================================

Unreadable data (a missing directory, bad YAML, a file that is not an ``artifacts`` list
of mappings, a duplicate mapping key) is not a finding but a
:class:`TraceabilityDataError`: the CLI exits 2 for it.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import TraceabilityDataError

REQUIREMENT = "requirement"
ARCHITECTURE_ELEMENT = "architecture-element"
VERIFICATION_CLAIM = "verification-claim"
ARTIFACT_TYPES: tuple[str, ...] = (REQUIREMENT, ARCHITECTURE_ELEMENT, VERIFICATION_CLAIM)

STATUSES: tuple[str, ...] = ("draft", "approved", "implemented", "verified", "obsolete")
OBSOLETE = "obsolete"

LINK_TYPES: tuple[str, ...] = ("verifies", "satisfies", "refines", "allocated-from", "derives-from")

#: (source type, link type) -> allowed target types. The single source of truth for the
#: ``link-type-mismatch`` rule; the module docstring documents the same table.
LINK_MATRIX: Mapping[tuple[str, str], frozenset[str]] = {
    (VERIFICATION_CLAIM, "verifies"): frozenset({REQUIREMENT}),
    (ARCHITECTURE_ELEMENT, "satisfies"): frozenset({REQUIREMENT}),
    (ARCHITECTURE_ELEMENT, "allocated-from"): frozenset({REQUIREMENT}),
    (REQUIREMENT, "refines"): frozenset({REQUIREMENT}),
    (ARCHITECTURE_ELEMENT, "refines"): frozenset({ARCHITECTURE_ELEMENT}),
    (REQUIREMENT, "derives-from"): frozenset({REQUIREMENT, ARCHITECTURE_ELEMENT}),
}

#: The verifiers the harness registers for the project's ten claims. The gate passes
#: its registry's names to :func:`validate`; this set is the fallback for tools and tests.
PROJECT_VERIFIERS: frozenset[str] = frozenset(
    {
        "core-component-imports",
        "component-handshake",
        "composed-handshake",
        "seeded-determinism",
        "negative-paths",
        "seam-coverage",
        "vectors-in-component",
        "signature-verification",
        "capability-policy",
        "resource-limits",
    }
)

DEFAULT_DIRECTORY = Path(__file__).resolve().parent.parent / "traceability"


class Severity(enum.Enum):
    """How serious a finding is; ordered error > warning > info."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Return 2 for error, 1 for warning, 0 for info (higher is worse)."""
        return {"error": 2, "warning": 1, "info": 0}[self.value]


@dataclass(frozen=True)
class Diagnostic:
    """One validation finding: its severity, rule, artifact and explanation."""

    severity: Severity
    rule: str
    artifact_id: str | None
    message: str
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as a JSON-ready mapping."""
        return {
            "severity": self.severity.value,
            "rule": self.rule,
            "artifact": self.artifact_id,
            "message": self.message,
            "source": self.source,
        }

    def __str__(self) -> str:
        where = self.artifact_id or "-"
        origin = f" ({self.source})" if self.source else ""
        return f"{self.severity.value}[{self.rule}] {where}{origin}: {self.message}"


@dataclass(frozen=True)
class Link:
    """A typed link from the artifact that holds it to ``target``."""

    type: str
    target: str


@dataclass(frozen=True)
class Artifact:
    """One traceability artifact.

    Built leniently from whatever the YAML held, so that :func:`validate` can report on
    broken data instead of the loader refusing it; ``raw`` keeps the mapping as loaded.
    """

    id: str
    type: str
    title: str
    status: str
    description: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    tags: tuple[str, ...] = ()
    source: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], source: str | None = None) -> Artifact:
        """Build an artifact from one YAML mapping; never raises on bad shapes."""
        fields_raw = raw.get("fields")
        links: list[Link] = []
        links_raw = raw.get("links")
        if isinstance(links_raw, list):
            for item in links_raw:
                if isinstance(item, Mapping):
                    links.append(Link(_text(item.get("type")), _text(item.get("target"))))
        tags_raw = raw.get("tags")
        tags = tuple(str(t) for t in tags_raw) if isinstance(tags_raw, list) else ()
        return cls(
            id=_text(raw.get("id")),
            type=_text(raw.get("type")),
            title=_text(raw.get("title")),
            status=_text(raw.get("status")),
            description=_text(raw.get("description")).strip(),
            fields=dict(fields_raw) if isinstance(fields_raw, Mapping) else {},
            links=tuple(links),
            tags=tags,
            source=source,
            raw=dict(raw),
        )

    @property
    def live(self) -> bool:
        """True unless the artifact is obsolete."""
        return self.status != OBSOLETE

    def targets(self, link_type: str) -> tuple[str, ...]:
        """Return the targets of this artifact's links of one type, in file order."""
        return tuple(link.target for link in self.links if link.type == link_type)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True)
class VerificationClaim:
    """The gate's view of a claim: what runs it, whether it gates, its parameters."""

    id: str
    title: str
    statement: str
    verifier: str | None
    gates_ci: bool
    parameters: Mapping[str, Any]
    status: str

    @classmethod
    def from_artifact(cls, artifact: Artifact) -> VerificationClaim:
        """Extract the claim fields; parameters are every field except the two reserved."""
        verifier = artifact.fields.get("verifier")
        params = {k: v for k, v in artifact.fields.items() if k not in ("verifier", "gates-ci")}
        return cls(
            id=artifact.id,
            title=artifact.title,
            statement=artifact.description,
            verifier=verifier if isinstance(verifier, str) and verifier else None,
            gates_ci=artifact.fields.get("gates-ci") is True,
            parameters=params,
            status=artifact.status,
        )


@dataclass(frozen=True)
class ClaimTrace:
    """A claim with the requirements it verifies and the elements that realise them."""

    claim: Artifact
    requirements: tuple[Artifact, ...]
    elements: tuple[Artifact, ...]


# --------------------------------------------------------------------------- loading


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (PyYAML keeps the last silently)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def load_file(path: Path) -> list[Artifact]:
    """Load the artifacts of one YAML file; raise :class:`TraceabilityDataError` if unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceabilityDataError(path, f"unreadable: {exc}") from exc
    try:
        document = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise TraceabilityDataError(path, _yaml_problem(exc)) from exc
    if document is None:
        return []
    if not isinstance(document, Mapping) or "artifacts" not in document:
        raise TraceabilityDataError(path, "expected a mapping with an 'artifacts' list")
    items = document["artifacts"]
    if items is None:
        return []
    if not isinstance(items, list):
        raise TraceabilityDataError(path, "'artifacts' must be a list")
    artifacts: list[Artifact] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise TraceabilityDataError(
                path, f"artifacts[{index}] must be a mapping, not {type(item).__name__}"
            )
        artifacts.append(Artifact.from_mapping(item, source=f"{path.name} artifacts[{index}]"))
    return artifacts


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        context = f" ({exc.context})" if exc.context else ""
        return (
            f"malformed YAML at line {mark.line + 1}, column {mark.column + 1}: "
            f"{exc.problem}{context}"
        )
    return f"malformed YAML: {exc}"


def load_artifacts(directory: Path | str | None = None) -> list[Artifact]:
    """Load every ``*.yaml`` / ``*.yml`` file of ``directory`` (default: the project's).

    Files load in name order so diagnostics are stable. A missing directory or one with
    no YAML files is unreadable data, not an empty model.
    """
    root = DEFAULT_DIRECTORY if directory is None else Path(directory)
    if not root.is_dir():
        raise TraceabilityDataError(root, "not a directory")
    files = sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise TraceabilityDataError(root, "no .yaml files")
    artifacts: list[Artifact] = []
    for path in files:
        artifacts.extend(load_file(path))
    return artifacts


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
            targets = [t for t in artifact.targets("verifies") if _is(by_id, t, REQUIREMENT)]
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


def _is(by_id: Mapping[str, Artifact], artifact_id: str, artifact_type: str) -> bool:
    target = by_id.get(artifact_id)
    return target is not None and target.type == artifact_type


# ----------------------------------------------------------------------------- views


def claims(
    artifacts: Iterable[Artifact], *, include_obsolete: bool = False
) -> list[VerificationClaim]:
    """Return the verification claims in file order (live ones unless asked otherwise)."""
    return [
        VerificationClaim.from_artifact(a)
        for a in artifacts
        if a.type == VERIFICATION_CLAIM and (include_obsolete or a.live)
    ]


def trace_claim(artifacts: Iterable[Artifact], claim_id: str) -> ClaimTrace:
    """Return the requirements a claim verifies and the architecture elements behind them.

    Elements are those that ``satisfies`` or are ``allocated-from`` one of the claim's
    requirements, in file order without repeats. Raises ``KeyError`` for an unknown claim.
    """
    listed = list(artifacts)
    by_id = {a.id: a for a in listed}
    claim = by_id.get(claim_id)
    if claim is None or claim.type != VERIFICATION_CLAIM:
        raise KeyError(claim_id)
    requirements = tuple(
        by_id[t] for t in dict.fromkeys(claim.targets("verifies")) if _is(by_id, t, REQUIREMENT)
    )
    wanted = {r.id for r in requirements}
    elements = tuple(
        a
        for a in listed
        if a.type == ARCHITECTURE_ELEMENT
        and any(t in wanted for t in a.targets("satisfies") + a.targets("allocated-from"))
    )
    return ClaimTrace(claim, requirements, elements)


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
