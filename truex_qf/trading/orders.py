"""Order lifecycle: an explicit (state, trigger) -> state table and the manager that applies it.

Threading: one owner at a time. The FIX edge copies each inbound ExecutionReport,
OrderCancelReject and BusinessMessageReject into a domain value and applies it holding the
runner's trading lock; the strategy asks for new orders, cancels and replaces under that same
lock. :class:`OrderManager` is therefore written without locks of its own: adding one would
only hide a second writer that must not exist.

Why a table: the JS project lost partial fills and flooded its logs with "unknown status"
because transitions were improvised per message (spec §13.2 items 13 and 14). Here every legal
move is one line of :data:`TRANSITIONS`; anything else is logged as an error, reported as an
:class:`OrderWarning` and *not* applied. Fills are the exception to "not applied": a fill is
money that moved at the venue, so its quantity always reaches the order and the position even
when the state move it implies is illegal.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from types import MappingProxyType
from typing import NamedTuple

from truex_qf.domain.clordid import ClOrdIdGenerator
from truex_qf.domain.model import (
    NO_ORDER_ID,
    BusinessMessageReject,
    CancelOrder,
    CxlRejResponseTo,
    ExecType,
    ExecutionReport,
    NewOrder,
    OrderCancelReject,
    OrdStatus,
    OrdType,
    ReplaceOrder,
    SelfMatchPrevention,
    Side,
    TimeInForce,
)

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
# A lineage remembers its original ClOrdID and this many of its latest: a quote replaced all
# day would otherwise keep every ID it ever had. The venue answers requests in order, so a
# report naming an ID this far back does not come; if one did, it is an unknown order (whose
# fill still reaches the position).
LINEAGE_IDS_KEPT = 32
# Likewise a lineage's history keeps its first entry (SUBMITTED, when it was placed) and its
# latest this many: each replace adds three (PENDING_REPLACE, REPLACED, NEW), so a quote
# replaced all day would otherwise keep them all (the bench's soak saw it grow with the run).
HISTORY_KEPT = 32

# --------------------------------------------------------------------------- states


class OrderState(str, Enum):
    """Where one order lineage stands, as far as this process knows."""

    PENDING_NEW = "PENDING_NEW"
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    CANCELED = "CANCELED"
    PENDING_REPLACE = "PENDING_REPLACE"
    REPLACED = "REPLACED"
    """Transient: the old ClOrdID was replaced; the lineage moves on under the new one."""
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    UNCERTAIN = "UNCERTAIN"
    """No answer in time, or the venue no longer knows the order: reconcile, do not assume."""

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def is_working(self) -> bool:
        """Whether the order may rest on (or be about to reach) the venue's book."""
        return self in WORKING_STATES


TERMINAL_STATES = frozenset(
    {OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED, OrderState.EXPIRED}
)
REQUEST_PENDING_STATES = frozenset(
    {OrderState.PENDING_NEW, OrderState.PENDING_CANCEL, OrderState.PENDING_REPLACE}
)
SETTLED_STATES = TERMINAL_STATES | {OrderState.NEW, OrderState.PARTIALLY_FILLED}
# UNCERTAIN counts as working: an order we cannot see may still fill, so risk must include it.
WORKING_STATES = frozenset(
    {
        OrderState.PENDING_NEW,
        OrderState.NEW,
        OrderState.PARTIALLY_FILLED,
        OrderState.PENDING_CANCEL,
        OrderState.PENDING_REPLACE,
        OrderState.UNCERTAIN,
    }
)


class Trigger(str, Enum):
    """What happened to an order: a venue report, a local request, or a timeout."""

    VENUE_PENDING_NEW = "VENUE_PENDING_NEW"
    VENUE_NEW = "VENUE_NEW"
    VENUE_PARTIAL_FILL = "VENUE_PARTIAL_FILL"
    VENUE_FILL = "VENUE_FILL"
    VENUE_PENDING_CANCEL = "VENUE_PENDING_CANCEL"
    VENUE_CANCELED = "VENUE_CANCELED"
    VENUE_PENDING_REPLACE = "VENUE_PENDING_REPLACE"
    VENUE_REPLACED = "VENUE_REPLACED"
    VENUE_REJECTED = "VENUE_REJECTED"
    VENUE_EXPIRED = "VENUE_EXPIRED"
    CANCEL_SENT = "CANCEL_SENT"
    REPLACE_SENT = "REPLACE_SENT"
    CANCEL_REJECTED = "CANCEL_REJECTED"
    REPLACE_REJECTED = "REPLACE_REJECTED"
    ORDER_UNKNOWN_AT_VENUE = "ORDER_UNKNOWN_AT_VENUE"
    REKEYED = "REKEYED"
    ACK_TIMEOUT = "ACK_TIMEOUT"


def _live_state(order: ManagedOrder) -> OrderState:
    """The resting state the order's fills imply, for a return from a refused request."""
    return OrderState.PARTIALLY_FILLED if order.cum_qty > ZERO else OrderState.NEW


Target = OrderState | Callable[["ManagedOrder"], OrderState]

_S = OrderState
_T = Trigger
# PendingNew/PendingCancel/PendingReplace reports only say "working on it" (spec §7.2): legal
# everywhere and never a state change, so they cannot flood the logs as the JS project did.
_BENIGN_TRIGGERS = (_T.VENUE_PENDING_NEW, _T.VENUE_PENDING_CANCEL, _T.VENUE_PENDING_REPLACE)

TRANSITIONS: Mapping[tuple[OrderState, Trigger], Target] = MappingProxyType(
    {
        **{(state, trigger): state for state in OrderState for trigger in _BENIGN_TRIGGERS},
        # Sent, waiting for the venue (TrueX sends PendingNew then New on every order).
        (_S.PENDING_NEW, _T.VENUE_NEW): _S.NEW,
        (_S.PENDING_NEW, _T.VENUE_PARTIAL_FILL): _S.PARTIALLY_FILLED,
        (_S.PENDING_NEW, _T.VENUE_FILL): _S.FILLED,
        (_S.PENDING_NEW, _T.VENUE_CANCELED): _S.CANCELED,
        (_S.PENDING_NEW, _T.VENUE_REJECTED): _S.REJECTED,
        (_S.PENDING_NEW, _T.VENUE_EXPIRED): _S.EXPIRED,
        (_S.PENDING_NEW, _T.CANCEL_SENT): _S.PENDING_CANCEL,
        (_S.PENDING_NEW, _T.ACK_TIMEOUT): _S.UNCERTAIN,
        # Resting.
        (_S.NEW, _T.VENUE_PARTIAL_FILL): _S.PARTIALLY_FILLED,
        (_S.NEW, _T.VENUE_FILL): _S.FILLED,
        (_S.NEW, _T.VENUE_CANCELED): _S.CANCELED,
        (_S.NEW, _T.VENUE_EXPIRED): _S.EXPIRED,
        (_S.NEW, _T.CANCEL_SENT): _S.PENDING_CANCEL,
        (_S.NEW, _T.REPLACE_SENT): _S.PENDING_REPLACE,
        (_S.PARTIALLY_FILLED, _T.VENUE_PARTIAL_FILL): _S.PARTIALLY_FILLED,
        (_S.PARTIALLY_FILLED, _T.VENUE_FILL): _S.FILLED,
        (_S.PARTIALLY_FILLED, _T.VENUE_CANCELED): _S.CANCELED,
        (_S.PARTIALLY_FILLED, _T.VENUE_EXPIRED): _S.EXPIRED,
        (_S.PARTIALLY_FILLED, _T.CANCEL_SENT): _S.PENDING_CANCEL,
        (_S.PARTIALLY_FILLED, _T.REPLACE_SENT): _S.PENDING_REPLACE,
        # Cancel in flight: the order keeps trading until the venue acts on the cancel.
        (_S.PENDING_CANCEL, _T.VENUE_NEW): _S.PENDING_CANCEL,
        (_S.PENDING_CANCEL, _T.VENUE_PARTIAL_FILL): _S.PENDING_CANCEL,
        (_S.PENDING_CANCEL, _T.VENUE_FILL): _S.FILLED,
        (_S.PENDING_CANCEL, _T.VENUE_CANCELED): _S.CANCELED,
        (_S.PENDING_CANCEL, _T.VENUE_REJECTED): _S.REJECTED,
        (_S.PENDING_CANCEL, _T.VENUE_EXPIRED): _S.EXPIRED,
        (_S.PENDING_CANCEL, _T.CANCEL_REJECTED): _live_state,
        (_S.PENDING_CANCEL, _T.ORDER_UNKNOWN_AT_VENUE): _S.UNCERTAIN,
        (_S.PENDING_CANCEL, _T.ACK_TIMEOUT): _S.UNCERTAIN,
        # Replace in flight.
        (_S.PENDING_REPLACE, _T.VENUE_PARTIAL_FILL): _S.PENDING_REPLACE,
        (_S.PENDING_REPLACE, _T.VENUE_FILL): _S.FILLED,
        (_S.PENDING_REPLACE, _T.VENUE_CANCELED): _S.CANCELED,
        (_S.PENDING_REPLACE, _T.VENUE_EXPIRED): _S.EXPIRED,
        (_S.PENDING_REPLACE, _T.VENUE_REPLACED): _S.REPLACED,
        (_S.PENDING_REPLACE, _T.REPLACE_REJECTED): _live_state,
        (_S.PENDING_REPLACE, _T.ORDER_UNKNOWN_AT_VENUE): _S.UNCERTAIN,
        (_S.PENDING_REPLACE, _T.ACK_TIMEOUT): _S.UNCERTAIN,
        (_S.REPLACED, _T.REKEYED): _live_state,
        # Terminal. A fill after a cancel or expiry is legal (it crossed the cancel at the
        # venue); a refused cancel/replace of an order that already ended is the expected race.
        (_S.CANCELED, _T.VENUE_PARTIAL_FILL): _S.CANCELED,
        (_S.CANCELED, _T.VENUE_FILL): _S.FILLED,
        (_S.EXPIRED, _T.VENUE_PARTIAL_FILL): _S.EXPIRED,
        (_S.EXPIRED, _T.VENUE_FILL): _S.FILLED,
        **{
            (state, trigger): state
            for state in TERMINAL_STATES
            for trigger in (_T.CANCEL_REJECTED, _T.REPLACE_REJECTED, _T.ORDER_UNKNOWN_AT_VENUE)
        },
        # Uncertain: whatever the venue says next settles it.
        (_S.UNCERTAIN, _T.VENUE_NEW): _S.NEW,
        (_S.UNCERTAIN, _T.VENUE_PARTIAL_FILL): _S.PARTIALLY_FILLED,
        (_S.UNCERTAIN, _T.VENUE_FILL): _S.FILLED,
        (_S.UNCERTAIN, _T.VENUE_CANCELED): _S.CANCELED,
        (_S.UNCERTAIN, _T.VENUE_REJECTED): _S.REJECTED,
        (_S.UNCERTAIN, _T.VENUE_EXPIRED): _S.EXPIRED,
        (_S.UNCERTAIN, _T.VENUE_REPLACED): _S.REPLACED,
        (_S.UNCERTAIN, _T.CANCEL_SENT): _S.PENDING_CANCEL,
        (_S.UNCERTAIN, _T.CANCEL_REJECTED): _live_state,
        (_S.UNCERTAIN, _T.REPLACE_REJECTED): _live_state,
        (_S.UNCERTAIN, _T.ORDER_UNKNOWN_AT_VENUE): _S.UNCERTAIN,
    }
)
"""Every legal move. A (state, trigger) pair not listed here is an error, logged and ignored."""

# --------------------------------------------------------------------------- reason codes

# State-change reasons (OrderStateChanged.reason, ManagedOrder.history).
SUBMITTED = "SUBMITTED"
ACCEPTED = "ACCEPTED"
PARTIAL_FILL = "PARTIAL_FILL"
FILLED = "FILLED"
CANCEL_REQUESTED = "CANCEL_REQUESTED"
CANCEL_ACK = "CANCEL_ACK"
IOC_REMAINDER_CANCELED = "IOC_REMAINDER_CANCELED"
UNSOLICITED_CANCEL = "UNSOLICITED_CANCEL"
REPLACE_REQUESTED = "REPLACE_REQUESTED"
REPLACE_ACK = "REPLACE_ACK"
VENUE_REJECT = "VENUE_REJECT"
BUSINESS_REJECT = "BUSINESS_REJECT"
EXPIRED = "EXPIRED"
CANCEL_REJECTED = "CANCEL_REJECTED"
REPLACE_REJECTED = "REPLACE_REJECTED"
ORDER_UNKNOWN_AT_VENUE = "ORDER_UNKNOWN_AT_VENUE"
ACK_TIMEOUT = "ACK_TIMEOUT"

# Warning codes (OrderWarning.code).
UNKNOWN_ORDER = "UNKNOWN_ORDER"
ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
OVERFILL = "OVERFILL"
CUM_QTY_MISMATCH = "CUM_QTY_MISMATCH"
LATE_FILL = "LATE_FILL"
INCOMPLETE_FILL = "INCOMPLETE_FILL"
STALE_REJECT = "STALE_REJECT"
ORDER_ID_CHANGED = "ORDER_ID_CHANGED"

# Refusal codes (OrderRefused.code).
REFUSED_UNKNOWN_ORDER = "UNKNOWN_ORDER"
REFUSED_REQUEST_PENDING = "REQUEST_PENDING"
REFUSED_TERMINAL = "TERMINAL"
REFUSED_NOT_ACKNOWLEDGED = "NOT_ACKNOWLEDGED"
REFUSED_UNCERTAIN = "UNCERTAIN"

# --------------------------------------------------------------------------- events


class Fill(NamedTuple):
    """One execution: the only thing positions are built from. ``fee`` is in quote currency.

    This and :class:`OrderStateChanged` are named tuples for the reason the domain model's
    per-order records are (see :mod:`truex_qf.domain.model`): one is built for every report.
    """

    cl_ord_id: str
    order_id: str | None
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    fee: Decimal
    exec_id: str
    liquidity: str | None
    trade_match_id: str | None


class OrderStateChanged(NamedTuple):
    """An order moved from ``previous`` to ``state``; ``reason`` is a code, ``text`` is 58."""

    cl_ord_id: str
    order_id: str | None
    symbol: str
    side: Side
    previous: OrderState
    state: OrderState
    reason: str
    text: str | None = None


@dataclass(frozen=True, slots=True)
class OrderWarning:
    """Something that needs a human or reconciliation: overfill, unknown order, illegal move."""

    code: str
    cl_ord_id: str | None
    detail: str


OrderEvent = Fill | OrderStateChanged | OrderWarning


def _event_rank(event: OrderEvent) -> int:
    """Fills first (positions before anything reacts), then state changes, then warnings."""
    return 0 if isinstance(event, Fill) else 1 if isinstance(event, OrderStateChanged) else 2


class OrderRefused(ValueError):
    """The manager will not build this request; ``code`` says why (e.g. REQUEST_PENDING)."""

    def __init__(self, code: str, cl_ord_id: str, detail: str) -> None:
        super().__init__(f"{code}: {cl_ord_id}: {detail}")
        self.code = code
        self.cl_ord_id = cl_ord_id


# --------------------------------------------------------------------------- the order


@dataclass(slots=True)
class ManagedOrder:
    """One order lineage: the original ClOrdID, its cancel/replace IDs, and what we know of it.

    ``cl_ord_id`` is the current ID (it changes when a replace is accepted); ``cl_ord_ids``
    holds the IDs that map to this lineage: the original and the latest
    ``LINEAGE_IDS_KEPT``; ``history`` its first state change and the latest ``HISTORY_KEPT``
    (state, reason, clock). ``cum_qty``/``leaves`` follow the venue;
    ``filled_qty`` is the sum of the LastQty we applied, kept apart so a lost or doubled fill
    shows up as a disagreement instead of silently drifting (spec §13.2 item 13).
    """

    cl_ord_id: str
    symbol: str
    side: Side
    price: Decimal | None
    qty: Decimal
    ord_type: OrdType = OrdType.LIMIT
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    order_id: str | None = None
    cum_qty: Decimal = ZERO
    leaves: Decimal = ZERO
    avg_px: Decimal | None = None
    state: OrderState = OrderState.PENDING_NEW
    history: list[tuple[OrderState, str, float]] = field(default_factory=list)
    cl_ord_ids: list[str] = field(default_factory=list)
    acknowledged: bool = False
    filled_qty: Decimal = ZERO
    filled_notional: Decimal = ZERO
    fees: Decimal = ZERO
    pending_request_id: str | None = None
    pending_price: Decimal | None = None
    pending_qty: Decimal | None = None
    request_sent_s: float | None = None

    @property
    def remaining_qty(self) -> Decimal:
        """Quantity not yet filled (what may still trade at the current order quantity)."""
        return max(self.qty - self.cum_qty, ZERO)

    @property
    def worst_case_open_qty(self) -> Decimal:
        """What may still trade, assuming the worst of an in-flight replace (old or new qty)."""
        if not self.state.is_working:
            return ZERO
        total = self.qty if self.pending_qty is None else max(self.qty, self.pending_qty)
        return max(total - self.cum_qty, ZERO)


# --------------------------------------------------------------------------- the manager


class OrderManager:
    """Owns every order of this process and turns venue reports into events.

    One owner at a time: call it only holding the trading lock (see module docstring).
    Requests (:meth:`track`, :meth:`cancel`, :meth:`replace`) change state *before* the
    message is sent, so a report that races the send still finds the order.
    """

    def __init__(
        self,
        id_generator: ClOrdIdGenerator,
        *,
        ack_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        exec_id_memory: int = 100_000,
    ) -> None:
        self._ids = id_generator
        self._ack_timeout_s = ack_timeout_s
        self._clock = clock
        self._orders: dict[str, ManagedOrder] = {}  # first ClOrdID -> lineage
        self._by_id: dict[str, ManagedOrder] = {}  # every ClOrdID (orders, cancels, replaces)
        # The orders of _orders not yet terminal, same order: risk checks and quoting read the
        # working ones on every decision, while _orders keeps a minute of finished orders
        # (thousands in a busy run). REPLACED stays in: the lineage goes live again at once.
        self._live: dict[int, ManagedOrder] = {}
        # ExecIDs are venue-wide (spec §6.4), so one bounded memory dedupes every order,
        # including reports for orders we do not know.
        self._seen_exec_ids: set[str] = set()
        self._exec_id_order: deque[str] = deque()
        self._exec_id_memory = exec_id_memory
        self.duplicate_exec_ids = 0

    # ----------------------------------------------------------------- requests

    def draft_new_order(
        self,
        symbol: str,
        side: Side,
        qty: Decimal,
        price: Decimal | None,
        *,
        ord_type: OrdType = OrdType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        self_match_prevention: SelfMatchPrevention | None = None,
    ) -> NewOrder:
        """A NewOrder with a fresh ClOrdID, not yet tracked: for the risk check before sending."""
        if qty <= ZERO:
            raise ValueError(f"order quantity must be positive, got {qty}")
        if ord_type is OrdType.LIMIT and price is None:
            raise ValueError("a limit order needs a price")
        return NewOrder(
            cl_ord_id=self._ids.next_id(),
            symbol=symbol,
            side=side,
            quantity=qty,
            price=price,
            ord_type=ord_type,
            time_in_force=time_in_force,
            post_only=post_only,
            self_match_prevention=self_match_prevention,
        )

    def track(self, order: NewOrder) -> ManagedOrder:
        """Register a drafted (and risk-approved) order in PENDING_NEW; call it before sending."""
        if order.cl_ord_id in self._by_id:
            raise ValueError(f"ClOrdID {order.cl_ord_id} is already tracked")
        now_s = self._clock()
        managed = ManagedOrder(
            cl_ord_id=order.cl_ord_id,
            symbol=order.symbol,
            side=order.side,
            price=order.price,
            qty=order.quantity,
            ord_type=order.ord_type,
            time_in_force=order.time_in_force,
            post_only=order.post_only,
            cl_ord_ids=[order.cl_ord_id],
            history=[(OrderState.PENDING_NEW, SUBMITTED, now_s)],
            request_sent_s=now_s,
        )
        self._orders[order.cl_ord_id] = managed
        self._by_id[order.cl_ord_id] = managed
        self._live[id(managed)] = managed
        return managed

    def cancel(self, cl_ord_id: str) -> CancelOrder:
        """Move the order to PENDING_CANCEL and return the OrderCancelRequest to send.

        Refused (:class:`OrderRefused`) when a cancel or replace is already in flight or the
        order has ended. Allowed from PENDING_NEW (a kill switch must reach unacknowledged
        orders too) and from UNCERTAIN (a cancel is the cheapest way to learn the truth).
        """
        order = self._require(cl_ord_id)
        if order.state.is_terminal or order.state is OrderState.REPLACED:
            raise OrderRefused(REFUSED_TERMINAL, cl_ord_id, f"order is {order.state.value}")
        if order.state in (OrderState.PENDING_CANCEL, OrderState.PENDING_REPLACE):
            raise OrderRefused(REFUSED_REQUEST_PENDING, cl_ord_id, f"{order.state.value}")
        request = CancelOrder(cl_ord_id=self._ids.next_id(), orig_cl_ord_id=order.cl_ord_id)
        self._start_request(order, request.cl_ord_id)
        self._apply(order, Trigger.CANCEL_SENT, CANCEL_REQUESTED)
        return request

    def cancel_all(self, symbol: str | None = None) -> list[CancelOrder]:
        """Cancel every working order that can take a cancel now; skips those already pending."""
        requests = []
        for order in self.working_orders(symbol):
            if order.state not in (OrderState.PENDING_CANCEL, OrderState.PENDING_REPLACE):
                requests.append(self.cancel(order.cl_ord_id))
        return requests

    def replace(self, cl_ord_id: str, price: Decimal, qty: Decimal) -> ReplaceOrder:
        """Move the order to PENDING_REPLACE; ``qty`` is the new *total* (FIX OrderQty semantics).

        Only acknowledged resting orders (NEW, PARTIALLY_FILLED) can be replaced: replacing an
        order the venue has not confirmed would stack two unknowns.
        """
        order = self._require(cl_ord_id)
        self._check_replaceable(order, cl_ord_id, qty)
        request = ReplaceOrder(
            cl_ord_id=self._ids.next_id(),
            orig_cl_ord_id=order.cl_ord_id,
            quantity=qty,
            price=price,
            ord_type=order.ord_type,
        )
        self._start_request(order, request.cl_ord_id)
        order.pending_price = price
        order.pending_qty = qty
        self._apply(order, Trigger.REPLACE_SENT, REPLACE_REQUESTED)
        return request

    # ----------------------------------------------------------------- inbound

    def on_execution_report(self, er: ExecutionReport) -> list[OrderEvent]:
        """Apply one ExecutionReport; returns fills, state changes and warnings, in that order."""
        if self._is_duplicate(er.exec_id):
            self.duplicate_exec_ids += 1
            logger.debug("duplicate ExecID %s ignored (ClOrdID %s)", er.exec_id, er.cl_ord_id)
            return []
        order = self._find(er.cl_ord_id, er.orig_cl_ord_id)
        if order is None:
            return self._on_unknown_report(er)
        events: list[OrderEvent] = []
        events += self._learn_order_id(order, er)
        if er.exec_type is ExecType.TRADE:
            events += self._apply_fill(order, er)
        order.cum_qty = max(order.cum_qty, er.cum_qty)
        order.leaves = er.leaves_qty
        events += self._apply_report_state(order, er)
        events += self._check_quantities(order, er)
        return sorted(events, key=_event_rank)

    def on_cancel_reject(self, rej: OrderCancelReject) -> list[OrderEvent]:
        """A cancel or replace was refused (35=9).

        CxlRejReason 1 (unknown order) means the venue no longer has the order: it may have
        filled, so it goes to UNCERTAIN for reconciliation rather than CANCELED. Any other
        reason means the order is still live: back to NEW / PARTIALLY_FILLED.
        """
        order = self._find(rej.cl_ord_id, rej.orig_cl_ord_id)
        if order is None:
            return [self._warn(UNKNOWN_ORDER, rej.cl_ord_id, f"cancel reject: {rej.text}")]
        if order.pending_request_id != rej.cl_ord_id:
            return [
                self._warn(
                    STALE_REJECT,
                    order.cl_ord_id,
                    f"reject of {rej.cl_ord_id}, in flight is {order.pending_request_id}",
                )
            ]
        if rej.order_gone:
            trigger, reason = Trigger.ORDER_UNKNOWN_AT_VENUE, ORDER_UNKNOWN_AT_VENUE
        elif rej.response_to is CxlRejResponseTo.REPLACE:
            trigger, reason = Trigger.REPLACE_REJECTED, REPLACE_REJECTED
        else:
            trigger, reason = Trigger.CANCEL_REJECTED, CANCEL_REJECTED
        return self._resolve_refused_request(order, trigger, reason, rej.text)

    def on_business_reject(self, rej: BusinessMessageReject) -> list[OrderEvent]:
        """A 35=j naming one of our requests by BusinessRejectRefID (e.g. a throttle, 380=8).

        A refused NewOrderSingle never reached the book: REJECTED. A refused cancel or replace
        leaves the order as it was.
        """
        order = self._find(rej.ref_id, None) if rej.ref_id else None
        if order is None:
            detail = f"35=j {rej.ref_msg_type} ref {rej.ref_id} reason {rej.reason}: {rej.text}"
            return [self._warn(UNKNOWN_ORDER, rej.ref_id, detail)]
        if rej.ref_msg_type == "D" and rej.ref_id == order.cl_ord_ids[0]:
            return self._apply(order, Trigger.VENUE_REJECTED, BUSINESS_REJECT, rej.text)
        if rej.ref_msg_type not in ("F", "G") or order.pending_request_id != rej.ref_id:
            detail = f"35=j {rej.ref_msg_type} for {rej.ref_id}: {rej.text}"
            return [self._warn(STALE_REJECT, order.cl_ord_id, detail)]
        trigger = Trigger.REPLACE_REJECTED if rej.ref_msg_type == "G" else Trigger.CANCEL_REJECTED
        return self._resolve_refused_request(order, trigger, BUSINESS_REJECT, rej.text)

    def check_timeouts(self, now_s: float | None = None) -> list[OrderEvent]:
        """Orders whose request got no definitive answer in ``ack_timeout_s`` become UNCERTAIN.

        Not REJECTED: silence is not a refusal, and the order may be live at the venue. A
        PendingNew/PendingCancel report does not stop the clock; only a real answer does.
        """
        now = self._clock() if now_s is None else now_s
        events: list[OrderEvent] = []
        for order in list(self._orders.values()):
            sent = order.request_sent_s
            if order.state not in REQUEST_PENDING_STATES or sent is None:
                continue
            if now - sent >= self._ack_timeout_s:
                request_id = order.pending_request_id or order.cl_ord_id
                detail = f"no answer {now - sent:.3f}s after sending {request_id}"
                events += self._apply(order, Trigger.ACK_TIMEOUT, ACK_TIMEOUT, detail)
        return events

    # ----------------------------------------------------------------- queries

    def get(self, cl_ord_id: str) -> ManagedOrder | None:
        """The lineage any of its ClOrdIDs (original, replace, cancel) belongs to."""
        return self._by_id.get(cl_ord_id)

    def working_orders(self, symbol: str | None = None) -> list[ManagedOrder]:
        """Orders that may rest on the book or be on their way (UNCERTAIN included)."""
        return [
            o
            for o in self._live.values()
            if o.state.is_working and (symbol is None or o.symbol == symbol)
        ]

    def in_flight(self, cl_ord_id: str) -> bool:
        """Whether a new, cancel or replace request of this order awaits the venue's answer."""
        order = self._by_id.get(cl_ord_id)
        return order is not None and order.state in REQUEST_PENDING_STATES

    def open_order_count(self, symbol: str | None = None) -> int:
        """Working orders, for the venue's open-order limit (50 per client ID in UAT)."""
        return len(self.working_orders(symbol))

    def exposure_totals(self, symbol: str) -> tuple[Decimal, Decimal, int]:
        """The worst-case quantity that may still trade on each side of ``symbol`` (buy, sell)
        and the working orders of all symbols, in one pass: the risk check of every order
        asks for all three."""
        buy = sell = ZERO
        count = 0
        for order in self._live.values():
            if not order.state.is_working:
                continue
            count += 1
            if order.symbol == symbol:
                if order.side is Side.BUY:
                    buy += order.worst_case_open_qty
                else:
                    sell += order.worst_case_open_qty
        return buy, sell, count

    def forget_terminal(self, older_than_s: float, now_s: float | None = None) -> int:
        """Drop orders that ended more than ``older_than_s`` ago, so a long run stays bounded.

        A report that arrives later for a forgotten order is handled as an unknown order (and
        a fill in it still reaches the position).
        """
        now = self._clock() if now_s is None else now_s
        stale = [
            key
            for key, order in self._orders.items()
            if order.state.is_terminal and now - order.history[-1][2] >= older_than_s
        ]
        for key in stale:
            for cl_ord_id in self._orders.pop(key).cl_ord_ids:
                self._by_id.pop(cl_ord_id, None)
        return len(stale)

    # ----------------------------------------------------------------- internals: requests

    def _require(self, cl_ord_id: str) -> ManagedOrder:
        order = self._by_id.get(cl_ord_id)
        if order is None:
            raise OrderRefused(REFUSED_UNKNOWN_ORDER, cl_ord_id, "no such order")
        return order

    def _check_replaceable(self, order: ManagedOrder, cl_ord_id: str, qty: Decimal) -> None:
        if qty <= ZERO:
            raise ValueError(f"replace quantity must be positive, got {qty}")
        state = order.state
        if state.is_terminal or state is OrderState.REPLACED:
            raise OrderRefused(REFUSED_TERMINAL, cl_ord_id, f"order is {state.value}")
        if state is OrderState.PENDING_NEW:
            raise OrderRefused(REFUSED_NOT_ACKNOWLEDGED, cl_ord_id, "no New report yet")
        if state is OrderState.UNCERTAIN:
            raise OrderRefused(REFUSED_UNCERTAIN, cl_ord_id, "reconcile first")
        if state in (OrderState.PENDING_CANCEL, OrderState.PENDING_REPLACE):
            raise OrderRefused(REFUSED_REQUEST_PENDING, cl_ord_id, state.value)

    def _start_request(self, order: ManagedOrder, request_id: str) -> None:
        # pending_price/qty are left alone: a cancel of an UNCERTAIN order whose replace timed
        # out must still count the replace's quantity (and rekey if its Replaced turns up).
        order.pending_request_id = request_id
        order.request_sent_s = self._clock()
        self._remember_id(order, request_id)

    def _remember_id(self, order: ManagedOrder, cl_ord_id: str) -> None:
        """Map ``cl_ord_id`` to ``order``; forget the lineage's oldest ID but the original
        beyond ``LINEAGE_IDS_KEPT`` (never the current or the pending one)."""
        ids = order.cl_ord_ids
        ids.append(cl_ord_id)
        self._by_id[cl_ord_id] = order
        if len(ids) > LINEAGE_IDS_KEPT + 1:
            oldest = ids[1]
            if oldest not in (order.cl_ord_id, order.pending_request_id):
                del ids[1]
                if self._by_id.get(oldest) is order:
                    del self._by_id[oldest]

    # ----------------------------------------------------------------- internals: reports

    def _is_duplicate(self, exec_id: str) -> bool:
        if exec_id in self._seen_exec_ids:
            return True
        self._seen_exec_ids.add(exec_id)
        self._exec_id_order.append(exec_id)
        if len(self._exec_id_order) > self._exec_id_memory:
            self._seen_exec_ids.discard(self._exec_id_order.popleft())
        return False

    def _find(self, cl_ord_id: str | None, orig_cl_ord_id: str | None) -> ManagedOrder | None:
        # A cancel ack carries 11 = the cancel's ClOrdID and 41 = the original; both are mapped.
        for key in (cl_ord_id, orig_cl_ord_id):
            if key and key in self._by_id:
                return self._by_id[key]
        return None

    def _on_unknown_report(self, er: ExecutionReport) -> list[OrderEvent]:
        detail = (
            f"report for unknown ClOrdID {er.cl_ord_id} (41={er.orig_cl_ord_id}, "
            f"37={er.order_id}, 150={er.exec_type.value}, 39={er.ord_status.value})"
        )
        events: list[OrderEvent] = []
        # The venue says money moved: the position must see it even if we lost the order.
        if er.is_fill and er.last_px is not None:
            events.append(self._fill_event(er, er.cl_ord_id, er.last_qty or ZERO, er.last_px))
        events.append(self._warn(UNKNOWN_ORDER, er.cl_ord_id, detail))
        return events

    def _learn_order_id(self, order: ManagedOrder, er: ExecutionReport) -> list[OrderEvent]:
        if not er.order_id or er.order_id == NO_ORDER_ID:
            return []
        if order.order_id is None:
            order.order_id = er.order_id
            return []
        if order.order_id != er.order_id:
            detail = f"OrderID {order.order_id} -> {er.order_id}"
            order.order_id = er.order_id
            return [self._warn(ORDER_ID_CHANGED, order.cl_ord_id, detail)]
        return []

    def _apply_fill(self, order: ManagedOrder, er: ExecutionReport) -> list[OrderEvent]:
        qty = er.last_qty if er.last_qty else er.cum_qty - order.filled_qty
        price = er.last_px if er.last_px is not None else er.avg_px
        if qty <= ZERO or price is None:
            detail = f"ExecID {er.exec_id}: LastQty {er.last_qty}, LastPx {er.last_px}"
            return [self._warn(INCOMPLETE_FILL, order.cl_ord_id, detail)]
        events: list[OrderEvent] = []
        if not er.last_qty or er.last_px is None:
            detail = f"ExecID {er.exec_id}: inferred fill {qty} @ {price}"
            events.append(self._warn(INCOMPLETE_FILL, order.cl_ord_id, detail))
        fill = self._fill_event(er, order.cl_ord_id, qty, price, order)
        order.filled_qty += qty
        order.filled_notional += qty * price
        order.fees += fill.fee
        order.avg_px = er.avg_px if er.avg_px else order.filled_notional / order.filled_qty
        if order.state.is_terminal:
            detail = f"{qty} @ {price} after {order.state.value}"
            events.append(self._warn(LATE_FILL, order.cl_ord_id, detail))
        return [fill, *events]

    def _fill_event(
        self,
        er: ExecutionReport,
        cl_ord_id: str,
        qty: Decimal,
        price: Decimal,
        order: ManagedOrder | None = None,
    ) -> Fill:
        return Fill(
            cl_ord_id=cl_ord_id,
            order_id=order.order_id if order else er.order_id,
            symbol=order.symbol if order else er.symbol,
            side=order.side if order else er.side,
            qty=qty,
            price=price,
            fee=sum((fee.amount for fee in er.fees), ZERO),
            exec_id=er.exec_id,
            liquidity=er.liquidity_indicator,
            trade_match_id=er.trade_match_id,
        )

    def _apply_report_state(self, order: ManagedOrder, er: ExecutionReport) -> list[OrderEvent]:
        exec_type = er.exec_type
        if exec_type is ExecType.NEW:
            order.acknowledged = True
            return self._apply(order, Trigger.VENUE_NEW, ACCEPTED, er.text)
        if exec_type is ExecType.TRADE:
            if er.ord_status is OrdStatus.FILLED:
                return self._apply(order, Trigger.VENUE_FILL, FILLED, er.text)
            return self._apply(order, Trigger.VENUE_PARTIAL_FILL, PARTIAL_FILL, er.text)
        if exec_type is ExecType.CANCELED:
            return self._apply(order, Trigger.VENUE_CANCELED, self._cancel_reason(order), er.text)
        if exec_type is ExecType.REPLACED:
            return self._apply_replaced(order, er)
        simple = _SIMPLE_REPORT_TRIGGERS.get(exec_type)
        if simple is None:
            return [self._warn(ILLEGAL_TRANSITION, order.cl_ord_id, f"ExecType {exec_type}")]
        trigger, reason = simple
        return self._apply(order, trigger, reason, er.text)

    @staticmethod
    def _cancel_reason(order: ManagedOrder) -> str:
        """Why a Canceled report came: our cancel, an IOC remainder, or the venue on its own."""
        if order.state is OrderState.PENDING_CANCEL:
            return CANCEL_ACK
        if order.time_in_force is TimeInForce.IOC:
            return IOC_REMAINDER_CANCELED
        return UNSOLICITED_CANCEL

    def _apply_replaced(self, order: ManagedOrder, er: ExecutionReport) -> list[OrderEvent]:
        """Old ClOrdID -> REPLACED, then the lineage continues live under the new ClOrdID."""
        events = self._apply(order, Trigger.VENUE_REPLACED, REPLACE_ACK, er.text)
        if order.state is not OrderState.REPLACED:
            return events
        new_id = er.cl_ord_id
        if new_id == order.cl_ord_id or new_id not in self._by_id:
            new_id = order.pending_request_id or er.cl_ord_id
        order.cl_ord_id = new_id
        # Every ID in cl_ord_ids maps to its order in _by_id: this is the membership test in
        # O(1), whatever is left of a lineage's IDs (see LINEAGE_IDS_KEPT).
        if self._by_id.get(new_id) is not order:
            self._remember_id(order, new_id)
        order.price = er.price if er.price is not None else order.pending_price
        order.qty = er.order_qty or order.pending_qty or order.qty
        order.acknowledged = True
        order.pending_request_id = order.pending_price = order.pending_qty = None
        events += self._apply(order, Trigger.REKEYED, REPLACE_ACK)
        return events

    def _resolve_refused_request(
        self, order: ManagedOrder, trigger: Trigger, reason: str, text: str | None
    ) -> list[OrderEvent]:
        events = self._apply(order, trigger, reason, text)
        if order.state is not OrderState.UNCERTAIN:
            order.pending_request_id = None
        return events

    def _check_quantities(self, order: ManagedOrder, er: ExecutionReport) -> list[OrderEvent]:
        """Flag overfills and disagreements between the venue's CumQty and our LastQty sum."""
        events: list[OrderEvent] = []
        if max(er.cum_qty, order.filled_qty) > order.qty:
            detail = f"CumQty {er.cum_qty}, fills {order.filled_qty} > OrderQty {order.qty}"
            events.append(self._warn(OVERFILL, order.cl_ord_id, detail))
        if er.cum_qty != order.filled_qty:
            detail = f"venue CumQty {er.cum_qty} != sum of LastQty {order.filled_qty}"
            events.append(self._warn(CUM_QTY_MISMATCH, order.cl_ord_id, detail))
        return events

    # ----------------------------------------------------------------- internals: the table

    def _apply(
        self, order: ManagedOrder, trigger: Trigger, reason: str, text: str | None = None
    ) -> list[OrderEvent]:
        """Look the move up in :data:`TRANSITIONS`; apply it, or log and report it as illegal."""
        target = TRANSITIONS.get((order.state, trigger))
        if target is None:
            detail = f"{trigger.value} in state {order.state.value} ignored"
            logger.error("illegal order transition: %s: %s", order.cl_ord_id, detail)
            return [OrderWarning(ILLEGAL_TRANSITION, order.cl_ord_id, detail)]
        new_state = target if isinstance(target, OrderState) else target(order)
        if new_state is order.state:
            return []
        previous = order.state
        order.state = new_state
        if new_state.is_terminal and not previous.is_terminal:
            del self._live[id(order)]  # terminal states never lead back (see TRANSITIONS)
        history = order.history
        history.append((new_state, reason, self._clock()))
        if len(history) > HISTORY_KEPT + 1:
            del history[1]
        if new_state not in REQUEST_PENDING_STATES:
            order.request_sent_s = None
        if new_state in SETTLED_STATES:  # the venue has spoken: no replace is outstanding
            order.pending_price = order.pending_qty = None
        logger.debug(
            "order %s %s -> %s (%s)%s",
            order.cl_ord_id,
            previous.value,
            new_state.value,
            reason,
            f": {text}" if text else "",
        )
        return [
            OrderStateChanged(
                cl_ord_id=order.cl_ord_id,
                order_id=order.order_id,
                symbol=order.symbol,
                side=order.side,
                previous=previous,
                state=new_state,
                reason=reason,
                text=text,
            )
        ]

    def _warn(self, code: str, cl_ord_id: str | None, detail: str) -> OrderWarning:
        logger.debug("order warning %s: %s: %s", code, cl_ord_id, detail)
        return OrderWarning(code=code, cl_ord_id=cl_ord_id, detail=detail)


_SIMPLE_REPORT_TRIGGERS: Mapping[ExecType, tuple[Trigger, str]] = MappingProxyType(
    {
        ExecType.PENDING_NEW: (Trigger.VENUE_PENDING_NEW, ACCEPTED),
        ExecType.PENDING_CANCEL: (Trigger.VENUE_PENDING_CANCEL, CANCEL_REQUESTED),
        ExecType.PENDING_REPLACE: (Trigger.VENUE_PENDING_REPLACE, REPLACE_REQUESTED),
        ExecType.REJECTED: (Trigger.VENUE_REJECTED, VENUE_REJECT),
        ExecType.EXPIRED: (Trigger.VENUE_EXPIRED, EXPIRED),
    }
)
