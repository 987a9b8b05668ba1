"""The live-state publisher against the real Redis server (database 15)."""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from tests.support.logs import LogCapture
from tests.support.market_maker import fill_report, quoting_market_maker
from tests.support.netproxy import TcpProxy
from tests.support.services import redis_url_or_skip
from tests.support.timing import wait_until
from truex_qf.domain.errors import TruexError
from truex_qf.domain.model import NewOrder, Side
from truex_qf.domain.netutil import free_port
from truex_qf.domain.netutil import mask_url as redact_url
from truex_qf.observe.live_state import (
    FILLS_CHANNEL,
    STATE_CHANNEL,
    LiveSnapshot,
    LiveStatePublisher,
    QuoteView,
    SessionHealth,
    SymbolView,
    build_snapshot,
    fill_payload,
    read_live_state,
    trading_state_payload,
)
from truex_qf.trading.orders import Fill
from truex_qf.trading.risk import TradingState

pytestmark = pytest.mark.redis

_namespaces = itertools.count(1)


@pytest.fixture
def redis_url() -> str:
    url = redis_url_or_skip()
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture
def db(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def namespace() -> str:
    return f"t{os.getpid()}n{next(_namespaces)}"


@pytest.fixture
def publisher(redis_url: str, namespace: str) -> Iterator[LiveStatePublisher]:
    live = LiveStatePublisher(redis_url, namespace=namespace, ttl_s=30)
    live.start()
    yield live
    live.stop()


def snapshot(state: str = "ACTIVE", position: str = "0.003") -> LiveSnapshot:
    return LiveSnapshot(
        symbols=(
            SymbolView(
                symbol="BTC-PYUSD",
                bid_price=Decimal("99900.5"),
                bid_size=Decimal("1.25"),
                ask_price=Decimal("100100"),
                ask_size=Decimal("0.00100000"),
                fair_value=Decimal("100000.25"),
                working_quotes=(
                    QuoteView("BUY", Decimal("99800"), Decimal("0.001"), "NEW"),
                    QuoteView("SELL", Decimal("100200"), Decimal("0.001"), "PENDING_NEW"),
                ),
                position_base=Decimal(position),
                realized_pnl_quote=Decimal("-1.5"),
                unrealized_pnl_quote=None,
            ),
        ),
        trading_state=state,
        trading_reason="start",
        sessions=SessionHealth(True, False, 1_700_000_000.0, 1_700_000_001.5),
        kill_switch=False,
        taken_at=1_700_000_002.0,
    )


def a_fill() -> Fill:
    return Fill(
        cl_ord_id="Q1",
        order_id="V1",
        symbol="BTC-PYUSD",
        side=Side.BUY,
        qty=Decimal("0.5"),
        price=Decimal("100000.10"),
        fee=Decimal("0.0125"),
        exec_id="E1",
        liquidity="2",
        trade_match_id="M1",
    )


def next_message(pubsub: redis.client.PubSub, timeout_s: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.1)
        if message is not None:
            return message
    raise AssertionError(f"no pub/sub message within {timeout_s} s")


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port}"))


# --------------------------------------------------------------------------- snapshots


def test_snapshot_keys_have_ttl_and_json_values(publisher, db, namespace):
    publisher.publish_snapshot(snapshot())
    key = f"truexqf:{namespace}:symbol:BTC-PYUSD"
    wait_until(lambda: db.exists(key))

    for suffix in ("state", "sessions", "symbols", "symbol:BTC-PYUSD"):
        ttl = db.ttl(f"truexqf:{namespace}:{suffix}")
        assert 0 < ttl <= 30, suffix
    symbol = json.loads(db.get(key))
    assert symbol["bid_price"] == "99900.5"
    assert symbol["ask_size"] == "0.00100000"  # Decimals as exact strings, not floats
    assert symbol["fair_value"] == "100000.25"
    assert symbol["unrealized_pnl_quote"] is None
    assert symbol["working_quotes"][1] == {
        "side": "SELL",
        "price": "100200",
        "size": "0.001",
        "state": "PENDING_NEW",
    }
    sessions = json.loads(db.get(f"truexqf:{namespace}:sessions"))
    assert sessions["order_entry"] == {"up": True, "changed_at": 1_700_000_000.0}
    assert sessions["market_data"]["up"] is False
    state = json.loads(db.get(f"truexqf:{namespace}:state"))
    assert state["state"] == "ACTIVE" and state["kill_switch"] is False
    assert publisher.stats.connected and publisher.stats.published >= 1


def test_read_live_state_returns_what_was_published(publisher, redis_url, namespace):
    assert read_live_state(redis_url, "truexqf", namespace) == {
        "state": None,
        "sessions": None,
        "symbols": {},
    }
    publisher.publish_snapshot(snapshot(state="HALTED"))
    wait_until(lambda: read_live_state(redis_url, "truexqf", namespace)["state"])

    live = read_live_state(redis_url, "truexqf", namespace)
    assert live["state"]["state"] == "HALTED"
    assert live["symbols"]["BTC-PYUSD"]["position_base"] == "0.003"
    assert live["sessions"]["market_data"]["changed_at"] == 1_700_000_001.5


def test_database_index_in_the_url_is_honoured(publisher, redis_url, namespace):
    publisher.publish_snapshot(snapshot())
    key = f"truexqf:{namespace}:state"
    in_15 = redis.Redis.from_url(redis_url)
    parts = urlsplit(redis_url)
    in_0 = redis.Redis(host=parts.hostname or "127.0.0.1", port=parts.port or 6379, db=0)
    try:
        wait_until(lambda: in_15.exists(key))
        assert urlsplit(redis_url).path == "/15"
        assert not in_0.exists(key)  # read-only look at database 0: nothing of ours there
    finally:
        in_15.close()
        in_0.close()


def test_latest_snapshot_wins(redis_url, db, namespace):
    live = LiveStatePublisher(redis_url, namespace=namespace)
    live.publish_snapshot(snapshot(state="ACTIVE"))
    live.publish_snapshot(snapshot(state="REDUCING"))  # replaces the unsent one
    live.start()
    try:
        wait_until(lambda: db.exists(f"truexqf:{namespace}:state"))
        assert json.loads(db.get(f"truexqf:{namespace}:state"))["state"] == "REDUCING"
        assert live.stats.published == 1
    finally:
        live.stop()


def test_prefix_and_ttl_are_configurable(redis_url, db, namespace):
    live = LiveStatePublisher(redis_url, prefix="other", ttl_s=5, namespace=namespace)
    live.start()
    try:
        live.publish_snapshot(snapshot())
        wait_until(lambda: db.exists(f"other:{namespace}:state"))
        assert 0 < db.ttl(f"other:{namespace}:state") <= 5
    finally:
        live.stop()


def test_snapshot_from_the_market_maker_round_trips(publisher, redis_url, namespace):
    mm, _sent = quoting_market_maker()
    first = build_snapshot(mm, now_wall_s=100.0)
    later = build_snapshot(mm, previous=first, now_wall_s=105.0)
    assert later.sessions.order_entry_changed_at == 100.0  # unchanged since the first

    publisher.publish_snapshot(later)
    wait_until(lambda: read_live_state(redis_url, "truexqf", namespace)["symbols"])
    symbol = read_live_state(redis_url, "truexqf", namespace)["symbols"]["BTC-PYUSD"]
    assert (symbol["bid_price"], symbol["bid_size"]) == ("99900", "1.5")
    assert (symbol["ask_price"], symbol["ask_size"]) == ("100100", "2")
    assert symbol["fair_value"] == "100000"
    assert len(symbol["working_quotes"]) == len(mm.orders.working_orders())
    assert {q["side"] for q in symbol["working_quotes"]} == {"BUY", "SELL"}


def test_snapshot_carries_position_and_pnl():
    mm, sent = quoting_market_maker()
    buy = next(c for c in sent if isinstance(c, NewOrder) and c.side is Side.BUY)
    mm.handle(fill_report(buy, buy.quantity))
    view = build_snapshot(mm).symbols[0]
    assert view.position_base == buy.quantity
    assert view.unrealized_pnl_quote == buy.quantity * (Decimal("100000") - buy.price)


# --------------------------------------------------------------------------- events


def test_fills_reach_pub_sub_subscribers(publisher, db, namespace):
    pubsub = db.pubsub()
    pubsub.subscribe(f"truexqf:{namespace}:{FILLS_CHANNEL}", f"truexqf:{namespace}:{STATE_CHANNEL}")
    try:
        assert next_message(pubsub)["type"] == "subscribe"
        assert next_message(pubsub)["type"] == "subscribe"
        publisher.publish_event(FILLS_CHANNEL, fill_payload(a_fill(), at=1.0))
        publisher.publish_event(
            STATE_CHANNEL, trading_state_payload(TradingState.HALTED, "KILL_SWITCH", at=2.0)
        )
        received = [next_message(pubsub), next_message(pubsub)]
    finally:
        pubsub.close()
    fill, state = (json.loads(m["data"]) for m in received)
    assert received[0]["channel"] == f"truexqf:{namespace}:fills"
    assert fill["qty"] == "0.5" and fill["price"] == "100000.10" and fill["side"] == "BUY"
    assert fill["exec_id"] == "E1" and fill["fee"] == "0.0125"
    assert state == {"kind": "trading_state", "at": 2.0, "state": "HALTED", "reason": "KILL_SWITCH"}


def test_event_buffer_drops_the_oldest_when_full(redis_url, namespace):
    live = LiveStatePublisher(with_port(redis_url, free_port()), namespace=namespace, max_events=5)
    for n in range(8):  # not started: everything stays buffered
        live.publish_event(FILLS_CHANNEL, {"n": n})
    stats = live.stats
    assert (stats.pending_events, stats.dropped) == (5, 3)


def test_unserializable_event_is_counted_not_raised(redis_url, namespace):
    live = LiveStatePublisher(redis_url, namespace=namespace)
    live.publish_event(FILLS_CHANNEL, {"bad": object()})
    assert live.stats.failures == 1 and live.stats.pending_events == 0


# --------------------------------------------------------------------------- Redis down


def test_redis_down_never_raises_and_counts_failures(redis_url, namespace):
    dead = with_port(redis_url, free_port())  # nothing listens there
    live = LiveStatePublisher(dead, namespace=namespace, max_events=3)
    with LogCapture("truex_qf.observe.live_state") as logs:
        live.start()
        try:
            started = time.monotonic()
            for n in range(10):
                live.publish_snapshot(snapshot())
                live.publish_event(FILLS_CHANNEL, {"n": n})
            assert time.monotonic() - started < 0.5  # sanity bound: never waits on Redis
            wait_until(lambda: live.stats.failures >= 3)  # retried, with backoff
            stats = live.stats
            assert not stats.connected and stats.published == 0
            assert stats.pending_events <= 3 and stats.dropped == 10 - stats.pending_events
        finally:
            started = time.monotonic()
            live.stop()
            assert time.monotonic() - started < 3.0
    assert len(logs.messages(logging.WARNING)) == 1  # rate-limited: one line, not a storm


def test_bad_url_is_a_config_error_without_the_password():
    with pytest.raises(TruexError) as raised:
        LiveStatePublisher("nosuch://user:s3cret@host/0", namespace="x")
    assert "s3cret" not in str(raised.value)
    assert redact_url("redis://:s3cret@host:6379/15") == "redis://:***@host:6379/15"


def test_read_live_state_on_unreachable_redis_is_one_error(redis_url):
    with pytest.raises(TruexError, match="unavailable"):
        read_live_state(with_port(redis_url, free_port()), "truexqf", "nobody")


def test_reconnects_after_the_server_kills_the_connection(publisher, db, namespace):
    publisher.publish_snapshot(snapshot(state="ACTIVE"))
    state_key = f"truexqf:{namespace}:state"
    wait_until(lambda: db.exists(state_key))
    name = f"truexqf-live-{namespace}"
    ours = [c for c in db.client_list() if c.get("name") == name]
    assert len(ours) == 1
    db.client_kill_filter(_id=ours[0]["id"])

    publisher.publish_snapshot(snapshot(state="HALTED"))
    wait_until(lambda: json.loads(db.get(state_key))["state"] == "HALTED")
    publisher.publish_event(FILLS_CHANNEL, fill_payload(a_fill()))
    wait_until(lambda: publisher.stats.published >= 3)
    reconnected = [c for c in db.client_list() if c.get("name") == name]
    assert len(reconnected) == 1 and reconnected[0]["id"] != ours[0]["id"]
    assert publisher.stats.connected


def test_recovers_when_redis_comes_back(redis_url, db, namespace):
    proxy = TcpProxy(urlsplit(redis_url).port or 6379)
    proxy.up()
    live = LiveStatePublisher(with_port(redis_url, proxy.port), namespace=namespace)
    live.start()
    try:
        live.publish_snapshot(snapshot(position="1"))
        wait_until(lambda: live.stats.published == 1)

        proxy.down()
        live.publish_snapshot(snapshot(position="2"))
        live.publish_event(FILLS_CHANNEL, {"n": 1})
        wait_until(lambda: live.stats.failures >= 1)
        assert not live.stats.connected

        proxy.up()
        wait_until(lambda: live.stats.connected and live.stats.pending_events == 0, 10.0)
        symbol = json.loads(db.get(f"truexqf:{namespace}:symbol:BTC-PYUSD"))
        assert symbol["position_base"] == "2"  # the snapshot kept while down went out
        assert live.stats.published == 3
    finally:
        live.stop()
        proxy.down()
