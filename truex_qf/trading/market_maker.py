"""The market maker's decision core: books, fair value, quotes, orders, positions and risk.

One object, driven by one thread (the trading loop): it receives inbound domain events and
periodic ticks, and emits commands through ``send``. Nothing here touches the FIX engine or a
socket, so the whole strategy runs in a unit test with a fake ``send``; the runner
(:mod:`truex_qf.app.runner`) connects it to a :class:`~truex_qf.fix.client.FixClient`.

The quoting step per symbol follows the pipeline of :mod:`truex_qf.strategy.quoting`:
decide the fair value, build the proposal, diff it against our working orders, then send
cancels, replaces and creates, each new order or replace through the risk engine first.

Nothing is quoted before the venue has been heard over REST: at every order-entry logon the
state is WAITING (reason WAITING_FOR_RECONCILIATION) until reconciliation has applied the
venue's active orders and its trades since the last recorded fill (see
:mod:`truex_qf.trading.reconcile`), so the risk limits see the real position from the first
order on. WAITING (NO_QUOTABLE_SYMBOL) also covers a security list with none of the strategy's
symbols. A WAITING that lasts ``give_up_after_s`` sets :attr:`MarketMaker.gave_up`, on which
the runner ends the run.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from truex_qf.domain.clordid import ClOrdIdGenerator
from truex_qf.domain.dispatch import HandlerTable, on
from truex_qf.domain.increments import PriceGrid
from truex_qf.domain.model import (
    BusinessMessageReject,
    Command,
    ExecutionReport,
    LogonRefused,
    MarketDataIncrement,
    MarketDataReject,
    MarketDataSnapshot,
    NewOrder,
    OrderCancelReject,
    RequestSecurityList,
    SecurityList,
    SecurityListUpdate,
    SessionLoggedOn,
    SessionLoggedOut,
    SessionRejected,
    SessionRole,
    Side,
    SubscribeMarketData,
)
from truex_qf.domain.venue_orders import VenueOrder, VenueTrade
from truex_qf.marketdata.book import BookKeeper, OrderBook
from truex_qf.marketdata.own_orders import BookWithoutOwnOrders
from truex_qf.strategy.fair_value import FairValueModel, PriceSource, PricingDecision
from truex_qf.strategy.quoting import (
    OUT_OF_BUDGET,
    Proposal,
    Quote,
    WorkingQuote,
    diff_quotes,
    propose,
)
from truex_qf.strategy.settings import StrategySettings, SymbolStrategy
from truex_qf.trading.events import (
    OrderSent,
    PositionBaseline,
    RecoveredTrade,
    RiskDenied,
    TradingStateChanged,
    VenueCorrection,
    VenueOrdersCancelled,
)
from truex_qf.trading.orders import (
    Fill,
    OrderEvent,
    OrderManager,
    OrderRefused,
    OrderState,
    OrderStateChanged,
    OrderWarning,
)
from truex_qf.trading.positions import PositionBook
from truex_qf.trading.reconcile import (
    DeadmanResult,
    ReconcileRequest,
    ReconcileResult,
    UnknownOrderPolicy,
    VenueRequests,
    adoption_report,
    corrections,
    recovered_fill,
    trade_keys,
    trade_report,
    unknown_venue_orders,
)
from truex_qf.trading.risk import RiskEngine, TradingState, exposure_for

log = logging.getLogger("truex_qf.mm")

Send = Callable[[Command], bool]

ORDER_ENTRY_DOWN = "ORDER_ENTRY_DOWN"
SHUTDOWN = "SHUTDOWN"
KILL_SWITCH = "KILL_SWITCH"
# Reasons of the WAITING state, and of an ACTIVE state that quotes unreconciled.
WAITING_FOR_RECONCILIATION = "WAITING_FOR_RECONCILIATION"
NO_QUOTABLE_SYMBOL = "NO_QUOTABLE_SYMBOL"
NOT_RECONCILED = "NOT_RECONCILED"
DEFAULT_GIVE_UP_S = 60.0  # WAITING this long and the run gives up (runner: exit 1)
TRADES_MARGIN_S = 600.0  # the venue's trades are asked from this long before the last known
TRADES_LISTING_EVERY_S = 300.0  # once reconciled, the venue's trades are listed this often
CLOCK_SKEW_S = 300.0  # how far the venue's clock may run ahead of ours (fill keys kept longer)
LISTING_SETTLE_S = 10.0  # a periodic listing leaves trades this young to their FIX reports
UNKNOWN_LEVEL = 99  # a working order we did not place as a quote: the diff cancels it
THROTTLE_REASONS = frozenset({"8", "9", "10"})  # BusinessRejectReason: throttle limits
RETRY_S = 5.0  # a failed reconciliation is retried after this
FORGET_AFTER_S = 60.0  # a finished order is kept this long for late reports, then forgotten
FORGET_EVERY_S = 10.0
UNCERTAIN_CHECK_S = 5.0  # at most this often, ask the venue about orders it never answered


@dataclass
class MarketMakerStats:
    """Counters for the live view and the summary."""

    fills: int = 0
    filled_base: Decimal = Decimal(0)
    orders_sent: int = 0
    replaces_sent: int = 0
    cancels_sent: int = 0
    venue_rejects: int = 0
    send_failures: int = 0
    resubscribes: int = 0
    warnings: dict[str, int] = field(default_factory=dict)


# What a requote reads that market data can move, and the two books it was read from.
_QuoteInputs = tuple[tuple[object, ...] | None, OrderBook | None, BookWithoutOwnOrders | None]


@dataclass
class _SymbolState:
    strategy: SymbolStrategy
    fair_value: FairValueModel
    decision: PricingDecision | None = None
    dirty: bool = True
    """Something beyond the book changed (orders, sessions, a tick): requote in full."""
    inputs_moved: bool = False
    """Market data or an order report arrived: requote only if it moved what the quotes are
    made of (:meth:`MarketMaker._quote_inputs`)."""
    inputs: tuple[object, ...] | None = None
    """What the last full requote priced from (see :meth:`MarketMaker._quote_inputs`)."""


# Told to the listeners as they come. A tuple, not ``A | B | ...``: that builds new union
# objects on every call, and handle() runs for every market-data message.
_SESSION_EVENTS = (SessionLoggedOn, SessionLoggedOut, LogonRefused, SessionRejected)


class MarketMaker:
    """The trading state and decisions; call every method holding the runner's trading lock."""

    def __init__(
        self,
        strategy: StrategySettings,
        send: Send,
        *,
        grid: PriceGrid | None = None,
        references: dict[str, PriceSource] | None = None,
        clock: Callable[[], float] = time.monotonic,
        ids: ClOrdIdGenerator | None = None,
        venue: VenueRequests | None = None,
        no_venue_reason: str | None = None,
        unknown_orders: UnknownOrderPolicy = UnknownOrderPolicy.CANCEL,
        give_up_after_s: float = DEFAULT_GIVE_UP_S,
        own_orders_in_book: bool = True,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """``venue``: the REST requests (reconciliation, deadman, cancels); None when there is
        no REST client, and ``no_venue_reason`` says why (quoting then goes on unreconciled).
        ``unknown_orders``: what reconciliation does with venue orders this process did not
        place. ``give_up_after_s``: how long a WAITING may last before :attr:`gave_up`.
        ``own_orders_in_book``: whether the market data shows our resting orders (it does
        on the venue, and fair value takes them out); False when our orders rest elsewhere
        (paper trading: the live book never holds them, so nothing is taken out).
        ``wall_clock``: epoch seconds, what fill keys are dated by (see :meth:`_remember`)."""
        self.strategy = strategy
        self._send_command = send
        self.grid = grid or PriceGrid()
        self.clock = clock
        self.wall_clock = wall_clock
        self.orders = OrderManager(
            ids or ClOrdIdGenerator(), ack_timeout_s=strategy.ack_timeout_s, clock=clock
        )
        self.positions = PositionBook()
        self.risk = RiskEngine(strategy.risk, clock=clock)
        self.books = BookKeeper()
        self.stats = MarketMakerStats()
        references = references or {}
        self.symbols: dict[str, _SymbolState] = {
            s.symbol: _SymbolState(s, FairValueModel(s.fair_value, references.get(s.symbol)))
            for s in strategy.symbols
        }
        self._levels: dict[str, tuple[Side, int]] = {}  # ClOrdID -> quote level it holds
        self._order_entry_up = False
        self._market_data_up = False
        self._md_req_ids = itertools.count(1)
        self._denial_logged: dict[tuple[str, Side, int], str] = {}
        self.listeners: list[Callable[[object], None]] = []
        self._venue = venue
        self._no_venue_reason = no_venue_reason
        self.unknown_order_policy = unknown_orders
        self.reconciling = False
        self.reconciled = False  # at least once since the start
        self.give_up_after_s = give_up_after_s
        self.own_orders_in_book = own_orders_in_book
        self.gave_up: str | None = None  # the WAITING reason the run gave up on
        self.last_reconcile_error: str | None = None
        self.unlisted: frozenset[str] = frozenset()  # strategy symbols the venue does not list
        self.trades_since_s: float | None = None  # epoch s; None: the venue's whole history
        # ExecIDs and (TrdMatchID, side) recorded -> the latest epoch s (venue clock) their
        # trade can be dated in a listing; dropped once the listing window passes it
        self._known_fills: dict[object, float] = {}
        self._store_fills: set[object] = set()  # of which the store handed over (until checked)
        self._listings_move = True  # the venue dates its trades: a listing moves the window
        self._next_listing = 0.0  # clock s of the next periodic trade listing
        self._expected_fills: frozenset[object] = frozenset()  # the store's last fill
        self._carried: set[str] = set()  # symbols seeded from the store
        self._waiting_since: float | None = None
        self._resume_state = TradingState.ACTIVE
        self._reconcile_retry_at: float | None = None
        self._next_uncertain_check = 0.0
        self._next_forget = 0.0
        self._last_state = (self.risk.state, self.risk.state_reason)
        self._trigger_ns = 0  # receive time of the message being handled, for tick-to-quote
        # One dict lookup per event; on() holds each handler to the type it is filed under.
        self._handlers: HandlerTable = dict(
            [
                on(ExecutionReport, self._on_execution_report),
                on(OrderCancelReject, self._on_cancel_reject),
                on(BusinessMessageReject, self._on_business_reject),
                on(MarketDataSnapshot, self._on_snapshot),
                on(MarketDataIncrement, self._on_increment),
                on(MarketDataReject, self._on_md_reject),
                on(SecurityList, self._on_security_list),
                on(SecurityListUpdate, self._on_security_list_update),
                on(SessionLoggedOn, self._on_logged_on),
                on(SessionLoggedOut, self._on_logged_out),
                on(LogonRefused, self._on_logon_refused),
                on(SessionRejected, self._on_session_rejected),
                on(ReconcileResult, self._on_reconcile_result),
                on(DeadmanResult, self._on_deadman_result),
            ]
        )

    # ------------------------------------------------------------------ inbound events

    def handle(self, event: object) -> None:
        """Apply one inbound event; quoting happens in :meth:`requote_dirty`."""
        handler = self._handlers.get(type(event))
        if handler is None:
            log.warning("no handler for %r", event)
            return
        self._trigger_ns = getattr(event, "received_ns", 0) or self._trigger_ns
        if isinstance(event, _SESSION_EVENTS):
            self._emit(event)
        handler(event)
        self._emit_state_change()

    def _emit(self, event: object) -> None:
        """Tell every listener; a failing listener is logged and never stops trading."""
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.exception("listener %r failed on %r", listener, event)

    def _emit_state_change(self) -> None:
        current = (self.risk.state, self.risk.state_reason)
        if current != self._last_state:
            self._last_state = current
            self._emit(TradingStateChanged(*current))

    def _on_logged_on(self, event: SessionLoggedOn) -> None:
        if event.role is SessionRole.MARKET_DATA:
            self._market_data_up = True
            self._send(RequestSecurityList(f"SL{next(self._md_req_ids)}"))
            self._subscribe(tuple(self.symbols))
        else:
            self._order_entry_up = True
            if (
                self.risk.state is TradingState.HALTED
                and self.risk.state_reason == ORDER_ENTRY_DOWN
            ):
                self.risk.set_state(TradingState.ACTIVE, "order entry back up")
            self._start_reconciliation()
        self._mark_all_dirty()

    # ------------------------------------------------------------------ WAITING

    def _enter_waiting(self, reason: str) -> None:
        """Stop quoting for ``reason`` (never over a halt: that has its own reason)."""
        state = self.risk.state
        if state is TradingState.HALTED:
            return
        if state is TradingState.WAITING and self.risk.state_reason == reason:
            return
        if state is not TradingState.WAITING:
            self._resume_state = state
        if self.risk.set_state(TradingState.WAITING, reason):
            self._waiting_since = self.clock()

    def _leave_waiting(self, reason: str, why: str) -> None:
        if self.risk.state is TradingState.WAITING and self.risk.state_reason == reason:
            self._waiting_since = None
            self.risk.set_state(self._resume_state, why)

    def _check_quotable(self) -> None:
        """WAITING while no strategy symbol is listed by the venue (reconciliation first)."""
        if self.unlisted and self.unlisted >= set(self.symbols):
            if not self.reconciling:
                self._enter_waiting(NO_QUOTABLE_SYMBOL)
        else:
            self._leave_waiting(NO_QUOTABLE_SYMBOL, "a strategy symbol is listed")

    @property
    def waiting_for_s(self) -> float | None:
        """How long the current WAITING has lasted (None: not waiting)."""
        if self.risk.state is not TradingState.WAITING or self._waiting_since is None:
            return None
        return self.clock() - self._waiting_since

    def _check_give_up(self) -> None:
        waited = self.waiting_for_s
        if waited is not None and waited >= self.give_up_after_s and self.gave_up is None:
            self.gave_up = self.risk.state_reason
            log.error("%s for %.0f s: giving up", self.gave_up, waited)

    def _on_logged_out(self, event: SessionLoggedOut) -> None:
        if event.role is SessionRole.MARKET_DATA:
            if self._market_data_up:
                self.books.invalidate_all()
            self._market_data_up = False
        else:
            was_up = self._order_entry_up
            if was_up and self.risk.state is not TradingState.HALTED:
                if self.risk.state is not TradingState.WAITING:
                    self._resume_state = self.risk.state
                self._waiting_since = None
                self.risk.set_state(TradingState.HALTED, ORDER_ENTRY_DOWN)
            self._order_entry_up = False
            if was_up and self._venue is not None and self.orders.working_orders():
                # TrueX documents no cancel-on-disconnect: cancel everything over REST now
                working = tuple(o.cl_ord_id for o in self.orders.working_orders())
                log.error("order entry down: cancelling %d orders over REST", len(working))
                self._venue.deadman(working)

    def _on_logon_refused(self, event: LogonRefused) -> None:
        log.error("%s logon refused: %s", event.role.value, event.text)

    def _on_session_rejected(self, event: SessionRejected) -> None:
        self.stats.venue_rejects += 1
        self.risk.record_reject()

    def _subscribe(self, symbols: tuple[str, ...]) -> None:
        md_req_id = f"MD{next(self._md_req_ids)}"
        self.books.register_subscription(md_req_id, symbols)
        self._send(SubscribeMarketData(md_req_id, symbols, self.strategy.market_depth))

    def _on_snapshot(self, snapshot: MarketDataSnapshot) -> None:
        self._resubscribe(self.books.apply_snapshot(snapshot, self.clock()))
        self._mark_dirty(snapshot.symbol)

    def _on_increment(self, increment: MarketDataIncrement) -> None:
        inconsistent = self.books.apply_increment(increment, self.clock())
        self._resubscribe(inconsistent)
        symbols = self.symbols
        for symbol in self.books.last_touched:
            state = symbols.get(symbol)
            if state is not None:
                state.inputs_moved = True

    def _resubscribe(self, symbols: frozenset[str]) -> None:
        if symbols and self._market_data_up:
            log.warning("book inconsistent for %s: resubscribing", ", ".join(sorted(symbols)))
            self.stats.resubscribes += 1
            self._subscribe(tuple(sorted(symbols)))

    def _on_md_reject(self, reject: MarketDataReject) -> None:
        log.error("market data request %s refused: %s", reject.md_req_id, reject.text)

    def _on_security_list(self, securities: SecurityList) -> None:
        """35=y: the venue's whole list; a strategy symbol not in it is not quoted. A list the
        venue marks as failed (SecurityRequestResult 560 other than 0: "no instruments",
        "temporarily unavailable") changes nothing: it is not a delisting of everything."""
        if securities.result not in (None, "0"):
            log.warning(
                "security list refused (560=%s): the listing stays as known", securities.result
            )
            return
        listed = {s.symbol for s in securities.securities}
        self.unlisted = frozenset(set(self.symbols) - listed)
        if self.unlisted:
            log.error("venue does not list %s: no quotes there", ", ".join(sorted(self.unlisted)))
        self._check_quotable()
        self._mark_all_dirty()

    def _on_security_list_update(self, update: SecurityListUpdate) -> None:
        """35=BK: a deleted strategy symbol stops being quoted (its orders are cancelled), an
        added one is quotable again."""
        deleted = set(update.deleted_symbols) & set(self.symbols)
        added = set(update.added_symbols) & set(self.symbols)
        if not deleted and not added:
            return
        self.unlisted = frozenset((self.unlisted | deleted) - added)
        for symbol in sorted(deleted):
            log.error("venue deleted %s from its security list: no quotes there", symbol)
            for order in self.orders.working_orders(symbol):
                self._cancel(order.cl_ord_id)
        self._check_quotable()
        self._mark_all_dirty()

    def _on_execution_report(self, report: ExecutionReport) -> None:
        """Apply the report; requote in full after a fill, else only if it moved an input.

        Most reports only move an order along (PendingNew, PendingReplace, then New or
        Replaced): an order's state is among the quote inputs, so a report that changes
        nothing a quote reads (e.g. a pending state, which the diff holds anyway) costs a
        comparison instead of fair value, the proposal and the diff.
        """
        events = self.orders.on_execution_report(report)
        self._apply_order_events(events)
        state = self.symbols.get(report.symbol)
        if state is None:
            return
        if any(isinstance(event, Fill) for event in events):
            state.dirty = True
        else:
            state.inputs_moved = True

    def _on_cancel_reject(self, reject: OrderCancelReject) -> None:
        self._apply_order_events(self.orders.on_cancel_reject(reject))
        self._mark_all_dirty()

    def _on_business_reject(self, reject: BusinessMessageReject) -> None:
        self.stats.venue_rejects += 1
        self.risk.record_reject()
        if reject.reason in THROTTLE_REASONS:
            log.warning("venue throttled us: %s", reject.text)
        self._apply_order_events(self.orders.on_business_reject(reject))
        self._mark_all_dirty()

    def _apply_order_events(self, events: list[OrderEvent]) -> None:
        for event in events:
            self._emit(event)
            if isinstance(event, Fill):
                keys = trade_keys(event.exec_id, event.trade_match_id, event.side)
                self._remember(keys, self.wall_clock() + CLOCK_SKEW_S)
                self.positions.on_fill(event)
                self.stats.fills += 1
                self.stats.filled_base += event.qty
                log.info(
                    "fill %s %s %s @ %s (%s)",
                    event.symbol,
                    event.side.name,
                    event.qty,
                    event.price,
                    event.cl_ord_id,
                )
            elif isinstance(event, OrderStateChanged):
                if event.state is OrderState.REJECTED:
                    self.stats.venue_rejects += 1
                    self.risk.record_reject()
                    log.warning(
                        "order %s rejected: %s", event.cl_ord_id, event.text or event.reason
                    )
            elif isinstance(event, OrderWarning):
                self.stats.warnings[event.code] = self.stats.warnings.get(event.code, 0) + 1
                log.warning("order %s: %s %s", event.cl_ord_id, event.code, event.detail)

    # ------------------------------------------------------------------ quoting

    def _mark_dirty(self, symbol: str | None) -> None:
        state = self.symbols.get(symbol) if symbol else None
        if state is not None:
            state.dirty = True

    def mark_inputs_moved(self, symbol: str) -> None:
        """A quote input of ``symbol`` moved (a book, a reference price): the next
        :meth:`requote_dirty` compares its inputs and requotes if they differ."""
        state = self.symbols.get(symbol)
        if state is not None:
            state.inputs_moved = True

    def _mark_all_dirty(self) -> None:
        for state in self.symbols.values():
            state.dirty = True

    def tick(self) -> None:
        """Periodic work: order timeouts, and re-evaluate every symbol (staleness moves on)."""
        self._apply_order_events(self.orders.check_timeouts(self.clock()))
        now = self.clock()
        self._check_give_up()
        if now >= self._next_forget:
            self._forget_finished_orders(now)
        retry_at = self._reconcile_retry_at
        if retry_at is not None and now >= retry_at and self._order_entry_up:
            self._start_reconciliation()
        elif self._should_check_uncertain(now):
            # an order the venue never answered: ask the venue, rather than guess
            self._next_uncertain_check = now + UNCERTAIN_CHECK_S
            self._start_reconciliation()
        elif self._should_list_trades(now):
            self._list_trades(now)
        self._mark_all_dirty()
        self.requote_dirty()

    def requote_dirty(self) -> None:
        """Quote every symbol something happened to since its last quote.

        The one requote skip, and why: most increments change levels below the top of book,
        and most order reports only move an order from one pending state to the next; neither
        can change the quotes. So a symbol that only saw market data or order reports
        (``inputs_moved``) is requoted only when :meth:`_quote_inputs`, everything a quote is
        made of, differs from what the last requote read; anything else (``dirty``: a fill, a
        session or security-list event, a reject, the periodic tick, which also catches
        time-driven staleness) requotes in full. A requote of unchanged inputs would send
        nothing (the diff keeps every order), so the skip saves only time; it is exact
        because the inputs are the quotes' whole input. And while one of our new orders
        awaits its New report, market data does not requote at all (see
        :meth:`_awaiting_new_ack`): that one is behaviour, not speed.
        """
        for symbol, state in self.symbols.items():
            if state.dirty:
                state.dirty = state.inputs_moved = False
                self.requote(symbol)
            elif state.inputs_moved:
                state.inputs_moved = False
                seen = self._quote_inputs(symbol, state)
                # the cheap comparison first: most messages stop there
                moved = state.inputs is None or seen[0] != state.inputs
                if moved and not self._awaiting_new_ack(symbol):
                    self.requote(symbol, seen)
        self._emit_state_change()

    def _awaiting_new_ack(self, symbol: str) -> bool:
        """Whether one of our new orders for ``symbol`` awaits the venue's New report.

        Until then the book may already show it while we cannot tell it from others' (only
        acknowledged orders are taken out of the book), so fair value read now would move
        with our own quote, and a zero-tolerance requote would chase it: new, cancel, new...
        Market data and order reports wait for the acknowledgement, whose report triggers
        the check; fills, session events and the tick still requote in full.
        """
        pending = OrderState.PENDING_NEW
        return any(order.state is pending for order in self.orders.working_orders(symbol))

    def _quote_inputs(self, symbol: str, state: _SymbolState) -> _QuoteInputs:
        """Everything a requote reads that market data or order reports can move, and the
        books it read.

        The top of the book with and without our own orders (fair value reads the levels
        others quote, their sizes only for the micro-price; the taker filter reads the raw
        best prices), the book's health, the
        reference price, our working orders as the diff sees them, and the trading and
        session state. Time-driven changes (staleness, timeouts) are caught by :meth:`tick`,
        which requotes in full.
        """
        book = self.books.book(symbol)
        if book is None:
            return None, None, None
        own, orders = self._own_orders(symbol)
        if not self.own_orders_in_book:
            own = {}
        priced = BookWithoutOwnOrders(book, own, live=self._market_data_up)
        others_bid, others_offer = priced.best_bid(), priced.best_offer()
        inputs = (
            orders,
            book.has_snapshot,
            book.inconsistency,
            book.best_bid_price(),
            book.best_offer_price(),
            # others' sizes there only where fair value reads them (the micro-price)
            (others_bid, others_offer)
            if state.fair_value.reads_top_size
            else (
                others_bid.price if others_bid is not None else None,
                others_offer.price if others_offer is not None else None,
            ),
            state.fair_value.reference_seen(),
            self.positions.position_base(symbol),
            self.risk.state,
            self._order_entry_up,
            self._market_data_up,
            self.reconciling,
        )
        return inputs, book, priced

    def requote(self, symbol: str, seen: _QuoteInputs | None = None) -> None:
        """Decide, propose, diff and send for one symbol (``seen``: its quote inputs, when
        the caller has just read them)."""
        state = self.symbols[symbol]
        if not self._order_entry_up or self.reconciling or symbol in self.unlisted:
            state.inputs = None
            return
        now = self.clock()
        state.inputs, book, priced_book = seen or self._quote_inputs(symbol, state)
        state.decision = state.fair_value.decide(priced_book, now)
        position = self.positions.position_base(symbol)
        proposal = self._proposal(state, position, book)
        working = [
            WorkingQuote(
                cl_ord_id=order.cl_ord_id,
                side=order.side,
                level=self._levels.get(order.cl_ord_id, (order.side, UNKNOWN_LEVEL))[1],
                price=order.price or Decimal(0),
                size=order.remaining_qty,
                in_flight=self.orders.in_flight(order.cl_ord_id)
                or order.state is OrderState.UNCERTAIN,
            )
            for order in self.orders.working_orders(symbol)
        ]
        budget = self.risk.has_message_budget(now)
        actions = diff_quotes(
            proposal,
            working,
            self.strategy.requote_tolerance_bps,
            self.strategy.requote_size_tolerance,
            self.strategy.requote_mode,
            budget,
        )
        if not budget and any(held.reason == OUT_OF_BUDGET for held in actions.held):
            state.dirty = True  # a move waits for the message budget: look again next turn
        for stale in actions.cancel:
            self._cancel(stale.cl_ord_id)
        fair = state.decision.fair_value.price if state.decision.fair_value else None
        book_age = priced_book.age_s(now) if priced_book is not None else None
        crossed = book.is_crossed() if book is not None else False
        for replace in actions.replace:
            if not self.risk.has_message_budget(now):
                state.dirty = True  # out of message budget: try again next turn
                return
            self._replace(symbol, replace.working, replace.quote, fair, book_age, crossed)
        for quote in actions.create:
            if not self.risk.has_message_budget(now):
                state.dirty = True
                return
            self._create(symbol, quote, state.strategy.quoting.post_only, fair, book_age, crossed)
        if actions.has_orders:
            # What was just sent is part of the inputs now: the next report or increment is
            # compared with it, not with the orders as they were before this requote.
            state.inputs = self._quote_inputs(symbol, state)[0]

    def _own_orders(
        self, symbol: str
    ) -> tuple[dict[tuple[Side, Decimal], Decimal], tuple[tuple[object, ...], ...]]:
        """Our acknowledged resting quantity per (side, price), what the venue book shows of
        us; and each working order as the quote diff sees it (id, state, price, remaining
        quantity, in flight), in one pass."""
        own: dict[tuple[Side, Decimal], Decimal] = {}
        seen: list[tuple[object, ...]] = []
        in_flight = self.orders.in_flight
        for order in self.orders.working_orders(symbol):
            if order.acknowledged and order.price is not None:
                key = (order.side, order.price)
                own[key] = own.get(key, Decimal(0)) + order.remaining_qty
            seen.append(
                (
                    order.cl_ord_id,
                    order.state,
                    order.price,
                    order.remaining_qty,
                    in_flight(order.cl_ord_id),
                )
            )
        return own, tuple(seen)

    def _proposal(self, state: _SymbolState, position: Decimal, book: OrderBook | None) -> Proposal:
        params = state.strategy.quoting
        assert state.decision is not None
        if self.risk.state is TradingState.HALTED or self.risk.state is TradingState.WAITING:
            return Proposal.empty(params.post_only)
        proposal = propose(state.decision, position, params, self.grid, book)
        if self.risk.state is TradingState.REDUCING:
            reducing = Side.SELL if position > 0 else Side.BUY if position < 0 else None
            proposal = Proposal(
                quotes=tuple(q for q in proposal.quotes if q.side is reducing),
                fair_value=proposal.fair_value,
                skew_bps=proposal.skew_bps,
                suppressed=proposal.suppressed,
                post_only=proposal.post_only,
            )
        return proposal

    def _create(
        self,
        symbol: str,
        quote: Quote,
        post_only: bool,
        fair: Decimal | None,
        book_age: float | None,
        crossed: bool,
    ) -> None:
        draft = self.orders.draft_new_order(
            symbol, quote.side, quote.size, quote.price, post_only=post_only
        )
        exposure = exposure_for(symbol, self.orders, self.positions)
        decision = self.risk.check_new(draft, fair, book_age, crossed, exposure)
        if not decision.allowed:
            reason = decision.reason_code or ""  # a denial always names one (RiskDecision.deny)
            self._log_denial(symbol, quote.side, quote.level, reason, decision.detail)
            return
        self._denial_logged.pop((symbol, quote.side, quote.level), None)
        self.orders.track(draft)
        self._levels[draft.cl_ord_id] = (quote.side, quote.level)
        if self._send(draft):
            self.stats.orders_sent += 1
            self._sent("new", draft.cl_ord_id, symbol)

    def _replace(
        self,
        symbol: str,
        working: WorkingQuote,
        quote: Quote,
        fair: Decimal | None,
        book_age: float | None,
        crossed: bool,
    ) -> None:
        order = self.orders.get(working.cl_ord_id)
        if order is None:
            return
        total_qty = order.cum_qty + quote.size  # 35=G carries the new total quantity
        exposure = exposure_for(symbol, self.orders, self.positions)
        decision = self.risk.check_replace(
            order, quote.price, total_qty, fair, book_age, crossed, exposure
        )
        if not decision.allowed:
            reason = decision.reason_code or ""  # a denial always names one (RiskDecision.deny)
            self._log_denial(symbol, quote.side, quote.level, reason, decision.detail)
            return
        try:
            request = self.orders.replace(working.cl_ord_id, quote.price, total_qty)
        except OrderRefused as refused:
            log.debug("replace of %s refused locally: %s", working.cl_ord_id, refused)
            return
        self._levels[request.cl_ord_id] = (quote.side, quote.level)
        if self._send(request):
            self.stats.replaces_sent += 1
            self._sent("replace", request.cl_ord_id, symbol)

    def _cancel(self, cl_ord_id: str) -> bool:
        try:
            request = self.orders.cancel(cl_ord_id)
        except OrderRefused as refused:
            log.debug("cancel of %s refused locally: %s", cl_ord_id, refused)
            return False
        sent = self._send(request)
        if sent:
            self.stats.cancels_sent += 1
            order = self.orders.get(cl_ord_id)
            self._sent("cancel", request.cl_ord_id, order.symbol if order else "")
        return sent

    def _sent(self, kind: str, cl_ord_id: str, symbol: str) -> None:
        if self.listeners:
            self._emit(OrderSent(kind, cl_ord_id, symbol, time.perf_counter_ns(), self._trigger_ns))

    def _log_denial(self, symbol: str, side: Side, level: int, reason: str, detail: str) -> None:
        """Every denial is counted and emitted; each new reason per level is logged."""
        self._emit(RiskDenied(symbol, side, level, reason, detail))
        key = (symbol, side, level)
        if self._denial_logged.get(key) != reason:
            self._denial_logged[key] = reason
            log.warning(
                "risk denied %s %s level %d: %s (%s)", symbol, side.name, level, reason, detail
            )

    def _send(self, command: Command) -> bool:
        sent = self._send_command(command)
        if not sent:
            self.stats.send_failures += 1
            log.error("engine refused to send %r", command)
        return sent

    # ------------------------------------------------------------------ reconciliation

    def _forget_finished_orders(self, now: float) -> None:
        """Keep the order manager to live orders: otherwise every scan of working orders (three
        per risk check) grows with the run's history, and a long run slows down (the benchmark
        showed the order path tripling over a few hundred orders)."""
        self._next_forget = now + FORGET_EVERY_S
        if self.orders.forget_terminal(FORGET_AFTER_S, now):
            self._levels = {c: lv for c, lv in self._levels.items() if self.orders.get(c)}

    def _should_check_uncertain(self, now: float) -> bool:
        if self._venue is None or self.reconciling or not self._order_entry_up:
            return False
        if now < self._next_uncertain_check:
            return False
        return any(o.state is OrderState.UNCERTAIN for o in self.orders.working_orders())

    def _start_reconciliation(self) -> None:
        """Ask the venue what is really working and what traded; quoting waits (WAITING) for
        the answer. Without REST at all, quoting goes on and the state's reason says so."""
        if self._venue is None:
            reason = f"{NOT_RECONCILED}: {self._no_venue_reason or 'no REST client'}"
            if self.risk.state is TradingState.ACTIVE and self.risk.state_reason != reason:
                self.risk.set_state(TradingState.ACTIVE, reason)
            return
        self.reconciling = True
        self._reconcile_retry_at = None
        self._next_listing = self.clock() + TRADES_LISTING_EVERY_S  # this one lists them too
        self._enter_waiting(WAITING_FOR_RECONCILIATION)
        working = tuple(o.cl_ord_id for o in self.orders.working_orders())
        log.info("reconciling %d working orders with the venue", len(working))
        self._venue.reconcile(ReconcileRequest(working, self.trades_since_s))

    def _should_list_trades(self, now: float) -> bool:
        return (
            self._venue is not None
            and self._listings_move
            and self.reconciled
            and not self.reconciling
            and self._order_entry_up
            and now >= self._next_listing
        )

    def _list_trades(self, now: float) -> None:
        """The periodic trade listing: the venue's trades since :attr:`trades_since_s`, asked
        while quoting goes on. Its answer records any fill FIX did not bring (as a
        reconciliation's would) and moves the window on, so the fill keys older than it are
        dropped (:meth:`_remember`); without it the window would move only at reconnects."""
        assert self._venue is not None
        self._next_listing = now + TRADES_LISTING_EVERY_S
        self._venue.reconcile(ReconcileRequest((), self.trades_since_s, trades_only=True))

    def _on_reconcile_result(self, result: ReconcileResult) -> None:
        if result.trades_only:
            if result.error is not None:
                log.warning("periodic trade listing failed (%s)", result.error)
            else:
                self._apply_venue_trades(result.trades, self.wall_clock() - LISTING_SETTLE_S)
            return
        if result.error is not None:
            log.error("reconciliation failed (%s); retrying in %.0f s", result.error, RETRY_S)
            self.last_reconcile_error = result.error
            self._reconcile_retry_at = self.clock() + RETRY_S
            return
        self.last_reconcile_error = None
        if result.balances:
            log.info(
                "venue balances: %s",
                ", ".join(f"{b.asset_name or b.asset_id} {b.balance}" for b in result.balances),
            )
        if not self._venue_knows_the_store(result.trades):
            self._start_reconciliation()  # again, for the venue's whole trade history
            return
        self._apply_venue_trades(result.trades)
        by_external = {venue.external_id: venue for venue in result.active if venue.external_id}
        known: set[str] = set()
        for order in self.orders.working_orders():
            known.update(order.cl_ord_ids)
            venue = next((by_external[c] for c in order.cl_ord_ids if c in by_external), None)
            if venue is None and order.cl_ord_id not in result.statuses:
                continue  # not asked about (placed after the request)
            if venue is None:
                venue = result.statuses.get(order.cl_ord_id)
            for report in corrections(order, venue):
                log.warning("reconcile %s: %s", order.cl_ord_id, report.exec_type.name)
                self._correct(report)
        for order in self.orders.working_orders():
            known.update(order.cl_ord_ids)
        strangers = [v for v in unknown_venue_orders(result.active, known) if v.order_id]
        if strangers and self.unknown_order_policy is UnknownOrderPolicy.ADOPT:
            for venue in strangers:
                self._adopt(venue)
        elif strangers and self._venue is not None:
            log.warning("cancelling %d venue orders this process did not place", len(strangers))
            order_ids = tuple(v.order_id for v in strangers)
            self._emit(VenueOrdersCancelled(order_ids))
            self._venue.cancel_orders(order_ids)
        self.reconciling = False
        self.reconciled = True
        self._leave_waiting(WAITING_FOR_RECONCILIATION, "reconciled with the venue")
        self._check_quotable()
        log.info(
            "reconciled with the venue: position %s; quoting may resume",
            ", ".join(f"{s} {self.positions.position_base(s)}" for s in self.symbols),
        )
        self._mark_all_dirty()

    def _correct(self, report: ExecutionReport, adopted: bool = False) -> None:
        """Apply a report on the venue's word, told to the listeners (the journal) first."""
        self._emit(VenueCorrection(report, adopted))
        self._apply_order_events(self.orders.on_execution_report(report))

    def _apply_venue_trades(
        self, trades: tuple[VenueTrade, ...] | None, settled_before_s: float | None = None
    ) -> None:
        """Record every venue trade not recorded yet (see :mod:`truex_qf.trading.reconcile`),
        then move the window on and drop the fill keys it left behind (:meth:`_remember`).

        A trade dated before the window (:attr:`trades_since_s`, moved on by an answer to a
        later request) is one an earlier listing showed: skipped, as its keys may be gone.
        A periodic listing leaves the trades dated from ``settled_before_s`` on to their FIX
        reports, still on their way; they are in the next listing's window.
        """
        if trades is None:
            self._listings_move = False  # no trade history: no periodic listing
            return
        since = self.trades_since_s
        latest: float | None = None
        for trade in trades:
            at_s = trade.at_s
            if at_s is None:
                # an undated trade is listed again by every listing: its keys are kept
                # for the run, and listings cannot move the window (nor are repeated)
                self._listings_move = False
            elif (since is not None and at_s < since) or (
                settled_before_s is not None and at_s >= settled_before_s
            ):
                continue  # before the window, or not settled yet
            else:
                latest = at_s if latest is None else max(latest, at_s)
            keys = trade_keys(trade.exec_id, trade.trade_match_id, trade.side)
            if any(key in self._known_fills for key in keys):
                continue
            order = self.orders.get(trade.external_id) if trade.external_id else None
            log.warning(
                "missed fill from the venue: %s %s %s @ %s (order %s, exec %s)",
                trade.symbol,
                trade.side.name,
                trade.quantity,
                trade.price,
                trade.external_id or trade.order_id,
                trade.exec_id,
            )
            if order is not None and order.symbol == trade.symbol:
                self._correct(trade_report(order, trade))
            else:
                fill = recovered_fill(trade)
                self._emit(RecoveredTrade(fill))
                self._apply_order_events([fill])
            self._remember(keys, float("inf") if at_s is None else at_s)
        if latest is not None:
            moved = latest - TRADES_MARGIN_S
            if self.trades_since_s is None or moved > self.trades_since_s:
                self.trades_since_s = moved
                self._forget_fills_before(moved)

    def _remember(self, keys: Iterable[object], latest_at_s: float) -> None:
        """Record fill keys, each with the latest venue time its trade can be dated by.

        Keys are only ever looked up for trades a listing returns, and a listing returns
        the trades dated from :attr:`trades_since_s` on (trades dated earlier are skipped,
        see :meth:`_apply_venue_trades`): a key dated before it can never be asked for, and
        is dropped when the window moves (:meth:`_forget_fills_before`). The window moves
        when a listing shows newer trades: at every reconciliation (each order-entry logon)
        and every ``TRADES_LISTING_EVERY_S`` by the periodic listing, so the keys kept are
        the fills of the last ``TRADES_MARGIN_S`` + ``CLOCK_SKEW_S`` + listing period or so.

        The date: a listed trade's own (venue clock); a FIX fill's is unknown, so its
        receipt time on our clock plus ``CLOCK_SKEW_S`` (it matched before we heard of
        it; the venue's clock may be ahead by that much); the store's fills, before its
        last fill's time (plus the skew); an undated listed trade never (infinity). Without
        REST nothing ever lists trades and no key would be looked up: none is kept.
        """
        if self._venue is None:
            return
        known = self._known_fills
        for key in keys:
            if known.get(key, latest_at_s) <= latest_at_s:
                known[key] = latest_at_s

    def _forget_fills_before(self, since_s: float) -> None:
        self._known_fills = {k: at for k, at in self._known_fills.items() if at >= since_s}

    def _venue_knows_the_store(self, trades: tuple[VenueTrade, ...] | None) -> bool:
        """Whether the venue lists the store's last fill, checked once, at the first answer.

        The asked-for window covers that fill's time, so a venue that knows this account
        lists it. If it does not, the store's history is not this venue's (another venue or
        account, a simulator started afresh): the carried-over position is dropped and the
        position is the venue's whole trade history, asked for again (False).
        """
        expected, self._expected_fills = self._expected_fills, frozenset()
        if not expected or trades is None:
            self._store_fills.clear()  # checked: no longer told apart
            return True
        listed = {key for t in trades for key in trade_keys(t.exec_id, t.trade_match_id, t.side)}
        if listed & expected:
            self._store_fills.clear()
            return True
        log.error(
            "the venue does not list the last fill this account's store holds (another venue "
            "or account, or a simulator started afresh?): the position carried over is "
            "dropped and taken from the venue's whole trade history"
        )
        for symbol in sorted(self._carried):
            self.seed_position(symbol, Decimal(0), Decimal(0))
        for key in self._store_fills:
            self._known_fills.pop(key, None)
        self._store_fills.clear()
        self.trades_since_s = None
        return False

    def seed_position(self, symbol: str, quantity_base: Decimal, cost_basis_quote: Decimal) -> None:
        """Start ``symbol`` from a carried-over position (before any fill; told to listeners)."""
        self._emit(PositionBaseline(symbol, quantity_base, cost_basis_quote))
        self.positions.seed(symbol, quantity_base, cost_basis_quote)
        self._carried.add(symbol)

    def know_fills(
        self,
        keys: Iterable[object],
        last: Iterable[object] = (),
        last_fill_s: float | None = None,
    ) -> None:
        """ExecIDs and (TrdMatchID, side) pairs the store already holds (see trade_keys), and
        those of its last fill, which the venue's first trade listing must show; the venue's
        trades are then asked from a margin before ``last_fill_s`` (epoch s), that fill's time."""
        held = set(keys)
        before_s = self.wall_clock() if last_fill_s is None else last_fill_s
        self._remember(held, before_s + CLOCK_SKEW_S)
        self._store_fills |= held
        self._expected_fills = frozenset(last)
        if last_fill_s is not None:
            self.trades_since_s = last_fill_s - TRADES_MARGIN_S

    def _adopt(self, venue: VenueOrder) -> None:
        report = adoption_report(venue)
        if report is None:
            log.error("cannot adopt venue order %s: incomplete", venue.order_id)
            return
        self.orders.track(
            NewOrder(report.cl_ord_id, report.symbol, report.side, report.order_qty, report.price)
        )
        self._correct(report, adopted=True)
        log.warning("adopted venue order %s as %s", venue.order_id, report.cl_ord_id)

    def _on_deadman_result(self, result: DeadmanResult) -> None:
        if result.error or result.failed:
            log.error(
                "deadman cancel incomplete: %d cancelled, failed %s, %s",
                result.canceled,
                result.failed,
                result.error,
            )
        else:
            log.warning("deadman cancelled %d orders over REST", result.canceled)

    # ------------------------------------------------------------------ control

    def cancel_all(self) -> int:
        """Cancel every working order; returns how many cancels were sent."""
        return sum(self._cancel(order.cl_ord_id) for order in self.orders.working_orders())

    def engage_kill_switch(self, reason: str) -> None:
        """HALTED, and every working order cancelled."""
        log.error("kill switch engaged: %s", reason)
        self.risk.engage_kill_switch(reason)
        self._emit_state_change()
        self.cancel_all()

    def halt(self, reason: str) -> bool:
        """Stop quoting for ``reason`` (HALTED: only cancels go out; the next requote's empty
        proposal cancels the quotes), unless already halted for any reason. Whether it halted
        now: a halt for another reason that lifts (order entry back up) lets a caller that
        still needs the halt apply it again."""
        if self.risk.state is TradingState.HALTED:
            return False
        self.risk.set_state(TradingState.HALTED, reason)
        self._emit_state_change()
        return True

    def begin_shutdown(self) -> None:
        """Stop quoting and cancel everything; the loop then waits for the acknowledgements."""
        self.halt(SHUTDOWN)
        self._emit_state_change()
        self.cancel_all()

    def working_order_count(self) -> int:
        return self.orders.open_order_count()

    def fair_values(self) -> dict[str, Decimal]:
        return {
            symbol: state.decision.fair_value.price
            for symbol, state in self.symbols.items()
            if state.decision is not None and state.decision.fair_value is not None
        }

    @property
    def sessions_up(self) -> tuple[bool, bool]:
        """(order entry, market data)."""
        return self._order_entry_up, self._market_data_up
