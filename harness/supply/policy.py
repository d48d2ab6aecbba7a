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
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from harness.errors import HarnessError
from harness.project import DEFAULT_POLICY_PATH, load_toml
from harness.wit import PACKAGE

CORE_ROLE = "core"

RiskLevel = Literal["low", "medium", "high"]


class PolicyError(HarnessError):
    """A policy file that cannot be read or is malformed, or a role it does not define."""


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

SEAM_PACKAGE = tuple(PACKAGE.split(":"))


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
    data, raw = load_toml(path, what="policy file", error=PolicyError)
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
