"""Pre-validation rejects (OrderID NONE, no PendingNew) and the price band (after PendingNew)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.matching import (
    ALICE,
    BOB,
    SYMBOL,
    D,
    exec_types,
    limit,
    make_engine,
    market,
    reports,
)
from truex_qf.domain.model import (
    CancelOrder,
    CxlRejReason,
    ExecType,
    NewOrder,
    OrdStatus,
    OrdType,
    Side,
    TimeInForce,
)
from truex_qf.sim import ToClient

GOOD = limit("B1", Side.BUY, "0.001", "100000")


def assert_pre_validation_reject(events: list, text: str) -> None:
    """Exactly one report: 150=8/39=8, OrderID NONE, the given text, nothing else."""
    assert len(events) == 1
    (event,) = events
    assert isinstance(event, ToClient)
    report = event.message
    assert (report.exec_type, report.ord_status) == (ExecType.REJECTED, OrdStatus.REJECTED)
    assert report.order_id == "NONE"
    assert report.text == text
    assert (report.leaves_qty, report.cum_qty) == (D(0), D(0))
    assert report.exec_id.isdigit()


@pytest.mark.parametrize(
    ("order", "text"),
    [
        (GOOD._replace(cl_ord_id="ORDER-1234567890123"), "Invalid ClOrdID"),  # 19 chars
        (GOOD._replace(cl_ord_id="B 1"), "Invalid ClOrdID"),
        (GOOD._replace(cl_ord_id=""), "Invalid ClOrdID"),
        (GOOD._replace(symbol="BTC-USD"), "Unknown symbol"),
        (GOOD._replace(side="3"), "Invalid side"),
        (GOOD._replace(ord_type="3"), "Invalid order type"),
        (GOOD._replace(time_in_force="6"), "Invalid time in force"),
        (GOOD._replace(price=None), "Price required for limit order"),
        (GOOD._replace(price=D("100000.3")), "Invalid price increment"),
        (GOOD._replace(price=D(0)), "Invalid price increment"),
        (GOOD._replace(price=D("NaN")), "Invalid price increment"),
        (GOOD._replace(quantity=D("0.000001")), "Invalid quantity increment"),
        (GOOD._replace(quantity=D(0)), "Invalid quantity increment"),
        (GOOD._replace(quantity=D(-1)), "Invalid quantity increment"),
        (GOOD._replace(quantity=D("Infinity")), "Invalid quantity increment"),
        (GOOD._replace(price=D(1000), quantity=D("0.0001")), "Invalid quantity increment"),
        (GOOD._replace(price=D(50), quantity=D("0.01")), "Order below minimum notional"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_pre_validation_reject(order: NewOrder, text: str) -> None:
    engine = make_engine()
    events = engine.submit(ALICE, order)
    assert_pre_validation_reject(events, text)
    assert reports(events)[0].cl_ord_id == order.cl_ord_id
    assert engine.working_orders() == []


def test_cl_ord_id_is_checked_before_anything_else() -> None:
    engine = make_engine()
    # Like the observed capture: a 22-character ClOrdID on an unknown symbol, no client.
    order = GOOD._replace(cl_ord_id="TEST_BUY_1757526335158", symbol="BTC-USD", price=None)
    assert_pre_validation_reject(engine.submit("", order), "Invalid ClOrdID")


def test_missing_client_id_is_rejected_as_invalid_client() -> None:
    engine = make_engine()
    assert_pre_validation_reject(engine.submit("", GOOD), "Invalid client")


def test_uuid_v4_cl_ord_id_is_accepted() -> None:
    engine = make_engine()
    order = GOOD._replace(cl_ord_id="3f2b8c4e-1d2a-4b6c-9e8f-0a1b2c3d4e5f")
    assert exec_types(engine.submit(ALICE, order)) == ["A/A", "0/0"]


def test_duplicate_cl_ord_id_of_a_working_order_is_rejected() -> None:
    engine = make_engine()
    engine.submit(ALICE, GOOD)
    events = engine.submit(ALICE, GOOD._replace(price=D(99000)))
    assert_pre_validation_reject(events, "Duplicate ClOrdID")
    (view,) = engine.working_orders()
    assert view.price == D(100000)


def test_same_cl_ord_id_of_another_owner_is_not_a_duplicate() -> None:
    engine = make_engine()
    engine.submit(ALICE, GOOD)
    assert exec_types(engine.submit(BOB, GOOD)) == ["A/A", "0/0"]


def test_cl_ord_id_of_a_done_order_may_be_reused() -> None:
    engine = make_engine()
    engine.submit(ALICE, GOOD._replace(time_in_force=TimeInForce.IOC))
    assert exec_types(engine.submit(ALICE, GOOD)) == ["A/A", "0/0"]


def test_raw_fix_codes_are_accepted_for_enums() -> None:
    engine = make_engine()
    order = GOOD._replace(side="2", ord_type="2", time_in_force="1", self_match_prevention="1")
    new = reports(engine.submit(ALICE, order))[-1]
    assert new.side is Side.SELL and new.time_in_force is TimeInForce.GTC


def test_missing_time_in_force_means_gtc() -> None:
    engine = make_engine()
    new = reports(engine.submit(ALICE, GOOD._replace(time_in_force=None)))[-1]
    assert new.time_in_force is TimeInForce.GTC
    assert len(engine.working_orders()) == 1


def test_unknown_self_match_instruction_is_treated_as_absent() -> None:
    engine = make_engine()
    engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "100000"))
    order = GOOD._replace(self_match_prevention="0")
    events = engine.submit(ALICE, order)
    assert exec_types(events) == ["A/A", "0/0", "4/4"]
    assert reports(events)[-1].text == "Self-match prevention"
    assert engine.working_orders()[0].cl_ord_id == "S1"


def test_market_order_quantity_is_checked_on_the_grid_of_the_best_opposite_price() -> None:
    engine = make_engine()
    engine.submit(BOB, limit("S1", Side.SELL, "1", "5000"))  # bucket 1000-9999.99: lot 0.001
    events = engine.submit(ALICE, market("M1", Side.BUY, "0.0001"))
    assert_pre_validation_reject(events, "Invalid quantity increment")


def test_market_order_below_min_notional_at_best_opposite_price_is_rejected() -> None:
    engine = make_engine()
    engine.submit(BOB, limit("S2", Side.SELL, "1", "50", symbol="ETH-PYUSD"))
    events = engine.submit(ALICE, market("M2", Side.BUY, "0.01", symbol="ETH-PYUSD"))
    assert_pre_validation_reject(events, "Order below minimum notional")


def test_market_order_price_is_ignored() -> None:
    engine = make_engine()
    engine.submit(BOB, limit("S1", Side.SELL, "0.001", "100000"))
    order = NewOrder("M1", SYMBOL, Side.BUY, D("0.001"), D("1.23"), ord_type=OrdType.MARKET)
    events = engine.submit(ALICE, order)
    assert exec_types(events, ALICE) == ["A/A", "0/0", "F/2"]


# --------------------------------------------------------------------------- price band


def band_engine(band: str | None = "0.05"):
    return make_engine(price_band=None if band is None else Decimal(band))


def test_order_outside_band_from_mid_is_rejected_after_pending_new() -> None:
    engine = band_engine()
    engine.submit(BOB, limit("B0", Side.BUY, "0.001", "99000"))
    engine.submit(BOB, limit("S0", Side.SELL, "0.001", "101000"))  # mid 100000
    events = engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "94999.5"))
    assert exec_types(events) == ["A/A", "8/8"]
    pending, reject = reports(events)
    assert reject.text == "Order outside book price bands"
    assert reject.order_id == pending.order_id != "NONE"
    assert reject.leaves_qty == D(0)
    assert engine.working_orders(ALICE) == []
    assert len(events) == 2  # no level change


def test_order_at_the_band_edge_is_accepted() -> None:
    engine = band_engine()
    engine.submit(BOB, limit("B0", Side.BUY, "0.001", "99000"))
    engine.submit(BOB, limit("S0", Side.SELL, "0.001", "101000"))
    events = engine.submit(ALICE, limit("S1", Side.SELL, "0.001", "105000"))
    assert exec_types(events) == ["A/A", "0/0"]


def test_band_uses_last_trade_when_the_book_is_one_sided() -> None:
    engine = band_engine()
    engine.submit(BOB, limit("S0", Side.SELL, "0.001", "100000"))
    engine.submit(ALICE, limit("B0", Side.BUY, "0.001", "100000"))  # trades at 100000
    engine.submit(BOB, limit("S1", Side.SELL, "0.001", "104000"))  # one-sided book
    assert exec_types(engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "94500"))) == [
        "A/A",
        "8/8",
    ]
    assert exec_types(engine.submit(ALICE, limit("B2", Side.BUY, "0.001", "95500"))) == [
        "A/A",
        "0/0",
    ]


def test_band_uses_the_configured_reference_when_there_is_no_book_or_trade() -> None:
    engine = band_engine()
    engine.set_reference_price(SYMBOL, D(100000))
    assert exec_types(engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "50000"))) == [
        "A/A",
        "8/8",
    ]
    assert exec_types(engine.submit(ALICE, limit("B2", Side.BUY, "0.001", "96000"))) == [
        "A/A",
        "0/0",
    ]


def test_no_reference_means_no_band() -> None:
    engine = band_engine()
    assert exec_types(engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "1000"))) == [
        "A/A",
        "0/0",
    ]


def test_band_none_disables_the_check() -> None:
    engine = band_engine(None)
    engine.set_reference_price(SYMBOL, D(100000))
    assert exec_types(engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "50000"))) == [
        "A/A",
        "0/0",
    ]


def test_ioc_is_subject_to_the_band() -> None:
    engine = band_engine()
    engine.set_reference_price(SYMBOL, D(100000))
    order = limit("B1", Side.BUY, "0.001", "113718", time_in_force=TimeInForce.IOC)
    assert exec_types(engine.submit(ALICE, order)) == ["A/A", "8/8"]


def test_band_rejected_order_cannot_be_cancelled() -> None:
    engine = band_engine()
    engine.set_reference_price(SYMBOL, D(100000))
    engine.submit(ALICE, limit("B1", Side.BUY, "0.001", "50000"))
    (reject,) = engine.cancel(ALICE, CancelOrder("C1", "B1"))
    assert reject.message.reason == CxlRejReason.TOO_LATE.value
    assert reject.message.ord_status is OrdStatus.REJECTED


def test_reference_price_must_be_positive_and_symbol_known() -> None:
    engine = band_engine()
    with pytest.raises(ValueError, match="positive"):
        engine.set_reference_price(SYMBOL, D(0))
    with pytest.raises(KeyError):
        engine.set_reference_price("DOGE-PYUSD", D(1))
