"""Capability policy: which imports each component role may have, checked from the binary.

A component's imports are the only authority it can ever exercise, so the harness reads
them from the component's import section (no compile, nothing instantiated) and checks
them against an allow-list per role before linking. Anything WASI (filesystem, sockets,
clocks, random, cli, ...) is high risk and refused unless the role grants it by name.

Policy file format (TOML; the project's default is ``components/policy.toml``)::

    description = "..."                        # optional
    [roles.core]                               # one table per component role
    description = "..."                        # optional
    allow = [                                  # required; may be empty
        "matter:pase/transport@0.1.0",
    ]

Unknown keys anywhere are errors, so a typo never silently widens or narrows a policy.

Grant matching (versions are compared as exact text, never as semver ranges):

- ``ns:pkg/iface@1.2.3`` grants exactly that import;
- ``ns:pkg/iface`` grants that interface at any version;
- ``ns:pkg@1.2.3`` grants every interface of the package at that version;
- ``ns:pkg`` grants every interface of the package at any version;
- a plain ``label`` grants the plain-named import of that name.

Risk classes are derived from the import name alone (its version ignored) and only
explain a verdict; the verdict is the allow-list's. Names of the project's own package
(``matter:pase``) are ``seam`` (low), WASI packages have their own high-risk classes,
and everything else is ``unknown`` (medium).
"""

from __future__ import annotations

import hashlib
import re
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from harness import wasm_binary
from harness.build import PROJECT_ROOT
from harness.errors import HarnessError, WasmFormatError

DEFAULT_POLICY_PATH = PROJECT_ROOT / "components" / "policy.toml"
CORE_ROLE = "core"

RiskLevel = Literal["low", "medium", "high"]


class PolicyError(HarnessError):
    """A policy file that cannot be read or is malformed, or a role it does not define."""


class PolicyViolation(HarnessError):
    """A component imports something its role's policy does not grant.

    ``offending`` names every import refused (in import order); ``report`` is the full
    audit. The CLI exits 1 for it: the policy did its job, nothing was misused.
    """

    exit_code = 1

    def __init__(self, report: AuditReport) -> None:
        denied = report.denied
        listing = "; ".join(f"{item.name} ({item.reason})" for item in denied)
        plural = "import" if len(denied) == 1 else "imports"
        super().__init__(
            f"{report.component} may not be linked as role '{report.role}' under policy "
            f"{report.policy_source}: {len(denied)} {plural} not allowed: {listing}",
            hint="grant an import in the role's `allow` list only if the component is meant "
            "to hold that authority",
        )
        self.report = report
        self.offending = tuple(item.name for item in denied)


# --------------------------------------------------------------------------- risk


class RiskClass(StrEnum):
    """What kind of authority an import hands a component, from its name alone."""

    SEAM = "seam"
    WASI_FILESYSTEM = "wasi-filesystem"
    WASI_SOCKETS = "wasi-sockets"
    WASI_CLOCKS = "wasi-clocks"
    WASI_RANDOM = "wasi-random"
    WASI_CLI = "wasi-cli"
    WASI_IO = "wasi-io"
    WASI_HTTP = "wasi-http"
    OTHER_WASI = "other-wasi"
    UNKNOWN = "unknown"

    @property
    def level(self) -> RiskLevel:
        """``low``, ``medium`` or ``high``."""
        if self is RiskClass.SEAM:
            return "low"
        if self is RiskClass.UNKNOWN:
            return "medium"
        return "high"

    @property
    def summary(self) -> str:
        """A few words on what the class grants."""
        return _SUMMARIES[self]


_SUMMARIES = {
    RiskClass.SEAM: "one of the project's own typed seams",
    RiskClass.WASI_FILESYSTEM: "WASI filesystem access",
    RiskClass.WASI_SOCKETS: "WASI network sockets",
    RiskClass.WASI_CLOCKS: "WASI host clocks",
    RiskClass.WASI_RANDOM: "WASI ambient randomness",
    RiskClass.WASI_CLI: "WASI command-line environment (args, env, stdio, exit)",
    RiskClass.WASI_IO: "WASI streams and polling",
    RiskClass.WASI_HTTP: "WASI HTTP client or server",
    RiskClass.OTHER_WASI: "another WASI interface",
    RiskClass.UNKNOWN: "an interface this policy does not know",
}

_WASI_PACKAGES = {
    "filesystem": RiskClass.WASI_FILESYSTEM,
    "sockets": RiskClass.WASI_SOCKETS,
    "clocks": RiskClass.WASI_CLOCKS,
    "random": RiskClass.WASI_RANDOM,
    "cli": RiskClass.WASI_CLI,
    "io": RiskClass.WASI_IO,
    "http": RiskClass.WASI_HTTP,
}

SEAM_PACKAGE = ("matter", "pase")


def classify(name: str) -> RiskClass:
    """The risk class of an import called ``name`` (its version is ignored).

    The namespace is compared case-insensitively so that an odd spelling of ``wasi``
    cannot make an import look harmless; classification never grants anything anyway.
    """
    namespace, colon, rest = name.partition(":")
    if not colon:
        return RiskClass.UNKNOWN
    package = re.split(r"[/@]", rest, maxsplit=1)[0].lower()
    namespace = namespace.lower()
    if namespace == "wasi":
        return _WASI_PACKAGES.get(package, RiskClass.OTHER_WASI)
    if (namespace, package) == SEAM_PACKAGE:
        return RiskClass.SEAM
    return RiskClass.UNKNOWN


# --------------------------------------------------------------------------- names

_LABEL = r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*"
_SEMVER = r"[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?"
_INTERFACE = re.compile(
    rf"^(?P<ns>{_LABEL}):(?P<pkg>{_LABEL})(?:/(?P<iface>{_LABEL}))?(?:@(?P<ver>{_SEMVER}))?$"
)
_PLAIN = re.compile(rf"^{_LABEL}$")
_ROLE = re.compile(r"^[a-z][a-z0-9_-]*$")


@dataclass(frozen=True)
class Grant:
    """One entry of a role's ``allow`` list (see the module docstring for matching).

    ``namespace`` and ``package`` are ``None`` for a plain label; ``interface`` and
    ``version`` are ``None`` where the grant leaves them open.
    """

    text: str
    namespace: str | None
    package: str | None
    interface: str | None
    version: str | None

    @classmethod
    def parse(cls, text: str) -> Grant:
        """Parse a grant; raise ValueError for text that names no import."""
        match = _INTERFACE.match(text)
        if match:
            return cls(text, match["ns"], match["pkg"], match["iface"], match["ver"])
        if _PLAIN.match(text):
            return cls(text, None, None, None, None)
        raise ValueError(
            f"{text!r} is not an import name (ns:pkg/interface@version, ns:pkg/interface, "
            "ns:pkg@version, ns:pkg, or a plain label)"
        )

    @property
    def risk(self) -> RiskClass:
        """The risk class of what the grant lets in."""
        return classify(self.text)

    def matches(self, name: str) -> bool:
        """Whether this grant lets in an import called ``name``."""
        if self.namespace is None:
            return name == self.text
        match = _INTERFACE.match(name)
        if match is None or match["iface"] is None:
            # Top-level interface imports always name an interface; a bare package
            # name as an import is not something a grant should be stretched to cover.
            return False
        return (
            match["ns"] == self.namespace
            and match["pkg"] == self.package
            and self.interface in (None, match["iface"])
            and self.version in (None, match["ver"])
        )


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class RolePolicy:
    """The imports one component role may have."""

    name: str
    allow: tuple[Grant, ...]
    description: str = ""

    def grant_for(self, name: str) -> Grant | None:
        """The first grant that lets in ``name``, if any."""
        for grant in self.allow:
            if grant.matches(name):
                return grant
        return None


@dataclass(frozen=True)
class Policy:
    """A checked policy file: its roles, where it came from and its SHA-256."""

    source: str
    sha256: str
    roles: tuple[RolePolicy, ...]
    description: str = ""

    def role(self, name: str) -> RolePolicy:
        """The role called ``name``; a PolicyError names the roles there are."""
        for role in self.roles:
            if role.name == name:
                return role
        known = ", ".join(r.name for r in self.roles)
        raise PolicyError(f"policy {self.source} has no role {name!r} (roles: {known})")

    @property
    def role_names(self) -> tuple[str, ...]:
        """The names of the roles, in file order."""
        return tuple(r.name for r in self.roles)


def load_policy(path: Path | str | None = None) -> Policy:
    """Read and check a policy file (the project's default policy when ``path`` is None)."""
    path = DEFAULT_POLICY_PATH if path is None else Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"policy file {path} is not UTF-8 text") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy file {path} is not valid TOML: {exc}") from exc
    return parse_policy(data, source=str(path), sha256=hashlib.sha256(raw).hexdigest())


def parse_policy(data: Mapping[str, Any], *, source: str = "<policy>", sha256: str = "") -> Policy:
    """Check an already parsed policy mapping (see the module docstring for the format)."""

    def fail(where: str, message: str) -> PolicyError:
        return PolicyError(f"{source}: {where}: {message}")

    def keys(table: Mapping[str, Any], where: str, required: set[str], optional: set[str]) -> None:
        unknown = sorted(set(table) - required - optional)
        if unknown:
            allowed = ", ".join(sorted(required | optional))
            raise fail(where, f"unknown key {unknown[0]!r} (allowed: {allowed})")
        missing = sorted(required - set(table))
        if missing:
            raise fail(where, f"missing required key {missing[0]!r}")

    def string(value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise fail(where, f"expected a string, found {_kind(value)}")
        return value

    keys(data, "top level", {"roles"}, {"description"})
    description = string(data.get("description", ""), "description")
    roles_table = data["roles"]
    if not isinstance(roles_table, Mapping):
        raise fail("roles", f"expected a table of roles, found {_kind(roles_table)}")
    if not roles_table:
        # An empty policy would refuse everything, which is never what a file meant.
        raise fail("roles", "defines no roles")
    roles = []
    for name, body in roles_table.items():
        where = f"roles.{name}"
        if not _ROLE.match(name):
            raise fail(where, f"{name!r} is not a valid role name (a-z, then a-z, 0-9, - or _)")
        if not isinstance(body, Mapping):
            raise fail(where, f"expected a table, found {_kind(body)}")
        keys(body, where, {"allow"}, {"description"})
        allow = body["allow"]
        if not isinstance(allow, list):
            raise fail(f"{where}.allow", f"expected a list of strings, found {_kind(allow)}")
        grants: list[Grant] = []
        for index, item in enumerate(allow):
            text = string(item, f"{where}.allow[{index}]")
            try:
                grant = Grant.parse(text)
            except ValueError as exc:
                raise fail(f"{where}.allow[{index}]", str(exc)) from None
            if any(g.text == text for g in grants):
                raise fail(f"{where}.allow[{index}]", f"{text!r} is listed twice")
            grants.append(grant)
        role_description = string(body.get("description", ""), f"{where}.description")
        roles.append(RolePolicy(name, tuple(grants), role_description))
    return Policy(source, sha256, tuple(roles), description)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a table"
    return type(value).__name__


# --------------------------------------------------------------------------- audit


@dataclass(frozen=True)
class ImportAudit:
    """One import of the audited component and what the policy says about it."""

    name: str
    sort: str
    risk: RiskClass
    allowed: bool
    reason: str
    grant: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "name": self.name,
            "sort": self.sort,
            "risk": str(self.risk),
            "level": self.risk.level,
            "allowed": self.allowed,
            "reason": self.reason,
            "grant": self.grant,
        }


@dataclass(frozen=True)
class AuditReport:
    """Every import of one component under one role, and the overall verdict."""

    component: str
    sha256: str
    role: str
    policy_source: str
    policy_sha256: str
    imports: tuple[ImportAudit, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def denied(self) -> tuple[ImportAudit, ...]:
        """The imports the policy refuses."""
        return tuple(item for item in self.imports if not item.allowed)

    @property
    def allowed(self) -> bool:
        """True when every import is granted."""
        return not self.denied

    @property
    def verdict(self) -> Literal["allowed", "refused"]:
        """``allowed`` or ``refused``."""
        return "allowed" if self.allowed else "refused"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "component": self.component,
            "sha256": self.sha256,
            "role": self.role,
            "policy": {"path": self.policy_source, "sha256": self.policy_sha256},
            "imports": [item.as_dict() for item in self.imports],
            "notes": list(self.notes),
            "verdict": self.verdict,
        }

    def render(self) -> str:
        """The plain-text report ``matter-harness audit`` prints."""
        lines = [
            f"{self.component} (sha256 {self.sha256})",
            f"role {self.role}, policy {self.policy_source} (sha256 {self.policy_sha256})",
        ]
        if not self.imports:
            lines.append("imports: none")
        else:
            lines.append("imports:")
            width = max(len(item.name) for item in self.imports)
            for item in self.imports:
                risk = f"{item.risk} ({item.risk.level})"
                verdict = "allowed" if item.allowed else "DENIED "
                lines.append(
                    f"  {item.name:<{width}}  {item.sort:<8}  {risk:<24}  {verdict}  {item.reason}"
                )
        lines.extend(f"info: {note}" for note in self.notes)
        denied = len(self.denied)
        lines.append(
            f"verdict: {self.verdict.upper()} ({len(self.imports)} imports, {denied} denied)"
        )
        return "\n".join(lines)


ComponentInput = bytes | Path | str


def _read_component(component: ComponentInput, label: str | None) -> tuple[str, bytes]:
    if isinstance(component, bytes):
        return label or "<component bytes>", component
    path = Path(component)
    try:
        return label or str(path), path.read_bytes()
    except OSError as exc:
        raise HarnessError(f"cannot read {path}: {exc.strerror or exc}") from exc


def display_path(path: Path | str) -> str:
    """``path`` relative to the project root when it lies inside it (stable in evidence)."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _resolve_policy(policy: Policy | Path | str | None) -> Policy:
    return policy if isinstance(policy, Policy) else load_policy(policy)


def audit(
    component: ComponentInput,
    role: str,
    policy: Policy | Path | str | None = None,
    *,
    label: str | None = None,
) -> AuditReport:
    """Check a component's imports against ``role`` in ``policy`` (default policy if None).

    Reads only the binary's top-level import section: nothing is compiled or run. Nested
    components' imports are satisfied inside the component and never reach the host.
    ``label`` names the component in the report (default: its path).
    """
    checked = _resolve_policy(policy)
    rules = checked.role(role)
    label, data = _read_component(component, label)
    try:
        entries = wasm_binary.component_imports(data)
    except WasmFormatError as exc:
        raise HarnessError(f"{label} is not a readable component: {exc}") from exc
    seen: set[str] = set()
    items = []
    for entry in entries:
        risk = classify(entry.name)
        grant = rules.grant_for(entry.name)
        if entry.name in seen:
            # The component model forbids this; a binary that does it was hand-made.
            items.append(ImportAudit(entry.name, entry.sort, risk, False, "imported twice"))
            continue
        seen.add(entry.name)
        if grant is None:
            reason = f"not granted to role '{role}'; {risk.summary}, {risk.level} risk"
            items.append(ImportAudit(entry.name, entry.sort, risk, False, reason))
        else:
            items.append(
                ImportAudit(
                    entry.name, entry.sort, risk, True, f"granted by {grant.text}", grant.text
                )
            )
    # The policy is an allow-list, so a grant nobody uses is not an error; it is worth
    # showing because a missing seam usually means the wrong component was given.
    notes = tuple(
        f"granted but not imported: {grant.text}"
        for grant in rules.allow
        if not any(grant.matches(name) for name in seen)
    )
    return AuditReport(
        label,
        hashlib.sha256(data).hexdigest(),
        role,
        checked.source,
        checked.sha256,
        tuple(items),
        notes,
    )


def enforce(
    component: ComponentInput,
    role: str,
    policy: Policy | Path | str | None = None,
    *,
    label: str | None = None,
) -> AuditReport:
    """Refuse a component whose imports break ``role``'s policy; call before linking.

    Raises :class:`PolicyViolation` naming every offending import; returns the audit
    report when the component passes.
    """
    report = audit(component, role, policy, label=label)
    if not report.allowed:
        raise PolicyViolation(report)
    return report


def infer_role(component: ComponentInput, policy: Policy) -> str:
    """The role to audit a component under when the user names none (for the CLI).

    A component carrying the composer's manifest is ``composed``; otherwise the file's
    stem (``build/core.wasm`` -> ``core``) when the policy has such a role. Enforcement
    never guesses: callers of :func:`enforce` always name the role.
    """
    from harness.composer import MANIFEST_SECTION

    label, data = _read_component(component, None)
    try:
        composed = bool(wasm_binary.read_custom_sections(data, MANIFEST_SECTION))
    except WasmFormatError as exc:
        raise HarnessError(f"{label} is not a readable component: {exc}") from exc
    if composed and "composed" in policy.role_names:
        return "composed"
    if not isinstance(component, bytes) and Path(component).stem in policy.role_names:
        return Path(component).stem
    raise PolicyError(
        f"cannot tell which role {label} plays",
        hint=f"name one with --role ({', '.join(policy.role_names)})",
    )


# --------------------------------------------------------------------------- claim S2

#: Purpose-built components the S2 check must see refused: each imports the three seams
#: (so its only fault is the WASI import) plus the WASI interfaces named here.
PROBES: dict[str, tuple[str, ...]] = {
    "wasi-filesystem-probe": ("wasi:filesystem/types@0.2.0", "wasi:filesystem/preopens@0.2.0"),
    "wasi-sockets-probe": ("wasi:sockets/tcp@0.2.0",),
}
PROBE_SEAMS = (
    "matter:pase/transport@0.1.0",
    "matter:pase/clock@0.1.0",
    "matter:pase/entropy@0.1.0",
)


def probe_component(imports: tuple[str, ...]) -> bytes:
    """A minimal valid component importing each name in ``imports`` as an empty instance."""
    import wasmtime

    body = "\n".join(f'  (import "{name}" (instance))' for name in imports)
    return bytes(wasmtime.wat2wasm(f"(component\n{body}\n)"))


def verify_capability_policy(
    core_path: Path, policy_path: Path | str | None = None
) -> tuple[str, str, dict[str, Any]]:
    """Claim S2: the core's imports satisfy its policy, and the check can fail.

    Returns ``(verdict, message, figures)`` with verdict ``pass`` or ``fail``. Passing
    needs all of: the core role grants only seams; the core passes :func:`enforce`; and
    each probe component (the seams plus a WASI filesystem or socket import) is refused
    under the core role, with exactly its WASI imports named in the refusal.
    """
    policy = load_policy(policy_path)
    rules = policy.role(CORE_ROLE)
    problems: list[str] = []
    wide = [g.text for g in rules.allow if g.risk is not RiskClass.SEAM]
    if wide:
        problems.append(f"the core role grants more than seams: {', '.join(wide)}")
    started = time.perf_counter()
    report = audit(core_path, CORE_ROLE, policy)
    audit_ms = (time.perf_counter() - started) * 1000
    if not report.allowed:
        problems.append(str(PolicyViolation(report)))
    probes = []
    started = time.perf_counter()
    for name, wasi_imports in PROBES.items():
        outcome = _run_probe(name, wasi_imports, policy)
        probes.append(outcome)
        if not outcome["refused"]:
            problems.append(f"{name} (importing {', '.join(wasi_imports)}) was not refused")
        elif outcome["offending"] != list(wasi_imports) or not outcome["named"]:
            problems.append(
                f"{name} was refused naming {outcome['offending']}, "
                f"not exactly {list(wasi_imports)}"
            )
    probes_ms = (time.perf_counter() - started) * 1000
    figures: dict[str, Any] = {
        "policy": {"path": display_path(policy.source), "sha256": policy.sha256},
        "role": CORE_ROLE,
        "grants": [g.text for g in rules.allow],
        "core": {
            "sha256": report.sha256,
            "imports": [item.as_dict() for item in report.imports],
            "notes": list(report.notes),
            "verdict": report.verdict,
        },
        "probes": probes,
        "timings_ms": {"audit_core": round(audit_ms, 3), "probes": round(probes_ms, 3)},
    }
    if problems:
        return "fail", "; ".join(problems), figures
    imported = ", ".join(f"{i.name} ({i.risk})" for i in report.imports)
    refused = ", ".join(p["name"] for p in probes)
    return (
        "pass",
        f"the core's imports satisfy the core policy ({imported}); {refused} refused by name",
        figures,
    )


def _run_probe(name: str, wasi_imports: tuple[str, ...], policy: Policy) -> dict[str, Any]:
    imports = PROBE_SEAMS + wasi_imports
    outcome: dict[str, Any] = {"name": name, "imports": list(imports), "refused": False}
    try:
        enforce(probe_component(imports), CORE_ROLE, policy, label=name)
    except PolicyViolation as exc:
        outcome["refused"] = True
        outcome["offending"] = list(exc.offending)
        outcome["named"] = all(wasi in exc.message for wasi in wasi_imports)
        outcome["message"] = exc.message
    return outcome
