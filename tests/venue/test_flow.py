"""The simulated background traders: a seeded flow stepped by hand, plus one real thread."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from truex_qf.domain.clordid import is_valid_cl_ord_id
from truex_qf.domain.model import (
    ExecType,
    ExecutionReport,
    NewOrder,
    OrderCancelReject,
    OrdStatus,
    ReplaceOrder,
    Side,
)
from truex_qf.sim import MatchingEngine, ToClient, VenueEvent
from truex_qf.sim.flow import MAKER_OWNER, TAKER_OWNER, FlowSettings, SimulatedFlow

SYMBOL = "BTC-PYUSD"
CLIENT = "CLIENT"
SEED = 20251010


@dataclass
class Harness:
    """A flow on a plain engine whose publish callback keeps every event list it gets."""

    engine: MatchingEngine
    lock: threading.RLock
    flow: SimulatedFlow
    published: list[list[VenueEvent]] = field(default_factory=list)

    @property
    def events(self) -> list[VenueEvent]:
        return [event for events in self.published for event in events]

    def reports(self, owner: str) -> list[ExecutionReport]:
        return [
            event.message
            for event in self.events
            if isinstance(event, ToClient)
            and event.owner == owner
            and isinstance(event.message, ExecutionReport)
        ]

    def steps(self, count: int) -> None:
        for _ in range(count):
            self.flow.step()


def make_harness(engine: MatchingEngine | None = None, **overrides: object) -> Harness:
    engine = engine if engine is not None else MatchingEngine([SYMBOL])
    lock = threading.RLock()
    published: list[list[VenueEvent]] = []
    settings = FlowSettings(**{"seed": SEED, **overrides})  # type: ignore[arg-type]
    flow = SimulatedFlow(engine, published.append, lock, settings)
    return Harness(engine, lock, flow, published)


def best_prices(engine: MatchingEngine) -> tuple[Decimal, Decimal]:
    top = engine.depth(SYMBOL, 1)
    assert top.bids and top.offers, "both sides should have orders"
    return top.bids[0].price, top.offers[0].price


def reports_of(events: list[VenueEvent]) -> list[ExecutionReport]:
    return [
        e.message
        for e in events
        if isinstance(e, ToClient) and isinstance(e.message, ExecutionReport)
    ]


def expected_ladder(engine: MatchingEngine, fair: Decimal, side: Side) -> list[Decimal]:
    """The default ladder worked out here: 8 bps + 5 bps per level, rounded away from mid."""
    sign = -1 if side is Side.BUY else 1
    return [
        engine.grid.round_price(fair * (1 + sign * Decimal(8 + 5 * level) / 10_000), sign < 0)
        for level in range(5)
    ]


# --------------------------------------------------------------------------- makers


def test_makers_keep_five_levels_per_side_around_the_fair_value() -> None:
    harness = make_harness()
    for _ in range(60):
        harness.flow.step()
        fair = harness.flow.fair_value
        depth = harness.engine.depth(SYMBOL)
        assert [level.price for level in depth.bids] == expected_ladder(
            harness.engine, fair, Side.BUY
        )
        assert [level.price for level in depth.offers] == expected_ladder(
            harness.engine, fair, Side.SELL
        )
        assert {level.size for level in (*depth.bids, *depth.offers)} == {Decimal("0.01")}
        assert len(harness.engine.working_orders(MAKER_OWNER)) == 10


def test_fair_value_walks_and_the_mid_follows_it() -> None:
    harness = make_harness()
    fair_values = []
    for _ in range(300):
        harness.flow.step()
        fair = harness.flow.fair_value
        fair_values.append(fair)
        best_bid, best_offer = best_prices(harness.engine)
        tick = harness.engine.grid.increment_for(fair).tick
        assert abs((best_bid + best_offer) / 2 - fair) <= tick
    assert len(set(fair_values)) > 250  # it moves on (nearly) every step
    assert max(fair_values) / min(fair_values) > Decimal("1.002")  # over 20 bps in 300 steps
    assert all(value > 0 for value in fair_values)


def test_walk_is_reproducible_with_a_seed_and_differs_between_seeds() -> None:
    first, again, other = make_harness(), make_harness(), make_harness(seed=SEED + 1)
    for harness in (first, again, other):
        harness.steps(20)
    assert first.flow.fair_value == again.flow.fair_value
    assert first.flow.fair_value != other.flow.fair_value


# --------------------------------------------------------------------------- takers


def test_takers_trade_and_both_sides_of_a_trade_see_partial_fills() -> None:
    harness = make_harness()
    harness.steps(300)

    trades = harness.engine.trades()
    taker_orders = {
        report.order_id
        for report in harness.reports(TAKER_OWNER)
        if report.exec_type is ExecType.TRADE
    }
    # taker_probability 0.3 over 300 steps: about 90 takers (the first step has no book).
    assert 60 <= len(taker_orders) <= 120
    assert all(TAKER_OWNER in (trade.buy_owner, trade.sell_owner) for trade in trades)
    assert {trade.aggressor_side for trade in trades} == {Side.BUY, Side.SELL}

    maker_fills = [r for r in harness.reports(MAKER_OWNER) if r.exec_type is ExecType.TRADE]
    assert any(r.ord_status is OrdStatus.PARTIALLY_FILLED for r in maker_fills)
    assert any(r.ord_status is OrdStatus.FILLED for r in maker_fills)

    taker_reports = harness.reports(TAKER_OWNER)
    partially_filled_takers = {
        r.order_id
        for r in taker_reports
        if r.exec_type is ExecType.TRADE and r.ord_status is OrdStatus.PARTIALLY_FILLED
    }
    remainders_cancelled = {r.order_id for r in taker_reports if r.exec_type is ExecType.CANCELED}
    assert partially_filled_takers
    assert partially_filled_takers <= remainders_cancelled  # IOC: the rest is cancelled
    assert not harness.engine.working_orders(TAKER_OWNER)


def test_a_client_bid_kept_at_the_best_bid_is_filled_by_takers() -> None:
    # The client behaves like the market maker under test: whenever the walk has left its bid
    # behind, it moves the bid one tick above the makers' best bid.
    harness = make_harness()
    engine = harness.engine
    harness.flow.step()
    quantity = Decimal("0.005")
    bid_prices: set[Decimal] = set()
    for attempt in range(300):
        working = engine.working_orders(CLIENT)
        if attempt and not working:
            break
        best_bid, _ = best_prices(engine)
        if not working or working[0].price < best_bid:
            price = best_bid + engine.grid.increment_for(best_bid).tick
            bid_prices.add(price)
            if working:
                request = ReplaceOrder(f"CLIENT{attempt}", working[0].cl_ord_id, quantity, price)
                assert (
                    reports_of(engine.replace(CLIENT, request))[-1].exec_type is ExecType.REPLACED
                )
            else:
                order = NewOrder(f"CLIENT{attempt}", SYMBOL, Side.BUY, quantity, price)
                assert reports_of(engine.submit(CLIENT, order))[-1].exec_type is ExecType.NEW
        assert best_prices(engine)[0] == engine.working_orders(CLIENT)[0].price
        harness.flow.step()
    assert not engine.working_orders(CLIENT), "the client's bid was never filled"
    client_trades = [trade for trade in engine.trades() if trade.buy_owner == CLIENT]
    assert sum(trade.quantity for trade in client_trades) == quantity
    assert {trade.sell_owner for trade in client_trades} == {TAKER_OWNER}
    assert {trade.price for trade in client_trades} <= bid_prices


# --------------------------------------------------------------------------- contract


class RecordingEngine(MatchingEngine):
    """Keeps every event list it returns and counts engine calls made without the lock."""

    def __init__(self, lock: threading.RLock) -> None:
        super().__init__([SYMBOL])
        self.lock = lock
        self.returned: list[list[VenueEvent]] = []
        self.calls = 0
        self.calls_without_lock = 0

    def _called(self) -> None:
        self.calls += 1
        # RLock._is_owned is CPython's (C and Python RLock both have it): held by this thread.
        if not self.lock._is_owned():  # type: ignore[attr-defined]
            self.calls_without_lock += 1

    def _returning(self, events: list[VenueEvent]) -> list[VenueEvent]:
        self.returned.append(events)
        return events

    def submit(self, owner, order):  # type: ignore[no-untyped-def]
        self._called()
        return self._returning(super().submit(owner, order))

    def cancel(self, owner, request):  # type: ignore[no-untyped-def]
        self._called()
        return self._returning(super().cancel(owner, request))

    def replace(self, owner, request):  # type: ignore[no-untyped-def]
        self._called()
        return self._returning(super().replace(owner, request))

    def cancel_all(self, owner=None):  # type: ignore[no-untyped-def]
        self._called()
        return self._returning(super().cancel_all(owner))

    def set_reference_price(self, symbol, price):  # type: ignore[no-untyped-def]
        self._called()
        super().set_reference_price(symbol, price)

    def depth(self, symbol, max_levels=None):  # type: ignore[no-untyped-def]
        self._called()
        return super().depth(symbol, max_levels)

    def working_orders(self, owner=None):  # type: ignore[no-untyped-def]
        self._called()
        return super().working_orders(owner)


def test_every_event_list_is_published_in_order_and_under_the_lock() -> None:
    lock = threading.RLock()
    engine = RecordingEngine(lock)
    published: list[list[VenueEvent]] = []
    published_without_lock = 0

    def publish(events: list[VenueEvent]) -> None:
        nonlocal published_without_lock
        if not lock._is_owned():  # type: ignore[attr-defined]
            published_without_lock += 1
        published.append(events)

    flow = SimulatedFlow(engine, publish, lock, FlowSettings(seed=SEED))
    for _ in range(200):
        flow.step()
    flow.stop()

    assert engine.calls > 1000
    assert engine.calls_without_lock == 0
    assert published_without_lock == 0
    assert len(published) == len(engine.returned) > 200
    assert published == engine.returned  # same lists, same order
    assert sum(map(len, published)) == sum(map(len, engine.returned)) > 2000


def test_the_book_never_crosses_and_the_venue_refuses_nothing_even_in_a_fast_market() -> None:
    # 20 bps steps (clipped at 80 bps) move the ladder further than its 16 bps spread in one
    # step, so re-quoting the wrong side first would trip self-match prevention.
    harness = make_harness(volatility_bps_per_step=Decimal(20))
    for _ in range(300):
        harness.flow.step()
        best_bid, best_offer = best_prices(harness.engine)
        assert best_bid < best_offer
        assert len(harness.engine.working_orders(MAKER_OWNER)) == 10
    harness.flow.stop()

    reports = harness.reports(MAKER_OWNER) + harness.reports(TAKER_OWNER)
    assert not [r for r in reports if r.exec_type is ExecType.REJECTED]
    assert not [r for r in reports if r.text and "Self-match" in r.text]
    assert not [
        e
        for e in harness.events
        if isinstance(e, ToClient) and isinstance(e.message, OrderCancelReject)
    ]
    new_ids = [r.cl_ord_id for r in reports if r.exec_type is ExecType.PENDING_NEW]
    replace_ids = [r.cl_ord_id for r in reports if r.exec_type is ExecType.REPLACED]
    assert len(new_ids) > 100 and len(replace_ids) > 1000
    all_ids = new_ids + replace_ids
    assert len(set(all_ids)) == len(all_ids)
    assert all(len(cl_ord_id) <= 18 and is_valid_cl_ord_id(cl_ord_id) for cl_ord_id in all_ids)


def test_stop_cancels_the_makers_orders_and_leaves_the_client_alone() -> None:
    harness = make_harness()
    harness.steps(10)
    harness.engine.submit(
        CLIENT, NewOrder("CLIENTBID2", SYMBOL, Side.BUY, Decimal("0.01"), Decimal(99000))
    )
    harness.flow.stop()
    assert not harness.engine.working_orders(MAKER_OWNER)
    assert [order.cl_ord_id for order in harness.engine.working_orders()] == ["CLIENTBID2"]
    cancels = [r for r in harness.reports(MAKER_OWNER) if r.exec_type is ExecType.CANCELED]
    assert len(cancels) >= 10
    harness.flow.stop()  # a second stop is harmless


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("start_price", Decimal(0)),
        ("maker_levels", 0),
        ("taker_probability", 1.5),
        ("taker_size_max", Decimal("0.0001")),
        ("maker_half_spread_bps", Decimal(0)),
        ("volatility_bps_per_step", Decimal(200)),  # would leave the engine's price band
    ],
)
def test_settings_out_of_range_are_refused_naming_the_field(field_name: str, value: object) -> None:
    with pytest.raises(ValueError, match="FlowSettings"):
        FlowSettings(**{field_name: value})  # type: ignore[arg-type]


# --------------------------------------------------------------------------- thread


def wait_for(condition, timeout_s: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_start_steps_in_a_thread_and_stop_cancels_everything() -> None:
    harness = make_harness(step_interval_s=0.02)
    harness.flow.start()
    assert harness.flow.is_running
    with pytest.raises(RuntimeError):
        harness.flow.start()
    time.sleep(0.5)
    with harness.lock:
        assert len(harness.engine.working_orders(MAKER_OWNER)) == 10
    harness.flow.stop()

    assert not harness.flow.is_running
    assert not harness.engine.working_orders(MAKER_OWNER)
    depth = harness.engine.depth(SYMBOL)
    assert depth.bids == () and depth.offers == ()
    assert harness.flow.fair_value != Decimal(100000)
    # ~25 steps of 20 ms, each re-quoting most of the 10 orders; a loaded machine runs fewer.
    assert len(harness.published) > 50


def test_a_failing_step_is_logged_and_the_thread_keeps_stepping(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = MatchingEngine([SYMBOL])
    lock = threading.RLock()
    published: list[list[VenueEvent]] = []
    failures = 0

    def publish(events: list[VenueEvent]) -> None:
        nonlocal failures
        if failures < 3:
            failures += 1
            raise ConnectionError("subscriber gone")
        published.append(events)

    flow = SimulatedFlow(engine, publish, lock, FlowSettings(seed=SEED, step_interval_s=0.01))
    with caplog.at_level(logging.ERROR, logger="truex_qf.sim.flow"):
        flow.start()
        try:
            assert wait_for(lambda: len(published) > 50)
        finally:
            flow.stop()
    failed = [r for r in caplog.records if r.name == "truex_qf.sim.flow" and r.exc_info]
    assert len(failed) == 3
    assert all("step failed" in r.getMessage() for r in failed)
    # The orders whose events were lost were tracked or swept up: nothing left behind.
    assert not engine.working_orders(MAKER_OWNER)
