"""The live state on Redis: a snapshot of books, quotes, positions and sessions, and event feeds.

The trading loop builds a :class:`LiveSnapshot` (see :func:`build_snapshot`, about once a
second) and hands it to :meth:`LiveStatePublisher.publish_snapshot`; fills and state changes go
to :meth:`LiveStatePublisher.publish_event`. Both only swap a reference or append to a bounded
buffer under a lock held for microseconds; one background thread writes to Redis.

Layout, every key with an expiry so a dead process leaves nothing behind that looks alive::

    <prefix>:<namespace>:state            JSON {"state", "reason", "kill_switch", "published_at"}
    <prefix>:<namespace>:sessions         JSON {"order_entry": {"up", "changed_at"}, ...}
    <prefix>:<namespace>:symbols          JSON list of the symbols in the last snapshot
    <prefix>:<namespace>:symbol:<SYMBOL>  JSON top of book, fair value, quotes, position, PnL

    pub/sub <prefix>:<namespace>:fills    one JSON message per fill
    pub/sub <prefix>:<namespace>:state    trading-state and session changes

Decimals are written as plain decimal strings (never floats, never exponents); times are Unix
epoch seconds (``time.time()``), since monotonic times mean nothing outside this process.

Delivery is best effort. Snapshots are latest-wins: a snapshot not yet written is replaced by
a newer one. Events are at least once while Redis is up (a pipeline cut mid-way is resent
whole) and, while it is down, kept in a bounded buffer that drops its oldest entry (counted)
when full. Redis being down never stops trading: failures are logged at most every
``LOG_EVERY_S`` seconds, counted, and retried with exponential backoff.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, cast

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError
from redis.retry import Retry

from truex_qf.domain.errors import ConfigError, TruexError
from truex_qf.domain.model import SessionRole
from truex_qf.domain.netutil import mask_url

if TYPE_CHECKING:
    from truex_qf.trading.market_maker import MarketMaker
    from truex_qf.trading.orders import Fill
    from truex_qf.trading.risk import TradingState

log = logging.getLogger("truex_qf.observe.live_state")

DEFAULT_PREFIX = "truexqf"
FILLS_CHANNEL = "fills"
STATE_CHANNEL = "state"
LOG_EVERY_S = 30.0
"""While Redis stays down, one log line per this many seconds (the first failure at once)."""
BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 5.0
EVENT_BATCH = 500
"""Events written per pipeline round trip, so a long backlog does not become one huge write."""


# --------------------------------------------------------------------------- the snapshot


@dataclass(frozen=True, slots=True)
class QuoteView:
    """One of our working orders: ``side`` is ``BUY``/``SELL``, ``size`` what remains open."""

    side: str
    price: Decimal | None
    size: Decimal
    state: str


@dataclass(frozen=True, slots=True)
class SymbolView:
    """One symbol's top of book, fair value, working quotes, position and PnL (quote currency)."""

    symbol: str
    bid_price: Decimal | None
    bid_size: Decimal | None
    ask_price: Decimal | None
    ask_size: Decimal | None
    fair_value: Decimal | None
    working_quotes: tuple[QuoteView, ...]
    position_base: Decimal
    realized_pnl_quote: Decimal
    unrealized_pnl_quote: Decimal | None


@dataclass(frozen=True, slots=True)
class SessionHealth:
    """Whether each FIX session is logged on, and since when (epoch seconds, None if unknown)."""

    order_entry_up: bool
    market_data_up: bool
    order_entry_changed_at: float | None = None
    market_data_changed_at: float | None = None


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """Everything the status view shows, taken under the trading lock at ``taken_at`` (epoch s).

    Immutable values only, so the publisher thread may read it while the loop moves on.
    """

    symbols: tuple[SymbolView, ...]
    trading_state: str
    trading_reason: str
    sessions: SessionHealth
    kill_switch: bool = False
    taken_at: float = 0.0
    detail: str = ""  # what a WAITING state waits for, in words (see state_detail)


def state_detail(mm: MarketMaker) -> str:
    """What the trading state means for quoting, in words: empty when it trades as usual.

    WAITING says what it waits for and how long it has waited of what it may; an ACTIVE state
    that quotes without reconciliation says that, and why (the reason the run gave the market
    maker: no REST client, or a paper run, whose orders are not at the venue).
    """
    # here, not at the top: ``truex-qf status`` reads this module without the trading layer
    from truex_qf.trading.market_maker import (
        NO_QUOTABLE_SYMBOL,
        NOT_RECONCILED,
        WAITING_FOR_RECONCILIATION,
    )
    from truex_qf.trading.risk import TradingState

    state, reason = mm.risk.state, mm.risk.state_reason
    if state is TradingState.WAITING:
        timer = f"{mm.waiting_for_s or 0.0:.0f}/{mm.give_up_after_s:g} s"
        if reason == WAITING_FOR_RECONCILIATION:
            error = f"; last error: {mm.last_reconcile_error}" if mm.last_reconcile_error else ""
            return f"waiting for reconciliation with the venue ({timer}{error})"
        if reason == NO_QUOTABLE_SYMBOL:
            symbols = ", ".join(sorted(mm.unlisted))
            return f"no quotable symbol: the venue does not list {symbols} ({timer})"
        return f"waiting: {reason} ({timer})"
    if state is TradingState.ACTIVE and reason.startswith(NOT_RECONCILED):
        # the reason is "NOT_RECONCILED: <why>", the why the runner gave the market maker
        return f"quoting without reconciliation; {reason.removeprefix(NOT_RECONCILED + ': ')}"
    return ""


def build_snapshot(
    mm: MarketMaker, previous: LiveSnapshot | None = None, now_wall_s: float | None = None
) -> LiveSnapshot:
    """Read a :class:`LiveSnapshot` out of the market maker; call holding the trading lock.

    A session's ``changed_at`` is carried over from ``previous`` while its up/down state is the
    same, and set to now when it differs, so the change time is as precise as the snapshot
    period (about a second). Cost: a few dictionary reads per symbol and working order.
    """
    now = time.time() if now_wall_s is None else now_wall_s
    fair_values = mm.fair_values()
    symbols = []
    for symbol in mm.symbols:
        book = mm.books.book(symbol)
        bid = book.best_bid() if book is not None else None
        ask = book.best_offer() if book is not None else None
        position = mm.positions.get(symbol)
        fair = fair_values.get(symbol)
        unrealized = (
            position.unrealized_pnl_quote(fair)
            if position is not None and fair is not None
            else None
        )
        quotes = tuple(
            QuoteView(o.side.name, o.price, o.remaining_qty, o.state.value)
            for o in mm.orders.working_orders(symbol)
        )
        symbols.append(
            SymbolView(
                symbol=symbol,
                bid_price=bid.price if bid else None,
                bid_size=bid.size if bid else None,
                ask_price=ask.price if ask else None,
                ask_size=ask.size if ask else None,
                fair_value=fair,
                working_quotes=quotes,
                position_base=position.quantity_base if position else Decimal(0),
                realized_pnl_quote=position.realized_pnl_quote if position else Decimal(0),
                unrealized_pnl_quote=unrealized,
            )
        )
    oe_up, md_up = mm.sessions_up
    before = previous.sessions if previous is not None else None
    sessions = SessionHealth(
        order_entry_up=oe_up,
        market_data_up=md_up,
        order_entry_changed_at=(
            before.order_entry_changed_at if before and before.order_entry_up == oe_up else now
        ),
        market_data_changed_at=(
            before.market_data_changed_at if before and before.market_data_up == md_up else now
        ),
    )
    return LiveSnapshot(
        symbols=tuple(symbols),
        trading_state=mm.risk.state.value,
        trading_reason=mm.risk.state_reason,
        sessions=sessions,
        kill_switch=mm.risk.kill_switch_engaged,
        taken_at=now,
        detail=state_detail(mm),
    )


# --------------------------------------------------------------------------- event payloads


def fill_payload(fill: Fill, at: float | None = None) -> dict[str, Any]:
    """The ``fills`` channel message for one fill (IDs are fine here: this is not a label)."""
    return {
        "kind": "fill",
        "at": time.time() if at is None else at,
        "symbol": fill.symbol,
        "side": fill.side.name,
        "qty": fill.qty,
        "price": fill.price,
        "fee": fill.fee,
        "cl_ord_id": fill.cl_ord_id,
        "order_id": fill.order_id,
        "exec_id": fill.exec_id,
        "liquidity": fill.liquidity,
        "trade_match_id": fill.trade_match_id,
    }


def trading_state_payload(
    state: TradingState, reason: str, at: float | None = None
) -> dict[str, Any]:
    """The ``state`` channel message for a trading-state change."""
    return {
        "kind": "trading_state",
        "at": time.time() if at is None else at,
        "state": state.value,
        "reason": reason,
    }


def session_payload(role: SessionRole, up: bool, at: float | None = None) -> dict[str, Any]:
    """The ``state`` channel message for a session going up or down."""
    return {
        "kind": "session",
        "at": time.time() if at is None else at,
        "role": role.value,
        "up": up,
    }


def to_json(value: object) -> str:
    """Compact JSON with Decimals as plain strings and enums as their values."""
    return json.dumps(value, default=_json_default, separators=(",", ":"))


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _symbol_json(view: SymbolView, at: float) -> str:
    return to_json(
        {
            "symbol": view.symbol,
            "bid_price": view.bid_price,
            "bid_size": view.bid_size,
            "ask_price": view.ask_price,
            "ask_size": view.ask_size,
            "fair_value": view.fair_value,
            "working_quotes": [
                {"side": q.side, "price": q.price, "size": q.size, "state": q.state}
                for q in view.working_quotes
            ],
            "position_base": view.position_base,
            "realized_pnl_quote": view.realized_pnl_quote,
            "unrealized_pnl_quote": view.unrealized_pnl_quote,
            "taken_at": at,
        }
    )


def _sessions_json(sessions: SessionHealth, at: float) -> str:
    return to_json(
        {
            SessionRole.ORDER_ENTRY.value: {
                "up": sessions.order_entry_up,
                "changed_at": sessions.order_entry_changed_at,
            },
            SessionRole.MARKET_DATA.value: {
                "up": sessions.market_data_up,
                "changed_at": sessions.market_data_changed_at,
            },
            "taken_at": at,
        }
    )


def _state_json(snapshot: LiveSnapshot) -> str:
    return to_json(
        {
            "state": snapshot.trading_state,
            "reason": snapshot.trading_reason,
            "kill_switch": snapshot.kill_switch,
            "taken_at": snapshot.taken_at,
            "detail": snapshot.detail,
        }
    )


# --------------------------------------------------------------------------- the publisher


@dataclass(frozen=True, slots=True)
class PublisherStats:
    """Counters of one publisher: items written, failed attempts, events dropped, link state."""

    published: int
    failures: int
    dropped: int
    connected: bool
    pending_events: int


def _client(url: str, timeout_s: float, client_name: str | None) -> redis.Redis:
    """A client for ``url`` (its ``/N`` database index honoured) that fails fast, no retries.

    redis-py's own retry (3 attempts with backoff by default in 6.x) would stall the writer
    thread behind a dead server; the publisher does its own backoff instead.
    """
    try:
        return redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            client_name=client_name,
        )
    except ValueError as exc:
        raise ConfigError("redis url", f"{mask_url(url)}: {exc}") from None


class LiveStatePublisher:
    """Writes snapshots and events to Redis on its own thread; every public method is cheap.

    ``start()`` launches the writer thread, ``stop()`` makes one last attempt to write what is
    pending and joins it. Anything published before ``start()`` waits in the buffers.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        ttl_s: int = 30,
        namespace: str,
        max_events: int = 10_000,
        timeout_s: float = 2.0,
    ) -> None:
        if not namespace or any(c.isspace() for c in namespace):
            raise ConfigError("redis namespace", "must be a non-empty word without spaces")
        if not prefix or any(c.isspace() for c in prefix):
            raise ConfigError("redis prefix", "must be a non-empty word without spaces")
        if ttl_s <= 0:
            raise ConfigError("redis ttl_s", "must be positive")
        if max_events <= 0:
            raise ConfigError("redis max_events", "must be positive")
        self.prefix = prefix
        self.namespace = namespace
        self.ttl_s = int(ttl_s)
        self.max_events = max_events
        self._url_for_logs = mask_url(url)
        self._redis = _client(url, timeout_s, f"truexqf-live-{namespace}")
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # Guarded by _lock: what waits to be written, and the counters.
        self._snapshot: LiveSnapshot | None = None
        self._events: deque[tuple[str, str]] = deque()
        self._published = 0
        self._failures = 0
        self._dropped = 0
        self._connected = False
        # Writer thread only.
        self._failing_since_s: float | None = None
        self._last_failure_log_s = -LOG_EVERY_S

    # ------------------------------------------------------------------ names

    def key(self, *parts: str) -> str:
        """``<prefix>:<namespace>:<part>:...``."""
        return ":".join((self.prefix, self.namespace, *parts))

    def channel(self, name: str) -> str:
        """The pub/sub channel of ``name`` (``fills`` or ``state``)."""
        return self.key(name)

    # ------------------------------------------------------------------ loop side (cheap)

    def publish_snapshot(self, snapshot: LiveSnapshot) -> None:
        """Replace the pending snapshot with ``snapshot`` (latest wins) and wake the writer."""
        with self._lock:
            self._snapshot = snapshot
        self._wake.set()

    def publish_event(self, channel: str, payload: Mapping[str, Any]) -> None:
        """Queue ``payload`` as JSON for pub/sub channel ``<prefix>:<namespace>:<channel>``.

        Serialized here (a few microseconds) so that the caller may reuse ``payload``. When
        the buffer is full the oldest event is dropped and counted. Never raises.
        """
        try:
            message = to_json(payload)
        except (TypeError, ValueError) as exc:
            log.error("live state: event for %s not serializable: %s", channel, exc)
            with self._lock:
                self._failures += 1
            return
        with self._lock:
            if len(self._events) >= self.max_events:
                self._events.popleft()
                self._dropped += 1
            self._events.append((self.channel(channel), message))
        self._wake.set()

    @property
    def stats(self) -> PublisherStats:
        """A consistent copy of the counters."""
        with self._lock:
            return PublisherStats(
                published=self._published,
                failures=self._failures,
                dropped=self._dropped,
                connected=self._connected,
                pending_events=len(self._events),
            )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the writer thread (a daemon: it never holds the process open)."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"live-state-{self.namespace}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 3.0) -> None:
        """Write what is pending (one attempt), stop the thread and close the connections."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        self._wake.set()
        thread.join(timeout_s)
        if thread.is_alive():
            log.warning("live state writer still busy after %.1f s; leaving it", timeout_s)
        self._thread = None
        try:
            self._redis.close()
        except Exception as exc:  # closing a broken pool must not fail the shutdown
            log.debug("live state: closing redis client: %s", exc)

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        delay_s = 0.0
        while True:
            if delay_s > 0:
                self._stopping.wait(delay_s)
            else:
                self._wake.wait(timeout=1.0)
            self._wake.clear()  # before taking the work, so a later publish wakes us again
            stopping = self._stopping.is_set()
            if self._write_pending():
                delay_s = 0.0
            else:  # exponential backoff while Redis is down
                delay_s = min(max(delay_s * 2, BACKOFF_FIRST_S), BACKOFF_MAX_S)
            if stopping:
                return

    def _write_pending(self) -> bool:
        """One round trip for what is pending; False when Redis failed (work is kept)."""
        with self._lock:
            snapshot, self._snapshot = self._snapshot, None
            count = min(len(self._events), EVENT_BATCH)
            events = [self._events.popleft() for _ in range(count)]
        if snapshot is None and not events:
            return True
        try:
            pipe = self._redis.pipeline(transaction=False)
            if snapshot is not None:
                self._queue_snapshot(pipe, snapshot)
            for channel, message in events:
                pipe.publish(channel, message)
            pipe.execute()
        except ResponseError as exc:
            # The server answered but refused (wrong type, OOM, ...): resending the same
            # writes would fail the same way, so they are dropped and counted.
            self._record_failure(exc, None, [], dropped=len(events), connected=True)
            return True
        except (RedisError, OSError) as exc:
            self._record_failure(exc, snapshot, events)
            return False
        except Exception as exc:  # never let the writer thread die
            log.exception("live state: unexpected error writing to redis")
            self._record_failure(exc, snapshot, events)
            return False
        self._record_success((1 if snapshot is not None else 0) + len(events))
        if self._events_pending():
            self._wake.set()  # a backlog larger than one batch: keep going
        return True

    def _queue_snapshot(self, pipe: redis.client.Pipeline, snapshot: LiveSnapshot) -> None:
        at = snapshot.taken_at
        ttl = self.ttl_s
        pipe.set(self.key("state"), _state_json(snapshot), ex=ttl)
        pipe.set(self.key("sessions"), _sessions_json(snapshot.sessions, at), ex=ttl)
        pipe.set(self.key("symbols"), to_json([v.symbol for v in snapshot.symbols]), ex=ttl)
        for view in snapshot.symbols:
            pipe.set(self.key("symbol", view.symbol), _symbol_json(view, at), ex=ttl)

    def _events_pending(self) -> bool:
        with self._lock:
            return bool(self._events)

    def _record_success(self, items: int) -> None:
        with self._lock:
            self._published += items
            was_connected = self._connected
            self._connected = True
            failures = self._failures
        if not was_connected and self._failing_since_s is not None:
            down_s = time.monotonic() - self._failing_since_s
            log.info(
                "live state: redis %s back after %.1f s (%d failures so far)",
                self._url_for_logs,
                down_s,
                failures,
            )
        self._failing_since_s = None

    def _record_failure(
        self,
        exc: BaseException,
        snapshot: LiveSnapshot | None,
        events: list[tuple[str, str]],
        dropped: int = 0,
        connected: bool = False,
    ) -> None:
        with self._lock:
            self._failures += 1
            self._dropped += dropped
            self._connected = connected
            if snapshot is not None and self._snapshot is None:
                self._snapshot = snapshot  # a newer snapshot, if any, wins
            self._events.extendleft(reversed(events))
            while len(self._events) > self.max_events:
                self._events.popleft()
                self._dropped += 1
            failures, total_dropped = self._failures, self._dropped
        now = time.monotonic()
        if self._failing_since_s is None:
            self._failing_since_s = now
        if now - self._last_failure_log_s >= LOG_EVERY_S:
            self._last_failure_log_s = now
            log.warning(
                "live state: redis %s unavailable (%s: %s); %d failures, %d events dropped; "
                "retrying with backoff",
                self._url_for_logs,
                type(exc).__name__,
                exc,
                failures,
                total_dropped,
            )


# --------------------------------------------------------------------------- the reader


def read_live_state(
    url: str, prefix: str, namespace: str, timeout_s: float = 2.0
) -> dict[str, Any]:
    """What the last publisher of ``namespace`` wrote, for the status view.

    Returns ``{"state": dict | None, "sessions": dict | None, "symbols": {symbol: dict}}``
    with values as stored (Decimals as strings); None and ``{}`` when nothing is live (never
    published, or expired because the process stopped). Raises :class:`TruexError` with the
    URL (password masked) when Redis cannot be reached.
    """
    client = _client(url, timeout_s, None)
    base = f"{prefix}:{namespace}"
    try:
        # redis-py types its sync and asyncio commands alike (Awaitable | Any); the sync
        # client's MGET answers a list of values, None for a missing key.
        state_raw, sessions_raw, symbols_raw = cast(
            list[bytes | None],
            client.mget(f"{base}:state", f"{base}:sessions", f"{base}:symbols"),
        )
        symbols = json.loads(symbols_raw) if symbols_raw else []
        values = (
            cast(list[bytes | None], client.mget([f"{base}:symbol:{s}" for s in symbols]))
            if symbols
            else []
        )
    except RedisError as exc:
        raise TruexError(f"redis {mask_url(url)} unavailable: {exc}") from None
    finally:
        client.close()
    return {
        "state": json.loads(state_raw) if state_raw else None,
        "sessions": json.loads(sessions_raw) if sessions_raw else None,
        "symbols": {
            symbol: json.loads(raw) for symbol, raw in zip(symbols, values, strict=True) if raw
        },
    }
