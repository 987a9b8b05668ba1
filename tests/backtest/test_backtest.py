"""Backtests in process: determinism, virtual time on the stored rows, latency, references.

The store is a real SQLite file migrated by the schema's own migrations; the run is read back
by the report code (`summarize_run`), as `truex-qf summary` reads it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bench.synthetic_capture import (
    AT_THE_TOUCH,
    START_NS,
    SYMBOL,
    fix,
    snapshot_body,
    write_walk_capture,
)
from truex_qf.backtest.replay import BACKTEST_MODE, Backtest, BacktestSettings
from truex_qf.capture import CaptureWriter
from truex_qf.ops.reports import fetch_rows
from truex_qf.ops.runs import StoredRun, open_store, resolve_run
from truex_qf.ops.summary import summarize_run
from truex_qf.storage.database import upgrade
from truex_qf.storage.replay import compare_with_tables, rebuild_from_journal
from truex_qf.storage.schema import executions, order_events, runs
from truex_qf.storage.writer import StoreWriter
from truex_qf.strategy.settings import StrategySettings, load_strategy

START = datetime(2026, 12, 7, tzinfo=UTC)
MS = timedelta(milliseconds=1)


def tight_strategy(tmp_path: Path, extra: str = "") -> StrategySettings:
    path = tmp_path / "tight.toml"
    path.write_text(AT_THE_TOUCH + extra)
    return load_strategy(path)


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    return url


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    return write_walk_capture(tmp_path / "capture", seconds=120)


def backtest(url: str, tmp_path: Path, settings: BacktestSettings) -> StoredRun:
    """One backtest stored in ``url``; its run as the reports find it."""
    run_id = str(uuid.uuid4())
    writer = StoreWriter(url, tmp_path / "spill.jsonl")
    writer.start()
    try:
        Backtest(settings, run_id, writer.submit).run()
    finally:
        assert writer.stop()
    return resolve_run([url], run_id)


def fills_of(url: str, run: StoredRun) -> list[tuple[Any, ...]]:
    with open_store(url) as engine:
        rows = fetch_rows(
            engine,
            select(executions)
            .where(executions.c.run_id == run.run_id)
            .order_by(executions.c.at, executions.c.exec_id),
            "executions",
        )
    return [(r["side"], r["quantity"], r["price"], r["fee"], r["liquidity"], r["at"]) for r in rows]


def summary_of(url: str, run: StoredRun) -> dict[str, Any]:
    with open_store(url) as engine:
        figures = summarize_run(engine, run).to_dict()
    return {key: value for key, value in figures.items() if key != "run_id"}


def test_two_backtests_of_one_capture_store_the_same_figures(
    store: str, capture: Path, tmp_path: Path
) -> None:
    settings = BacktestSettings(data=[capture], strategy=tight_strategy(tmp_path))
    first = backtest(store, tmp_path, settings)
    second = backtest(store, tmp_path, settings)
    assert first.run_id != second.run_id
    fills = fills_of(store, first)
    assert len(fills) > 10  # the walk's trades reach quotes at the touch
    assert fills_of(store, second) == fills
    assert summary_of(store, second) == summary_of(store, first)
    assert {first.mode, second.mode} == {BACKTEST_MODE}


def test_the_stored_run_is_on_the_captures_clock(store: str, capture: Path, tmp_path: Path) -> None:
    run = backtest(store, tmp_path, BacktestSettings([capture], tight_strategy(tmp_path)))
    assert run.started_at == START
    with open_store(store) as engine:
        (row,) = fetch_rows(engine, select(runs).where(runs.c.run_id == run.run_id), "runs")
    assert row["sender_comp_id"] == "BACKTEST" and row["venue"] == "backtest:test-walk"
    # the last record is 120 s in (minus one message step); the shutdown takes no time
    assert run.ended_at is not None
    assert START + timedelta(seconds=119) < run.ended_at <= START + timedelta(seconds=120)
    for _, _, _, _, _, at in fills_of(store, run):
        assert START <= at.replace(tzinfo=UTC) <= run.ended_at


def test_latency_delays_each_order_there_and_its_report_back(
    store: str, capture: Path, tmp_path: Path
) -> None:
    strategy = tight_strategy(tmp_path)
    run = backtest(store, tmp_path, BacktestSettings([capture], strategy, latency_us=25_000))
    with open_store(store) as engine:
        rows = fetch_rows(
            engine,
            select(order_events)
            .where(order_events.c.run_id == run.run_id)
            .order_by(order_events.c.id),
            "order_events",
        )
    # the first quotes go out when the first snapshot arrives (START): they reach the venue
    # 25 ms later and their New comes back after another 25 ms
    first = rows[0]
    assert (first["state"], first["at"].replace(tzinfo=UTC)) == ("NEW", START + 50 * MS)
    # a fill the market causes comes back 25 ms after the message that caused it (the
    # capture has one message every 250 ms)
    fill_times = [r["at"].replace(tzinfo=UTC) - START for r in rows if r["reason"] == "FILLED"]
    assert fill_times
    assert all(at % (250 * MS) == 25 * MS for at in fill_times)


def test_fees_of_the_options_are_charged_on_the_stored_fills(
    store: str, capture: Path, tmp_path: Path
) -> None:
    settings = BacktestSettings(
        [capture], tight_strategy(tmp_path), maker_fee_bps=Decimal(2), taker_fee_bps=Decimal(7)
    )
    fills = fills_of(store, backtest(store, tmp_path, settings))
    assert fills
    for _, quantity, price, fee, liquidity, _ in fills:
        rate = Decimal(2) if liquidity == "1" else Decimal(7)
        assert fee == quantity * price * rate / 10_000


def test_without_fee_options_a_fill_that_added_liquidity_pays_the_strategys_maker_fee(
    store: str, capture: Path, tmp_path: Path
) -> None:
    # as a paper run charges (sim.local_venue.local_venue_fees): maker_fee_bps, no taker fee;
    # a rebate, so that the quotes stay at the touch (a fee would widen them past it)
    strategy = tight_strategy(tmp_path, "maker_fee_bps = -1\n")
    fills = fills_of(store, backtest(store, tmp_path, BacktestSettings([capture], strategy)))
    assert any(liquidity == "1" for *_, liquidity, _ in fills)
    for _, quantity, price, fee, liquidity, _ in fills:
        rate = Decimal(-1) if liquidity == "1" else Decimal(0)
        assert fee == quantity * price * rate / 10_000


@pytest.mark.parametrize("captured_as", ["coinbase", "coinbase-ws", "coinbase-rest"])
def test_reference_ticks_price_a_strategy_that_quotes_off_the_reference(
    store: str, tmp_path: Path, captured_as: str
) -> None:
    capture = write_walk_capture(tmp_path / "ref", seconds=30, reference_source=captured_as)
    strategy = tight_strategy(
        tmp_path,
        'reference = "coinbase"\n[symbols.BTC-PYUSD.fair_value]\nprimary = "reference"\n',
    )
    run = backtest(store, tmp_path, BacktestSettings([capture], strategy))
    with open_store(store) as engine:
        report = summarize_run(engine, run)
    assert report.symbols[SYMBOL].fills > 0


def test_ticks_of_another_reference_are_not_read(store: str, tmp_path: Path) -> None:
    capture = write_walk_capture(tmp_path / "ref", seconds=30, reference_source="kraken-ws")
    strategy = tight_strategy(
        tmp_path,
        'reference = "coinbase"\n[symbols.BTC-PYUSD.fair_value]\nprimary = "reference"\n',
    )
    run = backtest(store, tmp_path, BacktestSettings([capture], strategy))
    assert fills_of(store, run) == []  # no Coinbase price: nothing to quote from


def test_a_capture_without_records_is_one_line(tmp_path: Path) -> None:
    from truex_qf.capture.format import CaptureWriter
    from truex_qf.domain.errors import ConfigError

    with CaptureWriter(
        tmp_path / "empty", symbols=[SYMBOL], venue="v", source="sim", clock_ns=lambda: START_NS
    ):
        pass
    settings = BacktestSettings([tmp_path / "empty"], tight_strategy(tmp_path))
    with pytest.raises(ConfigError, match="no record"):
        Backtest(settings, str(uuid.uuid4())).run()


def test_the_journal_of_a_backtest_replays_to_its_tables(
    store: str, capture: Path, tmp_path: Path
) -> None:
    settings = BacktestSettings([capture], tight_strategy(tmp_path), latency_us=1000)
    run = backtest(store, tmp_path, settings)
    with open_store(store) as engine:
        state = rebuild_from_journal(engine, run.run_id)
        differences = compare_with_tables(engine, run.run_id, state)
    assert state.rows_replayed > 100 and len(state.fills) == len(fills_of(store, run))
    assert differences == []


def test_fair_value_reads_the_captured_book_whole_our_orders_are_not_in_it(tmp_path: Path) -> None:
    """The captured book holds other traders only (a run's own orders are taken out by its
    OE reports), and the backtest's orders rest in the local venue: a bid of ours joining the
    best bid must not be taken out of it (own_orders_in_book=False), or fair value would move
    with our own quote (here to the mid of the next bid, 99995.25)."""
    bids = {Decimal("99999.5"): Decimal("0.01"), Decimal("99990"): Decimal("1")}
    offers = {Decimal("100000.5"): Decimal("1")}
    with CaptureWriter(tmp_path / "c", symbols=[SYMBOL], venue="t", source="sim") as writer:
        for second in range(10):  # the same book, resent every second
            body = snapshot_body(bids, offers)
            writer.write_fix(START_NS + second * 10**9, "MD", fix("W", body, second + 1))
    backtest = Backtest(
        BacktestSettings([tmp_path / "c"], tight_strategy(tmp_path)), str(uuid.uuid4())
    )
    placed: list[tuple[str, Decimal | None]] = []
    fair_values: list[Decimal] = []
    submit, on_market_data = backtest.venue.submit, backtest.venue.on_market_data

    def watching(command: Any) -> Any:
        placed.append((type(command).__name__, getattr(command, "price", None)))
        return submit(command)

    def reading(event: object) -> Any:  # before each message: fair value as last priced
        fair_values.extend(backtest.mm.fair_values().values())
        return on_market_data(event)

    backtest.venue.submit = watching  # type: ignore[method-assign]
    backtest.venue.on_market_data = reading  # type: ignore[method-assign]
    backtest.run()
    # one bid joining the best bid (the whole of its size), one offer; kept all along
    assert sorted(p for kind, p in placed if kind == "NewOrder") == [
        Decimal("99999.5"),
        Decimal("100000.5"),
    ]
    assert len(fair_values) == 9 and set(fair_values) == {Decimal("100000")}


def test_balances_given_are_enforced_as_truex_does(
    store: str, capture: Path, tmp_path: Path
) -> None:
    # No PYUSD and 0.02 BTC: the bids are refused until offers have filled; each fill moves
    # the balances, so the account never spends more PYUSD or BTC than it holds.
    balances = {"PYUSD": Decimal(0), "BTC": Decimal("0.02")}
    settings = BacktestSettings([capture], tight_strategy(tmp_path), balances=balances)
    run = backtest(store, tmp_path, settings)
    fills = fills_of(store, run)
    assert fills and fills[0][0] == "SELL"
    assert min(_running_balances(fills, balances)) >= 0
    # the same backtest unlimited spends what this account does not have
    unlimited = backtest(store, tmp_path, BacktestSettings([capture], settings.strategy))
    assert min(_running_balances(fills_of(store, unlimited), balances)) < 0
    assert summary_of(store, run)["rejects"]["Insufficient balance"] > 0


def _running_balances(fills: list[tuple[Any, ...]], start: dict[str, Decimal]) -> list[Decimal]:
    """The BTC and PYUSD balances after each fill, starting from ``start``."""
    btc, pyusd = start["BTC"], start["PYUSD"]
    after = []
    for side, quantity, price, fee, _, _ in fills:
        sign = 1 if side == "BUY" else -1
        btc += sign * quantity
        pyusd -= sign * quantity * price + fee
        after += [btc, pyusd]
    return after
