"""`truex-qf run --paper` as an operator runs it, against the simulator in this process.

The simulator is the live venue here (real QuickFIX on both sides, simulated traders moving
and trading its book); the paper run is a separate process. What it must show: it quotes,
its orders rest and fill in its own paper venue, and the venue's order-entry side never
hears from it: no logon, no message, no order in its matching engine.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from decimal import Decimal as D
from pathlib import Path

import pytest
import quickfix as fix

from tests.support.market_maker import step_until, strategy, without_message_limits
from tests.support.processes import account_env, run_cli, start_cli, wait_for_line
from tests.support.simulated_market import simulated_market
from tests.support.storage import read
from tests.support.timing import wait_until
from truex_qf.app.demo import LocalVenue
from truex_qf.app.paper import PaperVenue
from truex_qf.app.runner import Runner
from truex_qf.domain.model import ExecutionReport, OrderCancelReject, SessionRole
from truex_qf.domain.netutil import free_port
from truex_qf.storage.database import database_url
from truex_qf.storage.schema import fix_journal

# Inside the simulated makers (8 bps from their fair value), so the market's moves reach us.
STRATEGY = """
[symbols.BTC-PYUSD]
levels_per_side = 2
spread_bps = 4
level_spacing_bps = 3
level_size_base = 0.002
min_edge_bps = 2
"""


@pytest.fixture
def live_venue(tmp_path):
    """The simulator with moving, trading simulated traders: the paper run's live market."""
    with simulated_market(
        tmp_path / "venue", step_interval_s=0.05, taker_probability=0.6, seed=5
    ) as market:
        yield market.local


def _paper_env(local: LocalVenue, tmp_path: Path) -> dict[str, str]:
    """The account's environment, with a REST URL nothing listens on and a short give-up:
    a run that tried to reconcile (as a live run does) would wait for it and give up."""
    return account_env(
        local.client_settings,
        tmp_path / "state",
        TRUEX_REST_URL=f"http://127.0.0.1:{free_port()}",
        TRUEX_GIVE_UP_AFTER_S="4",
    )


def _strategy_file(tmp_path: Path) -> str:
    path = tmp_path / "strategy.toml"
    path.write_text(STRATEGY)
    return str(path)


def _order_entry_heard_nothing(local: LocalVenue) -> None:
    """The venue's order-entry side never saw this client: no logon attempt, not one
    message received (its next expected sequence number is still 1), no order of the
    account in the matching engine, finished ones included."""
    app = local.venue.application
    assert [role for role, _ in app.journal.logon_attempts if role is SessionRole.ORDER_ENTRY] == []
    assert not app.is_logged_on(SessionRole.ORDER_ENTRY)
    session = fix.Session.lookupSession(app.session_id(SessionRole.ORDER_ENTRY))
    assert session.getExpectedTargetNum() == 1
    client = local.client_settings.client_id
    with app.lock:
        ours = [cl for owner, cl in local.venue.engine._orders_by_cl_ord_id if owner == client]
        trades = [t for t in local.venue.engine.trades() if client in (t.buy_owner, t.sell_owner)]
    assert ours == [] and trades == []


def _number(pattern: str, text: str) -> int:
    match = re.search(pattern, text, re.M)
    assert match is not None, text
    return int(match.group(1))


def _number_text(pattern: str, text: str) -> str:
    match = re.search(pattern, text, re.M)
    assert match is not None, text
    return match.group(1)


def test_paper_run_quotes_fills_and_sends_nothing_to_the_venue(tmp_path, live_venue):
    local = live_venue
    env = _paper_env(local, tmp_path)
    result = run_cli(
        "run",
        "--paper",
        "--duration",
        "8",
        "--strategy",
        _strategy_file(tmp_path),
        env=env,
        timeout_s=120,
    )
    # first: the market-data side was live; the order-entry side heard nothing
    app = local.venue.application
    assert any(role is SessionRole.MARKET_DATA for role, _ in app.journal.logon_attempts)
    _order_entry_heard_nothing(local)
    assert result.returncode == 0, result.stderr[-3000:]
    out, err = result.stdout, result.stderr
    assert "Traceback" not in err
    assert out.startswith("PAPER run: no order left this machine")
    assert _number(r"^orders sent: (\d+) new", out) > 0
    fills = _number(r"^fills: (\d+)", out)
    assert fills > 0, out  # the moving market traded through our paper quotes
    assert "working orders after shutdown: 0" in out
    assert "no reconciliation with the venue's REST API" in err

    # every status line (plain lines: not a terminal) says PAPER
    status = [line for line in err.splitlines() if "truex_qf.app.live_view:" in line]
    assert status and all("live_view: PAPER | up " in line for line in status), status
    assert any("OE PAPER MD up" in line for line in status)

    # the store holds a paper run that the reports read like any other
    run_id = _number_text(r"^run id: ([0-9a-f-]+);", out)
    summary = run_cli("summary", run_id[:8], env=env, timeout_s=60)
    assert summary.returncode == 0, summary.stderr
    assert f"run {run_id} (paper, " in summary.stdout
    assert re.search(rf"^\s+fills\s+{fills} ", summary.stdout, re.M), summary.stdout
    runs = run_cli("runs", env=env, timeout_s=60)
    assert re.search(rf"^{run_id[:8]} .* paper ", runs.stdout, re.M), runs.stdout
    replay = run_cli("replay", "--run-id", run_id[:8], env=env, timeout_s=60)
    assert replay.returncode == 0 and "replay matches" in replay.stdout, replay.stdout
    # the journal's orders are the paper session's; none on a FIX session
    rows = read(database_url(tmp_path / "state", env={}), fix_journal)
    orders = [r for r in rows if r["msg_type"] in ("D", "F", "G")]
    assert orders and {r["session"] for r in orders} == {"PAPER"}


def test_paper_run_kill_then_sigint_leaves_nothing_working(tmp_path, live_venue):
    local = live_venue
    env = _paper_env(local, tmp_path)
    url = database_url(tmp_path / "state", env={})
    trader = start_cli("run", "--paper", "--strategy", _strategy_file(tmp_path), env=env)
    try:
        wait_for_line(trader.stderr, "OE PAPER MD up", timeout_s=60)

        def acknowledged() -> bool:  # a paper order rests (its New report is in the journal)
            rows = read(url, fix_journal)
            return any(r["session"] == "PAPER" and "\x01150=0\x01" in r["text"] for r in rows)

        wait_until(acknowledged, timeout_s=30)
        killed = run_cli("kill", env=env, timeout_s=30)
        assert killed.returncode == 0, killed.stderr
        wait_for_line(trader.stderr, "kill switch engaged", timeout_s=30)
        trader.send_signal(signal.SIGINT)
        out, err = trader.communicate(timeout=60)
    finally:
        if trader.poll() is None:
            trader.kill()
            trader.communicate()
    result = subprocess.CompletedProcess(trader.args, trader.returncode, out, err)
    assert result.returncode == 130, err[-3000:]
    assert "Traceback" not in err
    assert "trading state: HALTED (kill switch: kill command)" in out
    assert "working orders after shutdown: 0" in out
    assert _number(r"^orders sent: (\d+) new", out) > 0
    assert _number(r"(\d+) cancel$", out) > 0
    _order_entry_heard_nothing(local)


def test_run_help_says_paper_sends_no_order(tmp_path):
    env = {**os.environ, "TRUEX_STATE_DIR": str(tmp_path / "state")}
    result = run_cli("run", "--help", env=env, timeout_s=60)
    assert result.returncode == 0
    help_text = " ".join(result.stdout.split())
    assert "--paper" in help_text
    assert "No order leaves this machine" in help_text


def test_paper_reports_are_applied_under_the_trading_lock(tmp_path, live_venue):
    """In process: the paper venue's reports reach the market maker as the order-entry
    session's do, each applied by a holder of the runner's trading lock, and a fill of a
    resting order comes from the live market moving through it."""
    local = live_venue
    settings = without_message_limits(
        strategy(levels_per_side=2, spread_bps=D(3), level_spacing_bps=D(2))
    )
    runner = Runner(local.client_settings, settings, order_venue=PaperVenue(settings))
    applied: list[tuple[str, bool]] = []
    handle = runner.mm.handle

    def handle_watched(event: object) -> None:
        if isinstance(event, ExecutionReport | OrderCancelReject):
            owned = runner.trading_lock._is_owned()  # type: ignore[attr-defined]
            applied.append((event.cl_ord_id, owned))
        handle(event)

    runner.mm.handle = handle_watched  # type: ignore[method-assign]
    try:
        runner.start()
        assert set(runner.client.roles.values()) == {SessionRole.MARKET_DATA}
        step_until(runner, lambda: runner.mm.sessions_up == (True, True))  # OE: the paper's
        step_until(runner, lambda: runner.mm.stats.fills >= 1, timeout_s=30)
        summary = runner.finish()
    finally:
        runner.close()
    assert summary.paper and summary.working_orders_after_shutdown == 0
    assert applied and all(owned for _, owned in applied)
    _order_entry_heard_nothing(local)
