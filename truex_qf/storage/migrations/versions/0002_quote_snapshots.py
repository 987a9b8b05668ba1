"""Quote snapshots: our best bid and ask, the TrueX mid and the reference, per symbol over time.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

Written with the snapshots every 5 s and at the end, so ``truex-qf report --html`` can draw our
quotes against the market. Like 0001, written out by hand and importing nothing of the program:
money is NUMERIC(38, 18) on PostgreSQL and VARCHAR(64) on SQLite, the id BIGINT on PostgreSQL
and INTEGER on SQLite. Runs recorded before this revision simply have no rows here.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLE = "quote_snapshots"


def _money(name: str) -> sa.Column[Any]:
    kind = sa.Numeric(38, 18).with_variant(sa.String(64), "sqlite")
    return sa.Column(name, kind, nullable=True)


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        _money("bid_quote_price"),
        _money("ask_quote_price"),
        _money("truex_price"),
        _money("reference_price"),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
    )
    op.create_index(op.f(f"ix_{TABLE}_run_id"), TABLE, ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f(f"ix_{TABLE}_run_id"), table_name=TABLE)
    op.drop_table(TABLE)
