"""Rebuilding a run from its FIX journal alone, and auditing the stored tables against it.

The journal below is written by hand in TrueX's shape (spec §12): Logon, a buy that fills in
two parts, a sell that partly fills and is cancelled, a buy that is replaced (E then 5),
partly fills, and whose cancel is refused. Expected values are worked out in the comments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, update

from tests.support.storage import START, JournalAppender, fix
from truex_qf.storage.replay import (
    ABSENT,
    DUPLICATE_REQUEST,
    MALFORMED,
    PRESENT,
    REQUEST_REFUSED,
    ROW,
    Difference,
    ReplayState,
    compare_with_tables,
    rebuild_from_journal,
)
from truex_qf.storage.schema import (
    executions,
    orders,
    pnl_snapshots,
    position_snapshots,
)
from truex_qf.trading.orders import OrderState

RUN = "run-1"
SYMBOL = "BTC-PYUSD"
D = Decimal


# --------------------------------------------------------------------------- the journal


class Venue:
    """Writes TrueX-shaped ExecutionReports for one session into the journal."""

    def __init__(self, appender: JournalAppender) -> None:
        self.journal = appender
        self.seq_out = 1
        self.seq_in = 1
        self.exec_ids = iter(range(1922892243, 1922892243 + 1000))

    def send(self, msg_type: str, *body: tuple[int, Any]) -> int:
        self.seq_out += 1
        return self.journal.append("OUT", fix(msg_type, self.seq_out, *body))

    def receive(self, msg_type: str, *body: tuple[int, Any]) -> int:
        self.seq_in += 1
        return self.journal.append("IN", fix(msg_type, self.seq_in, *body, outbound=False))

    def report(
        self,
        order: Order,
        exec_type: str,
        status: str,
        *,
        cum: str,
        leaves: str,
        cl_ord_id: str | None = None,
        orig: str | None = None,
        fill: tuple[str, str, str] | None = None,  # LastQty, LastPx, fee
        avg: str | None = None,
    ) -> str:
        exec_id = str(next(self.exec_ids))
        body: list[tuple[int, Any]] = [(11, cl_ord_id or order.cl_ord_id)]
        if orig:
            body.append((41, orig))
        body += [(17, exec_id), (37, order.order_id), (38, order.qty), (40, 2), (44, order.px)]
        body += [(54, order.side), (59, 1), (151, leaves), (14, cum)]
        if fill:
            body += [(32, fill[0]), (31, fill[1]), (6, avg or fill[1]), (880, f"T{exec_id}")]
            body += [(851, 1), (136, 1), (137, fill[2]), (139, 4)]
        body += [(60, "20250910-18:32:27.341860"), (55, SYMBOL), (453, 1), (448, "<CLIENT_ID>")]
        body += [(452, 3), (150, exec_type), (39, status)]
        self.receive("8", *body)
        return exec_id


@dataclass
class Order:
    cl_ord_id: str
    order_id: str
    side: str
    qty: str
    px: str


BUY = Order("Q1", "O1", "1", "0.5", "100")
SELL = Order("Q2", "O2", "2", "0.4", "110")
REPLACED_BUY = Order("Q4", "O4", "1", "0.2", "95")


@dataclass
class Journal:
    exec_ids: dict[str, str]  # label -> ExecID
    times: dict[str, datetime]  # label -> logged_at of the row


def write_realistic_journal(engine: Engine) -> Journal:
    appender = JournalAppender(engine, run_id=RUN)
    venue = Venue(appender)
    ids: dict[str, str] = {}
    times: dict[str, datetime] = {}

    venue.send("A", (98, 0), (108, 30), (141, "Y"), (553, "abcd1234***"), (554, "***"))
    venue.receive("A", (108, 30), (1137, 9))

    def new_order(order: Order, post_only: bool = False) -> None:
        body: list[tuple[int, Any]] = [(11, order.cl_ord_id)]
        body += [(18, 6), (2964, 1)] if post_only else []
        body += [(38, order.qty), (40, 2), (44, order.px), (54, order.side), (55, SYMBOL)]
        venue.send("D", *body, (59, 1), (453, 1), (448, "<CLIENT_ID>"), (452, 3))
        venue.report(order, "A", "A", cum="0", leaves="0")
        venue.report(order, "0", "0", cum="0", leaves=order.qty)

    # Order 1: buy 0.5 @ 100, fills 0.2 then 0.3 (fees 0.02 + 0.03).
    new_order(BUY, post_only=True)
    ids["buy-1"] = venue.report(BUY, "F", "1", cum="0.2", leaves="0.3", fill=("0.2", "100", "0.02"))
    ids["buy-2"] = venue.report(BUY, "F", "2", cum="0.5", leaves="0", fill=("0.3", "100", "0.03"))

    # Order 2: sell 0.4 @ 110, 0.1 fills (fee 0.011), then we cancel it (F 11=Q3 41=Q2).
    new_order(SELL)
    ids["sell-1"] = venue.report(
        SELL, "F", "1", cum="0.1", leaves="0.3", fill=("0.1", "110", "0.011")
    )
    venue.send("F", (11, "Q3"), (41, "Q2"), (453, 1), (448, "<CLIENT_ID>"), (452, 3))
    venue.report(SELL, "4", "4", cum="0.1", leaves="0", cl_ord_id="Q3", orig="Q2")

    # Order 3: buy 0.2 @ 95, replaced (G 11=Q5 41=Q4) to 0.3 @ 96; 0.1 fills (fee 0.0096) under
    # the new ID; a cancel (F 11=Q6 41=Q5) is refused as too late: back to PARTIALLY_FILLED.
    new_order(REPLACED_BUY)
    venue.send("G", (11, "Q5"), (38, "0.3"), (40, 2), (41, "Q4"), (44, "96"), (54, 1), (55, SYMBOL))
    venue.report(REPLACED_BUY, "E", "E", cum="0", leaves="0.2", cl_ord_id="Q5", orig="Q4")
    replaced = Order("Q5", "O4", "1", "0.3", "96")
    venue.report(replaced, "5", "0", cum="0", leaves="0.3", orig="Q4")
    ids["replaced-1"] = venue.report(
        replaced, "F", "1", cum="0.1", leaves="0.2", fill=("0.1", "96", "0.0096")
    )
    times["last-fill"] = appender.clock
    venue.send("F", (11, "Q6"), (41, "Q5"))
    venue.receive("9", (11, "Q6"), (41, "Q5"), (37, "O4"), (39, 1), (434, 1), (102, 0))

    # Noise the replay must skip: market data, a heartbeat, another run's order.
    appender.append("IN", fix("W", 2, (262, "MD-1"), (55, SYMBOL)), session="FIXT.1.1:MD")
    venue.send("0")
    appender.append("OUT", fix("D", 9, (11, "X1"), (38, 1), (54, 1), (55, SYMBOL)), run_id="run-2")
    times["end"] = appender.clock
    return Journal(ids, times)


# Worked by hand:
#   buy 0.5 @ 100                  -> long 0.5, cost 50
#   sell 0.1 @ 110                 -> realizes 0.1 * (110 - 100) = 1; long 0.4, cost 40
#   buy 0.1 @ 96                   -> long 0.5, cost 49.6, average 99.2
#   fees 0.02 + 0.03 + 0.011 + 0.0096 = 0.0706; realized net 1 - 0.0706 = 0.9294
EXPECTED_POSITION = D("0.5")
EXPECTED_AVG = D("99.2")
EXPECTED_FEES = D("0.0706")
EXPECTED_REALIZED = D("0.9294")


# --------------------------------------------------------------------------- rebuild


def test_replay_rebuilds_orders_positions_and_pnl(engine: Engine) -> None:
    journal = write_realistic_journal(engine)
    state = rebuild_from_journal(engine, RUN)

    assert state.warnings == []
    assert state.lineages == ["Q1", "Q2", "Q4"]

    buy = state.order("Q1")
    assert buy is not None
    assert (buy.state, buy.cum_qty, buy.leaves) == (OrderState.FILLED, D("0.5"), D("0"))
    assert (buy.order_id, buy.post_only, buy.avg_px) == ("O1", True, D("100"))

    sell = state.order("Q2")
    assert sell is not None and state.order("Q3") is sell
    assert (sell.state, sell.cum_qty, sell.leaves) == (OrderState.CANCELED, D("0.1"), D("0"))
    assert sell.history[-1][1] == "CANCEL_ACK"

    replaced = state.order("Q4")
    assert replaced is not None and state.order("Q5") is replaced is state.order("Q6")
    assert replaced.cl_ord_id == "Q5"
    assert (replaced.price, replaced.qty) == (D("96"), D("0.3"))
    assert replaced.state is OrderState.PARTIALLY_FILLED
    assert (replaced.cum_qty, replaced.leaves) == (D("0.1"), D("0.2"))
    assert [reason for _, reason, _ in replaced.history][-3:] == [
        "PARTIAL_FILL",
        "CANCEL_REQUESTED",
        "CANCEL_REJECTED",
    ]

    position = state.position(SYMBOL)
    assert position is not None
    assert position.quantity_base == EXPECTED_POSITION
    assert position.avg_entry_price == EXPECTED_AVG
    assert position.gross_realized_pnl_quote == D("1")
    assert position.fees_quote == EXPECTED_FEES
    assert position.realized_pnl_quote == EXPECTED_REALIZED
    assert [f.fill.exec_id for f in state.fills] == list(journal.exec_ids.values())
    assert state.last_fill_at[SYMBOL] == journal.times["last-fill"]
    # the manager's clock was the journal's: history carries the rows' times
    assert buy.history[0][2] == (START + timedelta(milliseconds=3)).timestamp()


def test_replay_reads_only_the_run_asked_for(engine: Engine) -> None:
    write_realistic_journal(engine)
    other = rebuild_from_journal(engine, "run-2")
    assert other.lineages == ["X1"] and other.fills == []
    assert rebuild_from_journal(engine, "no-such-run").rows_replayed == 0


def test_resent_requests_and_duplicate_reports_count_once(engine: Engine) -> None:
    appender = JournalAppender(engine, run_id=RUN)
    venue = Venue(appender)
    order = Order("Q1", "O1", "1", "1", "100")
    d = [(11, "Q1"), (38, 1), (40, 2), (44, 100), (54, 1), (55, SYMBOL), (59, 1)]
    venue.send("D", *d)
    venue.report(order, "0", "0", cum="0", leaves="1")
    exec_id = venue.report(order, "F", "1", cum="0.4", leaves="0.6", fill=("0.4", "100", "0"))
    venue.send("D", (43, "Y"), *d)  # a PossDup resend of the same D
    # the venue resends the same fill report (same ExecID)
    venue.receive(
        "8",
        *[(11, "Q1"), (17, exec_id), (37, "O1"), (38, 1), (54, 1), (151, "0.6"), (14, "0.4")],
        *[(32, "0.4"), (31, 100), (55, SYMBOL), (150, "F"), (39, "1")],
    )
    reused = venue.send("D", *d)  # the same ID without PossDup: a bug of the program
    state = rebuild_from_journal(engine, RUN)
    assert state.resent_requests == 1
    assert [(w.journal_id, w.code) for w in state.warnings] == [(reused, DUPLICATE_REQUEST)]
    assert state.orders.duplicate_exec_ids == 1
    assert state.positions.position_base(SYMBOL) == D("0.4")


def test_replay_reports_journal_problems_and_goes_on(engine: Engine) -> None:
    appender = JournalAppender(engine, run_id=RUN)
    venue = Venue(appender)
    bad_report = venue.receive("8", (11, "Q1"), (150, "0"))  # no ExecID, no OrderID...
    bad_cancel = venue.send("F", (11, "Q2"), (41, "NOPE"))  # cancels an order never sent
    venue.send("D", (11, "Q3"), (38, 1), (40, 2), (44, 100), (54, 1), (55, SYMBOL), (59, 1))
    unacked_replace = venue.send("G", (11, "Q4"), (41, "Q3"), (38, 2), (44, 101))
    unknown_fill = venue.receive(
        "8",
        *[(11, "ZZ"), (17, "E9"), (37, "O9"), (38, 1), (54, 2), (151, 0), (14, 1)],
        *[(32, 1), (31, 100), (55, SYMBOL), (150, "F"), (39, "2")],
    )
    state = rebuild_from_journal(engine, RUN)
    assert [(w.journal_id, w.code) for w in state.warnings] == [
        (bad_report, MALFORMED),
        (bad_cancel, REQUEST_REFUSED),
        (unacked_replace, REQUEST_REFUSED),
        (unknown_fill, "UNKNOWN_ORDER"),
    ]
    assert "NOT_ACKNOWLEDGED" in state.warnings[2].detail
    # money moved for an order we never knew: the position still sees it
    assert state.positions.position_base(SYMBOL) == D("-1")
    assert state.order("Q3") is not None and state.order("Q3").state is OrderState.PENDING_NEW


# --------------------------------------------------------------------------- compare


def store_what_the_program_stored(engine: Engine, journal: Journal) -> None:
    """The rows the program would have written for the realistic journal, all consistent."""
    at = journal.times["end"]
    order_rows = [
        ("Q1", "Q1", "O1", "BUY", "100", "0.5", "0.5", "0", "100", OrderState.FILLED),
        ("Q2", "Q2", "O2", "SELL", "110", "0.4", "0.1", "0", "110", OrderState.CANCELED),
        ("Q4", "Q5", "O4", "BUY", "96", "0.3", "0.1", "0.2", "96", OrderState.PARTIALLY_FILLED),
    ]
    fills = [
        ("buy-1", "Q1", "BUY", "0.2", "100", "0.02"),
        ("buy-2", "Q1", "BUY", "0.3", "100", "0.03"),
        ("sell-1", "Q2", "SELL", "0.1", "110", "0.011"),
        ("replaced-1", "Q4", "BUY", "0.1", "96", "0.0096"),  # the recorder's lineage key
    ]
    with engine.begin() as connection:
        for key, current, order_id, side, px, qty, cum, leaves, avg, state in order_rows:
            connection.execute(
                insert(orders).values(
                    cl_ord_id=key,
                    run_id=RUN,
                    current_cl_ord_id=current,  # a cancel does not rekey: Q2 stays current
                    order_id=order_id,
                    symbol=SYMBOL,
                    side=side,
                    ord_type="LIMIT",
                    time_in_force="GTC",
                    price=D(px),
                    quantity=D(qty),
                    cum_qty=D(cum),
                    leaves_qty=D(leaves),
                    avg_px=D(avg),
                    state=state.value,
                    created_at=at,
                    updated_at=at,
                )
            )
        for label, cl_ord_id, side, qty, px, fee in fills:
            connection.execute(
                insert(executions).values(
                    exec_id=journal.exec_ids[label],
                    run_id=RUN,
                    cl_ord_id=cl_ord_id,
                    order_id=None,
                    symbol=SYMBOL,
                    side=side,
                    quantity=D(qty),
                    price=D(px),
                    fee=D(fee),
                    at=at,
                )
            )
        # an earlier snapshot, superseded by the last one
        earlier = (D("0.4"), D(100), at - timedelta(seconds=1))
        for quantity, avg, when in (earlier, (EXPECTED_POSITION, EXPECTED_AVG, at)):
            connection.execute(
                insert(position_snapshots).values(
                    run_id=RUN, symbol=SYMBOL, quantity_base=quantity, avg_entry_price=avg, at=when
                )
            )
        connection.execute(
            insert(pnl_snapshots).values(
                run_id=RUN,
                symbol=SYMBOL,
                realized_pnl_quote=EXPECTED_REALIZED,
                fees_quote=EXPECTED_FEES,
                at=at,
            )
        )


@pytest.fixture
def audited(engine: Engine) -> tuple[Engine, Journal, ReplayState]:
    journal = write_realistic_journal(engine)
    store_what_the_program_stored(engine, journal)
    return engine, journal, rebuild_from_journal(engine, RUN)


def test_tables_that_agree_have_no_difference(audited) -> None:
    engine, journal, state = audited
    assert compare_with_tables(engine, RUN, state) == []
    # a side stored as its FIX value is the same side...
    with engine.begin() as connection:
        connection.execute(
            update(executions)
            .where(executions.c.exec_id == journal.exec_ids["sell-1"])
            .values(side="2")
        )
        # any ClOrdID of the lineage names the order: here the replace's, not the first
        connection.execute(
            update(executions)
            .where(executions.c.exec_id == journal.exec_ids["replaced-1"])
            .values(cl_ord_id="Q5")
        )
    assert compare_with_tables(engine, RUN, state) == []


def test_an_altered_order_state_is_reported(audited) -> None:
    engine, _, state = audited
    with engine.begin() as connection:
        connection.execute(
            update(orders).where(orders.c.cl_ord_id == "Q2").values(state="NEW", leaves_qty=D(3))
        )
    assert compare_with_tables(engine, RUN, state) == [
        Difference("orders", "Q2", "leaves_qty", D(3), D(0)),
        Difference("orders", "Q2", "state", "NEW", "CANCELED"),
    ]


def test_an_altered_fill_quantity_is_reported(audited) -> None:
    engine, journal, state = audited
    exec_id = journal.exec_ids["sell-1"]
    with engine.begin() as connection:
        connection.execute(
            update(executions)
            .where(executions.c.exec_id == exec_id)
            .values(quantity=D("0.15"), cl_ord_id="Q1")
        )
    differences = compare_with_tables(engine, RUN, state)
    assert differences == [
        Difference("executions", exec_id, "cl_ord_id", "Q1", "Q2"),
        Difference("executions", exec_id, "quantity", D("0.15"), D("0.1")),
    ]
    assert str(differences[1]) == f"executions {exec_id} quantity: stored 0.15, replayed 0.1"


def test_missing_and_extra_rows_are_reported(audited) -> None:
    engine, journal, state = audited
    exec_id = journal.exec_ids["buy-2"]
    with engine.begin() as connection:
        connection.execute(executions.delete().where(executions.c.exec_id == exec_id))
        connection.execute(orders.delete().where(orders.c.cl_ord_id == "Q4"))
        connection.execute(
            insert(orders).values(
                cl_ord_id="GHOST",
                run_id=RUN,
                current_cl_ord_id="GHOST",
                symbol=SYMBOL,
                side="BUY",
                ord_type="LIMIT",
                time_in_force="GTC",
                quantity=D(1),
                cum_qty=D(0),
                leaves_qty=D(1),
                state="NEW",
                created_at=START,
                updated_at=START,
            )
        )
    assert compare_with_tables(engine, RUN, state) == [
        Difference("orders", "GHOST", ROW, PRESENT, ABSENT),
        Difference("orders", "Q4", ROW, ABSENT, PRESENT),
        Difference("executions", exec_id, ROW, ABSENT, PRESENT),
    ]


def test_a_stale_position_snapshot_is_reported_with_a_note(audited) -> None:
    engine, journal, state = audited
    before_last_fill = journal.times["last-fill"] - timedelta(microseconds=1)
    with engine.begin() as connection:
        connection.execute(
            update(position_snapshots)
            .where(
                position_snapshots.c.id
                == select(func.max(position_snapshots.c.id)).scalar_subquery()
            )
            .values(quantity_base=D("0.4"), avg_entry_price=D(100), at=before_last_fill)
        )
        connection.execute(
            update(pnl_snapshots).values(realized_pnl_quote=D("0.939"), fees_quote=D("0.061"))
        )
    differences = compare_with_tables(engine, RUN, state)
    assert [(d.table, d.field, d.stored, d.replayed) for d in differences] == [
        ("position_snapshots", "quantity_base", D("0.4"), EXPECTED_POSITION),
        ("position_snapshots", "avg_entry_price", D(100), EXPECTED_AVG),
        ("pnl_snapshots", "realized_pnl_quote", D("0.939"), EXPECTED_REALIZED),
        ("pnl_snapshots", "fees_quote", D("0.061"), EXPECTED_FEES),
    ]
    assert "older than the last fill" in differences[0].note
    assert differences[2].note == ""


def test_a_repeating_average_agrees_to_numeric_38_18(engine: Engine) -> None:
    """Three buys at 100, 100, 102: the average 302/3 is stored rounded to 18 places."""
    appender = JournalAppender(engine, run_id=RUN)
    venue = Venue(appender)
    order = Order("Q1", "O1", "1", "3", "102")
    venue.send("D", (11, "Q1"), (38, 3), (40, 2), (44, 102), (54, 1), (55, SYMBOL), (59, 1))
    venue.report(order, "0", "0", cum="0", leaves="3")
    for cum, px in (("1", "100"), ("2", "100"), ("3", "102")):
        left = str(3 - int(cum))
        status = "2" if left == "0" else "1"
        venue.report(order, "F", status, cum=cum, leaves=left, fill=("1", px, "0"))
    state = rebuild_from_journal(engine, RUN)
    position = state.position(SYMBOL)
    assert position is not None and position.avg_entry_price == D(302) / 3
    with engine.begin() as connection:
        connection.execute(
            insert(position_snapshots).values(
                run_id=RUN,
                symbol=SYMBOL,
                quantity_base=D(3),
                avg_entry_price=D("100.666666666666666667"),
                at=appender.clock,
            )
        )
    differences = compare_with_tables(engine, RUN, state)
    assert [d for d in differences if d.table == "position_snapshots"] == []
