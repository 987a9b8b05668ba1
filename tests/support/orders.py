"""Execution reports about a managed order, as TrueX would send them."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

from truex_qf.domain.model import (
    CancelOrder,
    ExecType,
    ExecutionReport,
    Fee,
    OrdStatus,
    ReplaceOrder,
)
from truex_qf.trading.orders import ManagedOrder

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
