"""A parameter sweep: one backtest per point of a grid of strategy values, in parallel processes.

``--sweep KEY=V1,V2,...`` names a key of the strategy file and the values it takes; several
``--sweep`` options make the grid (every combination, the last option varying fastest). A key is
written as in the strategy file, without the table of a symbol when it is meant for every symbol:

- ``spread_bps``, ``fair_value.widen_bps``: that key of every quoted symbol;
- ``BTC-PYUSD.spread_bps``, ``BTC-PYUSD.fair_value.widen_bps``: of that symbol only;
- ``risk.max_order_qty``: a key of the ``[risk]`` table;
- ``loop_interval_s``, ``requote_tolerance_bps``...: a top-level key.

Values are TOML values (``20``, ``0.5``, ``true``, ``off``, ``replace``). Each point is the
strategy file's document with its values set, validated by the strategy loader itself
(:func:`~truex_qf.strategy.settings.strategy_from_document`): an unknown key or a bad value is
the loader's own one-line error, found before any process starts.

Each point is a whole backtest (:class:`~truex_qf.backtest.replay.Backtest`, as ``truex-qf
backtest`` runs it) stored as a run of mode ``backtest``; its figures are read back from the
store by the code that reads them for ``summary`` (:func:`~truex_qf.ops.summary.summarize_run`)
and ``report --html`` (:func:`~truex_qf.ops.charts.markouts`), not computed here. Results come
back in grid order whatever order the processes finish in, so the same sweep gives the same
table and CSV (only the run ids differ).

The CSV (:func:`results_report`) holds every figure; the printed table (:func:`results_table`)
the ones a trader reads first, cut from the same rows so that both show the same digits, within
:data:`~truex_qf.ops.summary.WIDTH` columns. The CSV's default name (:func:`default_csv_name`)
carries the sweep's UTC start and first run id, so that no sweep's file replaces another's.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import logging
import re
import textwrap
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from truex_qf.backtest.replay import Backtest, BacktestSettings
from truex_qf.domain.errors import ConfigError
from truex_qf.ops.amounts import Amounts, bps
from truex_qf.ops.charts import MARKOUT_HORIZONS_S, markouts, read_series
from truex_qf.ops.reports import Report
from truex_qf.ops.runs import open_store, resolve_run
from truex_qf.ops.summary import WIDTH, SymbolSummary, summarize_run
from truex_qf.storage.writer import StoreWriter
from truex_qf.strategy.settings import StrategySettings, strategy_from_document

OPTION = "--sweep"
STORE_DRAIN_S = 600.0
"""How long a point's store writer may take to write what its replay queued, at the end."""
TOP_LEVEL_KEYS = frozenset(f.name for f in dataclasses.fields(StrategySettings)) - {
    "symbols",
    "risk",
}
"""Keys of the strategy file's top level (the settings' own fields, named as in the file)."""
_SYMBOL = re.compile(r"[A-Z0-9]+-[A-Z0-9]+")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SYNTAX = "KEY, SYMBOL.KEY, fair_value.KEY, SYMBOL.fair_value.KEY or risk.KEY"

Path_ = tuple[str, ...]


@dataclass(frozen=True)
class SweepKey:
    """One ``--sweep`` option: the key as written, where it goes in the strategy document
    (one path per symbol it applies to) and its values as written."""

    name: str
    paths: tuple[Path_, ...]
    values: tuple[str, ...]


@dataclass(frozen=True)
class Point:
    """One point of the grid: its number (from 1) and a value per key, in option order."""

    number: int
    values: tuple[tuple[str, str], ...]

    def label(self) -> str:
        return " ".join(f"{key}={value}" for key, value in self.values)


@dataclass(frozen=True)
class PointJob:
    """What one process needs to run one point (plain data: it is pickled to the worker)."""

    point: Point
    document: dict[str, Any]
    source: str
    data: tuple[str, ...]
    latency_us: int
    maker_fee_bps: Decimal | None  # None: the point's strategy decides (local_venue_fees)
    taker_fee_bps: Decimal | None
    database_url: str
    spill_path: Path
    run_id: str
    balances: dict[str, Decimal] | None = None  # None: not limited (BacktestSettings)


@dataclass(frozen=True)
class SymbolFigures:
    """One symbol's figures of one point: ``cells`` formatted as ``summary`` formats them."""

    symbol: str
    quote: str
    net_pnl_quote: Decimal | None
    cells: tuple[str, ...]


@dataclass(frozen=True)
class PointResult:
    """A finished point: its run, per symbol figures, and how long it took."""

    point: Point
    run_id: str
    symbols: tuple[SymbolFigures, ...]
    virtual_s: float
    wall_s: float
    stored: bool
    truncated_files: tuple[str, ...]

    def net_pnl(self) -> Decimal | None:
        """Net PnL over the point's symbols (one quote currency), None when none has one."""
        known = [s.net_pnl_quote for s in self.symbols if s.net_pnl_quote is not None]
        return sum(known, Decimal(0)) if known else None


FIGURE_COLUMNS = (
    "fills",
    "volume_base",
    "notional_quote",
    "net_pnl_quote",
    "max_inventory_base",
    *(f"markout_{side}_{h}s_bps" for side in ("buy", "sell") for h in MARKOUT_HORIZONS_S),
)
TABLE_MARKOUT_S = 10
"""The markout horizon the printed table shows (the CSV has every one)."""
TABLE_FIGURES = (
    ("net_pnl", "net_pnl_quote"),
    ("fills", "fills"),
    ("volume", "volume_base"),
    ("max_inv", "max_inventory_base"),
    (f"buy_{TABLE_MARKOUT_S}s", f"markout_buy_{TABLE_MARKOUT_S}s_bps"),
    (f"sell_{TABLE_MARKOUT_S}s", f"markout_sell_{TABLE_MARKOUT_S}s_bps"),
)
"""The printed table's figures: its header and the CSV column it shows."""
NAME_CHARS = 80
"""The most of the strategy's and keys' names a default CSV name holds (files: 255 bytes)."""


# ----------------------------------------------------------------------------- the grid


def parse_sweeps(
    options: Sequence[str], strategy: StrategySettings, document: Mapping[str, Any], source: str
) -> list[SweepKey]:
    """The ``--sweep`` options as keys, each value checked by the strategy loader; one
    ConfigError naming the option on the first problem."""
    keys: list[SweepKey] = []
    taken: dict[Path_, str] = {}
    for option in options:
        name, sep, listed = option.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(OPTION, f"{option[:60]!r} is not KEY=VALUE,VALUE,...")
        values = tuple(value.strip() for value in listed.split(","))
        if any(not value for value in values):
            raise ConfigError(f"{OPTION} {name}", "an empty value (write KEY=V1,V2,...)")
        twice = next((v for i, v in enumerate(values) if v in values[:i]), None)
        if twice is not None:
            raise ConfigError(f"{OPTION} {name}", f"the value {twice} is listed twice")
        key = SweepKey(name, _paths(name, strategy), values)
        for path in key.paths:
            if path in taken:
                raise ConfigError(
                    f"{OPTION} {name}", f"sets {'.'.join(path)}, as {OPTION} {taken[path]} does"
                )
            taken[path] = name
        for value in values:  # each value alone, so that the error names it
            _validate(document, source, ((key, value),), f"{OPTION} {name}={value}")
        keys.append(key)
    return keys


def _paths(name: str, strategy: StrategySettings) -> tuple[Path_, ...]:
    parts = name.split(".")
    problem = ConfigError(f"{OPTION} {name}", f"not a strategy key: write {SYNTAX}")
    if _SYMBOL.fullmatch(parts[0]):
        symbol, rest = parts[0], parts[1:]
        if symbol not in strategy.symbol_names:
            raise ConfigError(
                f"{OPTION} {name}",
                f"the strategy does not quote {symbol} (it quotes "
                f"{', '.join(strategy.symbol_names)})",
            )
        paths: tuple[Path_, ...] = (("symbols", symbol, *rest),)
    elif parts[0] == "risk":
        rest = parts[1:]
        if len(rest) != 1:
            raise problem
        paths = (("risk", *rest),)
    elif len(parts) == 1 and parts[0] in TOP_LEVEL_KEYS:
        rest = parts
        paths = ((parts[0],),)
    else:
        rest = parts
        paths = tuple(("symbols", symbol, *parts) for symbol in strategy.symbol_names)
    shape_ok = len(rest) == 1 or (len(rest) == 2 and rest[0] == "fair_value")
    if parts[0] == "risk":
        shape_ok = len(rest) == 1
    if not shape_ok or not all(_KEY.fullmatch(part) for part in rest):
        raise problem
    return paths


def toml_value(text: str) -> Any:
    """A value as TOML reads it (``true``, ``20``), else the text itself (``off``,
    ``replace``); a decimal stays text, so that ``0.1`` reaches the loader exactly."""
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, ValueError):
        return text
    return text if isinstance(value, float) else value


def with_values(
    document: Mapping[str, Any], values: Sequence[tuple[SweepKey, str]]
) -> dict[str, Any]:
    """A copy of ``document`` with each key set to its value."""
    changed = copy.deepcopy(dict(document))
    for key, text in values:
        for path in key.paths:
            table = changed
            for part in path[:-1]:
                inner = table.get(part)
                if not isinstance(inner, dict):
                    inner = {}
                    table[part] = inner
                table = inner
            table[path[-1]] = toml_value(text)
    return changed


def _validate(
    document: Mapping[str, Any],
    source: str,
    values: Sequence[tuple[SweepKey, str]],
    setting: str,
) -> dict[str, Any]:
    changed = with_values(document, values)
    try:
        strategy_from_document(changed, source)
    except ConfigError as exc:
        raise ConfigError(setting, str(exc)) from None
    return changed


def grid(keys: Sequence[SweepKey]) -> list[Point]:
    """Every combination, numbered from 1, the last key varying fastest."""
    names = [key.name for key in keys]
    return [
        Point(number, tuple(zip(names, combination, strict=True)))
        for number, combination in enumerate(
            itertools.product(*(key.values for key in keys)), start=1
        )
    ]


def point_documents(
    keys: Sequence[SweepKey], document: Mapping[str, Any], source: str
) -> list[tuple[Point, dict[str, Any]]]:
    """Each point with its strategy document, every one validated (a combination the loader
    refuses, e.g. a spread beyond the price collar, names the point)."""
    by_name = {key.name: key for key in keys}
    documents = []
    for point in grid(keys):
        values = [(by_name[name], value) for name, value in point.values]
        setting = f"{OPTION} point {point.number} ({point.label()})"
        documents.append((point, _validate(document, source, values, setting)))
    return documents


# ----------------------------------------------------------------------------- one point


def run_point(job: PointJob) -> PointResult:
    """One backtest of one point, stored, and its figures read back (in a worker process)."""
    logging.getLogger("truex_qf").setLevel(logging.ERROR)
    strategy = strategy_from_document(job.document, job.source)
    settings = BacktestSettings(
        data=job.data,
        strategy=strategy,
        latency_us=job.latency_us,
        maker_fee_bps=job.maker_fee_bps,
        taker_fee_bps=job.taker_fee_bps,
        balances=job.balances,
    )
    writer = StoreWriter(job.database_url, job.spill_path)
    replay = Backtest(settings, job.run_id, writer.submit)
    writer.start()
    began = time.perf_counter()
    try:
        result = replay.run()
    finally:
        wall_s = time.perf_counter() - began
        stored = writer.stop(timeout_s=STORE_DRAIN_S)
    if job.spill_path.exists() and job.spill_path.stat().st_size == 0:
        job.spill_path.unlink()
    url = job.database_url
    with open_store(url) as engine:
        report = summarize_run(engine, resolve_run([url], job.run_id))
        series = read_series(engine, job.run_id)
    figures = []
    for symbol in strategy.symbol_names:
        summary = report.symbols.get(symbol, SymbolSummary(symbol))
        buys = markouts(series.buys.get(symbol, []), series.fair_value.get(symbol, []), 1)
        sells = markouts(series.sells.get(symbol, []), series.fair_value.get(symbol, []), -1)
        figures.append(_figures(summary, buys, sells))
    return PointResult(
        point=job.point,
        run_id=job.run_id,
        symbols=tuple(figures),
        virtual_s=result.virtual_s,
        wall_s=wall_s,
        stored=stored,
        truncated_files=tuple(str(path) for path in result.truncated_files),
    )


def _figures(
    summary: SymbolSummary, buys: Mapping[int, float | None], sells: Mapping[int, float | None]
) -> SymbolFigures:
    a: Amounts = summary.amounts()
    moves = [
        bps(None if move is None else Decimal(move))
        for side in (buys, sells)
        for move in (side[h] for h in MARKOUT_HORIZONS_S)
    ]
    cells = (
        str(summary.fills),
        a.quantity(summary.volume_base),
        a.money(summary.notional_quote),
        a.money(summary.net_pnl_quote),
        a.quantity(summary.max_inventory_base),
        *moves,
    )
    return SymbolFigures(summary.symbol, a.quote, summary.net_pnl_quote, cells)


# ----------------------------------------------------------------------------- the sweep


def run_sweep(
    jobs: Sequence[PointJob],
    processes: int,
    on_done: Callable[[PointResult], None] | None = None,
) -> list[PointResult]:
    """Run every job in up to ``processes`` worker processes; the results in job order.

    Workers are spawned (not forked): the caller may hold threads (a progress bar's) that a
    fork would copy mid-lock. The first point that fails stops the sweep with its error.
    """
    results: dict[int, PointResult] = {}
    workers = max(1, min(processes, len(jobs)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures: dict[Future[PointResult], int] = {
            pool.submit(run_point, job): index for index, job in enumerate(jobs)
        }
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=futures.__getitem__):
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    raise error
                result = future.result()
                results[futures[future]] = result
                if on_done is not None:
                    on_done(result)
    return [results[index] for index in range(len(jobs))]


def results_report(keys: Sequence[SweepKey], results: Sequence[PointResult]) -> Report:
    """One row per point and symbol: the point's values, then the symbol's figures."""
    columns = ["point", *(key.name for key in keys), "symbol", *FIGURE_COLUMNS]
    rows = [
        [str(r.point.number), *(value for _, value in r.point.values), s.symbol, *s.cells]
        for r in results
        for s in r.symbols
    ]
    return Report(columns, rows)


def best_point(results: Sequence[PointResult]) -> PointResult | None:
    """The point of the highest net PnL (the first of equals); None when no point has one, or
    when the symbols' PnL is in more than one currency (no sum to rank by)."""
    currencies = {s.quote for r in results for s in r.symbols}
    scored = [(r.net_pnl(), r) for r in results]
    known = [(pnl, r) for pnl, r in scored if pnl is not None]
    if len(currencies) != 1 or not known:
        return None
    top = max(pnl for pnl, _ in known)
    return next(r for pnl, r in known if pnl == top)


def results_table(keys: Sequence[SweepKey], results: Sequence[PointResult]) -> str:
    """The table to print: per point and symbol the point's values and :data:`TABLE_FIGURES`,
    cells as the CSV has them, then a legend of units; within :data:`WIDTH` columns.

    The symbol column is left out when the sweep quotes one symbol (the legend names it). Key
    columns are headed by the key as written; when that is too wide (many or long keys), by
    ``k1``, ``k2``... and the legend says which key each is.
    """
    full = results_report(keys, results)
    symbols = sorted({s.symbol for r in results for s in r.symbols})
    first_figure = 2 + len(keys)
    picked = [
        0,
        *range(1, 1 + len(keys)),
        *([1 + len(keys)] if len(symbols) > 1 else []),
        *(first_figure + FIGURE_COLUMNS.index(column) for _, column in TABLE_FIGURES),
    ]
    rows = [[row[index] for index in picked] for row in full.rows]
    after = [*(["symbol"] if len(symbols) > 1 else []), *(header for header, _ in TABLE_FIGURES)]
    short = [f"k{number}" for number in range(1, len(keys) + 1)]
    for names in ([key.name for key in keys], short):
        table = Report(["#", *names, *after], rows).to_table()
        if max(len(line) for line in table.splitlines()) <= WIDTH:
            break
    legend = []
    if names == short:
        legend.append(", ".join(f"{k} {key.name}" for k, key in zip(short, keys, strict=True)))
    quotes = sorted({s.quote for r in results for s in r.symbols})
    if len(symbols) == 1:
        base = symbols[0].partition("-")[0]
        units = f"{symbols[0]}: net_pnl in {', '.join(quotes)}; volume, max_inv in {base}"
    else:
        units = "net_pnl in the quote currency; volume, max_inv in the base"
    legend.append(
        f"{units}; buy_{TABLE_MARKOUT_S}s, sell_{TABLE_MARKOUT_S}s: {TABLE_MARKOUT_S} s "
        "markouts in bps"
    )
    wrapped = [textwrap.fill(text, WIDTH, break_on_hyphens=False) for text in legend]
    return table + "\n".join(wrapped) + "\n"


def default_csv_name(
    strategy_name: str, keys: Sequence[SweepKey], started: datetime, first_run_id: str
) -> str:
    """``sweep-<strategy>-<keys>-<UTC start>-<first run id>.csv``: one file per sweep (the
    same sweep run twice, or over another capture, writes a second file), named after the
    run ``summary`` shows first; strategy and keys cut to :data:`NAME_CHARS`."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join([strategy_name, *(k.name for k in keys)]))
    return f"sweep-{name[:NAME_CHARS]}-{started:%Y%m%dT%H%M%SZ}-{first_run_id[:8]}.csv"
