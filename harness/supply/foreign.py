"""Components from outside the project: what their signatures say, and whether to run them.

A graph handed to the gate (``matter-harness gate --graph``, ``--component``) may name
component files the project did not build. Nothing the harness built signs them, so the
usual check (a signature by the gate's run key, see :mod:`harness.supply.chain`) cannot
hold. :func:`admit_foreign` reads such a file once and classifies it against the trust
store under the strict rule:

* ``trusted``: a complete, valid signature by a key in the trust store;
* ``untrusted``: signed, but by no key in the store;
* ``unsigned``: no signature at all.

A component whose signature by a trusted key no longer matches its bytes (it changed
after it was signed) is always refused. Otherwise the component is accepted, with its
status recorded for the evidence, unless ``require_signed`` is set: then anything but
``trusted`` is refused. An accepted component is endorsed for the rest of the run
(:meth:`SupplyChain.endorse_admitted`), so the bytes that were classified are the bytes
every later load verifies.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from harness.supply.chain import ComponentRejected, SupplyChain, read_component
from harness.supply.settings import TrustMode
from harness.supply.signature_format import MalformedComponent, SignatureError
from harness.supply.signing import NoSignature, TamperedComponent
from harness.supply.trust import check_component

SignatureStatus = Literal["trusted", "untrusted", "unsigned"]


@dataclass(frozen=True)
class Admission:
    """What the signature check of a foreign component found, as recorded for evidence."""

    path: str
    sha256: str
    status: SignatureStatus
    signer: str | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record."""
        return asdict(self)


def admit_foreign(chain: SupplyChain, path: Path, *, require_signed: bool = False) -> Admission:
    """Classify the component at ``path`` against ``chain``'s trust store and accept it.

    A file that cannot be read or is not a component raises the component loader's
    ``UnreadableComponent`` / ``NotAComponent`` (usage errors); :class:`ComponentRejected`
    is raised for one changed after a trusted key signed it and, with ``require_signed``,
    for one no trusted key signs.
    """
    data = read_component(path)
    digest = hashlib.sha256(data).hexdigest()
    signer: str | None = None
    status: SignatureStatus
    try:
        verdict = check_component(data, TrustMode.STRICT, chain.store.entries())
        status, signer, detail = "trusted", verdict.signer_name, verdict.detail
    except NoSignature as exc:
        status, detail = "unsigned", exc.message
    except TamperedComponent as exc:
        raise ComponentRejected(
            f"refusing {path}: {exc.message}", path=str(path), cause=exc
        ) from exc
    except MalformedComponent as exc:
        raise ComponentRejected(
            f"refusing {path}: {exc.message}", path=str(path), cause=exc
        ) from exc
    except SignatureError as exc:
        status, detail = "untrusted", exc.message
    except ValueError as exc:
        raise ComponentRejected(
            f"refusing {path}: it is not a component whose signature can be read: {exc}",
            path=str(path),
            cause=exc,
        ) from exc
    if status != "trusted" and require_signed:
        refused = ComponentRejected(
            f"refusing {path} ({status}: {detail}): a component from outside the project "
            f"must be signed by a key in the trust store {chain.store.path} when signatures "
            "are required",
            path=str(path),
        )
        refused.hint = (
            "add its signer's public key with `matter-harness trust add`, or drop "
            "--require-signed to run it recorded as unsigned"
        )
        raise refused
    chain.endorse_admitted(path, data)
    return Admission(str(path), digest, status, signer, detail)
