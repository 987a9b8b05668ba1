"""``truex-qf capture``: the command (registered on the CLI group by one line in cli.py).

The work is in :mod:`truex_qf.app.capture_session`; this module reads and checks the options
(a mistake is one line, exit 2) and follows the CLI's conventions: a first Ctrl-C or SIGTERM
ends the capture cleanly (file closed, summary printed) and exits 130 or 143.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from truex_qf.app.cli import (
    _exit_if_stopped_by_signal,
    _find_run,
    _one_line_errors,
    _positive_duration,
    _state_dir,
    _stop_on_signals,
    cli,
    stop_requested,
)
from truex_qf.app.logsetup import configure_logging
from truex_qf.app.options import duration_option, strategy_option
from truex_qf.config import load_fix_settings, prepare_state_dir
from truex_qf.domain.errors import ConfigError

_SYMBOL = re.compile(r"^[A-Z0-9]{2,12}-[A-Z0-9]{2,12}$")
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_REFERENCES = ("coinbase", "kraken", "median")


def _symbols(text: str) -> tuple[str, ...]:
    symbols = tuple(dict.fromkeys(s.strip().upper() for s in text.split(",") if s.strip()))
    bad = [s for s in symbols if not _SYMBOL.match(s)]
    if not symbols or bad:
        shown = repr(bad[0]) if bad else "nothing"
        raise ConfigError("--symbols", f"{shown}: expected BASE-QUOTE[,BASE-QUOTE...]")
    return symbols


@cli.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for the capture files (one per UTC day, PREFIX-YYYYMMDD.cap.gz, appended "
    "to when it exists); created if missing. Default: TRUEX_STATE_DIR/capture.",
)
@duration_option("capture")
@click.option(
    "--symbols",
    default=None,
    metavar="SYM[,SYM...]",
    help="Instruments to subscribe to, e.g. BTC-PYUSD,ETH-PYUSD; default: the strategy's.",
)
@strategy_option(uses=" whose symbols, market_depth and coinbase_base_url are used")
@click.option(
    "--depth",
    type=click.IntRange(min=0),
    default=None,
    help="MarketDepth(264) of the subscription (0: the full book); default: the strategy's "
    "market_depth, as `run` subscribes.",
)
@click.option(
    "--reference",
    type=click.Choice(_REFERENCES),
    default=None,
    help="Also record this reference feed's ticks (the feeds `run` uses) for every symbol.",
)
@click.option(
    "--prefix",
    default=None,
    help="File name prefix (letters, digits, . _ -); default: capture, or run-<id> with "
    "--from-run.",
)
@click.option(
    "--from-run",
    "run_ref",
    default=None,
    metavar="RUN",
    help="No session: write the market data of this stored run's FIX journal instead (a run "
    "id or a unique prefix; `truex-qf runs` lists them, the demo's included).",
)
@click.pass_context
@_one_line_errors
def capture(
    ctx: click.Context,
    out_dir: Path | None,
    duration_s: float | None,
    symbols: str | None,
    strategy_path: Path | None,
    depth: int | None,
    reference: str | None,
    prefix: str | None,
    run_ref: str | None,
) -> None:
    """Record TrueX market data (35=W/X and the security list) to compressed capture files.

    A market-data session only (no order entry), subscribed as `run` subscribes; every
    inbound message is written with its receive time in ns, for `backtest` and analysis
    (file format: docs/capture.md). --from-run RUN takes them from a stored run's journal
    instead. Exit 0 when --duration ran out, 130 (143) when stopped by Ctrl-C (SIGTERM).

    \b
    Reads TRUEX_API_KEY, TRUEX_SECRET_KEY, TRUEX_SENDER_COMP_ID, TRUEX_CLIENT_ID,
    TRUEX_FIX_HOST, TRUEX_MARKET_DATA_PORT, TRUEX_MD_TARGET_COMP_ID, TRUEX_STATE_DIR
    (--from-run: TRUEX_STATE_DIR and DATABASE_URL).
    """
    from truex_qf.app.capture_session import (
        CAPTURE_SUBDIR,
        MarketDataCapture,
        capture_from_run,
        check_capture_dir,
    )

    if prefix is not None and not _PREFIX.match(prefix):
        raise ConfigError("--prefix", f"{prefix[:40]!r}: letters, digits, '.', '_' and '-' only")
    if run_ref is not None:
        live_only = {
            "--duration": duration_s,
            "--symbols": symbols,
            "--strategy": strategy_path,
            "--depth": depth,
            "--reference": reference,
        }
        given = [name for name, value in live_only.items() if value is not None]
        if given:
            raise ConfigError("--from-run", f"reads a stored run; {', '.join(given)} do not apply")
        run = _find_run(run_ref)
        directory = check_capture_dir("--out", out_dir or _state_dir() / CAPTURE_SUBDIR)
        outcome = capture_from_run(run, directory, prefix)
        click.echo(f"run {run.short_id}: its journal's market data")
        for line in outcome.lines():
            click.echo(line)
        return

    from truex_qf.feeds.references import reference_feed
    from truex_qf.strategy.settings import load_strategy

    if duration_s is not None:
        _positive_duration(duration_s)
    config = load_fix_settings()
    strategy = load_strategy(strategy_path)
    chosen = _symbols(symbols) if symbols is not None else tuple(s.symbol for s in strategy.symbols)
    prepare_state_dir(config.state_dir)
    directory = check_capture_dir("--out", out_dir or config.state_dir / CAPTURE_SUBDIR)
    configure_logging(config.state_dir, ctx.obj["verbose"])
    references = (
        {
            symbol: reference_feed(reference, symbol, coinbase_base_url=strategy.coinbase_base_url)
            for symbol in chosen
        }
        if reference is not None
        else None
    )
    session = MarketDataCapture(
        config,
        chosen,
        directory,
        depth=strategy.market_depth if depth is None else depth,
        references=references,
        prefix=prefix or "capture",
        stop=stop_requested,
    )
    _stop_on_signals()
    click.echo(
        f"capturing {', '.join(chosen)} from {config.host}:{config.market_data_port} "
        f"to {directory}" + (f" for {duration_s:g} s" if duration_s is not None else "")
    )
    outcome = session.run(duration_s)
    for line in outcome.lines():
        click.echo(line)
    _exit_if_stopped_by_signal()
