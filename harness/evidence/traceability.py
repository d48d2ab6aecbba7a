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
:class:`TraceabilityDataError`: the CLI exits 2 for it. The rules are checked by
:mod:`harness.evidence.trace_rules`; this module holds the model, the loader and views.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import TraceabilityDataError
from harness.project import TRACEABILITY_DIR

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

#: The verifiers the harness registers for the project's claims. The gate passes
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
        "cross-runtime-determinism",
        "off-path-robustness",
        "lossy-link",
        "functional-reproducibility",
        "fuzz-campaigns",
        "mutation-score",
    }
)

DEFAULT_DIRECTORY = TRACEABILITY_DIR


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
        by_id[t]
        for t in dict.fromkeys(claim.targets("verifies"))
        if is_of_type(by_id, t, REQUIREMENT)
    )
    wanted = {r.id for r in requirements}
    elements = tuple(
        a
        for a in listed
        if a.type == ARCHITECTURE_ELEMENT
        and any(t in wanted for t in a.targets("satisfies") + a.targets("allocated-from"))
    )
    return ClaimTrace(claim, requirements, elements)


def is_of_type(by_id: Mapping[str, Artifact], artifact_id: str, artifact_type: str) -> bool:
    """Whether ``artifact_id`` names an artifact of ``artifact_type``."""
    target = by_id.get(artifact_id)
    return target is not None and target.type == artifact_type
