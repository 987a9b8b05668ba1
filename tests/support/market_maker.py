"""The market maker in tests: a strategy made for them, a market maker already quoting (no
venue), a fill of one of its orders, and stepping a runner against the simulator."""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal

from tests.support.orders import new_order
from truex_qf.app.demo import DEMO_SYMBOL
from truex_qf.domain.model import (
    BookEntry,
    CancelOrder,
    ExecType,
    ExecutionReport,
    MarketDataSnapshot,
    MDEntryType,
    NewOrder,
    OrdStatus,
    SessionLoggedOn,
    SessionRole,
    Side,
    SubscribeMarketData,
)
from truex_qf.sim.server import HOUSE_OWNER
from truex_qf.strategy.settings import default_strategy
from truex_qf.trading.market_maker import MarketMaker


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


class RecordingVenue:
    """The market maker's REST requests (trading.reconcile.VenueRequests), recorded instead
    of sent: ``requests["reconcile"]``, ``["deadman"]`` and ``["cancel"]``."""

    def __init__(self) -> None:
        self.requests: dict[str, list] = {"reconcile": [], "deadman": [], "cancel": []}

    def reconcile(self, request) -> None:
        self.requests["reconcile"].append(request)

    def deadman(self, known_cl_ord_ids) -> None:
        self.requests["deadman"].append(known_cl_ord_ids)

    def cancel_orders(self, order_ids) -> None:
        self.requests["cancel"].append(order_ids)


def acknowledged_order(mm, qty="0.002", price="99000"):
    """A buy order the venue has acknowledged (ExecType NEW), in ``mm``'s order book."""
    order = new_order(mm.orders, DEMO_SYMBOL, Side.BUY, Decimal(qty), Decimal(price))
    mm.orders.on_execution_report(
        ExecutionReport(
            "O1",
            order.cl_ord_id,
            "e1",
            ExecType.NEW,
            OrdStatus.NEW,
            DEMO_SYMBOL,
            Side.BUY,
            Decimal(qty),
            Decimal(qty),
            Decimal(0),
            price=Decimal(price),
        )
    )
    return order


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


def quoting_market_maker(references=None) -> tuple[MarketMaker, list[object]]:
    """A market maker with both sessions up, a book, and its first quotes sent to a list
    (``references``: its reference price sources by symbol, as MarketMaker takes them)."""
    sent: list[object] = []
    mm = MarketMaker(
        default_strategy(), lambda command: sent.append(command) or True, references=references
    )
    symbol = next(iter(mm.symbols))
    mm.handle(SessionLoggedOn(SessionRole.MARKET_DATA, "md"))
    mm.handle(SessionLoggedOn(SessionRole.ORDER_ENTRY, "oe"))
    request = next(c for c in sent if isinstance(c, SubscribeMarketData))
    mm.handle(
        MarketDataSnapshot(
            request.md_req_id,
            symbol,
            (
                BookEntry(MDEntryType.BID, Decimal("99900"), Decimal("1.5")),
                BookEntry(MDEntryType.OFFER, Decimal("100100"), Decimal("2")),
            ),
        )
    )
    mm.requote_dirty()
    return mm, sent


def fill_report(order: NewOrder, qty: Decimal, exec_id: str = "E1") -> ExecutionReport:
    """A full fill of ``order`` at its price."""
    return ExecutionReport(
        order_id="V1",
        cl_ord_id=order.cl_ord_id,
        exec_id=exec_id,
        exec_type=ExecType.TRADE,
        ord_status=OrdStatus.FILLED,
        symbol=order.symbol,
        side=order.side,
        order_qty=order.quantity,
        leaves_qty=Decimal(0),
        cum_qty=qty,
        price=order.price,
        last_qty=qty,
        last_px=order.price,
    )
