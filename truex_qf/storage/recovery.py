"""Start from what the store knows: repair what a crash left behind, carry the position over.

A ``kill -9`` (or a power cut) ends a run without its last rows: the FIX journal has its own
writer process, which stores what it holds when the trading process dies, but the table rows
queued in the trading process are lost, so ``orders`` and ``executions`` miss the last
moments the journal has. Before a new run trades (and before its writers start):

1. the spill files (store and journal) are replayed into the database, so nothing a writer
   spilled during an outage is left out of what follows;
2. every earlier ``run`` of this account (``runs.sender_comp_id``) that never recorded its end
   is repaired from its journal (:func:`repair_crashed_runs`): the replay's orders,
   executions and final position are written where the tables lack or contradict them, and
   the run gets its end time (its last journal row), so ``replay`` of it matches;
3. the position the new run starts from is computed from the account's stored executions
   (:func:`carried_positions`), with the ExecIDs near the last of them, so reconciliation
   can ask the venue for its trades since then and record only those the store lacks.

Only runs of mode ``run`` count: the demo and ``test-order`` trade on throwaway simulators.
The instance lock (one ``run`` per account and state folder) is what makes "never ended" mean
"crashed" for this account's runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select

from truex_qf.domain.model import Side
from truex_qf.fix.readers import split_fields
from truex_qf.storage.journal import _bind_time, as_utc
from truex_qf.storage.replay import ReplayState, compare_with_tables, rebuild_from_journal
from truex_qf.storage.rows import Row
from truex_qf.storage.schema import executions, fix_journal, runs
from truex_qf.storage.venue_decisions import REST_SESSION
from truex_qf.storage.writer import StoreWriter
from truex_qf.trading.orders import Fill, ManagedOrder
from truex_qf.trading.positions import PositionBook

log = logging.getLogger("truex_qf.storage")

RUN_MODE = "run"
KNOWN_WINDOW_S = 1200.0  # ExecIDs this long before the last stored fill are handed over


@dataclass(frozen=True, slots=True)
class CarriedPosition:
    """A symbol's position carried over: signed base quantity and its cost (quote, unsigned)."""

    symbol: str
    quantity_base: Decimal
    cost_basis_quote: Decimal


@dataclass(frozen=True)
class StoreStart:
    """What a new run starts from: carried positions, the last stored fill's time and the
    identities (ExecIDs, (TrdMatchID, side)) of the fills stored near it."""

    positions: dict[str, CarriedPosition] = field(default_factory=dict)
    last_fill_at: datetime | None = None
    known_fill_keys: frozenset[object] = frozenset()
    repaired_runs: tuple[str, ...] = ()
    last_fill_keys: frozenset[object] = frozenset()
    """The identities of the last stored fill: a venue that knows this account lists it."""


def flush_spill(url: str, spill_path: Path) -> None:
    """Replay a spill file into the database now (a writer started and stopped at once)."""
    if not spill_path.exists() or not spill_path.stat().st_size:
        return
    writer = StoreWriter(url, spill_path)
    writer.start()
    writer.stop()


def repair_crashed_runs(
    engine: Engine, url: str, spill_path: Path, sender_comp_id: str
) -> tuple[str, ...]:
    """Repair every unended ``run`` of ``sender_comp_id`` from its journal; their IDs."""
    with engine.connect() as connection:
        crashed = [
            (row.run_id, row.started_at)
            for row in connection.execute(
                select(runs.c.run_id, runs.c.started_at).where(
                    runs.c.ended_at.is_(None),
                    runs.c.mode == RUN_MODE,
                    runs.c.sender_comp_id == sender_comp_id,
                )
            )
        ]
    repaired = []
    for run_id, started_at in crashed:
        rows = _repair_rows(engine, run_id, as_utc(started_at))
        if rows:
            writer = StoreWriter(url, spill_path)
            writer.start()
            for row in rows:
                writer.submit(row)
            writer.stop()
        log.warning(
            "store: run %s had not recorded its end (a crash?): %d rows repaired from its journal",
            run_id,
            len(rows) - 1,
        )
        repaired.append(run_id)
    return tuple(repaired)


def _repair_rows(engine: Engine, run_id: str, started_at: datetime) -> list[Row]:
    """The rows that make the tables agree with the run's journal, and the run's end."""
    state = rebuild_from_journal(engine, run_id)
    differences = compare_with_tables(engine, run_id, state)
    with engine.connect() as connection:
        last = connection.execute(
            select(fix_journal.c.logged_at)
            .where(fix_journal.c.run_id == run_id)
            .order_by(fix_journal.c.id.desc())
            .limit(1)
        ).scalar()
    ended_at = as_utc(last) if last is not None else started_at
    rows: list[Row] = []
    tables = {d.table for d in differences}
    if "orders" in tables:
        keys = {d.key for d in differences if d.table == "orders"}
        rows += [_order_row(run_id, order, started_at, ended_at) for order in _orders(state, keys)]
    if "executions" in tables:
        missing = {d.key for d in differences if d.table == "executions" and d.field == "row"}
        rows += [
            _execution_row(run_id, replayed.fill, replayed.logged_at, state)
            for replayed in state.fills
            if replayed.fill.exec_id in missing
        ]
    if tables & {"position_snapshots", "pnl_snapshots"}:
        rows += _snapshot_rows(run_id, state, ended_at)
    with engine.connect() as connection:
        run = connection.execute(select(runs).where(runs.c.run_id == run_id)).mappings().one()
    rows.append(Row("runs", {**dict(run), "ended_at": ended_at}))
    return rows


def _orders(state: ReplayState, keys: set[str]) -> list[ManagedOrder]:
    return [order for order in state.all_orders() if order.cl_ord_ids[0] in keys]


def _order_row(run_id: str, order: ManagedOrder, started_at: datetime, at: datetime) -> Row:
    return Row(
        "orders",
        {
            "run_id": run_id,
            "cl_ord_id": order.cl_ord_ids[0],
            "current_cl_ord_id": order.cl_ord_id,
            "order_id": order.order_id,
            "symbol": order.symbol,
            "side": order.side.name,
            "ord_type": order.ord_type.name,
            "time_in_force": order.time_in_force.name,
            "price": order.price,
            "quantity": order.qty,
            "cum_qty": order.cum_qty,
            "leaves_qty": order.leaves,
            "avg_px": order.avg_px,
            "state": order.state.value,
            "created_at": started_at,
            "updated_at": at,
        },
    )


def _execution_row(run_id: str, fill: Fill, at: datetime, state: ReplayState) -> Row:
    order = state.order(fill.cl_ord_id)
    return Row(
        "executions",
        {
            "run_id": run_id,
            "exec_id": fill.exec_id,
            "cl_ord_id": order.cl_ord_ids[0] if order is not None else fill.cl_ord_id,
            "order_id": fill.order_id,
            "symbol": fill.symbol,
            "side": fill.side.name,
            "quantity": fill.qty,
            "price": fill.price,
            "fee": fill.fee,
            "liquidity": fill.liquidity,
            "trade_match_id": fill.trade_match_id,
            "at": at,
        },
    )


def _snapshot_rows(run_id: str, state: ReplayState, at: datetime) -> list[Row]:
    rows = []
    for symbol, snap in state.positions.snapshot().items():
        rows.append(
            Row(
                "position_snapshots",
                {
                    "run_id": run_id,
                    "symbol": symbol,
                    "quantity_base": snap.quantity_base,
                    "avg_entry_price": snap.avg_entry_price,
                    "fair_value": None,
                    "at": at,
                },
            )
        )
        rows.append(
            Row(
                "pnl_snapshots",
                {
                    "run_id": run_id,
                    "symbol": symbol,
                    "realized_pnl_quote": snap.realized_pnl_quote,
                    "unrealized_pnl_quote": None,
                    "fees_quote": snap.fees_quote,
                    "at": at,
                },
            )
        )
    return rows


def carried_positions(engine: Engine, sender_comp_id: str) -> StoreStart:
    """The account's position per symbol: where its last ``run`` started, plus its fills since.

    Each run journals the position it started from (35=AP rows, every strategy symbol; a
    second row when reconciliation dropped the carried position because the venue did not
    know it). The newest run with such rows gives the base (a symbol it has no row for
    started flat); the fills of that run and of later runs are applied on top, in the order
    they were stored, by average cost (:class:`~truex_qf.trading.positions.PositionBook`).
    Without any such row (a store older than them), every stored fill of the account counts.
    What was realized before stays with the runs that realized it: the new run starts from
    the quantity and its cost.
    """
    base_run, base = _last_baseline(engine, sender_comp_id)
    columns = executions.c
    query = (
        select(
            columns.exec_id,
            columns.symbol,
            columns.side,
            columns.quantity,
            columns.price,
            columns.fee,
            columns.trade_match_id,
            columns.at,
            runs.c.started_at,
        )
        .join(runs, runs.c.run_id == columns.run_id)
        .where(runs.c.sender_comp_id == sender_comp_id, runs.c.mode == RUN_MODE)
        .order_by(columns.at, columns.exec_id)
    )
    book = PositionBook()
    for symbol, (quantity, cost) in base.items():
        book.seed(symbol, quantity, cost)
    stored = []
    with engine.connect() as connection:
        for row in connection.execute(query):
            side = _side(row.side)
            if base_run is None or as_utc(row.started_at) >= base_run:
                book.apply_fill(row.symbol, side, row.quantity, row.price, row.fee)
            stored.append((as_utc(row.at), row.exec_id, row.trade_match_id, side))
    if not stored:
        return StoreStart(_nonzero(book))
    last_at = max(at for at, *_ in stored)
    keys: set[object] = set()
    last_keys: set[object] = set()
    for at, exec_id, trade_match_id, side in stored:
        identity = {exec_id, (trade_match_id, side.name)} if trade_match_id else {exec_id}
        if (last_at - at).total_seconds() <= KNOWN_WINDOW_S:
            keys |= identity
        if at == last_at:
            last_keys |= identity
    return StoreStart(_nonzero(book), last_at, frozenset(keys), last_fill_keys=frozenset(last_keys))


def _nonzero(book: PositionBook) -> dict[str, CarriedPosition]:
    return {
        symbol: CarriedPosition(symbol, snap.quantity_base, snap.cost_basis_quote)
        for symbol, snap in book.snapshot().items()
        if snap.quantity_base != 0
    }


def _last_baseline(
    engine: Engine, sender_comp_id: str
) -> tuple[datetime | None, dict[str, tuple[Decimal, Decimal]]]:
    """The start time of the account's newest run that journaled its starting position, and
    that position per symbol (its last 35=AP row per symbol); (None, {}) if no run did.

    Runs are tried newest first, each one's rows looked up by time (the journal's index)
    between its start and its end.
    """
    dialect = engine.dialect.name
    with engine.connect() as connection:
        account_runs = connection.execute(
            select(runs.c.run_id, runs.c.started_at, runs.c.ended_at)
            .where(runs.c.sender_comp_id == sender_comp_id, runs.c.mode == RUN_MODE)
            .order_by(runs.c.started_at.desc())
        ).all()
        for run in account_runs:
            journal = fix_journal.c
            conditions = [
                journal.logged_at >= _bind_time(run.started_at, dialect),
                journal.run_id == run.run_id,
                journal.session == REST_SESSION,
                journal.msg_type == "AP",
            ]
            if run.ended_at is not None:
                conditions.append(journal.logged_at <= _bind_time(run.ended_at, dialect))
            rows = connection.execute(
                select(journal.text).where(*conditions).order_by(journal.id)
            ).all()
            if not rows:
                continue
            base: dict[str, tuple[Decimal, Decimal]] = {}
            for row in rows:
                fields = dict(reversed(split_fields(row.text)))
                base[fields[55]] = (Decimal(fields[53]), Decimal(fields[381]))
            return as_utc(run.started_at), base
    return None, {}


def _side(value: str) -> Side:
    """Stored sides are names (BUY); older rows may hold the FIX value (1)."""
    return Side[value] if value in Side.__members__ else Side(value)
