"""Cancel (35=F), cancel/replace (35=G) and cancel_all."""

from __future__ import annotations

from tests.support.matching import (
    ALICE,
    BOB,
    CAROL,
    SYMBOL,
    D,
    cancel_rejects,
    exec_types,
    fills,
    level_changes,
    limit,
    make_engine,
    reports,
)
from truex_qf.domain.model import (
    CancelOrder,
    CxlRejReason,
    CxlRejResponseTo,
    ExecType,
    OrdStatus,
    OrdType,
    ReplaceOrder,
    Side,
    TimeInForce,
)
from truex_qf.sim import Level, LevelChanged

# --------------------------------------------------------------------------- cancel


def test_cancel_ack_names_the_cancel_and_the_original_cl_ord_id() -> None:
    engine = make_engine()
    new = reports(engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000")))[-1]
    events = engine.cancel(ALICE, CancelOrder("C1", "B1"))
    (ack,) = reports(events)
    assert (ack.exec_type, ack.ord_status) == (ExecType.CANCELED, OrdStatus.CANCELED)
    assert (ack.cl_ord_id, ack.orig_cl_ord_id, ack.order_id) == ("C1", "B1", new.order_id)
    assert (ack.leaves_qty, ack.cum_qty, ack.order_qty) == (D(0), D(0), D("0.001"))
    assert engine.working_orders() == []
    assert level_changes(events) == [LevelChanged(SYMBOL, Side.BUY, D(100000), D(0))]


def test_cancel_of_a_partially_filled_order_reports_its_cum_qty() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.003", "100000"))
    engine.submit(BOB, limit("B1", Side.BUY, "0.001", "100000"))
    (ack,) = reports(engine.cancel(ALICE, CancelOrder("C1", "S1")))
    assert (ack.ord_status, ack.cum_qty, ack.leaves_qty) == (OrdStatus.CANCELED, D("0.001"), D(0))


def test_cancel_of_an_unknown_order_is_rejected_with_reason_1() -> None:
    engine = make_engine()
    events = engine.cancel(ALICE, CancelOrder("C1", "NOPE"))
    (reject,) = cancel_rejects(events)
    assert reject.response_to is CxlRejResponseTo.CANCEL
    assert reject.reason == CxlRejReason.UNKNOWN_ORDER.value == "1"
    assert (reject.order_id, reject.cl_ord_id, reject.orig_cl_ord_id) == ("NONE", "C1", "NOPE")
    assert reject.ord_status is None
    assert reject.text == "Unknown order"
    assert len(events) == 1


def test_cancel_of_a_filled_order_is_too_late() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    maker_fill = fills(engine.submit(BOB, limit("B1", Side.BUY, "0.001", "100000")), ALICE)[0]
    (reject,) = cancel_rejects(engine.cancel(ALICE, CancelOrder("C1", "S1")))
    assert reject.reason == CxlRejReason.TOO_LATE.value == "0"
    assert reject.ord_status is OrdStatus.FILLED
    assert reject.order_id == maker_fill.order_id
    assert reject.text == "Order already filled"


def test_second_cancel_is_too_late_with_status_canceled() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    engine.cancel(ALICE, CancelOrder("C1", "B1"))
    (reject,) = cancel_rejects(engine.cancel(ALICE, CancelOrder("C2", "B1")))
    assert (reject.reason, reject.ord_status) == ("0", OrdStatus.CANCELED)
    assert reject.text == "Order already canceled"


def test_cancel_naming_a_previous_cancel_is_too_late() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    engine.cancel(ALICE, CancelOrder("C1", "B1"))
    (reject,) = cancel_rejects(engine.cancel(ALICE, CancelOrder("C2", "C1")))
    assert reject.reason == "0"


def test_an_owner_cannot_cancel_another_owners_order() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    events = engine.cancel(BOB, CancelOrder("C1", "B1"))
    (reject,) = cancel_rejects(events)
    assert (reject.reason, reject.order_id, reject.ord_status) == ("1", "NONE", None)
    assert [ev.owner for ev in events] == [BOB]  # nothing goes to the order's owner
    assert len(engine.working_orders(ALICE)) == 1
    assert engine.depth(SYMBOL).bids == (Level(D(100000), D("0.001")),)


def test_cancel_with_an_invalid_cl_ord_id_is_rejected_and_the_order_stays() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    (reject,) = cancel_rejects(engine.cancel(ALICE, CancelOrder("C 1", "B1")))
    assert (reject.reason, reject.text) == (CxlRejReason.OTHER.value, "Invalid ClOrdID")
    assert reject.ord_status is OrdStatus.NEW
    assert len(engine.working_orders()) == 1


def test_cancel_reusing_a_working_cl_ord_id_is_a_duplicate() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    (reject,) = cancel_rejects(engine.cancel(ALICE, CancelOrder("B1", "B1")))
    assert reject.reason == CxlRejReason.DUPLICATE_CL_ORD_ID.value
    assert len(engine.working_orders()) == 1


# --------------------------------------------------------------------------- replace


def test_replace_reports_pending_replace_then_replaced() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.002", "100000"))
    events = engine.replace(ALICE, ReplaceOrder("B2", "B1", D("0.003"), D("99999.5")))
    assert exec_types(events) == ["E/E", "5/0"]
    pending, replaced = reports(events)
    for report in (pending, replaced):
        assert (report.cl_ord_id, report.orig_cl_ord_id) == ("B2", "B1")
    assert (pending.order_qty, pending.price, pending.leaves_qty) == (
        D("0.002"),
        D(100000),
        D("0.002"),
    )
    assert (replaced.order_qty, replaced.price, replaced.leaves_qty) == (
        D("0.003"),
        D("99999.5"),
        D("0.003"),
    )
    (view,) = engine.working_orders()
    assert (view.cl_ord_id, view.price, view.order_qty) == ("B2", D("99999.5"), D("0.003"))


def test_replace_of_a_partially_filled_order_reports_partially_filled() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.003", "100000"))
    engine.submit(BOB, limit("B1", Side.BUY, "0.001", "100000"))
    events = engine.replace(ALICE, ReplaceOrder("S2", "S1", D("0.002"), D(100000)))
    assert exec_types(events) == ["E/E", "5/1"]
    replaced = reports(events)[-1]
    assert (replaced.cum_qty, replaced.leaves_qty, replaced.order_qty) == (
        D("0.001"),
        D("0.001"),
        D("0.002"),
    )
    assert engine.depth(SYMBOL).offers == (Level(D(100000), D("0.001")),)


def _queue_of_three(engine) -> None:
    engine.submit(ALICE, limit("S1", Side.SELL, "0.003", "100000"))
    engine.submit(CAROL, limit("S2", Side.SELL, "0.003", "100000"))


def test_replace_lowering_quantity_at_the_same_price_keeps_time_priority() -> None:
    engine = make_engine()
    _queue_of_three(engine)
    engine.replace(ALICE, ReplaceOrder("S1b", "S1", D("0.002"), D(100000)))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.001", "100000"))
    (maker_fill,) = fills(events, ALICE)
    assert maker_fill.cl_ord_id == "S1b"
    assert fills(events, CAROL) == []


def test_replace_increasing_quantity_loses_time_priority() -> None:
    engine = make_engine()
    _queue_of_three(engine)
    engine.replace(ALICE, ReplaceOrder("S1b", "S1", D("0.004"), D(100000)))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.001", "100000"))
    assert fills(events, ALICE) == []
    assert fills(events, CAROL)[0].cl_ord_id == "S2"
    assert engine.depth(SYMBOL).offers == (Level(D(100000), D("0.006")),)


def test_replace_changing_price_loses_time_priority() -> None:
    engine = make_engine()
    _queue_of_three(engine)
    engine.replace(ALICE, ReplaceOrder("S1b", "S1", D("0.003"), D("100000.5")))
    engine.replace(ALICE, ReplaceOrder("S1c", "S1b", D("0.003"), D(100000)))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.001", "100000"))
    assert fills(events, ALICE) == []
    assert fills(events, CAROL)[0].cl_ord_id == "S2"


def test_replace_to_a_crossing_price_trades_as_aggressor_at_the_resting_price() -> None:
    engine = make_engine()
    engine.submit(BOB, limit("S1", Side.SELL, "0.001", "100000"))
    engine.submit(ALICE, limit("B1", Side.BUY, "0.002", "99000"))
    events = engine.replace(ALICE, ReplaceOrder("B2", "B1", D("0.002"), D(100500)))
    assert exec_types(events, ALICE) == ["E/E", "5/0", "F/1"]
    (taker_fill,) = fills(events, ALICE)
    assert (taker_fill.last_px, taker_fill.last_qty) == (D(100000), D("0.001"))
    assert (taker_fill.liquidity_indicator, taker_fill.cl_ord_id) == ("2", "B2")
    assert fills(events, BOB)[0].liquidity_indicator == "1"
    assert engine.depth(SYMBOL).bids == (Level(D(100500), D("0.001")),)
    assert engine.depth(SYMBOL).offers == ()
    assert set(level_changes(events)) == {
        LevelChanged(SYMBOL, Side.BUY, D(99000), D(0)),
        LevelChanged(SYMBOL, Side.SELL, D(100000), D(0)),
        LevelChanged(SYMBOL, Side.BUY, D(100500), D("0.001")),
    }


def test_replace_to_a_crossing_price_against_own_order_is_cancelled_by_smp() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "99000"))
    events = engine.replace(ALICE, ReplaceOrder("B2", "B1", D("0.001"), D(100000)))
    assert exec_types(events) == ["E/E", "5/0", "4/4"]
    assert reports(events)[-1].text == "Self-match prevention"
    assert [v.cl_ord_id for v in engine.working_orders()] == ["S1"]


def test_replace_to_quantity_not_above_cum_qty_is_rejected_and_the_order_stays() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.003", "100000"))
    engine.submit(BOB, limit("B1", Side.BUY, "0.002", "100000"))
    events = engine.replace(ALICE, ReplaceOrder("S2", "S1", D("0.002"), D(100000)))
    (reject,) = cancel_rejects(events)
    assert reject.response_to is CxlRejResponseTo.REPLACE
    assert (reject.reason, reject.ord_status) == ("99", OrdStatus.PARTIALLY_FILLED)
    assert reject.text == "Replace quantity not above filled quantity"
    (view,) = engine.working_orders()
    assert (view.cl_ord_id, view.order_qty, view.leaves_qty) == ("S1", D("0.003"), D("0.001"))


def test_replace_to_an_off_grid_price_is_rejected_with_reason_18() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    (reject,) = cancel_rejects(
        engine.replace(ALICE, ReplaceOrder("B2", "B1", D("0.001"), D("100000.2")))
    )
    assert (reject.reason, reject.text) == ("18", "Invalid price increment")
    assert engine.working_orders()[0].price == D(100000)


def test_replace_to_an_off_grid_quantity_is_rejected_with_reason_99() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    (reject,) = cancel_rejects(
        engine.replace(ALICE, ReplaceOrder("B2", "B1", D("0.000001"), D(100000)))
    )
    assert (reject.reason, reject.text) == ("99", "Invalid quantity increment")


def test_replace_of_an_unknown_order_is_rejected_with_reason_1() -> None:
    engine = make_engine()
    (reject,) = cancel_rejects(
        engine.replace(ALICE, ReplaceOrder("B2", "B1", D("0.001"), D(100000)))
    )
    assert (reject.response_to, reject.reason, reject.order_id) == (
        CxlRejResponseTo.REPLACE,
        "1",
        "NONE",
    )


def test_replace_of_a_filled_order_is_too_late() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    engine.submit(BOB, limit("B1", Side.BUY, "0.001", "100000"))
    (reject,) = cancel_rejects(
        engine.replace(ALICE, ReplaceOrder("S2", "S1", D("0.002"), D(100000)))
    )
    assert (reject.reason, reject.ord_status) == ("0", OrdStatus.FILLED)


def test_replace_of_another_owners_order_is_unknown() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    (reject,) = cancel_rejects(engine.replace(BOB, ReplaceOrder("B2", "B1", D("0.005"), D(100000))))
    assert reject.reason == "1"
    assert engine.working_orders()[0].order_qty == D("0.001")


def test_replace_outside_the_band_is_rejected() -> None:
    engine = make_engine()
    engine.set_reference_price(SYMBOL, D(100000))
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    (reject,) = cancel_rejects(
        engine.replace(ALICE, ReplaceOrder("B2", "B1", D("0.001"), D(90000)))
    )
    assert (reject.reason, reject.text) == ("99", "Order outside book price bands")


def test_replace_making_a_post_only_order_cross_is_rejected() -> None:
    engine = make_engine()
    engine.submit(BOB, limit("S1", Side.SELL, "0.001", "100000"))
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "99999.5", post_only=True))
    (reject,) = cancel_rejects(
        engine.replace(ALICE, ReplaceOrder("B2", "B1", D("0.001"), D(100000)))
    )
    assert reject.text == "Add liquidity only order would cross the book"
    assert engine.trades() == []
    assert engine.working_orders(ALICE)[0].price == D("99999.5")


def test_replace_to_a_market_order_is_rejected() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    request = ReplaceOrder("B2", "B1", D("0.001"), D(100000), ord_type=OrdType.MARKET)
    (reject,) = cancel_rejects(engine.replace(ALICE, request))
    assert (reject.reason, reject.text) == ("99", "Replace must be a limit order")


def test_replace_reusing_the_orders_own_cl_ord_id_is_a_duplicate() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    (reject,) = cancel_rejects(
        engine.replace(ALICE, ReplaceOrder("B1", "B1", D("0.002"), D(100000)))
    )
    assert reject.reason == "6"


def test_the_replaced_order_is_cancelled_by_its_new_cl_ord_id() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    engine.replace(ALICE, ReplaceOrder("B2", "B1", D("0.002"), D(100000)))
    (ack,) = reports(engine.cancel(ALICE, CancelOrder("C1", "B2")))
    assert (ack.ord_status, ack.orig_cl_ord_id, ack.order_qty) == (
        OrdStatus.CANCELED,
        "B2",
        D("0.002"),
    )


# --------------------------------------------------------------------------- cancel_all


def test_cancel_all_for_one_owner_leaves_the_others() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "101000"))
    engine.submit(BOB, limit("B1", Side.BUY, "0.002", "100000"))
    events = engine.cancel_all(ALICE)
    assert exec_types(events) == ["4/4", "4/4"]
    assert [(r.cl_ord_id, r.orig_cl_ord_id, r.text) for r in reports(events)] == [
        ("B1", "B1", "Mass cancel"),
        ("S1", "S1", "Mass cancel"),
    ]
    assert {ev.owner for ev in events if hasattr(ev, "owner")} == {ALICE}
    assert [v.owner for v in engine.working_orders()] == [BOB]
    assert engine.depth(SYMBOL).bids == (Level(D(100000), D("0.002")),)
    assert engine.depth(SYMBOL).offers == ()
    assert level_changes(events) == [
        LevelChanged(SYMBOL, Side.BUY, D(100000), D("0.002")),
        LevelChanged(SYMBOL, Side.SELL, D(101000), D(0)),
    ]


def test_cancel_all_without_owner_cancels_everything() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    engine.submit(BOB, limit("S1", Side.SELL, "1", "2000", symbol="ETH-PYUSD"))
    events = engine.cancel_all()
    assert [ev.owner for ev in events if hasattr(ev, "owner")] == [ALICE, BOB]
    assert engine.working_orders() == []
    assert engine.depth(SYMBOL).bids == () and engine.depth("ETH-PYUSD").offers == ()


def test_cancel_all_of_an_owner_without_orders_does_nothing() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000", time_in_force=TimeInForce.GTC))
    assert engine.cancel_all(BOB) == []
    assert len(engine.working_orders()) == 1
