"""Reconciliation: bring the order manager in line with what the venue says over REST.

At start and after every order-entry reconnect the program lists the venue's active orders and
asks about each local working order the venue did not list (TrueX's FIX reports are not
replayed after a reconnect, spec §11.6). The venue is the truth: the corrections are
expressed as ExecutionReports fed through the order manager's normal transition table, so a
missed fill becomes a fill (and a position change) and a vanished order becomes canceled —
nothing is overwritten behind the state machine's back.

Venue orders we do not know (from an earlier run, or placed by hand) are cancelled or adopted,
as configured.

Fills come from the venue's trade history (``GET /api/v1/orders/trades``) since the last fill
the store holds: a trade whose ExecID (or TrdMatchID and side) is already recorded is known;
any other is a missed fill, recorded under the venue's own ExecID, so a late FIX report of the
same execution is a duplicate the order manager drops, and a second reconciliation finds it
known. A missed fill of an order this run knows goes through the order manager as a 35=8;
one of an order it does not know (placed by an earlier run) is a :class:`Fill` of its own
(:func:`recovered_fill`) that only the position takes. Once reconciled, the market maker also
lists the trades alone every few minutes (``ReconcileRequest.trades_only``), quoting on: that
moves the listing window on, and the recorded fills' keys the window has passed are dropped.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Protocol

from truex_qf.domain.model import ExecType, ExecutionReport, Fee, OrdStatus, TimeInForce
from truex_qf.domain.venue_orders import Balance, RestOrderStatus, VenueOrder, VenueTrade
from truex_qf.trading.orders import Fill, ManagedOrder

RECONCILED_TEXT = "reconciled with the venue"
MISSED_FILL_TEXT = "missed fill, from the venue's trade history"
EXCHANGE_FEE = "4"  # MiscFeeType(139) of the venue's fee, as its reports carry it
_LIQUIDITY = {"MAKER": "1", "TAKER": "2"}  # the trade object's words -> LastLiquidityInd(851)
_ids = itertools.count(1)


class UnknownOrderPolicy(str, Enum):
    """What to do with a venue order this process did not place."""

    CANCEL = "cancel"
    ADOPT = "adopt"


@dataclass(frozen=True)
class ReconcileRequest:
    """What the trading loop asks: the ClOrdIDs it believes are working, at request time."""

    working_cl_ord_ids: tuple[str, ...]
    trades_since_s: float | None = None
    """Epoch seconds from which to list the venue's trades (None: its whole history)."""
    trades_only: bool = False
    """Only the trades (the market maker's periodic listing, which moves its window on):
    no orders, statuses or balances, and quoting does not wait for the answer."""


class VenueRequests(Protocol):
    """What the market maker asks the venue over REST, handed to it at construction (the
    runner's :class:`~truex_qf.rest.worker.RestWorker` meets it; its answers come back on the
    trading loop's queue). Each call only queues the request: it never blocks the loop."""

    def reconcile(self, request: ReconcileRequest) -> None:
        """Active orders, the status of ``request``'s working orders, trades since its time."""

    def deadman(self, known_cl_ord_ids: tuple[str, ...]) -> None:
        """Order entry is down: cancel every order we know of over REST."""

    def cancel_orders(self, order_ids: tuple[str, ...]) -> None:
        """Cancel venue orders this process did not place (by the venue's order id)."""


@dataclass(frozen=True)
class ReconcileResult:
    """The venue's answer: its active orders, the status of each local order it did not list
    (None when the venue does not know it), its trades since the request's time (None when it
    serves no trade history) and the account's balances. ``error`` is set when REST could not
    be reached: nothing else is then known."""

    active: tuple[VenueOrder, ...] = ()
    statuses: dict[str, VenueOrder | None] = field(default_factory=dict)
    trades: tuple[VenueTrade, ...] | None = ()
    balances: tuple[Balance, ...] = ()
    error: str | None = None
    trades_only: bool = False
    """The answer to a ``trades_only`` request: ``active`` and ``statuses`` were not asked."""


@dataclass(frozen=True)
class DeadmanResult:
    """The outcome of cancelling every order over REST after order entry dropped."""

    canceled: int
    failed: tuple[tuple[str, str], ...]
    error: str | None = None


def _report(order: ManagedOrder, venue: VenueOrder | None) -> ExecutionReport:
    """The order as it stands, as a New; callers ``_replace`` the fields the venue changed."""
    return ExecutionReport(
        order_id=(venue.order_id if venue else None) or order.order_id or "NONE",
        cl_ord_id=order.cl_ord_id,
        exec_id=f"RECON-{next(_ids)}-{order.cl_ord_id}",
        exec_type=ExecType.NEW,
        ord_status=OrdStatus.NEW,
        symbol=order.symbol,
        side=order.side,
        order_qty=order.qty,
        leaves_qty=order.remaining_qty,
        cum_qty=order.cum_qty,
        price=order.price,
        text=RECONCILED_TEXT,
    )


def corrections(order: ManagedOrder, venue: VenueOrder | None) -> list[ExecutionReport]:
    """The reports that take ``order`` to what the venue says (empty when they agree)."""
    if venue is None:  # the venue does not know it: it is not working
        return [
            _report(order, None)._replace(
                exec_type=ExecType.CANCELED,
                ord_status=OrdStatus.CANCELED,
                leaves_qty=Decimal(0),
            )
        ]
    reports: list[ExecutionReport] = []
    executed = venue.executed_qty or Decimal(0)
    missed = executed - order.cum_qty
    status = venue.status
    if missed > 0:  # fills we never heard of over FIX
        done = status is RestOrderStatus.FILLED or executed >= order.qty
        reports.append(
            _report(order, venue)._replace(
                exec_type=ExecType.TRADE,
                ord_status=OrdStatus.FILLED if done else OrdStatus.PARTIALLY_FILLED,
                last_qty=missed,
                last_px=venue.executed_vwap or order.price,
                cum_qty=executed,
                leaves_qty=Decimal(0) if done else order.qty - executed,
            )
        )
    if status in (RestOrderStatus.CANCELED, RestOrderStatus.REJECTED):
        terminal = ExecType.CANCELED if status is RestOrderStatus.CANCELED else ExecType.REJECTED
        reports.append(
            _report(order, venue)._replace(
                exec_type=terminal,
                ord_status=OrdStatus(terminal.value),
                cum_qty=max(executed, order.cum_qty),
                leaves_qty=Decimal(0),
            )
        )
    elif status is RestOrderStatus.ACTIVE and not order.acknowledged and not reports:
        reports.append(_report(order, venue))  # the New we never saw
    return reports


def unknown_venue_orders(
    active: Iterable[VenueOrder], known_cl_ord_ids: set[str]
) -> list[VenueOrder]:
    """Active venue orders whose ClOrdID (external_id) is not one of ours."""
    return [order for order in active if (order.external_id or "") not in known_cl_ord_ids]


def adoption_report(venue: VenueOrder) -> ExecutionReport | None:
    """The New report that makes an adopted venue order a managed one (None when the venue
    order lacks an id, its symbol or its side: nothing could manage it).

    Only what is still open is adopted: fills before adoption belong to whoever placed the
    order (an earlier run), not to this run's position, so the managed order's quantity is the
    venue's leaves quantity with nothing filled yet.
    """
    cl_ord_id = venue.external_id or venue.order_id
    if not cl_ord_id or not venue.symbol or venue.side is None:
        return None
    quantity = venue.quantity or Decimal(0)
    executed = venue.executed_qty or Decimal(0)
    open_qty = venue.leaves_qty if venue.leaves_qty else quantity - executed
    return ExecutionReport(
        order_id=venue.order_id or "NONE",
        cl_ord_id=cl_ord_id,
        exec_id=f"RECON-{next(_ids)}-adopt",
        exec_type=ExecType.NEW,
        ord_status=OrdStatus.NEW,
        symbol=venue.symbol,
        side=venue.side,
        order_qty=open_qty,
        leaves_qty=open_qty,
        cum_qty=Decimal(0),
        price=venue.price,
        time_in_force=TimeInForce.GTC,
        text=RECONCILED_TEXT,
    )


def trade_report(order: ManagedOrder, trade: VenueTrade) -> ExecutionReport:
    """The 35=8 (ExecType F) the venue sent, or would have sent, for ``trade`` of ``order``.

    It carries the venue's ExecID, so the order manager drops the FIX original if it arrives
    later; quantities follow from what the order had before this trade.
    """
    cum_qty = order.cum_qty + trade.quantity
    leaves = max(order.qty - cum_qty, Decimal(0))
    return _report(order, None)._replace(
        order_id=trade.order_id or order.order_id or "NONE",
        exec_id=trade.exec_id,
        exec_type=ExecType.TRADE,
        ord_status=OrdStatus.FILLED if leaves == 0 else OrdStatus.PARTIALLY_FILLED,
        last_qty=trade.quantity,
        last_px=trade.price,
        cum_qty=cum_qty,
        leaves_qty=leaves,
        trade_match_id=trade.trade_match_id,
        liquidity_indicator=_LIQUIDITY.get(trade.liquidity or "", trade.liquidity),
        fees=(Fee(trade.fee, EXCHANGE_FEE),) if trade.fee else (),
        text=MISSED_FILL_TEXT,
    )


def recovered_fill(trade: VenueTrade) -> Fill:
    """A trade of an order this run does not know (an earlier run's), as a Fill of its own."""
    return Fill(
        cl_ord_id=trade.external_id or trade.order_id or trade.exec_id,
        order_id=trade.order_id,
        symbol=trade.symbol,
        side=trade.side,
        qty=trade.quantity,
        price=trade.price,
        fee=trade.fee,
        exec_id=trade.exec_id,
        liquidity=_LIQUIDITY.get(trade.liquidity or "", trade.liquidity),
        trade_match_id=trade.trade_match_id,
    )


def trade_keys(exec_id: str, trade_match_id: str | None, side: object) -> tuple[object, ...]:
    """What identifies an execution: its ExecID, and its match and side when the venue says."""
    keys: tuple[object, ...] = (exec_id,)
    if trade_match_id:
        keys += ((trade_match_id, getattr(side, "name", side)),)
    return keys
