"""``truex-qf run`` and the demo: the market maker on both FIX sessions, start to clean finish.

Threads: trading state has one owner at a time, whoever holds the runner's trading lock.

- **Application messages** (market data, execution reports) are applied on the QuickFIX engine
  thread that read them (one for both sessions, :class:`~truex_qf.fix.client.FixClient`):
  ``fromApp`` reads the message, takes the lock and applies it. No queue hand-off stands
  between a market move and the order it causes (issue "Performance": the hand-off, a sleep
  and a wake-up per message with the GIL passed back and forth, was most of the cost).
  ``fromApp`` holds no engine lock, so waiting for ours is safe there.
- **Who decides when** (the quote decision, ``MarketMaker.requote_dirty``; issue 19): after an
  order report or session event, the thread that applied it, at once. After market data, the
  engine thread at once when the message found it idle; during a burst (the message was read
  right after the previous one, :mod:`~truex_qf.app.decision_gate`) the decision is
  coalesced: the engine thread wakes the trading loop, which decides when it next gets the
  lock, and the engine thread itself decides mid-burst as soon as the oldest undecided
  message is ``max_decision_lag_us`` old. Every message is applied on arrival, in order;
  each decision covers all of them. :meth:`Runner.inputs_moved` is the entry point for a
  quote input that moves outside the FIX stream (a reference price).
- **Session events** (logon, logout, refusals) arrive in callbacks the engine makes while it
  holds the session's mutex; they only go on a queue, and whoever takes the lock next applies
  the queue first, so events keep the order they happened in.
- **The trading loop** (:meth:`Runner.run`, on the calling thread) takes the lock for the
  periodic tick (timeouts, staleness, reconnects), queued events and the status view.
  Nothing that waits for an engine thread (``FixClient.stop``) runs under the lock.

Shutdown (end of ``--duration``, SIGINT/SIGTERM) halts quoting, cancels every working order,
waits for the acknowledgements, then logs out of both sessions.

Paper trading (``order_venue``, :mod:`truex_qf.app.order_venue`): no order-entry session is
started. The order venue stands in for it: its "logon" is queued at start (the market maker
sees order entry up), every order command goes to it, and its reports are queued as the
session's would be, for the trading lock's next holder. Live market data goes to it as well,
so that our resting orders fill when the market trades through them. There is no REST
reconciliation: no order of the run is at the venue.
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from collections.abc import Callable, Sized
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from truex_qf.app.decision_gate import DecisionGate
from truex_qf.app.live_view import LiveView, currencies, shown
from truex_qf.app.order_venue import ORDER_COMMANDS, OrderVenue
from truex_qf.app.pipeline import Pipeline, describe_venue
from truex_qf.config import FixSettings
from truex_qf.domain.errors import LogonRejectedError, TruexError
from truex_qf.domain.model import (
    Command,
    InboundEvent,
    LogonRefused,
    MarketDataIncrement,
    MarketDataSnapshot,
    SessionLoggedOn,
    SessionLoggedOut,
    SessionRole,
)
from truex_qf.fix.client import FixClient
from truex_qf.fix.reconnect import Action, BackoffPolicy, SessionReconnector
from truex_qf.rest.client import TruexRestClient
from truex_qf.rest.worker import RestWorker
from truex_qf.strategy.fair_value import PriceSource
from truex_qf.strategy.settings import StrategySettings
from truex_qf.trading.market_maker import (
    DEFAULT_GIVE_UP_S,
    NO_QUOTABLE_SYMBOL,
    WAITING_FOR_RECONCILIATION,
    MarketMaker,
)
from truex_qf.trading.reconcile import DeadmanResult, ReconcileResult, UnknownOrderPolicy

log = logging.getLogger("truex_qf.app.runner")

# What the trading loop's queue carries: FIX messages and session events, and the REST
# worker's answers.
LoopEvent = InboundEvent | ReconcileResult | DeadmanResult

SHUTDOWN_ACK_TIMEOUT_S = 10.0
LOGON_TIMEOUT_S = 30.0
STOP_POLL_S = 0.1  # how often the loop looks at a stop request (Ctrl-C, end of --duration)
QUEUE_POLL_S = 0.05  # how often shutdown looks at the queue of session events
CANCEL_RETRY_S = 0.2  # shutdown: cancel again after this long without a report
VENUE_TRADE_HISTORY_S = 27 * 86400.0  # TrueX lists 28 days of trades; a day's margin
NO_REST_REASON = "no REST client (TRUEX_REST_URL=off)"
PAPER_REASON = "paper trading: no order of this run is at the venue"
_MARKET_DATA = (MarketDataIncrement, MarketDataSnapshot)
_LINK_EVENTS = (SessionLoggedOn, SessionLoggedOut, LogonRefused)  # the reconnect schedule's


class GaveUpError(TruexError):
    """The run waited too long for what it needs to quote (reconciliation, a listed symbol)."""


@dataclass(frozen=True)
class RunSummary:
    """What a run did; ``lines()`` is what ``run`` and ``demo`` print at the end."""

    fills: int
    filled_base: Decimal
    orders_sent: int
    replaces_sent: int
    cancels_sent: int
    positions: dict[str, Decimal]
    realized_pnl: dict[str, Decimal]
    unrealized_pnl: dict[str, Decimal | None]
    fees: dict[str, Decimal]
    risk_denials: dict[str, int]
    venue_rejects: int
    trading_state: str
    working_orders_after_shutdown: int
    paper: bool = False  # the orders went to a local paper venue, none to the venue

    def lines(self) -> list[str]:
        def per_symbol(values: dict, in_quote: bool = True) -> str:
            """Each symbol's amount with its unit: money in the pair's quote currency
            (TrueX's fee currency), a position in its base currency."""
            return (
                ", ".join(
                    f"{s} {shown(v)}"
                    + ("" if v is None else f" {currencies(s)[1 if in_quote else 0]}")
                    for s, v in sorted(values.items())
                )
                or "none"
            )

        denials = ", ".join(f"{k} {v}" for k, v in sorted(self.risk_denials.items()))
        paper = (
            ["PAPER run: no order left this machine; orders and fills are the paper venue's"]
            if self.paper
            else []
        )
        return [
            *paper,
            f"orders sent: {self.orders_sent} new, {self.replaces_sent} replace, "
            f"{self.cancels_sent} cancel",
            f"fills: {self.fills} ({self.filled_base} base)",
            f"position: {per_symbol(self.positions, in_quote=False)}",
            f"realized pnl: {per_symbol(self.realized_pnl)} (fees {per_symbol(self.fees)})",
            f"unrealized pnl: {per_symbol(self.unrealized_pnl)}",
            f"risk denials: {sum(self.risk_denials.values())}"
            + (f" ({denials})" if denials else ""),
            f"venue rejects: {self.venue_rejects}",
            f"trading state: {self.trading_state}",
            f"working orders after shutdown: {self.working_orders_after_shutdown}",
        ]


def summarize(mm: MarketMaker, paper: bool = False) -> RunSummary:
    """The summary, read back from the order manager, positions and risk engine."""
    snapshot = mm.positions.snapshot(mm.fair_values())
    return RunSummary(
        fills=mm.stats.fills,
        filled_base=mm.stats.filled_base,
        orders_sent=mm.stats.orders_sent,
        replaces_sent=mm.stats.replaces_sent,
        cancels_sent=mm.stats.cancels_sent,
        positions={s: p.quantity_base for s, p in snapshot.items()},
        realized_pnl={s: p.realized_pnl_quote for s, p in snapshot.items()},
        unrealized_pnl={s: p.unrealized_pnl_quote for s, p in snapshot.items()},
        fees={s: p.fees_quote for s, p in snapshot.items()},
        risk_denials=mm.risk.denial_counts(),
        venue_rejects=mm.stats.venue_rejects,
        trading_state=f"{mm.risk.state.value} ({mm.risk.state_reason})",
        working_orders_after_shutdown=mm.working_order_count(),
        paper=paper,
    )


def _freeze_startup_heap() -> None:
    """Leave what exists before trading out of every future garbage collection.

    The process holds about 280 000 objects by then, mostly the QuickFIX binding's functions
    and types and what the imports built; they live as long as the process. A full (oldest
    generation) collection scanned them all and held the GIL for 120-170 ms (measured in the
    benchmark's client, once during the tick-to-quote phase). Frozen, they are skipped, and a
    full collection scans only what trading created. Startup garbage frozen with them is
    freed when :meth:`Runner.close` unfreezes (a collection first would cost as much as the
    pause avoided, on every start of the test suite's runners).
    """
    gc.freeze()


class Runner:
    """Owns the FIX client, the event queue and the market maker for one run."""

    def __init__(
        self,
        fix_settings: FixSettings,
        strategy: StrategySettings,
        *,
        references: dict[str, PriceSource] | None = None,
        view: LiveView | None = None,
        pipeline: Pipeline | None = None,
        mode: str = "run",
        reconnect_policy: BackoffPolicy | None = None,
        rest: TruexRestClient | None = None,
        give_up_s: float = DEFAULT_GIVE_UP_S,
        unknown_orders: UnknownOrderPolicy = UnknownOrderPolicy.CANCEL,
        stop: threading.Event | None = None,
        order_venue: OrderVenue | None = None,
        on_decision_lag: Callable[[int], None] | None = None,
    ) -> None:
        """``stop``: set it to end the run cleanly (the CLI's signal handlers, the demo's
        caller); ``give_up_s`` and ``unknown_orders``: see :class:`MarketMaker`;
        ``order_venue``: paper trading (module docstring): orders go there, no order-entry
        session is started and ``rest`` is not used; ``on_decision_lag``: told each quote
        decision's lag in ns (from the oldest message it covered), instead of the pipeline's
        metrics (the bench records them itself)."""
        self.fix_settings = fix_settings
        # Session and REST events wait here for the trading lock's next holder.
        self.events: queue.SimpleQueue[LoopEvent] = queue.SimpleQueue()
        self._wake = threading.Event()
        # The trading state's owner (module docstring). Reentrant: a handler that sends may
        # come back through our own code on the same thread. The engine thread's pass takes
        # the lock itself (``_lock``, the very same lock): ``with`` on the Condition runs two
        # Python-level methods around it, on every market-data message.
        self._lock = threading.RLock()
        self.trading_lock = threading.Condition(self._lock)
        # the condition's own list of waiters (CPython's threading.Condition keeps one deque
        # for its life): an engine thread's pass notifies only when it holds someone
        self._lock_waiters: Sized = cast(Any, self.trading_lock)._waiters
        self._failure: BaseException | None = None
        self.pipeline = pipeline
        self.mode = mode
        self.order_venue = order_venue
        self.client = FixClient(
            fix_settings,
            self.enqueue,
            roles=frozenset(SessionRole)
            if order_venue is None
            else frozenset({SessionRole.MARKET_DATA}),
            journal=pipeline.tap if pipeline else None,
            app_sink=self._deliver,
        )
        route: Callable[[Command], bool] = (
            self.client.send if order_venue is None else self._send_paper
        )
        send = pipeline.wrap_send(route) if pipeline else route
        if order_venue is not None:
            rest = None
            log.warning(
                "%s: orders go to the local paper venue, never to %s; no reconciliation with "
                "the venue's REST API (no order of this run is there to reconcile)",
                order_venue.label,
                fix_settings.host,
            )
        self.rest_worker = RestWorker(rest, self.enqueue) if rest is not None else None
        if self.rest_worker is None and order_venue is None:
            log.warning(
                "no REST client: no reconciliation (quoting unreconciled), and no deadman "
                "cancel on disconnect"
            )
        self.mm = MarketMaker(
            strategy,
            send,
            references=references,
            venue=self.rest_worker,
            no_venue_reason=None
            if self.rest_worker is not None
            else (PAPER_REASON if order_venue is not None else NO_REST_REASON),
            unknown_orders=unknown_orders,
            give_up_after_s=give_up_s,
            own_orders_in_book=order_venue is None,  # paper orders are not in the live book
        )
        if pipeline is not None:
            pipeline.attach(self.mm, self.client.roles)
        self.rest_url = rest.base_url if rest is not None else None
        self.view = view
        if view is not None and order_venue is not None:
            view.label = order_venue.label  # in every frame of the footer and every line
        self.reconnect_policy = reconnect_policy or BackoffPolicy()
        self.reconnectors: dict[SessionRole, SessionReconnector] = {}
        self.stop_requested = stop if stop is not None else threading.Event()
        self.kill_requested = threading.Event()
        self._loop_interval_s = strategy.loop_interval_s
        self._pipeline_finished = False
        self._flush_asked = False  # the loop was woken for a pending decision
        self._closing = False
        self._started = False  # start() has begun the run: inputs_moved may decide
        self._next_tick = 0.0
        # market data's quote decisions, coalesced during bursts (module docstring)
        self.gate = DecisionGate(strategy.max_decision_lag_us)
        self._clock_ns = time.perf_counter_ns  # the clock of the events' received_ns
        # each decision's lag from the oldest message it covered (ns): the metrics' histogram
        # truexqf_decision_lag_seconds when recording, unless the caller listens itself
        if on_decision_lag is None and pipeline is not None:
            on_decision_lag = pipeline.metrics.decision_made
        self._on_decision_lag = on_decision_lag

    def run(self, duration_s: float | None = None) -> RunSummary:
        """Trade until ``duration_s`` passes or :attr:`stop_requested` is set; then flatten."""
        self.start()
        try:
            deadline = None if duration_s is None else time.monotonic() + duration_s
            while not self.stop_requested.is_set():
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                if self.mm.gave_up is not None:
                    break
                # Market data no longer wakes this loop: look at the stop request and the
                # deadline at least this often.
                self.step(STOP_POLL_S if deadline is None else min(STOP_POLL_S, deadline - now))
            summary = self.finish()
        finally:
            self.close()
        if self.mm.gave_up is not None:
            for line in summary.lines():
                log.info(line)
            raise GaveUpError(self.give_up_message())
        return summary

    def give_up_message(self) -> str:
        """The one line a run that gave up ends with."""
        mm = self.mm
        waited = f"{mm.give_up_after_s:g} s"
        if mm.gave_up == NO_QUOTABLE_SYMBOL:
            symbols = ", ".join(sorted(mm.unlisted))
            return (
                f"the venue does not list {symbols} (its security list): nothing to quote "
                f"after {waited}; check the strategy's symbols"
            )
        if mm.gave_up == WAITING_FOR_RECONCILIATION:
            why = f" ({mm.last_reconcile_error})" if mm.last_reconcile_error else ""
            return (
                f"no reconciliation with the venue in {waited}{why}: will not quote without "
                f"it; check TRUEX_REST_URL ({self.rest_url})"
            )
        return f"could not trade for {waited}: {mm.gave_up}"

    def start(self) -> None:
        """Start recording, connect both sessions and wait until they are logged on."""
        if self.pipeline is not None:
            settings = self.fix_settings
            venue = describe_venue(
                settings.host, settings.order_entry_port, settings.market_data_port
            )
            if self.order_venue is not None:
                venue = f"{self.order_venue.label.lower()} (market data {venue})"
            self.pipeline.start(self.mode, venue, settings.sender_comp_id)
            self._carry_over()
        if self.rest_worker is not None:
            self.rest_worker.start()
        _freeze_startup_heap()
        self._started = True
        self.client.start()
        if self.order_venue is not None:
            # the paper venue is up from the start: what a logon would tell the market maker
            self.enqueue(SessionLoggedOn(SessionRole.ORDER_ENTRY, self.order_venue.label))
        now = time.monotonic()
        self.reconnectors = {
            role: SessionReconnector(role.value, self.reconnect_policy, now)
            for role in self._session_roles()
        }
        self._wait_logged_on()

    def _session_roles(self) -> list[SessionRole]:
        """The FIX sessions this run connects (market data alone when paper trading)."""
        started = set(self.client.roles.values())
        return [role for role in SessionRole if role in started]

    def _send_paper(self, command: Command) -> bool:
        """Paper trading's send (trading lock held): an order command goes to the order venue,
        whose reports are queued as the order-entry session's would be; market-data
        requests go to the market-data session."""
        assert self.order_venue is not None
        if not isinstance(command, ORDER_COMMANDS):
            return self.client.send(command)
        for report in self.order_venue.submit(command):
            self.enqueue(report)
        return True

    def _carry_over(self) -> None:
        """Start from the store's position and known fills (see storage.recovery); the venue's
        trades since then come with the first reconciliation, before any order."""
        store = self.pipeline.store_start if self.pipeline is not None else None
        if store is None:
            return
        with self.trading_lock:
            # every strategy symbol, flat ones too: the journal then holds where each started
            # (the next run's base, see storage.recovery.carried_positions)
            for symbol in sorted(set(self.mm.symbols) | set(store.positions)):
                position = store.positions.get(symbol)
                quantity = position.quantity_base if position else Decimal(0)
                cost = position.cost_basis_quote if position else Decimal(0)
                self.mm.seed_position(symbol, quantity, cost)
            if store.last_fill_at is None:
                return
            last_s = store.last_fill_at.timestamp()
            # The venue keeps 28 days of trades (spec §9.5): an older last fill cannot be
            # expected in its listing.
            recent = time.time() - last_s < VENUE_TRADE_HISTORY_S
            expected = store.last_fill_keys if recent else ()
            self.mm.know_fills(store.known_fill_keys, expected, last_fill_s=last_s)

    def step(self, max_wait_s: float | None = None) -> None:
        """One turn of the trading loop; ``max_wait_s`` caps the wait for a queued event."""
        self._pump(max_wait_s)
        if self.kill_requested.is_set() and not self.mm.risk.kill_switch_engaged:
            with self.trading_lock:
                self.mm.engage_kill_switch("kill command")

    def enqueue(self, event: LoopEvent) -> None:
        """Queue an event for the lock's next holder; never blocks (engine mutex held)."""
        self.events.put(event)
        self._wake.set()

    def _deliver(self, event: InboundEvent) -> None:
        """``fromApp``'s sink: apply the message on the engine thread that read it.

        A failure is kept for the trading loop to raise (the run then stops as it would have
        on the loop), and from then on, as during shutdown, messages only queue.
        """
        with self._lock:
            if self._closing or self._failure is not None:
                self.enqueue(event)
                return
            try:
                queued = self._drain()
                self._handle(event)
                if not isinstance(event, _MARKET_DATA) or self._decide_now(event, queued):
                    self._decide()
                elif not self._flush_asked:
                    self._flush_asked = True
                    self._wake.set()  # the loop decides, unless the bound comes first
                self._end_pass()
                self.gate.finished(self._clock_ns())
            except Exception as exc:  # the engine thread must carry on; the loop raises it
                log.exception("error applying %s", type(event).__name__)
                self._failure = exc
                self._wake.set()
            # Wake whoever waits on the lock's condition (shutdown, for the last reports);
            # with no waiter, notify_all's two Python-level calls would run for nothing.
            # Read under the lock: a waiter is listed before it lets the lock go.
            if self._lock_waiters:
                self.trading_lock.notify_all()

    def _decide_now(self, event: MarketDataSnapshot | MarketDataIncrement, queued: int) -> bool:
        """After a market-data message: decide on the engine thread now, or leave it pending
        (:mod:`~truex_qf.app.decision_gate`)? Queued session events are decided on at once."""
        return self.gate.applied(event.received_ns, self._clock_ns()) or queued > 0

    def _decide(self) -> None:
        """The quote decision (trading lock held): it covers every message applied so far."""
        self.mm.requote_dirty()
        self._decided()

    def _decided(self) -> None:
        self._flush_asked = False
        oldest_ns = self.gate.decided()
        if oldest_ns and self._on_decision_lag is not None:
            self._on_decision_lag(self._clock_ns() - oldest_ns)

    def inputs_moved(self, symbol: str) -> None:
        """A quote input of ``symbol`` moved outside the FIX stream (a reference price): it
        is requoted as a book move would be, on the calling thread, holding the lock. Before
        :meth:`start` (a feed's first prices) there is no run to record a pass in, and the
        first decision after logon reads the latest price anyway."""
        with self.trading_lock:
            if not self._started or self._closing or self._failure is not None:
                return
            self.mm.mark_inputs_moved(symbol)
            self._decide()
            self._end_pass()

    def _drain(self) -> int:
        """Apply every queued event (trading lock held); how many there were. Only the
        lock's holder takes from the queue, so one it finds not empty has an event for it:
        no ``queue.Empty`` raised and caught on every pass."""
        handled = 0
        events = self.events
        while not events.empty():
            self._handle(events.get_nowait())
            handled += 1
        return handled

    def _end_pass(self) -> None:
        """What ends every pass, on the loop or an engine thread (trading lock held)."""
        if self.pipeline is not None:
            self.pipeline.after_pass(self.mm)

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            self._closing = True  # what the engine threads deliver from now on only queues
            raise failure

    def finish(self) -> RunSummary:
        """Cancel everything, wait for the acknowledgements, and summarize."""
        self._flatten()
        with self.trading_lock:
            return summarize(self.mm, paper=self.order_venue is not None)

    def close(self) -> None:
        """Log out of both sessions and drain the recorders; safe twice."""
        with self.trading_lock:
            self._closing = True  # from now on the engine threads only queue
        self.client.stop()
        if self.rest_worker is not None:
            self.rest_worker.stop()
            self.rest_worker = None
        if self.pipeline is not None and not self._pipeline_finished:
            self._pipeline_finished = True
            self.pipeline.finish()
        if self.view is not None:
            self.view.close()  # the footer's last state stays on screen, above the summary
        gc.unfreeze()  # what the run left behind is collectable again (tests run many)

    def _wait_logged_on(self) -> None:
        for role in self._session_roles():
            try:
                self.client.wait_logged_on(role, LOGON_TIMEOUT_S)
            except LogonRejectedError:
                self._drain_to_pipeline()  # the refusal still reaches the alerts and the store
                raise
            except TruexError as exc:
                self._drain_to_pipeline()
                raise TruexError(f"{exc}; is the venue reachable?") from None

    def _drain_to_pipeline(self) -> None:
        if self.pipeline is None:
            return
        with self.trading_lock:
            self._drain()
        self.pipeline.alerts.evaluate()

    def _pump(self, max_wait_s: float | None = None) -> None:
        """One loop turn: wait for a queued event (at most until the next tick), apply the
        queue, decide; the periodic tick (timeouts, staleness) runs on its own schedule, so a
        busy market-data stream cannot starve it."""
        wait_s = min(self._loop_interval_s, self._next_tick - time.monotonic())
        if max_wait_s is not None:
            wait_s = min(wait_s, max_wait_s)
        if self._wake.wait(max(0.0, wait_s)):
            self._wake.clear()  # before draining: an event queued after it wakes us again
        with self.trading_lock:
            self._raise_failure()
            self._drain()
            if time.monotonic() >= self._next_tick:
                self._next_tick = time.monotonic() + self._loop_interval_s
                if self.order_venue is not None and self.pipeline is not None:
                    # the paper venue is alive as long as we are: its heartbeat, for the
                    # order-entry silence alert and the last-message metric
                    self.pipeline.alerts.message_received(SessionRole.ORDER_ENTRY)
                    self.pipeline.metrics.message_received(SessionRole.ORDER_ENTRY)
                self.mm.tick()
                self._decided()
            else:
                self._decide()
            self._poll_links()
            self._end_pass()
            if self.view is not None:
                self.view.maybe_render(self.mm, time.monotonic())

    def _handle(self, event: LoopEvent) -> None:
        if self.pipeline is not None:
            self.pipeline.on_event(event)
        if isinstance(event, _LINK_EVENTS):
            self._track_link(event)
        if self.order_venue is not None and isinstance(event, _MARKET_DATA):
            # the paper venue's book follows the live one; its fills of our orders are
            # reports like any other, queued
            for report in self.order_venue.on_market_data(event):
                self.enqueue(report)
        self.mm.handle(event)

    def _track_link(self, event: SessionLoggedOn | SessionLoggedOut | LogonRefused) -> None:
        """Feed session events to the reconnect schedule; apply what it decides."""
        link = self.reconnectors.get(event.role)
        if link is None or self._closing:
            return
        now = time.monotonic()
        if isinstance(event, SessionLoggedOn):
            link.on_logged_on(now)
            return
        why = f"logon refused: {event.text}" if isinstance(event, LogonRefused) else "logged out"
        self._apply_link(event.role, link.on_down(now, why), why)

    def _poll_links(self) -> None:
        now = time.monotonic()
        for role, link in self.reconnectors.items():
            action = link.poll(now)
            if action is not None:
                self._apply_link(role, action, link.last_failure or "")

    def _apply_link(self, role: SessionRole, action: Action | None, why: str) -> None:
        if action is None or self._closing:
            return
        link = self.reconnectors[role]
        if action is Action.DISABLE:
            wait = (link.resume_at_s or time.monotonic()) - time.monotonic()
            if link.breaker_open:
                log.error(
                    "%s: circuit breaker open after repeated failures (%s); next try in %.0f s",
                    role.value,
                    why,
                    wait,
                )
            else:
                log.warning("%s down (%s); reconnecting in %.1f s", role.value, why, wait)
            self.client.set_enabled(role, False, f"reconnect backoff: {why}")
        else:
            log.info("%s: reconnecting", role.value)
            self.client.set_enabled(role, True)

    def _flatten(self) -> None:
        """Cancel everything and wait (bounded) until the venue has acknowledged it."""
        with self.trading_lock:
            self._raise_failure()
            self._drain()
            self.mm.begin_shutdown()
            deadline = time.monotonic() + SHUTDOWN_ACK_TIMEOUT_S
            quiet_since = time.monotonic()
            while self.mm.working_order_count() and time.monotonic() < deadline:
                # Reports are applied by the engine threads, which notify; session events
                # only queue, so the wait is short and the queue is looked at each time.
                notified = self.trading_lock.wait(QUEUE_POLL_S)
                self._raise_failure()
                if self._drain() or notified:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since >= CANCEL_RETRY_S:
                    quiet_since = time.monotonic()
                    self.mm.cancel_all()  # anything whose cancel was refused locally: again
            remaining = self.mm.working_order_count()
            if remaining:
                states = {o.cl_ord_id: o.state.value for o in self.mm.orders.working_orders()}
                log.error("%d orders still working after shutdown: %s", remaining, states)
            if self.view is not None:
                self.view.maybe_render(self.mm, float("inf"))
