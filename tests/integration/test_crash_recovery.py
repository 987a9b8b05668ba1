"""``kill -9`` the market maker with working orders and a position, let the venue fill its
orphans, start it again: it must trade on the venue's position, to the last lot.

The market maker runs as the operator runs it (``truex-qf run`` subprocesses); the venue is
the simulator in this process (FIX acceptor and its REST API), so the test can trade against
our orders and read the venue's own record of them. Checked after the restart:

- the orphans (orders of the killed run still working at the venue) are cancelled (or, with
  TRUEX_UNKNOWN_ORDERS=adopt, adopted and cancelled at the end like any order of the run);
- the position the program trades on equals the venue's (its trades with us), to the lot,
  and it knew it before its first order (the journal's REST rows precede its first 35=D);
- every venue fill of ours is in ``executions`` exactly once;
- ``truex-qf replay`` of both runs and ``truex-qf audit verify`` pass.
"""

from __future__ import annotations

import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.processes import account_env, run_cli, start_cli
from tests.support.services import postgres_url_or_skip, temporary_postgres_database
from tests.support.sessions import unique_comp_id
from truex_qf.app.demo import DEMO_SYMBOL, demo_account, start_local_venue
from truex_qf.domain.model import NewOrder, Side, TimeInForce
from truex_qf.sim.rest_server import SimulatorRestServer
from truex_qf.storage.database import database_url, make_engine
from truex_qf.storage.schema import executions, fix_journal, runs

STRATEGY = """
[symbols.BTC-PYUSD]
levels_per_side = 1
spread_bps = 5
min_edge_bps = 0
inventory_skew_bps = 0
max_skew_bps = 0
level_size_base = "0.001"
"""
TAKER = "SIM-TAKER"
RUN_TIMEOUT_S = 90.0


class Venue:
    """The simulated exchange with its REST API, and the environment ``run`` needs for it."""

    def __init__(self, tmp_path: Path, extra_env: dict[str, str] | None = None) -> None:
        self.local = start_local_venue(tmp_path / "venue", demo_account(unique_comp_id()))
        self.rest = SimulatorRestServer(self.local.venue)
        self.rest.start()
        account = self.local.client_settings
        self.client_id = account.client_id
        strategy = tmp_path / "strategy.toml"
        strategy.write_text(STRATEGY)
        self.state_dir = tmp_path / "state"
        self.env = account_env(
            account, self.state_dir, TRUEX_REST_URL=self.rest.url, **(extra_env or {})
        )
        self.strategy = strategy

    @property
    def engine(self):  # type: ignore[no-untyped-def]
        return self.local.venue.engine

    @property
    def app(self):  # type: ignore[no-untyped-def]
        return self.local.venue.application

    def ours(self):  # type: ignore[no-untyped-def]
        with self.app.lock:
            return self.engine.working_orders(self.client_id)

    def take(self, side: Side, price: Decimal, qty: Decimal, cl_ord_id: str) -> Decimal:
        """Another trader's IOC against our quote; how much of it traded with us."""
        order = NewOrder(cl_ord_id, DEMO_SYMBOL, side, qty, price, time_in_force=TimeInForce.IOC)
        with self.app.lock:
            before = self.position()
            self.app.publish(self.engine.submit(TAKER, order))
            return abs(self.position() - before)

    def trades(self) -> list:  # type: ignore[type-arg]
        with self.app.lock:
            return [
                t for t in self.engine.trades() if self.client_id in (t.buy_owner, t.sell_owner)
            ]

    def fills(self) -> list[str]:
        """The ExecID of every fill of ours the venue made."""
        exec_ids = []
        for trade in self.trades():
            if trade.buy_owner == self.client_id:
                exec_ids.append(trade.buy_exec_id)
            if trade.sell_owner == self.client_id:
                exec_ids.append(trade.sell_exec_id)
        return exec_ids

    def position(self) -> Decimal:
        return sum(
            (
                (t.quantity if t.buy_owner == self.client_id else Decimal(0))
                - (t.quantity if t.sell_owner == self.client_id else Decimal(0))
                for t in self.trades()
            ),
            Decimal(0),
        )

    def stop(self) -> None:
        self.rest.stop()
        self.local.venue.stop(force=True)


def cli(venue: Venue, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=venue.env, timeout_s=RUN_TIMEOUT_S)


def start_run(venue: Venue, *args: str) -> subprocess.Popen[str]:
    return start_cli("run", "--strategy", str(venue.strategy), *args, env=venue.env)


def wait_for(condition, what: str, process=None, timeout_s: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the run exited ({process.returncode}) before {what}")
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout_s:g} s")


def two_sided(venue: Venue):  # type: ignore[no-untyped-def]
    orders = venue.ours()
    sides = {o.side for o in orders}
    return orders if sides == {Side.BUY, Side.SELL} else None


def crash_with_orphans(venue: Venue, db_engine, database=None) -> tuple[set[str], set[str]]:  # type: ignore[no-untyped-def]
    """Run, quote, get filled, ``kill -9``; then the venue fills part of an orphan.

    With ``database`` (a proxy in front of it), the database goes away before the fill.
    Returns the orphans' ClOrdIDs and the ExecIDs of the fills made after the crash.
    """
    first = start_run(venue)
    try:
        orders = wait_for(lambda: two_sided(venue), "two-sided quotes", first, 45)
        if database is not None:
            database.down()
        bid = next(o for o in orders if o.side is Side.BUY)
        assert venue.take(Side.SELL, bid.price, bid.leaves_qty, "TK1") == bid.leaves_qty
        if database is None:  # the run stores the fill (or its journal does)
            wait_for(lambda: stored_fill_count(db_engine) >= 1, "the fill stored", first)
        else:  # the run spills the fill
            spill = venue.state_dir / "store-spill.jsonl"
            wait_for(
                lambda: spill.exists() and b"executions" in spill.read_bytes(), "spilled", first
            )
        wait_for(lambda: two_sided(venue), "quotes again after the fill", first)
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL
    heard = set(venue.fills())
    orphans = venue.ours()
    assert orphans, "the killed run left no working order at the venue"
    offer = next(o for o in orphans if o.side is Side.SELL)
    part = (offer.leaves_qty / 2).quantize(Decimal("0.0001"))
    assert venue.take(Side.BUY, offer.price, part, "TK2") == part  # a fill nobody heard of
    assert venue.position() != 0
    return {o.cl_ord_id for o in orphans}, set(venue.fills()) - heard


def stored_fill_count(db_engine) -> int:  # type: ignore[no-untyped-def]
    try:
        with db_engine.connect() as connection:
            return len(connection.execute(select(executions.c.exec_id)).all())
    except Exception:  # not created yet
        return 0


def run_ids(db_engine) -> list[str]:  # type: ignore[no-untyped-def]
    with db_engine.connect() as connection:
        rows = connection.execute(select(runs.c.run_id).order_by(runs.c.started_at)).all()
    return [row.run_id for row in rows]


def restart_and_check(venue: Venue, db_engine, orphans: set[str], missed: set[str]):  # type: ignore[no-untyped-def]
    venue_position = venue.position()
    second = start_run(venue, "--duration", "12")
    out, err = second.communicate(timeout=RUN_TIMEOUT_S)
    assert second.returncode == 0, err[-4000:]
    assert "Traceback" not in err
    assert "had not recorded its end (a crash?)" in err  # the killed run was repaired
    # the position the program traded on is the venue's, to the lot
    assert f"position: {DEMO_SYMBOL} {venue_position.normalize():f}" in out or (
        venue_position == 0 and f"position: {DEMO_SYMBOL} 0" in out
    ), out
    # no orphan is working any more, and nothing of ours is
    assert not venue.ours()
    for cl_ord_id in orphans:
        with venue.app.lock:
            record = venue.engine._orders_by_cl_ord_id[(venue.client_id, cl_ord_id)]
        assert record.ord_status.is_terminal, (cl_ord_id, record.ord_status)
    # every venue fill of ours is in the store exactly once: those the first run heard of
    # under it, the missed ones under the second (and nowhere else)
    first_run, second_run = run_ids(db_engine)
    with db_engine.connect() as connection:
        stored = {
            row.exec_id: row.run_id
            for row in connection.execute(select(executions.c.exec_id, executions.c.run_id))
        }
        journal = connection.execute(
            select(fix_journal.c.id, fix_journal.c.session, fix_journal.c.msg_type,
                   fix_journal.c.text)
            .where(fix_journal.c.run_id == second_run)
            .order_by(fix_journal.c.id)
        ).all()  # fmt: skip
    assert sorted(stored) == sorted(venue.fills())
    assert {e for e, run in stored.items() if run == second_run} == missed
    # the second run knew the position before its first order: the missed fills and the
    # position carried over are journaled (REST rows) before its first 35=D
    first_order = next(row.id for row in journal if row.msg_type == "D")
    recovered = {
        row.text.split("\x0117=")[1].split("\x01")[0]: row.id
        for row in journal
        if row.session == "REST" and row.msg_type == "AE"
    }
    assert set(recovered) == missed and max(recovered.values()) < first_order
    baseline = [row.id for row in journal if row.session == "REST" and row.msg_type == "AP"]
    assert baseline and max(baseline) < first_order
    for run_id in (first_run, second_run):
        replay = cli(venue, "replay", "--run-id", run_id)
        assert replay.returncode == 0, replay.stdout[-3000:] + replay.stderr[-2000:]
    audit = cli(venue, "audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr


@pytest.mark.parametrize("unknown_orders", ["cancel", "adopt"])
def test_kill_9_then_restart_trades_on_the_venues_position(tmp_path, unknown_orders):
    venue = Venue(tmp_path, {"TRUEX_UNKNOWN_ORDERS": unknown_orders})
    db_engine = make_engine(database_url(venue.state_dir, venue.env))
    try:
        orphans, missed = crash_with_orphans(venue, db_engine)
        restart_and_check(venue, db_engine, orphans, missed)
    finally:
        db_engine.dispose()
        venue.stop()


def test_kill_9_with_the_database_down_then_restart(tmp_path):
    """PostgreSQL: the database goes away before the fill and the crash (the run spills to its
    files), and is back for the restart, which replays the spill files and repairs the
    crashed run from its journal before trading."""
    server_url = postgres_url_or_skip()
    with temporary_postgres_database(server_url, "truexqf_crash") as url:
        from sqlalchemy.engine import make_url

        from tests.support.netproxy import TcpProxy
        from truex_qf.storage.database import upgrade

        upgrade(url)
        target = make_url(url)
        proxy = TcpProxy(target.port or 5432)
        proxy.up()
        proxied = target.set(port=proxy.port).render_as_string(hide_password=False)
        venue = Venue(tmp_path, {"DATABASE_URL": proxied})
        db_engine = make_engine(url)
        try:
            orphans, missed = crash_with_orphans(venue, db_engine, database=proxy)
            proxy.up()
            restart_and_check(venue, db_engine, orphans, missed)
        finally:
            proxy.down()
            db_engine.dispose()
            venue.stop()
