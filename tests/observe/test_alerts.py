"""Alert rules (once per episode, recovery, time bound) and webhook delivery off the loop."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.logs import LogCapture
from tests.support.market_maker import quoting_market_maker
from tests.support.timing import FakeClock, wait_until
from truex_qf.domain.errors import ConfigError
from truex_qf.domain.model import (
    BookEntry,
    BusinessMessageReject,
    ExecType,
    ExecutionReport,
    LogonRefused,
    MarketDataIncrement,
    MarketDataSnapshot,
    MDEntryType,
    OrdStatus,
    SessionLoggedOn,
    SessionLoggedOut,
    SessionRejected,
    SessionRole,
    Side,
)
from truex_qf.domain.netutil import free_port
from truex_qf.observe.alerts import (
    AUTH_FAILURE,
    FIRING,
    HEARTBEAT_TIMEOUT,
    KILL_SWITCH,
    MARKET_DATA_STALE,
    POSITION_LIMIT,
    REJECT_STORM,
    RESOLVED,
    SEQUENCE_GAP,
    SESSION_DOWN,
    AlertManager,
    AlertSettings,
)
from truex_qf.trading.risk import TradingState

OE, MD = SessionRole.ORDER_ENTRY, SessionRole.MARKET_DATA
BOUND_S = 5.0  # every alert must be raised within this long of its condition


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def alerts(clock) -> AlertManager:
    return AlertManager(None, clock)


def history(manager: AlertManager, rule: str | None = None) -> list[tuple[str, str, str]]:
    """(rule, subject, status), oldest first."""
    return [
        (a.rule, a.subject, a.status)
        for a in reversed(manager.recent(1000))
        if rule is None or a.rule == rule
    ]


def book() -> MarketDataSnapshot:
    entry = BookEntry(MDEntryType.BID, Decimal("99900"), Decimal(1))
    return MarketDataSnapshot("MD1", "BTC-PYUSD", (entry,))


def rejected_report(n: int) -> ExecutionReport:
    return ExecutionReport(
        order_id="NONE",
        cl_ord_id=f"Q{n}",
        exec_id=f"E{n}",
        exec_type=ExecType.REJECTED,
        ord_status=OrdStatus.REJECTED,
        symbol="BTC-PYUSD",
        side=Side.BUY,
        order_qty=Decimal("0.001"),
        leaves_qty=Decimal(0),
        cum_qty=Decimal(0),
        text="Order outside book price bands",
    )


def evaluate_every_second(manager: AlertManager, clock: FakeClock, seconds: int) -> None:
    for _ in range(seconds):
        clock.advance(1.0)
        manager.evaluate()


def fired_at(manager: AlertManager, rule: str) -> float:
    return next(a.at_s for a in manager.recent(1000) if a.rule == rule and a.status == FIRING)


# --------------------------------------------------------------------------- rules


def test_auth_failure_fires_once_and_recovers_on_logon(alerts):
    refused = LogonRefused(OE, "oe", "Authentication failed", "8")
    with LogCapture("truex_qf.alerts") as logs:
        alerts.observe(refused)
        alerts.observe(refused)  # the engine retries: same episode
        assert history(alerts) == [(AUTH_FAILURE, "order_entry", FIRING)]
        assert [a.rule for a in alerts.active()] == [AUTH_FAILURE]
        errors = logs.messages(logging.ERROR)
        assert len(errors) == 1 and "Authentication failed" in errors[0]

        alerts.observe(SessionLoggedOn(OE, "oe"))
    assert history(alerts) == [
        (AUTH_FAILURE, "order_entry", FIRING),
        (AUTH_FAILURE, "order_entry", RESOLVED),
    ]
    assert alerts.active() == []
    assert logs.messages(logging.WARNING)[-1].startswith("RESOLVED AUTH_FAILURE[order_entry]")

    alerts.observe(refused)  # a new episode fires again
    assert history(alerts)[-1] == (AUTH_FAILURE, "order_entry", FIRING)


def test_session_down_only_after_being_up(alerts):
    alerts.observe(SessionLoggedOut(MD, "md"))  # never logged on: the logon path reports it
    assert history(alerts) == []
    alerts.observe(SessionLoggedOn(MD, "md"))
    alerts.observe(SessionLoggedOut(MD, "md"))
    alerts.observe(SessionLoggedOut(MD, "md"))
    assert history(alerts) == [(SESSION_DOWN, "market_data", FIRING)]
    alerts.observe(SessionLoggedOn(MD, "md"))
    assert history(alerts)[-1] == (SESSION_DOWN, "market_data", RESOLVED)


def test_heartbeat_timeout_on_order_entry(alerts, clock):
    alerts.observe(SessionLoggedOn(OE, "oe"))
    silent_from = clock.now_s
    threshold = alerts.settings.heartbeat_timeout_s
    evaluate_every_second(alerts, clock, int(threshold))
    assert history(alerts) == []  # exactly at the threshold: not yet
    evaluate_every_second(alerts, clock, 10)
    assert history(alerts) == [(HEARTBEAT_TIMEOUT, "order_entry", FIRING)]
    assert fired_at(alerts, HEARTBEAT_TIMEOUT) - (silent_from + threshold) <= BOUND_S

    alerts.message_received(OE)  # a heartbeat, reported from the engine thread
    clock.advance(1.0)
    alerts.evaluate()
    assert history(alerts)[-1] == (HEARTBEAT_TIMEOUT, "order_entry", RESOLVED)


def test_quiet_book_with_heartbeats_is_not_stale(alerts, clock):
    alerts.observe(SessionLoggedOn(MD, "md"))
    alerts.observe(book())
    for second in range(1, 301):  # five minutes, no market data, a heartbeat every 30 s
        clock.advance(1.0)
        if second % 30 == 0:
            alerts.message_received(MD)
        alerts.evaluate()
    assert history(alerts) == []


def test_stale_market_data_fires_within_the_bound_and_recovers(alerts, clock):
    alerts.observe(SessionLoggedOn(MD, "md"))
    alerts.observe(book())
    last_message = clock.now_s
    evaluate_every_second(alerts, clock, 120)
    assert history(alerts) == [(MARKET_DATA_STALE, "market_data", FIRING)]
    stale_at = last_message + alerts.settings.stale_market_data_s
    assert 0 < fired_at(alerts, MARKET_DATA_STALE) - stale_at <= BOUND_S

    alerts.observe(book())  # data again: resolved at once
    assert history(alerts)[-1] == (MARKET_DATA_STALE, "market_data", RESOLVED)


def test_an_increment_ends_stale_market_data_at_once_and_keeps_it_fresh(alerts, clock):
    """Increments take observe's short road; it must still record them and resolve."""
    alerts.observe(SessionLoggedOn(MD, "md"))
    alerts.observe(book())
    evaluate_every_second(alerts, clock, 120)
    assert history(alerts) == [(MARKET_DATA_STALE, "market_data", FIRING)]
    alerts.observe(MarketDataIncrement("MD1", ()))
    assert history(alerts)[-1] == (MARKET_DATA_STALE, "market_data", RESOLVED)
    for _ in range(120):  # an increment a second: never stale again
        clock.advance(1.0)
        alerts.observe(MarketDataIncrement("MD1", ()))
        alerts.evaluate()
    assert len(history(alerts)) == 2


def test_stale_market_data_ends_when_the_session_goes_down(alerts, clock):
    alerts.observe(SessionLoggedOn(MD, "md"))
    evaluate_every_second(alerts, clock, 100)
    alerts.observe(SessionLoggedOut(MD, "md"))
    assert history(alerts) == [
        (MARKET_DATA_STALE, "market_data", FIRING),
        (SESSION_DOWN, "market_data", FIRING),
        (MARKET_DATA_STALE, "market_data", RESOLVED),
    ]
    evaluate_every_second(alerts, clock, 100)  # down is not stale: nothing new
    assert len(history(alerts)) == 3


def test_sequence_gap_episode(alerts, clock):
    alerts.sequence_gap(MD)
    clock.advance(5)
    alerts.sequence_gap(MD)
    assert history(alerts) == [(SEQUENCE_GAP, "market_data", FIRING)]
    evaluate_every_second(alerts, clock, int(alerts.settings.sequence_gap_quiet_s) + 1)
    assert history(alerts)[-1] == (SEQUENCE_GAP, "market_data", RESOLVED)
    assert "2 in the episode" in alerts.recent(1)[0].message


def test_reject_storm(clock):
    settings = AlertSettings(reject_storm_count=5, reject_storm_window_s=10.0)
    alerts = AlertManager(None, clock, settings=settings)
    alerts.observe(SessionLoggedOn(OE, "oe"))
    for n in range(4):
        alerts.observe(rejected_report(n))
        clock.advance(1.0)
    assert history(alerts) == []
    alerts.observe(BusinessMessageReject("D", "8", ref_id="Q9", text="Throttle limit exceeded"))
    assert history(alerts) == [(REJECT_STORM, "", FIRING)]
    alerts.observe(SessionRejected(OE, "oe", 7, "5", "bad value"))
    assert len(history(alerts)) == 1

    evaluate_every_second(alerts, clock, 12)
    assert history(alerts)[-1] == (REJECT_STORM, "", RESOLVED)
    for n in range(5):
        alerts.observe(rejected_report(100 + n))
    assert history(alerts, REJECT_STORM)[-1] == (REJECT_STORM, "", FIRING)


def test_position_above_80_percent_of_its_limit(alerts):
    limit = Decimal("0.05")
    alerts.observe_position("BTC-PYUSD", Decimal("0.039"), limit)
    assert history(alerts) == []
    alerts.observe_position("BTC-PYUSD", Decimal("-0.041"), limit)  # short counts too
    alerts.observe_position("BTC-PYUSD", Decimal("-0.045"), limit)
    assert history(alerts) == [(POSITION_LIMIT, "BTC-PYUSD", FIRING)]
    alerts.observe_position("BTC-PYUSD", Decimal("0.038"), limit)  # 76 %: hysteresis holds
    assert len(history(alerts)) == 1
    alerts.observe_position("BTC-PYUSD", Decimal("0.030"), limit)
    assert history(alerts)[-1] == (POSITION_LIMIT, "BTC-PYUSD", RESOLVED)
    alerts.observe_position("ETH-PYUSD", Decimal(1000), None)  # no limit: nothing to watch
    assert len(history(alerts)) == 2


def test_kill_switch_from_the_market_maker(alerts):
    mm, _sent = quoting_market_maker()
    alerts.sample(mm)
    assert history(alerts) == []
    mm.engage_kill_switch("operator")
    alerts.sample(mm)
    alerts.sample(mm)
    assert history(alerts) == [(KILL_SWITCH, "", FIRING)]
    assert "operator" in alerts.active()[0].message
    assert mm.risk.set_state(TradingState.ACTIVE, "try") is False  # it holds
    alerts.sample(mm)
    assert history(alerts) == [(KILL_SWITCH, "", FIRING)]  # once, and never resolved


def test_sample_watches_positions_against_the_risk_limits(alerts):
    mm, _sent = quoting_market_maker()
    symbol = next(iter(mm.symbols))
    limit = mm.risk.limits.max_position_base[symbol]
    mm.positions.apply_fill(symbol, Side.BUY, limit * Decimal("0.9"), Decimal(100000))
    alerts.sample(mm)
    assert history(alerts) == [(POSITION_LIMIT, symbol, FIRING)]


def test_recent_is_newest_first_and_bounded(clock):
    alerts = AlertManager(None, clock, settings=AlertSettings(recent_kept=3))
    for n in range(4):
        alerts.observe(LogonRefused(OE, "oe", f"no {n}"))
        alerts.observe(SessionLoggedOn(OE, "oe"))
    assert [a.status for a in alerts.recent(10)] == [RESOLVED, FIRING, RESOLVED]
    assert len(alerts.recent(2)) == 2
    assert alerts.recent(1)[0].message.startswith("resolved after")


# --------------------------------------------------------------------------- webhook


class Hook:
    """A local stand-in for a webhook receiver: records bodies, optionally slow or failing."""

    def __init__(self, delay_s: float = 0.0, fail_first: int = 0) -> None:
        self.bodies: queue.Queue[dict] = queue.Queue()
        self.delay_s = delay_s
        self.fail_first = fail_first
        self.requests = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                hook.requests += 1
                time.sleep(hook.delay_s)
                if hook.requests <= hook.fail_first:
                    self.send_response(503)
                    self.end_headers()
                    return
                assert self.headers["Content-Type"] == "application/json"
                hook.bodies.put(body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/s3cr3t-token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.close()


def test_webhook_receives_firing_and_recovery_as_json(hook):
    alerts = AlertManager(hook.url, source="mm-test")
    with LogCapture("truex_qf.alerts") as logs:
        try:
            alerts.observe(LogonRefused(OE, "oe", "Authentication failed", "8"))
            alerts.observe(SessionLoggedOn(OE, "oe"))
            firing = hook.bodies.get(timeout=5)
            resolved = hook.bodies.get(timeout=5)
        finally:
            alerts.stop()
    assert firing["rule"] == AUTH_FAILURE and firing["status"] == FIRING
    assert firing["severity"] == "critical" and firing["subject"] == "order_entry"
    assert firing["source"] == "mm-test" and "Authentication failed" in firing["message"]
    assert firing["at"].endswith("+00:00") and "[FIRING]" in firing["text"]
    assert resolved["status"] == RESOLVED and resolved["rule"] == AUTH_FAILURE
    assert alerts.webhook_stats == {"delivered": 2, "failed": 0, "dropped": 0}
    assert logs.records and all("s3cr3t" not in m for m in logs.messages())
    assert not [m for m in logs.messages() if "not delivered" in m]  # all arrived: no word


def test_webhook_retries_a_server_error(clock):
    flaky = Hook(fail_first=1)
    alerts = AlertManager(flaky.url, clock)
    try:
        alerts.observe(LogonRefused(OE, "oe", "Authentication failed"))
        body = flaky.bodies.get(timeout=5)
        assert body["rule"] == AUTH_FAILURE and flaky.requests == 2
        wait_until(lambda: alerts.webhook_stats["delivered"] == 1)
    finally:
        alerts.stop()
        flaky.close()


def test_slow_webhook_never_blocks_observe(clock):
    slow = Hook(delay_s=2.0)
    alerts = AlertManager(slow.url, clock)
    try:
        started = time.monotonic()
        alerts.observe(LogonRefused(OE, "oe", "Authentication failed"))
        alerts.observe(SessionLoggedOn(OE, "oe"))
        alerts.observe(SessionLoggedOut(OE, "oe"))
        alerts.sequence_gap(OE)
        alerts.evaluate()
        assert time.monotonic() - started < 0.5  # sanity bound: nothing waited on the hook
        assert slow.bodies.get(timeout=5)["rule"] == AUTH_FAILURE  # it does arrive, later
    finally:
        alerts.stop(timeout_s=0.1)
        slow.close()


def test_dead_webhook_never_blocks_and_counts_failures(clock):
    settings = AlertSettings(webhook_retries=1, webhook_timeout_s=0.5)
    url = f"http://127.0.0.1:{free_port()}/hook/s3cr3t-token"
    alerts = AlertManager(url, clock, settings=settings)
    with LogCapture("truex_qf.alerts") as logs:
        started = time.monotonic()
        for n in range(20):
            alerts.observe(LogonRefused(OE, "oe", f"refused {n}"))
            alerts.observe(SessionLoggedOn(OE, "oe"))
        assert time.monotonic() - started < 0.5
        try:
            wait_until(lambda: alerts.webhook_stats["failed"] >= 1, 10.0)
        finally:
            started = time.monotonic()
            alerts.stop(timeout_s=1.0)
            assert time.monotonic() - started < 3.0
    failures = [m for m in logs.messages() if "webhook" in m]
    assert failures and all("s3cr3t" not in m for m in failures)
    # stopping says how many never arrived (failed or dropped)
    (summary,) = [m for m in failures if "not delivered" in m]
    assert "failed after retries" in summary and "0 delivered" in summary


def test_webhook_url_must_be_http():
    with pytest.raises(ConfigError, match="http"):
        AlertManager("ftp://example.invalid/hook")


def test_cannot_trade_fires_after_a_long_wait_and_resolves(alerts):
    from truex_qf.observe.alerts import CANNOT_TRADE, WAITING_ALERT_S

    alerts.observe_waiting(1.0, "WAITING_FOR_RECONCILIATION")  # a reconciliation's usual wait
    assert history(alerts) == []
    alerts.observe_waiting(WAITING_ALERT_S, "WAITING_FOR_RECONCILIATION")
    alerts.observe_waiting(WAITING_ALERT_S + 5, "WAITING_FOR_RECONCILIATION")
    assert history(alerts) == [(CANNOT_TRADE, "", FIRING)]
    assert "WAITING_FOR_RECONCILIATION" in alerts.active()[0].message
    alerts.observe_waiting(None)
    assert history(alerts)[-1] == (CANNOT_TRADE, "", RESOLVED)
