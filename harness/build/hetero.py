"""Heterogeneous PASE graphs: a different core component in each role, one loopback.

The shape is the project's PASE graph (``components/graphs/pase-loopback.toml``): the
commissioner's transport import is wired to the loopback's endpoint A, the
commissionee's to endpoint B, and both roles' session control, the loopback's counters
and its link faults are surfaced under the names the composed run looks for. Only the
component files differ: each role's instance is of its own node, so two implementations
of the ``core`` world meet inside one composed component.

:func:`pase_graph_text` writes such a graph as TOML (absolute paths, so the file can
live anywhere); :func:`write_pase_graph` puts it in a directory for
:func:`~harness.build.compositions.compose_cached`.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.project import atomic_write
from harness.wit import (
    COMMISSIONEE,
    COMMISSIONEE_EXPORT,
    COMMISSIONER,
    COMMISSIONER_EXPORT,
    ENDPOINT_B,
    LINK_FAULTS,
    LOOPBACK_STATS,
    SESSION_CONTROL,
    TRANSPORT,
    TRANSPORT_FAULTS_EXPORT,
    TRANSPORT_STATS_EXPORT,
)

#: The loopback's node name in a heterogeneous graph.
LOOPBACK_NODE = "loopback"


def _toml_string(text: str) -> str:
    # A JSON string is a valid TOML basic string (the same escapes, \uXXXX included).
    return json.dumps(text, ensure_ascii=True)


def pase_graph_text(
    commissioner: tuple[str, Path],
    commissionee: tuple[str, Path],
    loopback: Path,
    *,
    description: str,
) -> str:
    """The TOML of a PASE graph whose roles are the nodes ``(name, component file)``.

    Two roles with the same node name share one node (the homogeneous graph); otherwise
    each role's instance is of its own node, even when both files hold the same bytes.
    """
    nodes: dict[str, Path] = {}
    for name, path in (commissioner, commissionee):
        if name == LOOPBACK_NODE:
            raise ValueError(f"the node name {LOOPBACK_NODE!r} is the loopback's")
        if nodes.setdefault(name, path) != path:
            raise ValueError(f"node {name!r} is given two files: {nodes[name]} and {path}")
    nodes[LOOPBACK_NODE] = loopback
    lines = [
        f"description = {_toml_string(description)}",
        f"require_wired = [{_toml_string(TRANSPORT)}]",
    ]
    for name, path in nodes.items():
        lines += ["", f"[nodes.{name}]", f"path = {_toml_string(path.resolve().as_posix())}"]
    instances = ((COMMISSIONER, commissioner[0]), (COMMISSIONEE, commissionee[0]))
    for instance, node in (*instances, ("wire", LOOPBACK_NODE)):
        lines += ["", f"[instances.{instance}]", f"node = {_toml_string(node)}"]
    for instance, export in ((COMMISSIONER, TRANSPORT), (COMMISSIONEE, ENDPOINT_B)):
        lines += [
            "",
            "[[wiring]]",
            f"instance = {_toml_string(instance)}",
            f"import = {_toml_string(TRANSPORT)}",
            'from = "wire"',
            f"export = {_toml_string(export)}",
        ]
    surfaced = (
        (COMMISSIONER, SESSION_CONTROL, COMMISSIONER_EXPORT),
        (COMMISSIONEE, SESSION_CONTROL, COMMISSIONEE_EXPORT),
        ("wire", LOOPBACK_STATS, TRANSPORT_STATS_EXPORT),
        ("wire", LINK_FAULTS, TRANSPORT_FAULTS_EXPORT),
    )
    for instance, export, name in surfaced:
        lines += [
            "",
            "[[exports]]",
            f"instance = {_toml_string(instance)}",
            f"export = {_toml_string(export)}",
            f"as = {_toml_string(name)}",
        ]
    return "\n".join(lines) + "\n"


def write_pase_graph(
    directory: Path,
    stem: str,
    commissioner: tuple[str, Path],
    commissionee: tuple[str, Path],
    loopback: Path,
    *,
    description: str,
) -> Path:
    """Write :func:`pase_graph_text` to ``directory/<stem>.toml`` (only if it changed)."""
    path = directory / f"{stem}.toml"
    text = pase_graph_text(commissioner, commissionee, loopback, description=description)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text.encode("utf-8"), mode=0o644)
    return path
