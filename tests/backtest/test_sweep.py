"""`truex-qf backtest --sweep`: the grid, each point equal to a single backtest of its values,
determinism of the table and the CSV, and mistakes as one line and exit 2 before any process.

The grid and its validation are driven in process; the sweeps run as a user runs them (the
command, real worker processes, a real SQLite store), on the small synthetic capture the
backtest tests use.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench.synthetic_capture import AT_THE_TOUCH, SYMBOL, write_walk_capture
from tests.support.processes import run_cli, store_env
from truex_qf.backtest.sweep import (
    FIGURE_COLUMNS,
    TABLE_FIGURES,
    SweepKey,
    grid,
    parse_sweeps,
    point_documents,
    toml_value,
)
from truex_qf.domain.errors import ConfigError
from truex_qf.ops.runs import open_store, resolve_run
from truex_qf.ops.summary import WIDTH, summarize_run
from truex_qf.storage.database import database_url
from truex_qf.strategy.settings import strategy_from_document

CLI_TIMEOUT_S = 300.0
TWO_SYMBOLS: dict[str, Any] = {
    "symbols": {
        "BTC-PYUSD": {"spread_bps": 30, "fair_value": {"widen_bps": 10}},
        "ETH-PYUSD": {"spread_bps": 40},
    },
    "risk": {"max_open_orders": 20},
}
RUN_IDS = re.compile(r"^run ids \(truex-qf summary ID\): (.*)$", re.M)


def _keys(*options: str) -> list[SweepKey]:
    strategy = strategy_from_document(TWO_SYMBOLS, "two.toml")
    return parse_sweeps(options, strategy, TWO_SYMBOLS, "two.toml")


# ----------------------------------------------------------------------------- the grid


def test_the_grid_is_every_combination_the_last_option_fastest() -> None:
    keys = _keys("spread_bps=20,30,40", "risk.max_order_qty=0.005,0.01")
    points = grid(keys)
    assert [p.number for p in points] == [1, 2, 3, 4, 5, 6]
    assert [p.label() for p in points] == [
        "spread_bps=20 risk.max_order_qty=0.005",
        "spread_bps=20 risk.max_order_qty=0.01",
        "spread_bps=30 risk.max_order_qty=0.005",
        "spread_bps=30 risk.max_order_qty=0.01",
        "spread_bps=40 risk.max_order_qty=0.005",
        "spread_bps=40 risk.max_order_qty=0.01",
    ]


def test_a_bare_key_sets_every_symbol_a_symbol_key_one_and_the_rest_is_kept() -> None:
    keys = _keys(
        "spread_bps=25",
        "ETH-PYUSD.inventory_skew_bps=5",
        "fair_value.widen_bps=0",
        "loop_interval_s=0.5",
        "post_only=false",
    )
    [(_, document)] = point_documents(keys, TWO_SYMBOLS, "two.toml")
    strategy = strategy_from_document(document, "two.toml")
    btc, eth = strategy.symbol("BTC-PYUSD"), strategy.symbol("ETH-PYUSD")
    assert btc.quoting.spread_bps == eth.quoting.spread_bps == 25
    assert eth.quoting.inventory_skew_bps == 5
    base = strategy_from_document(TWO_SYMBOLS, "two.toml")
    assert btc.quoting.inventory_skew_bps == base.symbol("BTC-PYUSD").quoting.inventory_skew_bps
    assert btc.fair_value.widen_bps == eth.fair_value.widen_bps == 0
    assert strategy.loop_interval_s == 0.5
    assert not btc.quoting.post_only and not eth.quoting.post_only
    assert strategy.risk.max_open_orders == 20
    assert TWO_SYMBOLS["symbols"]["BTC-PYUSD"]["spread_bps"] == 30  # the base is not changed


def test_values_reach_the_loader_as_toml_and_decimals_exactly() -> None:
    assert toml_value("20") == 20
    assert toml_value("0.1") == "0.1"  # not the float 0.1
    assert toml_value("true") is True
    assert toml_value("off") == "off"
    assert toml_value("cancel_new") == "cancel_new"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("spred_bps=1",), "--sweep spred_bps=1: two.toml: symbols.BTC-PYUSD.spred_bps: unknown"),
        (("spread_bps=20,-3",), "--sweep spread_bps=-3: two.toml: symbols.BTC-PYUSD.spread_bps"),
        (("SOL-PYUSD.spread_bps=1",), "--sweep SOL-PYUSD.spread_bps: the strategy does not quote"),
        (("spread_bps=1,1",), "--sweep spread_bps: the value 1 is listed twice"),
        (("spread_bps=1", "BTC-PYUSD.spread_bps=2"), "as --sweep spread_bps does"),
        (("risk.a.b=1",), "--sweep risk.a.b: not a strategy key"),
        (("spread_bps",), "--sweep: 'spread_bps' is not KEY=VALUE"),
    ],
)
def test_a_bad_key_or_value_is_the_loaders_error_naming_the_option(
    options: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _keys(*options)
    assert message in str(caught.value)


def test_a_combination_the_loader_refuses_names_the_point() -> None:
    # each value alone fits the price collar; the widest spread with the widest skew does not
    keys = _keys("spread_bps=30,150", "max_skew_bps=10,60")
    with pytest.raises(ConfigError, match=r"--sweep point 4 \(spread_bps=150 max_skew_bps=60\)"):
        point_documents(keys, TWO_SYMBOLS, "two.toml")


# ----------------------------------------------------------------------------- the command


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    return write_walk_capture(tmp_path / "capture", seconds=30)


def _sweep(capture: Path, strategy: Path, state: Path, csv_path: Path) -> tuple[str, str]:
    done = run_cli(
        "backtest",
        "--data",
        str(capture),
        "--strategy",
        str(strategy),
        "--sweep",
        "spread_bps=0.05,0.1,0.5",
        "--sweep",
        "level_size_base=0.005,0.01",
        "--jobs",
        "2",
        "--csv",
        str(csv_path),
        env=store_env(state),
        timeout_s=CLI_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, done.stderr


def test_a_sweep_is_deterministic_and_each_point_is_the_single_backtest_of_its_values(
    tmp_path: Path, capture: Path, strategy_file: Path
) -> None:
    state = tmp_path / "state"
    first_out, first_err = _sweep(capture, strategy_file, state, tmp_path / "one.csv")
    second_out, _ = _sweep(capture, strategy_file, state, tmp_path / "two.csv")

    # the same table, best point and CSV, whatever order the processes finished in
    assert first_out.replace("one.csv", "two.csv") == second_out
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()

    rows = list(csv.DictReader(io.StringIO((tmp_path / "one.csv").read_text())))
    assert list(rows[0]) == ["point", "spread_bps", "level_size_base", "symbol", *FIGURE_COLUMNS]
    assert [(r["point"], r["spread_bps"], r["level_size_base"]) for r in rows] == [
        ("1", "0.05", "0.005"),
        ("2", "0.05", "0.01"),
        ("3", "0.1", "0.005"),
        ("4", "0.1", "0.01"),
        ("5", "0.5", "0.005"),
        ("6", "0.5", "0.01"),
    ]
    assert {r["symbol"] for r in rows} == {SYMBOL}
    assert int(rows[0]["fills"]) > 0  # the tightest point trades on this capture
    lines = first_out.splitlines()
    assert _width(first_out) <= WIDTH, first_out  # was 243 columns
    assert lines[0].split() == [
        "#",
        "spread_bps",
        "level_size_base",
        *(header for header, _ in TABLE_FIGURES),
    ]
    assert f"{SYMBOL}: net_pnl in PYUSD; volume, max_inv in BTC" in first_out
    for row in rows:  # the printed table holds the CSV's cells of its columns, unchanged
        shown = [row["point"], row["spread_bps"], row["level_size_base"]]
        shown += [row[column] for _, column in TABLE_FIGURES]
        assert any(line.split() == [v for v in shown if v] for line in lines), row
    # ranked by the exact PnL: of the points showing the highest (rounded) PnL
    top = max(float(r["net_pnl_quote"] or "-inf") for r in rows)
    best = re.search(r"^best point by net PnL: (\d+) \(", first_out, re.M)
    assert best is not None, first_out
    assert float(rows[int(best.group(1)) - 1]["net_pnl_quote"]) == top

    # point 4 (spread 0.1, size 0.01) against `truex-qf backtest` of the same strategy
    found = RUN_IDS.search(first_err)
    assert found is not None, first_err
    swept = dict(item.split(" ") for item in found.group(1).split(", "))
    single_strategy = tmp_path / "point4.toml"
    single_strategy.write_text(AT_THE_TOUCH.replace("spread_bps = 0.05", "spread_bps = 0.1"))
    done = run_cli(
        "backtest",
        "--data",
        str(capture),
        "--strategy",
        str(single_strategy),
        env=store_env(state),
        timeout_s=CLI_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr
    single = re.search(r"^run id: ([0-9a-f-]{36});", done.stdout, re.M)
    assert single is not None
    url = database_url(state, env={})
    with open_store(url) as engine:
        figures = {
            ref: summarize_run(engine, resolve_run([url], ref)).symbols[SYMBOL].fields()
            for ref in (swept["4"], single.group(1))
        }
    assert figures[swept["4"]] == figures[single.group(1)]
    point4 = rows[3]
    assert point4["fills"] == figures[swept["4"]]["fills"] != "0"
    assert point4["net_pnl_quote"] == figures[swept["4"]]["net_pnl_pyusd"]
    assert point4["volume_base"] == figures[swept["4"]]["volume_btc"]

    listed = run_cli("runs", env=store_env(state))  # every point is a stored backtest run
    for short in swept.values():
        assert re.search(rf"^{short} .* backtest ", listed.stdout, re.M), listed.stdout


def _width(stdout: str) -> int:
    """The widest line a sweep printed, but the CSV's path (a path is as long as it is)."""
    return max(len(line) for line in stdout.splitlines() if not line.startswith("csv: "))


def _small_sweep(
    tmp_path: Path, strategy_file: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    capture = tmp_path / "capture"
    if not capture.exists():
        write_walk_capture(capture, seconds=2)
    return run_cli(
        "backtest",
        "--data",
        str(capture),
        "--strategy",
        str(strategy_file),
        "--jobs",
        "1",
        *args,
        env=store_env(tmp_path / "state"),
        timeout_s=CLI_TIMEOUT_S,
    )


def test_a_sweep_of_many_keys_prints_short_key_names_within_the_width(
    tmp_path: Path, strategy_file: Path
) -> None:
    keys = [
        "BTC-PYUSD.spread_bps=0.05",
        "BTC-PYUSD.inventory_skew_bps=0,1",
        "BTC-PYUSD.max_skew_bps=0",
        "BTC-PYUSD.fair_value.widen_bps=0",
        "requote_tolerance_bps=0.5",
    ]
    done = _small_sweep(tmp_path, strategy_file, *(f"--sweep={key}" for key in keys))
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert _width(done.stdout) <= WIDTH, done.stdout
    assert lines[0].split()[:6] == ["#", "k1", "k2", "k3", "k4", "k5"]
    legend = " ".join(lines)
    for number, key in enumerate(keys, start=1):
        assert f"k{number} {key.partition('=')[0]}" in legend, done.stdout
    assert re.search(r"^2 +0\.05 +1 +0 +0 +0\.5 ", done.stdout, re.M), done.stdout


def test_each_sweep_writes_its_own_csv_and_says_where(tmp_path: Path, strategy_file: Path) -> None:
    written = []
    for _ in range(2):
        done = _small_sweep(tmp_path, strategy_file, "--sweep", "spread_bps=0.05,0.1")
        assert done.returncode == 0, done.stderr[-3000:]
        found = re.search(r"^csv: (.+)$", done.stdout, re.M)
        assert found is not None, done.stdout
        written.append(Path(found.group(1)))
    assert written[0] != written[1]  # the second sweep did not replace the first's file
    assert written[0].parent == written[1].parent == tmp_path / "state"
    assert written[0].read_bytes() == written[1].read_bytes()  # same sweep, same figures
    assert re.fullmatch(r"sweep-tight-spread_bps-\d{8}T\d{6}Z-[0-9a-f]{8}\.csv", written[0].name)


def test_an_existing_csv_is_refused_before_any_point_runs(
    tmp_path: Path, strategy_file: Path
) -> None:
    kept = tmp_path / "mine.csv"
    kept.write_text("an earlier sweep\n")
    done = _small_sweep(tmp_path, strategy_file, "--sweep", "spread_bps=0.05", "--csv", str(kept))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == f"error: --csv: {kept} exists; name a new file (it is not overwritten)\n"
    assert kept.read_text() == "an earlier sweep\n"
    assert not (tmp_path / "state" / "truex-qf.db").exists()  # no point ran


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--sweep", "spred_bps=1,2"), "error: --sweep spred_bps=1: "),
        (("--sweep", "spread_bps=0.1,-1"), "error: --sweep spread_bps=-1: "),
        (("--sweep", "spread_bps"), "error: --sweep: 'spread_bps' is not KEY=VALUE"),
        (("--jobs", "2"), "error: --jobs: only with --sweep"),
        (("--sweep", "spread_bps=1", "--csv", "/nowhere/x.csv"), "error: --csv: "),
    ],
)
def test_sweep_mistakes_are_one_line_and_exit_2_before_anything_runs(
    tmp_path: Path, strategy_file: Path, args: tuple[str, ...], message: str
) -> None:
    capture = write_walk_capture(tmp_path / "capture", seconds=2)
    state = tmp_path / "state"
    done = run_cli(
        "backtest",
        "--data",
        str(capture),
        "--strategy",
        str(strategy_file),
        *args,
        env=store_env(state),
        timeout_s=CLI_TIMEOUT_S,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(message), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (state / "truex-qf.db").exists()  # no point ran
