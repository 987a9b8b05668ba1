"""Orders, reports and market data as typed values, with TrueX's FIX codes as enum values.

The FIX edge (:mod:`truex_qf.fix`) turns inbound messages into these records and these
commands into outbound messages; the strategy, the order manager and the simulated exchange
only ever see the values below. Prices and quantities are :class:`~decimal.Decimal` so that
what goes on the wire is exactly what the venue's price and lot grid allows.

Every record is immutable. The ones built for every order or market-data message (the order
commands, ExecutionReport, MarketDataIncrement, BookChange) are named tuples; the rest are
frozen dataclasses. A frozen dataclass's ``__init__`` sets each field with
``object.__setattr__``: an ExecutionReport took 5.1 us to build that way against 2.1 us as a
named tuple, a BookChange 0.95 against 0.46. Reading a field of a named tuple costs about
15 ns more than reading a slot, and these records are read a few dozen times at most, so
building them is what counts. Update one with ``record._replace(...)``, not
``dataclasses.replace``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import NamedTuple

NO_ORDER_ID = "NONE"  # OrderID(37) on a reject before acceptance (spec §6.4): not an ID


class SessionRole(str, Enum):
    """Which of the two TrueX gateways a FIX session talks to."""

    ORDER_ENTRY = "order_entry"
    MARKET_DATA = "market_data"


class Side(str, Enum):
    """Side(54)."""

    BUY = "1"
    SELL = "2"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrdType(str, Enum):
    """OrdType(40): TrueX supports market and limit only."""

    MARKET = "1"
    LIMIT = "2"


class TimeInForce(str, Enum):
    """TimeInForce(59): TrueX supports GTC and IOC only."""

    GTC = "1"
    IOC = "3"


class SelfMatchPrevention(str, Enum):
    """SelfMatchPreventionInstruction(2964) with TrueX's meanings (not standard FIX's).

    TrueX: 1 cancels the aggressive (incoming) order, 2 cancels both. With the tag absent
    TrueX cancels the incoming order, the same as 1.
    """

    CANCEL_AGGRESSIVE = "1"
    CANCEL_BOTH = "2"


class ExecType(str, Enum):
    """ExecType(150) values TrueX sends."""

    NEW = "0"
    CANCELED = "4"
    REPLACED = "5"
    PENDING_CANCEL = "6"
    REJECTED = "8"
    PENDING_NEW = "A"
    EXPIRED = "C"
    PENDING_REPLACE = "E"
    TRADE = "F"


class OrdStatus(str, Enum):
    """OrdStatus(39) values TrueX sends."""

    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    CANCELED = "4"
    REPLACED = "5"
    PENDING_CANCEL = "6"
    REJECTED = "8"
    SUSPENDED = "9"
    PENDING_NEW = "A"
    EXPIRED = "C"
    PENDING_REPLACE = "E"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL_STATUSES


_TERMINAL_STATUSES = frozenset(
    {OrdStatus.FILLED, OrdStatus.CANCELED, OrdStatus.REJECTED, OrdStatus.EXPIRED}
)


class CxlRejResponseTo(str, Enum):
    """CxlRejResponseTo(434): which request an OrderCancelReject answers."""

    CANCEL = "1"
    REPLACE = "2"


class CxlRejReason(str, Enum):
    """CxlRejReason(102): every value of TrueX's dictionary, including its custom 18.

    Only 1 (unknown order) says the order is gone at the venue (it may have filled): the
    order is reconciled. Every other reason leaves the original order live (spec §6.5).
    """

    TOO_LATE = "0"
    UNKNOWN_ORDER = "1"
    BROKER_CREDIT = "2"
    ALREADY_PENDING = "3"
    MASS_CANCEL_UNPROCESSABLE = "4"
    ORIG_ORD_MOD_TIME_MISMATCH = "5"
    DUPLICATE_CL_ORD_ID = "6"
    PRICE_EXCEEDS_CURRENT_PRICE = "7"
    PRICE_EXCEEDS_PRICE_BAND = "8"
    INVALID_PRICE_INCREMENT = "18"
    OTHER = "99"


class BusinessRejectReason(str, Enum):
    """BusinessRejectReason(380), including TrueX's custom 18 (invalid price increment)."""

    OTHER = "0"
    UNKNOWN_ID = "1"
    UNKNOWN_SECURITY = "2"
    UNSUPPORTED_MESSAGE_TYPE = "3"
    APPLICATION_NOT_AVAILABLE = "4"
    CONDITIONALLY_REQUIRED_FIELD_MISSING = "5"
    NOT_AUTHORIZED = "6"
    THROTTLE_LIMIT_EXCEEDED = "8"
    INVALID_PRICE_INCREMENT = "18"


class MDEntryType(str, Enum):
    """MDEntryType(269)."""

    BID = "0"
    OFFER = "1"
    TRADE = "2"


RESTING_SIDE = {MDEntryType.BID: Side.BUY, MDEntryType.OFFER: Side.SELL}
"""The side of the orders resting in a book entry of this type (a trade entry has none)."""


class MDUpdateAction(str, Enum):
    """MDUpdateAction(279)."""

    NEW = "0"
    CHANGE = "1"
    DELETE = "2"


class ListUpdateAction(str, Enum):
    """ListUpdateAction(1324) of a SecurityListUpdateReport entry (or SecurityUpdateAction(980)
    for the whole report): TrueX lists A, D, M and S."""

    ADD = "A"
    DELETE = "D"
    MODIFY = "M"
    SNAPSHOT = "S"


class SubscriptionRequestType(str, Enum):
    """SubscriptionRequestType(263)."""

    SNAPSHOT = "0"
    SNAPSHOT_PLUS_UPDATES = "1"
    UNSUBSCRIBE = "2"


# --------------------------------------------------------------------------- commands out


class NewOrder(NamedTuple):
    """A NewOrderSingle (35=D). ``post_only`` sends ExecInst(18)=6, TrueX's add-liquidity-only."""

    cl_ord_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal | None
    ord_type: OrdType = OrdType.LIMIT
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    self_match_prevention: SelfMatchPrevention | None = None


class CancelOrder(NamedTuple):
    """An OrderCancelRequest (35=F): TrueX takes only the new and the original ClOrdID."""

    cl_ord_id: str
    orig_cl_ord_id: str


class ReplaceOrder(NamedTuple):
    """An OrderCancelReplaceRequest (35=G): new total quantity and price for a working order."""

    cl_ord_id: str
    orig_cl_ord_id: str
    quantity: Decimal
    price: Decimal
    ord_type: OrdType = OrdType.LIMIT


@dataclass(frozen=True, slots=True)
class SubscribeMarketData:
    """A MarketDataRequest (35=V). ``depth`` is MarketDepth(264): 0 full book, 1 top, N levels."""

    md_req_id: str
    symbols: tuple[str, ...]
    depth: int = 0
    subscription: SubscriptionRequestType = SubscriptionRequestType.SNAPSHOT_PLUS_UPDATES


@dataclass(frozen=True, slots=True)
class RequestSecurityList:
    """A SecurityListRequest (35=x): one symbol, or every security when ``symbol`` is None."""

    security_req_id: str
    symbol: str | None = None


OrderCommand = NewOrder | CancelOrder | ReplaceOrder
"""An order message: what any order venue takes (the order-entry session, the paper venue, a
backtest's local venue)."""
ORDER_COMMANDS = (NewOrder, CancelOrder, ReplaceOrder)
"""OrderCommand's members, for isinstance."""

# What the market maker hands the FIX client to send.
Command = OrderCommand | SubscribeMarketData | RequestSecurityList


# --------------------------------------------------------------------------- reports in


@dataclass(frozen=True, slots=True)
class Fee:
    """One MiscFeesGrp entry: amount in the quote currency, type 4 exchange or 7 other."""

    amount: Decimal
    fee_type: str


class ExecutionReport(NamedTuple):
    """An ExecutionReport (35=8). ``received_ns`` is ``time.perf_counter_ns()`` at the callback."""

    order_id: str
    cl_ord_id: str
    exec_id: str
    exec_type: ExecType
    ord_status: OrdStatus
    symbol: str
    side: Side
    order_qty: Decimal
    leaves_qty: Decimal
    cum_qty: Decimal
    price: Decimal | None = None
    orig_cl_ord_id: str | None = None
    last_qty: Decimal | None = None
    last_px: Decimal | None = None
    avg_px: Decimal | None = None
    time_in_force: TimeInForce | None = None
    text: str | None = None
    transact_time: str | None = None
    trade_match_id: str | None = None
    liquidity_indicator: str | None = None
    fees: tuple[Fee, ...] = ()
    received_ns: int = 0

    @property
    def is_fill(self) -> bool:
        return self.exec_type is ExecType.TRADE and bool(self.last_qty)


@dataclass(frozen=True, slots=True)
class OrderCancelReject:
    """An OrderCancelReject (35=9): the cancel or replace named by ``cl_ord_id`` failed."""

    order_id: str
    cl_ord_id: str
    orig_cl_ord_id: str | None
    response_to: CxlRejResponseTo
    ord_status: OrdStatus | None = None
    reason: str | None = None
    text: str | None = None
    received_ns: int = 0

    @property
    def order_gone(self) -> bool:
        """CxlRejReason 1 (unknown order): the venue no longer has the order; reconcile it.

        Any other reason, or none, means the original order is still live at the venue.
        """
        return self.reason == CxlRejReason.UNKNOWN_ORDER.value


@dataclass(frozen=True, slots=True)
class BusinessMessageReject:
    """A BusinessMessageReject (35=j), e.g. a throttle (380=8) or a wrong session."""

    ref_msg_type: str
    reason: str
    ref_seq_num: int | None = None
    ref_id: str | None = None
    text: str | None = None
    received_ns: int = 0

    @property
    def invalid_session(self) -> bool:
        """TrueX's answer to a message on the wrong gateway (or a session it does not know):
        ``45=0 380=0 58=Invalid session ID``, with empty CompIDs (spec §1.6)."""
        return self.reason == "0" and (self.text or "").lower() == "invalid session id"


@dataclass(frozen=True, slots=True)
class BookEntry:
    """One price level (or trade) of a snapshot. Size 0 means "no level" (TrueX's empty book)."""

    entry_type: MDEntryType
    price: Decimal
    size: Decimal
    level: int | None = None


class BookChange(NamedTuple):
    """One entry of an incremental refresh (a named tuple: see the module docstring).

    ``aggressor_side``: AggressorSide(2446) of a trade entry, when the venue sent it.
    """

    action: MDUpdateAction
    entry_type: MDEntryType
    price: Decimal
    size: Decimal
    symbol: str | None = None
    level: int | None = None
    aggressor_side: Side | None = None


@dataclass(frozen=True, slots=True)
class MarketDataSnapshot:
    """A MarketDataSnapshotFullRefresh (35=W): replaces the whole book of ``symbol``."""

    md_req_id: str | None
    symbol: str
    entries: tuple[BookEntry, ...]
    received_ns: int = 0


class MarketDataIncrement(NamedTuple):
    """A MarketDataIncrementalRefresh (35=X)."""

    md_req_id: str | None
    changes: tuple[BookChange, ...]
    received_ns: int = 0


@dataclass(frozen=True, slots=True)
class MarketDataReject:
    """A MarketDataRequestReject (35=Y), e.g. for an unknown symbol."""

    md_req_id: str
    text: str | None = None
    received_ns: int = 0


@dataclass(frozen=True, slots=True)
class SecurityInfo:
    """One instrument of a SecurityList or SecurityListUpdateReport.

    The two statistics come from its InstrumentExtension (870 NoInstrAttrib): 871=40 average
    daily notional and 871=41 average daily number of trades (TrueX's "24hr notional" and
    "24hr volume"); None when the venue did not send them.
    """

    symbol: str
    security_type: str | None = None
    currency: str | None = None
    average_daily_notional: Decimal | None = None
    average_daily_trades: Decimal | None = None


@dataclass(frozen=True, slots=True)
class SecurityList:
    """A SecurityList (35=y)."""

    security_req_id: str | None
    result: str | None
    securities: tuple[SecurityInfo, ...]
    received_ns: int = 0


@dataclass(frozen=True, slots=True)
class SecurityUpdate:
    """One entry of a SecurityListUpdateReport: what happened to one instrument."""

    action: ListUpdateAction
    security: SecurityInfo


@dataclass(frozen=True, slots=True)
class SecurityListUpdate:
    """A SecurityListUpdateReport (35=BK): instruments added to, deleted from or modified in
    the venue's list after the SecurityList. A deleted symbol can no longer be traded."""

    security_req_id: str | None
    updates: tuple[SecurityUpdate, ...]
    received_ns: int = 0

    @property
    def deleted_symbols(self) -> tuple[str, ...]:
        return tuple(u.security.symbol for u in self.updates if u.action is ListUpdateAction.DELETE)

    @property
    def added_symbols(self) -> tuple[str, ...]:
        return tuple(u.security.symbol for u in self.updates if u.action is ListUpdateAction.ADD)


# --------------------------------------------------------------------------- session events


@dataclass(frozen=True, slots=True)
class SessionLoggedOn:
    """The venue accepted our Logon on this session."""

    role: SessionRole
    session: str


@dataclass(frozen=True, slots=True)
class SessionLoggedOut:
    """The session went down (logout, disconnect, or a refused logon)."""

    role: SessionRole
    session: str


@dataclass(frozen=True, slots=True)
class LogonRefused:
    """The venue refused our Logon: Reject (35=3, 373=8 for a bad signature) or Logout (35=5)."""

    role: SessionRole
    session: str
    text: str
    reject_reason: str | None = None


@dataclass(frozen=True, slots=True)
class SessionRejected:
    """A session-level Reject (35=3) of one of our messages after logon."""

    role: SessionRole
    session: str
    ref_seq_num: int | None
    reason: str | None
    text: str | None


InboundEvent = (
    ExecutionReport
    | OrderCancelReject
    | BusinessMessageReject
    | MarketDataSnapshot
    | MarketDataIncrement
    | MarketDataReject
    | SecurityList
    | SecurityListUpdate
    | SessionLoggedOn
    | SessionLoggedOut
    | LogonRefused
    | SessionRejected
)
