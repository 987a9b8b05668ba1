"""Helpers for tests that run the market maker against the simulator."""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal

from truex_qf.app.demo import DEMO_SYMBOL
from truex_qf.domain.model import CancelOrder, Side
from truex_qf.sim.server import HOUSE_OWNER
from truex_qf.strategy.settings import default_strategy


def strategy(**quoting):
    base = default_strategy()
    symbol = base.symbols[0]
    params = {
        "levels_per_side": 1,
        "spread_bps": Decimal(5),
        "min_edge_bps": Decimal(0),
        "inventory_skew_bps": Decimal(0),
        "max_skew_bps": Decimal(0),
        **quoting,
    }
    symbol = dataclasses.replace(symbol, quoting=dataclasses.replace(symbol.quoting, **params))
    max_position = symbol.quoting.max_position_base
    risk = dataclasses.replace(base.risk, max_position_base={DEMO_SYMBOL: max_position})
    symbol = dataclasses.replace(symbol, max_position_base=max_position)
    # zero tolerance: every quote must sit exactly where the fair value puts it
    return dataclasses.replace(
        base, symbols=(symbol,), risk=risk, loop_interval_s=0.05, requote_tolerance_bps=Decimal(0)
    )


def step_until(runner, condition, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while not _holds(runner, condition):
        if time.monotonic() > deadline:
            book = runner.mm.books.book(DEMO_SYMBOL)
            working = [
                (o.side.name, o.price, o.state.value) for o in runner.mm.orders.working_orders()
            ]
            raise AssertionError(
                f"condition not reached; fair values {runner.mm.fair_values()}, decision "
                f"{runner.mm.symbols[DEMO_SYMBOL].decision}, book bids "
                f"{book.levels(Side.BUY, 3) if book else None} offers "
                f"{book.levels(Side.SELL, 3) if book else None}, working "
                f"{working}"
            )
        runner.step()


def _holds(runner, condition) -> bool:
    """The condition, read under the trading lock: the engine threads apply messages too."""
    with runner.trading_lock:
        return condition()


def move_house_quotes(venue, mid: Decimal) -> None:
    """Seed the house's levels around ``mid``, then cancel its old ones: others' mid moves
    with no moment when only our quotes are in the book."""
    app, engine = venue.venue.application, venue.venue.engine
    with app.lock:
        old_house = [o.cl_ord_id for o in engine.working_orders(HOUSE_OWNER)]
    venue.venue.seed_book(DEMO_SYMBOL, mid)
    with app.lock:
        for number, cl_ord_id in enumerate(old_house):
            app.publish(engine.cancel(HOUSE_OWNER, CancelOrder(f"HX{number}", cl_ord_id)))


def without_message_limits(settings):
    """``settings`` with the message-rate budget lifted. With zero requote tolerance every
    move of the top requotes, and a fast simulated market spends the default 240 messages a
    minute in seconds; a requote held for budget then waits, which is not what these tests
    are about."""
    risk = dataclasses.replace(
        settings.risk, max_messages_per_s=1_000_000, max_messages_per_min=60_000_000
    )
    return dataclasses.replace(settings, risk=risk)
