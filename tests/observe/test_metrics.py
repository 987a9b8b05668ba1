"""Prometheus metrics: names, movement, bounded labels, and the HTTP exposition."""

from __future__ import annotations

import math
import urllib.request
from collections.abc import Iterator
from decimal import Decimal

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.exposition import exposition
from tests.support.market_maker import fill_report, quoting_market_maker
from tests.support.timing import FakeClock
from truex_qf.domain.model import (
    BookEntry,
    BusinessMessageReject,
    CancelOrder,
    CxlRejResponseTo,
    ExecType,
    ExecutionReport,
    LogonRefused,
    MarketDataIncrement,
    MarketDataSnapshot,
    MDEntryType,
    NewOrder,
    OrderCancelReject,
    OrdStatus,
    ReplaceOrder,
    SessionLoggedOn,
    SessionLoggedOut,
    SessionRole,
    Side,
    SubscribeMarketData,
)
from truex_qf.observe.metrics import (
    REJECT_REASONS,
    Metrics,
    reject_reason,
    state_reason_label,
)
from truex_qf.trading.risk import TradingState

SYMBOL = "BTC-PYUSD"


class FakeNanos:
    def __init__(self) -> None:
        self.now_ns = 10_000_000_000

    def __call__(self) -> int:
        return self.now_ns


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    instance = Metrics()
    yield instance
    instance.close()


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        assert reply.status == 200
        return reply.read().decode("utf-8")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def order(cl_ord_id: str, side: Side = Side.BUY) -> NewOrder:
    return NewOrder(cl_ord_id, SYMBOL, side, Decimal("0.001"), Decimal("100000"))


def report(cl_ord_id: str, exec_type: ExecType, status: OrdStatus, **fields) -> ExecutionReport:
    values = {
        "order_id": "V1",
        "cl_ord_id": cl_ord_id,
        "exec_id": f"E-{cl_ord_id}-{exec_type.value}",
        "exec_type": exec_type,
        "ord_status": status,
        "symbol": SYMBOL,
        "side": Side.BUY,
        "order_qty": Decimal("0.001"),
        "leaves_qty": Decimal("0.001"),
        "cum_qty": Decimal(0),
        **fields,
    }
    return ExecutionReport(**values)


EXPECTED_NAMES = (
    "truexqf_session_up",
    "truexqf_session_last_message_age_seconds",
    "truexqf_sequence_gaps_total",
    "truexqf_resend_requests_total",
    "truexqf_logons_total",
    "truexqf_orders_sent_total",
    "truexqf_orders_acked_total",
    "truexqf_orders_rejected_total",
    "truexqf_business_rejects_total",
    "truexqf_fills_total",
    "truexqf_filled_base_total",
    "truexqf_position_base",
    "truexqf_realized_pnl_quote",
    "truexqf_unrealized_pnl_quote",
    "truexqf_trading_state",
    "truexqf_trading_state_info",
    "truexqf_kill_switch_engaged",
    "truexqf_risk_denials_total",
    "truexqf_order_messages_last_second",
    "truexqf_order_messages_limit_per_second",
    "truexqf_tick_to_quote_seconds",
    "truexqf_decision_lag_seconds",
    "truexqf_order_to_ack_seconds",
    "truexqf_cancel_to_ack_seconds",
)
"""As named on the exposition's ``# HELP`` lines."""


def test_scrape_over_http_shows_every_metric_and_counters_move(metrics):
    port = metrics.serve(0)
    assert port > 0 and metrics.serve(0) == port  # idempotent
    mm, sent = quoting_market_maker()
    for command in sent:
        metrics.command_sent(command)
    buy = next(c for c in sent if isinstance(c, NewOrder) and c.side is Side.BUY)
    mm.handle(fill_report(buy, buy.quantity))
    metrics.observe(LogonRefused(SessionRole.ORDER_ENTRY, "oe", "Authentication failed", "8"))
    metrics.observe(
        report("X1", ExecType.REJECTED, OrdStatus.REJECTED, text="Insufficient balance")
    )
    metrics.sequence_gap(SessionRole.MARKET_DATA)
    metrics.resend_request(SessionRole.MARKET_DATA)
    metrics.sample(mm)

    text = scrape(port)
    before = samples(text)
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")}
    for name in EXPECTED_NAMES:
        assert name in names, name
    assert all(name.startswith("truexqf_") for name in names)
    new_orders = sum(isinstance(c, NewOrder) for c in sent)
    assert before[("truexqf_orders_sent_total", (("type", "new"),))] == new_orders
    assert before[("truexqf_fills_total", (("symbol", SYMBOL),))] == 1
    filled = before[("truexqf_filled_base_total", (("side", "buy"), ("symbol", SYMBOL)))]
    assert filled == pytest.approx(float(buy.quantity))
    assert before[("truexqf_position_base", (("symbol", SYMBOL),))] == pytest.approx(0.001)
    assert before[("truexqf_logons_total", (("result", "refused"), ("role", "order_entry")))] == 1
    assert before[("truexqf_sequence_gaps_total", (("role", "market_data"),))] == 1
    rejected = (("reason", "INSUFFICIENT_BALANCE"), ("type", "new"))
    assert before[("truexqf_orders_rejected_total", rejected)] == 1

    metrics.command_sent(CancelOrder("C9", buy.cl_ord_id))
    after = samples(scrape(port))
    assert after[("truexqf_orders_sent_total", (("type", "cancel"),))] == 1
    assert after[("truexqf_order_messages_last_second", ())] == new_orders + 1


def test_two_instances_have_separate_registries():
    first, second = Metrics(), Metrics()
    try:
        first.command_sent(order("A1"))
        port_1, port_2 = first.serve(0), second.serve(0)
        assert port_1 != port_2
        assert samples(scrape(port_1))[("truexqf_orders_sent_total", (("type", "new"),))] == 1
        assert samples(scrape(port_2))[("truexqf_orders_sent_total", (("type", "new"),))] == 0
    finally:
        first.close()
        second.close()


def test_ack_latencies_by_request_type():
    nanos = FakeNanos()
    metrics = Metrics(clock_ns=nanos)
    metrics.command_sent(order("N1"))
    metrics.observe(report("N1", ExecType.PENDING_NEW, OrdStatus.PENDING_NEW))  # not an answer
    metrics.observe(report("N1", ExecType.NEW, OrdStatus.NEW, received_ns=nanos.now_ns + 2_000_000))
    metrics.command_sent(ReplaceOrder("R1", "N1", Decimal("0.002"), Decimal("100001")))
    nanos.now_ns += 30_000_000
    metrics.observe(report("R1", ExecType.REPLACED, OrdStatus.NEW, orig_cl_ord_id="N1"))
    metrics.command_sent(CancelOrder("C1", "R1"))
    metrics.observe(
        report(
            "C1",
            ExecType.CANCELED,
            OrdStatus.CANCELED,
            orig_cl_ord_id="R1",
            received_ns=nanos.now_ns + 400_000,
        )
    )

    assert value(metrics, "truexqf_orders_acked_total", type="new") == 1
    assert value(metrics, "truexqf_orders_acked_total", type="replace") == 1
    assert value(metrics, "truexqf_orders_acked_total", type="cancel") == 1
    assert value(metrics, "truexqf_order_to_ack_seconds_sum", type="new") == pytest.approx(0.002)
    assert value(metrics, "truexqf_order_to_ack_seconds_sum", type="replace") == pytest.approx(0.03)
    assert value(metrics, "truexqf_cancel_to_ack_seconds_sum") == pytest.approx(0.0004)
    assert value(metrics, "truexqf_cancel_to_ack_seconds_bucket", le="0.0005") == 1
    assert value(metrics, "truexqf_cancel_to_ack_seconds_bucket", le="0.00025") == 0
    assert value(metrics, "truexqf_order_to_ack_seconds_bucket", type="new", le="5e-05") == 0


def test_rejects_by_type_and_normalised_reason():
    metrics = Metrics()
    metrics.command_sent(order("N1"))
    metrics.observe(
        report("N1", ExecType.REJECTED, OrdStatus.REJECTED, text="Order outside book price bands")
    )
    metrics.command_sent(CancelOrder("C1", "N0"))
    metrics.observe(
        OrderCancelReject("NONE", "C1", "N0", CxlRejResponseTo.CANCEL, reason="1", text="x")
    )
    metrics.observe(BusinessMessageReject("D", "8", ref_id="N2", text="Throttle limit exceeded"))
    metrics.observe(BusinessMessageReject("V", "0", text="Invalid session ID"))

    assert value(metrics, "truexqf_orders_rejected_total", type="new", reason="PRICE_BAND") == 1
    rejected_cancel = value(
        metrics, "truexqf_orders_rejected_total", type="cancel", reason="UNKNOWN_ORDER"
    )
    assert rejected_cancel == 1
    assert value(metrics, "truexqf_orders_rejected_total", type="new", reason="THROTTLED") == 1
    assert value(metrics, "truexqf_business_rejects_total", reason="INVALID_SESSION") == 1
    assert value(metrics, "truexqf_orders_acked_total", type="new") == 0


def test_no_label_values_from_ids_or_free_text(metrics):
    for n in range(300):
        cl_ord_id = f"QID{n:05d}"
        metrics.command_sent(order(cl_ord_id))
        text = f"Invalid ClOrdID {cl_ord_id}" if n % 2 else f"weird venue text #{n} for {cl_ord_id}"
        metrics.observe(report(cl_ord_id, ExecType.REJECTED, OrdStatus.REJECTED, text=text))
    exposed = exposition(metrics)
    assert "QID" not in exposed and "weird" not in exposed
    rejected = {
        labels: count
        for (name, labels), count in samples(exposed).items()
        if name == "truexqf_orders_rejected_total"
    }
    assert {labels for labels, count in rejected.items() if count} == {
        (("reason", "INVALID_CLORDID"), ("type", "new")),
        (("reason", "OTHER"), ("type", "new")),
    }
    assert {dict(labels)["reason"] for labels in rejected} == set(REJECT_REASONS)
    assert len(samples(exposed)) < 500  # bounded, whatever the number of orders


def test_sample_reads_the_market_maker(metrics):
    mm, sent = quoting_market_maker()
    sell = next(c for c in sent if isinstance(c, NewOrder) and c.side is Side.SELL)
    mm.handle(fill_report(sell, sell.quantity, exec_id="E7"))
    mm.handle(fill_report(sell, sell.quantity, exec_id="E7"))  # duplicate ExecID: one fill
    mm.risk.engage_kill_switch("test")
    metrics.sample(mm)
    metrics.sample(mm)  # sampling twice does not double the counters

    assert value(metrics, "truexqf_fills_total", symbol=SYMBOL) == 1
    assert value(metrics, "truexqf_filled_base_total", symbol=SYMBOL, side="sell") == (
        pytest.approx(0.001)
    )
    assert value(metrics, "truexqf_position_base", symbol=SYMBOL) == pytest.approx(-0.001)
    unrealized = value(metrics, "truexqf_unrealized_pnl_quote", symbol=SYMBOL)
    assert unrealized == pytest.approx(float(sell.quantity * (sell.price - Decimal(100000))))
    assert value(metrics, "truexqf_working_orders", symbol=SYMBOL) == len(
        mm.orders.working_orders(SYMBOL)
    )
    assert value(metrics, "truexqf_session_up", role="order_entry") == 1
    assert value(metrics, "truexqf_trading_state") == 2
    assert value(metrics, "truexqf_kill_switch_engaged") == 1
    assert value(metrics, "truexqf_trading_state_info", state="HALTED", reason="KILL_SWITCH") == 1
    limit = mm.risk.limits.max_messages_per_s
    assert value(metrics, "truexqf_order_messages_limit_per_second") == limit

    # the next state replaces the info series (another market maker: this one is killed)
    other, _sent = quoting_market_maker()
    other.risk.set_state(TradingState.ACTIVE, "operator")
    metrics.sample(other)
    info = [k for k in samples(exposition(metrics)) if k[0] == "truexqf_trading_state_info"]
    assert info == [("truexqf_trading_state_info", (("reason", "OPERATOR"), ("state", "ACTIVE")))]


def test_risk_denials_follow_the_risk_engine_totals(metrics):
    metrics.sync_risk_denials({"MAX_POSITION": 3, "RATE_LIMIT": 1})
    metrics.sync_risk_denials({"MAX_POSITION": 5, "RATE_LIMIT": 1, "SOMETHING_NEW": 2})
    assert value(metrics, "truexqf_risk_denials_total", reason="MAX_POSITION") == 5
    assert value(metrics, "truexqf_risk_denials_total", reason="RATE_LIMIT") == 1
    assert value(metrics, "truexqf_risk_denials_total", reason="OTHER") == 2


def test_tick_to_quote_pairs_market_data_with_the_next_order_message():
    nanos = FakeNanos()
    metrics = Metrics(clock_ns=nanos)
    book = MarketDataSnapshot(
        "MD1",
        SYMBOL,
        (BookEntry(MDEntryType.BID, Decimal(1), Decimal(1)),),
        received_ns=nanos.now_ns,
    )
    metrics.observe(book)
    nanos.now_ns += 150_000
    metrics.command_sent(SubscribeMarketData("MD2", (SYMBOL,)))  # not an order message
    metrics.command_sent(order("N1"))
    metrics.command_sent(order("N2"))  # same pass: one sample only
    metrics.pass_done()

    metrics.observe(book)
    metrics.pass_done()  # no order came of it: no sample
    nanos.now_ns += 10_000_000_000
    metrics.command_sent(order("N3"))  # a timer-driven requote much later

    assert value(metrics, "truexqf_tick_to_quote_seconds_count") == 1
    assert value(metrics, "truexqf_tick_to_quote_seconds_sum") == pytest.approx(0.00015)


def test_an_increment_is_a_market_data_message_and_starts_a_tick():
    """Increments take observe's short road; it must still do what message_received does."""
    clock, nanos = FakeClock(), FakeNanos()
    metrics = Metrics(clock=clock, clock_ns=nanos)
    metrics.message_received(SessionRole.MARKET_DATA)
    clock.advance(7.0)
    age_name = "truexqf_session_last_message_age_seconds"
    assert value(metrics, age_name, role="market_data") == pytest.approx(7.0)
    metrics.observe(MarketDataIncrement("MD1", (), received_ns=nanos.now_ns))
    assert value(metrics, age_name, role="market_data") == 0
    nanos.now_ns += 90_000
    metrics.command_sent(order("N1"))
    assert value(metrics, "truexqf_tick_to_quote_seconds_sum") == pytest.approx(0.00009)


def test_session_gauges_and_last_message_age():
    clock = FakeClock()
    metrics = Metrics(clock=clock)
    age_name = "truexqf_session_last_message_age_seconds"
    assert math.isnan(value(metrics, age_name, role="market_data"))
    metrics.observe(SessionLoggedOn(SessionRole.MARKET_DATA, "md"))
    clock.advance(12.5)
    age = value(metrics, "truexqf_session_last_message_age_seconds", role="market_data")
    assert age == pytest.approx(12.5)
    metrics.message_received(SessionRole.MARKET_DATA)  # e.g. a heartbeat, from the engine
    assert value(metrics, "truexqf_session_last_message_age_seconds", role="market_data") == 0
    assert value(metrics, "truexqf_session_up", role="market_data") == 1
    assert value(metrics, "truexqf_logons_total", role="market_data", result="accepted") == 1
    metrics.observe(SessionLoggedOut(SessionRole.MARKET_DATA, "md"))
    assert value(metrics, "truexqf_session_up", role="market_data") == 0


def test_message_rate_window(metrics):
    clock = FakeClock()
    metrics = Metrics(clock=clock)
    for n in range(5):
        metrics.command_sent(order(f"N{n}"))
        clock.advance(0.1)
    assert value(metrics, "truexqf_order_messages_last_second") == 5
    clock.advance(0.65)  # the first message is now 1.15 s old, the last 0.75 s
    metrics.command_sent(order("N9"))
    assert value(metrics, "truexqf_order_messages_last_second") == 4


@pytest.mark.parametrize(
    ("text", "cxl", "business", "expected"),
    [
        ("Order outside book price bands", None, None, "PRICE_BAND"),
        ("Insufficient balance", None, None, "INSUFFICIENT_BALANCE"),
        ("Invalid ClOrdID", None, None, "INVALID_CLORDID"),
        ("Invalid client", None, None, "INVALID_CLIENT"),
        ("anything", "0", None, "TOO_LATE"),
        ("anything", "18", None, "PRICE_INCREMENT"),
        (None, None, "9", "THROTTLED"),
        ("Invalid session ID", None, "0", "INVALID_SESSION"),
        ("no idea", None, None, "OTHER"),
        (None, None, None, "OTHER"),
    ],
)
def test_reject_reason(text, cxl, business, expected):
    assert reject_reason(text, cxl, business) == expected


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("ORDER_ENTRY_DOWN", "ORDER_ENTRY_DOWN"),
        ("kill switch: operator typed kill at 12:00", "KILL_SWITCH"),
        ("order entry back up", "ORDER_ENTRY_BACK_UP"),
        ("start", "START"),
        ("x" * 80, "OTHER"),
        ("ünïcode?!", "OTHER"),
    ],
)
def test_state_reason_label(reason, expected):
    assert state_reason_label(reason) == expected


def test_the_waiting_state_is_a_gauge_value_with_its_reason():
    metrics = Metrics()
    metrics.set_trading_state(TradingState.WAITING, "WAITING_FOR_RECONCILIATION")
    text = exposition(metrics)
    assert "truexqf_trading_state 3.0" in text
    assert 'reason="WAITING_FOR_RECONCILIATION",state="WAITING"' in text


def test_decision_lag_is_a_histogram_of_each_decision(metrics):
    metrics.decision_made(150_000)
    metrics.decision_made(2_000_000)
    assert value(metrics, "truexqf_decision_lag_seconds_count") == 2
    assert value(metrics, "truexqf_decision_lag_seconds_sum") == pytest.approx(0.00215)
