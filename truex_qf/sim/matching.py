"""The matching engine of the simulated TrueX exchange: TrueX's order rules, no FIX.

The FIX acceptor calls :class:`MatchingEngine` with domain commands and the sender's TrueX
client ID (PartyID 448, called ``owner`` here) and sends back what the returned events say:
:class:`ToClient` messages to that client's session in order, :class:`LevelChanged` and
:class:`TradePrinted` to the market-data publisher. The engine is single-threaded by design:
the acceptor calls it from one thread, so there are no locks.

The rules follow ``truex-fix-spec.md`` §6-§7 and §12. Where TrueX's behaviour is unknown the
choice made here is written next to the code that makes it; the main ones:

- ExecID and OrderID share one increasing counter: an order's OrderID is the ExecID of its
  PendingNew report (TrueX sends 17 = 37 on PendingNew), later reports take later numbers.
  The counter starts at the clock's microseconds since the epoch unless ``first_id`` is
  given, so a restarted simulator never reuses an ExecID that a client has stored.
- One TransactTime per operation: every report an operation produces carries the same time.
- Venue-initiated cancels (IOC/market remainder, post-only would cross, self-match
  prevention, :meth:`MatchingEngine.cancel_all`) carry OrigClOrdID = ClOrdID, as TrueX's IOC
  remainder cancel was observed to.
- LevelChanged events come last in an operation, one per price level whose size differs from
  before the operation, in the order the levels were first touched.
- Funds (:mod:`truex_qf.sim.balances`): the engine owns the venue's one balance book. An
  order whose spend does not fit the owner's available balance is rejected with TrueX's
  ``Insufficient balance`` *after* PendingNew, like the price band reject: TrueX's position
  of that check is not recorded (the JS project saw the text, 323 times an hour, but kept no
  sequence), and only malformed orders and unknown clients were seen refused before
  PendingNew. Trades move the book; holds are computed from the working orders.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import TypeVar

from truex_qf.domain.clordid import is_valid_cl_ord_id
from truex_qf.domain.increments import PriceGrid
from truex_qf.domain.model import (
    NO_ORDER_ID,
    CancelOrder,
    CxlRejReason,
    CxlRejResponseTo,
    ExecType,
    ExecutionReport,
    Fee,
    NewOrder,
    OrderCancelReject,
    OrdStatus,
    OrdType,
    ReplaceOrder,
    SelfMatchPrevention,
    Side,
    TimeInForce,
)
from truex_qf.domain.time_text import SecondText
from truex_qf.sim.balances import ZERO as NO_FUNDS
from truex_qf.sim.balances import AssetBalance, BalanceBook, assets_of, hold_of
from truex_qf.sim.order_book import ZERO, BookDepth, BookSide, OrderBook, VenueOrder

# --------------------------------------------------------------------------- texts (58)
# Observed TrueX texts (spec §7.3) are used verbatim; the others are our choice, because
# TrueX's wording for them is unknown.

INVALID_CL_ORD_ID = "Invalid ClOrdID"  # observed
INVALID_CLIENT = "Invalid client"  # observed (missing client ID)
OUTSIDE_PRICE_BANDS = "Order outside book price bands"  # observed
IOC_REMAINDER_CANCELED = "Order parameter request"  # observed on IOC remainders
INSUFFICIENT_BALANCE = "Insufficient balance"  # observed (spec §7.3, §13.2 item 16)
DUPLICATE_CL_ORD_ID = "Duplicate ClOrdID"
UNKNOWN_SYMBOL = "Unknown symbol"
INVALID_SIDE = "Invalid side"
INVALID_ORD_TYPE = "Invalid order type"
INVALID_TIME_IN_FORCE = "Invalid time in force"
PRICE_REQUIRED = "Price required for limit order"
INVALID_PRICE_INCREMENT = "Invalid price increment"  # PriceGrid.check_order's texts
INVALID_QUANTITY_INCREMENT = "Invalid quantity increment"
POST_ONLY_WOULD_CROSS = "Add liquidity only order would cross the book"
SELF_MATCH_PREVENTION = "Self-match prevention"
MASS_CANCEL = "Mass cancel"
UNKNOWN_ORDER = "Unknown order"
REPLACE_NOT_LIMIT = "Replace must be a limit order"
REPLACE_QTY_NOT_ABOVE_FILLED = "Replace quantity not above filled quantity"

# Why a cancel or replace of an order that is already done failed, by the order's status.
TOO_LATE_TEXTS: dict[OrdStatus, str] = {
    OrdStatus.FILLED: "Order already filled",
    OrdStatus.CANCELED: "Order already canceled",
    OrdStatus.REJECTED: "Order was rejected",
    OrdStatus.EXPIRED: "Order expired",
}

EXCHANGE_FEE = "4"  # MiscFeeType(139) 4 = exchange fees
MAKER = "1"  # LastLiquidityInd(851): added liquidity
TAKER = "2"  # LastLiquidityInd(851): removed liquidity
_BPS = Decimal(10_000)


class TransactTimeText(SecondText):
    """TransactTime(60) text, ``%Y%m%d-%H:%M:%S.%f``, the part up to the second formatted once
    a second: ``strftime`` took 2.6 us of the simulator's path from a NewOrderSingle to its
    PendingNew, and every report carries one."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(lambda moment: moment.strftime("%Y%m%d-%H:%M:%S."))


def utc_now() -> datetime:
    """The default clock: the current time in UTC."""
    return datetime.now(UTC)


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class ToClient:
    """A message for the FIX session of client ``owner``; send in the order given."""

    owner: str
    message: ExecutionReport | OrderCancelReject


@dataclass(frozen=True, slots=True)
class LevelChanged:
    """The aggregate size at one price of one side after an operation; 0 = level removed."""

    symbol: str
    side: Side
    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class TradePrinted:
    """One match, for the public trade feed."""

    symbol: str
    price: Decimal
    quantity: Decimal
    aggressor_side: Side


VenueEvent = ToClient | LevelChanged | TradePrinted


@dataclass(frozen=True, slots=True)
class Trade:
    """One match as the venue records it (both counterparties known)."""

    symbol: str
    price: Decimal
    quantity: Decimal
    buy_owner: str
    buy_cl_ord_id: str
    sell_owner: str
    sell_cl_ord_id: str
    aggressor_side: Side
    trade_match_id: str
    # What each side's ExecutionReport said, so the REST trade history names the same
    # ExecIDs the FIX reports did (a client dedupes a missed fill against them).
    buy_exec_id: str = ""
    sell_exec_id: str = ""
    buy_order_id: str = ""
    sell_order_id: str = ""
    buy_fee: Decimal = Decimal(0)
    sell_fee: Decimal = Decimal(0)
    buy_liquidity: str = ""
    sell_liquidity: str = ""
    transact_time: str = ""  # TransactTime (60) of the match, as the reports carried it


@dataclass(frozen=True, slots=True)
class RestingOrderView:
    """A read-only snapshot of one working order."""

    order_id: str
    owner: str
    cl_ord_id: str
    symbol: str
    side: Side
    price: Decimal
    order_qty: Decimal
    cum_qty: Decimal
    leaves_qty: Decimal
    ord_status: OrdStatus
    time_in_force: TimeInForce
    post_only: bool


# --------------------------------------------------------------------------- one operation


class _Operation:
    """The events of one engine call, and the size of each level before the call touched it."""

    __slots__ = ("_sizes_before", "events", "transact_time")

    def __init__(self, transact_time: str) -> None:
        self.transact_time = transact_time
        self.events: list[VenueEvent] = []
        self._sizes_before: dict[tuple[str, Side, Decimal], tuple[BookSide, Decimal]] = {}

    def to_client(self, owner: str, message: ExecutionReport | OrderCancelReject) -> None:
        self.events.append(ToClient(owner, message))

    def touch(self, symbol: str, book_side: BookSide, price: Decimal) -> None:
        """Remember a level's size before its first change in this operation."""
        key = (symbol, book_side.side, price)
        if key not in self._sizes_before:
            self._sizes_before[key] = (book_side, book_side.size_at(price))

    def finish(self) -> list[VenueEvent]:
        """All events, with a LevelChanged for each level whose size changed."""
        for (symbol, side, price), (book_side, size_before) in self._sizes_before.items():
            size_after = book_side.size_at(price)
            if size_after != size_before:
                self.events.append(LevelChanged(symbol, side, price, size_after))
        return self.events


_E = TypeVar("_E", bound=Enum)


def _coerce(enum_type: type[_E], value: object) -> _E | None:
    """``value`` as a member of ``enum_type`` (members and their raw FIX codes both work)."""
    if type(value) is enum_type:  # the usual case, without the enum constructor's cost
        return value
    try:
        return enum_type(value)
    except (ValueError, TypeError):
        return None


def _is_finite_decimal(value: object) -> bool:
    return isinstance(value, Decimal) and value.is_finite()


def _fees(notional: Decimal, fee_bps: Decimal) -> tuple[Fee, ...]:
    """The MiscFeesGrp of one fill: none at 0 bps (a negative rate is a rebate)."""
    if not fee_bps:
        return ()
    return (Fee(notional * fee_bps / _BPS, EXCHANGE_FEE),)


class MatchingEngine:
    """A price-time-priority exchange for a fixed set of symbols, following TrueX's rules.

    ``price_band`` is the fraction a limit price may be away from the band reference (mid of
    the book, else last trade, else :meth:`set_reference_price`); None disables the band.
    The default 5 % is our choice: TrueX's band width is unknown (spec §14.7). Fees are in
    basis points of the fill's notional, reported as MiscFeeType 4 and omitted when zero.

    ``symbols`` may map each symbol to its quote currency (the venue's symbol table); a plain
    list takes the part after the dash. ``balances`` is the venue's balance book; without one
    the engine records balances from the defaults but refuses nothing for lack of funds.

    ``unchecked_owners``: owners whose orders skip the tick/lot/notional grid and the price
    band. They stand for liquidity a real venue has already accepted (the observed book that
    :class:`~truex_qf.sim.local_venue.LocalVenue` mirrors), whose sizes and depth need not
    fit our grid or band.
    """

    def __init__(
        self,
        symbols: Iterable[str] | Mapping[str, str],
        grid: PriceGrid = PriceGrid(),  # noqa: B008 - PriceGrid is frozen, sharing it is safe
        *,
        price_band: Decimal | None = Decimal("0.05"),
        maker_fee_bps: Decimal = Decimal(0),
        taker_fee_bps: Decimal = Decimal(0),
        clock: Callable[[], datetime] = utc_now,
        first_id: int | None = None,
        balances: BalanceBook | None = None,
        unchecked_owners: Iterable[str] = (),
    ) -> None:
        quotes: Mapping[str, str] = symbols if isinstance(symbols, Mapping) else {}
        self._books: dict[str, OrderBook] = {}
        self._assets: dict[str, tuple[str, str]] = {}  # (base, quote) per symbol
        for symbol in symbols:
            self.add_symbol(symbol, quotes.get(symbol))
        self._balances = balances if balances is not None else BalanceBook(enforced=False)
        self._grid = grid
        self._price_band = price_band
        self._unchecked_owners = frozenset(unchecked_owners)
        self._maker_fee_bps = maker_fee_bps
        self._taker_fee_bps = taker_fee_bps
        self._clock = clock
        self._transact_time_text = TransactTimeText()
        if first_id is None:
            first_id = int(clock().timestamp() * 1_000_000)
        self._ids = itertools.count(first_id)
        # Every ClOrdID an order has carried (original, replaces, its cancel), per owner. Done
        # orders stay so that a late cancel gets "too late" rather than "unknown order".
        self._orders_by_cl_ord_id: dict[tuple[str, str], VenueOrder] = {}
        # Working orders in acceptance order, all of them and per owner.
        self._working: dict[str, VenueOrder] = {}
        self._working_by_owner: dict[str, dict[str, VenueOrder]] = {}
        self._trades: list[Trade] = []

    # ------------------------------------------------------------------ commands

    @property
    def grid(self) -> PriceGrid:
        """The tick and lot grid orders are checked against."""
        return self._grid

    def submit(
        self,
        owner: str,
        order: NewOrder,
        acknowledge: Callable[[list[VenueEvent]], None] | None = None,
    ) -> list[VenueEvent]:
        """A NewOrderSingle from client ``owner``: validate, acknowledge, match, rest.

        ``acknowledge``, when given, receives the PendingNew report as soon as the order has
        passed validation, before the band check and matching, as a venue's gateway answers
        first (the report is then not in the returned events).
        """
        op = _Operation(self._transact_time())
        checked = self._pre_validate(owner, order)
        if isinstance(checked, str):
            # TrueX's reject before acceptance: 150=8/39=8, OrderID NONE, no PendingNew; the
            # order's fields are echoed as sent (an invalid Side or an omitted 59 included).
            refused = _record(owner, order, NO_ORDER_ID)
            refused.ord_status = OrdStatus.REJECTED
            self._report(op, refused, ExecType.REJECTED, text=checked)
            return op.finish()

        book = self._books[checked.symbol]
        record = _record(owner, checked, self._next_id())
        self._orders_by_cl_ord_id[(owner, record.cl_ord_id)] = record
        # TrueX: ExecID = OrderID on the PendingNew report.
        self._report(op, record, ExecType.PENDING_NEW, exec_id=record.order_id)
        if acknowledge is not None:
            acknowledge([op.events.pop()])

        if (
            record.ord_type is OrdType.LIMIT
            and owner not in self._unchecked_owners
            and self._outside_band(book, record.price)
        ):
            record.ord_status = OrdStatus.REJECTED
            self._report(op, record, ExecType.REJECTED, text=OUTSIDE_PRICE_BANDS)
            return op.finish()
        limit_price = record.price if record.ord_type is OrdType.LIMIT else None
        if self._lacks_funds(book, record, record.order_qty, limit_price):
            record.ord_status = OrdStatus.REJECTED
            self._report(op, record, ExecType.REJECTED, text=INSUFFICIENT_BALANCE)
            return op.finish()

        record.ord_status = OrdStatus.NEW
        record.leaves_qty = record.order_qty
        self._working[record.order_id] = record
        self._working_by_owner.setdefault(owner, {})[record.order_id] = record
        self._report(op, record, ExecType.NEW)
        self._execute(op, book, record)
        return op.finish()

    def cancel(self, owner: str, request: CancelOrder) -> list[VenueEvent]:
        """An OrderCancelRequest: cancel ``owner``'s order named by OrigClOrdID."""
        op = _Operation(self._transact_time())
        order = self._orders_by_cl_ord_id.get((owner, request.orig_cl_ord_id))
        rejection = self._amend_rejection(owner, request, order, CxlRejResponseTo.CANCEL)
        if rejection is not None:
            op.to_client(owner, rejection)
            return op.finish()
        assert order is not None
        self._take_off_book(op, order)
        # The cancel's ClOrdID names the (now done) order too: a cancel of it is "too late".
        self._orders_by_cl_ord_id[(owner, request.cl_ord_id)] = order
        self._close(
            op,
            order,
            text=None,
            cl_ord_id=request.cl_ord_id,
            orig_cl_ord_id=request.orig_cl_ord_id,
        )
        return op.finish()

    def replace(self, owner: str, request: ReplaceOrder) -> list[VenueEvent]:
        """An OrderCancelReplaceRequest: new total quantity and price for a working order.

        TrueX's 35=G flow was never observed (spec §14.13); this follows standard FIX:
        PendingReplace then Replaced, both with the new ClOrdID and OrigClOrdID. Lowering the
        quantity (or leaving it) at the same price keeps time priority; any price change or
        quantity increase sends the order to the back of its (new) level, and a replaced order
        that crosses trades as the aggressor (taker), self-match prevention included.
        """
        op = _Operation(self._transact_time())
        order = self._orders_by_cl_ord_id.get((owner, request.orig_cl_ord_id))
        rejection = self._amend_rejection(owner, request, order, CxlRejResponseTo.REPLACE)
        if rejection is None:
            assert order is not None
            rejection = self._replace_rejection(request, order)
        if rejection is not None:
            op.to_client(owner, rejection)
            return op.finish()
        assert order is not None

        self._report(
            op,
            order,
            ExecType.PENDING_REPLACE,
            ord_status=OrdStatus.PENDING_REPLACE,
            cl_ord_id=request.cl_ord_id,
            orig_cl_ord_id=request.orig_cl_ord_id,
        )
        book = self._books[order.symbol]
        book_side = book.side(order.side)
        assert order.price is not None
        keeps_priority = request.price == order.price and request.quantity <= order.order_qty
        new_leaves = request.quantity - order.cum_qty
        op.touch(order.symbol, book_side, order.price)
        if keeps_priority:
            book_side.resize(order, new_leaves)
        else:
            book_side.remove(order)
            order.price = request.price
            order.leaves_qty = new_leaves
        order.order_qty = request.quantity
        order.cl_ord_id = request.cl_ord_id
        self._orders_by_cl_ord_id[(owner, request.cl_ord_id)] = order
        self._report(
            op,
            order,
            ExecType.REPLACED,
            ord_status=order.working_status,
            orig_cl_ord_id=request.orig_cl_ord_id,
        )
        if not keeps_priority:
            self._execute(op, book, order)
        return op.finish()

    def cancel_all(self, owner: str | None = None) -> list[VenueEvent]:
        """Cancel every working order of ``owner`` (None: of everybody), oldest first.

        Meant for a kill switch or a dropped session; each order gets an unsolicited cancel
        (150=4/39=4, OrigClOrdID = ClOrdID, text ``Mass cancel``).
        """
        op = _Operation(self._transact_time())
        if owner is None:
            orders = list(self._working.values())
        else:
            orders = list(self._working_by_owner.get(owner, {}).values())
        for order in orders:
            self._take_off_book(op, order)
            self._close(op, order, text=MASS_CANCEL)
        return op.finish()

    def forget(self, owners: Iterable[str]) -> None:
        """Forget the done orders of ``owners`` and every trade recorded so far.

        For a caller that runs long and reads neither (the local venue under a backtest or
        paper run, whose mirrored market turns over millions of orders a day): a cancel or
        replace naming a forgotten order is then refused as unknown, and :meth:`trades`
        starts afresh.
        """
        gone = frozenset(owners)
        self._orders_by_cl_ord_id = {
            key: order
            for key, order in self._orders_by_cl_ord_id.items()
            if order.is_working or key[0] not in gone
        }
        self._trades.clear()

    def set_reference_price(self, symbol: str, price: Decimal) -> None:
        """The band reference of ``symbol`` while its book has no mid and no trade yet."""
        if not _is_finite_decimal(price) or price <= 0:
            raise ValueError(f"reference price must be a positive Decimal, got {price!r}")
        self._book(symbol).reference_price = price

    # ------------------------------------------------------------------ queries

    def depth(self, symbol: str, max_levels: int | None = None) -> BookDepth:
        """Aggregated levels of ``symbol``, best first, at most ``max_levels`` per side.

        None means every level (FIX's MarketDepth 0 must be mapped to None by the caller).
        Raises KeyError for an unknown symbol.
        """
        return self._book(symbol).depth(max_levels)

    def add_symbol(self, symbol: str, quote: str | None = None) -> None:
        """Trade ``symbol`` too (an empty book); nothing changes if it is traded already.

        ``quote`` is its quote currency when it is not the part after the dash.
        """
        if symbol not in self._books:
            self._books[symbol] = OrderBook(symbol)
            self._assets[symbol] = assets_of(symbol, quote)

    def working_orders(self, owner: str | None = None) -> list[RestingOrderView]:
        """Working orders of ``owner`` (None: of everybody) in acceptance order."""
        if owner is None:
            orders = self._working.values()
        else:
            orders = self._working_by_owner.get(owner, {}).values()
        return [_view(order) for order in orders]

    def trades(self) -> list[Trade]:
        """Every match so far, oldest first."""
        return list(self._trades)

    def balances(self, owner: str) -> list[AssetBalance]:
        """``owner``'s balance and order hold of every asset it has or holds, by asset name."""
        totals = self._balances.balances(owner)
        holds = self._order_holds(owner)
        return [
            AssetBalance(asset, totals.get(asset, NO_FUNDS), holds.get(asset, NO_FUNDS))
            for asset in sorted(set(totals) | set(holds))
        ]

    # ------------------------------------------------------------------ validation

    def _pre_validate(self, owner: str, order: NewOrder) -> NewOrder | str:
        """The order with its codes as enum members, or why TrueX refuses it before PendingNew.

        The checks run in this order; ClOrdID first, as observed (spec §12). A ClOrdID is a
        duplicate only while the owner's order with that ClOrdID is working (TrueX's
        uniqueness scope is unknown, §7.5). An omitted TimeInForce means GTC (§14.11). An
        unknown SelfMatchPreventionInstruction (e.g. the 2964=0 TrueX accepts) counts as
        absent, i.e. cancel the aggressive order.
        """
        if not isinstance(order.cl_ord_id, str) or not is_valid_cl_ord_id(order.cl_ord_id):
            return INVALID_CL_ORD_ID
        if not owner:
            return INVALID_CLIENT
        if self._working_order(owner, order.cl_ord_id) is not None:
            return DUPLICATE_CL_ORD_ID
        book = self._books.get(order.symbol)
        if book is None:
            return UNKNOWN_SYMBOL
        side = _coerce(Side, order.side)
        if side is None:
            return INVALID_SIDE
        ord_type = _coerce(OrdType, order.ord_type)
        if ord_type is None:
            return INVALID_ORD_TYPE
        time_in_force = (
            TimeInForce.GTC
            if order.time_in_force is None
            else _coerce(TimeInForce, order.time_in_force)
        )
        if time_in_force is None:
            return INVALID_TIME_IN_FORCE
        if ord_type is OrdType.LIMIT:
            if order.price is None:
                return PRICE_REQUIRED
            problem = (
                None
                if owner in self._unchecked_owners
                else self._grid_problem(order.price, order.quantity)
            )
        else:
            problem = self._market_grid_problem(book, side, order.quantity)
        if problem is not None:
            return problem
        self_match_prevention = (
            None
            if order.self_match_prevention is None
            else _coerce(SelfMatchPrevention, order.self_match_prevention)
        )
        normalized = (side, ord_type, time_in_force, self_match_prevention)
        as_sent = (order.side, order.ord_type, order.time_in_force, order.self_match_prevention)
        if all(mine is theirs for mine, theirs in zip(normalized, as_sent, strict=True)):
            return order
        return order._replace(
            side=side,
            ord_type=ord_type,
            time_in_force=time_in_force,
            self_match_prevention=self_match_prevention,
        )

    def _grid_problem(self, price: Decimal, quantity: Decimal) -> str | None:
        """TrueX's grid and minimum-notional verdict on a limit price and quantity."""
        if not _is_finite_decimal(price):
            return INVALID_PRICE_INCREMENT
        if not _is_finite_decimal(quantity):
            return INVALID_QUANTITY_INCREMENT
        return self._grid.check_order(price, quantity)

    def _market_grid_problem(self, book: OrderBook, side: Side, quantity: Decimal) -> str | None:
        """A market order's quantity, checked at the price it would trade at first.

        Our choice (TrueX's rule is unknown): a market order's Price(44), if sent, is ignored;
        its quantity must be on the lot grid, and above the minimum notional, at the best
        opposite price. With the opposite side empty only a positive quantity is required (the
        order will be cancelled unfilled anyway).
        """
        if not _is_finite_decimal(quantity) or quantity <= 0:
            return INVALID_QUANTITY_INCREMENT
        best_opposite = book.side(side.opposite).best_price()
        if best_opposite is None:
            return None
        return self._grid.check_order(best_opposite, quantity)

    def _outside_band(self, book: OrderBook, price: Decimal | None) -> bool:
        """Whether a limit ``price`` is further than the band from the book's reference."""
        if self._price_band is None or price is None:
            return False
        reference = book.band_reference()
        if reference is None:
            return False
        return abs(price - reference) > self._price_band * reference

    def _lacks_funds(
        self,
        book: OrderBook,
        order: VenueOrder,
        quantity: Decimal,
        price: Decimal | None,
        freed: Decimal = NO_FUNDS,
    ) -> bool:
        """Whether ``quantity`` of ``order`` at ``price`` (None: at market) needs more than
        its owner has available, once ``freed`` (what the order holds now, on a replace) is
        given back; only a need above ``freed`` is checked.

        A market buy needs what walking the offers for ``quantity`` would cost (its unfilled
        rest is cancelled, so it needs nothing for that); a market sell needs the quantity.
        """
        owner = order.owner
        if not self._balances.is_limited(owner):
            return False
        base, quote = self._assets[book.symbol]
        if price is not None:
            asset, need = hold_of(order.side, quantity, price, base, quote)
        elif order.side is Side.BUY:
            asset, need = quote, _cost_to_buy(book, quantity)
        else:
            asset, need = base, quantity
        if need <= freed:
            return False
        funds = AssetBalance(
            asset,
            self._balances.balance(owner, asset),
            self._order_holds(owner).get(asset, NO_FUNDS),
        )
        return need - freed > funds.available

    def _order_holds(self, owner: str) -> dict[str, Decimal]:
        """What ``owner``'s working orders tie up, per asset."""
        holds: dict[str, Decimal] = {}
        for order in self._working_by_owner.get(owner, {}).values():
            asset, amount = self._hold(order)
            holds[asset] = holds.get(asset, NO_FUNDS) + amount
        return holds

    def _hold(self, order: VenueOrder) -> tuple[str, Decimal]:
        """The asset and amount a working order ties up (its leaves at its price)."""
        assert order.price is not None
        base, quote = self._assets[order.symbol]
        return hold_of(order.side, order.leaves_qty, order.price, base, quote)

    def _amend_rejection(
        self,
        owner: str,
        request: CancelOrder | ReplaceOrder,
        order: VenueOrder | None,
        response_to: CxlRejResponseTo,
    ) -> OrderCancelReject | None:
        """Why a cancel or replace cannot even be considered, as the OrderCancelReject to send.

        Another owner's order is invisible: it is rejected as unknown, as if it did not exist.
        A request whose own ClOrdID is that of a working order of the owner (the target order
        included) is a duplicate ClOrdID (102=6).
        """
        if not isinstance(request.cl_ord_id, str) or not is_valid_cl_ord_id(request.cl_ord_id):
            return self._cancel_reject(
                request, order, response_to, CxlRejReason.OTHER, INVALID_CL_ORD_ID
            )
        if order is None:
            return self._cancel_reject(
                request, None, response_to, CxlRejReason.UNKNOWN_ORDER, UNKNOWN_ORDER
            )
        if not order.is_working:
            return self._cancel_reject(
                request,
                order,
                response_to,
                CxlRejReason.TOO_LATE,
                TOO_LATE_TEXTS.get(order.ord_status, "Order is done"),
            )
        if self._working_order(owner, request.cl_ord_id) is not None:
            return self._cancel_reject(
                request, order, response_to, CxlRejReason.DUPLICATE_CL_ORD_ID, DUPLICATE_CL_ORD_ID
            )
        return None

    def _replace_rejection(
        self, request: ReplaceOrder, order: VenueOrder
    ) -> OrderCancelReject | None:
        """Why a replace of a working order is refused; the order then stays as it was.

        Reasons: 18 for an off-grid price (TrueX's custom code), 99 for everything else: a
        market replace, an off-grid quantity or too small notional, a quantity not above what
        has filled, a price outside the band, or a post-only order whose new price would cross
        (we refuse the replace rather than cancel the order; TrueX's behaviour is unknown), or
        a replace that would hold more than the owner's available balance can add
        (``Insufficient balance``; a replace that holds less or the same always passes).
        """

        def reject(reason: CxlRejReason, text: str) -> OrderCancelReject:
            return self._cancel_reject(request, order, CxlRejResponseTo.REPLACE, reason, text)

        if _coerce(OrdType, request.ord_type) is not OrdType.LIMIT:
            return reject(CxlRejReason.OTHER, REPLACE_NOT_LIMIT)
        if request.price is None:
            return reject(CxlRejReason.OTHER, PRICE_REQUIRED)
        unchecked = order.owner in self._unchecked_owners
        problem = None if unchecked else self._grid_problem(request.price, request.quantity)
        if problem == INVALID_PRICE_INCREMENT:
            return reject(CxlRejReason.INVALID_PRICE_INCREMENT, problem)
        if problem is not None:
            return reject(CxlRejReason.OTHER, problem)
        if request.quantity <= order.cum_qty:
            return reject(CxlRejReason.OTHER, REPLACE_QTY_NOT_ABOVE_FILLED)
        book = self._books[order.symbol]
        if not unchecked and self._outside_band(book, request.price):
            return reject(CxlRejReason.OTHER, OUTSIDE_PRICE_BANDS)
        if order.post_only and book.side(order.side.opposite).crosses(request.price):
            return reject(CxlRejReason.OTHER, POST_ONLY_WOULD_CROSS)
        new_leaves = request.quantity - order.cum_qty
        if self._lacks_funds(book, order, new_leaves, request.price, freed=self._hold(order)[1]):
            return reject(CxlRejReason.OTHER, INSUFFICIENT_BALANCE)
        return None

    def _cancel_reject(
        self,
        request: CancelOrder | ReplaceOrder,
        order: VenueOrder | None,
        response_to: CxlRejResponseTo,
        reason: CxlRejReason,
        text: str,
    ) -> OrderCancelReject:
        return OrderCancelReject(
            order_id=order.order_id if order is not None else NO_ORDER_ID,
            cl_ord_id=request.cl_ord_id,
            orig_cl_ord_id=request.orig_cl_ord_id,
            response_to=response_to,
            ord_status=order.ord_status if order is not None else None,
            reason=reason.value,
            text=text,
        )

    # ------------------------------------------------------------------ matching

    def _execute(self, op: _Operation, book: OrderBook, order: VenueOrder) -> None:
        """Trade a new (or re-priced) order against the book, then rest or cancel the rest.

        ``order`` is not in the book while this runs. A post-only order that would cross is
        cancelled before it can trade (after New, like TrueX's unsolicited ALO cancels). IOC
        and market remainders are cancelled with TrueX's observed text; a remainder stopped by
        self-match prevention is cancelled with ``Self-match prevention``.
        """
        limit_price = order.price if order.ord_type is OrdType.LIMIT else None
        if order.post_only and book.side(order.side.opposite).crosses(limit_price):
            self._close(op, order, text=POST_ONLY_WOULD_CROSS)
            return
        stopped_by_self_match = self._match(op, book, order, limit_price)
        if not order.leaves_qty:
            return
        if stopped_by_self_match:
            self._close(op, order, text=SELF_MATCH_PREVENTION)
        elif order.ord_type is OrdType.MARKET or order.time_in_force is TimeInForce.IOC:
            self._close(op, order, text=IOC_REMAINDER_CANCELED)
        else:
            assert order.price is not None
            book_side = book.side(order.side)
            op.touch(book.symbol, book_side, order.price)
            book_side.add(order)

    def _match(
        self, op: _Operation, book: OrderBook, taker: VenueOrder, limit_price: Decimal | None
    ) -> bool:
        """Fill ``taker`` against the opposite side in price-time priority, at resting prices.

        Returns True when self-match prevention stopped it. Orders of other owners ahead of
        the owner's own resting order trade first; the incoming order's instruction decides
        (the resting order's is not consulted). With CANCEL_BOTH only the first own resting
        order met is cancelled, since the incoming remainder is cancelled at that point too.
        """
        opposite = book.side(taker.side.opposite)
        while taker.leaves_qty and opposite.crosses(limit_price):
            level = opposite.best()
            assert level is not None
            maker = level.head()
            if maker.owner == taker.owner:
                if taker.self_match_prevention is SelfMatchPrevention.CANCEL_BOTH:
                    self._take_off_book(op, maker)
                    self._close(op, maker, text=SELF_MATCH_PREVENTION)
                return True
            self._fill(op, book, taker, maker, level.price)
        return False

    def _fill(
        self,
        op: _Operation,
        book: OrderBook,
        taker: VenueOrder,
        maker: VenueOrder,
        price: Decimal,
    ) -> None:
        """One match between the incoming ``taker`` and the resting ``maker``, at ``price``."""
        quantity = min(taker.leaves_qty, maker.leaves_qty)
        opposite = book.side(maker.side)
        op.touch(book.symbol, opposite, price)
        opposite.resize(maker, maker.leaves_qty - quantity)
        taker.leaves_qty -= quantity
        trade_match_id = self._next_id()
        notional = price * quantity
        book.last_trade_price = price
        sides: dict[Side, tuple[str, Decimal, str]] = {}  # exec ID, fee, liquidity per side
        for order, liquidity, fee_bps in (
            (taker, TAKER, self._taker_fee_bps),
            (maker, MAKER, self._maker_fee_bps),
        ):
            exec_id = self._next_id()
            fees = _fees(notional, fee_bps)
            sides[order.side] = (exec_id, sum((f.amount for f in fees), Decimal(0)), liquidity)
            order.cum_qty += quantity
            order.notional += notional
            if order.leaves_qty:
                order.ord_status = OrdStatus.PARTIALLY_FILLED
            else:
                order.ord_status = OrdStatus.FILLED
                self._retire(order)
            self._report(
                op,
                order,
                ExecType.TRADE,
                exec_id=exec_id,
                last_qty=quantity,
                last_px=price,
                trade_match_id=trade_match_id,
                liquidity_indicator=liquidity,
                fees=fees,
            )
        buyer, seller = (taker, maker) if taker.side is Side.BUY else (maker, taker)
        base, quote = self._assets[book.symbol]
        self._balances.settle(buyer.owner, seller.owner, base, quote, quantity, price)
        self._trades.append(
            Trade(
                symbol=book.symbol,
                price=price,
                quantity=quantity,
                buy_owner=buyer.owner,
                buy_cl_ord_id=buyer.cl_ord_id,
                sell_owner=seller.owner,
                sell_cl_ord_id=seller.cl_ord_id,
                aggressor_side=taker.side,
                trade_match_id=trade_match_id,
                buy_exec_id=sides[Side.BUY][0],
                sell_exec_id=sides[Side.SELL][0],
                buy_order_id=buyer.order_id,
                sell_order_id=seller.order_id,
                buy_fee=sides[Side.BUY][1],
                sell_fee=sides[Side.SELL][1],
                buy_liquidity=sides[Side.BUY][2],
                sell_liquidity=sides[Side.SELL][2],
                transact_time=op.transact_time,
            )
        )
        op.events.append(TradePrinted(book.symbol, price, quantity, taker.side))

    # ------------------------------------------------------------------ bookkeeping

    def _take_off_book(self, op: _Operation, order: VenueOrder) -> None:
        """Remove a resting order from its book, recording the level it leaves."""
        assert order.price is not None
        book_side = self._books[order.symbol].side(order.side)
        op.touch(order.symbol, book_side, order.price)
        book_side.remove(order)

    def _close(
        self,
        op: _Operation,
        order: VenueOrder,
        *,
        text: str | None,
        cl_ord_id: str | None = None,
        orig_cl_ord_id: str | None = None,
    ) -> None:
        """Cancel a working order that is no longer in the book and report it.

        Without ``cl_ord_id`` the cancel is the venue's own: ClOrdID and OrigClOrdID are both
        the order's ClOrdID.
        """
        order.leaves_qty = ZERO
        order.ord_status = OrdStatus.CANCELED
        self._retire(order)
        self._report(
            op,
            order,
            ExecType.CANCELED,
            cl_ord_id=cl_ord_id,
            orig_cl_ord_id=order.cl_ord_id if orig_cl_ord_id is None else orig_cl_ord_id,
            text=text,
        )

    def _retire(self, order: VenueOrder) -> None:
        """Forget a done order as working (it stays findable by ClOrdID)."""
        del self._working[order.order_id]
        owner_orders = self._working_by_owner[order.owner]
        del owner_orders[order.order_id]
        if not owner_orders:
            del self._working_by_owner[order.owner]

    def _working_order(self, owner: str, cl_ord_id: str) -> VenueOrder | None:
        order = self._orders_by_cl_ord_id.get((owner, cl_ord_id))
        return order if order is not None and order.is_working else None

    def _report(
        self,
        op: _Operation,
        order: VenueOrder,
        exec_type: ExecType,
        *,
        exec_id: str | None = None,
        ord_status: OrdStatus | None = None,
        cl_ord_id: str | None = None,
        orig_cl_ord_id: str | None = None,
        text: str | None = None,
        last_qty: Decimal | None = None,
        last_px: Decimal | None = None,
        trade_match_id: str | None = None,
        liquidity_indicator: str | None = None,
        fees: tuple[Fee, ...] = (),
    ) -> None:
        """Send ``order``'s owner an ExecutionReport of the order as it stands now: every
        report the engine sends is built here.

        The keywords are what differs from the order's own state: ``exec_id`` (default the
        next ID), ``ord_status`` and ``cl_ord_id`` (default the order's), OrigClOrdID and Text
        (default none), and a fill's fields. AvgPx goes on fills only.
        """
        op.to_client(
            order.owner,
            ExecutionReport(
                order_id=order.order_id,
                cl_ord_id=order.cl_ord_id if cl_ord_id is None else cl_ord_id,
                exec_id=self._next_id() if exec_id is None else exec_id,
                exec_type=exec_type,
                ord_status=order.ord_status if ord_status is None else ord_status,
                symbol=order.symbol,
                side=order.side,
                order_qty=order.order_qty,
                leaves_qty=order.leaves_qty,
                cum_qty=order.cum_qty,
                price=order.price,
                orig_cl_ord_id=orig_cl_ord_id,
                last_qty=last_qty,
                last_px=last_px,
                avg_px=order.avg_px if exec_type is ExecType.TRADE else None,
                time_in_force=order.time_in_force,
                text=text,
                transact_time=op.transact_time,
                trade_match_id=trade_match_id,
                liquidity_indicator=liquidity_indicator,
                fees=fees,
            ),
        )

    def _book(self, symbol: str) -> OrderBook:
        book = self._books.get(symbol)
        if book is None:
            raise KeyError(f"unknown symbol {symbol!r}")
        return book

    def _next_id(self) -> str:
        return str(next(self._ids))

    def _transact_time(self) -> str:
        return self._transact_time_text(self._clock())


def _cost_to_buy(book: OrderBook, quantity: Decimal) -> Decimal:
    """What buying ``quantity`` from the best offers costs, or the whole side if it is thinner."""
    cost = NO_FUNDS
    for level in book.offers.levels():
        taken = min(quantity, level.size)
        cost += taken * level.price
        quantity -= taken
        if not quantity:
            break
    return cost


def _record(owner: str, order: NewOrder, order_id: str) -> VenueOrder:
    """The venue's record of ``owner``'s ``order`` (PendingNew until the engine moves it)."""
    return VenueOrder(
        order_id=order_id,
        owner=owner,
        cl_ord_id=order.cl_ord_id,
        symbol=order.symbol,
        side=order.side,
        ord_type=order.ord_type,
        time_in_force=order.time_in_force,
        price=order.price,
        order_qty=order.quantity,
        post_only=order.post_only,
        self_match_prevention=order.self_match_prevention,
    )


def _view(order: VenueOrder) -> RestingOrderView:
    assert order.price is not None
    return RestingOrderView(
        order_id=order.order_id,
        owner=order.owner,
        cl_ord_id=order.cl_ord_id,
        symbol=order.symbol,
        side=order.side,
        price=order.price,
        order_qty=order.order_qty,
        cum_qty=order.cum_qty,
        leaves_qty=order.leaves_qty,
        ord_status=order.ord_status,
        time_in_force=order.time_in_force,
        post_only=order.post_only,
    )
