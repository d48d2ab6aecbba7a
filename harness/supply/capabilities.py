"""Auditing a component's imports against the capability policy, from the binary.

:func:`audit` reads only the component's top-level import section (nothing is compiled
or run) and gives each import its risk class and the policy's verdict; :func:`enforce`
refuses a component whose role's policy does not grant every import. The policy model is
in :mod:`harness.supply.policy`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness import wasm_binary
from harness.component_file import read_component_file
from harness.errors import CheckFailed, HarnessError, WasmFormatError
from harness.supply.policy import Policy, PolicyError, RiskClass, classify, load_policy
from harness.wit import SEAMS


class PolicyViolation(CheckFailed):
    """A component imports something its role's policy does not grant.

    ``offending`` names every import refused (in import order); ``report`` is the full
    audit. The CLI exits 1 for it: the policy did its job, nothing was misused.
    """

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
    return label or str(path), read_component_file(path)


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
        if entry.name in SEAMS and entry.sort != "instance":
            # A seam imported as a function (say) would pass the allow-list by name and
            # then fail at link time: refuse it here, before anything is compiled.
            reason = f"the seam {entry.name} must be imported as an instance, not a {entry.sort}"
            items.append(ImportAudit(entry.name, entry.sort, risk, False, reason))
            continue
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
    label, data = _read_component(component, None)
    try:
        composed = bool(wasm_binary.read_custom_sections(data, wasm_binary.MANIFEST_SECTION))
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


def check_core_imports(component_path: Path) -> list[str]:
    """What is wrong with the verified core's import list; empty when nothing is.

    The core must import exactly the three host seams (transport, clock, entropy), each
    as an instance, and nothing else: any other import, WASI above all, would hand the
    core ambient authority the seams are meant to exclude. The import section is read
    from the binary, without compiling, so the check is cheap enough for every gate.
    """
    seams = SEAMS
    try:
        data = component_path.read_bytes()
    except OSError as exc:
        return [f"cannot read {component_path}: {exc.strerror}"]
    try:
        imports = wasm_binary.component_imports(data)
    except WasmFormatError as exc:
        return [f"{component_path} is not a readable component: {exc}"]
    problems = []
    seen: set[str] = set()
    for entry in imports:
        if entry.name in seen:
            problems.append(f"imports {entry.name} more than once")
            continue
        seen.add(entry.name)
        if entry.name not in seams:
            why = " (ambient WASI authority)" if entry.name.startswith("wasi:") else ""
            problems.append(
                f"imports {entry.name}{why}, which is not one of the host seams {', '.join(seams)}"
            )
        elif entry.sort != "instance":
            problems.append(f"imports {entry.name} as a {entry.sort}, not as an instance")
    problems.extend(f"does not import the seam {name}" for name in seams if name not in seen)
    return problems
