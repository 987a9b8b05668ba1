"""The database the report and status tests read, built by hand: two runs.

Run ``run-b`` (the latest) trades BTC-PYUSD both ways, sells some ETH-PYUSD after its last
snapshot, buys XRP-PYUSD that no snapshot covers, and has a SOL-PYUSD snapshot with no fills.
Run ``run-a`` (older) holds one BTC-PYUSD fill, so every query must keep the runs apart.
Run ``run-b``'s quote snapshots: BTC-PYUSD with a reference and a moment with no ask working,
ETH-PYUSD without a reference (as a run configured without one); run ``run-a`` has none (as a
run recorded before quotes were stored).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine, insert

from truex_qf.storage.schema import (
    executions,
    orders,
    pnl_snapshots,
    position_snapshots,
    quote_snapshots,
    risk_events,
    runs,
    session_events,
)

D = Decimal
BTC, ETH, SOL, XRP = "BTC-PYUSD", "ETH-PYUSD", "SOL-PYUSD", "XRP-PYUSD"


PARTIAL = "PARTIALLY_FILLED"


def at(minute: int, second: int, hour: int = 10) -> datetime:
    return datetime(2025, 9, 10, hour, minute, second, tzinfo=UTC)


def order_row(
    run_id: str,
    cl_ord_id: str,
    symbol: str,
    side: str,
    price: str,
    qty: str,
    cum: str,
    leaves: str,
    state: str,
    created: datetime,
) -> dict:
    return {
        "cl_ord_id": cl_ord_id,
        "run_id": run_id,
        "current_cl_ord_id": cl_ord_id,
        "order_id": f"V-{cl_ord_id}",
        "symbol": symbol,
        "side": side,
        "ord_type": "LIMIT",
        "time_in_force": "GTC",
        "price": D(price),
        "quantity": D(qty),
        "cum_qty": D(cum),
        "leaves_qty": D(leaves),
        "avg_px": D(price) if D(cum) else None,
        "state": state,
        "created_at": created,
        "updated_at": created,
    }


def fill_row(
    run_id: str,
    exec_id: str,
    cl_ord_id: str,
    symbol: str,
    side: str,
    qty: str,
    price: str,
    fee: str,
    when: datetime,
) -> dict:
    return {
        "exec_id": exec_id,
        "run_id": run_id,
        "cl_ord_id": cl_ord_id,
        "order_id": f"V-{cl_ord_id}",
        "symbol": symbol,
        "side": side,
        "quantity": D(qty),
        "price": D(price),
        "fee": D(fee),
        "liquidity": "M",
        "trade_match_id": f"T-{exec_id}",
        "at": when,
    }


def position_row(
    run_id: str, symbol: str, qty: str, avg: str | None, fair: str | None, when: datetime
) -> dict:
    return {
        "run_id": run_id,
        "symbol": symbol,
        "quantity_base": D(qty),
        "avg_entry_price": D(avg) if avg else None,
        "fair_value": D(fair) if fair else None,
        "at": when,
    }


def pnl_row(
    run_id: str, symbol: str, realized: str, unrealized: str | None, fees: str, when: datetime
) -> dict:
    return {
        "run_id": run_id,
        "symbol": symbol,
        "realized_pnl_quote": D(realized),
        "unrealized_pnl_quote": D(unrealized) if unrealized else None,
        "fees_quote": D(fees),
        "at": when,
    }


def quote_row(
    run_id: str,
    symbol: str,
    bid: str | None,
    ask: str | None,
    truex: str | None,
    reference: str | None,
    when: datetime,
) -> dict:
    return {
        "run_id": run_id,
        "symbol": symbol,
        "bid_quote_price": D(bid) if bid else None,
        "ask_quote_price": D(ask) if ask else None,
        "truex_price": D(truex) if truex else None,
        "reference_price": D(reference) if reference else None,
        "at": when,
    }


def fill_database(engine: Engine) -> None:
    """Two runs' worth of rows (see the module docstring)."""
    rows = {
        runs: [
            {
                "run_id": "run-a",
                "mode": "run",
                "venue": "uat:1234",
                "sender_comp_id": "ME",
                "started_at": at(0, 0, hour=9),
                "ended_at": at(30, 0, hour=9),
            },
            {
                "run_id": "run-b",
                "mode": "demo",
                "venue": "uat:1234",
                "sender_comp_id": "ME",
                "started_at": at(0, 0),
                "ended_at": None,
            },
        ],
        orders: [
            order_row("run-a", "A1", BTC, "BUY", "90", "3", "3", "0", "FILLED", at(1, 0, 9)),
            order_row("run-b", "B1", BTC, "BUY", "100.50", "2", "2", "0", "FILLED", at(0, 1)),
            order_row("run-b", "B2", BTC, "SELL", "101.25", "1.5", "1", "0.5", PARTIAL, at(0, 2)),
            order_row("run-b", "B3", BTC, "BUY", "99", "1", "0", "0", "CANCELED", at(0, 3)),
            order_row("run-b", "B4", ETH, "SELL", "2000.1", "3", "0.5", "2.5", PARTIAL, at(0, 4)),
            order_row("run-b", "B5", ETH, "BUY", "1999", "1E-8", "0", "0", "REJECTED", at(0, 5)),
            order_row("run-b", "B6", XRP, "BUY", "0.5", "10", "10", "0", "FILLED", at(0, 6)),
        ],
        executions: [
            fill_row("run-a", "EA1", "A1", BTC, "BUY", "3", "90", "0.03", at(1, 1, 9)),
            fill_row("run-b", "E1", "B1", BTC, "BUY", "1.2", "100.5", "0.012", at(0, 10)),
            fill_row("run-b", "E2", "B1", BTC, "BUY", "0.8", "100.5", "0.008", at(0, 11)),
            fill_row("run-b", "E3", "B2", BTC, "SELL", "1", "101.25", "-0.01", at(0, 12)),
            fill_row("run-b", "E4", "B4", ETH, "SELL", "0.5", "2000.1", "0.1", at(0, 13)),
            fill_row("run-b", "E5", "B6", XRP, "BUY", "10", "0.5", "0", at(0, 14)),
        ],
        position_snapshots: [
            position_row("run-a", BTC, "3", "90", "91", at(2, 0, 9)),
            position_row("run-b", BTC, "0", None, "100.4", at(0, 5)),  # superseded below
            position_row("run-b", ETH, "0", None, "2000", at(0, 12)),  # before ETH's fill
            position_row("run-b", BTC, "1", "100.5", "100.9", at(0, 20)),
            position_row("run-b", SOL, "5", "20", "21", at(0, 30)),  # no fills at all
        ],
        pnl_snapshots: [
            pnl_row("run-a", BTC, "-0.03", "3", "0.03", at(2, 0, 9)),
            pnl_row("run-b", BTC, "0", None, "0", at(0, 5)),
            pnl_row("run-b", ETH, "0", None, "0", at(0, 12)),
            pnl_row("run-b", BTC, "0.74", "0.4", "0.01", at(0, 20)),
        ],
        quote_snapshots: [
            quote_row("run-b", BTC, "100.3", "100.6", "100.45", "100.4", at(0, 5)),
            quote_row("run-b", BTC, "100.5", None, "100.5", "100.55", at(0, 10)),
            quote_row("run-b", ETH, "1999", "2000.1", "2000", None, at(0, 12)),
            quote_row("run-b", BTC, "100.7", "101.1", "100.9", "100.95", at(0, 15)),
            quote_row("run-b", BTC, "100.6", "101.2", "100.9", "100.9", at(0, 20)),
            quote_row("run-b", ETH, "1999.5", "2000.5", "2000.1", None, at(0, 20)),
        ],
        risk_events: [
            {
                "run_id": "run-b",
                "kind": "DENIAL",
                "reason_code": "MAX_POSITION",
                "symbol": BTC,
                "detail": "BUY level 0: over the limit",
                "at": at(0, 15),
            },
        ],
        session_events: [
            {
                "run_id": "run-b",
                "session": "FIXT.1.1:ME->TRUEX_OE",
                "role": "order_entry",
                "kind": "LOGON",
                "text": None,
                "at": at(0, 0),
            },
        ],
    }
    with engine.begin() as connection:
        for table, values in rows.items():
            connection.execute(insert(table), values)
