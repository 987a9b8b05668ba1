"""A stand-in venue that answers every order the moment it is sent: no engine, no matching.

For driving a :class:`~truex_qf.trading.market_maker.MarketMaker` in one process, one call
after another: ``bench/hot_path.py`` times the trading code this way, and tests use it to
compare market makers fed the same stream. :func:`settle_quotes` starts such a run (the soak's
too, against its matching engine). New orders are acknowledged (PendingNew, New),
replaces replaced and cancels cancelled; nothing ever fills. It lives beside the market maker
it drives, not in :mod:`truex_qf.sim` (the simulated exchange, which knows nothing of the
trading side).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from decimal import Decimal

from bench.common import MD_SYMBOL
from bench.stream import BookStream, build_snapshot
from truex_qf.domain.model import (
    CancelOrder,
    ExecType,
    ExecutionReport,
    NewOrder,
    OrdStatus,
    ReplaceOrder,
    SessionLoggedOn,
    SessionRole,
)
from truex_qf.fix.readers import READERS
from truex_qf.trading.market_maker import MarketMaker
from truex_qf.trading.orders import ManagedOrder, OrderState

MD_REQ_ID = "MD1"  # the bench stream's subscription in a one-process run


def settle_quotes(mm: MarketMaker, answer: Callable[[MarketMaker], None], seed: int) -> BookStream:
    """Log ``mm`` on, hand it the bench stream's book (seeded ``seed``) as a 35=W snapshot and
    let its two quotes rest: ``answer`` gives it the venue's reports to what it sent. Exits
    unless both quotes are New; the stream, for the run to go on with."""
    for role in SessionRole:
        mm.handle(SessionLoggedOn(role, role.value))
    mm.books.register_subscription(MD_REQ_ID, (MD_SYMBOL,))
    stream = BookStream(seed=seed)
    mm.handle(READERS["W"](build_snapshot(stream, MD_REQ_ID).toString(), 0))
    mm.requote_dirty()
    answer(mm)
    working = mm.orders.working_orders(MD_SYMBOL)
    if len(working) != 2 or any(order.state is not OrderState.NEW for order in working):
        raise SystemExit(f"the quotes did not settle: {working}")
    return stream


class InstantVenue:
    """Pass :meth:`send` as the market maker's sender; :meth:`answer` replies to what it got."""

    def __init__(self) -> None:
        self.sent: list[object] = []  # what :meth:`answer` has not answered yet
        self.first_send_ns = 0  # perf_counter_ns of the first send since it was zeroed
        self._exec_ids = itertools.count(1)

    def send(self, command: object) -> bool:
        if not self.first_send_ns:
            self.first_send_ns = time.perf_counter_ns()
        self.sent.append(command)
        return True

    def answer(self, mm: MarketMaker, requote: Callable[[], None] | None = None) -> None:
        """Answer everything sent so far, then requote (``requote``, by default the market
        maker's ``requote_dirty``), until a requote sends nothing more."""
        requote = requote or mm.requote_dirty
        while self.sent:
            commands, self.sent = self.sent, []
            orders = {order.cl_ord_id: order for order in mm.orders.working_orders()}
            for command in commands:
                if isinstance(command, NewOrder) and command.cl_ord_id in orders:
                    order = orders[command.cl_ord_id]
                    mm.handle(self._report(order, ExecType.PENDING_NEW, OrdStatus.PENDING_NEW))
                    mm.handle(self._report(order, ExecType.NEW, OrdStatus.NEW))
                elif isinstance(command, ReplaceOrder) and command.orig_cl_ord_id in orders:
                    order = orders[command.orig_cl_ord_id]
                    mm.handle(
                        self._report(
                            order,
                            ExecType.REPLACED,
                            OrdStatus.NEW,
                            answering=command.cl_ord_id,
                            price=command.price,
                            qty=command.quantity,
                        )
                    )
                elif isinstance(command, CancelOrder) and command.orig_cl_ord_id in orders:
                    order = orders[command.orig_cl_ord_id]
                    mm.handle(
                        self._report(
                            order, ExecType.CANCELED, OrdStatus.CANCELED, command.cl_ord_id
                        )
                    )
            requote()

    def _report(
        self,
        order: ManagedOrder,
        exec_type: ExecType,
        ord_status: OrdStatus,
        answering: str | None = None,
        price: Decimal | None = None,
        qty: Decimal | None = None,
    ) -> ExecutionReport:
        """A report about ``order``; ``answering``: the ClOrdID of the cancel or replace."""
        quantity = qty if qty is not None else order.qty
        return ExecutionReport(
            order_id=f"V-{order.cl_ord_ids[0] if order.cl_ord_ids else order.cl_ord_id}",
            cl_ord_id=answering or order.cl_ord_id,
            exec_id=str(next(self._exec_ids)),
            exec_type=exec_type,
            ord_status=ord_status,
            symbol=order.symbol,
            side=order.side,
            order_qty=quantity,
            leaves_qty=Decimal(0) if ord_status is OrdStatus.CANCELED else quantity,
            cum_qty=Decimal(0),
            price=price if price is not None else order.price,
            orig_cl_ord_id=order.cl_ord_id if answering else None,
        )
