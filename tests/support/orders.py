"""Execution reports about a managed order, as TrueX would send them."""

from __future__ import annotations

import itertools
from decimal import Decimal as D
from typing import Any

from truex_qf.domain.model import (
    CancelOrder,
    ExecType,
    ExecutionReport,
    Fee,
    NewOrder,
    OrdStatus,
    ReplaceOrder,
    Side,
)
from truex_qf.trading.orders import ManagedOrder, OrderManager

_exec_ids = itertools.count(1)


def report(
    order: ManagedOrder,
    exec_type: ExecType,
    ord_status: OrdStatus,
    *,
    cum: str = "0",
    leaves: str | None = None,
    last_qty: str | None = None,
    last_px: str | None = None,
    cl_ord_id: str | None = None,
    orig_cl_ord_id: str | None = None,
    answering: CancelOrder | ReplaceOrder | None = None,
    exec_id: str | None = None,
    order_id: str = "555",
    price: str | None = None,
    order_qty: str | None = None,
    fees: tuple[Fee, ...] = (),
    text: str | None = None,
) -> ExecutionReport:
    """An ExecutionReport about ``order`` as TrueX would send it; ``answering`` a cancel or
    replace request, with its ClOrdID and the order's current one as OrigClOrdID."""
    if answering is not None:
        cl_ord_id = cl_ord_id or answering.cl_ord_id
        orig_cl_ord_id = orig_cl_ord_id or order.cl_ord_id
    qty = D(order_qty) if order_qty is not None else order.qty
    return ExecutionReport(
        order_id=order_id,
        cl_ord_id=cl_ord_id or order.cl_ord_id,
        exec_id=exec_id or str(next(_exec_ids)),
        exec_type=exec_type,
        ord_status=ord_status,
        symbol=order.symbol,
        side=order.side,
        order_qty=qty,
        leaves_qty=D(leaves) if leaves is not None else qty - D(cum),
        cum_qty=D(cum),
        price=D(price) if price is not None else order.price,
        orig_cl_ord_id=orig_cl_ord_id,
        last_qty=D(last_qty) if last_qty is not None else None,
        last_px=D(last_px) if last_px is not None else None,
        fees=fees,
        text=text,
    )


def new_order(
    manager: OrderManager, symbol: str, side: Side, qty: D, price: D | None, **options: Any
) -> NewOrder:
    """Draft and track in one step (PENDING_NEW), as the market maker does after its risk
    check; ``options``: :meth:`OrderManager.draft_new_order`'s."""
    order = manager.draft_new_order(symbol, side, qty, price, **options)
    manager.track(order)
    return order


def working_quantity(manager: OrderManager, symbol: str, side: Side) -> D:
    """Worst-case quantity that may still trade on one side of ``symbol``."""
    buy, sell, _ = manager.exposure_totals(symbol)
    return buy if side is Side.BUY else sell
