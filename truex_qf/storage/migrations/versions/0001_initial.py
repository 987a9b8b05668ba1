"""The initial schema: runs, orders, events, executions, snapshots and the FIX journal.

Revision ID: 0001
Revises:
Create Date: 2025-09-10

Written out by hand rather than from ``metadata.create_all`` so that this revision stays what
it was when later revisions change ``schema.py``. Nothing here imports the program: money is
NUMERIC(38, 18) on PostgreSQL and VARCHAR(64) on SQLite (what ``ExactDecimal`` stores), ids are
BIGINT on PostgreSQL and INTEGER on SQLite (which only auto-increments an INTEGER key).
Constraint and index names follow ``schema.metadata``'s naming convention.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _money(name: str, nullable: bool = False) -> sa.Column[Any]:
    kind = sa.Numeric(38, 18).with_variant(sa.String(64), "sqlite")
    return sa.Column(name, kind, nullable=nullable)


def _id() -> sa.Column[Any]:
    kind = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    return sa.Column("id", kind, autoincrement=True, nullable=False)


def _at(name: str = "at", nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, length: int, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))


def _index(table: str, column: str) -> None:
    op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "runs",
        _text("run_id", 36),
        _text("mode", 16),
        _text("venue", 255),
        _text("sender_comp_id", 64),
        _at("started_at"),
        _at("ended_at", nullable=True),
        _pk("runs", "run_id"),
    )

    op.create_table(
        "orders",
        _text("cl_ord_id", 64),
        _text("run_id", 36),
        _text("current_cl_ord_id", 64),
        _text("order_id", 64, nullable=True),
        _text("symbol", 32),
        _text("side", 4),
        _text("ord_type", 8),
        _text("time_in_force", 8),
        _money("price", nullable=True),
        _money("quantity"),
        _money("cum_qty"),
        _money("leaves_qty"),
        _money("avg_px", nullable=True),
        _text("state", 24),
        _at("created_at"),
        _at("updated_at"),
        _pk("orders", "cl_ord_id"),
    )
    _index("orders", "run_id")

    op.create_table(
        "order_events",
        _id(),
        _text("run_id", 36),
        _text("cl_ord_id", 64),
        _text("event_cl_ord_id", 64),
        _text("previous_state", 24, nullable=True),
        _text("state", 24),
        _text("reason", 64),
        sa.Column("text", sa.Text(), nullable=True),
        _at(),
        _pk("order_events", "id"),
    )
    _index("order_events", "cl_ord_id")

    op.create_table(
        "executions",
        _text("exec_id", 64),
        _text("run_id", 36),
        _text("cl_ord_id", 64),
        _text("order_id", 64, nullable=True),
        _text("symbol", 32),
        _text("side", 4),
        _money("quantity"),
        _money("price"),
        _money("fee"),
        _text("liquidity", 4, nullable=True),
        _text("trade_match_id", 64, nullable=True),
        _at(),
        _pk("executions", "exec_id"),
    )
    _index("executions", "run_id")
    _index("executions", "cl_ord_id")

    op.create_table(
        "position_snapshots",
        _id(),
        _text("run_id", 36),
        _text("symbol", 32),
        _money("quantity_base"),
        _money("avg_entry_price", nullable=True),
        _money("fair_value", nullable=True),
        _at(),
        _pk("position_snapshots", "id"),
    )
    _index("position_snapshots", "run_id")

    op.create_table(
        "pnl_snapshots",
        _id(),
        _text("run_id", 36),
        _text("symbol", 32),
        _money("realized_pnl_quote"),
        _money("unrealized_pnl_quote", nullable=True),
        _money("fees_quote"),
        _at(),
        _pk("pnl_snapshots", "id"),
    )
    _index("pnl_snapshots", "run_id")

    op.create_table(
        "risk_events",
        _id(),
        _text("run_id", 36),
        _text("kind", 16),
        _text("reason_code", 32),
        _text("symbol", 32, nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        _at(),
        _pk("risk_events", "id"),
    )
    _index("risk_events", "run_id")

    op.create_table(
        "session_events",
        _id(),
        _text("run_id", 36),
        _text("session", 128),
        _text("role", 16),
        _text("kind", 24),
        sa.Column("text", sa.Text(), nullable=True),
        _at(),
        _pk("session_events", "id"),
    )
    _index("session_events", "run_id")

    op.create_table(
        "fix_journal",
        _id(),
        _text("run_id", 36),
        _text("session", 128),
        _text("direction", 3),
        _text("msg_type", 4),
        sa.Column("seq_num", sa.BigInteger(), nullable=True),
        _text("cl_ord_id", 64, nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        _at("logged_at"),
        _text("prev_hash", 64),
        _text("hash", 64),
        _pk("fix_journal", "id"),
    )
    _index("fix_journal", "cl_ord_id")
    _index("fix_journal", "logged_at")


def downgrade() -> None:
    for table, column in [
        ("fix_journal", "logged_at"),
        ("fix_journal", "cl_ord_id"),
        ("session_events", "run_id"),
        ("risk_events", "run_id"),
        ("pnl_snapshots", "run_id"),
        ("position_snapshots", "run_id"),
        ("executions", "cl_ord_id"),
        ("executions", "run_id"),
        ("order_events", "cl_ord_id"),
        ("orders", "run_id"),
    ]:
        op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
    for table in [
        "fix_journal",
        "session_events",
        "risk_events",
        "pnl_snapshots",
        "position_snapshots",
        "executions",
        "order_events",
        "orders",
        "runs",
    ]:
        op.drop_table(table)
