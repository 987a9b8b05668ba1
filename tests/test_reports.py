"""Reports over a SQLite database built by hand: two runs, every expected total worked out here.

The database and what each run holds: tests/support/report_db.py.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, insert, select

from tests.support.report_db import (
    BTC,
    ETH,
    SOL,
    XRP,
    at,
    fill_database,
    pnl_row,
)
from tests.support.tools import program_or_skip
from truex_qf.domain.errors import ConfigError, TruexError
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
from truex_qf.storage.database import make_engine, upgrade
from truex_qf.storage.schema import (
    metadata,
    order_events,
    pnl_snapshots,
    risk_events,
    runs,
)

D = Decimal


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


# --------------------------------------------------------------------------- runs


def test_runs_are_found_in_the_program_store_and_the_demo_store(tmp_path, engine):
    from truex_qf.ops.runs import (
        demo_state_dir,
        resolve_run,
        run_lines,
        runs_report,
        store_urls,
    )

    state = tmp_path / "state"
    assert store_urls(state, env={}) == []  # nothing stored: no store, and none created
    assert not state.exists()
    demo_url = f"sqlite:///{demo_state_dir(state) / 'truex-qf.db'}"
    demo_state_dir(state).mkdir(parents=True)
    upgrade(demo_url)  # the schema at its revision, as the program makes it
    demo = make_engine(demo_url)
    with demo.begin() as connection:
        connection.execute(
            insert(runs),
            {
                "run_id": "demo-1234",
                "mode": "demo",
                "venue": "127.0.0.1:1",
                "sender_comp_id": "DEMO_MM",
                "started_at": at(0, 0, hour=11),  # the newest of all
                "ended_at": at(0, 20, hour=11),
            },
        )
    demo.dispose()
    urls = store_urls(state, env={})
    assert len(urls) == 1  # only the demo's exists yet
    upgrade(f"sqlite:///{state / 'truex-qf.db'}")
    main_engine = make_engine(f"sqlite:///{state / 'truex-qf.db'}")
    fill_database(main_engine)
    main_engine.dispose()
    urls = store_urls(state, env={})
    assert len(urls) == 2

    assert resolve_run(urls, None).run_id == "demo-1234"  # the latest, wherever it is
    assert resolve_run(urls, "demo-").run_id == "demo-1234"
    assert resolve_run(urls, "run-a").url == urls[0]
    with pytest.raises(ConfigError) as unknown:
        resolve_run(urls, "nope")
    assert unknown.value.exit_code == 2 and "no such run" in str(unknown.value)
    with pytest.raises(ConfigError, match="ambiguous"):
        resolve_run(urls, "run-")

    lines = run_lines(urls)
    assert [line.run.run_id for line in lines] == ["demo-1234", "run-b", "run-a"]
    by_id = {line.run.run_id: line for line in lines}
    assert (by_id["run-b"].fills, by_id["run-b"].volume_base) == (5, D("13.5"))
    # run-b's last snapshots: BTC 0.74 + 0.4 - 0.01, ETH 0 + 0 - 0
    assert by_id["run-b"].pnl_quote == D("1.13")
    table = as_dicts(runs_report(lines))
    assert table[0] == {
        "id": "demo-123",
        "started_utc": "2025-09-10 11:00:00",
        "duration": "20s",
        "mode": "demo",
        "fills": "0",
        "volume": "0",
        "pnl": "",
    }
    assert table[1]["duration"] == "running" and table[1]["pnl"] == "1.13"
    assert table[2]["duration"] == "30m00s"


def test_a_database_url_is_one_store_for_the_demo_and_run(tmp_path):
    from truex_qf.ops.runs import store_urls

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    (tmp_path / "shared.db").touch()
    assert store_urls(tmp_path / "state", env={"DATABASE_URL": url}) == [url]


# --------------------------------------------------------------------------- summary


def _summary(engine: Engine, run_id: str = "run-b"):  # type: ignore[no-untyped-def]
    from truex_qf.ops.runs import StoredRun
    from truex_qf.ops.summary import summarize_run

    with engine.connect() as connection:
        row = connection.execute(select(runs).where(runs.c.run_id == run_id)).one()._mapping
    started, ended = row["started_at"].replace(tzinfo=UTC), row["ended_at"]
    run = StoredRun(
        run_id=row["run_id"],
        mode=row["mode"],
        sender_comp_id=row["sender_comp_id"],
        started_at=started,
        ended_at=ended.replace(tzinfo=UTC) if ended else None,
        url=str(engine.url),
    )
    return summarize_run(engine, run)


def test_summary_figures_by_hand(engine):
    with engine.begin() as connection:
        connection.execute(
            insert(risk_events),
            [
                {"run_id": "run-b", "kind": "STATE", "reason_code": "WAITING", "at": at(0, 1)},
                {"run_id": "run-b", "kind": "STATE", "reason_code": "ACTIVE", "at": at(0, 10)},
                {"run_id": "run-b", "kind": "STATE", "reason_code": "HALTED", "at": at(0, 25)},
            ],
        )
        connection.execute(
            insert(order_events),
            [
                {
                    "run_id": "run-b",
                    "cl_ord_id": "B5",
                    "event_cl_ord_id": "B5",
                    "state": "REJECTED",
                    "reason": "VENUE_REJECT",
                    "text": "Invalid quantity increment",
                    "at": at(0, 5),
                }
            ],
        )
        # a later BTC snapshot 0.5 below the 1.13 high: the drawdown
        connection.execute(
            insert(pnl_snapshots), pnl_row("run-b", BTC, "0.74", "-0.1", "0.01", at(0, 28))
        )
    report = _summary(engine)
    btc = report.symbols[BTC]
    assert (btc.fills, btc.maker_fills, btc.bought_base, btc.sold_base) == (3, 3, 2, 1)
    assert btc.notional_quote == D("302.25")  # 2 * 100.5 + 101.25
    assert btc.max_inventory_base == D(2)  # 1.2 then 2.0 between two snapshots
    assert btc.max_drawdown_quote == D("0.5")
    assert btc.fees_quote == D("0.01")
    # (101.25 - 100.5) / 100.875 * 10 000
    assert f"{btc.spread_captured_bps:.4f}" == "74.3494"
    assert report.denials == {"MAX_POSITION": 1}
    assert report.rejects == {"Invalid quantity increment": 1}
    # not ended: its length runs to the last record (10:00:30); ACTIVE 10:00:10 to 10:00:25
    assert report.length_s == 30 and report.quoting_s == 15
    fields = btc.fields()
    # a price of ~100.75 is in the 10..1000 bucket: tick 0.001, lot 0.01; money then to 0.001
    assert fields["volume_btc"] == "3.00" and fields["max_inventory_btc"] == "2.00"
    assert fields["notional_pyusd"] == "302.250" and fields["fees_pyusd"] == "0.010"
    assert fields["maker_share_pct"] == "100.0" and fields["spread_captured_bps"] == "74.3"
    assert report.symbols[ETH].spread_captured_bps is None  # sold only
    # four quote snapshots, one (10:00:10) with no ask of ours: ACTIVE, yet one-sided
    assert (btc.quote_snapshots, btc.two_sided_snapshots) == (4, 3)
    assert fields["two_sided_quotes_pct"] == "75.0"

    text = report.lines()
    assert all(len(line) <= 100 for line in text)
    joined = "\n".join(text)
    assert "50.0% of the run in ACTIVE" in joined
    assert "quoted both sides 75.0% of 4 quote snapshots" in joined
    assert "net pnl           0.630 PYUSD" in joined  # 0.74 - 0.1 - 0.01 (its last snapshot)
    assert "MAX_POSITION 1" in joined and "Invalid quantity increment 1" in joined

    data = json.loads(report.to_json())
    assert data["run_id"] == "run-b" and data["symbols"][BTC]["volume_btc"] == "3.00"
    assert data["quoting_uptime_pct"] == "50.0"
    rows = list(csv.reader(io.StringIO(report.to_csv(), newline="")))
    assert rows[0] == ["symbol", "figure", "value"]
    assert [BTC, "spread_captured_bps", "74.3"] in rows
    assert ["", "denials:MAX_POSITION", "1"] in rows


def test_summary_of_a_run_without_fills(engine):
    report = _summary(engine, "run-a")
    assert report.symbols[BTC].fills == 1
    with engine.begin() as connection:
        connection.execute(
            insert(runs),
            {
                "run_id": "run-c",
                "mode": "run",
                "venue": "x",
                "sender_comp_id": "ME",
                "started_at": at(0, 0, hour=12),
                "ended_at": None,
            },
        )
    empty = _summary(engine, "run-c")
    assert empty.symbols == {} and empty.uptime is None
    assert "no fills and no snapshots in this run" in empty.lines()


def test_pnl_table_fits_100_columns_at_the_instruments_precision(engine):
    from truex_qf.ops.reports import pnl_table

    report = pnl_report(engine)
    table = pnl_table(report)
    assert max(len(line) for line in table.to_table().splitlines()) <= 100
    by_symbol = {row["symbol"]: row for row in as_dicts(table)}
    btc = by_symbol[BTC]  # fair value 100.9: tick 0.001, lot 0.01
    assert (btc["position"], btc["entry"], btc["fair"]) == ("1.00", "100.500", "100.900")
    assert (btc["realized"], btc["fees"], btc["ccy"]) == ("0.740", "0.010", "PYUSD")
    assert by_symbol[ETH]["check"] == "DIFFERS 0.5, stale"


def test_amounts_round_to_the_grid_of_the_price_bucket():
    from truex_qf.ops.amounts import Amounts, liquidity_name

    btc = Amounts("BTC-PYUSD", D("100068.1277955271565495207668"))
    assert btc.price(D("100068.1277955271565495207668")) == "100068.1"  # tick 0.5
    assert btc.quantity(D("0.0123456")) == "0.01235"  # lot 0.00001
    assert btc.money(D("4.6496500000000000000000009")) == "4.65"
    assert btc.money(D("-0.001")) == "0.00"  # no "-0.00"
    assert (btc.quote, btc.base) == ("PYUSD", "BTC")
    assert [liquidity_name(c) for c in ("1", "2", None, "X")] == ["maker", "taker", "", "X"]


def test_status_says_the_run_ended_instead_of_sessions_up():
    from truex_qf.ops.status_view import DbSummary, render_status

    live = {
        "state": {"state": "HALTED"},
        "sessions": {"order_entry": {"up": True, "changed_at": 1_000.0}},
        "symbols": {},
    }
    ended = datetime.fromtimestamp(1_050.0, tz=UTC)
    running = render_status(live, DbSummary(run_id="r"), now_s=1_100.0)
    assert "UP since" in "\n".join(running)
    stopped = render_status(live, DbSummary(run_id="r", ended_at=ended), now_s=1_100.0)
    text = "\n".join(stopped)
    assert "UP since" not in text and "closed: the run ended" in text


# --------------------------------------------------------------------------- charts


def test_report_html_draws_every_chart(engine, tmp_path):
    from truex_qf.ops.charts import markouts, read_series, render_html

    series = read_series(engine, "run-b")
    assert len(series.buys[BTC]) == 2 and len(series.sells[BTC]) == 1
    # inventory: the 10:00:05 and 10:00:20 snapshots and the three fills, in time order
    assert [value for _, value in series.inventory[BTC]] == [0, 1.2, 2.0, 1.0, 1]
    assert [value for _, value in series.ask_quotes[BTC]] == [100.6, None, 101.1, 101.2]
    assert [value for _, value in series.reference[ETH]] == [None, None]
    page = render_html(_summary(engine).run, series)
    assert page.startswith("<!doctype html>") and "http" not in page.replace(
        "http://www.w3.org/2000/svg", ""
    )  # self-contained: nothing fetched
    btc = page.split(f"<h2>{BTC}</h2>")[1].split("<h2>")[0]
    assert btc.count("<svg class='chart'") == 3
    assert btc.count("<polyline class='series pnl'") == 1
    assert btc.count("<polyline class='series inventory'") == 1
    assert btc.count("class='fill buy'") == 2 and btc.count("class='fill sell'") == 1
    pnl_points = btc.split("data-kind='pnl'")[1].split("points='")[1].split("'")[0]
    assert len(pnl_points.split()) == 2  # two BTC PnL snapshots

    quotes = btc.split("data-kind='quotes'")[1].split("</svg>")[0]
    assert "against the TrueX mid and the reference" in quotes
    assert all(label in quotes for label in ("our bid", "our ask", "TrueX mid", "reference"))

    def lines(chart: str, css: str) -> list[list[tuple[float, float]]]:
        found = []
        for part in chart.split(f"<polyline class='series {css}'")[1:]:
            coords = part.split("points='")[1].split("'")[0].split()
            found.append([tuple(map(float, xy.split(","))) for xy in coords])
        return found

    (bid,) = lines(quotes, "quote-bid")
    # a step line: 4 snapshots, each value held until the next (flat, then a vertical move)
    assert len(bid) == 7
    assert all(bid[i][1] == bid[i + 1][1] for i in (0, 2, 4))
    assert all(bid[i][0] == bid[i + 1][0] for i in (1, 3, 5))
    first_ask, second_ask = lines(quotes, "quote-ask")  # no ask working at 10:00:10: a gap
    assert len(first_ask) == 2 and first_ask[0][1] == first_ask[1][1]
    assert first_ask[1][0] == bid[1][0]  # held until the snapshot that had none
    assert len(second_ask) == 3
    assert len(lines(quotes, "truex-mid")[0]) == 4 and len(lines(quotes, "reference")[0]) == 4

    eth = page.split(f"<h2>{ETH}</h2>")[1].split("<h2>")[0]
    eth_quotes = eth.split("data-kind='quotes'")[1].split("</svg>")[0]
    assert "series reference" not in eth_quotes and ">  ·  reference<" not in eth_quotes
    assert lines(eth_quotes, "quote-bid") and lines(eth_quotes, "truex-mid")

    # a run stored before quotes were: its fair value in their place
    older = render_html(_summary(engine, "run-a").run, read_series(engine, "run-a"))
    assert "this run stored no quotes" in older and "series fair-value" in older

    # a buy at 100 at t=0; fair value 101 at t=5, 99 at t=30, none after: +100 bps, -100 bps
    fair = [(5.0, 101.0), (30.0, 99.0)]
    assert markouts([(0.0, 100.0)], fair, 1) == {1: 100.0, 10: -100.0, 60: None}
    assert markouts([(0.0, 100.0)], fair, -1)[1] == -100.0


def test_chart_axis_labels_are_short_and_end_at_the_axis(engine):
    # a fresh clone's demo report labelled its PnL axis 2.96438 and 0.100496 from x=2, the
    # longer one drawn across the axis line at x=48
    import re

    from truex_qf.ops.charts import PAD, read_series, render_html

    page = render_html(_summary(engine).run, read_series(engine, "run-b"))
    btc = page.split(f"<h2>{BTC}</h2>")[1].split("<h2>")[0]
    labels = re.findall(r"<text class='y-label' x='(\d+)'[^>]*text-anchor='end'>([^<]*)<", btc)
    assert len(labels) == 6  # top and bottom of three charts
    assert all(int(x) < PAD for x, _ in labels)
    # three significant digits of each axis' span: PnL, inventory (0 to 2), quotes
    assert [text for _, text in labels] == ["1.19", "-0.06", "2.10", "-0.10", "101.30", "100.25"]


def test_report_html_renders_in_headless_chromium(engine, tmp_path):
    browser = program_or_skip(("chromium", "chromium-browser"), "chromium", "CHROMIUM")
    import subprocess

    from tests.support.png import count_drawn, read_png
    from truex_qf.ops.charts import (
        BUY_COLOUR,
        HEIGHT,
        LINE_COLOUR,
        PAD,
        REFERENCE_COLOUR,
        SELL_COLOUR,
        WIDTH,
        read_series,
        render_html,
    )

    def chromium(*args: str) -> str:
        done = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    page = tmp_path / "run.html"
    text = render_html(_summary(engine).run, read_series(engine, "run-b"))
    page.write_text(text)
    dom = chromium("--dump-dom", page.as_uri())
    assert dom.count("<polyline") >= 3 and 'class="fill buy"' in dom

    def quotes_drawn(symbol: str) -> dict[str, int]:
        """The symbol's quotes chart alone, screenshot: pixels of each series' colour in
        the plot area (below the title and the legend, whose text is in the same colours)."""
        section = text.split(f"<h2>{symbol}</h2>")[1]
        start = section.index("<svg class='chart' data-kind='quotes'")
        chart = section[start : section.index("</svg>", start) + len("</svg>")]
        alone = tmp_path / f"quotes-{symbol}.html"
        alone.write_text(f"<!doctype html><html><body style='margin:0'>{chart}</body></html>")
        shot = tmp_path / f"quotes-{symbol}.png"
        chromium(
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--window-size={WIDTH},{HEIGHT}",
            f"--screenshot={shot}",
            alone.as_uri(),
        )
        rows = read_png(shot.read_bytes())
        colours = {
            "bid": BUY_COLOUR,
            "ask": SELL_COLOUR,
            "truex": LINE_COLOUR,
            "reference": REFERENCE_COLOUR,
        }
        return {name: count_drawn(rows, colour, top=PAD - 4) for name, colour in colours.items()}

    btc = quotes_drawn(BTC)
    # each line spans a good part of the 800 px plot (two fill marks are ~60 px): it drew
    assert btc["bid"] > 500 and btc["ask"] > 300 and btc["truex"] > 400, btc
    assert btc["reference"] > 200, btc  # dashed
    eth = quotes_drawn(ETH)
    assert eth["bid"] > 300 and eth["truex"] > 300, eth
    assert eth["reference"] == 0, eth  # configured without a reference: no line, no error
