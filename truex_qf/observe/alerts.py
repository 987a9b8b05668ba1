"""Alerts: rules over what the trading loop observes, each firing once per episode.

A rule watches one condition per subject (a session role, a symbol, or nothing). When the
condition becomes true the alert *fires* once; when it clears, it *resolves* once, with a
recovery message. Repeats inside an episode (a second refused logon, the eleventh reject)
change nothing. Rules:

========================  ==========  =====================================================
rule                      severity    fires when / resolves when
========================  ==========  =====================================================
``AUTH_FAILURE``          critical    the venue refused our Logon / the session logs on
``SESSION_DOWN``          critical    a logged-on session dropped (logout, disconnect,
                                      heartbeat timeout) / it logs on again
``HEARTBEAT_TIMEOUT``     critical    order entry up, no message for ``heartbeat_timeout_s``
                                      / a message arrives (or the session goes down)
``MARKET_DATA_STALE``     warning     market data up, no message (heartbeats count: TrueX
                                      sends nothing on a quiet book) for
                                      ``stale_market_data_s`` / a message arrives
``SEQUENCE_GAP``          warning     an inbound sequence gap / no gap for
                                      ``sequence_gap_quiet_s``
``REJECT_STORM``          warning     ``reject_storm_count`` venue rejects (150=8, 35=j,
                                      35=3; not 35=9: a too-late cancel is an expected
                                      race) within ``reject_storm_window_s`` / at most half
                                      that many remain in the window (against flapping)
``POSITION_LIMIT``        warning     abs(position) above ``position_alert_ratio`` of the
                                      limit / back at or below ``position_resolve_ratio``
``KILL_SWITCH``           critical    the kill switch is engaged / never within the
                                      process (it holds until a restart)
``CANNOT_TRADE``          critical    the trading state has been WAITING (for
                                      reconciliation, for a quotable symbol; the text says
                                      which) for ``WAITING_ALERT_S`` / it is not WAITING
``SPILL_FULL``            critical    trading halted because a store spill file is full
                                      (database away too long) / the halt is lifted
========================  ==========  =====================================================

Every alert names its runbook section (``docs/runbook.md#<rule in lower case>``, see
:mod:`truex_qf.observe.runbook`): in the log line, in the webhook's ``runbook`` field and text.

Event-driven rules fire inside the :meth:`AlertManager.observe` call; time-driven ones on
:meth:`AlertManager.evaluate`, which the loop calls at least once a second, so every alert is
raised within about a second of its condition (the bound promised is five).

Delivery: a log line on ``truex_qf.alerts`` (ERROR for critical, WARNING otherwise, WARNING for
recoveries) and, with a webhook URL, an HTTP POST of a JSON body from a background thread
(timeout, retries with backoff, bounded queue). The calling thread only appends to a queue.
An ``on_alert`` listener (the metrics' alert counters) sees every firing and recovery.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from truex_qf.domain.errors import ConfigError
from truex_qf.domain.model import (
    BusinessMessageReject,
    ExecType,
    ExecutionReport,
    LogonRefused,
    MarketDataIncrement,
    MarketDataReject,
    MarketDataSnapshot,
    OrderCancelReject,
    SecurityList,
    SessionLoggedOn,
    SessionLoggedOut,
    SessionRejected,
    SessionRole,
)
from truex_qf.observe.runbook import alert_link

if TYPE_CHECKING:
    from truex_qf.trading.market_maker import MarketMaker

log = logging.getLogger("truex_qf.alerts")

AUTH_FAILURE = "AUTH_FAILURE"
SESSION_DOWN = "SESSION_DOWN"
HEARTBEAT_TIMEOUT = "HEARTBEAT_TIMEOUT"
MARKET_DATA_STALE = "MARKET_DATA_STALE"
SEQUENCE_GAP = "SEQUENCE_GAP"
REJECT_STORM = "REJECT_STORM"
POSITION_LIMIT = "POSITION_LIMIT"
KILL_SWITCH = "KILL_SWITCH"
CANNOT_TRADE = "CANNOT_TRADE"
SPILL_FULL = "SPILL_FULL"
SPILL_FULL_REASON = "STORAGE_SPILL_FULL"  # the halt reason the pipeline sets (its constant)
WAITING_ALERT_S = 10.0  # a reconciliation takes well under this; a longer wait is news

CRITICAL, WARNING = "critical", "warning"
FIRING, RESOLVED = "firing", "resolved"

SEVERITIES = {
    AUTH_FAILURE: CRITICAL,
    SESSION_DOWN: CRITICAL,
    HEARTBEAT_TIMEOUT: CRITICAL,
    MARKET_DATA_STALE: WARNING,
    SEQUENCE_GAP: WARNING,
    REJECT_STORM: WARNING,
    POSITION_LIMIT: WARNING,
    KILL_SWITCH: CRITICAL,
    CANNOT_TRADE: CRITICAL,
    SPILL_FULL: CRITICAL,
}
RULES = tuple(SEVERITIES)

_OE = SessionRole.ORDER_ENTRY.value
_MD = SessionRole.MARKET_DATA.value
_SILENCE_RULES = {_OE: HEARTBEAT_TIMEOUT, _MD: MARKET_DATA_STALE}


@dataclass(frozen=True)
class AlertSettings:
    """Thresholds and delivery limits, validated once.

    The silence thresholds default to 2.5 heartbeat intervals of the configured 30 s
    (``HeartBtInt`` in sessions.cfg): a quiet but healthy session shows a message at least
    every 30 s, so a shorter threshold would fire on every quiet book.
    """

    reject_storm_count: int = 10
    reject_storm_window_s: float = 10.0
    position_alert_ratio: float = 0.8
    position_resolve_ratio: float = 0.75
    heartbeat_timeout_s: float = 75.0
    stale_market_data_s: float = 75.0
    sequence_gap_quiet_s: float = 60.0
    webhook_timeout_s: float = 5.0
    webhook_retries: int = 3
    webhook_queue: int = 1000
    recent_kept: int = 200

    def __post_init__(self) -> None:
        positive = (
            "reject_storm_count",
            "reject_storm_window_s",
            "heartbeat_timeout_s",
            "stale_market_data_s",
            "sequence_gap_quiet_s",
            "webhook_timeout_s",
            "webhook_queue",
            "recent_kept",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"alerts.{name}", "must be positive")
        if self.webhook_retries < 0:
            raise ConfigError("alerts.webhook_retries", "must not be negative")
        if not 0 < self.position_resolve_ratio <= self.position_alert_ratio:
            raise ConfigError(
                "alerts.position_resolve_ratio", "must be in (0, position_alert_ratio]"
            )


@dataclass(frozen=True, slots=True)
class Alert:
    """One firing or one recovery. ``at_s`` is the manager's clock, ``at_wall`` epoch seconds."""

    rule: str
    subject: str
    status: str
    severity: str
    message: str
    at_s: float
    at_wall: float
    runbook: str = ""  # docs/runbook.md#<anchor>: what to do about it

    def payload(self, source: str) -> dict[str, Any]:
        """The webhook body; ``text`` makes it readable by Slack-style incoming webhooks."""
        body: dict[str, Any] = asdict(self)
        body["source"] = source
        body["at"] = datetime.fromtimestamp(self.at_wall, UTC).isoformat()
        body["text"] = (
            f"[{self.status.upper()}] {self.severity} {self.message} ({source}; "
            f"runbook: {self.runbook})"
        )
        return body


class AlertManager:
    """Evaluates the rules and delivers alerts; see the module docstring for the rules.

    Every method is cheap and never blocks on I/O; state is behind one lock held for
    microseconds, so the FIX edge may call :meth:`message_received` and
    :meth:`sequence_gap` from its own threads and a status view may call :meth:`recent`.
    """

    def __init__(
        self,
        webhook_url: str | None,
        clock: Callable[[], float] = time.monotonic,
        *,
        settings: AlertSettings | None = None,
        source: str = "truex-qf",
        on_alert: Callable[[Alert], None] | None = None,
    ) -> None:
        self.settings = settings or AlertSettings()
        self.source = source
        self._on_alert = on_alert
        self._clock = clock
        self._lock = threading.Lock()
        self._active: dict[tuple[str, str], Alert] = {}
        self._recent: deque[Alert] = deque(maxlen=self.settings.recent_kept)
        self._session_up: dict[str, bool] = {}
        self._last_message_s: dict[str, float] = {}
        self._rejects_s: deque[float] = deque()
        self._last_gap_s: dict[str, float] = {}
        self._gap_counts: dict[str, int] = {}
        self._webhook = (
            _WebhookSender(webhook_url, self.settings) if webhook_url is not None else None
        )

    # ------------------------------------------------------------------ inputs

    def observe(self, event: object, now_s: float | None = None) -> None:
        """Feed one inbound domain event (anything off the event queue)."""
        now = self._now(now_s)
        if type(event) is MarketDataIncrement:  # most events by far: the short road
            with self._lock:
                raised = self._message(_MD, now)
            if raised:
                self._deliver(raised)
            return
        raised = []
        with self._lock:
            if isinstance(event, LogonRefused):
                role = event.role.value
                raised += self._fire(AUTH_FAILURE, role, f"{role} logon refused: {event.text}", now)
            elif isinstance(event, SessionLoggedOn):
                role = event.role.value
                self._session_up[role] = True
                self._last_message_s[role] = now
                raised += self._resolve(AUTH_FAILURE, role, f"{role} logged on", now)
                raised += self._resolve(SESSION_DOWN, role, f"{role} logged on again", now)
                raised += self._check_silence(role, now)
            elif isinstance(event, SessionLoggedOut):
                role = event.role.value
                was_up = self._session_up.get(role, False)
                self._session_up[role] = False
                if was_up:
                    text = f"{role} session down (logout, disconnect or heartbeat timeout)"
                    raised += self._fire(SESSION_DOWN, role, text, now)
                raised += self._check_silence(role, now)
            elif isinstance(
                event, MarketDataSnapshot | MarketDataIncrement | MarketDataReject | SecurityList
            ):
                raised += self._message(_MD, now)
            elif isinstance(event, ExecutionReport | OrderCancelReject):
                raised += self._message(_OE, now)
                if isinstance(event, ExecutionReport) and event.exec_type is ExecType.REJECTED:
                    raised += self._reject(now)
            elif isinstance(event, BusinessMessageReject):
                raised += self._message(_OE, now)
                raised += self._reject(now)
            elif isinstance(event, SessionRejected):
                raised += self._message(event.role.value, now)
                raised += self._reject(now)
        self._deliver(raised)

    def message_received(self, role: SessionRole | str, now_s: float | None = None) -> None:
        """Any message (heartbeats too) arrived on ``role``'s session; safe from any thread.

        Only stores the time: a silence alert it ends resolves at the next :meth:`evaluate`.
        """
        role_value = role.value if isinstance(role, SessionRole) else role
        now = self._now(now_s)
        with self._lock:
            self._last_message_s[role_value] = now

    def sequence_gap(self, role: SessionRole | str, now_s: float | None = None) -> None:
        """The engine detected an inbound sequence gap on ``role``'s session."""
        role_value = role.value if isinstance(role, SessionRole) else role
        now = self._now(now_s)
        with self._lock:
            self._last_gap_s[role_value] = now
            self._gap_counts[role_value] = self._gap_counts.get(role_value, 0) + 1
            raised = self._fire(
                SEQUENCE_GAP, role_value, f"{role_value} inbound sequence gap (resend)", now
            )
        self._deliver(raised)

    def observe_position(
        self,
        symbol: str,
        position_base: Decimal,
        limit_base: Decimal | None,
        now_s: float | None = None,
    ) -> None:
        """Compare one symbol's position with its limit (None: no limit, nothing to watch)."""
        if limit_base is None:
            return
        now = self._now(now_s)
        size = abs(position_base)
        settings = self.settings
        fire_above = limit_base * Decimal(str(settings.position_alert_ratio))
        clear_at = limit_base * Decimal(str(settings.position_resolve_ratio))
        with self._lock:
            firing = (POSITION_LIMIT, symbol) in self._active
            if size > fire_above and not firing:
                text = (
                    f"{symbol} position {position_base} above "
                    f"{settings.position_alert_ratio:.0%} of its limit {limit_base}"
                )
                raised = self._fire(POSITION_LIMIT, symbol, text, now)
            elif firing and size <= clear_at:
                text = f"{symbol} position {position_base} back within limit {limit_base}"
                raised = self._resolve(POSITION_LIMIT, symbol, text, now)
            else:
                raised = []
        self._deliver(raised)

    def observe_kill_switch(
        self, engaged: bool, reason: str = "", now_s: float | None = None
    ) -> None:
        """The kill switch state; call on every change (or every sample: repeats are free).

        It fires once; it never resolves, since the switch holds until the process ends."""
        if not engaged:
            return
        now = self._now(now_s)
        with self._lock:
            text = reason if reason.startswith("kill switch") else f"kill switch: {reason}"
            raised = self._fire(KILL_SWITCH, "", f"engaged ({text})", now)
        self._deliver(raised)

    def sample(self, mm: MarketMaker, now_s: float | None = None) -> None:
        """Positions against their limits and the kill switch, then :meth:`evaluate`.

        Call about once a second holding the trading lock (it replaces a bare ``evaluate``).
        """
        now = self._now(now_s)
        limits = mm.risk.limits.max_position_base
        for symbol in mm.symbols:
            position = mm.positions.position_base(symbol)
            self.observe_position(symbol, position, limits.get(symbol), now)
        self.observe_kill_switch(mm.risk.kill_switch_engaged, mm.risk.state_reason, now)
        self.observe_waiting(mm.waiting_for_s, mm.risk.state_reason, now)
        self.observe_spill_halt(mm.risk.state_reason.startswith(SPILL_FULL_REASON), now)
        self.evaluate(now)

    def observe_spill_halt(self, halted: bool, now_s: float | None = None) -> None:
        """Whether trading is halted because a store spill file is full (repeats are free)."""
        now = self._now(now_s)
        with self._lock:
            if halted:
                text = "trading halted: a store spill file is full (the database is away)"
                raised = self._fire(SPILL_FULL, "", text, now)
            else:
                raised = self._resolve(SPILL_FULL, "", "the spill halt is lifted", now)
        self._deliver(raised)

    def observe_waiting(
        self, waited_s: float | None, reason: str = "", now_s: float | None = None
    ) -> None:
        """How long the program has been unable to quote (WAITING; None: it is not)."""
        now = self._now(now_s)
        with self._lock:
            if waited_s is not None and waited_s >= WAITING_ALERT_S:
                text = f"cannot quote for {waited_s:.0f} s: {reason}"
                raised = self._fire(CANNOT_TRADE, "", text, now)
            elif waited_s is None:
                raised = self._resolve(CANNOT_TRADE, "", "quoting possible again", now)
            else:
                raised = []
        self._deliver(raised)

    def evaluate(self, now_s: float | None = None) -> None:
        """The time-driven rules (silence, storm window, gap quiet period); at least 1/s."""
        now = self._now(now_s)
        raised: list[Alert] = []
        with self._lock:
            for role in (_OE, _MD):
                raised += self._check_silence(role, now)
            raised += self._check_storm(now)
            quiet_s = self.settings.sequence_gap_quiet_s
            for role, last in list(self._last_gap_s.items()):
                if now - last >= quiet_s:
                    count = self._gap_counts.pop(role, 0)
                    del self._last_gap_s[role]
                    text = f"{role} no sequence gap for {quiet_s:.0f} s ({count} in the episode)"
                    raised += self._resolve(SEQUENCE_GAP, role, text, now)
        self._deliver(raised)

    # ------------------------------------------------------------------ queries

    def recent(self, n: int = 20) -> list[Alert]:
        """The latest ``n`` firings and recoveries, newest first."""
        with self._lock:
            items = list(self._recent)
        return items[::-1][:n]

    def active(self) -> list[Alert]:
        """Alerts firing now, oldest first."""
        with self._lock:
            return sorted(self._active.values(), key=lambda alert: alert.at_s)

    @property
    def webhook_stats(self) -> dict[str, int]:
        """Webhook deliveries: delivered, failed (after retries), dropped (queue full)."""
        if self._webhook is None:
            return {"delivered": 0, "failed": 0, "dropped": 0}
        return self._webhook.stats()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Give queued webhook posts ``timeout_s`` to go out, then stop the sender thread; say
        how many alerts the webhook did not deliver, if any (each failure was logged as it
        happened, but an alert dropped from a full queue is seen only here)."""
        if self._webhook is None:
            return
        self._webhook.stop(timeout_s)
        stats = self.webhook_stats
        if stats["failed"] or stats["dropped"]:
            log.warning(
                "alert webhook: %d alert(s) not delivered (%d failed after retries, %d dropped "
                "from a full queue); %d delivered. Every alert is in this log",
                stats["failed"] + stats["dropped"],
                stats["failed"],
                stats["dropped"],
                stats["delivered"],
            )

    # ------------------------------------------------------------------ rules (lock held)

    def _message(self, role: str, now: float) -> list[Alert]:
        self._last_message_s[role] = now
        return self._check_silence(role, now)

    def _check_silence(self, role: str, now: float) -> list[Alert]:
        rule = _SILENCE_RULES.get(role)
        if rule is None:
            return []
        threshold = (
            self.settings.heartbeat_timeout_s if role == _OE else self.settings.stale_market_data_s
        )
        last = self._last_message_s.get(role)
        up = self._session_up.get(role, False)
        if up and last is not None and now - last > threshold:
            text = f"{role} silent for {now - last:.0f} s (threshold {threshold:.0f} s)"
            return self._fire(rule, role, text, now)
        if (rule, role) not in self._active:
            return []  # nothing to resolve: every market-data message ends here
        if not up:
            return self._resolve(rule, role, f"{role} session down; see {SESSION_DOWN}", now)
        return self._resolve(rule, role, f"{role} messages arriving again", now)

    def _reject(self, now: float) -> list[Alert]:
        self._rejects_s.append(now)
        return self._check_storm(now)

    def _check_storm(self, now: float) -> list[Alert]:
        settings = self.settings
        window = settings.reject_storm_window_s
        while self._rejects_s and now - self._rejects_s[0] >= window:
            self._rejects_s.popleft()
        count = len(self._rejects_s)
        if count >= settings.reject_storm_count:
            text = f"{count} venue rejects in the last {window:.0f} s"
            return self._fire(REJECT_STORM, "", text, now)
        if count <= settings.reject_storm_count // 2:
            text = f"venue rejects down to {count} in the last {window:.0f} s"
            return self._resolve(REJECT_STORM, "", text, now)
        return []

    def _fire(self, rule: str, subject: str, message: str, now: float) -> list[Alert]:
        if (rule, subject) in self._active:
            return []
        alert = Alert(
            rule, subject, FIRING, SEVERITIES[rule], message, now, time.time(), alert_link(rule)
        )
        self._active[(rule, subject)] = alert
        self._recent.append(alert)
        return [alert]

    def _resolve(self, rule: str, subject: str, message: str, now: float) -> list[Alert]:
        firing = self._active.pop((rule, subject), None)
        if firing is None:
            return []
        lasted = now - firing.at_s
        text = f"resolved after {lasted:.0f} s: {message}"
        alert = Alert(
            rule, subject, RESOLVED, firing.severity, text, now, time.time(), alert_link(rule)
        )
        self._recent.append(alert)
        return [alert]

    # ------------------------------------------------------------------ delivery

    def _deliver(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            name = f"{alert.rule}[{alert.subject}]" if alert.subject else alert.rule
            if alert.status == FIRING:
                level = logging.ERROR if alert.severity == CRITICAL else logging.WARNING
                log.log(level, "ALERT %s: %s (runbook: %s)", name, alert.message, alert.runbook)
            else:
                log.warning("RESOLVED %s: %s", name, alert.message)
            if self._webhook is not None:
                self._webhook.enqueue(alert.payload(self.source))
            if self._on_alert is not None:
                try:
                    self._on_alert(alert)
                except Exception:  # a listener's bug must not stop the trading loop
                    log.exception("alert listener failed on %s", name)

    def _now(self, now_s: float | None) -> float:
        return self._clock() if now_s is None else now_s


class _WebhookSender:
    """POSTs JSON bodies from a daemon thread, started with the first alert."""

    def __init__(self, url: str, settings: AlertSettings) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("alerts webhook url", "must be an http(s) URL")
        self._url = url
        # Webhook URLs often carry a token in the path: logs show scheme and host only.
        self._url_for_logs = f"{parts.scheme}://{parts.hostname}"
        self._settings = settings
        self._lock = threading.Lock()
        self._queue: deque[bytes] = deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._delivered = 0
        self._failed = 0
        self._dropped = 0

    def enqueue(self, body: dict[str, Any]) -> None:
        data = json.dumps(body, default=str).encode("utf-8")
        with self._lock:
            if self._stopping.is_set():
                self._dropped += 1
                return
            if len(self._queue) >= self._settings.webhook_queue:
                self._queue.popleft()
                self._dropped += 1
            self._queue.append(data)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="alert-webhook", daemon=True)
                self._thread.start()
        self._wake.set()

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"delivered": self._delivered, "failed": self._failed, "dropped": self._dropped}

    def stop(self, timeout_s: float) -> None:
        with self._lock:
            self._stopping.set()
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                log.warning("alert webhook still busy after %.1f s; leaving it", timeout_s)

    def _run(self) -> None:
        while True:
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            while True:
                with self._lock:
                    data = self._queue.popleft() if self._queue else None
                if data is None:
                    break
                self._post(data)
            if self._stopping.is_set():
                return

    def _post(self, data: bytes) -> None:
        settings = self._settings
        delay_s = 0.5
        for attempt in range(settings.webhook_retries + 1):
            request = urllib.request.Request(
                self._url,
                data=data,
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "truex-qf"},
            )
            try:
                with urllib.request.urlopen(request, timeout=settings.webhook_timeout_s) as reply:
                    reply.read(1024)
            except urllib.error.HTTPError as exc:
                problem = f"HTTP {exc.code}"
                retryable = exc.code >= 500 or exc.code == 429  # else the request is wrong
            except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections
                problem = f"{type(exc).__name__}: {exc}"
                retryable = True
            else:
                with self._lock:
                    self._delivered += 1
                return
            if not retryable or attempt >= settings.webhook_retries:
                break
            if self._stopping.wait(delay_s):
                break
            delay_s *= 2
        with self._lock:
            self._failed += 1
        log.warning("alert webhook %s failed: %s", self._url_for_logs, problem)
