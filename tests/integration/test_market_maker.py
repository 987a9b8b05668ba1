"""The market maker against the simulated exchange over real QuickFIX sessions.

Prices below are worked out by hand from the seeded book: house levels every 10 bps around
100000, so the best bid is 99900 and the best offer 100100, and the fair value (the mid of the
book without our own quotes) is 100000.
"""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal

import pytest

from tests.support.market_maker import (
    move_house_quotes,
    step_until,
    strategy,
    without_message_limits,
)
from tests.support.sessions import unique_comp_id
from tests.support.simulated_market import simulated_market
from truex_qf.app.demo import DEMO_SYMBOL, demo_account, start_local_venue
from truex_qf.app.runner import Runner
from truex_qf.domain.model import NewOrder, Side, TimeInForce
from truex_qf.strategy.quoting import RequoteMode
from truex_qf.trading.risk import TradingState


@pytest.fixture
def venue(tmp_path):
    local = start_local_venue(tmp_path / "state", demo_account(unique_comp_id()))
    yield local
    local.venue.stop(force=True)


def started(venue, settings) -> Runner:
    runner = Runner(venue.client_settings, settings)
    runner.start()
    return runner


def our_quotes(venue) -> dict[Side, list[tuple[Decimal, Decimal]]]:
    with venue.venue.application.lock:
        orders = venue.venue.engine.working_orders(venue.client_settings.client_id)
    quotes = {Side.BUY: [], Side.SELL: []}
    for order in orders:
        quotes[order.side].append((order.price, order.leaves_qty))
    return quotes


def test_quotes_rest_at_expected_prices_and_sizes(venue):
    runner = started(venue, strategy())
    try:
        expected = {
            Side.BUY: [(Decimal("99950"), Decimal("0.001"))],
            Side.SELL: [(Decimal("100050"), Decimal("0.001"))],
        }
        step_until(runner, lambda: our_quotes(venue) == expected)
        summary = runner.finish()
        assert summary.working_orders_after_shutdown == 0
        assert our_quotes(venue) == {Side.BUY: [], Side.SELL: []}
    finally:
        runner.close()


@pytest.mark.parametrize("mode", ["cancel_new", "replace"])
def test_requotes_follow_fair_value(venue, mode):
    settings = dataclasses.replace(strategy(), requote_mode=RequoteMode(mode))
    runner = started(venue, settings)
    try:
        step_until(
            runner, lambda: our_quotes(venue)[Side.BUY] == [(Decimal("99950"), Decimal("0.001"))]
        )
        # others' mid moves up 4 bps, with no moment when only our quotes are in the book
        move_house_quotes(venue, Decimal("100040"))
        # House levels 10 bps out: 99939.96 -> 99939.9 (tick 0.1 below 100000) and
        # 100140.04 -> 100140.5 (tick 0.5 above), so the others' mid is 100040.2;
        # 100040.2 * (1 -/+ 5 bps) = 99990.18 -> 99990.1 and 100090.22 -> 100090.5
        moved = {
            Side.BUY: [(Decimal("99990.1"), Decimal("0.001"))],
            Side.SELL: [(Decimal("100090.5"), Decimal("0.001"))],
        }
        step_until(runner, lambda: our_quotes(venue) == moved)
        stats = runner.mm.stats
        if mode == "replace":
            assert stats.replaces_sent >= 2 and stats.cancels_sent == 0
        else:
            assert stats.replaces_sent == 0 and stats.cancels_sent >= 2
    finally:
        runner.finish()
        runner.close()


def test_inventory_skew_lowers_quotes_after_buying(venue):
    settings = strategy(
        inventory_skew_bps=Decimal(10), max_skew_bps=Decimal(10), max_position_base=Decimal("0.002")
    )
    runner = started(venue, settings)
    try:
        step_until(
            runner, lambda: our_quotes(venue)[Side.BUY] == [(Decimal("99950"), Decimal("0.001"))]
        )
        app, engine = venue.venue.application, venue.venue.engine
        with app.lock:  # another trader sells into our bid
            app.publish(
                engine.submit(
                    "SIM-TAKER",
                    NewOrder(
                        "TK1",
                        DEMO_SYMBOL,
                        Side.SELL,
                        Decimal("0.001"),
                        Decimal("99950"),
                        time_in_force=TimeInForce.IOC,
                    ),
                )
            )
        step_until(
            runner, lambda: runner.mm.positions.position_base(DEMO_SYMBOL) == Decimal("0.001")
        )
        # long 0.001 of max 0.002: skew 10 bps * 0.5 = 5 bps down on both sides
        # bid 100000 * (1 - 10 bps) = 99900; offer 100000 * (1 + 0 bps) = 100000
        skewed = {
            Side.BUY: [(Decimal("99900"), Decimal("0.001"))],
            Side.SELL: [(Decimal("100000"), Decimal("0.001"))],
        }
        step_until(runner, lambda: our_quotes(venue) == skewed)
    finally:
        runner.finish()
        runner.close()


def test_kill_switch_leaves_no_working_orders(venue):
    runner = started(venue, strategy(levels_per_side=2, level_spacing_bps=Decimal(5)))
    try:
        step_until(
            runner,
            lambda: len(our_quotes(venue)[Side.BUY]) == 2
            and len(our_quotes(venue)[Side.SELL]) == 2,
        )
        runner.kill_requested.set()
        step_until(runner, lambda: our_quotes(venue) == {Side.BUY: [], Side.SELL: []})
        assert runner.mm.risk.state is TradingState.HALTED
        for _ in range(20):  # halted: nothing comes back
            runner.step()
        assert our_quotes(venue) == {Side.BUY: [], Side.SELL: []}
        assert runner.mm.working_order_count() == 0
    finally:
        runner.close()


def test_positions_pnl_and_book_agree_with_the_simulator_after_flow(tmp_path):
    with simulated_market(
        tmp_path / "state", step_interval_s=0.02, taker_probability=0.6, seed=7
    ) as market:
        local, flow = market.local, market.flow
        app, engine = local.venue.application, local.venue.engine
        settings = without_message_limits(
            strategy(
                levels_per_side=2,
                spread_bps=Decimal(3),
                level_spacing_bps=Decimal(2),
                inventory_skew_bps=Decimal(5),
                max_skew_bps=Decimal(5),
            )
        )
        runner = Runner(local.client_settings, settings)
        try:
            runner.start()
            step_until(runner, lambda: runner.mm.stats.fills >= 6, timeout_s=30)
            flow.stop()  # the market goes quiet; let every report and increment arrive
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                runner.step()

            client = local.client_settings.client_id
            with app.lock:
                trades = [t for t in engine.trades() if client in (t.buy_owner, t.sell_owner)]
                depth = engine.depth(DEMO_SYMBOL)
            bought = sum((t.quantity for t in trades if t.buy_owner == client), Decimal(0))
            sold = sum((t.quantity for t in trades if t.sell_owner == client), Decimal(0))
            cash = sum(
                (t.price * t.quantity * (1 if t.sell_owner == client else -1) for t in trades),
                Decimal(0),
            )
            position = runner.mm.positions.position_base(DEMO_SYMBOL)
            assert runner.mm.stats.fills == len(trades)
            assert position == bought - sold
            mark = Decimal("100000")
            ours = runner.mm.positions.get(
                DEMO_SYMBOL
            ).realized_pnl_quote + runner.mm.positions.unrealized_pnl(DEMO_SYMBOL, mark)
            # no fees in the simulator by default; average cost divides, so a partial close leaves a
            # rounding tail near the 28th digit: agree to a trillionth of a quote unit
            assert abs(ours - (cash + position * mark)) < Decimal("1e-12")

            book = runner.mm.books.book(DEMO_SYMBOL)
            assert [(level.price, level.size) for level in book.levels(Side.BUY)] == [
                (venue_level.price, venue_level.size) for venue_level in depth.bids
            ]
            assert [(level.price, level.size) for level in book.levels(Side.SELL)] == [
                (venue_level.price, venue_level.size) for venue_level in depth.offers
            ]
            summary = runner.finish()
            assert summary.working_orders_after_shutdown == 0
        finally:
            runner.close()
