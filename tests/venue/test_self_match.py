"""Self-match prevention with TrueX's meanings of tag 2964 (1 aggressive, 2 both, absent = 1)."""

from __future__ import annotations

import pytest

from tests.support.matching import (
    ALICE,
    BOB,
    SYMBOL,
    D,
    exec_types,
    fills,
    limit,
    make_engine,
    reports,
)
from truex_qf.domain.model import OrdStatus, SelfMatchPrevention, Side
from truex_qf.sim import Level


@pytest.mark.parametrize("instruction", [None, SelfMatchPrevention.CANCEL_AGGRESSIVE])
def test_cancel_aggressive_or_absent_cancels_the_incoming_order_only(
    instruction: SelfMatchPrevention | None,
) -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    events = engine.submit(ALICE, limit("B1", Side.BUY, "0.002", "100000", smp=instruction))
    assert exec_types(events) == ["A/A", "0/0", "4/4"]
    cancel = reports(events)[-1]
    assert (cancel.cl_ord_id, cancel.orig_cl_ord_id) == ("B1", "B1")
    assert cancel.text == "Self-match prevention"
    assert (cancel.leaves_qty, cancel.cum_qty) == (D(0), D(0))
    assert engine.trades() == []
    (resting,) = engine.working_orders(ALICE)
    assert (resting.cl_ord_id, resting.leaves_qty) == ("S1", D("0.001"))
    assert engine.depth(SYMBOL).bids == ()


def test_cancel_both_cancels_the_resting_and_the_incoming_order() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    events = engine.submit(
        ALICE, limit("B1", Side.BUY, "0.002", "100000", smp=SelfMatchPrevention.CANCEL_BOTH)
    )
    assert exec_types(events) == ["A/A", "0/0", "4/4", "4/4"]
    resting_cancel, incoming_cancel = reports(events)[2:]
    assert (resting_cancel.cl_ord_id, resting_cancel.orig_cl_ord_id) == ("S1", "S1")
    assert (incoming_cancel.cl_ord_id, incoming_cancel.orig_cl_ord_id) == ("B1", "B1")
    assert resting_cancel.text == incoming_cancel.text == "Self-match prevention"
    assert engine.working_orders() == []
    assert engine.depth(SYMBOL).offers == () and engine.depth(SYMBOL).bids == ()
    assert engine.trades() == []


def test_other_owners_ahead_in_priority_match_before_self_match_prevention() -> None:
    engine = make_engine()
    engine.submit(BOB, limit("S1", Side.SELL, "0.001", "100000"))
    engine.submit(ALICE, limit("S2", Side.SELL, "0.001", "100000"))
    engine.submit(BOB, limit("S3", Side.SELL, "0.001", "100000"))
    events = engine.submit(ALICE, limit("B1", Side.BUY, "0.003", "100000"))
    assert exec_types(events, ALICE) == ["A/A", "0/0", "F/1", "4/4"]
    (fill,) = fills(events, ALICE)
    assert fill.last_qty == D("0.001")
    assert reports(events, ALICE)[-1].cum_qty == D("0.001")
    # Alice's own resting order and Bob's order behind it are untouched.
    assert [v.cl_ord_id for v in engine.working_orders()] == ["S2", "S3"]
    assert engine.depth(SYMBOL).offers == (Level(D(100000), D("0.002")),)


def test_better_priced_other_owner_levels_trade_before_the_own_order_is_reached() -> None:
    engine = make_engine()
    engine.submit(BOB, limit("S1", Side.SELL, "0.001", "100000"))
    engine.submit(ALICE, limit("S2", Side.SELL, "0.001", "100001"))
    events = engine.submit(
        ALICE, limit("B1", Side.BUY, "0.002", "100001", smp=SelfMatchPrevention.CANCEL_BOTH)
    )
    assert exec_types(events, ALICE) == ["A/A", "0/0", "F/1", "4/4", "4/4"]
    assert reports(events, ALICE)[3].cl_ord_id == "S2"
    assert reports(events, ALICE)[4].ord_status is OrdStatus.CANCELED
    assert engine.depth(SYMBOL).offers == ()


def test_orders_of_different_owners_still_trade() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.001", "100000"))
    assert len(fills(events)) == 2
