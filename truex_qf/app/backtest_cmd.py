"""``truex-qf backtest``: the command (registered on the CLI group by one line in cli.py).

The replay is :mod:`truex_qf.backtest.replay`; this module reads and checks the options (a
mistake is one line, exit 2), stores the run where ``run`` stores its runs (SQLite in
TRUEX_STATE_DIR by default, else DATABASE_URL) and prints what ``truex-qf summary`` prints
for it. The wall-clock speed is measured here, outside the replay, which reads no clock.
"""

from __future__ import annotations

import logging
import os
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from truex_qf.app.cli import _local_balances, _number, _one_line_errors, _state_dir, cli
from truex_qf.app.options import local_balance_option, strategy_option
from truex_qf.domain.errors import ConfigError

if TYPE_CHECKING:
    from truex_qf.backtest.replay import BacktestSettings
    from truex_qf.backtest.sweep import PointResult

_FEE_LIMIT_BPS = Decimal(10_000)
STORE_DRAIN_S = 600.0
"""How long the store writer may take to write what the replay queued, at the end."""


def _fee_bps(option: str, text: str | None) -> Decimal | None:
    """A fee in bps: any number from -10000 to 10000 (negative: a rebate); None: not given."""
    if text is None:
        return None
    value = _number(option, text)
    if not value.is_finite() or abs(value) > _FEE_LIMIT_BPS:
        raise ConfigError(option, f"{text[:40]!r} must be a number of bps from -10000 to 10000")
    return value


@cli.command(short_help="Replay captured market data through the market maker, in virtual time.")
@click.option(
    "--data",
    "data",
    multiple=True,
    metavar="FILE",
    help="Capture file(s) to replay (from `truex-qf capture`): files, folders (their *.cap.gz) "
    "or globs, in the order given; repeat the option or list more files after it.",
)
@click.argument("more_data", nargs=-1, metavar="[FILE]...")
@strategy_option()
@click.option(
    "--latency-us",
    type=click.IntRange(min=0, max=60_000_000),
    default=0,
    show_default=True,
    help="One-way latency in microseconds of virtual time: an order reaches the venue this "
    "long after it was sent, and each report reaches the market maker this long after the "
    "venue produced it.",
)
@click.option(
    "--maker-fee-bps",
    default=None,
    help="The venue's fee on fills that added liquidity, in bps of notional (negative: a "
    "rebate); default: the strategy's maker_fee_bps, as a paper run charges.",
)
@click.option(
    "--taker-fee-bps",
    default=None,
    help="The venue's fee on fills that took liquidity, in bps of notional; default: 0, as a "
    "paper run charges.",
)
@local_balance_option()
@click.option(
    "--sweep",
    "sweeps",
    multiple=True,
    metavar="KEY=V1,V2,...",
    help="Run a parameter sweep: one backtest per combination of the values (repeat the option "
    "for a grid). KEY is a strategy file key: spread_bps or fair_value.widen_bps for every "
    "symbol, BTC-PYUSD.spread_bps for one, risk.max_order_qty, or a top-level key.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1, max=256),
    default=None,
    help="Processes a sweep runs its points in at once; default: the usable CPU cores.",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where a sweep writes its table as CSV (a new file: an existing one is refused); "
    "default: sweep-<strategy>-<keys>-<UTC time>-<first run id>.csv in TRUEX_STATE_DIR.",
)
@click.pass_context
@_one_line_errors
def backtest(
    ctx: click.Context,
    data: tuple[str, ...],
    more_data: tuple[str, ...],
    strategy_path: Path | None,
    latency_us: int,
    maker_fee_bps: str | None,
    taker_fee_bps: str | None,
    balances: tuple[str, ...],
    sweeps: tuple[str, ...],
    jobs: int | None,
    csv_path: Path | None,
) -> None:
    """Replay captured market data through the market maker, in virtual time.

    The same market maker, order manager, risk engine and positions as `run`, fed the
    captured 35=W/35=X messages at their capture times; its orders go to a local matching
    engine that mirrors the captured book (fill model: docs/backtests.md). Nothing leaves
    the machine. Deterministic: the same capture, strategy and options give the same fills
    and figures. The result is a run of mode `backtest` in the store, so `runs`, `summary`
    and `report --html` show it; the summary is printed at the end.

    With --sweep, one such backtest per point of the grid, in parallel processes: a line per
    point (net PnL, fills, volume, max inventory, 10 s markouts), the best point by net PnL,
    and a CSV with every figure (a new file each sweep).

    \b
    Reads TRUEX_STATE_DIR and DATABASE_URL.
    """
    from truex_qf.app.pipeline import pipeline_settings, prepare_database
    from truex_qf.backtest.replay import SENDER_COMP_ID, Backtest, BacktestSettings
    from truex_qf.capture.format import CaptureFormatError, CaptureStream
    from truex_qf.ops.runs import open_store, resolve_run
    from truex_qf.ops.summary import summarize_run
    from truex_qf.storage.writer import StoreWriter
    from truex_qf.strategy.settings import read_strategy_document, strategy_from_document

    # Every input is read and checked before anything is written: a mistake is one line.
    files = data + more_data
    if not files:
        raise ConfigError("--data", "name at least one capture file")
    try:
        # the first record read now: a file that is no capture stops before the store
        first = CaptureStream(files)
        if next(iter(first), None) is None:
            raise ConfigError("--data", "the capture holds no record to replay")
    except CaptureFormatError as exc:
        raise ConfigError("--data", str(exc)) from None
    source = str(strategy_path) if strategy_path is not None else "defaults"
    document = read_strategy_document(strategy_path) if strategy_path is not None else {}
    strategy = strategy_from_document(document, source)
    captured = {symbol for header in first.headers for symbol in header.symbols}
    quoted = [s.symbol for s in strategy.symbols]
    if captured and not captured.intersection(quoted):
        raise ConfigError(
            "--strategy",
            f"quotes {', '.join(quoted)}; the capture holds {', '.join(sorted(captured))}",
        )
    settings = BacktestSettings(
        data=files,
        strategy=strategy,
        latency_us=latency_us,
        maker_fee_bps=_fee_bps("--maker-fee-bps", maker_fee_bps),
        taker_fee_bps=_fee_bps("--taker-fee-bps", taker_fee_bps),
        balances=_local_balances(balances),
    )
    if not sweeps and (jobs is not None or csv_path is not None):
        raise ConfigError("--jobs" if jobs is not None else "--csv", "only with --sweep")
    if sweeps:
        _sweep(
            settings,
            document=document,
            source=source,
            sweeps=sweeps,
            jobs=jobs,
            csv_path=csv_path,
            strategy_name=strategy_path.stem if strategy_path is not None else "defaults",
        )
        return
    recording = pipeline_settings(_state_dir(), SENDER_COMP_ID)
    prepare_database(recording)

    run_id = str(uuid.uuid4())
    writer = StoreWriter(recording.database_url, recording.spill_path)
    replay = Backtest(settings, run_id, writer.submit)
    quiet = logging.getLogger("truex_qf")
    level = quiet.level
    # the market maker's per-fill lines would bury the summary (and cost time): warnings
    # and up with -v, errors only without
    quiet.setLevel(logging.WARNING if ctx.obj.get("verbose") else logging.ERROR)
    writer.start()
    began = time.perf_counter()
    try:
        result = replay.run()
    except CaptureFormatError as exc:
        raise ConfigError("--data", str(exc)) from None
    finally:
        wall_s = time.perf_counter() - began
        quiet.setLevel(level)
        # a long replay queues rows faster than they are written: let the writer finish
        stored = writer.stop(timeout_s=STORE_DRAIN_S)
    if not stored:
        click.echo("warning: the store writer did not drain in time; rows are in the spill file")

    for path in result.truncated_files:
        click.echo(f"warning: {path} ends in a cut record; replayed up to it", err=True)
    with open_store(recording.database_url) as engine:
        report = summarize_run(engine, resolve_run([recording.database_url], run_id))
    for line in report.lines():
        click.echo(line)
    speed = f"{result.virtual_s / wall_s:.0f}x real time" if wall_s > 0 else "instant"
    click.echo(
        f"replayed {result.market_data_messages} market-data messages, "
        f"{result.virtual_s:.1f} s of market in {wall_s:.2f} s ({speed}); "
        f"latency {latency_us} us"
    )
    click.echo(f"run id: {run_id}; see it with: truex-qf summary {run_id[:8]}")


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _sweep(
    settings: BacktestSettings,
    *,
    document: dict[str, Any],
    source: str,
    sweeps: tuple[str, ...],
    jobs: int | None,
    csv_path: Path | None,
    strategy_name: str,
) -> None:
    """``--sweep``: every point checked, then run in processes; the table, the best point,
    the CSV (a new file: one that exists is refused before any point runs). The table and CSV
    are the same for the same sweep (stdout, all within WIDTH but the CSV's path); run ids
    and timings, which differ, go to stderr."""
    from truex_qf.app.pipeline import pipeline_settings, prepare_database
    from truex_qf.backtest.replay import SENDER_COMP_ID
    from truex_qf.backtest.sweep import (
        PointJob,
        best_point,
        default_csv_name,
        parse_sweeps,
        point_documents,
        results_report,
        results_table,
        run_sweep,
    )
    from truex_qf.capture.format import CaptureFormatError
    from truex_qf.ops.summary import WIDTH

    keys = parse_sweeps(sweeps, settings.strategy, document, source)
    points = point_documents(keys, document, source)
    state_dir = _state_dir()
    run_ids = [str(uuid.uuid4()) for _ in points]
    if csv_path is None:
        csv_path = state_dir / default_csv_name(strategy_name, keys, datetime.now(UTC), run_ids[0])
    if csv_path.is_dir() or not csv_path.parent.is_dir():
        raise ConfigError("--csv", f"{csv_path}: not a file in an existing folder")
    if csv_path.exists():
        # refused, as a shell's noclobber does: a sweep's CSV is its only table of figures,
        # and a refusal here costs nothing (no point has run yet)
        raise ConfigError("--csv", f"{csv_path} exists; name a new file (it is not overwritten)")
    recording = pipeline_settings(state_dir, SENDER_COMP_ID)
    prepare_database(recording)
    spill = recording.spill_path
    work = [
        PointJob(
            point=point,
            document=point_document,
            source=source,
            data=tuple(str(path) for path in settings.data),
            latency_us=settings.latency_us,
            maker_fee_bps=settings.maker_fee_bps,
            taker_fee_bps=settings.taker_fee_bps,
            balances=None if settings.balances is None else dict(settings.balances),
            database_url=recording.database_url,
            # a writer each: two processes never share a spill file
            spill_path=spill.with_name(f"{spill.stem}.sweep-{run_id[:8]}{spill.suffix}"),
            run_id=run_id,
        )
        for (point, point_document), run_id in zip(points, run_ids, strict=True)
    ]
    processes = min(jobs or _usable_cores(), len(work))
    began = time.perf_counter()
    try:
        with _progress(len(work), processes) as advance:
            results = run_sweep(work, processes, on_done=advance)
    except CaptureFormatError as exc:  # a record past the first, as the single backtest says
        raise ConfigError("--data", str(exc)) from None
    wall_s = time.perf_counter() - began

    click.echo(results_table(keys, results), nl=False)
    best = best_point(results)
    if best is None:
        click.echo("best point: none (no point has a net PnL in one currency to rank by)")
    else:
        net = best.net_pnl() or Decimal(0)
        line = (
            f"best point by net PnL: {best.point.number} ({best.point.label()}): "
            f"{net:.2f} {best.symbols[0].quote}"
        )
        click.echo(textwrap.fill(line, WIDTH, break_on_hyphens=False))
    try:  # "x": a file made while the sweep ran is not replaced either
        with open(csv_path, "x", newline="", encoding="utf-8") as out:
            out.write(results_report(keys, results).to_csv())
    except FileExistsError:
        raise ConfigError(
            "--csv", f"{csv_path} appeared during the sweep; not overwritten"
        ) from None
    click.echo(f"csv: {csv_path}")

    for path in sorted({p for r in results for p in r.truncated_files}):
        click.echo(f"warning: {path} ends in a cut record; replayed up to it", err=True)
    if not all(r.stored for r in results):
        click.echo(
            "warning: a store writer did not drain in time; rows are in a spill file", err=True
        )
    virtual_s = sum(r.virtual_s for r in results) / len(results)
    point_s = sum(r.wall_s for r in results) / len(results)
    speed = f"{virtual_s / point_s:.0f}x real time" if point_s > 0 else "instant"
    click.echo(
        f"sweep: {len(results)} points in {wall_s:.1f} s with {processes} processes; a point "
        f"replays {virtual_s:.1f} s of market in {point_s:.2f} s ({speed})",
        err=True,
    )
    click.echo(
        "run ids (truex-qf summary ID): "
        + ", ".join(f"{r.point.number} {r.run_id[:8]}" for r in results),
        err=True,
    )


class _progress:
    """A rich progress bar on a terminal, else a plain line per finished point (stderr)."""

    def __init__(self, total: int, processes: int) -> None:
        self.total = total
        self.processes = processes
        self.done = 0
        self.began = time.perf_counter()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Callable[[PointResult], None]:
        from rich.console import Console

        console = Console(stderr=True)
        if console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("sweep"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
            )
            self._bar.start()
            self._task = self._bar.add_task("sweep", total=self.total)
        else:
            click.echo(f"sweep: {self.total} points in {self.processes} processes", err=True)
        return self.advance

    def advance(self, result: PointResult) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.advance(self._task)
        else:
            elapsed = time.perf_counter() - self.began
            click.echo(
                f"sweep: point {result.point.number} done ({self.done} of {self.total}, "
                f"{elapsed:.1f} s)",
                err=True,
            )
            sys.stderr.flush()

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
