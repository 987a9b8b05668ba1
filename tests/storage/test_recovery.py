"""Reconciliation's decisions in the journal, crashed runs repaired from it, the carried position.

SQLite here (the crash suite in tests/integration runs the same code on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, update

from tests.support.storage import START, JournalAppender, fix
from truex_qf.domain.model import ExecType, ExecutionReport, Fee, OrdStatus, Side
from truex_qf.storage.database import make_engine, upgrade
from truex_qf.storage.recovery import carried_positions, repair_crashed_runs
from truex_qf.storage.replay import compare_with_tables, rebuild_from_journal
from truex_qf.storage.schema import executions, orders, runs
from truex_qf.storage.venue_decisions import (
    REST_SESSION,
    baseline_text,
    cancel_text,
    report_text,
    trade_text,
)
from truex_qf.trading.orders import Fill, OrderState

SYMBOL = "BTC-PYUSD"
SENDER = "MYFIRM_OE1"
D = Decimal


@pytest.fixture
def store(tmp_path) -> Iterator[tuple[Engine, str, Path]]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine, url, tmp_path / "spill.jsonl"
    engine.dispose()


def add_run(engine: Engine, run_id: str, *, mode="run", sender=SENDER, ended=False) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(runs).values(
                run_id=run_id,
                mode=mode,
                venue="127.0.0.1:1/2",
                sender_comp_id=sender,
                started_at=START,
                ended_at=START + timedelta(hours=1) if ended else None,
            )
        )


def new_order(journal: JournalAppender, cl_ord_id: str, side: str, qty: str, px: str) -> None:
    body = [(11, cl_ord_id), (38, qty), (40, 2), (44, px), (54, side), (55, SYMBOL), (59, 1)]
    journal.append("OUT", fix("D", 2, *body))


def report(cl_ord_id, exec_id, exec_type, status, qty, cum, leaves, last=None, side="1"):  # type: ignore[no-untyped-def]
    body = [(11, cl_ord_id), (17, exec_id), (37, f"O-{cl_ord_id}"), (38, qty), (44, "99000")]
    body += [(54, side), (55, SYMBOL), (59, 1), (150, exec_type), (39, status)]
    body += [(151, leaves), (14, cum)]
    if last:
        body += [(32, last), (31, "99000"), (880, f"T{exec_id}"), (851, 1)]
    return fix("8", 3, *body, outbound=False)


def test_reconciliations_decisions_replay_as_the_program_applied_them(store) -> None:
    engine, _, _ = store
    journal = JournalAppender(engine, run_id="r1")
    rest = {"session": REST_SESSION}
    journal.append("IN", baseline_text(SYMBOL, D("-0.004"), D("396")), **rest)
    new_order(journal, "Q1", "1", "0.002", "99000")
    journal.append("IN", report("Q1", "E1", "0", "0", "0.002", "0", "0.002"))
    missed = ExecutionReport(
        "O-Q1", "Q1", "X1", ExecType.TRADE, OrdStatus.FILLED, SYMBOL, Side.BUY, D("0.002"),
        D("0"), D("0.002"), price=D("99000"), last_qty=D("0.002"), last_px=D("99000"),
        trade_match_id="M1", fees=(Fee(D("0.25"), "4"),),
    )  # fmt: skip
    journal.append("IN", report_text(missed), **rest)
    old = Fill("OLD1", "O-OLD1", SYMBOL, Side.SELL, D("0.001"), D("99100"), D("0.5"), "X2",
               "1", "M2")  # fmt: skip
    journal.append("IN", trade_text(old), **rest)
    adopted = ExecutionReport(
        "O-A1", "A1", "RECON-1-adopt", ExecType.NEW, OrdStatus.NEW, SYMBOL, Side.SELL,
        D("0.003"), D("0.003"), D("0"), price=D("99500"),
    )  # fmt: skip
    journal.append("IN", report_text(adopted, adopted=True), **rest)
    journal.append("OUT", cancel_text("O-STRANGER"), **rest)  # information only

    state = rebuild_from_journal(engine, "r1")

    assert state.warnings == []
    assert [f.fill.exec_id for f in state.fills] == ["X1", "X2"]
    assert state.positions.position_base(SYMBOL) == D("-0.003")  # -0.004 + 0.002 - 0.001
    assert state.positions.get(SYMBOL).fees_quote == D("0.75")
    assert state.order("Q1").state is OrderState.FILLED
    assert state.order("A1").state is OrderState.NEW and state.order("A1").qty == D("0.003")
    assert [o.cl_ord_id for o in state.all_orders()] == ["Q1", "A1"]


def test_a_crashed_run_is_repaired_from_its_journal(store) -> None:
    engine, url, spill = store
    add_run(engine, "crashed")
    add_run(engine, "ended", ended=True)
    add_run(engine, "other-account", sender="SOMEONE_ELSE")
    journal = JournalAppender(engine, run_id="crashed")
    new_order(journal, "Q1", "1", "0.002", "99000")
    journal.append("IN", report("Q1", "E1", "0", "0", "0.002", "0", "0.002"))
    journal.append("IN", report("Q1", "E2", "F", "2", "0.002", "0.002", "0", last="0.002"))
    with engine.begin() as connection:  # what the table writer got to before the kill
        connection.execute(
            insert(orders).values(
                cl_ord_id="Q1", run_id="crashed", current_cl_ord_id="Q1", symbol=SYMBOL,
                side="BUY", ord_type="LIMIT", time_in_force="GTC", price=D("99000"),
                quantity=D("0.002"), cum_qty=D(0), leaves_qty=D("0.002"), state="NEW",
                created_at=START, updated_at=START,
            )
        )  # fmt: skip
    assert compare_with_tables(engine, "crashed", rebuild_from_journal(engine, "crashed"))

    assert repair_crashed_runs(engine, url, spill, SENDER) == ("crashed",)

    state = rebuild_from_journal(engine, "crashed")
    assert compare_with_tables(engine, "crashed", state) == []
    with engine.connect() as connection:
        ended = dict(connection.execute(select(runs.c.run_id, runs.c.ended_at)).all())
        fills = connection.execute(select(executions.c.exec_id, executions.c.run_id)).all()
    assert ended["crashed"] is not None and ended["other-account"] is None
    assert [tuple(row) for row in fills] == [("E2", "crashed")]
    assert repair_crashed_runs(engine, url, spill, SENDER) == ()  # once is enough


def test_the_position_is_carried_over_from_the_accounts_runs_only(store) -> None:
    engine, _, _ = store
    add_run(engine, "r1", ended=True)
    add_run(engine, "r2")
    add_run(engine, "demo", mode="demo")
    add_run(engine, "theirs", sender="SOMEONE_ELSE")
    rows = [
        ("E1", "r1", "BUY", "0.003", "100", START),
        ("E2", "r2", "SELL", "0.001", "110", START + timedelta(seconds=5)),
        ("E3", "demo", "BUY", "1", "100", START + timedelta(seconds=6)),
        ("E4", "theirs", "BUY", "1", "100", START + timedelta(seconds=7)),
        ("E0", "r1", "BUY", "0.001", "100", START - timedelta(hours=2)),
    ]
    with engine.begin() as connection:
        for exec_id, run_id, side, qty, px, at in rows:
            connection.execute(
                insert(executions).values(
                    exec_id=exec_id, run_id=run_id, cl_ord_id="C", symbol=SYMBOL, side=side,
                    quantity=D(qty), price=D(px), fee=D(0), trade_match_id=f"T{exec_id}", at=at,
                )
            )  # fmt: skip

    start = carried_positions(engine, SENDER)

    position = start.positions[SYMBOL]
    assert position.quantity_base == D("0.003")  # 0.001 + 0.003 - 0.001
    assert position.cost_basis_quote == D("0.3")  # 0.004 at 100, a quarter sold
    assert start.last_fill_at == START + timedelta(seconds=5)
    # the fills near the last one are known (E0 is two hours older: outside the window)
    assert {"E1", "E2", ("TE2", "SELL")} <= start.known_fill_keys
    assert "E0" not in start.known_fill_keys and "E3" not in start.known_fill_keys
    assert start.last_fill_keys == {"E2", ("TE2", "SELL")}  # the venue must list this one


def test_the_newest_journaled_start_is_the_base(store) -> None:
    """A run journals where it started (35=AP); its second row (the venue did not know the
    store, the carried position was dropped) wins; fills from then on are added."""
    engine, _, _ = store
    add_run(engine, "r1", ended=True)
    with engine.begin() as connection:
        connection.execute(
            update(runs).where(runs.c.run_id == "r1").values(started_at=START - timedelta(hours=2))
        )
    add_run(engine, "r2", ended=True)
    journal = JournalAppender(engine, run_id="r2")
    rest = {"session": REST_SESSION}
    journal.append("IN", baseline_text(SYMBOL, D("0.003"), D("300")), **rest)
    journal.append("IN", baseline_text(SYMBOL, D("0"), D("0")), **rest)  # dropped
    journal.append("IN", baseline_text("ETH-PYUSD", D("-1"), D("2000")), **rest)
    fills = [
        ("E1", "r1", "BUY", "0.003", START - timedelta(hours=1)),  # before r2: in its base
        ("E2", "r2", "BUY", "0.001", START + timedelta(seconds=1)),
    ]
    with engine.begin() as connection:
        for exec_id, run_id, side, qty, at in fills:
            connection.execute(
                insert(executions).values(
                    exec_id=exec_id, run_id=run_id, cl_ord_id="C", symbol=SYMBOL, side=side,
                    quantity=D(qty), price=D(100), fee=D(0), at=at,
                )
            )  # fmt: skip

    start = carried_positions(engine, SENDER)

    assert start.positions[SYMBOL].quantity_base == D("0.001")
    assert start.positions["ETH-PYUSD"].quantity_base == D("-1")
    assert start.positions["ETH-PYUSD"].cost_basis_quote == D("2000")
    assert start.last_fill_keys == {"E2"}
