"""Market data over real FIX sessions: snapshot, increments, rejects, security list."""

from __future__ import annotations

from decimal import Decimal

from truex_qf.app.demo import DEMO_SYMBOL
from truex_qf.domain.model import (
    MarketDataIncrement,
    MarketDataReject,
    MarketDataSnapshot,
    MDEntryType,
    MDUpdateAction,
    NewOrder,
    RequestSecurityList,
    SecurityList,
    SessionRole,
    Side,
    SubscribeMarketData,
    TimeInForce,
)
from truex_qf.sim.server import HOUSE_OWNER

MD = SessionRole.MARKET_DATA


def _rebuild(snapshot: MarketDataSnapshot, increments: list[MarketDataIncrement]):
    """An independent, deliberately simple book: {side: {price: size}}."""
    book = {MDEntryType.BID: {}, MDEntryType.OFFER: {}}
    for entry in snapshot.entries:
        if entry.size > 0:
            book[entry.entry_type][entry.price] = entry.size
    for increment in increments:
        for change in increment.changes:
            if change.entry_type is MDEntryType.TRADE:
                continue
            if change.action is MDUpdateAction.DELETE or change.size == 0:
                book[change.entry_type].pop(change.price, None)
            else:
                book[change.entry_type][change.price] = change.size
    return book


def _venue_book(engine):
    depth = engine.depth(DEMO_SYMBOL)
    return {
        MDEntryType.BID: {level.price: level.size for level in depth.bids},
        MDEntryType.OFFER: {level.price: level.size for level in depth.offers},
    }


def test_snapshot_then_increments_rebuild_the_venue_book(local_venue, client, events):
    client.wait_logged_on(MD, 10)
    client.send(SubscribeMarketData("MD-1", (DEMO_SYMBOL,), depth=0))
    snapshot = events.wait_for(lambda e: isinstance(e, MarketDataSnapshot))
    engine = local_venue.venue.engine
    assert _rebuild(snapshot, []) == _venue_book(engine)
    assert len(snapshot.entries) == 10  # the seeded five levels a side

    best_offer = engine.depth(DEMO_SYMBOL, 1).offers[0]
    best_bid = engine.depth(DEMO_SYMBOL, 1).bids[0]
    venue = local_venue.venue.application
    flow = [
        NewOrder(
            "F1",
            DEMO_SYMBOL,
            Side.BUY,
            Decimal("0.004"),
            best_offer.price,
            time_in_force=TimeInForce.IOC,
        ),
        NewOrder(
            "F2", DEMO_SYMBOL, Side.SELL, Decimal("0.02"), best_bid.price
        ),  # eats a level, rests
        NewOrder("F3", DEMO_SYMBOL, Side.BUY, Decimal("0.003"), best_bid.price - Decimal("50")),
    ]
    for order in flow:
        venue.publish(engine.submit("OTHER-TRADER", order))
    venue.publish(engine.cancel(HOUSE_OWNER, _house_order(engine, Side.BUY)))

    increments = []
    trades = 0
    while _rebuild(snapshot, increments) != _venue_book(engine):
        increment = events.wait_for(lambda e: isinstance(e, MarketDataIncrement))
        increments.append(increment)
        trades += sum(c.entry_type is MDEntryType.TRADE for c in increment.changes)
    assert trades >= 2  # F1 and F2 traded and were printed


def _house_order(engine, side):
    from truex_qf.domain.model import CancelOrder

    order = next(o for o in engine.working_orders(HOUSE_OWNER) if o.side is side)
    return CancelOrder("HC1", order.cl_ord_id)


def test_unknown_symbol_is_rejected(client, events):
    client.wait_logged_on(MD, 10)
    client.send(SubscribeMarketData("MD-X", ("DOGE-PYUSD",)))
    reject = events.wait_for(lambda e: isinstance(e, MarketDataReject))
    assert reject.md_req_id == "MD-X"
    assert "DOGE-PYUSD" in (reject.text or "")


def test_security_list(client, events):
    client.wait_logged_on(MD, 10)
    client.send(RequestSecurityList("SL-1"))
    answer = events.wait_for(lambda e: isinstance(e, SecurityList))
    assert answer.security_req_id == "SL-1"
    assert {s.symbol for s in answer.securities} == {"BTC-PYUSD", "ETH-PYUSD"}
    assert {s.security_type for s in answer.securities} == {"CSPOT"}
