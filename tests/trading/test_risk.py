"""RiskEngine: each check blocks what it must and lets through what it must."""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from decimal import Decimal

import pytest

from tests.support.orders import new_order
from tests.support.timing import FakeClock
from truex_qf.domain.clordid import ClOrdIdGenerator
from truex_qf.domain.model import NewOrder, OrdType, Side
from truex_qf.trading import risk as r
from truex_qf.trading.orders import ManagedOrder, OrderManager
from truex_qf.trading.positions import PositionBook
from truex_qf.trading.risk import (
    Exposure,
    RateGovernor,
    RiskDecision,
    RiskEngine,
    RiskLimits,
    TradingState,
    exposure_for,
)

D = Decimal
BTC = "BTC-PYUSD"
FAIR = D(50_000)
FLAT = Exposure(position_base=D(0))

LIMITS = RiskLimits(
    max_position_base={BTC: D(1)},
    max_order_qty=D("0.5"),
    max_order_notional=D(10**9),
    max_open_orders=3,
    price_collar_bps=D(50),
    max_book_age_s=2.0,
    max_messages_per_s=100,
    max_messages_per_min=1000,
)


def engine(**overrides: object) -> RiskEngine:
    return RiskEngine(dataclasses.replace(LIMITS, **overrides), clock=FakeClock(100.0))


def order(side: Side = Side.BUY, qty: str = "0.1", price: str | None = "50000") -> NewOrder:
    return NewOrder(
        cl_ord_id="T1",
        symbol=BTC,
        side=side,
        quantity=D(qty),
        price=D(price) if price is not None else None,
        ord_type=OrdType.LIMIT if price is not None else OrdType.MARKET,
    )


def check(
    risk: RiskEngine,
    new: NewOrder,
    *,
    fair_value: Decimal | None = FAIR,
    book_age_s: float | None = 0.5,
    book_crossed: bool = False,
    exposure: Exposure = FLAT,
    now_s: float | None = None,
) -> RiskDecision:
    return risk.check_new(new, fair_value, book_age_s, book_crossed, exposure, now_s=now_s)


def assert_denied(decision: RiskDecision, code: str) -> None:
    assert (decision.allowed, decision.reason_code) == (False, code), decision
    assert decision.detail


def assert_allowed(decision: RiskDecision) -> None:
    assert (decision.allowed, decision.reason_code) == (True, None), decision


# --------------------------------------------------------------------------- order size


def test_max_order_qty() -> None:
    risk = engine()
    assert_allowed(check(risk, order(qty="0.5")))
    assert_denied(check(risk, order(qty="0.5001")), r.MAX_ORDER_QTY)


def test_max_notional() -> None:
    risk = engine(max_order_notional=D(20_000))
    assert_allowed(check(risk, order(qty="0.4")))  # 0.4 * 50 000 = 20 000
    assert_denied(check(risk, order(qty="0.4001")), r.MAX_NOTIONAL)


def test_market_order_notional_is_valued_at_fair_value() -> None:
    risk = engine(max_order_notional=D(20_000))
    assert_allowed(check(risk, order(qty="0.4", price=None)))
    assert_denied(check(risk, order(qty="0.41", price=None)), r.MAX_NOTIONAL)


def test_non_positive_price_is_an_invalid_order() -> None:
    assert_denied(check(engine(), order(price="0")), r.INVALID_ORDER)


# --------------------------------------------------------------------------- market state


def test_price_collar_on_both_sides() -> None:
    risk = engine()
    # 50 bps of 50 000 is 250.
    assert_allowed(check(risk, order(Side.BUY, price="49750")))
    assert_denied(check(risk, order(Side.BUY, price="49749.5")), r.PRICE_COLLAR)
    assert_allowed(check(risk, order(Side.SELL, price="50250")))
    assert_denied(check(risk, order(Side.SELL, price="50250.5")), r.PRICE_COLLAR)


def test_stale_book() -> None:
    risk = engine()
    assert_allowed(check(risk, order(), book_age_s=2.0))
    assert_denied(check(risk, order(), book_age_s=2.01), r.STALE_BOOK)
    assert_denied(check(risk, order(), book_age_s=None), r.STALE_BOOK)


def test_crossed_book() -> None:
    risk = engine()
    assert_allowed(check(risk, order(), book_crossed=False))
    assert_denied(check(risk, order(), book_crossed=True), r.CROSSED_BOOK)


def test_no_fair_value() -> None:
    risk = engine()
    assert_allowed(check(risk, order(), fair_value=FAIR))
    assert_denied(check(risk, order(), fair_value=None), r.NO_FAIR_VALUE)
    assert_denied(check(risk, order(), fair_value=D(0)), r.NO_FAIR_VALUE)


def test_max_open_orders() -> None:
    risk = engine()
    assert_allowed(check(risk, order(), exposure=Exposure(D(0), open_orders=2)))
    assert_denied(check(risk, order(), exposure=Exposure(D(0), open_orders=3)), r.MAX_OPEN_ORDERS)


# --------------------------------------------------------------------------- position


def test_max_position_counts_working_buys_for_a_buy() -> None:
    risk = engine()
    exposure = Exposure(position_base=D("0.5"), working_buy_base=D("0.3"))
    assert_allowed(check(risk, order(Side.BUY, qty="0.2"), exposure=exposure))  # 1.0
    assert_denied(check(risk, order(Side.BUY, qty="0.2001"), exposure=exposure), r.MAX_POSITION)


def test_max_position_counts_working_sells_for_a_sell() -> None:
    risk = engine()
    exposure = Exposure(position_base=D("-0.5"), working_sell_base=D("0.3"))
    assert_allowed(check(risk, order(Side.SELL, qty="0.2"), exposure=exposure))  # -1.0
    assert_denied(check(risk, order(Side.SELL, qty="0.21"), exposure=exposure), r.MAX_POSITION)


def test_max_position_ignores_the_other_side() -> None:
    # Long 0.9 with 5 working buys: a sell only moves toward -1 and stays far from it.
    exposure = Exposure(position_base=D("0.9"), working_buy_base=D(5))
    assert_allowed(check(engine(), order(Side.SELL, qty="0.5"), exposure=exposure))


def test_order_reducing_a_position_beyond_the_limit_is_allowed() -> None:
    risk = engine()
    over = Exposure(position_base=D("1.4"))
    assert_allowed(check(risk, order(Side.SELL, qty="0.3"), exposure=over))
    assert_denied(check(risk, order(Side.BUY, qty="0.1"), exposure=over), r.MAX_POSITION)


def test_symbol_without_a_position_limit_is_denied() -> None:
    risk = engine(max_position_base={})
    assert_denied(check(risk, order()), r.MAX_POSITION)


# --------------------------------------------------------------------------- trading state


def test_reducing_allows_only_orders_that_reduce_the_position() -> None:
    risk = engine()
    risk.set_state(TradingState.REDUCING, "inventory alarm")
    long_half = Exposure(position_base=D("0.5"))
    assert_allowed(check(risk, order(Side.SELL, qty="0.3"), exposure=long_half))
    assert_allowed(check(risk, order(Side.SELL, qty="0.5"), exposure=long_half))
    assert_denied(check(risk, order(Side.SELL, qty="0.6"), exposure=long_half), r.REDUCE_ONLY)
    assert_denied(check(risk, order(Side.BUY, qty="0.1"), exposure=long_half), r.REDUCE_ONLY)
    assert_denied(check(risk, order(Side.SELL, qty="0.1"), exposure=FLAT), r.REDUCE_ONLY)


def test_reducing_counts_working_orders_on_the_reducing_side() -> None:
    risk = engine()
    risk.set_state(TradingState.REDUCING, "inventory alarm")
    exposure = Exposure(position_base=D("-0.5"), working_buy_base=D("0.4"))
    assert_allowed(check(risk, order(Side.BUY, qty="0.1"), exposure=exposure))
    assert_denied(check(risk, order(Side.BUY, qty="0.2"), exposure=exposure), r.REDUCE_ONLY)


def test_halted_denies_new_orders_and_replaces() -> None:
    risk = engine()
    risk.set_state(TradingState.HALTED, "operator")
    assert_denied(check(risk, order()), r.TRADING_HALTED)
    managed = ManagedOrder(cl_ord_id="T1", symbol=BTC, side=Side.BUY, price=FAIR, qty=D("0.1"))
    decision = risk.check_replace(managed, FAIR, D("0.1"), FAIR, 0.5, False, FLAT)
    assert_denied(decision, r.TRADING_HALTED)
    assert decision.detail == "operator"


def test_state_changes_are_recorded_with_reasons() -> None:
    risk = engine()
    assert (risk.state, risk.state_reason) == (TradingState.ACTIVE, "start")
    risk.set_state(TradingState.REDUCING, "position 80%", now_s=101.0)
    assert (risk.state, risk.state_reason) == (TradingState.REDUCING, "position 80%")
    risk.set_state(TradingState.ACTIVE, "position back to 20%", now_s=102.0)
    assert (risk.state, risk.state_reason) == (TradingState.ACTIVE, "position back to 20%")
    assert_allowed(check(risk, order()))


def test_kill_switch_halts_for_the_rest_of_the_process() -> None:
    risk = engine()
    risk.engage_kill_switch("daily loss")
    assert risk.state is TradingState.HALTED
    assert risk.kill_switch_engaged
    assert "daily loss" in risk.state_reason
    assert_denied(check(risk, order()), r.TRADING_HALTED)
    assert risk.set_state(TradingState.ACTIVE, "try") is False
    assert risk.state is TradingState.HALTED
    assert risk.set_state(TradingState.REDUCING, "try") is False
    assert_denied(check(risk, order()), r.TRADING_HALTED)
    assert engine().state is not TradingState.HALTED  # a restart: a new engine trades


# --------------------------------------------------------------------------- rate governor


def test_rate_limit_per_second_at_its_boundary() -> None:
    risk = engine(max_messages_per_s=3, max_messages_per_min=100)
    for _ in range(3):
        assert_allowed(check(risk, order(), now_s=100.0))
    assert_denied(check(risk, order(), now_s=100.0), r.RATE_LIMIT)
    assert_denied(check(risk, order(), now_s=100.999), r.RATE_LIMIT)
    assert_allowed(check(risk, order(), now_s=101.0))


def test_rate_limit_per_minute_at_its_boundary() -> None:
    risk = engine(max_messages_per_s=3, max_messages_per_min=5)
    for second in range(5):
        assert_allowed(check(risk, order(), now_s=100.0 + second))
    assert_denied(check(risk, order(), now_s=105.0), r.RATE_LIMIT)
    assert_denied(check(risk, order(), now_s=159.999), r.RATE_LIMIT)
    assert_allowed(check(risk, order(), now_s=160.0))  # the message at 100.0 has left


def test_venue_rejects_count_into_the_rate_governor() -> None:
    risk = engine(max_messages_per_s=3, max_messages_per_min=100)
    assert_allowed(check(risk, order(), now_s=100.0))
    assert_allowed(check(risk, order(), now_s=100.0))
    risk.record_reject(now_s=100.0)
    assert_denied(check(risk, order(), now_s=100.0), r.RATE_LIMIT)


def test_denied_orders_do_not_use_the_rate_budget() -> None:
    risk = engine(max_messages_per_s=1, max_messages_per_min=100)
    assert_denied(check(risk, order(qty="9"), now_s=100.0), r.MAX_ORDER_QTY)
    assert_allowed(check(risk, order(), now_s=100.0))


def test_replaces_count_into_the_rate_governor() -> None:
    risk = engine(max_messages_per_s=2, max_messages_per_min=100)
    managed = ManagedOrder(cl_ord_id="T1", symbol=BTC, side=Side.BUY, price=FAIR, qty=D("0.1"))
    assert_allowed(risk.check_replace(managed, FAIR, D("0.1"), FAIR, 0.5, False, FLAT, now_s=5))
    assert_allowed(check(risk, order(), now_s=5.0))
    assert_denied(
        risk.check_replace(managed, FAIR, D("0.1"), FAIR, 0.5, False, FLAT, now_s=5),
        r.RATE_LIMIT,
    )


def test_rate_governor_uses_the_injected_clock() -> None:
    clock = FakeClock(10.0)
    risk = RiskEngine(dataclasses.replace(LIMITS, max_messages_per_s=1), clock=clock)
    assert_allowed(check(risk, order()))
    assert_denied(check(risk, order()), r.RATE_LIMIT)
    clock.now_s = 11.0
    assert_allowed(check(risk, order()))


def test_rate_governor_alone() -> None:
    governor = RateGovernor(per_s=2, per_min=3)
    governor.record(0.0)
    governor.record(0.5)
    assert governor.denial(0.9) is not None
    assert governor.denial(1.0) is None
    governor.record(1.0)
    assert "minute" in (governor.denial(2.0) or "")


def _paced_sends(
    risk: RiskEngine, seconds: float, start_s: float = 1000.0, step_s: float = 0.01
) -> list[float]:
    """A market that wants an order every step: the times at which one went out."""
    sent: list[float] = []
    for i in range(round(seconds / step_s)):
        now = start_s + i * step_s
        if risk.has_message_budget(now_s=now):
            assert_allowed(check(risk, order(), now_s=now))
            sent.append(now)
    return sent


def test_the_pace_spreads_the_minutes_budget_over_the_minute() -> None:
    # The default limits: spent as fast as 8 a second allows, 240 a minute lasted 30 s and
    # left the book without our quotes for the next 30.
    risk = engine(max_messages_per_s=8, max_messages_per_min=240)
    sent = _paced_sends(risk, 300.0)
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent)]
    assert max(gaps) < 1.0  # at worst the per-second window of the first burst
    for i, start in enumerate(sent):  # never over the venue's limits, in any window
        assert bisect.bisect_left(sent, start + 60.0) - i <= 240
        assert bisect.bisect_left(sent, start + 1.0) - i <= 8
    assert len(sent) >= 240 * 5 * 0.8  # the budget is used, not hoarded


def test_the_pace_lets_a_burst_out_at_once_after_a_lull() -> None:
    risk = engine(max_messages_per_s=8, max_messages_per_min=240)
    assert len(_paced_sends(risk, 1.0)) == 8  # the per-second limit, not the pace
    # Then the burst's 40 and the refill of 200 a minute (at 8 a second, 120 would go out).
    sent = 8 + len(_paced_sends(risk, 14.0, start_s=1001.0))
    assert 40 + 15 * 200 / 60 - 2 <= sent <= 40 + 15 * 200 / 60 + 1


def test_rejects_are_paid_back_before_the_next_paced_message() -> None:
    governor = RateGovernor(per_s=100, per_min=60)  # a burst of 10, a refill of 50 a minute
    for _ in range(12):
        governor.record(0.0)  # ten paced messages and two rejects: the bucket at -2
    assert not governor.paced(0.0)
    assert not governor.paced(3.59)  # one token takes 1.2 s to refill, and three are owed
    assert governor.paced(3.61)


# --------------------------------------------------------------------------- replaces


def test_replace_adds_only_the_increase_to_exposure() -> None:
    risk = engine(max_order_qty=D(2))
    managed = ManagedOrder(cl_ord_id="T1", symbol=BTC, side=Side.BUY, price=FAIR, qty=D("0.6"))
    exposure = Exposure(position_base=D("0.2"), working_buy_base=D("0.6"))  # includes this order
    assert_allowed(risk.check_replace(managed, FAIR, D("0.8"), FAIR, 0.5, False, exposure))
    decision = risk.check_replace(managed, FAIR, D("0.81"), FAIR, 0.5, False, exposure)
    assert_denied(decision, r.MAX_POSITION)


def test_replace_is_not_blocked_by_the_open_order_limit() -> None:
    risk = engine()
    managed = ManagedOrder(cl_ord_id="T1", symbol=BTC, side=Side.BUY, price=FAIR, qty=D("0.1"))
    full = Exposure(position_base=D(0), working_buy_base=D("0.1"), open_orders=3)
    assert_allowed(risk.check_replace(managed, FAIR, D("0.1"), FAIR, 0.5, False, full))


def test_replace_runs_the_price_collar() -> None:
    risk = engine()
    managed = ManagedOrder(cl_ord_id="T1", symbol=BTC, side=Side.BUY, price=FAIR, qty=D("0.1"))
    decision = risk.check_replace(managed, D(49_000), D("0.1"), FAIR, 0.5, False, FLAT)
    assert_denied(decision, r.PRICE_COLLAR)


# --------------------------------------------------------------------------- bookkeeping


def test_denials_are_counted_by_reason_code() -> None:
    risk = engine()
    check(risk, order(), book_crossed=True)
    check(risk, order(), book_crossed=True)
    check(risk, order(qty="9"))
    check(risk, order())
    assert risk.denial_counts() == {r.CROSSED_BOOK: 2, r.MAX_ORDER_QTY: 1}


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="max_order_qty"):
        dataclasses.replace(LIMITS, max_order_qty=D(0))
    with pytest.raises(ValueError, match="per_min"):
        dataclasses.replace(LIMITS, max_messages_per_s=10, max_messages_per_min=5)


def test_exposure_is_built_from_orders_and_positions() -> None:
    orders = OrderManager(ClOrdIdGenerator("T", boot_ms=0), clock=FakeClock(100.0))
    positions = PositionBook()
    positions.apply_fill(BTC, Side.BUY, D("0.3"), FAIR)
    new_order(orders, BTC, Side.BUY, D("0.2"), FAIR)
    new_order(orders, BTC, Side.SELL, D("0.1"), FAIR)
    new_order(orders, "ETH-PYUSD", Side.BUY, D(5), D(3000))
    exposure = exposure_for(BTC, orders, positions)
    assert exposure == Exposure(
        position_base=D("0.3"),
        working_buy_base=D("0.2"),
        working_sell_base=D("0.1"),
        open_orders=3,
    )
    # 0.3 + 0.2 working + 0.5 new = 1.0: at the limit; a slightly larger position is over it.
    risk = engine(max_open_orders=10)
    assert_allowed(check(risk, order(qty="0.5"), exposure=exposure))
    over = dataclasses.replace(exposure, position_base=D("0.31"))
    assert_denied(check(risk, order(qty="0.5"), exposure=over), r.MAX_POSITION)
