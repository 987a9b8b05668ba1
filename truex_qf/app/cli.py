"""``truex-qf``: one entry point, a subcommand per job, exit codes that mean something.

Exit codes: 0 success (a run or demo that completed its --duration), 1 an operational
failure, 2 bad configuration or input (an unknown run id included), 3 logon refused, 4 timeout,
5 order rejected, 128 + the signal for a command stopped by a signal: 130 after Ctrl-C (SIGINT),
143 after SIGTERM. A first Ctrl-C stops ``run`` and ``demo`` cleanly (orders cancelled, logout,
summary) and still exits 130, so that a script tells a stopped run from a completed one; a
second Ctrl-C abandons the shutdown, also 130. ``simulate`` and ``proxy`` run until stopped:
a signal is their normal end, exit 0. Every error is one line ``error: ...`` on
stderr, never a traceback; ``-h`` and ``--help`` both show help, ``--version`` the version.

``run`` holds a lock on its state folder and on its account (``truex_qf.app.instance_lock``) for
its whole life; a second ``run`` on either exits 1 at once, naming the holder's PID. Exit 1,
not 2: the command is right and will work once the other instance stops (2 means "fix the
command or the configuration").
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

# quickfix resets SIGINT to SIG_DFL when imported: import it here, before main() installs
# our handlers, never lazily inside a command (which would silently undo them).
import truex_qf.fix.client  # noqa: F401
from truex_qf import __version__
from truex_qf.app.logsetup import configure_logging
from truex_qf.app.options import (
    duration_option,
    local_balance_option,
    run_id_option,
    strategy_option,
)
from truex_qf.config import (
    UAT_MARKET_DATA_PORT,
    UAT_ORDER_ENTRY_PORT,
    apply_env_file,
    check_state_dir,
    live_namespace,
    load_fix_settings,
    prepare_state_dir,
    process_environment,
    redis_url,
    sender_comp_id_setting,
    state_dir_setting,
)
from truex_qf.domain.errors import ConfigError, TruexError
from truex_qf.domain.model import Side
from truex_qf.sim.service import DEFAULT_REST_PORT

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from truex_qf.app.order_venue import OrderVenue
    from truex_qf.app.pipeline import Pipeline
    from truex_qf.ops.reports import Report
    from truex_qf.ops.runs import StoredRun
    from truex_qf.strategy.settings import StrategySettings

stop_requested = threading.Event()
_stop_signal: int | None = None  # the signal that set stop_requested, for the exit code
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _on_signal(signum: int, frame: object) -> None:
    """First signal: ask the running command to stop cleanly. A second one interrupts."""
    global _stop_signal
    if stop_requested.is_set():
        raise KeyboardInterrupt
    _stop_signal = signum
    stop_requested.set()
    if threading.current_thread() is threading.main_thread() and not _waits_for_stop:
        raise KeyboardInterrupt


_waits_for_stop = False


def _one_line_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except TruexError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(_signal_exit_code())

    return wrapper


def _signal_exit_code() -> int:
    """128 + the signal that stopped the command (130 for Ctrl-C, 143 for SIGTERM)."""
    return 128 + (_stop_signal or signal.SIGINT)


def _exit_if_stopped_by_signal() -> None:
    """After a clean stop on a signal: say so and exit 128 + signal (module docstring)."""
    if _stop_signal is not None and stop_requested.is_set():
        name = signal.Signals(_stop_signal).name
        click.echo(f"stopped by {name} (exit {_signal_exit_code()})", err=True)
        sys.exit(_signal_exit_code())


class _Group(click.Group):
    """A group whose command list shows each command's whole first paragraph, wrapped.

    click cuts the summaries to fit one line ("...") by default; a summary is the command's
    one-sentence explanation and should be read whole.
    """

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _number(name: str, value: str) -> Decimal:
    """An option's text as a number (infinity and NaN too: the caller bounds it)."""
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ConfigError(name, f"{value[:40]!r} is not a number") from None


def _decimal(name: str, value: str | None) -> Decimal | None:
    if value is None:
        return None
    number = _number(name, value)
    if not number.is_finite() or number <= 0:
        raise ConfigError(name, f"{value!r} must be a positive number")
    if not -18 <= number.adjusted() < 12:  # Decimal arithmetic later must not over/underflow
        raise ConfigError(name, f"{value[:40]!r} is out of range")
    return number


@click.group(cls=_Group, context_settings=CONTEXT)
@click.version_option(
    __version__, "--version", prog_name="truex-qf", message="%(prog)s %(version)s"
)
@click.option(
    "--env-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Load settings from this file first (variables already set in the environment win).",
)
@click.option("-v", "--verbose", is_flag=True, help="Also print every FIX message (redacted).")
@click.pass_context
def cli(ctx: click.Context, env_file: Path | None, verbose: bool) -> None:
    """truex-qf: market making on TrueX over FIX 5.0 SP2, built on QuickFIX.

    \b
    Settings come from the environment (see README "Configuration"); each command's help
    names the variables it reads. TRUEX_STATE_DIR (default ./state) holds logs, the SQLite
    store and the FIX sequence files; the demo keeps its own in TRUEX_STATE_DIR/demo.
    Exit codes: 0 done, 1 failure, 2 bad input, 3 logon refused, 4 timeout, 5 order
    rejected, 130 stopped by Ctrl-C (143 by SIGTERM).
    """
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    if env_file is not None:
        if env_file.exists():
            try:
                apply_env_file(env_file)
            except ConfigError as exc:
                click.echo(f"error: {exc}", err=True)
                sys.exit(exc.exit_code)
        elif env_file.name != ".env":
            click.echo(f"error: {env_file}: no such file", err=True)
            sys.exit(2)


def _state_dir() -> Path:
    """TRUEX_STATE_DIR, created if missing and proven writable (else one line, exit 2)."""
    return prepare_state_dir(state_dir_setting())


def _state_dir_to_read() -> Path:
    """TRUEX_STATE_DIR for a command that only looks: not created, but not a file either."""
    return check_state_dir(state_dir_setting())


@cli.command("test-order")
@click.option("--symbol", default="BTC-PYUSD", show_default=True, help="Instrument, BASE-QUOTE.")
@click.option(
    "--side",
    type=click.Choice(["buy", "sell"]),
    default="buy",
    show_default=True,
    help="Order side.",
)
@click.option(
    "--quantity", default="0.001", show_default=True, help="Base quantity, on the lot grid."
)
@click.option(
    "--price", default=None, help="Limit price; default: --distance-bps behind the top of book."
)
@click.option(
    "--distance-bps", default="100", show_default=True, help="How far behind the top of book."
)
@click.option(
    "--timeout", "timeout_s", default=15.0, show_default=True, help="Seconds to wait per step."
)
@click.pass_context
@_one_line_errors
def test_order(
    ctx: click.Context,
    symbol: str,
    side: str,
    quantity: str,
    price: str | None,
    distance_bps: str,
    timeout_s: float,
) -> None:
    """Log on, place one limit order far from the market, cancel it, log out.

    \b
    Reads TRUEX_API_KEY, TRUEX_SECRET_KEY, TRUEX_SENDER_COMP_ID, TRUEX_CLIENT_ID, TRUEX_FIX_HOST,
    TRUEX_ORDER_ENTRY_PORT, TRUEX_MARKET_DATA_PORT, TRUEX_OE_TARGET_COMP_ID,
    TRUEX_MD_TARGET_COMP_ID, TRUEX_STATE_DIR.
    Exit 0 only when the order was acknowledged and cancelled.
    """
    from truex_qf.ops.testorder import TestOrderRequest, run_test_order

    config = load_fix_settings()
    configure_logging(config.state_dir, ctx.obj["verbose"])
    request = TestOrderRequest(
        symbol=symbol.strip().upper(),
        side=Side.BUY if side == "buy" else Side.SELL,
        quantity=_decimal("--quantity", quantity) or Decimal(0),
        price=_decimal("--price", price),
        distance_bps=_decimal("--distance-bps", distance_bps) or Decimal(0),
        timeout_s=timeout_s,
    )
    run_test_order(config, request, report=click.echo)
    click.echo("test-order: OK")


_PORT = click.IntRange(1, 65535)
_LISTEN_PORT = click.IntRange(0, 65535)  # 0: the system picks a free port


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address the FIX gateways and the REST API listen on.",
)
@click.option(
    "--oe-port",
    type=_PORT,
    default=UAT_ORDER_ENTRY_PORT,
    show_default=True,
    help="Order-entry FIX port (TrueX UAT's); printed as TRUEX_ORDER_ENTRY_PORT.",
)
@click.option(
    "--md-port",
    type=_PORT,
    default=UAT_MARKET_DATA_PORT,
    show_default=True,
    help="Market-data FIX port (TrueX UAT's); printed as TRUEX_MARKET_DATA_PORT.",
)
@click.option(
    "--rest-port",
    type=_PORT,
    default=DEFAULT_REST_PORT,
    show_default=True,
    help="REST API port (TrueX UAT's); printed as TRUEX_REST_URL.",
)
@click.option(
    "--seed",
    "seeds",
    multiple=True,
    metavar="SYMBOL=MID",
    help="A book around MID for SYMBOL (repeatable); e.g. BTC-PYUSD=100000.",
)
@click.option(
    "--flow",
    is_flag=True,
    help="Simulated traders (random walk, makers, takers) around each --seed, instead of a "
    "static book.",
)
@click.option(
    "--balance",
    "balances",
    multiple=True,
    metavar="CCY=AMOUNT",
    help="The account's starting balance of CCY (repeatable; default PYUSD=1000000 and "
    "BTC=10). Orders it cannot fund are rejected: Insufficient balance.",
)
@click.pass_context
@_one_line_errors
def simulate(
    ctx: click.Context,
    host: str,
    oe_port: int,
    md_port: int,
    rest_port: int,
    seeds: tuple[str, ...],
    flow: bool,
    balances: tuple[str, ...],
) -> None:
    """Run a local TrueX (FIX order entry and market data, REST API) until Ctrl-C.

    \b
    Reads TRUEX_API_KEY and TRUEX_SECRET_KEY (both, or neither: built-in demo
    credentials), TRUEX_SENDER_COMP_ID and TRUEX_CLIENT_ID (demo values if unset) and
    TRUEX_STATE_DIR (its log, in simulator/ there). On start it prints the export lines
    that point run, test-order and doctor at it.
    """
    from truex_qf.sim.server import SimulatorSettings
    from truex_qf.sim.service import (
        LocalTruex,
        client_exports,
        simulator_identity,
        starting_balances,
    )

    global _waits_for_stop
    identity = simulator_identity(process_environment())
    ports = {"--oe-port": oe_port, "--md-port": md_port, "--rest-port": rest_port}
    if len(set(ports.values())) < len(ports):
        raise ConfigError("--oe-port/--md-port/--rest-port", "must be three different ports")
    settings = SimulatorSettings(
        account=identity.account,
        order_entry_port=oe_port,
        market_data_port=md_port,
        host=host,
        balances=starting_balances(balances),
    )
    parsed_seeds = [_parse_seed(seed, settings.symbols) for seed in seeds]
    if flow and not parsed_seeds:
        raise ConfigError("--flow", "needs at least one --seed SYMBOL=MID to trade around")
    # Its own log folder: a client run from the same folder logs to TRUEX_STATE_DIR/log.
    configure_logging(_state_dir() / "simulator", ctx.obj["verbose"])
    local = LocalTruex(settings, rest_port, parsed_seeds, flow)
    local.start()
    _waits_for_stop = True
    try:
        click.echo(
            f"simulated TrueX on {host}: order entry {oe_port}, market data {md_port}, "
            f"REST {local.rest_url}; accepting {identity.account.sender_comp_id}. Ctrl-C stops."
        )
        for line in client_exports(identity, host, oe_port, md_port, local.rest_url):
            click.echo(line)
        while not stop_requested.wait(0.5):
            pass
    finally:
        local.stop()
    click.echo("simulator stopped")


def _parse_seed(text: str, symbols: dict[str, str]) -> tuple[str, Decimal]:
    symbol, sep, mid = text.partition("=")
    if not sep or symbol not in symbols:
        raise ConfigError(
            "--seed", f"{text!r}: expected SYMBOL=MID with SYMBOL one of {', '.join(symbols)}"
        )
    return symbol, _decimal("--seed", mid) or Decimal(0)


@cli.command()
@duration_option("trade", default=20.0)
@click.pass_context
@_one_line_errors
def demo(ctx: click.Context, duration_s: float) -> None:
    """Simulated TrueX with simulated traders, and the market maker against it. No setup.

    \b
    Reads TRUEX_STATE_DIR (default ./state): the demo logs and stores its run in
    TRUEX_STATE_DIR/demo (or in DATABASE_URL when set), where `truex-qf runs`,
    `truex-qf summary` and the other reports find it. Its live namespace is DEMO_MM.
    Ctrl-C stops it cleanly (exit 130).
    """
    from truex_qf.app.demo import DEMO_STRATEGY_FILE, run_demo
    from truex_qf.app.runner import LiveView
    from truex_qf.ops.runs import demo_state_dir

    _positive_duration(duration_s)
    state_dir = demo_state_dir(_state_dir())
    configure_logging(state_dir, ctx.obj["verbose"])
    _stop_on_signals()
    click.echo(f"demo: simulated TrueX with simulated traders; market making for {duration_s:g} s")
    result = run_demo(state_dir, duration_s, view=LiveView(), stop=stop_requested)
    for line in result.summary.lines():
        click.echo(line)
    click.echo(f"simulator's record of our fills: {result.venue_fills}")
    for path in result.capture_paths:
        click.echo(f"market data captured to: {path}")
        click.echo(
            f"backtest it: truex-qf backtest --data {path} --strategy {_shown(DEMO_STRATEGY_FILE)}"
        )
    click.echo(f"run id: {result.run_id}; see it with: truex-qf summary {result.run_id[:8]}")
    _exit_if_stopped_by_signal()


@cli.command()
@duration_option("trade")
@strategy_option()
@click.option(
    "--cpu-wake-latency-us",
    "wake_latency",
    default=None,
    metavar="US",
    help="Keep the CPUs from idle states slower than this to leave while running (0: never "
    "halt), through /dev/cpu_dma_latency; needs write access to it. Default: off.",
)
@click.option(
    "--paper",
    is_flag=True,
    help="Paper trading: live market data from the configured venue, orders to a local "
    "matching engine that mirrors the live book. No order leaves this machine: no "
    "order-entry session is started and the REST API is not called. A fill that added "
    "liquidity pays the strategy's maker_fee_bps, one that took it nothing (as `backtest` "
    "charges by default).",
)
@click.option(
    "--capture",
    "capture_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Also record the inbound market data (and reference ticks) to capture files in this "
    "folder: run-<run id>-YYYYMMDD.cap.gz, for `backtest` (README, Capture).",
)
@local_balance_option("With --paper: ")
@click.pass_context
@_one_line_errors
def run(
    ctx: click.Context,
    duration_s: float | None,
    strategy_path: Path | None,
    wake_latency: str | None,
    capture_dir: Path | None,
    paper: bool,
    balances: tuple[str, ...],
) -> None:
    """The market maker on both sessions, against what the environment points at.

    SIGINT/SIGTERM (or the end of --duration) cancels every working order, waits for the
    acknowledgements, logs out and prints a summary. `truex-qf kill` halts it and cancels all.
    Exit 0 when --duration ran out, 130 (143) when stopped by Ctrl-C (SIGTERM).

    With --paper only the market-data session is started; the orders rest in a local paper
    venue whose book follows the live one, and fill when the live market trades through
    them (docs/paper.md). The run is stored with mode paper.

    \b
    Reads TRUEX_API_KEY, TRUEX_SECRET_KEY, TRUEX_SENDER_COMP_ID, TRUEX_CLIENT_ID, TRUEX_FIX_HOST,
    TRUEX_ORDER_ENTRY_PORT, TRUEX_MARKET_DATA_PORT, TRUEX_OE_TARGET_COMP_ID,
    TRUEX_MD_TARGET_COMP_ID, TRUEX_STATE_DIR,
    TRUEX_REST_URL, TRUEX_UNKNOWN_ORDERS, TRUEX_GIVE_UP_AFTER_S, DATABASE_URL, REDIS_URL,
    TRUEX_LIVE_NAMESPACE, TRUEX_METRICS_PORT, TRUEX_METRICS_HOST, TRUEX_ALERT_WEBHOOK_URL.
    """
    from truex_qf.app.cpu_wake import cpu_wake_latency, parse_wake_latency
    from truex_qf.app.instance_lock import InstanceLock, account_key
    from truex_qf.app.pipeline import Pipeline
    from truex_qf.app.runner import LiveView, Runner
    from truex_qf.app.settings import load_run_settings
    from truex_qf.feeds.references import reference_feed
    from truex_qf.strategy.fair_value import PriceSource

    if duration_s is not None:
        _positive_duration(duration_s)
    wake_limit_us = parse_wake_latency("--cpu-wake-latency-us", wake_latency)
    if balances and not paper:
        raise ConfigError("--balance", "only with --paper (a live run has the venue's balances)")
    paper_balances = _local_balances(balances)
    # Every setting is read and checked before anything starts: a mistake is one line, exit 2.
    settings = load_run_settings(strategy_path, capture_dir=capture_dir)
    config, strategy = settings.fix, settings.strategy
    account = account_key(
        config.sender_comp_id, config.host, config.order_entry_port, config.order_entry_target
    )
    # Before the log, the store and the logon: a second instance touches nothing. Released
    # when the run ends (or by the kernel, however the process dies). The CPU wake-up limit
    # is held before anything starts too: asked for and impossible stops the run here.
    with InstanceLock(config.state_dir, account), cpu_wake_latency(wake_limit_us):
        configure_logging(config.state_dir, ctx.obj["verbose"])
        references = {
            s.symbol: reference_feed(
                s.reference, s.symbol, coinbase_base_url=strategy.coinbase_base_url
            )
            for s in strategy.symbols
            if s.reference is not None
        }
        pipeline = Pipeline(settings.recording)
        pipeline.capture_references(references)
        # paper: no REST client at all (nothing of the run is at the venue to reconcile)
        rest = None if paper else _rest_client(config, settings.rest_url)
        order_venue = _paper_venue(strategy, pipeline, paper_balances) if paper else None
        for ticker in references.values():
            ticker.start()
        runner = Runner(
            config,
            strategy,
            references=dict[str, "PriceSource"](references),
            view=LiveView(),
            pipeline=pipeline,
            mode="paper" if paper else "run",
            rest=rest,
            unknown_orders=settings.unknown_orders,
            give_up_s=settings.give_up_after_s,
            stop=stop_requested,
            order_venue=order_venue,
        )
        for symbol, feed in references.items():
            # a reference move requotes at once, on the feed's thread, as a book move does
            feed.set_listener(functools.partial(runner.inputs_moved, symbol))
        _stop_on_signals(kill=runner.kill_requested)
        try:
            summary = runner.run(duration_s)
        finally:
            for ticker in references.values():
                ticker.stop()
    for line in summary.lines():
        click.echo(line)
    click.echo(f"run id: {pipeline.run_id}; see it with: truex-qf summary {pipeline.run_id[:8]}")
    if summary.working_orders_after_shutdown:
        raise TruexError(
            f"{summary.working_orders_after_shutdown} orders still working; check the venue"
        )
    _exit_if_stopped_by_signal()


def _paper_venue(
    strategy: StrategySettings, pipeline: Pipeline, balances: dict[str, Decimal] | None
) -> OrderVenue:
    """``run --paper``'s order venue: the simulator's matching engine behind the product's
    OrderVenue protocol (the runner never imports the simulator; the CLI may). Its orders
    and reports go into the run's journal as session PAPER."""
    from truex_qf.app.paper import PaperVenue

    return PaperVenue(strategy, journal=pipeline.tap, balances=balances)


def _local_balances(balances: tuple[str, ...]) -> dict[str, Decimal] | None:
    """``--balance`` of a backtest or paper run: the balances given, None if none (not
    limited)."""
    from truex_qf.sim.balances import parse_balances

    return parse_balances(balances) if balances else None


@cli.command()
@_one_line_errors
def kill() -> None:
    """Engage the kill switch of the running instance: cancel every order and halt.

    The instance is the process holding the state folder's lock (TRUEX_STATE_DIR), whatever
    any PID file says. Reads TRUEX_STATE_DIR.
    """
    from truex_qf.app.instance_lock import LOCK_FILE, find_holder, last_holder

    state_dir = _state_dir_to_read()
    holder = find_holder(state_dir)
    if holder is None:
        last = last_holder(state_dir)
        gone = f" (process {last.pid}, its last holder, has exited)" if last and last.pid else ""
        raise TruexError(f"no running truex-qf found: nothing holds {state_dir / LOCK_FILE}{gone}")
    if holder.pid is None:
        raise TruexError(f"a process holds {state_dir / LOCK_FILE} but wrote no PID in it")
    try:
        os.kill(holder.pid, signal.SIGUSR1)
    except ProcessLookupError:
        raise TruexError(f"no running truex-qf found: process {holder.pid} has exited") from None
    click.echo(f"kill switch sent to process {holder.pid}")


@cli.group(cls=_Group)
def db() -> None:
    """The SQL store (SQLite under the state folder, or DATABASE_URL).

    Reads DATABASE_URL and TRUEX_STATE_DIR.
    """


@db.command("upgrade")
@_one_line_errors
def db_upgrade() -> None:
    """Create or migrate the schema to what this version of truex-qf needs.

    Reads DATABASE_URL (else the SQLite file in TRUEX_STATE_DIR).
    """
    from truex_qf.storage.database import database_url, mask_url, upgrade

    url = database_url(_state_dir())
    revision = upgrade(url)
    click.echo(f"{mask_url(url)}: schema at revision {revision}")


@cli.group(cls=_Group)
def audit() -> None:
    """The hash-chained journal of every FIX message.

    Reads DATABASE_URL and TRUEX_STATE_DIR.
    """


@audit.command("verify")
@_one_line_errors
def audit_verify() -> None:
    """Check the whole chain; exit 1 at the first edited, missing or reordered row.

    Checks every store of the state folder: the program's (DATABASE_URL, else the SQLite
    file in TRUEX_STATE_DIR) and the demo's (TRUEX_STATE_DIR/demo), each its own chain.
    """
    from truex_qf.ops.runs import open_store, store_urls
    from truex_qf.storage.database import database_url, mask_url
    from truex_qf.storage.journal import verify_database

    urls = store_urls(_state_dir())
    if not urls:  # no store yet: the program's, checked as before (says what is missing)
        urls = [database_url(_state_dir())]
    failed = False
    for url in urls:
        with open_store(url) as engine:
            report = verify_database(engine)
        prefix = f"{mask_url(url)}: " if len(urls) > 1 else ""
        click.echo(f"{prefix}{report}")
        failed = failed or not report.ok
    if failed:
        sys.exit(1)


def _find_run(run_ref: str | None) -> StoredRun:
    """The run ``run_ref`` names (a unique prefix), else the latest of the state folder's
    stores, the demo's included (truex_qf.ops.runs); an unknown id is one line, exit 2."""
    from truex_qf.ops.runs import resolve_run, store_urls

    return resolve_run(store_urls(_state_dir()), run_ref)


@contextlib.contextmanager
def _run_store(run_ref: str | None) -> Iterator[tuple[Engine, StoredRun]]:
    """(engine, run) for a report command: the run found and an engine on its store."""
    from truex_qf.ops.runs import open_store

    run = _find_run(run_ref)
    with open_store(run.url) as engine:
        yield engine, run


_MSG_TYPES = {
    "heartbeat": "0",
    "testrequest": "1",
    "resendrequest": "2",
    "reject": "3",
    "sequencereset": "4",
    "logout": "5",
    "executionreport": "8",
    "ordercancelreject": "9",
    "logon": "A",
    "newordersingle": "D",
    "ordercancelrequest": "F",
    "ordercancelreplacerequest": "G",
    "orderstatusrequest": "H",
    "marketdatarequest": "V",
    "marketdatasnapshotfullrefresh": "W",
    "marketdataincrementalrefresh": "X",
    "marketdatarequestreject": "Y",
    "securitylistrequest": "x",
    "securitylist": "y",
    "businessmessagereject": "j",
    "ordermasscancelrequest": "q",
    "ordermasscancelreport": "r",
}
"""MsgType(35) by name, for ``audit show --type``; codes are accepted as they are."""


def _msg_type(text: str | None) -> str | None:
    if text is None:
        return None
    value = text.strip()
    key = value.replace("_", "").replace("-", "").replace(" ", "").lower()
    if key in _MSG_TYPES:
        return _MSG_TYPES[key]
    if value in _MSG_TYPES.values() or (0 < len(value) <= 3 and value.isalnum()):
        return value
    names = ", ".join(sorted({"ExecutionReport", "NewOrderSingle", "OrderCancelRequest", "Logon"}))
    raise ConfigError("--type", f"{text!r}: a MsgType code (8, D, A ...) or a name ({names} ...)")


@audit.command("show")
@click.option("--session", default=None, help="Session ID, or part of it (e.g. TRUEX_UAT_OE).")
@click.option(
    "--type",
    "msg_type",
    default=None,
    metavar="MSGTYPE",
    help="MsgType code or name: 8 or ExecutionReport, D or NewOrderSingle, A or Logon ...",
)
@click.option("--cl-ord-id", default=None, help="ClOrdID (also finds cancels/replaces of it).")
@click.option("--since", default=None, help="ISO time (UTC unless a zone is given).")
@click.option("--until", default=None, help="ISO time, exclusive.")
@click.option(
    "--run-id",
    default=None,
    help="Only this run (a unique prefix will do); default: every run of the latest run's store.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="At most this many messages.",
)
@_one_line_errors
def audit_show(
    session: str | None,
    msg_type: str | None,
    cl_ord_id: str | None,
    since: str | None,
    until: str | None,
    run_id: str | None,
    limit: int,
) -> None:
    """Messages from the journal, oldest first, one per line (secrets were never stored).

    Without --run-id: every run in the store of the latest run (the program's, or the
    demo's in TRUEX_STATE_DIR/demo); with it, that run, wherever it is stored.
    """
    from truex_qf.storage.journal import format_entry, show

    window = {"since": _iso_time("--since", since), "until": _iso_time("--until", until)}
    code = _msg_type(msg_type)
    with contextlib.ExitStack() as stack:
        # after the arguments: a bad --since is one line even with no database
        engine, run = stack.enter_context(_run_store(run_id))
        if run_id is not None:
            run_id = run.run_id
        entries = show(
            engine,
            session=session,
            msg_type=code,
            cl_ord_id=cl_ord_id,
            run_id=run_id,
            limit=limit,
            **window,
        )
    for entry in entries:
        click.echo(format_entry(entry))


@cli.command()
@run_id_option
@_one_line_errors
def replay(run_id: str | None) -> None:
    """Rebuild orders, positions and PnL from the journal alone; compare with the tables.

    Reads TRUEX_STATE_DIR and DATABASE_URL (the store; the demo's too, see `runs`).
    """
    from truex_qf.storage.replay import compare_with_tables, rebuild_from_journal

    with _run_store(run_id) as (engine, run):
        state = rebuild_from_journal(engine, run.run_id)
        differences = compare_with_tables(engine, run.run_id, state)
    replayed_orders = len(list(state.all_orders()))
    click.echo(
        f"run {run.run_id}: {state.rows_replayed} journal rows, {replayed_orders} orders, "
        f"{len(state.fills)} fills replayed"
    )
    for difference in differences:
        click.echo(f"DIFFERENT {difference}")
    if differences:
        sys.exit(1)
    click.echo("replay matches the stored orders, executions, positions and PnL")


def _report_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--csv", "as_csv", is_flag=True, help="CSV (every column, exact) instead of a table."
    )(command)
    return run_id_option(command)


def _print_report(report: Report, as_csv: bool) -> None:
    click.echo(report.to_csv() if as_csv else report.to_table(), nl=not as_csv)


@cli.command()
@click.option("--limit", type=click.IntRange(min=1), default=None, help="The newest N runs.")
@_one_line_errors
def runs(limit: int | None) -> None:
    """The stored runs, newest first: id, start, duration, mode, fills, volume, PnL.

    Lists the program's store and the demo's (TRUEX_STATE_DIR/demo). Every report takes
    the id, or any unique prefix of it. Reads TRUEX_STATE_DIR and DATABASE_URL.
    """
    from truex_qf.ops.runs import run_lines, runs_report, store_urls

    click.echo(runs_report(run_lines(store_urls(_state_dir()), limit)).to_table(), nl=False)


@cli.command(short_help="What a run did: volume, fills, maker share, spread, PnL, drawdown.")
@click.argument("run_ref", metavar="[RUN]", required=False)
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV (symbol, figure, value) instead of text.")
@_one_line_errors
def summary(run_ref: str | None, as_json: bool, as_csv: bool) -> None:
    """What a run did: volume, fills, maker share, spread, PnL, drawdown.

    Volume and notional, fills and the maker share, the spread captured in bps, realized and
    unrealized PnL and fees in the quote currency, max inventory, max drawdown, quoting
    uptime, rejects and denials by reason (definitions: truex_qf.ops.summary). RUN is a run
    id or a unique prefix of it (`truex-qf runs` lists them); default: the latest run, the
    demo's included. Reads TRUEX_STATE_DIR and DATABASE_URL.
    """
    from truex_qf.ops.summary import summarize_run

    if as_json and as_csv:
        raise ConfigError("--json/--csv", "choose one")
    with _run_store(run_ref) as (engine, run):
        report = summarize_run(engine, run)
    if as_json:
        click.echo(report.to_json(), nl=False)
    elif as_csv:
        click.echo(report.to_csv(), nl=False)
    else:
        for line in report.lines():
            click.echo(line)


@cli.command()
@click.argument("run_ref", metavar="[RUN]", required=False)
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Write the page to this file (overwritten).",
)
@_one_line_errors
def report(run_ref: str | None, html_path: Path) -> None:
    """Charts of a run in one self-contained HTML page: PnL, inventory, quotes, fills, markouts.

    RUN is a run id or a unique prefix of it; default: the latest run, the demo's included.
    The page needs nothing else to open (inline SVG). Reads TRUEX_STATE_DIR and DATABASE_URL.
    """
    from truex_qf.ops.charts import read_series, render_html

    with _run_store(run_ref) as (engine, run):
        page = render_html(run, read_series(engine, run.run_id))
    try:
        html_path.write_text(page, encoding="utf-8")
    except OSError as error:
        raise ConfigError("--html", f"cannot write {html_path}: {error.strerror}") from None
    click.echo(f"run {run.short_id}: charts in {html_path}")


@cli.command()
@_report_options
@click.option("--symbol", default=None, help="Only this instrument, e.g. BTC-PYUSD.")
@click.option("--state", default=None, help="Only orders in this state: FILLED, CANCELED, NEW ...")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="The newest N orders.")
@_one_line_errors
def orders(
    run_id: str | None, as_csv: bool, symbol: str | None, state: str | None, limit: int | None
) -> None:
    """Orders of a run with their latest state.

    Reads TRUEX_STATE_DIR and DATABASE_URL (the store; the demo's too, see `runs`).
    """
    from truex_qf.ops.reports import orders_report

    with _run_store(run_id) as (engine, run):
        report = orders_report(engine, run_id=run.run_id, symbol=symbol, state=state, limit=limit)
    _print_report(report, as_csv)


@cli.command()
@_report_options
@click.option("--symbol", default=None, help="Only this instrument, e.g. BTC-PYUSD.")
@click.option("--since", default=None, help="ISO time (UTC unless a zone is given).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="The newest N fills.")
@_one_line_errors
def fills(
    run_id: str | None, as_csv: bool, symbol: str | None, since: str | None, limit: int | None
) -> None:
    """Executions of a run.

    Reads TRUEX_STATE_DIR and DATABASE_URL (the store; the demo's too, see `runs`).
    """
    from truex_qf.ops.reports import fills_report

    since_time = _iso_time("--since", since)
    with _run_store(run_id) as (engine, run):
        report = fills_report(
            engine, run_id=run.run_id, symbol=symbol, since=since_time, limit=limit
        )
    _print_report(report, as_csv)


@cli.command()
@_report_options
@_one_line_errors
def pnl(run_id: str | None, as_csv: bool) -> None:
    """Position and PnL per symbol, checked against the executions.

    The table shows amounts at the instrument's precision; --csv every column, exact.
    Reads TRUEX_STATE_DIR and DATABASE_URL (the store; the demo's too, see `runs`).
    """
    from truex_qf.ops.reports import pnl_report, pnl_table

    with _run_store(run_id) as (engine, run):
        report = pnl_report(engine, run_id=run.run_id)
    click.echo(report.to_csv() if as_csv else pnl_table(report).to_table(), nl=not as_csv)


@cli.command()
@click.option(
    "--interval",
    "interval_s",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between redraws.",
)
@click.option("--once", is_flag=True, help="Print the view once and exit.")
@click.option(
    "--namespace",
    default=None,
    help="Live-state namespace; default: TRUEX_LIVE_NAMESPACE, else the latest run's "
    "SenderCompID (DEMO_MM for the demo).",
)
@run_id_option
@_one_line_errors
def status(interval_s: float, once: bool, namespace: str | None, run_id: str | None) -> None:
    """Live view of a running instance: sessions, books, quotes, position, PnL, events.

    Reads REDIS_URL for the live state, TRUEX_LIVE_NAMESPACE, and TRUEX_STATE_DIR and
    DATABASE_URL for the run and its recent events (the demo's included).
    """
    from truex_qf.ops.runs import open_store
    from truex_qf.ops.status_view import status_reader, watch

    live_url = redis_url()
    try:
        run = _find_run(run_id)
    except ConfigError:
        raise
    except TruexError:  # no store or no run yet: the live part alone
        if run_id is not None:
            raise
        run = None
    namespace = (
        namespace
        or live_namespace()
        or (run.sender_comp_id if run else "")
        or sender_comp_id_setting()
        or "default"
    )
    with contextlib.ExitStack() as stack:
        engine = stack.enter_context(open_store(run.url)) if run else None
        read = status_reader(
            engine, redis_url=live_url, namespace=namespace, run_id=run.run_id if run else None
        )
        with contextlib.suppress(KeyboardInterrupt):
            watch(read, sys.stdout, interval_s, iterations=1 if once else None)


def _iso_time(name: str, text: str | None):
    from datetime import datetime

    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(name, f"{text!r} is not an ISO time like 2026-11-24T21:00:00") from None


@cli.command()
@click.option(
    "--listen-port",
    type=_LISTEN_PORT,
    default=None,
    help="Route each connection by its Logon's TargetCompID (0: a free port).",
)
@click.option("--oe", default=None, metavar="HOST:PORT", help="Order-entry gateway.")
@click.option("--md", default=None, metavar="HOST:PORT", help="Market-data gateway.")
@click.option(
    "--oe-listen-port", type=_LISTEN_PORT, default=None, help="A port relayed to --oe as is."
)
@click.option(
    "--md-listen-port", type=_LISTEN_PORT, default=None, help="A port relayed to --md as is."
)
@click.option(
    "--max-connections",
    type=int,
    default=16,
    show_default=True,
    help="Connections per upstream (and for the routing port's not yet routed ones).",
)
@click.option(
    "--max-per-address",
    type=int,
    default=8,
    show_default=True,
    help="Connections from one client IP.",
)
@click.option(
    "--logon-timeout",
    "logon_timeout_s",
    default=10.0,
    show_default=True,
    help="Seconds from accept to a complete Logon (35=A); then the connection is closed.",
)
@click.option(
    "--idle-timeout",
    "idle_timeout_s",
    default=90.0,
    show_default=True,
    help="Seconds without a complete message from the client.",
)
@click.option(
    "--max-message-time",
    "max_message_time_s",
    default=10.0,
    show_default=True,
    help="Seconds a client message may take from its first byte to its last.",
)
@click.option(
    "--listen-host", default="127.0.0.1", show_default=True, help="Address the proxy listens on."
)
@click.pass_context
@_one_line_errors
def proxy(
    ctx: click.Context,
    listen_port: int | None,
    oe: str | None,
    md: str | None,
    oe_listen_port: int | None,
    md_listen_port: int | None,
    max_connections: int,
    max_per_address: int,
    logon_timeout_s: float,
    idle_timeout_s: float,
    max_message_time_s: float,
    listen_host: str,
) -> None:
    """A FIX-aware TCP relay for deployments that reach TrueX through one host.

    Every connection must send its Logon within --logon-timeout; slots are counted per
    upstream and per client address, so slow or silent clients on one port cannot shut the
    other, and a client trickling bytes is cut (see truex_qf.ops.proxy). Reads
    TRUEX_STATE_DIR (its log). Runs until Ctrl-C or SIGTERM (its normal end: exit 0).
    """
    from truex_qf.ops.proxy import build_proxy_config, run_forever

    config = build_proxy_config(
        listen_port=listen_port,
        oe=oe,
        md=md,
        oe_listen_port=oe_listen_port,
        md_listen_port=md_listen_port,
        max_connections=max_connections,
        max_connections_per_address=max_per_address,
        logon_timeout_s=logon_timeout_s,
        idle_timeout_s=idle_timeout_s,
        max_message_time_s=max_message_time_s,
        listen_host=listen_host,
    )
    configure_logging(_state_dir(), ctx.obj["verbose"])
    _stop_on_signals()
    run_forever(config, stop_requested)


def _rest_client(config, url: str | None):
    """TrueX REST for reconciliation and the deadman cancel; None (TRUEX_REST_URL=off): none."""
    from truex_qf.rest.client import TruexRestClient

    if url is None:
        return None
    return TruexRestClient(url, config.credentials, config.client_id)


@cli.command()
@click.option("--timeout", "timeout_s", default=5.0, show_default=True, help="Seconds per step.")
@_one_line_errors
def doctor(timeout_s: float) -> None:
    """Check configuration, DNS, TCP, FIX logons, clock skew and REST; exit 0 only if all pass.

    \b
    Reads TRUEX_API_KEY, TRUEX_SECRET_KEY, TRUEX_SENDER_COMP_ID, TRUEX_CLIENT_ID,
    TRUEX_FIX_HOST, TRUEX_ORDER_ENTRY_PORT, TRUEX_MARKET_DATA_PORT, TRUEX_OE_TARGET_COMP_ID,
    TRUEX_MD_TARGET_COMP_ID, TRUEX_REST_URL, TRUEX_STATE_DIR, DATABASE_URL, REDIS_URL.
    """
    from truex_qf.ops.doctor import exit_code, format_check, run_doctor, runbook_line

    checks = run_doctor(
        process_environment(), timeout_s=timeout_s, report=lambda c: click.echo(format_check(c))
    )
    if runbook_line(checks):
        click.echo(runbook_line(checks))
    sys.exit(exit_code(checks))


def _shown(path: Path) -> Path:
    """``path`` as the user would type it here: relative to the working folder when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _positive_duration(duration_s: float) -> None:
    if not duration_s > 0:
        raise ConfigError("--duration", f"{duration_s:g} must be a positive number of seconds")


def _stop_on_signals(kill: threading.Event | None = None) -> None:
    """SIGINT/SIGTERM ask for a clean stop (a second one interrupts); SIGUSR1 is the kill switch."""
    global _waits_for_stop
    _waits_for_stop = True
    if kill is not None:
        signal.signal(signal.SIGUSR1, lambda signum, frame: kill.set())


def main() -> None:
    """Console entry point. A usage mistake (a bad option or value) is one line and exit 2."""
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        code = cli.main(obj={}, prog_name="truex-qf", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()  # a group called alone: its help, as click shows it
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        command_ctx = getattr(exc, "ctx", None)  # a UsageError's; not every ClickException has one
        where = f"{command_ctx.command_path}: " if command_ctx is not None else ""
        click.echo(f"error: {where}{exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


# The commands kept in modules of their own register themselves on `cli` when imported.
from truex_qf.app import backtest_cmd, capture_cmd  # noqa: E402, F401

if __name__ == "__main__":
    # `python -m`: run the importable module's main, on whose group every command registered
    # (the modules above register on truex_qf.app.cli's group, not on __main__'s).
    from truex_qf.app.cli import main as registered_main

    registered_main()
