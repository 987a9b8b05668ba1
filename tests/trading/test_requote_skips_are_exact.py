"""The requotes the market maker skips are exactly those that would have sent nothing.

The market maker requotes in full only when market data or an order report moved what the
quotes are made of (see test_requote_inputs). Here a seeded random stream of increments (new
levels, size changes, deletions, at the top and behind it) goes to two market makers: one as
it is, one made to requote in full after every message. Both must send the same orders.
"""

from __future__ import annotations

import dataclasses
import random
from decimal import Decimal

import pytest

from bench.instant_venue import InstantVenue
from tests.integration.mm_helpers import strategy
from truex_qf.domain.model import (
    BookChange,
    BookEntry,
    CancelOrder,
    MarketDataIncrement,
    MarketDataSnapshot,
    MDEntryType,
    MDUpdateAction,
    NewOrder,
    ReplaceOrder,
    SessionLoggedOn,
    SessionRole,
)
from truex_qf.strategy.settings import RequoteMode
from truex_qf.trading.market_maker import MarketMaker

SYMBOL = "BTC-PYUSD"
BID, OFFER = MDEntryType.BID, MDEntryType.OFFER
TICK = Decimal("10")  # levels 10 apart: well above the symbol's tick


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
    """The orders sent for the stream (kind, price, quantity), and how many full requotes ran."""
    venue = InstantVenue()
    sent: list[tuple[object, ...]] = []

    def send(command: object) -> bool:
        if isinstance(command, NewOrder):
            sent.append(("D", command.side, command.price, command.quantity))
        elif isinstance(command, ReplaceOrder):
            sent.append(("G", command.price, command.quantity))
        elif isinstance(command, CancelOrder):
            sent.append(("F",))
        return venue.send(command)

    mm = MarketMaker(settings, send)
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
    return sent, full


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
