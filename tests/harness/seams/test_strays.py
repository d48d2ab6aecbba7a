"""The off-path adversary: deterministic, every kind produced, never a message the
receiver would have to accept."""

from __future__ import annotations

import pytest
from matter_core.errors import CoreError
from matter_core.message import SecureChannelOpcode, UnsecuredMessage

from harness.seams.strays import KINDS, Delivered, StrayGenerator
from harness.wit import COMMISSIONEE, COMMISSIONER
from tests.harness.seams.handshake_capture import reference_handshake


@pytest.fixture(scope="module")
def reference() -> list[Delivered]:
    return reference_handshake(seed=7)


def test_same_seed_same_strays(reference: list[Delivered]) -> None:
    first = StrayGenerator(7, reference).batch(COMMISSIONEE, 200, reference[:1])
    second = StrayGenerator(7, reference).batch(COMMISSIONEE, 200, reference[:1])
    assert first == second


def test_another_seed_other_strays(reference: list[Delivered]) -> None:
    first = StrayGenerator(7, reference).batch(COMMISSIONEE, 50)
    second = StrayGenerator(8, reference).batch(COMMISSIONEE, 50)
    assert [s.data for s in first] != [s.data for s in second]


def test_every_kind_is_produced_for_both_roles(reference: list[Delivered]) -> None:
    for role in (COMMISSIONER, COMMISSIONEE):
        gen = StrayGenerator(3, reference)
        strays = gen.batch(role, 10 * len(KINDS), [d for d in reference if d.to == role])
        assert {s.kind for s in strays} == set(KINDS)
        assert all(s.to == role for s in strays)
        assert sum(gen.counts.values()) == len(strays)


def test_replays_come_only_from_what_was_delivered(reference: list[Delivered]) -> None:
    gen = StrayGenerator(5, reference)
    delivered = [d for d in reference if d.to == COMMISSIONEE][:1]
    strays = gen.batch(COMMISSIONEE, 20 * len(KINDS), delivered)
    replays = {s.data for s in strays if s.kind == "replay"}
    assert replays == {delivered[0].data}


def test_without_delivered_datagrams_there_are_no_replays(reference: list[Delivered]) -> None:
    strays = StrayGenerator(5, reference).batch(COMMISSIONER, 5 * len(KINDS))
    assert "replay" not in {s.kind for s in strays}


def _addressing(data: bytes) -> tuple[object, ...] | None:
    """What addresses a datagram to a session and exchange; None if it does not decode."""
    try:
        message = UnsecuredMessage.decode(data)
    except (CoreError, ValueError):
        return None
    header, proto = message.header, message.protocol
    return (
        header.session_id,
        header.session_type,
        header.source_node_id,
        header.destination_node_id,
        header.destination_group_id,
        proto.exchange_id,
        proto.vendor_id,
        proto.protocol_id,
        proto.initiator,
    )


@pytest.mark.parametrize("role", [COMMISSIONER, COMMISSIONEE])
def test_no_stray_is_addressed_like_the_real_traffic(reference: list[Delivered], role: str) -> None:
    """The adversary is off-path: apart from replays of handled datagrams, every stray is
    malformed or differs from the real traffic to that role in what addresses it."""
    real = {_addressing(d.data) for d in reference if d.to == role}
    delivered = [d for d in reference if d.to == role]
    strays = StrayGenerator(11, reference).batch(role, 40 * len(KINDS), delivered)
    for stray in strays:
        if stray.kind == "replay":
            assert stray.data in {d.data for d in delivered}
            continue
        address = _addressing(stray.data)
        assert address is None or address not in real, stray


def test_a_request_is_never_mutated_into_another_initiator(reference: list[Delivered]) -> None:
    strays = StrayGenerator(13, reference).batch(COMMISSIONEE, 60 * len(KINDS))
    for stray in strays:
        if stray.kind in {"exchange", "destination"}:
            opcode = UnsecuredMessage.decode(stray.data).protocol.opcode
            assert opcode != SecureChannelOpcode.PBKDF_PARAM_REQUEST
