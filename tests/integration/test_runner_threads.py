"""Who applies what: inbound application messages on the engine thread that read them, under
the trading lock, with session events queued and applied first (truex_qf.app.runner docstring)."""

from __future__ import annotations

import gc
import time
from decimal import Decimal

import pytest

from tests.support.market_maker import (
    move_house_quotes,
    step_until,
    strategy,
    without_message_limits,
)
from truex_qf.app.runner import Runner
from truex_qf.domain.model import (
    MarketDataIncrement,
    SessionLoggedOn,
    SessionRole,
    Side,
)


@pytest.fixture
def venue(local_venue):
    """The simulated venue of tests/conftest.py, under the name these helpers use."""
    return local_venue


def our_bids(venue) -> list[Decimal]:
    with venue.venue.application.lock:
        orders = venue.venue.engine.working_orders(venue.client_settings.client_id)
    return [order.price for order in orders if order.side is Side.BUY]


def move_the_market(venue) -> None:
    """Others' mid moves from 100000 to 100040.2 (see test_market_maker)."""
    move_house_quotes(venue, Decimal("100040"))


def unthrottled():
    """A requote held for budget waits for the loop's tick, which these tests do not turn."""
    return without_message_limits(strategy())


def test_market_moves_are_requoted(venue):
    """The move is several messages: the engine thread decides on those that find it idle,
    the loop on a burst's last one (test_decision_coalescing drives each case with a fake
    clock); either way the quote follows the market."""
    runner = Runner(venue.client_settings, unthrottled())
    runner.start()
    try:
        step_until(runner, lambda: our_bids(venue) == [Decimal("99950")])
        move_the_market(venue)
        deadline = time.monotonic() + 10
        while our_bids(venue) != [Decimal("99990.1")] and time.monotonic() < deadline:
            runner.step(0.01)
        assert our_bids(venue) == [Decimal("99990.1")]
    finally:
        runner.finish()
        runner.close()


def test_a_failure_on_the_engine_thread_stops_the_loop_and_later_messages_wait(venue):
    runner = Runner(venue.client_settings, strategy())
    runner.start()
    handle = runner.mm.handle

    def failing(event: object) -> None:
        if isinstance(event, MarketDataIncrement):
            raise RuntimeError("broken increment handler")
        handle(event)

    try:
        step_until(runner, lambda: our_bids(venue) == [Decimal("99950")])
        runner.mm.handle = failing  # type: ignore[method-assign]
        move_the_market(venue)
        with pytest.raises(RuntimeError, match="broken increment handler"):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                runner.step()
        # From the failure on, what the engine delivers is queued, not applied.
        queued = runner.events.qsize()
        move_the_market(venue)
        deadline = time.monotonic() + 5
        while runner.events.qsize() == queued and time.monotonic() < deadline:
            time.sleep(0.01)
        assert runner.events.qsize() > queued
        assert our_bids(venue) == [Decimal("99950")]  # nobody requoted
    finally:
        del runner.mm.handle
        runner.close()


def test_queued_session_events_are_applied_before_the_next_message(venue):
    runner = Runner(venue.client_settings, strategy())  # not started: events fed by hand
    seen: list[str] = []
    runner.mm.handle = lambda event: seen.append(type(event).__name__)  # type: ignore[method-assign]
    runner.enqueue(SessionLoggedOn(SessionRole.MARKET_DATA, "md"))
    increment = MarketDataIncrement(md_req_id="1", changes=(), received_ns=1)
    runner._deliver(increment)  # what fromApp calls
    assert seen == ["SessionLoggedOn", "MarketDataIncrement"]
    assert runner.events.qsize() == 0


def test_the_startup_heap_is_left_out_of_collections_while_trading(venue):
    """A full collection of the ~280 000 objects alive at startup stopped the engine thread
    for 120-170 ms in the benchmark; frozen, collections skip them until the run closes."""
    gc.unfreeze()
    runner = Runner(venue.client_settings, unthrottled())
    runner.start()
    try:
        assert gc.get_freeze_count() > 100_000
    finally:
        runner.finish()
        runner.close()
    assert gc.get_freeze_count() == 0
