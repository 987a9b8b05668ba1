"""The SQL schema: what a compliance officer can query after a run.

One table per kind of fact, every row stamped with the ``run_id`` of the process that wrote it.
Money and quantities are :class:`ExactDecimal`: NUMERIC(38, 18) on PostgreSQL and text on
SQLite (whose NUMERIC is a float and would round a price), so both give back the exact
Decimal that was written. Times are UTC.

The FIX journal is hash-chained: each row's ``hash`` is SHA-256 over its own content and the
previous row's hash (see :mod:`truex_qf.storage.journal`), so an edited or missing row breaks
the chain at that point.
"""

from __future__ import annotations

from decimal import Context, Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

# Alembic's version of this schema; bump it with every migration (the program refuses to run
# on a database at another version).
SCHEMA_REVISION = "0002"

_WIDE = Context(prec=38)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal that round-trips exactly on PostgreSQL and SQLite."""

    impl = Numeric(38, 18)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric(38, 18, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return format(value, "f")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        number = Decimal(str(value))
        # PostgreSQL pads to the column's scale; give back the plainest exact form, in a
        # context wide enough for all 38 digits (the default 28 would round)
        if number == number.to_integral_value():
            return number.quantize(Decimal(1), context=_WIDE)
        return number.normalize(_WIDE)


def _at(name: str = "at") -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=False)


def _id() -> Column[Any]:
    """A row's own key: a 64-bit counter (SQLite's autoincrement wants INTEGER)."""
    return Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )


runs = Table(
    "runs",
    metadata,
    Column("run_id", String(36), primary_key=True),
    Column("mode", String(16), nullable=False),  # run, demo, test-order
    Column("venue", String(255), nullable=False),  # host:ports, never credentials
    Column("sender_comp_id", String(64), nullable=False),
    _at("started_at"),
    Column("ended_at", DateTime(timezone=True)),
)

orders = Table(
    "orders",
    metadata,
    Column("cl_ord_id", String(64), primary_key=True),  # the lineage's first ClOrdID
    Column("run_id", String(36), nullable=False, index=True),
    Column("current_cl_ord_id", String(64), nullable=False),
    Column("order_id", String(64)),
    Column("symbol", String(32), nullable=False),
    Column("side", String(4), nullable=False),  # BUY / SELL
    Column("ord_type", String(8), nullable=False),
    Column("time_in_force", String(8), nullable=False),
    Column("price", ExactDecimal()),
    Column("quantity", ExactDecimal(), nullable=False),
    Column("cum_qty", ExactDecimal(), nullable=False),
    Column("leaves_qty", ExactDecimal(), nullable=False),
    Column("avg_px", ExactDecimal()),
    Column("state", String(24), nullable=False),
    _at("created_at"),
    _at("updated_at"),
)

order_events = Table(
    "order_events",
    metadata,
    _id(),
    Column("run_id", String(36), nullable=False),
    Column("cl_ord_id", String(64), nullable=False, index=True),  # lineage key, as in orders
    Column("event_cl_ord_id", String(64), nullable=False),  # the ID the event came under
    Column("previous_state", String(24)),
    Column("state", String(24), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("text", Text),
    _at(),
)

executions = Table(
    "executions",
    metadata,
    Column("exec_id", String(64), primary_key=True),
    Column("run_id", String(36), nullable=False, index=True),
    Column("cl_ord_id", String(64), nullable=False, index=True),
    Column("order_id", String(64)),
    Column("symbol", String(32), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity", ExactDecimal(), nullable=False),
    Column("price", ExactDecimal(), nullable=False),
    Column("fee", ExactDecimal(), nullable=False),
    Column("liquidity", String(4)),
    Column("trade_match_id", String(64)),
    _at(),
)

position_snapshots = Table(
    "position_snapshots",
    metadata,
    _id(),
    Column("run_id", String(36), nullable=False, index=True),
    Column("symbol", String(32), nullable=False),
    Column("quantity_base", ExactDecimal(), nullable=False),
    Column("avg_entry_price", ExactDecimal()),
    Column("fair_value", ExactDecimal()),
    _at(),
)

pnl_snapshots = Table(
    "pnl_snapshots",
    metadata,
    _id(),
    Column("run_id", String(36), nullable=False, index=True),
    Column("symbol", String(32), nullable=False),
    Column("realized_pnl_quote", ExactDecimal(), nullable=False),
    Column("unrealized_pnl_quote", ExactDecimal()),
    Column("fees_quote", ExactDecimal(), nullable=False),
    _at(),
)

# Our quotes against the market, per symbol, with every position snapshot: our best working bid
# and ask (NULL: none working), the TrueX price fair value read (the mid of others' orders, or
# their micro-price if the strategy prices off it) and the reference price (NULL: none
# configured, or none received yet). What the last quote decision read, so they match the quotes.
quote_snapshots = Table(
    "quote_snapshots",
    metadata,
    _id(),
    Column("run_id", String(36), nullable=False, index=True),
    Column("symbol", String(32), nullable=False),
    Column("bid_quote_price", ExactDecimal()),
    Column("ask_quote_price", ExactDecimal()),
    Column("truex_price", ExactDecimal()),
    Column("reference_price", ExactDecimal()),
    _at(),
)

risk_events = Table(
    "risk_events",
    metadata,
    _id(),
    Column("run_id", String(36), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # DENIAL, STATE, KILL_SWITCH
    Column("reason_code", String(32), nullable=False),
    Column("symbol", String(32)),
    Column("detail", Text),
    _at(),
)

session_events = Table(
    "session_events",
    metadata,
    _id(),
    Column("run_id", String(36), nullable=False, index=True),
    Column("session", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("kind", String(24), nullable=False),  # LOGON, LOGOUT, LOGON_REFUSED, REJECT, EVENT
    Column("text", Text),
    _at(),
)

fix_journal = Table(
    "fix_journal",
    metadata,
    _id(),
    Column("run_id", String(36), nullable=False),
    Column("session", String(128), nullable=False),
    Column("direction", String(3), nullable=False),  # IN / OUT
    Column("msg_type", String(4), nullable=False),
    Column("seq_num", BigInteger),
    Column("cl_ord_id", String(64)),
    Column("text", Text, nullable=False),  # the message, secrets redacted, SOH as is
    Column("logged_at", DateTime(timezone=True), nullable=False),  # sent or received, µs
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_fix_journal_cl_ord_id", "cl_ord_id"),
    Index("ix_fix_journal_logged_at", "logged_at"),
)
