"""The requotes the market maker skips are exactly those that would have sent nothing.

The market maker requotes in full only when market data or an order report moved what the
quotes are made of (see test_requote_inputs). Here a seeded random stream of increments (new
levels, size changes, deletions, at the top and behind it) goes to two market makers: one as
it is, one made to requote in full after every message. Both must send the same orders.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from decimal import Decimal

import pytest

from tests.integration.mm_helpers import strategy
from truex_qf.domain.model import (
    BookChange,
    BookEntry,
    CancelOrder,
    ExecType,
    ExecutionReport,
    MarketDataIncrement,
    MarketDataSnapshot,
    MDEntryType,
    MDUpdateAction,
    NewOrder,
    OrdStatus,
    ReplaceOrder,
    SessionLoggedOn,
    SessionRole,
)
from truex_qf.strategy.settings import RequoteMode
from truex_qf.trading.market_maker import MarketMaker

SYMBOL = "BTC-PYUSD"
BID, OFFER = MDEntryType.BID, MDEntryType.OFFER
TICK = Decimal("10")  # levels 10 apart: well above the symbol's tick


class Venue:
    """Keeps what the market maker sends and answers it at once: New, Replaced, Canceled."""

    def __init__(self) -> None:
        self.sent: list[object] = []
        self.log: list[tuple[object, ...]] = []
        self._exec_ids = itertools.count(1)

    def send(self, command: object) -> bool:
        self.sent.append(command)
        if isinstance(command, NewOrder):
            self.log.append(("D", command.side, command.price, command.quantity))
        elif isinstance(command, ReplaceOrder):
            self.log.append(("G", command.price, command.quantity))
        elif isinstance(command, CancelOrder):
            self.log.append(("F",))
        return True

    def answer(self, mm: MarketMaker, requote) -> None:  # type: ignore[no-untyped-def]
        while self.sent:
            commands, self.sent = self.sent, []
            orders = {order.cl_ord_id: order for order in mm.orders.working_orders()}
            for command in commands:
                if isinstance(command, NewOrder) and command.cl_ord_id in orders:
                    order = orders[command.cl_ord_id]
                    for exec_type, status in (
                        (ExecType.PENDING_NEW, OrdStatus.PENDING_NEW),
                        (ExecType.NEW, OrdStatus.NEW),
                    ):
                        mm.handle(self._report(order, exec_type, status, order.cl_ord_id))
                elif isinstance(command, ReplaceOrder) and command.orig_cl_ord_id in orders:
                    order = orders[command.orig_cl_ord_id]
                    mm.handle(
                        self._report(
                            order,
                            ExecType.REPLACED,
                            OrdStatus.NEW,
                            command.cl_ord_id,
                            orig_cl_ord_id=order.cl_ord_id,
                            price=command.price,
                            qty=command.quantity,
                        )
                    )
                elif isinstance(command, CancelOrder) and command.orig_cl_ord_id in orders:
                    order = orders[command.orig_cl_ord_id]
                    mm.handle(
                        self._report(
                            order,
                            ExecType.CANCELED,
                            OrdStatus.CANCELED,
                            command.cl_ord_id,
                            orig_cl_ord_id=order.cl_ord_id,
                        )
                    )
            requote()

    def _report(  # type: ignore[no-untyped-def]
        self, order, exec_type, status, cl_ord_id, orig_cl_ord_id=None, price=None, qty=None
    ) -> ExecutionReport:
        quantity = qty if qty is not None else order.qty
        return ExecutionReport(
            order_id=f"V-{order.cl_ord_ids[0] if order.cl_ord_ids else order.cl_ord_id}",
            cl_ord_id=cl_ord_id,
            exec_id=str(next(self._exec_ids)),
            exec_type=exec_type,
            ord_status=status,
            symbol=order.symbol,
            side=order.side,
            order_qty=quantity,
            leaves_qty=quantity,
            cum_qty=Decimal(0),
            price=price if price is not None else order.price,
            orig_cl_ord_id=orig_cl_ord_id,
        )


def random_stream(seed: int, n: int) -> tuple[list[BookEntry], list[tuple[BookChange, ...]]]:
    """A snapshot and ``n`` increments that keep a two-sided, uncrossed book around 100,000."""
    rng = random.Random(seed)
    book = {BID: {}, OFFER: {}}
    for i in range(1, 6):
        book[BID][Decimal(100_000) - i * TICK] = Decimal(rng.randint(1, 5))
        book[OFFER][Decimal(100_000) + i * TICK] = Decimal(rng.randint(1, 5))
    snapshot = [BookEntry(side, price, size) for side in book for price, size in book[side].items()]
    increments = []
    for _ in range(n):
        changes = []
        for _ in range(rng.randint(1, 3)):
            side = rng.choice((BID, OFFER))
            levels = book[side]
            best = max(levels) if side is BID else min(levels)
            other = book[OFFER if side is BID else BID]
            other_best = min(other) if side is BID else max(other)
            roll = rng.random()
            if roll < 0.4:  # a new size at the best price: the case the mid skips
                price, action = best, MDUpdateAction.CHANGE
            elif roll < 0.6:  # a new size behind the top
                price, action = rng.choice(sorted(levels)), MDUpdateAction.CHANGE
            elif roll < 0.8 or len(levels) < 3:  # a new level, sometimes a new best
                step = rng.randint(-1, 3) * TICK
                price = best + step if side is OFFER else best - step
                if (side is BID and price >= other_best) or (side is OFFER and price <= other_best):
                    continue
                action = MDUpdateAction.CHANGE if price in levels else MDUpdateAction.NEW
            else:  # a level goes, the best one included
                price, action = rng.choice(sorted(levels)), MDUpdateAction.DELETE
            if action is MDUpdateAction.DELETE:
                del levels[price]
                size = Decimal(0)
            else:
                size = levels[price] = Decimal(rng.randint(1, 9))
            changes.append(BookChange(action, side, price, size, symbol=SYMBOL))
        if changes:
            increments.append(tuple(changes))
    return snapshot, increments


def run(settings, snapshot, increments, requote_in_full: bool) -> tuple[list, int]:  # type: ignore[no-untyped-def]
    """The orders sent for the stream, and how many full requotes ran."""
    venue = Venue()
    mm = MarketMaker(settings, venue.send)
    full = 0
    requote = mm.requote

    def counting(symbol: str, *seen) -> None:  # type: ignore[no-untyped-def]
        nonlocal full
        full += 1
        requote(symbol, *seen)

    mm.requote = counting  # type: ignore[method-assign]

    def requote_dirty() -> None:
        if requote_in_full:
            mm.symbols[SYMBOL].dirty = True
        mm.requote_dirty()

    for role in SessionRole:
        mm.handle(SessionLoggedOn(role, role.value))
    mm.books.register_subscription("MD1", (SYMBOL,))
    mm.handle(MarketDataSnapshot("MD1", SYMBOL, tuple(snapshot)))
    requote_dirty()
    venue.answer(mm, requote_dirty)
    for changes in increments:
        mm.handle(MarketDataIncrement("MD1", changes))
        requote_dirty()
        venue.answer(mm, requote_dirty)
    return venue.log, full


def with_method(settings, method: str):  # type: ignore[no-untyped-def]
    """``settings`` pricing with ``method``, the message-rate limits lifted (they depend on
    the clock, which would make the two runs differ)."""
    symbol = settings.symbols[0]
    fair_value = dataclasses.replace(symbol.fair_value, truex_method=method)
    risk = dataclasses.replace(
        settings.risk, max_messages_per_s=1_000_000, max_messages_per_min=60_000_000
    )
    return dataclasses.replace(
        settings, symbols=(dataclasses.replace(symbol, fair_value=fair_value),), risk=risk
    )


@pytest.mark.parametrize("method", ["mid", "micro"])
@pytest.mark.parametrize("tolerance_bps", [Decimal(0), Decimal(2)])
@pytest.mark.parametrize("mode", list(RequoteMode))
@pytest.mark.parametrize("seed", [1, 2])
def test_skipped_requotes_would_have_sent_nothing(method, tolerance_bps, mode, seed):
    settings = dataclasses.replace(
        with_method(strategy(), method), requote_tolerance_bps=tolerance_bps, requote_mode=mode
    )
    snapshot, increments = random_stream(seed, 600)
    sent, full = run(settings, snapshot, increments, requote_in_full=False)
    expected, every = run(settings, snapshot, increments, requote_in_full=True)
    assert sent == expected
    assert len(sent) > 4  # the stream moved the quotes, not only the first two orders
    assert full < every  # and some requotes were skipped


def test_the_mid_skips_more_than_the_micro_price():
    """A size alone at others' best moves the micro-price, never the mid."""
    snapshot, increments = random_stream(7, 600)
    _, mid = run(with_method(strategy(), "mid"), snapshot, increments, requote_in_full=False)
    _, micro = run(with_method(strategy(), "micro"), snapshot, increments, requote_in_full=False)
    assert mid < micro
