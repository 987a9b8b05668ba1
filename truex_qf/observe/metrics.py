"""Prometheus metrics of one trading process, on a registry of its own.

Names follow the Prometheus conventions: a ``truexqf_`` prefix, ``_total`` on counters, base
units (seconds; quantities in the base currency ``_base``, money in the quote currency
``_quote``). Labels only take values from small closed sets (session role, order type, side,
reason codes, configured symbols): never an order ID or free venue text, so the number of
series stays bounded however long the process runs.

How the trading loop feeds it (every call is a few dictionary operations and metric updates):

- :meth:`Metrics.observe` with every inbound event it takes off the queue;
- :meth:`Metrics.command_sent` with every command it sends (wrap the ``send`` callable);
- :meth:`Metrics.pass_done` at the end of each loop turn (tick-to-quote bookkeeping);
- :meth:`Metrics.sample` about once a second with the :class:`MarketMaker` (gauges: fair
  value, our quoted spread, book age, position; and the counters the market maker already
  keeps: fills, filled quantity, risk denials);
- :meth:`Metrics.alert_raised` as the :class:`~truex_qf.observe.alerts.AlertManager`'s
  ``on_alert`` listener (alerts fired and resolved, by rule);
- :meth:`Metrics.message_received` for messages the loop never sees (heartbeats), from any
  thread; :meth:`Metrics.sequence_gap` / :meth:`Metrics.resend_request` from the FIX edge.

:meth:`Metrics.serve` exposes the registry over HTTP on a daemon thread.

Every series whose label values are known in advance exists from the start at 0 (roles,
order types, reject and denial reasons, alert rules; the configured symbols from the first
:meth:`Metrics.sample`), so a dashboard shows 0 rather than "no data" and ``rate()`` and
``increase()`` see the first event. ``truexqf_build_info`` (always 1) carries the version,
the Python and QuickFIX versions and the git commit, read once at start without a subprocess.
"""

from __future__ import annotations

import importlib.metadata
import logging
import math
import platform
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import start_http_server

from truex_qf.domain.errors import ConfigError
from truex_qf.domain.model import (
    BusinessMessageReject,
    CancelOrder,
    CxlRejResponseTo,
    ExecType,
    ExecutionReport,
    LogonRefused,
    MarketDataIncrement,
    MarketDataReject,
    MarketDataSnapshot,
    NewOrder,
    OrderCancelReject,
    ReplaceOrder,
    SecurityList,
    SessionLoggedOn,
    SessionLoggedOut,
    SessionRejected,
    SessionRole,
    Side,
)
from truex_qf.observe.alerts import FIRING, RESOLVED, RULES, Alert
from truex_qf.trading.risk import REASON_CODES, TradingState

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from truex_qf.trading.market_maker import MarketMaker

log = logging.getLogger("truex_qf.observe.metrics")

LATENCY_BUCKETS_S = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
"""50 µs to 5 s: in-process tick-to-quote sits at the bottom, venue round trips in the middle."""

NEW, REPLACE, CANCEL = "new", "replace", "cancel"
ORDER_TYPES = (NEW, REPLACE, CANCEL)
ROLES = tuple(role.value for role in SessionRole)
TRADING_STATE_VALUES = {
    TradingState.ACTIVE: 0,
    TradingState.REDUCING: 1,
    TradingState.HALTED: 2,
    TradingState.WAITING: 3,  # cannot quote yet: the info series' reason says why
}
OTHER = "OTHER"

# Venue reject text -> reason label. Checked in order: the first substring found wins. The
# texts are those TrueX is known to send (spec §7.3) plus the usual FIX wording.
_TEXT_REASONS: tuple[tuple[str, str], ...] = (
    ("price band", "PRICE_BAND"),
    ("increment", "PRICE_INCREMENT"),
    ("insufficient", "INSUFFICIENT_BALANCE"),
    ("throttl", "THROTTLED"),
    ("rate limit", "THROTTLED"),
    ("clordid", "INVALID_CLORDID"),
    ("duplicate", "DUPLICATE_ID"),
    ("invalid client", "INVALID_CLIENT"),
    ("not authori", "NOT_AUTHORIZED"),
    ("unknown order", "UNKNOWN_ORDER"),
    ("not found", "UNKNOWN_ORDER"),
    ("too late", "TOO_LATE"),
    ("post only", "POST_ONLY"),
    ("post-only", "POST_ONLY"),
    ("would cross", "POST_ONLY"),
    ("add liquidity", "POST_ONLY"),
    ("self match", "SELF_MATCH"),
    ("self-match", "SELF_MATCH"),
    ("self trade", "SELF_MATCH"),
    ("self-trade", "SELF_MATCH"),
    ("symbol", "UNKNOWN_SYMBOL"),
    ("security", "UNKNOWN_SYMBOL"),
    ("quantity", "INVALID_QUANTITY"),
    ("qty", "INVALID_QUANTITY"),
    ("price", "INVALID_PRICE"),
    ("session", "INVALID_SESSION"),
)
_CXL_REJ_REASONS = {
    "0": "TOO_LATE",
    "1": "UNKNOWN_ORDER",
    "3": "ALREADY_PENDING",
    "6": "DUPLICATE_ID",
    "18": "PRICE_INCREMENT",
}
_BUSINESS_REJECT_REASONS = {
    "1": "UNKNOWN_ORDER",
    "2": "UNKNOWN_SYMBOL",
    "3": "UNSUPPORTED_MESSAGE",
    "4": "APPLICATION_UNAVAILABLE",
    "5": "MISSING_FIELD",
    "6": "NOT_AUTHORIZED",
    "8": "THROTTLED",
    "9": "THROTTLED",
    "10": "THROTTLED",
    "18": "PRICE_INCREMENT",
}
REJECT_REASONS = tuple(
    dict.fromkeys(
        [label for _needle, label in _TEXT_REASONS]
        + list(_CXL_REJ_REASONS.values())
        + list(_BUSINESS_REJECT_REASONS.values())
        + [OTHER]
    )
)
"""Every label :func:`reject_reason` can return: the rejects' zero series."""
_ORDER_MSG_TYPES = {"D": NEW, "G": REPLACE, "F": CANCEL}
_LABEL_WORD = re.compile(r"[A-Z][A-Z0-9_]{0,39}")
_FINAL_REPORTS = frozenset(
    {ExecType.NEW, ExecType.TRADE, ExecType.CANCELED, ExecType.REPLACED, ExecType.EXPIRED}
)


def reject_reason(
    text: str | None, cxl_rej_reason: str | None = None, business_reason: str | None = None
) -> str:
    """A venue reject as one of a small set of labels (``OTHER`` when nothing matches).

    The structured code (CxlRejReason 102, BusinessRejectReason 380) wins over the text; the
    text is matched by substrings, never used as a label itself.
    """
    coded = _CXL_REJ_REASONS.get(cxl_rej_reason or "") or _BUSINESS_REJECT_REASONS.get(
        business_reason or ""
    )
    if coded:
        return coded
    lowered = (text or "").lower()
    for needle, label in _TEXT_REASONS:
        if needle in lowered:
            return label
    return OTHER


def state_reason_label(reason: str) -> str:
    """A trading-state reason as a bounded label: its code (``ORDER_ENTRY_DOWN``), the kill
    switch (whose free-text detail is dropped), an upper-cased short phrase, or ``OTHER``."""
    lowered = reason.strip().lower()
    if lowered.startswith("kill switch"):
        return "KILL_SWITCH"
    word = reason.split(":", 1)[0].strip().upper().replace(" ", "_").replace("-", "_")
    return word if _LABEL_WORD.fullmatch(word) else OTHER


def role_label(role: SessionRole | str) -> str:
    """``order_entry`` / ``market_data`` (anything else: ``other``)."""
    value = role.value if isinstance(role, SessionRole) else str(role)
    return value if value in ROLES else "other"


def _distribution_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def git_commit(start: Path | None = None) -> str:
    """The commit of the checkout this package runs from (12 hex digits), or ``unknown``.

    Reads ``.git/HEAD`` and the ref it names (loose or packed) beside the package directory:
    an editable install from a clone knows its commit; an installed wheel says ``unknown``.
    Never runs ``git``.
    """
    package = start or Path(__file__).resolve().parent.parent
    root = package.parent / ".git"
    try:
        head = (root / "HEAD").read_text(encoding="ascii").strip()
        if head.startswith("ref: "):
            ref = head[5:]
            loose = root / ref
            if loose.is_file():
                head = loose.read_text(encoding="ascii").strip()
            else:
                packed = (root / "packed-refs").read_text(encoding="ascii")
                head = next(
                    (line.split()[0] for line in packed.splitlines() if line.endswith(" " + ref)),
                    "",
                )
    except (OSError, UnicodeDecodeError):
        return "unknown"
    return head[:12] if re.fullmatch(r"[0-9a-f]{40}", head) else "unknown"


def build_labels() -> dict[str, str]:
    """The ``truexqf_build_info`` labels, read once at start."""
    return {
        "version": _distribution_version("truex-qf"),
        "python": platform.python_version(),
        "quickfix": _distribution_version("quickfix"),
        "commit": git_commit(),
    }


def quoted_spread_bps(bid: Decimal | None, ask: Decimal | None) -> float:
    """Our best ask minus our best bid over their mid, in basis points (NaN without both)."""
    if bid is None or ask is None or bid + ask <= 0:
        return math.nan
    return float((ask - bid) / ((ask + bid) / 2) * 10_000)


class Metrics:
    """Every metric of one process, on its own :class:`CollectorRegistry`.

    Call the update methods holding the trading lock (``message_received``, ``sequence_gap``
    and ``resend_request`` are safe from any thread). ``clock`` is monotonic seconds,
    ``clock_ns`` must be the clock of ``received_ns`` in the domain events
    (``time.perf_counter_ns``).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        clock_ns: Callable[[], int] = time.perf_counter_ns,
        max_pending_requests: int = 10_000,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._clock = clock
        self._clock_ns = clock_ns
        self._max_pending = max_pending_requests
        # Request ClOrdID -> (type, sent_ns): only to pair answers with requests, never a label.
        self._pending: dict[str, tuple[str, int]] = {}
        self._tick_ns: int | None = None
        self._sent_s: deque[float] = deque()
        self._last_message_s: dict[str, float] = {}
        self._denials_seen: dict[str, int] = {}
        self._fills_seen: dict[str, tuple[int, Decimal, Decimal]] = {}
        self._state_info: tuple[str, str] | None = None
        self._symbols: set[str] = set()
        self._server: WSGIServer | None = None
        self.port: int | None = None
        self._define()

    def _define(self) -> None:
        r = self.registry
        self.session_up = Gauge(
            "truexqf_session_up", "1 while the FIX session is logged on.", ["role"], registry=r
        )
        self.last_message_age = Gauge(
            "truexqf_session_last_message_age_seconds",
            "Seconds since the last message on the session (heartbeats included when reported); "
            "NaN before the first.",
            ["role"],
            registry=r,
        )
        self.sequence_gaps = Counter(
            "truexqf_sequence_gaps", "Inbound sequence gaps detected.", ["role"], registry=r
        )
        self.resend_requests = Counter(
            "truexqf_resend_requests",
            "ResendRequests (35=2) sent or received.",
            ["role"],
            registry=r,
        )
        self.logons = Counter(
            "truexqf_logons",
            "Logon attempts answered by the venue, by result (accepted/refused).",
            ["role", "result"],
            registry=r,
        )
        self.orders_sent = Counter(
            "truexqf_orders_sent", "Order messages sent, by type.", ["type"], registry=r
        )
        self.orders_acked = Counter(
            "truexqf_orders_acked",
            "Requests the venue answered with a definitive report (not a reject), by type.",
            ["type"],
            registry=r,
        )
        self.orders_rejected = Counter(
            "truexqf_orders_rejected",
            "Requests the venue rejected, by type and normalised reason.",
            ["type", "reason"],
            registry=r,
        )
        self.business_rejects = Counter(
            "truexqf_business_rejects",
            "BusinessMessageRejects (35=j), by normalised reason.",
            ["reason"],
            registry=r,
        )
        self.session_rejects = Counter(
            "truexqf_session_rejects", "Session-level Rejects (35=3).", ["role"], registry=r
        )
        self.fills = Counter("truexqf_fills", "Fills.", ["symbol"], registry=r)
        self.filled_base = Counter(
            "truexqf_filled_base",
            "Filled quantity in the base currency.",
            ["symbol", "side"],
            registry=r,
        )
        self.position_base = Gauge(
            "truexqf_position_base", "Signed position in the base currency.", ["symbol"], registry=r
        )
        self.realized_pnl = Gauge(
            "truexqf_realized_pnl_quote",
            "Realized PnL net of fees, quote currency.",
            ["symbol"],
            registry=r,
        )
        self.unrealized_pnl = Gauge(
            "truexqf_unrealized_pnl_quote",
            "Unrealized PnL at fair value, quote currency (NaN without a fair value).",
            ["symbol"],
            registry=r,
        )
        self.working_orders = Gauge(
            "truexqf_working_orders", "Orders working or in flight.", ["symbol"], registry=r
        )
        self.trading_state = Gauge(
            "truexqf_trading_state",
            "0 active, 1 reducing, 2 halted, 3 waiting (for reconciliation, for a quotable "
            "symbol).",
            registry=r,
        )
        self.trading_state_info = Gauge(
            "truexqf_trading_state_info",
            "1 for the current trading state and its reason code (one series at a time).",
            ["state", "reason"],
            registry=r,
        )
        self.kill_switch = Gauge(
            "truexqf_kill_switch_engaged", "1 while the kill switch is engaged.", registry=r
        )
        self.risk_denials = Counter(
            "truexqf_risk_denials",
            "Pre-trade risk denials, by reason code.",
            ["reason"],
            registry=r,
        )
        self.messages_last_second = Gauge(
            "truexqf_order_messages_last_second",
            "Order messages (new, replace, cancel) sent in the last second.",
            registry=r,
        )
        self.message_limit = Gauge(
            "truexqf_order_messages_limit_per_second",
            "The configured order-message limit per second.",
            registry=r,
        )
        self.tick_to_quote = Histogram(
            "truexqf_tick_to_quote_seconds",
            "From a market-data message's arrival to the first order message it led to.",
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.decision_lag = Histogram(
            "truexqf_decision_lag_seconds",
            "From the oldest market-data message a quote decision covers to that decision "
            "(bursts are decided on together, within max_decision_lag_us while they last).",
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.order_to_ack = Histogram(
            "truexqf_order_to_ack_seconds",
            "From sending a new order or replace to the venue's definitive answer.",
            ["type"],
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.cancel_to_ack = Histogram(
            "truexqf_cancel_to_ack_seconds",
            "From sending a cancel to the venue's definitive answer.",
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.fair_value = Gauge(
            "truexqf_fair_value_quote",
            "The strategy's fair value, quote currency (NaN without one).",
            ["symbol"],
            registry=r,
        )
        self.quoted_spread = Gauge(
            "truexqf_quoted_spread_bps",
            "Our best working ask minus our best working bid, in basis points of their mid "
            "(NaN unless we quote both sides).",
            ["symbol"],
            registry=r,
        )
        self.book_age = Gauge(
            "truexqf_book_age_seconds",
            "Seconds since the last market-data message applied to the symbol's book, sampled "
            "each second (NaN before the first).",
            ["symbol"],
            registry=r,
        )
        self.alerts = Counter(
            "truexqf_alerts", "Alerts fired and resolved, by rule.", ["rule", "status"], registry=r
        )
        self.alerts_active = Gauge(
            "truexqf_alerts_active",
            "Alerts firing now, by rule (a rule per session or symbol may fire more than once).",
            ["rule"],
            registry=r,
        )
        self.build_info = Gauge(
            "truexqf_build_info",
            "Always 1; the labels say which build runs.",
            ["version", "python", "quickfix", "commit"],
            registry=r,
        )
        self.build_info.labels(**build_labels()).set(1)
        for role in ROLES:
            self.session_up.labels(role).set(0)
            self.last_message_age.labels(role).set_function(self._age_function(role))
            self.sequence_gaps.labels(role)
            self.resend_requests.labels(role)
            self.session_rejects.labels(role)
            for result in ("accepted", "refused"):
                self.logons.labels(role, result)
        for order_type in ORDER_TYPES:
            self.orders_sent.labels(order_type)
            self.orders_acked.labels(order_type)
            for reason in REJECT_REASONS:
                self.orders_rejected.labels(order_type, reason)
        for reason in REJECT_REASONS:
            self.business_rejects.labels(reason)
        for code in (*REASON_CODES, OTHER):
            self.risk_denials.labels(code)
        for rule in RULES:
            self.alerts_active.labels(rule).set(0)
            for status in (FIRING, RESOLVED):
                self.alerts.labels(rule, status)
        self.order_to_ack.labels(NEW)
        self.order_to_ack.labels(REPLACE)

    def declare_symbols(self, symbols: Iterable[str]) -> None:
        """Zero series for each configured symbol (done by the first :meth:`sample`)."""
        for symbol in symbols:
            if symbol in self._symbols:
                continue
            self._symbols.add(symbol)
            self.fills.labels(symbol)
            for side in ("buy", "sell"):
                self.filled_base.labels(symbol, side)
            self.working_orders.labels(symbol).set(0)
            self.fair_value.labels(symbol).set(math.nan)
            self.quoted_spread.labels(symbol).set(math.nan)
            self.book_age.labels(symbol).set(math.nan)
            self.set_position(symbol, Decimal(0), Decimal(0), None)

    def _age_function(self, role: str) -> Callable[[], float]:
        def age_s() -> float:
            last = self._last_message_s.get(role)
            return math.nan if last is None else max(0.0, self._clock() - last)

        return age_s

    # ------------------------------------------------------------------ inbound events

    def decision_made(self, lag_ns: int) -> None:
        """A quote decision, ``lag_ns`` after the oldest message it covers (the runner's)."""
        self.decision_lag.observe(lag_ns / 1e9)

    def observe(self, event: object) -> None:
        """Count one inbound domain event (anything taken off the event queue)."""
        if type(event) is MarketDataIncrement or isinstance(event, MarketDataSnapshot):
            self.message_received(SessionRole.MARKET_DATA)
            if self._tick_ns is None:
                self._tick_ns = event.received_ns or self._clock_ns()
        elif isinstance(event, ExecutionReport):
            self.message_received(SessionRole.ORDER_ENTRY)
            self._on_execution_report(event)
        elif isinstance(event, OrderCancelReject):
            self.message_received(SessionRole.ORDER_ENTRY)
            self._on_cancel_reject(event)
        elif isinstance(event, BusinessMessageReject):
            self.message_received(SessionRole.ORDER_ENTRY)
            self._on_business_reject(event)
        elif isinstance(event, MarketDataReject | SecurityList):
            self.message_received(SessionRole.MARKET_DATA)
        elif isinstance(event, SessionLoggedOn):
            self.message_received(event.role)
            self.session_up.labels(role_label(event.role)).set(1)
            self.logons.labels(role_label(event.role), "accepted").inc()
        elif isinstance(event, SessionLoggedOut):
            self.session_up.labels(role_label(event.role)).set(0)
        elif isinstance(event, LogonRefused):
            self.logons.labels(role_label(event.role), "refused").inc()
        elif isinstance(event, SessionRejected):
            self.message_received(event.role)
            self.session_rejects.labels(role_label(event.role)).inc()

    def _on_execution_report(self, report: ExecutionReport) -> None:
        if report.exec_type is ExecType.REJECTED:
            request = self._pending.pop(report.cl_ord_id, None)
            order_type = request[0] if request else NEW
            self.orders_rejected.labels(order_type, reject_reason(report.text)).inc()
            return
        if report.exec_type not in _FINAL_REPORTS:
            return  # PendingNew/PendingCancel/PendingReplace: not an answer yet
        request = self._pending.pop(report.cl_ord_id, None)
        if report.orig_cl_ord_id and report.exec_type is ExecType.CANCELED:
            self._pending.pop(report.orig_cl_ord_id, None)  # an order cancelled before its New
        if request is None:
            return
        order_type, sent_ns = request
        self.orders_acked.labels(order_type).inc()
        latency_s = max(0, (report.received_ns or self._clock_ns()) - sent_ns) / 1e9
        if order_type == CANCEL:
            self.cancel_to_ack.observe(latency_s)
        else:
            self.order_to_ack.labels(order_type).observe(latency_s)

    def _on_cancel_reject(self, reject: OrderCancelReject) -> None:
        request = self._pending.pop(reject.cl_ord_id, None)
        if request is not None:
            order_type = request[0]
        else:
            order_type = REPLACE if reject.response_to is CxlRejResponseTo.REPLACE else CANCEL
        reason = reject_reason(reject.text, cxl_rej_reason=reject.reason)
        self.orders_rejected.labels(order_type, reason).inc()

    def _on_business_reject(self, reject: BusinessMessageReject) -> None:
        reason = reject_reason(reject.text, business_reason=reject.reason)
        self.business_rejects.labels(reason).inc()
        order_type = _ORDER_MSG_TYPES.get(reject.ref_msg_type)
        if order_type is None:
            return
        if reject.ref_id:
            self._pending.pop(reject.ref_id, None)
        self.orders_rejected.labels(order_type, reason).inc()

    def message_received(self, role: SessionRole | str, now_s: float | None = None) -> None:
        """A message (any, heartbeats included) arrived on ``role``'s session; any thread."""
        self._last_message_s[role_label(role)] = self._clock() if now_s is None else now_s

    def sequence_gap(self, role: SessionRole | str) -> None:
        """The engine saw a sequence number above the expected one; any thread."""
        self.sequence_gaps.labels(role_label(role)).inc()

    def resend_request(self, role: SessionRole | str) -> None:
        """A ResendRequest went out (or came in) on ``role``'s session; any thread."""
        self.resend_requests.labels(role_label(role)).inc()

    # ------------------------------------------------------------------ outbound commands

    def command_sent(self, command: object, now_s: float | None = None) -> None:
        """Count a command the engine accepted for sending (ignore ones it refused)."""
        if isinstance(command, NewOrder):
            order_type = NEW
        elif isinstance(command, ReplaceOrder):
            order_type = REPLACE
        elif isinstance(command, CancelOrder):
            order_type = CANCEL
        else:
            return  # market-data and security-list requests are not order messages
        sent_ns = self._clock_ns()
        self.orders_sent.labels(order_type).inc()
        if len(self._pending) >= self._max_pending:
            # Requests that never got an answer (timeouts) must not grow this forever.
            self._pending.pop(next(iter(self._pending)))
        self._pending[command.cl_ord_id] = (order_type, sent_ns)
        if self._tick_ns is not None:
            self.tick_to_quote.observe(max(0, sent_ns - self._tick_ns) / 1e9)
            self._tick_ns = None
        now = self._clock() if now_s is None else now_s
        self._sent_s.append(now)
        self._refresh_rate(now)

    def pass_done(self) -> None:
        """End of one loop turn: market data that led to no order message is not a tick-to-
        quote sample, so a later timer-driven requote does not measure from it."""
        self._tick_ns = None

    def _refresh_rate(self, now_s: float) -> None:
        while self._sent_s and now_s - self._sent_s[0] >= 1.0:
            self._sent_s.popleft()
        self.messages_last_second.set(len(self._sent_s))

    # ------------------------------------------------------------------ periodic sampling

    def sample(self, mm: MarketMaker, now_s: float | None = None) -> None:
        """Gauges and the market maker's own counters; call about once a second."""
        oe_up, md_up = mm.sessions_up
        self.session_up.labels(SessionRole.ORDER_ENTRY.value).set(int(oe_up))
        self.session_up.labels(SessionRole.MARKET_DATA.value).set(int(md_up))
        self.set_trading_state(mm.risk.state, mm.risk.state_reason, mm.risk.kill_switch_engaged)
        self.sync_risk_denials(mm.risk.denial_counts())
        self.message_limit.set(mm.risk.limits.max_messages_per_s)
        self._refresh_rate(self._clock() if now_s is None else now_s)
        fair_values = mm.fair_values()
        self.declare_symbols(mm.symbols)
        book_now_s = mm.clock()
        for symbol in mm.symbols:
            position = mm.positions.get(symbol)
            self.sample_quotes(symbol, mm, fair_values.get(symbol), book_now_s)
            if position is None:
                self.set_position(symbol, Decimal(0), Decimal(0), Decimal(0))
                continue
            fair = fair_values.get(symbol)
            self.set_position(
                symbol,
                position.quantity_base,
                position.realized_pnl_quote,
                position.unrealized_pnl_quote(fair) if fair is not None else None,
            )
            self.sync_fills(symbol, position.fill_count, position.bought_base, position.sold_base)

    def sample_quotes(
        self, symbol: str, mm: MarketMaker, fair: Decimal | None, book_now_s: float
    ) -> None:
        """Working orders, fair value, our quoted spread and the book's age of one symbol."""
        working = mm.orders.working_orders(symbol)
        self.working_orders.labels(symbol).set(len(working))
        self.fair_value.labels(symbol).set(math.nan if fair is None else float(fair))
        bids = [o.price for o in working if o.side is Side.BUY and o.price is not None]
        asks = [o.price for o in working if o.side is Side.SELL and o.price is not None]
        self.quoted_spread.labels(symbol).set(
            quoted_spread_bps(max(bids) if bids else None, min(asks) if asks else None)
        )
        book = mm.books.book(symbol)
        age_s = book.age_s(book_now_s) if book is not None else math.inf
        self.book_age.labels(symbol).set(age_s if math.isfinite(age_s) else math.nan)

    def alert_raised(self, alert: Alert) -> None:
        """The alert manager's ``on_alert`` listener: count it, track what fires now."""
        if alert.rule not in RULES:
            return
        self.alerts.labels(alert.rule, alert.status).inc()
        if alert.status == FIRING:
            self.alerts_active.labels(alert.rule).inc()
        elif alert.status == RESOLVED:
            self.alerts_active.labels(alert.rule).dec()

    def set_position(
        self,
        symbol: str,
        position_base: Decimal,
        realized_pnl_quote: Decimal,
        unrealized_pnl_quote: Decimal | None,
    ) -> None:
        """Position and PnL gauges of one configured symbol."""
        self.position_base.labels(symbol).set(float(position_base))
        self.realized_pnl.labels(symbol).set(float(realized_pnl_quote))
        self.unrealized_pnl.labels(symbol).set(
            math.nan if unrealized_pnl_quote is None else float(unrealized_pnl_quote)
        )

    def set_trading_state(
        self, state: TradingState, reason: str, kill_switch_engaged: bool = False
    ) -> None:
        """The state gauge, the info series (the previous one removed) and the kill switch."""
        self.trading_state.set(TRADING_STATE_VALUES[state])
        self.kill_switch.set(int(kill_switch_engaged))
        labels = (state.value, state_reason_label(reason))
        if labels != self._state_info:
            if self._state_info is not None:
                self.trading_state_info.remove(*self._state_info)
            self.trading_state_info.labels(*labels).set(1)
            self._state_info = labels

    def sync_risk_denials(self, counts: Mapping[str, int]) -> None:
        """Advance the denial counters to the risk engine's totals (it counts every denial)."""
        for code, total in counts.items():
            delta = total - self._denials_seen.get(code, 0)
            if delta > 0:
                self.risk_denials.labels(code if code in REASON_CODES else OTHER).inc(delta)
            self._denials_seen[code] = max(total, self._denials_seen.get(code, 0))

    def sync_fills(
        self, symbol: str, fill_count: int, bought_base: Decimal, sold_base: Decimal
    ) -> None:
        """Advance the fill counters to a position's running totals (fills are deduplicated
        upstream by ExecID, so the position book is the count to trust)."""
        seen_count, seen_bought, seen_sold = self._fills_seen.get(
            symbol, (0, Decimal(0), Decimal(0))
        )
        if fill_count > seen_count:
            self.fills.labels(symbol).inc(fill_count - seen_count)
        if bought_base > seen_bought:
            self.filled_base.labels(symbol, "buy").inc(float(bought_base - seen_bought))
        if sold_base > seen_sold:
            self.filled_base.labels(symbol, "sell").inc(float(sold_base - seen_sold))
        self._fills_seen[symbol] = (
            max(fill_count, seen_count),
            max(bought_base, seen_bought),
            max(sold_base, seen_sold),
        )

    # ------------------------------------------------------------------ exposition

    def serve(self, port: int = 0, host: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` on a daemon thread; returns the port (port 0: a free one)."""
        if self._server is not None:
            assert self.port is not None
            return self.port
        try:
            server, _thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ConfigError("metrics port", f"cannot listen on {host}:{port}: {exc}") from None
        self._server = server
        self.port = int(server.server_port)
        log.info("metrics on http://%s:%d/metrics", host, self.port)
        return self.port

    def close(self) -> None:
        """Stop the HTTP server, if one runs; safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
