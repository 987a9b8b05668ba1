"""Reports over what a run stored: its orders, its fills, and its position and PnL per symbol.

Read-only queries over an SQLAlchemy engine (SQLite or PostgreSQL, see
:mod:`truex_qf.storage.schema`), each returning a :class:`Report`: column names and rows of
strings, printable as an aligned table (:meth:`Report.to_table`) or as CSV
(:meth:`Report.to_csv`). Decimals are printed exactly, never with an exponent; times are UTC
ISO 8601 with a ``Z``. Every report is about one run: the one asked for, else the latest one
by ``started_at`` (:func:`latest_run_id`).

:func:`pnl_report` puts what the program last snapshotted next to what its ``executions`` add
up to, and says when the two disagree on the position. Snapshots are periodic, so a
disagreement with a fill newer than the snapshot may only mean no snapshot was taken since;
the ``position_check`` column says which case it is. Its CSV has every column, exact; its
table (:func:`pnl_table`) the ones a trader reads, at the instrument's precision
(:mod:`truex_qf.ops.amounts`), within 100 columns. Fills show ``liquidity`` as ``maker`` or
``taker`` (LastLiquidityInd 1 or 2).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Context, Decimal
from typing import Any, cast

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import Select

from truex_qf.domain.decimals import plain_decimal
from truex_qf.domain.errors import TruexError
from truex_qf.ops.amounts import Amounts, liquidity_name
from truex_qf.storage.database import mask_url, one_line
from truex_qf.storage.schema import (
    executions,
    orders,
    pnl_snapshots,
    position_snapshots,
    runs,
)

ZERO = Decimal(0)
# Sums of products of two NUMERIC(38, 18) values need more than the default 28 digits.
_WIDE = Context(prec=100)

ORDER_COLUMNS = [
    "cl_ord_id",
    "current_cl_ord_id",
    "order_id",
    "symbol",
    "side",
    "ord_type",
    "time_in_force",
    "price",
    "quantity",
    "cum_qty",
    "leaves_qty",
    "avg_px",
    "state",
    "created_at",
    "updated_at",
]
FILL_COLUMNS = [
    "at",
    "exec_id",
    "cl_ord_id",
    "order_id",
    "symbol",
    "side",
    "quantity",
    "price",
    "notional_quote",
    "fee",
    "liquidity",
    "trade_match_id",
]
PNL_COLUMNS = [
    "run_id",
    "symbol",
    "snapshot_at",
    "position_base",
    "avg_entry_price",
    "fair_value",
    "realized_pnl_quote",
    "unrealized_pnl_quote",
    "fees_quote",
    "fills",
    "bought_base",
    "sold_base",
    "net_base",
    "cash_flow_quote",
    "exec_fees_quote",
    "position_check",
]
"""``position_base`` … ``fees_quote`` come from the last snapshots; ``fills`` …
``exec_fees_quote`` are sums over ``executions``: ``net_base`` is bought minus sold,
``cash_flow_quote`` is sale proceeds minus purchase cost minus fees (what the fills did to the
quote balance), ``exec_fees_quote`` the fees (positive paid, negative rebates)."""

# position_check values
AGREE = "agree"
NO_SNAPSHOT = "no snapshot"
NO_FILLS = "no fills"


# --------------------------------------------------------------------------- the report


@dataclass(slots=True)
class Report:
    """A result as column names and rows of already formatted strings."""

    columns: list[str]
    rows: list[list[str]]

    def to_table(self) -> str:
        """Aligned columns: a header line, a rule of dashes, one line per row.

        Columns whose every cell is a number are right-aligned, the others left-aligned; a
        report without rows says ``(no rows)`` under the rule. Line breaks inside a cell are
        shown as ``\\n`` so that one row stays one line.
        """
        cells = [[_one_line_cell(cell) for cell in row] for row in self.rows]
        widths = [len(name) for name in self.columns]
        for row in cells:
            for index, cell in enumerate(row):
                widths[index] = max(widths[index], len(cell))
        numeric = [
            bool(cells) and all(_is_number(row[index]) or not row[index] for row in cells)
            for index in range(len(self.columns))
        ]

        def line(values: list[str]) -> str:
            parts = [
                value.rjust(width) if right else value.ljust(width)
                for value, width, right in zip(values, widths, numeric, strict=True)
            ]
            return "  ".join(parts).rstrip()

        lines = [line(self.columns), "  ".join("-" * width for width in widths)]
        lines += [line(row) for row in cells]
        if not cells:
            lines.append("(no rows)")
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        """CSV with a header row (``csv`` module, ``\\r\\n`` line ends as RFC 4180 says)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return buffer.getvalue()


def format_value(value: object) -> str:
    """A cell: Decimals exactly and without exponent, times as UTC ISO 8601, None as empty."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


format_decimal = plain_decimal  # the one rule for decimals as text (truex_qf.domain)


def format_time(value: datetime) -> str:
    """UTC to the microsecond with a ``Z``; a naive value (SQLite's) is taken to be UTC."""
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return text.strip() == text and text.lower() not in ("nan", "inf", "infinity", "-inf")


def _one_line_cell(cell: str) -> str:
    return cell.replace("\r", "\\r").replace("\n", "\\n")


# --------------------------------------------------------------------------- queries


def latest_run_id(engine: Engine) -> str | None:
    """The run that started last (``runs.started_at``); None when no run is stored."""
    query = select(runs.c.run_id).order_by(runs.c.started_at.desc(), runs.c.run_id.desc())
    rows = fetch_rows(engine, query.limit(1), "runs")
    return rows[0]["run_id"] if rows else None


def orders_report(
    engine: Engine,
    *,
    run_id: str | None = None,
    symbol: str | None = None,
    state: str | None = None,
    limit: int | None = None,
) -> Report:
    """One row per order lineage of the run (the latest run when ``run_id`` is None).

    ``symbol`` is exact, ``state`` is an order state such as ``FILLED`` (any case). Rows are
    oldest first by ``created_at``; ``limit`` keeps the newest ``limit`` of them.
    """
    run = _run_or_latest(engine, run_id)
    if run is None:
        return Report(list(ORDER_COLUMNS), [])
    columns = orders.c
    query = select(*(columns[name] for name in ORDER_COLUMNS)).where(columns.run_id == run)
    if symbol is not None:
        query = query.where(columns.symbol == symbol)
    if state is not None:
        query = query.where(columns.state == state.strip().upper())
    order = (columns.created_at, columns.cl_ord_id)
    rows = _newest(engine, query, order, limit, "orders")
    return Report(list(ORDER_COLUMNS), [_cells(row, ORDER_COLUMNS) for row in rows])


def fills_report(
    engine: Engine,
    *,
    run_id: str | None = None,
    symbol: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> Report:
    """One row per execution of the run (the latest run when ``run_id`` is None).

    ``since`` is inclusive on the fill time (a naive datetime is taken as UTC). Rows are oldest
    first; ``limit`` keeps the newest ``limit`` of them. ``notional_quote`` is quantity * price.
    """
    run = _run_or_latest(engine, run_id)
    if run is None:
        return Report(list(FILL_COLUMNS), [])
    columns = executions.c
    stored = [name for name in FILL_COLUMNS if name != "notional_quote"]
    query = select(*(columns[name] for name in stored)).where(columns.run_id == run)
    if symbol is not None:
        query = query.where(columns.symbol == symbol)
    if since is not None:
        query = query.where(columns.at >= _bind_time(since, engine.dialect.name))
    rows = _newest(engine, query, (columns.at, columns.exec_id), limit, "executions")
    table_rows = []
    for row in rows:
        values = dict(row)
        values["notional_quote"] = _WIDE.multiply(row["quantity"], row["price"])
        values["liquidity"] = liquidity_name(row["liquidity"])
        table_rows.append(_cells(values, FILL_COLUMNS))
    return Report(list(FILL_COLUMNS), table_rows)


@dataclass(slots=True)
class _ExecutionTotals:
    fills: int = 0
    bought_base: Decimal = ZERO
    sold_base: Decimal = ZERO
    cash_flow_quote: Decimal = ZERO
    fees_quote: Decimal = ZERO
    last_fill_at: datetime | None = None

    @property
    def net_base(self) -> Decimal:
        return self.bought_base - self.sold_base


def pnl_report(engine: Engine, *, run_id: str | None = None) -> Report:
    """Per symbol of the run (the latest when ``run_id`` is None): snapshots against fills.

    See :data:`PNL_COLUMNS` for what each column holds. ``position_check`` is ``agree``,
    ``no snapshot``, or ``DIFFERS by <snapshot - executions>`` (with ``snapshot older than
    the last fill`` when that may explain it). Symbols are sorted.
    """
    run = _run_or_latest(engine, run_id)
    if run is None:
        return Report(list(PNL_COLUMNS), [])
    positions = last_by_symbol(engine, position_snapshots, run)
    pnl = last_by_symbol(engine, pnl_snapshots, run)
    fills = fetch_rows(
        engine,
        select(
            executions.c.symbol,
            executions.c.side,
            executions.c.quantity,
            executions.c.price,
            executions.c.fee,
            executions.c.at,
        ).where(executions.c.run_id == run),
        "executions",
    )
    totals = _execution_totals(fills)
    rows = []
    for symbol in sorted(set(positions) | set(pnl) | set(totals)):
        position = positions.get(symbol, {})
        pnl_row = pnl.get(symbol, {})
        total = totals.get(symbol, _ExecutionTotals())
        snapshot_at = position.get("at") or pnl_row.get("at")
        values = {
            "run_id": run,
            "symbol": symbol,
            "snapshot_at": snapshot_at,
            "position_base": position.get("quantity_base"),
            "avg_entry_price": position.get("avg_entry_price"),
            "fair_value": position.get("fair_value"),
            "realized_pnl_quote": pnl_row.get("realized_pnl_quote"),
            "unrealized_pnl_quote": pnl_row.get("unrealized_pnl_quote"),
            "fees_quote": pnl_row.get("fees_quote"),
            "fills": total.fills,
            "bought_base": total.bought_base,
            "sold_base": total.sold_base,
            "net_base": total.net_base,
            "cash_flow_quote": total.cash_flow_quote,
            "exec_fees_quote": total.fees_quote,
            "position_check": _position_check(position.get("quantity_base"), snapshot_at, total),
        }
        rows.append(_cells(values, PNL_COLUMNS))
    return Report(list(PNL_COLUMNS), rows)


def _execution_totals(fills: Iterable[Mapping[str, Any]]) -> dict[str, _ExecutionTotals]:
    totals: dict[str, _ExecutionTotals] = {}
    for fill in fills:
        total = totals.setdefault(fill["symbol"], _ExecutionTotals())
        quantity, fee = fill["quantity"], fill["fee"]
        notional = _WIDE.multiply(quantity, fill["price"])
        if _side(fill["side"]) == "BUY":
            total.bought_base = _WIDE.add(total.bought_base, quantity)
            total.cash_flow_quote = _WIDE.subtract(total.cash_flow_quote, notional)
        else:
            total.sold_base = _WIDE.add(total.sold_base, quantity)
            total.cash_flow_quote = _WIDE.add(total.cash_flow_quote, notional)
        total.cash_flow_quote = _WIDE.subtract(total.cash_flow_quote, fee)
        total.fees_quote = _WIDE.add(total.fees_quote, fee)
        total.fills += 1
        at = _as_utc(fill["at"])
        if total.last_fill_at is None or at > total.last_fill_at:
            total.last_fill_at = at
    return totals


def _side(value: str) -> str:
    """BUY or SELL: the recorder stores the name, FIX says ``1``/``2``."""
    return {"1": "BUY", "2": "SELL"}.get(value, value.upper())


def _position_check(
    snapshot_base: Decimal | None, snapshot_at: datetime | None, total: _ExecutionTotals
) -> str:
    if snapshot_base is None:
        return NO_SNAPSHOT if total.fills else NO_FILLS
    difference = _WIDE.subtract(snapshot_base, total.net_base)
    if difference == ZERO:
        return AGREE
    text = f"DIFFERS by {format_decimal(difference)}"
    last_fill = total.last_fill_at
    if snapshot_at is not None and last_fill is not None and _as_utc(snapshot_at) < last_fill:
        text += " (snapshot older than the last fill)"
    return text


# --------------------------------------------------------------------------- helpers


def _run_or_latest(engine: Engine, run_id: str | None) -> str | None:
    return run_id if run_id is not None else latest_run_id(engine)


def last_by_symbol(engine: Engine, table: Any, run_id: str) -> dict[str, Mapping[str, Any]]:
    """The row with the highest id (the last written) per symbol of the run."""
    last_ids = (
        select(func.max(table.c.id))
        .where(table.c.run_id == run_id)
        .group_by(table.c.symbol)
        .scalar_subquery()
    )
    query = select(table).where(table.c.id.in_(last_ids))
    return {row["symbol"]: row for row in fetch_rows(engine, query, table.name)}


def _newest(
    engine: Engine, query: Select[Any], order: tuple[Any, ...], limit: int | None, what: str
) -> list[Mapping[str, Any]]:
    """Rows oldest first; with ``limit``, only the newest ``limit`` of them."""
    if limit is None:
        return fetch_rows(engine, query.order_by(*order), what)
    if limit <= 0:
        return []
    newest = fetch_rows(engine, query.order_by(*(c.desc() for c in order)).limit(limit), what)
    return newest[::-1]


def fetch_rows(engine: Engine, query: Any, what: str) -> list[Mapping[str, Any]]:
    """Rows as mappings; a database error becomes one :class:`TruexError` line."""
    try:
        with engine.connect() as connection:
            # SQLAlchemy keys a RowMapping by name or Column; a select's rows are read by name.
            return cast(
                list[Mapping[str, Any]], [row._mapping for row in connection.execute(query)]
            )
    except SQLAlchemyError as error:
        raise TruexError(
            f"reading {what} from {mask_url(engine.url)} failed: {one_line(error)}"
        ) from None


def _cells(values: Mapping[str, Any], names: list[str]) -> list[str]:
    return [format_value(values[name]) for name in names]


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _bind_time(value: datetime, dialect: str) -> datetime:
    """SQLite stores times as naive UTC text (the tzinfo of a bound value is dropped)."""
    utc = _as_utc(value)
    return utc.replace(tzinfo=None) if dialect == "sqlite" else utc


# --------------------------------------------------------------------------- views


PNL_TABLE_COLUMNS = [
    "symbol",
    "position",
    "entry",
    "fair",
    "realized",
    "unrealized",
    "fees",
    "ccy",
    "fills",
    "check",
]


def pnl_table(report: Report) -> Report:
    """:func:`pnl_report` for reading: amounts at the instrument's precision, money in the
    quote currency (named in ``ccy``), the position check in short (``DIFFERS 0.5, stale``:
    the snapshot is older than the last fill); ``entry`` is the average entry price."""
    table = []
    for values in (dict(zip(report.columns, row, strict=True)) for row in report.rows):
        reference = values["fair_value"] or values["avg_entry_price"]
        a = Amounts(values["symbol"], Decimal(reference) if reference else None)

        def number(name: str, values: dict[str, str] = values) -> Decimal | None:
            return Decimal(values[name]) if values[name] else None

        check = (
            values["position_check"]
            .replace("DIFFERS by", "DIFFERS")
            .replace(" (snapshot older than the last fill)", ", stale")
        )
        table.append(
            [
                values["symbol"],
                a.quantity(number("position_base")),
                a.price(number("avg_entry_price")),
                a.price(number("fair_value")),
                a.money(number("realized_pnl_quote")),
                a.money(number("unrealized_pnl_quote")),
                a.money(number("exec_fees_quote")),
                a.quote,
                values["fills"],
                check,
            ]
        )
    return Report(list(PNL_TABLE_COLUMNS), table)
