"""The data pipeline on a real run: PostgreSQL, Redis, metrics and alerts, with faults.

Each test runs the market maker against the simulator with simulated traders, over real FIX
sessions, and records to the real PostgreSQL and Redis on this machine (a throw-away database
and Redis db 15). "Stopping" a server mid-run is done with a TCP forwarder the test takes down,
so the shared servers keep running for everything else.
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.request
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from sqlalchemy import func, select, text

from tests.support.market_maker import step_until, strategy
from tests.support.netproxy import TcpProxy
from tests.support.services import (
    postgres_url_or_skip,
    redis_url_or_skip,
    temporary_postgres_database,
)
from tests.support.sessions import unique_comp_id
from tests.support.simulated_market import simulated_market
from truex_qf.app.demo import DEMO_SYMBOL
from truex_qf.app.pipeline import STORAGE_SPILL_FULL, Pipeline, PipelineSettings
from truex_qf.app.runner import Runner
from truex_qf.config import Credentials
from truex_qf.domain.errors import LogonRejectedError
from truex_qf.observe.live_state import DEFAULT_PREFIX, read_live_state
from truex_qf.storage.database import make_engine, upgrade
from truex_qf.storage.journal import verify_database
from truex_qf.storage.replay import compare_with_tables, rebuild_from_journal
from truex_qf.storage.schema import executions, fix_journal, orders
from truex_qf.trading.risk import TradingState


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


@pytest.fixture
def postgres_db():
    with temporary_postgres_database(postgres_url_or_skip()) as url:
        upgrade(url)
        yield url


@pytest.fixture
def market(tmp_path):
    """The simulator with busy simulated traders, so fills come within seconds."""
    with simulated_market(
        tmp_path / "state", step_interval_s=0.02, taker_probability=0.6, seed=11
    ) as simulated:
        yield simulated.local


def quoting_strategy():
    return strategy(levels_per_side=2, spread_bps=Decimal(3), level_spacing_bps=Decimal(2))


def pipeline_for(tmp_path, database_url: str, **extra) -> Pipeline:
    return Pipeline(
        PipelineSettings(
            database_url=database_url,
            create_fresh_schema=False,
            spill_path=tmp_path / "spill.jsonl",
            namespace=unique_comp_id(),
            **extra,
        )
    )


def count(url: str, table) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(table)).scalar_one()
    finally:
        engine.dispose()


def scrape(port: int) -> dict[str, float]:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    values: dict[str, float] = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def total(metrics: dict[str, float], prefix: str) -> float:
    return sum(v for k, v in metrics.items() if k.split("{")[0] == prefix)


def test_run_lands_in_postgres_verifies_and_replays(tmp_path, market, postgres_db):
    redis_url = redis_url_or_skip()
    pipeline = pipeline_for(tmp_path, postgres_db, redis_url=redis_url, metrics_port=0)
    runner = Runner(market.client_settings, quoting_strategy(), pipeline=pipeline, mode="test")
    try:
        runner.start()
        # metrics are sampled about once a second: wait for the scrape to show fills, then more
        step_until(
            runner, lambda: total(scrape(pipeline.metrics_port), "truexqf_fills_total") >= 1, 30
        )
        first = scrape(pipeline.metrics_port)
        seen = total(first, "truexqf_fills_total")
        step_until(
            runner, lambda: total(scrape(pipeline.metrics_port), "truexqf_fills_total") > seen, 30
        )
        second = scrape(pipeline.metrics_port)
        assert total(second, "truexqf_orders_sent_total") > 0
        assert total(second, "truexqf_decision_lag_seconds_count") > 0  # the runner's decisions
        assert second['truexqf_session_up{role="order_entry"}'] == 1
        live = read_live_state(redis_url, DEFAULT_PREFIX, pipeline.settings.namespace)
        assert DEMO_SYMBOL in json.dumps(live)
        runner.finish()
    finally:
        runner.close()

    fills = runner.mm.stats.fills
    assert count(postgres_db, executions) == fills
    assert count(postgres_db, orders) == runner.mm.stats.orders_sent
    engine = make_engine(postgres_db)
    try:
        report = verify_database(engine)
        assert report.ok, str(report)
        with engine.connect() as connection:
            types = {
                row[0] for row in connection.execute(select(fix_journal.c.msg_type).distinct())
            }
        assert {"A", "D", "8", "V", "W", "X", "5"} <= types
        state = rebuild_from_journal(engine, pipeline.run_id)
        assert compare_with_tables(engine, pipeline.run_id, state) == []
        secret = market.client_settings.credentials.secret_key
        with engine.connect() as connection:
            texts = [row[0] for row in connection.execute(select(fix_journal.c.text))]
        assert all(secret not in t for t in texts)
        assert all("554=" not in t or "\x01554=***\x01" in t for t in texts)

        with engine.begin() as connection:  # tamper with one fill report
            victim = connection.execute(
                select(fix_journal.c.id).where(fix_journal.c.msg_type == "8").limit(1)
            ).scalar_one()
            connection.execute(
                text("UPDATE fix_journal SET text = replace(text, '150=', '150= ') WHERE id = :id"),
                {"id": victim},
            )
        report = verify_database(engine)
        assert not report.ok and report.first_bad_id == victim
    finally:
        engine.dispose()


def test_unreachable_database_spills_then_replays_with_no_row_lost(tmp_path, market, postgres_db):
    proxy = TcpProxy(urlsplit(postgres_db).port or 5432)
    proxy.up()
    pipeline = pipeline_for(tmp_path, with_port(postgres_db, proxy.port))
    runner = Runner(market.client_settings, quoting_strategy(), pipeline=pipeline, mode="test")
    try:
        runner.start()
        step_until(runner, lambda: runner.mm.stats.fills >= 2, timeout_s=30)
        proxy.down()  # the database goes away mid-run
        fills_before = runner.mm.stats.fills
        step_until(runner, lambda: pipeline.writer.stats.spilled > 0, timeout_s=20)
        step_until(runner, lambda: runner.mm.stats.fills >= fills_before + 2, timeout_s=30)
        assert runner.mm.risk.state is TradingState.ACTIVE  # trading goes on, recorded on disk
        proxy.up()
        step_until(runner, lambda: pipeline.writer.stats.replayed > 0, timeout_s=20)
        runner.finish()
    finally:
        runner.close()
        proxy.down()
    assert count(postgres_db, executions) == runner.mm.stats.fills
    assert not (tmp_path / "spill.jsonl").exists() or (tmp_path / "spill.jsonl").stat().st_size == 0
    engine = make_engine(postgres_db)
    try:
        assert verify_database(engine).ok
        state = rebuild_from_journal(engine, pipeline.run_id)
        assert compare_with_tables(engine, pipeline.run_id, state) == []
    finally:
        engine.dispose()


def test_spill_full_halts_trading(tmp_path, market, postgres_db):
    proxy = TcpProxy(urlsplit(postgres_db).port or 5432)
    proxy.up()
    pipeline = pipeline_for(tmp_path, with_port(postgres_db, proxy.port), spill_max_bytes=30_000)
    runner = Runner(market.client_settings, quoting_strategy(), pipeline=pipeline, mode="test")
    try:
        runner.start()
        step_until(runner, lambda: runner.mm.working_order_count() > 0, timeout_s=15)
        proxy.down()  # the database stays away and the spill file fills up
        step_until(runner, lambda: runner.mm.risk.state is TradingState.HALTED, timeout_s=60)
        assert runner.mm.risk.state_reason == STORAGE_SPILL_FULL
        step_until(runner, lambda: runner.mm.working_order_count() == 0, timeout_s=10)
        registry = pipeline.metrics.registry
        spill_alerts = {"rule": "SPILL_FULL"}
        step_until(  # the alert, and the metric the alert manager feeds
            runner,
            lambda: registry.get_sample_value("truexqf_alerts_active", spill_alerts) == 1,
            timeout_s=10,
        )
        assert any(a.rule == "SPILL_FULL" for a in pipeline.alerts.active())
    finally:
        runner.close()
        proxy.down()


def test_redis_down_mid_run_loses_no_trade_and_recovers(tmp_path, market, postgres_db):
    redis_url = redis_url_or_skip()
    proxy = TcpProxy(urlsplit(redis_url).port or 6379)
    proxy.up()
    pipeline = pipeline_for(tmp_path, postgres_db, redis_url=with_port(redis_url, proxy.port))
    runner = Runner(market.client_settings, quoting_strategy(), pipeline=pipeline, mode="test")
    subscriber = redis.Redis.from_url(redis_url).pubsub()
    subscriber.subscribe(f"{DEFAULT_PREFIX}:{pipeline.settings.namespace}:fills")
    try:
        runner.start()
        step_until(runner, lambda: runner.mm.stats.fills >= 2, timeout_s=30)
        proxy.down()
        fills_before = runner.mm.stats.fills
        step_until(runner, lambda: runner.mm.stats.fills >= fills_before + 2, timeout_s=30)
        publisher = pipeline.publisher
        step_until(runner, lambda: publisher.stats.failures > 0, timeout_s=10)
        proxy.up()
        step_until(runner, lambda: publisher.stats.connected, timeout_s=20)
        published = publisher.stats.published
        step_until(runner, lambda: publisher.stats.published > published, timeout_s=10)
        runner.finish()
    finally:
        runner.close()
        proxy.down()
    assert count(postgres_db, executions) == runner.mm.stats.fills  # no trade lost
    fills_seen = 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and fills_seen < runner.mm.stats.fills:
        message = subscriber.get_message(timeout=0.5)
        if message and message["type"] == "message":
            fills_seen += 1
    assert fills_seen == runner.mm.stats.fills  # the fills published while Redis was away too
    subscriber.close()


def test_alert_on_refused_logon(tmp_path, market, postgres_db):
    settings = market.client_settings
    wrong = dataclasses.replace(
        settings, credentials=Credentials(settings.credentials.api_key, "x")
    )
    pipeline = pipeline_for(tmp_path, postgres_db)
    runner = Runner(wrong, quoting_strategy(), pipeline=pipeline, mode="test")
    try:
        with pytest.raises(LogonRejectedError):
            runner.start()
    finally:
        runner.close()
    fired = [a for a in pipeline.alerts.recent() if a.status == "firing"]
    assert any(a.rule == "AUTH_FAILURE" for a in fired), fired


def test_alert_on_killed_session(tmp_path, market, postgres_db):
    # The venue dies as far as we can tell: the network to it goes away mid-run. (Stopping
    # the simulator's QuickFIX acceptor under a live, fast-reconnecting client can crash the
    # engine, QuickFIX 1.16's socket-thread bookkeeping; a real outage looks like this.)
    proxy = TcpProxy(market.client_settings.order_entry_port)
    proxy.up()
    via_proxy = dataclasses.replace(market.client_settings, order_entry_port=proxy.port)
    pipeline = pipeline_for(tmp_path, postgres_db)
    runner = Runner(via_proxy, quoting_strategy(), pipeline=pipeline, mode="test")
    try:
        runner.start()
        step_until(runner, lambda: runner.mm.working_order_count() > 0, timeout_s=15)
        killed_at = time.monotonic()
        proxy.down()
        step_until(
            runner,
            lambda: any(a.rule == "SESSION_DOWN" for a in pipeline.alerts.active()),
            timeout_s=10,
        )
        assert time.monotonic() - killed_at < 5 + 1  # within the 5 s bound (plus a loop turn)
    finally:
        runner.close()
        proxy.down()
