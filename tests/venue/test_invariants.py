"""A seeded random order flow; after every operation the book and the reports must agree."""

from __future__ import annotations

import random
from collections import defaultdict
from decimal import Decimal

from tests.support.matching import (
    ALICE,
    BOB,
    CAROL,
    SYMBOL,
    fills,
    level_changes,
    make_engine,
    reports,
)
from truex_qf.domain.model import (
    CancelOrder,
    NewOrder,
    OrdType,
    ReplaceOrder,
    SelfMatchPrevention,
    Side,
    TimeInForce,
)
from truex_qf.sim import LevelChanged, MatchingEngine


def _random_operation(engine: MatchingEngine, rng: random.Random, step: int, live: list) -> list:
    owner = rng.choice([ALICE, BOB, CAROL])
    price = Decimal(100000) + Decimal(rng.randint(-20, 20)) / 2
    quantity = Decimal(rng.randint(1, 9)) / 1000
    roll = rng.random()
    if roll < 0.55 or not live:
        order = NewOrder(
            cl_ord_id=f"N{step}",
            symbol=SYMBOL,
            side=rng.choice([Side.BUY, Side.SELL]),
            quantity=quantity,
            price=price,
            ord_type=OrdType.MARKET if rng.random() < 0.05 else OrdType.LIMIT,
            time_in_force=TimeInForce.IOC if rng.random() < 0.15 else TimeInForce.GTC,
            post_only=rng.random() < 0.2,
            self_match_prevention=rng.choice([None, *SelfMatchPrevention]),
        )
        live.append((owner, order.cl_ord_id))
        return engine.submit(owner, order)
    index = rng.randrange(len(live))
    owner, cl_ord_id = live[index]
    if roll < 0.8:
        live.pop(index)
        return engine.cancel(owner, CancelOrder(f"C{step}", cl_ord_id))
    live[index] = (owner, f"R{step}")
    return engine.replace(owner, ReplaceOrder(f"R{step}", cl_ord_id, quantity, price))


def test_random_flow_keeps_book_views_and_reports_consistent() -> None:
    rng = random.Random(20251010)
    engine = make_engine()
    live: list[tuple[str, str]] = []
    last_exec_id = 0
    filled_by_order: dict[str, Decimal] = defaultdict(Decimal)
    for step in range(3000):
        events = _random_operation(engine, rng, step, live)

        exec_ids = [int(report.exec_id) for report in reports(events)]
        assert exec_ids == sorted(set(exec_ids)) and (not exec_ids or exec_ids[0] > last_exec_id)
        last_exec_id = exec_ids[-1] if exec_ids else last_exec_id
        for fill in fills(events):
            filled_by_order[fill.order_id] += fill.last_qty
            assert filled_by_order[fill.order_id] == fill.cum_qty
            assert fill.cum_qty + fill.leaves_qty <= fill.order_qty

        depth = engine.depth(SYMBOL)
        if depth.bids and depth.offers:
            assert depth.bids[0].price < depth.offers[0].price, f"crossed book at step {step}"
        expected: dict[tuple[Side, Decimal], Decimal] = defaultdict(Decimal)
        for view in engine.working_orders():
            assert view.cum_qty + view.leaves_qty == view.order_qty
            assert view.leaves_qty > 0
            expected[(view.side, view.price)] += view.leaves_qty
        actual = {(Side.BUY, level.price): level.size for level in depth.bids}
        actual |= {(Side.SELL, level.price): level.size for level in depth.offers}
        assert actual == dict(expected)
        for change in level_changes(events):
            assert isinstance(change, LevelChanged)
            assert actual.get((change.side, change.price), Decimal(0)) == change.size

    trades = engine.trades()
    assert len(trades) > 100  # the flow really traded
    assert len({trade.trade_match_id for trade in trades}) == len(trades)
