"""Coalesced quote decisions with bounded lag (issue 19; truex_qf.app.runner docstring).

The runner's market-data path, driven message by message with a fake clock, as the engine
thread drives it: every message is applied on arrival and in order, a burst is decided on once,
the lag bound forces a decision mid-burst, and the burst's last message is always decided on.
The runner is built (its FixClient too) but never started: no session, no timing.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal

import pytest

from tests.support.market_maker import strategy, without_message_limits
from truex_qf.app.runner import Runner
from truex_qf.domain.model import (
    BookChange,
    BookEntry,
    MarketDataIncrement,
    MarketDataSnapshot,
    MDEntryType,
    MDUpdateAction,
    Side,
)
from truex_qf.marketdata.book import BookKeeper

SYMBOL = "BTC-PYUSD"
BID, OFFER = MDEntryType.BID, MDEntryType.OFFER
US = 1000  # ns
APPLY_NS = 10 * US  # what each message "takes" on the fake clock
GAP_NS = 5 * US  # a burst: the next message is read this soon after the previous one
LOOP_WAKE_NS = 50 * US  # the trading loop takes the lock this long after a burst pauses


class FakeClock:
    def __init__(self) -> None:
        self.now_ns = 1_000_000 * US

    def __call__(self) -> int:
        return self.now_ns


@pytest.fixture
def runner(local_venue):
    lags: list[int] = []
    runner = Runner(
        local_venue.client_settings,
        without_message_limits(strategy()),
        on_decision_lag=lags.append,
    )
    runner._clock_ns = clock = FakeClock()  # type: ignore[method-assign]
    runner.clock = clock  # type: ignore[attr-defined]
    runner._next_tick = math.inf  # the periodic tick would decide too: not under test here
    runner.mm.books.register_subscription("MD1", (SYMBOL,))
    decisions: list[int] = []  # the fake time of each decision
    requote_dirty = runner.mm.requote_dirty

    def counted() -> None:
        decisions.append(clock.now_ns)
        requote_dirty()

    runner.mm.requote_dirty = counted  # type: ignore[method-assign]
    runner.decisions = decisions  # type: ignore[attr-defined]
    runner.lags = lags  # type: ignore[attr-defined]
    return runner


def snapshot(received_ns: int) -> MarketDataSnapshot:
    entries = [
        BookEntry(BID, Decimal("99990"), Decimal("1")),
        BookEntry(OFFER, Decimal("100010"), Decimal("1")),
    ]
    return MarketDataSnapshot("MD1", SYMBOL, tuple(entries), received_ns)


def increment(i: int, received_ns: int) -> MarketDataIncrement:
    """Message i of a stream: a new bid level, and the best offer's size changed."""
    changes = (
        BookChange(MDUpdateAction.NEW, BID, Decimal(99000 + i), Decimal("0.5"), symbol=SYMBOL),
        BookChange(MDUpdateAction.CHANGE, OFFER, Decimal("100010"), Decimal(i + 2), symbol=SYMBOL),
    )
    return MarketDataIncrement("MD1", changes, received_ns)


def deliver(runner, message_of, gap_ns: int) -> object:
    """The engine thread reads a message ``gap_ns`` after finishing the previous one."""
    clock = runner.clock
    received_ns = clock.now_ns + gap_ns
    message = message_of(received_ns)
    clock.now_ns = received_ns + APPLY_NS
    runner._deliver(message)
    return message


def start(runner) -> list[object]:
    """The snapshot, found the engine idle: decided on at once."""
    first = deliver(runner, snapshot, 10**9)
    assert len(runner.decisions) == 1
    return [first]


def same_book(runner, messages) -> None:
    """The runner's book is the one applied message by message, every message counted."""
    reference = BookKeeper()
    reference.register_subscription("MD1", (SYMBOL,))
    for message in messages:
        if isinstance(message, MarketDataSnapshot):
            reference.apply_snapshot(message, 0.0)
        else:
            reference.apply_increment(message, 0.0)
    ours, theirs = runner.mm.books.book(SYMBOL), reference.book(SYMBOL)
    for side in Side:
        assert ours.levels(side) == theirs.levels(side)
    assert ours.version == theirs.version == len(messages)


def test_a_burst_is_decided_on_once_when_the_engine_lets_go(runner):
    messages = start(runner)
    n = 15  # 15 x 15 us: inside the 300 us bound
    for i in range(n):
        messages.append(deliver(runner, lambda ns, i=i: increment(i, ns), GAP_NS))
    assert len(runner.decisions) == 1  # nothing decided during the burst
    same_book(runner, messages)  # yet every message is applied, in order
    runner.step(0.0)  # the trading loop, woken by the burst's first message
    assert len(runner.decisions) == 2  # one decision for the whole burst, its last message too
    first_received = messages[1].received_ns
    assert runner.lags[-1] == runner.clock.now_ns - first_received
    assert runner.gate.oldest_ns == 0


def test_the_lag_bound_forces_a_decision_mid_burst(runner):
    messages = start(runner)
    max_lag_ns = runner.gate.max_lag_ns
    assert max_lag_ns == 300 * US  # the strategy's default max_decision_lag_us
    for i in range(100):
        messages.append(deliver(runner, lambda ns, i=i: increment(i, ns), GAP_NS))
    # each message takes 15 us of fake time, applied 10 us after its receipt: the oldest
    # undecided one is 19 x 15 + 10 = 295 us old after the 20th, 310 us after the 21st
    assert len(runner.decisions) == 1 + 100 // 21
    assert [b - a for a, b in zip(runner.decisions[1:], runner.decisions[2:], strict=False)] == [
        21 * 15 * US
    ] * 3
    assert all(lag <= max_lag_ns + APPLY_NS + GAP_NS for lag in runner.lags)
    same_book(runner, messages)
    runner.step(0.0)
    assert runner.gate.oldest_ns == 0  # the last messages are decided on by the loop's flush
    same_book(runner, messages)


def test_a_message_that_finds_the_engine_idle_is_decided_on_at_once(runner):
    messages = start(runner)
    for i in range(5):
        messages.append(deliver(runner, lambda ns, i=i: increment(i, ns), 200 * US))
    assert len(runner.decisions) == 6  # one per message: none was part of a burst
    assert runner.lags[-5:] == [APPLY_NS] * 5
    same_book(runner, messages)


@pytest.mark.parametrize("seed", range(20))
def test_any_stream_leaves_nothing_undecided_and_applies_in_order(runner, seed):
    """Random mixes of bursts and pauses (seeded): whatever the timing, every message is
    applied in order on arrival, no decision covers a message later than the bound allows,
    and once the trading loop turns nothing is left undecided.

    The trading loop, woken by a burst's first message, takes the lock ``LOOP_WAKE_NS``
    after a pause begins (when the pause is longer than that): a burst's tail is decided on
    by the loop then, so its lag is the bound plus that wake-up at most."""
    rng = random.Random(seed)
    messages = start(runner)
    bound_ns = runner.gate.max_lag_ns + APPLY_NS + GAP_NS + LOOP_WAKE_NS
    for i in range(rng.randrange(1, 400)):
        gap_ns = rng.choice((GAP_NS, GAP_NS, GAP_NS, 2 * US, 80 * US, 200 * US, 10**6))
        if gap_ns > LOOP_WAKE_NS:
            runner.clock.now_ns += LOOP_WAKE_NS
            runner.step(0.0)
            gap_ns -= LOOP_WAKE_NS
        messages.append(deliver(runner, lambda ns, i=i: increment(i, ns), gap_ns))
        undecided_since = runner.gate.oldest_ns
        if undecided_since:  # a burst is pending: its oldest message is within the bound
            assert runner.clock.now_ns - undecided_since <= bound_ns
    same_book(runner, messages)
    assert runner.lags and max(runner.lags) <= bound_ns
    runner.step(0.0)  # the trading loop's turn: the end of whatever burst was running
    assert runner.gate.oldest_ns == 0
    assert runner.decisions[-1] == runner.clock.now_ns  # the last message is decided on
    same_book(runner, messages)
