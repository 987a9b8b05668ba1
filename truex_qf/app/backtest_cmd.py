"""``truex-qf backtest``: the command (registered on the CLI group by one line in cli.py).

The replay is :mod:`truex_qf.backtest.replay`; this module reads and checks the options (a
mistake is one line, exit 2), stores the run where ``run`` stores its runs (SQLite in
TRUEX_STATE_DIR by default, else DATABASE_URL) and prints what ``truex-qf summary`` prints
for it. The wall-clock speed is measured here, outside the replay, which reads no clock.
"""

from __future__ import annotations

import logging
import time
import uuid
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click

from truex_qf.app.cli import _one_line_errors, _state_dir, cli
from truex_qf.domain.errors import ConfigError

_FEE_LIMIT_BPS = Decimal(10_000)
STORE_DRAIN_S = 600.0
"""How long the store writer may take to write what the replay queued, at the end."""


def _fee_bps(option: str, text: str) -> Decimal:
    """A fee in bps: any number from -10000 to 10000 (negative: a rebate)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ConfigError(option, f"{text[:40]!r} is not a number") from None
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
@click.option(
    "--strategy",
    "strategy_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Strategy file (TOML, as for `run`); default: the built-in defaults.",
)
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
    default="0",
    show_default=True,
    help="The venue's fee on fills that added liquidity, in bps of notional (negative: a rebate).",
)
@click.option(
    "--taker-fee-bps",
    default="0",
    show_default=True,
    help="The venue's fee on fills that took liquidity, in bps of notional.",
)
@click.pass_context
@_one_line_errors
def backtest(
    ctx: click.Context,
    data: tuple[str, ...],
    more_data: tuple[str, ...],
    strategy_path: Path | None,
    latency_us: int,
    maker_fee_bps: str,
    taker_fee_bps: str,
) -> None:
    """Replay captured market data through the market maker, in virtual time.

    The same market maker, order manager, risk engine and positions as `run`, fed the
    captured 35=W/35=X messages at their capture times; its orders go to a local matching
    engine that mirrors the captured book (fill model: README "Backtests"). Nothing leaves
    the machine. Deterministic: the same capture, strategy and options give the same fills
    and figures. The result is a run of mode `backtest` in the store, so `runs`, `summary`
    and `report --html` show it; the summary is printed at the end.

    \b
    Reads TRUEX_STATE_DIR and DATABASE_URL.
    """
    from truex_qf.app.pipeline import pipeline_settings, prepare_database
    from truex_qf.backtest.replay import SENDER_COMP_ID, Backtest, BacktestSettings
    from truex_qf.capture.format import CaptureFormatError, CaptureStream
    from truex_qf.ops.runs import open_store, resolve_run
    from truex_qf.ops.summary import summarize_run
    from truex_qf.storage.writer import StoreWriter
    from truex_qf.strategy.settings import load_strategy

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
    strategy = load_strategy(strategy_path)
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
    )
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
