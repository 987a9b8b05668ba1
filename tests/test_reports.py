"""Reports over a SQLite database built by hand: two runs, every expected total worked out here.

Run ``run-b`` (the latest) trades BTC-PYUSD both ways, sells some ETH-PYUSD after its last
snapshot, buys XRP-PYUSD that no snapshot covers, and has a SOL-PYUSD snapshot with no fills.
Run ``run-a`` (older) holds one BTC-PYUSD fill, so every query must keep the runs apart.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, insert

from truex_qf.domain.errors import TruexError
from truex_qf.ops.reports import (
    FILL_COLUMNS,
    ORDER_COLUMNS,
    PNL_COLUMNS,
    Report,
    fills_report,
    format_decimal,
    latest_run_id,
    orders_report,
    pnl_report,
)
from truex_qf.storage.database import make_engine
from truex_qf.storage.schema import (
    executions,
    metadata,
    orders,
    pnl_snapshots,
    position_snapshots,
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


def position_row(run_id, symbol, qty, avg, fair, when) -> dict:  # type: ignore[no-untyped-def]
    return {
        "run_id": run_id,
        "symbol": symbol,
        "quantity_base": D(qty),
        "avg_entry_price": D(avg) if avg else None,
        "fair_value": D(fair) if fair else None,
        "at": when,
    }


def pnl_row(run_id, symbol, realized, unrealized, fees, when) -> dict:  # type: ignore[no-untyped-def]
    return {
        "run_id": run_id,
        "symbol": symbol,
        "realized_pnl_quote": D(realized),
        "unrealized_pnl_quote": D(unrealized) if unrealized else None,
        "fees_quote": D(fees),
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


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'reports.db'}")
    metadata.create_all(engine)
    fill_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def empty_engine(tmp_path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def as_dicts(report: Report) -> list[dict[str, str]]:
    return [dict(zip(report.columns, row, strict=True)) for row in report.rows]


def column(report: Report, name: str) -> list[str]:
    return [row[name] for row in as_dicts(report)]


# --------------------------------------------------------------------------- latest run


def test_latest_run_is_the_one_started_last(engine, empty_engine):
    assert latest_run_id(engine) == "run-b"
    assert latest_run_id(empty_engine) is None


def test_reports_on_a_database_without_runs_are_empty(empty_engine):
    assert orders_report(empty_engine).rows == []
    assert fills_report(empty_engine).rows == []
    assert pnl_report(empty_engine).rows == []
    assert pnl_report(empty_engine).columns == PNL_COLUMNS
    assert "(no rows)" in orders_report(empty_engine).to_table()


def test_a_database_without_the_schema_is_one_truex_error(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    try:
        with pytest.raises(TruexError, match=r"reading runs from sqlite:///.*bare\.db failed"):
            orders_report(engine)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- orders


def test_orders_report_defaults_to_the_latest_run_oldest_first(engine):
    report = orders_report(engine)
    assert report.columns == ORDER_COLUMNS
    assert column(report, "cl_ord_id") == ["B1", "B2", "B3", "B4", "B5", "B6"]
    first = as_dicts(report)[1]
    assert first == {
        "cl_ord_id": "B2",
        "current_cl_ord_id": "B2",
        "order_id": "V-B2",
        "symbol": BTC,
        "side": "SELL",
        "ord_type": "LIMIT",
        "time_in_force": "GTC",
        "price": "101.25",
        "quantity": "1.5",
        "cum_qty": "1",
        "leaves_qty": "0.5",
        "avg_px": "101.25",
        "state": "PARTIALLY_FILLED",
        "created_at": "2025-09-10T10:00:02.000000Z",
        "updated_at": "2025-09-10T10:00:02.000000Z",
    }
    # exact and without exponent: 1E-8 would be Decimal's own str()
    assert as_dicts(report)[4]["quantity"] == "0.00000001"
    assert as_dicts(report)[0]["price"] == "100.5"
    assert as_dicts(report)[2]["avg_px"] == ""


def test_orders_report_filters(engine):
    assert column(orders_report(engine, run_id="run-a"), "cl_ord_id") == ["A1"]
    assert column(orders_report(engine, symbol=ETH), "cl_ord_id") == ["B4", "B5"]
    partial = orders_report(engine, state="partially_filled")
    assert column(partial, "cl_ord_id") == ["B2", "B4"]
    assert column(orders_report(engine, symbol=BTC, state="FILLED"), "cl_ord_id") == ["B1"]
    assert column(orders_report(engine, limit=2), "cl_ord_id") == ["B5", "B6"]
    assert orders_report(engine, limit=0).rows == []
    assert orders_report(engine, run_id="no-such-run").rows == []


# --------------------------------------------------------------------------- fills


def test_fills_report_rows_and_notional(engine):
    report = fills_report(engine)
    assert report.columns == FILL_COLUMNS
    assert column(report, "exec_id") == ["E1", "E2", "E3", "E4", "E5"]
    e1, _, e3, e4, _ = as_dicts(report)
    assert e1["at"] == "2025-09-10T10:00:10.000000Z"
    assert (e1["side"], e1["quantity"], e1["price"], e1["fee"]) == ("BUY", "1.2", "100.5", "0.012")
    assert e1["notional_quote"] == "120.6"  # 1.2 * 100.5
    assert (e3["side"], e3["fee"], e3["notional_quote"]) == ("SELL", "-0.01", "101.25")
    assert e4["notional_quote"] == "1000.05"  # 0.5 * 2000.1
    assert (e1["liquidity"], e1["trade_match_id"], e1["order_id"]) == ("maker", "T-E1", "V-B1")


def test_fills_report_filters(engine):
    assert column(fills_report(engine, run_id="run-a"), "exec_id") == ["EA1"]
    assert column(fills_report(engine, symbol=BTC), "exec_id") == ["E1", "E2", "E3"]
    assert column(fills_report(engine, since=at(0, 12)), "exec_id") == ["E3", "E4", "E5"]
    naive = datetime(2025, 9, 10, 10, 0, 13)  # taken as UTC
    assert column(fills_report(engine, since=naive), "exec_id") == ["E4", "E5"]
    assert column(fills_report(engine, limit=2), "exec_id") == ["E4", "E5"]
    assert column(fills_report(engine, symbol=BTC, since=at(0, 11), limit=1), "exec_id") == ["E3"]


# --------------------------------------------------------------------------- pnl


def test_pnl_report_snapshots_against_executions(engine):
    report = pnl_report(engine)
    assert report.columns == PNL_COLUMNS
    by_symbol = {row["symbol"]: row for row in as_dicts(report)}
    assert list(by_symbol) == [BTC, ETH, SOL, XRP]
    assert {row["run_id"] for row in by_symbol.values()} == {"run-b"}

    btc = by_symbol[BTC]
    # the last snapshot (10:00:20), not the one at 10:00:05
    assert btc["snapshot_at"] == "2025-09-10T10:00:20.000000Z"
    assert (btc["position_base"], btc["avg_entry_price"], btc["fair_value"]) == (
        "1",
        "100.5",
        "100.9",
    )
    assert (btc["realized_pnl_quote"], btc["unrealized_pnl_quote"], btc["fees_quote"]) == (
        "0.74",
        "0.4",
        "0.01",
    )
    # bought 1.2 + 0.8, sold 1; cash: 101.25 - 2 * 100.5 - (0.012 + 0.008 - 0.01)
    assert (btc["fills"], btc["bought_base"], btc["sold_base"], btc["net_base"]) == (
        "3",
        "2",
        "1",
        "1",
    )
    assert btc["cash_flow_quote"] == "-99.76"
    assert btc["exec_fees_quote"] == "0.01"
    assert btc["position_check"] == "agree"

    eth = by_symbol[ETH]
    # sold 0.5 at 2000.1 after the only snapshot, which still says flat
    assert (eth["position_base"], eth["net_base"], eth["sold_base"]) == ("0", "-0.5", "0.5")
    assert eth["cash_flow_quote"] == "999.95"  # 1000.05 - 0.1
    assert eth["unrealized_pnl_quote"] == ""
    assert eth["position_check"] == "DIFFERS by 0.5 (snapshot older than the last fill)"

    sol = by_symbol[SOL]
    assert (sol["position_base"], sol["fills"], sol["net_base"]) == ("5", "0", "0")
    assert sol["realized_pnl_quote"] == ""  # a position snapshot without a pnl one
    assert sol["position_check"] == "DIFFERS by 5"

    xrp = by_symbol[XRP]
    assert (xrp["snapshot_at"], xrp["position_base"]) == ("", "")
    assert (xrp["bought_base"], xrp["net_base"], xrp["cash_flow_quote"]) == ("10", "10", "-5")
    assert xrp["position_check"] == "no snapshot"


def test_pnl_report_of_an_older_run(engine):
    (row,) = as_dicts(pnl_report(engine, run_id="run-a"))
    assert (row["run_id"], row["symbol"], row["position_base"], row["net_base"]) == (
        "run-a",
        BTC,
        "3",
        "3",
    )
    assert row["cash_flow_quote"] == "-270.03"  # -(3 * 90) - 0.03
    assert row["realized_pnl_quote"] == "-0.03"
    assert row["position_check"] == "agree"


# --------------------------------------------------------------------------- formatting


def test_csv_parses_back(engine):
    for report in (orders_report(engine), fills_report(engine), pnl_report(engine)):
        parsed = list(csv.reader(io.StringIO(report.to_csv(), newline="")))
        assert parsed == [report.columns, *report.rows]


def test_csv_quotes_what_needs_quoting():
    report = Report(["a", "b"], [['x, "y"', "line\nbreak"]])
    assert list(csv.reader(io.StringIO(report.to_csv(), newline=""))) == [
        ["a", "b"],
        ['x, "y"', "line\nbreak"],
    ]


def spans(rule: str) -> list[tuple[int, int]]:
    """Start and end of each run of dashes in the table's rule line."""
    result, start = [], None
    for index, char in enumerate(rule + " "):
        if char == "-" and start is None:
            start = index
        elif char != "-" and start is not None:
            result.append((start, index))
            start = None
    return result


@pytest.mark.parametrize("make", [orders_report, fills_report, pnl_report])
def test_table_aligns_every_cell_under_its_header(engine, make):
    report = make(engine)
    header, rule, *lines = report.to_table().splitlines()
    columns = spans(rule)
    assert len(columns) == len(report.columns)
    assert len(lines) == len(report.rows)
    for line, cells in zip([header, *lines], [report.columns, *report.rows], strict=True):
        padded = line.ljust(len(rule))
        for (start, end), cell in zip(columns, cells, strict=True):
            assert padded[start:end].strip() == cell
            # two spaces between columns: nothing spills over
            assert padded[end : end + 2].strip() == ""


def test_table_right_aligns_numbers_and_left_aligns_text():
    report = Report(["name", "qty"], [["a", "1.5"], ["long name", "100"]])
    assert report.to_table().splitlines() == [
        "name       qty",
        "---------  ---",
        "a          1.5",
        "long name  100",
    ]


def test_decimals_print_exactly_without_exponent():
    assert format_decimal(D("1E+2")) == "100"
    assert format_decimal(D("1E-12")) == "0.000000000001"
    assert format_decimal(D("2.50000")) == "2.5"
    assert format_decimal(D("-0")) == "0"
    long = D("12345678901234567890.123456789012345678")  # 38 digits
    assert format_decimal(long) == "12345678901234567890.123456789012345678"
