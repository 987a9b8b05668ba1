"""LevelChanged aggregation after each kind of operation, depth and working_orders views."""

from __future__ import annotations

import pytest

from tests.support.matching import ALICE, BOB, CAROL, SYMBOL, D, level_changes, limit, make_engine
from truex_qf.domain.model import CancelOrder, OrdStatus, ReplaceOrder, Side, TimeInForce
from truex_qf.sim import Level, LevelChanged


def test_a_new_resting_order_creates_its_level() -> None:
    engine = make_engine()
    events = engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    assert level_changes(events) == [LevelChanged(SYMBOL, Side.BUY, D(100000), D("0.001"))]


def test_orders_at_one_price_aggregate_into_one_level() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    events = engine.submit(BOB, limit("B2", Side.BUY, "0.002", "100000"))
    assert level_changes(events) == [LevelChanged(SYMBOL, Side.BUY, D(100000), D("0.003"))]
    assert engine.depth(SYMBOL).bids == (Level(D(100000), D("0.003")),)


def test_a_partial_fill_shrinks_the_resting_level() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.003", "100000"))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.001", "100000"))
    assert level_changes(events) == [LevelChanged(SYMBOL, Side.SELL, D(100000), D("0.002"))]


def test_a_sweep_reports_each_emptied_level_once_and_the_resting_remainder() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    engine.submit(CAROL, limit("S2", Side.SELL, "0.001", "100000"))
    engine.submit(ALICE, limit("S3", Side.SELL, "0.001", "100000.5"))
    events = engine.submit(BOB, limit("B1", Side.BUY, "0.004", "100000.5"))
    assert level_changes(events) == [
        LevelChanged(SYMBOL, Side.SELL, D(100000), D(0)),
        LevelChanged(SYMBOL, Side.SELL, D("100000.5"), D(0)),
        LevelChanged(SYMBOL, Side.BUY, D("100000.5"), D("0.001")),
    ]


def test_cancel_shrinks_a_shared_level_without_removing_it() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    engine.submit(BOB, limit("B2", Side.BUY, "0.002", "100000"))
    events = engine.cancel(ALICE, CancelOrder("C1", "B1"))
    assert level_changes(events) == [LevelChanged(SYMBOL, Side.BUY, D(100000), D("0.002"))]


def test_replace_lowering_quantity_changes_the_level_size() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.003", "100000"))
    events = engine.replace(ALICE, ReplaceOrder("B2", "B1", D("0.001"), D(100000)))
    assert level_changes(events) == [LevelChanged(SYMBOL, Side.BUY, D(100000), D("0.001"))]


def test_replace_moving_price_removes_the_old_level_and_adds_the_new() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.003", "100000"))
    events = engine.replace(ALICE, ReplaceOrder("B2", "B1", D("0.003"), D("99999.5")))
    assert level_changes(events) == [
        LevelChanged(SYMBOL, Side.BUY, D(100000), D(0)),
        LevelChanged(SYMBOL, Side.BUY, D("99999.5"), D("0.003")),
    ]


def test_replace_without_any_change_emits_no_level_change() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.003", "100000"))
    events = engine.replace(ALICE, ReplaceOrder("B2", "B1", D("0.003"), D(100000)))
    assert level_changes(events) == []


def test_operations_that_leave_the_book_alone_emit_no_level_change() -> None:
    engine = make_engine()
    ioc = limit("B1", Side.BUY, "0.001", "100000", time_in_force=TimeInForce.IOC)
    assert level_changes(engine.submit(ALICE, ioc)) == []
    assert level_changes(engine.cancel(ALICE, CancelOrder("C1", "B1"))) == []


def test_level_changes_come_after_the_client_messages() -> None:
    engine = make_engine()
    events = engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    assert isinstance(events[-1], LevelChanged)


# --------------------------------------------------------------------------- depth / views


def test_depth_lists_levels_best_first_and_honours_max_levels() -> None:
    engine = make_engine()
    for index, price in enumerate(["99999", "100000", "99998.5"]):
        engine.submit(ALICE, limit(f"B{index}", Side.BUY, "0.001", price))
    for index, price in enumerate(["100002", "100001", "100003.5"]):
        engine.submit(BOB, limit(f"S{index}", Side.SELL, "0.002", price))
    depth = engine.depth(SYMBOL)
    assert [level.price for level in depth.bids] == [D(100000), D(99999), D("99998.5")]
    assert [level.price for level in depth.offers] == [D(100001), D(100002), D("100003.5")]
    top = engine.depth(SYMBOL, max_levels=1)
    assert (top.bids, top.offers) == (
        (Level(D(100000), D("0.001")),),
        (Level(D(100001), D("0.002")),),
    )
    assert depth.symbol == SYMBOL


def test_depth_of_an_unknown_symbol_raises() -> None:
    with pytest.raises(KeyError):
        make_engine().depth("DOGE-PYUSD")


def test_working_orders_filters_by_owner_in_acceptance_order() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "100000"))
    engine.submit(BOB, limit("B1", Side.BUY, "0.001", "99000"))
    engine.submit(ALICE, limit("S1", Side.SELL, "0.002", "101000"))
    assert [(v.owner, v.cl_ord_id) for v in engine.working_orders()] == [
        (ALICE, "B1"),
        (BOB, "B1"),
        (ALICE, "S1"),
    ]
    assert [v.cl_ord_id for v in engine.working_orders(ALICE)] == ["B1", "S1"]
    view = engine.working_orders(ALICE)[1]
    assert (view.side, view.price, view.order_qty, view.leaves_qty, view.ord_status) == (
        Side.SELL,
        D(101000),
        D("0.002"),
        D("0.002"),
        OrdStatus.NEW,
    )
    assert engine.working_orders(CAROL) == []
