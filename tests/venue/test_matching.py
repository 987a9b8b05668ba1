"""Order acceptance, matching at resting prices, priority, IOC, market and post-only orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.matching import (
    ALICE,
    BOB,
    CAROL,
    FIRST_ID,
    SYMBOL,
    D,
    exec_types,
    fills,
    level_changes,
    limit,
    make_engine,
    market,
    prints,
    reports,
)
from truex_qf.domain.model import ExecType, Fee, OrdStatus, Side, TimeInForce
from truex_qf.sim import Level, TradePrinted
from truex_qf.sim.matching import TransactTimeText

# --------------------------------------------------------------------------- acceptance


def test_accepted_gtc_order_gets_pending_new_then_new() -> None:
    engine = make_engine()
    events = engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    pending, new = reports(events, ALICE)
    assert (pending.exec_type, pending.ord_status) == (ExecType.PENDING_NEW, OrdStatus.PENDING_NEW)
    assert (pending.leaves_qty, pending.cum_qty) == (D(0), D(0))
    assert (new.exec_type, new.ord_status) == (ExecType.NEW, OrdStatus.NEW)
    assert (new.leaves_qty, new.cum_qty, new.order_qty) == (D("0.001"), D(0), D("0.001"))
    assert new.price == D(100000) and new.side is Side.BUY and new.symbol == SYMBOL
    assert new.cl_ord_id == "B1" and new.time_in_force is TimeInForce.GTC


def test_acknowledge_gets_the_pending_new_before_matching_and_only_it() -> None:
    engine = make_engine()
    engine.submit(BOB, limit("S1", Side.SELL, "0.001", "100000"))
    early: list[list[object]] = []
    events = engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"), early.append)
    (acknowledged,) = early
    (pending,) = reports(acknowledged, ALICE)
    assert pending.exec_type is ExecType.PENDING_NEW and pending.cum_qty == D(0)
    later = reports(events, ALICE)
    assert [r.exec_type for r in later] == [ExecType.NEW, ExecType.TRADE]  # the rest, in order
    assert fills(events)  # matching still happened, after the acknowledgement


def test_pending_new_exec_id_equals_order_id_and_later_ids_increase() -> None:
    engine = make_engine()
    pending, new = reports(engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000")))
    assert pending.order_id == pending.exec_id == str(FIRST_ID)
    assert new.order_id == pending.order_id
    assert int(new.exec_id) > int(pending.exec_id)


def test_transact_time_comes_from_the_clock_with_microseconds() -> None:
    engine = make_engine()
    pending, _ = reports(engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000")))
    assert pending.transact_time == "20250910-18:32:27.341860"


def test_order_ids_differ_between_orders() -> None:
    engine = make_engine()
    first = reports(engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000")))[-1]
    second = reports(engine.submit(ALICE, limit("B2", Side.BUY, "0.001", "100000")))[-1]
    assert first.order_id != second.order_id


def test_exec_ids_are_unique_and_increasing_across_all_kinds_of_operation() -> None:
    engine = make_engine()
    events = []
    events += engine.submit(ALICE, limit("bad id with spaces", Side.BUY, "0.001", "100000"))
    events += engine.submit(ALICE, limit("S1", Side.SELL, "0.003", "100000"))
    events += engine.submit(BOB, limit("B1", Side.BUY, "0.001", "100000"))
    events += engine.submit(
        BOB, limit("B2", Side.BUY, "0.005", "100000", time_in_force=TimeInForce.IOC)
    )
    events += engine.submit(ALICE, limit("S2", Side.SELL, "0.002", "100500"))
    events += engine.cancel_all()
    exec_ids = [int(report.exec_id) for report in reports(events)]
    assert len(exec_ids) == 15
    assert exec_ids == sorted(set(exec_ids))


def test_default_first_id_comes_from_the_clock_so_restarts_do_not_reuse_exec_ids() -> None:
    engine = make_engine(first_id=None)
    pending, _ = reports(engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000")))
    assert pending.order_id == "1757529147341860"  # FIXED_TIME in microseconds since 1970


def test_orders_of_different_symbols_do_not_match() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "1", "2000", symbol="ETH-PYUSD"))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.001", "100000"))
    assert fills(events) == []
    assert engine.depth("ETH-PYUSD").offers == (Level(D(2000), D(1)),)


# --------------------------------------------------------------------------- matching


def test_crossing_orders_fill_at_the_resting_price() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.001", "101000"))
    (maker_fill,) = fills(events, ALICE)
    (taker_fill,) = fills(events, BOB)
    for fill in (maker_fill, taker_fill):
        assert fill.exec_type is ExecType.TRADE
        assert fill.ord_status is OrdStatus.FILLED
        assert (fill.last_px, fill.last_qty) == (D(100000), D("0.001"))
        assert (fill.cum_qty, fill.leaves_qty, fill.avg_px) == (D("0.001"), D(0), D(100000))
    assert taker_fill.price == D(101000)  # the order's own limit is echoed, not the fill price
    assert engine.depth(SYMBOL).bids == () and engine.depth(SYMBOL).offers == ()


def test_fill_reports_carry_liquidity_indicator_and_a_shared_trade_match_id() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.001", "100000"))
    (maker_fill,) = fills(events, ALICE)
    (taker_fill,) = fills(events, BOB)
    assert maker_fill.liquidity_indicator == "1"
    assert taker_fill.liquidity_indicator == "2"
    assert maker_fill.trade_match_id is not None
    assert maker_fill.trade_match_id == taker_fill.trade_match_id
    assert maker_fill.exec_id != taker_fill.exec_id


def test_each_match_gets_its_own_trade_match_id() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    engine.submit(CAROL, limit("S2", Side.SELL, "0.001", "100000"))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.002", "100000"))
    match_ids = [fill.trade_match_id for fill in fills(events, BOB)]
    assert len(match_ids) == 2 and len(set(match_ids)) == 2


def test_aggressor_larger_than_resting_fills_partially_and_rests_the_remainder() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.003", "100000"))
    assert exec_types(events, BOB) == ["A/A", "0/0", "F/1"]
    (taker_fill,) = fills(events, BOB)
    assert (taker_fill.cum_qty, taker_fill.leaves_qty) == (D("0.001"), D("0.002"))
    assert engine.depth(SYMBOL).bids == (Level(D(100000), D("0.002")),)
    assert engine.depth(SYMBOL).offers == ()


def test_aggressor_smaller_than_resting_leaves_the_resting_order_partially_filled() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.005", "100000"))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.002", "100000"))
    (maker_fill,) = fills(events, ALICE)
    assert maker_fill.ord_status is OrdStatus.PARTIALLY_FILLED
    assert (maker_fill.last_qty, maker_fill.cum_qty, maker_fill.leaves_qty) == (
        D("0.002"),
        D("0.002"),
        D("0.003"),
    )
    assert fills(events, BOB)[0].ord_status is OrdStatus.FILLED
    assert engine.depth(SYMBOL).offers == (Level(D(100000), D("0.003")),)
    (view,) = engine.working_orders(ALICE)
    assert (view.cum_qty, view.leaves_qty, view.ord_status) == (
        D("0.002"),
        D("0.003"),
        OrdStatus.PARTIALLY_FILLED,
    )


def test_a_sweep_fills_level_by_level_and_reports_the_average_price() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    engine.submit(ALICE, limit("S2", Side.SELL, "0.003", "100001"))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.004", "100002"))
    taker_fills = fills(events, BOB)
    assert [(f.last_px, f.last_qty) for f in taker_fills] == [
        (D(100000), D("0.001")),
        (D(100001), D("0.003")),
    ]
    assert taker_fills[-1].avg_px == D("100000.75")
    assert taker_fills[-1].ord_status is OrdStatus.FILLED


def test_a_buy_does_not_trade_above_its_limit() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    engine.submit(ALICE, limit("S2", Side.SELL, "0.001", "100001"))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.002", "100000"))
    assert [f.last_px for f in fills(events, BOB)] == [D(100000)]
    assert engine.depth(SYMBOL).bids == (Level(D(100000), D("0.001")),)
    assert engine.depth(SYMBOL).offers == (Level(D(100001), D("0.001")),)


def test_a_sell_does_not_trade_below_its_limit() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    events = engine.submit(BOB, limit("S1", Side.SELL, "0.001", "100000.5"))
    assert fills(events) == []
    assert engine.depth(SYMBOL).offers == (Level(D("100000.5"), D("0.001")),)


def test_same_price_earlier_order_fills_first() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    engine.submit(CAROL, limit("S2", Side.SELL, "0.001", "100000"))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.001", "100000"))
    assert [f.cl_ord_id for f in fills(events, ALICE)] == ["S1"]
    assert fills(events, CAROL) == []
    (view,) = engine.working_orders()
    assert (view.owner, view.cl_ord_id) == (CAROL, "S2")


def test_better_price_fills_first_even_when_it_arrived_later() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    engine.submit(CAROL, limit("B2", Side.BUY, "0.001", "100001"))
    events = engine.submit(BOB, limit("S1", Side.SELL, "0.001", "99000"))
    (maker_fill,) = fills(events, CAROL)
    assert maker_fill.last_px == D(100001)
    assert fills(events, ALICE) == []


def test_trades_records_both_counterparties_and_the_aggressor() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.001", "100000"))
    (trade,) = engine.trades()
    assert (trade.symbol, trade.price, trade.quantity) == (SYMBOL, D(100000), D("0.001"))
    assert (trade.buy_owner, trade.buy_cl_ord_id) == (BOB, "B1")
    assert (trade.sell_owner, trade.sell_cl_ord_id) == (ALICE, "S1")
    assert trade.aggressor_side is Side.BUY
    assert trade.trade_match_id == fills(events, BOB)[0].trade_match_id


def test_each_match_prints_a_trade() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    engine.submit(ALICE, limit("B2", Side.BUY, "0.002", "99999.5"))
    events = engine.submit(BOB, limit("S1", Side.SELL, "0.003", "99999.5"))
    assert prints(events) == [
        TradePrinted(SYMBOL, D(100000), D("0.001"), Side.SELL),
        TradePrinted(SYMBOL, D("99999.5"), D("0.002"), Side.SELL),
    ]


def test_events_are_in_the_order_they_happen() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.001", "100000"))
    kinds = [
        type(e).__name__ + (":" + e.message.exec_type.value if hasattr(e, "message") else "")
        for e in events
    ]
    assert kinds == [
        "ToClient:A",
        "ToClient:0",
        "ToClient:F",
        "ToClient:F",
        "TradePrinted",
        "LevelChanged",
    ]


# --------------------------------------------------------------------------- fees


def test_fees_are_charged_on_notional_in_bps_maker_and_taker() -> None:
    engine = make_engine(maker_fee_bps=D("-1"), taker_fee_bps=D("2.5"))
    engine.submit(ALICE, limit("S1", Side.SELL, "0.002", "100000"))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.002", "100000"))
    # notional 200: taker 2.5 bps = 0.05, maker rebate -1 bp = -0.02
    assert fills(events, BOB)[0].fees == (Fee(D("0.05"), "4"),)
    assert fills(events, ALICE)[0].fees == (Fee(D("-0.02"), "4"),)


def test_zero_fee_rates_send_no_fees_group() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.002", "100000"))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.002", "100000"))
    assert [f.fees for f in fills(events)] == [(), ()]


# --------------------------------------------------------------------------- IOC


def test_ioc_without_a_match_is_cancelled_with_the_observed_text() -> None:
    engine = make_engine()
    events = engine.submit(
        BOB, limit("B1", Side.BUY, "0.001", "100000", time_in_force=TimeInForce.IOC)
    )
    assert exec_types(events) == ["A/A", "0/0", "4/4"]
    cancel = reports(events)[-1]
    assert cancel.text == "Order parameter request"
    assert cancel.orig_cl_ord_id == cancel.cl_ord_id == "B1"
    assert (cancel.leaves_qty, cancel.cum_qty) == (D(0), D(0))
    assert engine.working_orders() == []
    assert level_changes(events) == []


def test_ioc_fills_what_it_can_and_cancels_the_remainder() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    events = engine.submit(
        BOB, limit("B1", Side.BUY, "0.003", "100000", time_in_force=TimeInForce.IOC)
    )
    assert exec_types(events, BOB) == ["A/A", "0/0", "F/1", "4/4"]
    cancel = reports(events, BOB)[-1]
    assert (cancel.cum_qty, cancel.leaves_qty) == (D("0.001"), D(0))
    assert cancel.text == "Order parameter request" and cancel.orig_cl_ord_id == "B1"
    assert engine.depth(SYMBOL).bids == ()


def test_ioc_that_fills_completely_is_not_cancelled() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.002", "100000"))
    events = engine.submit(
        BOB, limit("B1", Side.BUY, "0.002", "100000", time_in_force=TimeInForce.IOC)
    )
    assert exec_types(events, BOB) == ["A/A", "0/0", "F/2"]


# --------------------------------------------------------------------------- market


def test_market_order_sweeps_without_price_limit_and_cancels_the_rest() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    engine.submit(ALICE, limit("S2", Side.SELL, "0.001", "104000"))
    events = engine.submit(BOB, market("M1", Side.BUY, "0.003"))
    assert exec_types(events, BOB) == ["A/A", "0/0", "F/1", "F/1", "4/4"]
    assert [f.last_px for f in fills(events, BOB)] == [D(100000), D(104000)]
    cancel = reports(events, BOB)[-1]
    assert (cancel.cum_qty, cancel.text, cancel.orig_cl_ord_id) == (
        D("0.002"),
        "Order parameter request",
        "M1",
    )
    assert engine.depth(SYMBOL).offers == ()
    assert engine.working_orders() == []


def test_market_order_on_an_empty_book_is_cancelled_unfilled() -> None:
    engine = make_engine()
    events = engine.submit(BOB, market("M1", Side.SELL, "0.001"))
    assert exec_types(events) == ["A/A", "0/0", "4/4"]
    assert engine.trades() == []


def test_market_order_is_not_subject_to_the_price_band() -> None:
    engine = make_engine(price_band=D("0.01"))
    # No reference price yet (one-sided book, no trade): both bids are accepted.
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    engine.submit(ALICE, limit("B2", Side.BUY, "0.001", "90000"))
    events = engine.submit(BOB, market("M1", Side.SELL, "0.002"))
    # The second fill is 10 % from the last trade: far outside a 1 % band.
    assert [f.last_px for f in fills(events, BOB)] == [D(100000), D(90000)]
    assert exec_types(events, BOB) == ["A/A", "0/0", "F/1", "F/2"]


# --------------------------------------------------------------------------- post-only


def test_post_only_that_would_cross_is_cancelled_and_never_trades() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.001", "100000", post_only=True))
    assert exec_types(events, BOB) == ["A/A", "0/0", "4/4"]
    cancel = reports(events, BOB)[-1]
    assert cancel.text == "Add liquidity only order would cross the book"
    assert cancel.orig_cl_ord_id == "B1" and cancel.cum_qty == D(0)
    assert fills(events) == [] and engine.trades() == []
    assert engine.depth(SYMBOL).offers == (Level(D(100000), D("0.001")),)
    assert engine.depth(SYMBOL).bids == ()


def test_post_only_that_does_not_cross_rests() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.001", "99999.5", post_only=True))
    assert exec_types(events, BOB) == ["A/A", "0/0"]
    (view,) = engine.working_orders(BOB)
    assert view.post_only and view.price == D("99999.5")
    assert engine.depth(SYMBOL).bids == (Level(D("99999.5"), D("0.001")),)


def test_resting_post_only_order_trades_as_maker() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000", post_only=True))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.001", "100000"))
    (maker_fill,) = fills(events, ALICE)
    assert (maker_fill.liquidity_indicator, maker_fill.ord_status) == ("1", OrdStatus.FILLED)


def test_transact_time_text_matches_strftime_across_seconds_and_a_clock_stepping_back() -> None:
    text = TransactTimeText()
    start = datetime(2025, 12, 31, 23, 59, 58, 999_998, tzinfo=UTC)
    steps = [timedelta(microseconds=n) for n in (0, 1, 1, 999_999, 2, 1_000_000, -3_000_001, 5)]
    moment = start
    for step in steps:
        moment += step
        assert text(moment) == moment.strftime("%Y%m%d-%H:%M:%S.%f")
