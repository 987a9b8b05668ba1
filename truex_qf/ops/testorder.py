"""``truex-qf test-order``: log on, place one small limit order, see it acknowledged, cancel it.

The smoke test a trader runs before going live. It succeeds only when every step happened;
any refusal, reject or timeout raises a typed :class:`~truex_qf.domain.errors.TruexError` whose text
is the one-line reason the CLI prints.

Without ``--price`` it asks the market-data gateway for the top of book and bids (or offers)
``distance_bps`` behind it, rounded away from the market on TrueX's grid: far enough not to
trade, close enough to stay inside the venue's price band (orders far from the book are
rejected with ``Order outside book price bands``).
"""

from __future__ import annotations

import math
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeGuard, TypeVar

from truex_qf.config import FixSettings
from truex_qf.domain.clordid import ClOrdIdGenerator
from truex_qf.domain.errors import (
    ConfigError,
    LogonRejectedError,
    OrderRejectedError,
    SessionTimeoutError,
    TruexError,
)
from truex_qf.domain.increments import PriceGrid
from truex_qf.domain.model import (
    CancelOrder,
    ExecType,
    ExecutionReport,
    InboundEvent,
    LogonRefused,
    MarketDataReject,
    MarketDataSnapshot,
    MDEntryType,
    NewOrder,
    OrderCancelReject,
    SessionRole,
    Side,
    SubscribeMarketData,
    SubscriptionRequestType,
)
from truex_qf.fix.client import FixClient

Report = Callable[[str], None]
E = TypeVar("E", bound=InboundEvent)


@dataclass(frozen=True)
class TestOrderRequest:
    """What to place; ``price`` None means "derive it from the top of book"."""

    __test__ = False  # not a pytest test class, despite the name

    symbol: str = "BTC-PYUSD"
    side: Side = Side.BUY
    quantity: Decimal = Decimal("0.001")
    price: Decimal | None = None
    distance_bps: Decimal = Decimal(100)
    timeout_s: float = 15.0


class _Events:
    """The client's event queue, read with a deadline; a logon refusal ends any wait."""

    def __init__(self) -> None:
        self.queue: queue.Queue[InboundEvent] = queue.Queue()

    def wait_for(
        self, accept: Callable[[InboundEvent], TypeGuard[E]], what: str, timeout_s: float
    ) -> E:
        """The first event ``accept`` takes; its TypeGuard says what kinds of event that is."""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SessionTimeoutError(f"no {what} within {timeout_s:g} s")
            try:
                event = self.queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if isinstance(event, LogonRefused):
                raise LogonRejectedError(f"{event.role.value} logon refused: {event.text}")
            if accept(event):
                return event


def run_test_order(config: FixSettings, request: TestOrderRequest, report: Report = print) -> None:
    """Place, acknowledge and cancel one order; raise a TruexError on anything else."""
    grid = PriceGrid()
    events = _Events()
    roles = {SessionRole.ORDER_ENTRY}
    if request.price is None:
        roles.add(SessionRole.MARKET_DATA)
    _check_request(request)
    if request.price is not None:
        _check_grid(grid, request.price, request.quantity)  # a typo costs no logon
    client = FixClient(config, events.queue.put, roles=frozenset(roles))
    started = time.monotonic()

    def step(text: str) -> None:
        report(f"[{(time.monotonic() - started) * 1000:8.1f} ms] {text}")

    step(f"connecting to {config.host}:{config.order_entry_port} as {config.sender_comp_id}")
    client.start()
    try:
        client.wait_logged_on(SessionRole.ORDER_ENTRY, request.timeout_s)
        step(f"order entry logged on ({config.order_entry_target})")
        price = request.price
        if price is None:
            price = _price_from_book(client, events, request, grid)
            step(f"top of book gives price {price} ({request.distance_bps} bps behind)")
        _check_grid(grid, price, request.quantity)
        ids = ClOrdIdGenerator(prefix="T")
        order = NewOrder(ids.next_id(), request.symbol, request.side, request.quantity, price)
        client.send(order)
        what = f"{request.side.name} {request.quantity} {request.symbol} @ {price}"
        step(f"sent NewOrderSingle {order.cl_ord_id}: {what}")
        ack = _wait_report(events, order.cl_ord_id, "acknowledgement", request.timeout_s)
        if ack.exec_type is not ExecType.NEW:
            raise OrderRejectedError(_unexpected(ack, "New"))
        step(f"acknowledged: New, OrderID {ack.order_id}")
        cancel = CancelOrder(ids.next_id(), order.cl_ord_id)
        client.send(cancel)
        step(f"sent OrderCancelRequest {cancel.cl_ord_id}")
        done = _wait_report(events, order.cl_ord_id, "cancel acknowledgement", request.timeout_s)
        if done.exec_type is not ExecType.CANCELED:
            raise OrderRejectedError(_unexpected(done, "Canceled"))
        step(f"canceled: OrderID {done.order_id}")
    finally:
        client.stop()
    step("logged out")


def _check_request(request: TestOrderRequest) -> None:
    """Inputs no venue answer can fix: each is the user's to correct (ConfigError, exit 2)."""
    if not (math.isfinite(request.timeout_s) and request.timeout_s > 0):
        raise ConfigError(
            "--timeout", f"{request.timeout_s:g} must be a positive number of seconds"
        )
    if not 0 <= request.distance_bps < 10_000:
        raise ConfigError("--distance-bps", f"{request.distance_bps} must be below 10000 (100 %)")


def _check_grid(grid: PriceGrid, price: Decimal, quantity: Decimal) -> None:
    """An order TrueX would refuse for its grid is the user's input to fix: ConfigError (exit 2).

    A price derived from the book is on the tick by construction, so an off-tick price is
    always ``--price``; the lot and the minimum notional are about ``--quantity``.
    """
    problem = grid.check_order(price, quantity)
    if problem is None:
        return
    step = grid.increment_for(price)
    setting = "--price" if problem == "Invalid price increment" else "--quantity"
    raise ConfigError(
        setting,
        f"{problem} for {quantity} @ {price} on TrueX's grid (at this price: tick {step.tick}, "
        f"lot {step.lot}, minimum notional {grid.min_notional})",
    )


def _price_from_book(
    client: FixClient, events: _Events, request: TestOrderRequest, grid: PriceGrid
) -> Decimal:
    client.wait_logged_on(SessionRole.MARKET_DATA, request.timeout_s)
    md_req_id = f"TO{int(time.time() * 1000) % 10**10}"
    client.send(
        SubscribeMarketData(md_req_id, (request.symbol,), 1, SubscriptionRequestType.SNAPSHOT)
    )

    def answers(event: InboundEvent) -> TypeGuard[MarketDataSnapshot | MarketDataReject]:
        return (
            isinstance(event, MarketDataSnapshot | MarketDataReject)
            and event.md_req_id == md_req_id
        )

    answer = events.wait_for(answers, f"market data for {request.symbol}", request.timeout_s)
    if isinstance(answer, MarketDataReject):
        raise TruexError(f"market data refused for {request.symbol}: {answer.text}; pass --price")
    entry_type = MDEntryType.BID if request.side is Side.BUY else MDEntryType.OFFER
    prices = [
        e.price for e in answer.entries if e.entry_type is entry_type and e.size > 0 and e.price > 0
    ]
    if not prices:
        raise TruexError(f"no {entry_type.name.lower()} in the {request.symbol} book; pass --price")
    is_buy = request.side is Side.BUY
    best = max(prices) if is_buy else min(prices)
    factor = 1 - request.distance_bps / 10_000 if is_buy else 1 + request.distance_bps / 10_000
    return grid.round_price(best * factor, side_is_buy=is_buy)


def _wait_report(events: _Events, cl_ord_id: str, what: str, timeout_s: float) -> ExecutionReport:
    """The next decisive report about order ``cl_ord_id`` (PendingNew and the like are skipped)."""

    def decisive(event: InboundEvent) -> TypeGuard[ExecutionReport | OrderCancelReject]:
        if isinstance(event, OrderCancelReject):
            return event.orig_cl_ord_id == cl_ord_id
        if not isinstance(event, ExecutionReport):
            return False
        mine = cl_ord_id in (event.cl_ord_id, event.orig_cl_ord_id)
        return mine and event.exec_type not in (ExecType.PENDING_NEW, ExecType.PENDING_CANCEL)

    event = events.wait_for(decisive, what, timeout_s)
    if isinstance(event, OrderCancelReject):
        raise OrderRejectedError(
            f"cancel rejected: {event.text or 'no reason given'} (102={event.reason})"
        )
    return event


def _unexpected(report: ExecutionReport, wanted: str) -> str:
    reason = f": {report.text}" if report.text else ""
    return f"expected {wanted}, venue answered {report.exec_type.name}{reason}"
