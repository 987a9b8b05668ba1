"""Faults from the venue's side, each bounded in time, over real FIX sessions and real REST.

After each fault: no duplicate or orphaned orders in the simulator's book (what the venue has
working for us is exactly what the market maker believes is working), the position equals the
simulator's record of our trades, and the program is quoting again (or halted with the reason).
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from decimal import Decimal

import pytest

from tests.support.market_maker import step_until, strategy
from tests.support.netproxy import TcpProxy
from tests.support.sessions import unique_comp_id
from truex_qf.app.demo import DEMO_SYMBOL, demo_account, start_local_venue
from truex_qf.app.runner import Runner
from truex_qf.domain.model import NewOrder, SessionRole, Side, TimeInForce
from truex_qf.fix.reconnect import BackoffPolicy
from truex_qf.rest.client import TruexRestClient
from truex_qf.sim.rest_server import SimulatorRestServer
from truex_qf.sim.server import SimulatedVenue
from truex_qf.trading import market_maker as market_maker_module
from truex_qf.trading.market_maker import ORDER_ENTRY_DOWN
from truex_qf.trading.orders import OrderState
from truex_qf.trading.risk import TradingState

OE, MD = SessionRole.ORDER_ENTRY, SessionRole.MARKET_DATA
FAST = BackoffPolicy(initial_s=0.2, max_s=2.0, jitter=0.1, attempt_timeout_s=5, breaker_failures=10)


@dataclasses.dataclass
class Rig:
    local: object
    runner: Runner
    rest_server: SimulatorRestServer

    @property
    def venue(self) -> SimulatedVenue:
        return self.local.venue

    def venue_working(self) -> set[str]:
        with self.venue.application.lock:
            orders = self.venue.engine.working_orders(self.local.client_settings.client_id)
        return {o.cl_ord_id for o in orders}

    def our_working(self) -> set[str]:
        return {o.cl_ord_id for o in self.runner.mm.orders.working_orders()}

    def consistent(self) -> bool:
        """No orphan at the venue, no ghost here, nothing in flight."""
        return self.venue_working() == self.our_working() and not any(
            self.runner.mm.orders.in_flight(c) for c in self.our_working()
        )

    def quoting(self) -> bool:
        mm = self.runner.mm
        return (
            mm.risk.state is TradingState.ACTIVE
            and not mm.reconciling
            and len(self.venue_working()) == 2
            and self.consistent()
        )

    def position_matches_venue(self) -> bool:
        client = self.local.client_settings.client_id
        with self.venue.application.lock:
            trades = list(self.venue.engine.trades())
        venue_position = sum(
            (t.quantity if t.buy_owner == client else -t.quantity)
            for t in trades
            if client in (t.buy_owner, t.sell_owner)
        )
        return self.runner.mm.positions.position_base(DEMO_SYMBOL) == venue_position


def uncertain(mm) -> int:
    """How many working orders the venue never answered (UNCERTAIN)."""
    return sum(o.state is OrderState.UNCERTAIN for o in mm.orders.working_orders())


def build_rig(
    tmp_path, ack_timeout_s: float = 5.0, local=None, client_settings=None, pipeline=None
) -> Rig:
    """A market maker with REST against a simulated venue (a new one unless ``local`` is
    given); ``client_settings`` can route the FIX sessions another way (e.g. a proxy);
    ``pipeline`` records the run."""
    local = local or start_local_venue(tmp_path / "state", demo_account(unique_comp_id()))
    rest_server = SimulatorRestServer(local.venue)
    rest_server.start()
    settings = dataclasses.replace(strategy(), ack_timeout_s=ack_timeout_s)
    account = local.client_settings
    runner = Runner(
        client_settings or account,
        settings,
        rest=TruexRestClient(rest_server.url, account.credentials, account.client_id),
        reconnect_policy=FAST,
        pipeline=pipeline,
    )
    return Rig(local, runner, rest_server)


@pytest.fixture
def rig(tmp_path):
    made = build_rig(tmp_path)
    made.runner.start()
    yield made
    made.runner.close()
    made.rest_server.stop()
    made.venue.stop(force=True)


def take_one_fill(rig: Rig) -> None:
    """Another trader lifts our offer, so there is a position to check afterwards."""
    with rig.venue.application.lock:
        ours = [o for o in rig.venue.engine.working_orders(rig.local.client_settings.client_id)]
        offer = next(o for o in ours if o.side is Side.SELL)
        rig.venue.application.publish(
            rig.venue.engine.submit(
                "SIM-TAKER",
                NewOrder(
                    "TKF1",
                    DEMO_SYMBOL,
                    Side.BUY,
                    offer.leaves_qty,
                    offer.price,
                    time_in_force=TimeInForce.IOC,
                ),
            )
        )


def test_order_entry_drop_mid_quote(rig):
    step_until(rig.runner, rig.quoting, 15)
    take_one_fill(rig)
    step_until(rig.runner, lambda: rig.runner.mm.stats.fills == 1, 10)
    rig.venue.application.disconnect(OE)
    step_until(rig.runner, lambda: rig.runner.mm.risk.state_reason == ORDER_ENTRY_DOWN, 10)
    # the deadman cancels everything over REST while FIX is down
    step_until(rig.runner, lambda: not rig.venue_working(), 10)
    # reconnect (backoff), reconcile (the cancels we never heard of), quote again
    step_until(rig.runner, rig.quoting, 30)
    assert rig.position_matches_venue()
    assert not any(o.state is OrderState.UNCERTAIN for o in rig.runner.mm.orders.working_orders())


def test_market_data_drop_pulls_quotes_then_resumes(rig):
    step_until(rig.runner, rig.quoting, 15)
    rig.venue.application.disconnect(MD)
    step_until(rig.runner, lambda: not rig.runner.mm.sessions_up[1], 10)
    step_until(rig.runner, lambda: not rig.venue_working() and rig.consistent(), 10)
    step_until(rig.runner, rig.quoting, 30)
    assert rig.runner.mm.stats.resubscribes == 0  # a fresh subscription, not a repair


def test_venue_unreachable_restarted_then_back(tmp_path):
    """The gateway goes away (connections refused), restarts, and comes back.

    The restart happens while no connection is live: stopping QuickFIX 1.16's acceptor under a
    live client that reconnects every few hundred milliseconds can crash the engine (its
    socket-thread bookkeeping), which is the engine's problem, not the scenario's.
    """
    local = start_local_venue(tmp_path / "state", demo_account(unique_comp_id()))
    proxies = {
        role: TcpProxy(port)
        for role, port in (
            (OE, local.client_settings.order_entry_port),
            (MD, local.client_settings.market_data_port),
        )
    }
    for proxy in proxies.values():
        proxy.up()
    via = dataclasses.replace(
        local.client_settings,
        order_entry_port=proxies[OE].port,
        market_data_port=proxies[MD].port,
    )
    made = build_rig(tmp_path, local=local, client_settings=via)
    made.runner.start()
    try:
        step_until(made.runner, made.quoting, 15)
        for proxy in proxies.values():
            proxy.down()
        step_until(made.runner, lambda: not made.runner.client.is_logged_on(OE), 10)
        old = made.venue
        old.stop(force=True)  # the gateway restarts; its matching engine keeps the book
        restarted = SimulatedVenue(old.settings, engine=old.engine)
        restarted.start()
        made.local = dataclasses.replace(made.local, venue=restarted)
        time.sleep(1.0)  # refused reconnects meanwhile, with backoff
        for proxy in proxies.values():
            proxy.up()
        step_until(made.runner, made.quoting, 30)
        assert made.position_matches_venue()
    finally:
        made.runner.close()
        made.rest_server.stop()
        for proxy in proxies.values():
            proxy.down()
        made.venue.stop(force=True)


def test_withheld_acks_become_uncertain_then_reconciled(tmp_path):
    made = build_rig(tmp_path, ack_timeout_s=1.0)
    made.runner.start()
    try:
        step_until(made.runner, made.quoting, 15)
        made.venue.application.withhold_acks = True
        take_one_fill(made)  # our offer is lifted: the market maker places a new one...
        step_until(made.runner, lambda: made.runner.mm.stats.fills == 1, 10)
        # ...which the venue swallows: no answer, so it becomes UNCERTAIN, then REST says
        # the venue does not know it, so it is canceled, not left hanging
        step_until(
            made.runner,
            lambda: uncertain(made.runner.mm) > 0,
            10,
        )
        made.venue.application.withhold_acks = False
        step_until(
            made.runner,
            lambda: uncertain(made.runner.mm) == 0,
            20,
        )
        step_until(made.runner, made.quoting, 20)
        assert made.position_matches_venue()
    finally:
        made.runner.close()
        made.rest_server.stop()
        made.venue.stop(force=True)


def test_refused_logon_burst_backs_off(rig):
    step_until(rig.runner, rig.quoting, 15)
    app = rig.venue.application
    app.refuse_logons = 3
    attempts_before = len([a for a in app.journal.logon_attempts if a[0] is OE])
    app.disconnect(OE)
    step_until(rig.runner, lambda: rig.runner.mm.risk.state_reason == ORDER_ENTRY_DOWN, 10)
    step_until(rig.runner, rig.quoting, 40)
    attempts = [t for role, t in app.journal.logon_attempts if role is OE][attempts_before:]
    assert len(attempts) == 4  # three refused, the fourth accepted
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.2 * 0.9 and gaps[-1] > gaps[0]  # backing off, never hammering


def test_garbled_bytes_to_the_client(tmp_path):
    local = start_local_venue(tmp_path / "state", demo_account(unique_comp_id()))
    proxy = TcpProxy(local.client_settings.order_entry_port)
    proxy.up()
    via_proxy = dataclasses.replace(local.client_settings, order_entry_port=proxy.port)
    rest_server = SimulatorRestServer(local.venue)
    rest_server.start()
    account = local.client_settings
    runner = Runner(
        via_proxy,
        strategy(),
        rest=TruexRestClient(rest_server.url, account.credentials, account.client_id),
        reconnect_policy=FAST,
    )
    rig = Rig(local, runner, rest_server)
    try:
        runner.start()
        step_until(runner, rig.quoting, 15)
        for garbage in (
            b"\x00\xff" * 64,
            b"8=FIXT.1.1\x019=5\x0135=8\x0110=000\x01",
            b"garbage\x01",
        ):
            proxy.inject_to_clients(garbage)
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                runner.step()
        step_until(runner, rig.quoting, 30)  # still (or again) quoting, consistently
    finally:
        runner.close()
        rest_server.stop()
        proxy.down()
        local.venue.stop(force=True)


def test_fills_while_disconnected_are_recovered_by_reconciliation(rig):
    step_until(rig.runner, rig.quoting, 15)
    app = rig.venue.application
    with app.lock:
        ours = rig.venue.engine.working_orders(rig.local.client_settings.client_id)
        bid = next(o for o in ours if o.side is Side.BUY)
    app.disconnect(OE)
    with app.lock:  # a fill happens while our FIX session is down: we never get its report
        app.publish(
            rig.venue.engine.submit(
                "SIM-TAKER",
                NewOrder(
                    "TKD1",
                    DEMO_SYMBOL,
                    Side.SELL,
                    bid.leaves_qty,
                    bid.price,
                    time_in_force=TimeInForce.IOC,
                ),
            )
        )
    step_until(rig.runner, rig.quoting, 30)
    assert rig.position_matches_venue()  # learned from REST, not from a FIX report
    assert rig.runner.mm.positions.position_base(DEMO_SYMBOL) == Decimal(bid.leaves_qty)


def test_reconciliations_cancels_and_missed_fill_replay_as_recorded(tmp_path):
    """Issue 17 item 6: orders cancelled while order entry was down (the deadman, over REST)
    and a fill missed meanwhile are reconciliation's corrections; they are journaled, so
    ``replay`` of the run agrees with every table."""
    from sqlalchemy import select

    from truex_qf.app.pipeline import Pipeline, pipeline_settings
    from truex_qf.storage.database import make_engine
    from truex_qf.storage.replay import compare_with_tables, rebuild_from_journal
    from truex_qf.storage.schema import fix_journal

    pipeline = Pipeline(pipeline_settings(tmp_path / "state", "faults", env={}))
    made = build_rig(tmp_path, pipeline=pipeline)
    made.runner.start()
    try:
        step_until(made.runner, made.quoting, 15)
        app = made.venue.application
        with app.lock:
            ours = made.venue.engine.working_orders(made.local.client_settings.client_id)
            bid = next(o for o in ours if o.side is Side.BUY)
        app.disconnect(OE)
        with app.lock:  # filled while our FIX session is down: no report reaches us
            taker = NewOrder(
                "TKR1", DEMO_SYMBOL, Side.SELL, bid.leaves_qty, bid.price,
                time_in_force=TimeInForce.IOC,
            )  # fmt: skip
            app.publish(made.venue.engine.submit("SIM-TAKER", taker))
        step_until(made.runner, made.quoting, 30)
        assert made.position_matches_venue()
    finally:
        made.runner.close()
        made.rest_server.stop()
        made.venue.stop(force=True)
    engine = make_engine(pipeline.settings.database_url)
    try:
        with engine.connect() as connection:
            decisions = connection.execute(
                select(fix_journal.c.msg_type).where(
                    fix_journal.c.run_id == pipeline.run_id, fix_journal.c.session == "REST"
                )
            ).all()
        assert len(decisions) >= 2  # the missed fill and at least one cancel we never heard of
        state = rebuild_from_journal(engine, pipeline.run_id)
        assert compare_with_tables(engine, pipeline.run_id, state) == []
        assert state.positions.position_base(DEMO_SYMBOL) == Decimal(bid.leaves_qty)
    finally:
        engine.dispose()


def test_periodic_trade_listing_records_a_lost_report_once_and_forgets_old_keys(
    tmp_path, monkeypatch
):
    """The venue fills us and its report never comes while the session stays up: the periodic
    trade listing (real REST) records the fill, once; and as the listing window moves on, the
    fill keys it has passed are dropped. The windows are shortened to seconds."""
    monkeypatch.setattr(market_maker_module, "TRADES_LISTING_EVERY_S", 0.5)
    monkeypatch.setattr(market_maker_module, "LISTING_SETTLE_S", 0.2)
    monkeypatch.setattr(market_maker_module, "TRADES_MARGIN_S", 1.0)
    monkeypatch.setattr(market_maker_module, "CLOCK_SKEW_S", 0.5)
    made = build_rig(tmp_path)
    made.runner.start()
    mm = made.runner.mm
    try:
        step_until(made.runner, made.quoting, 15)
        take_one_fill(made)  # reported over FIX as usual
        step_until(made.runner, lambda: mm.stats.fills == 1 and made.quoting(), 15)
        app = made.venue.application
        with app.lock:  # a taker hits our bid, and the venue's report of it is lost
            ours = made.venue.engine.working_orders(made.local.client_settings.client_id)
            bid = next(o for o in ours if o.side is Side.BUY)
            made.venue.engine.submit(
                "SIM-TAKER",
                NewOrder(
                    "TKL1",
                    DEMO_SYMBOL,
                    Side.SELL,
                    bid.leaves_qty,
                    bid.price,
                    time_in_force=TimeInForce.IOC,
                ),
            )
        step_until(made.runner, lambda: mm.stats.fills == 2, 15)  # from the listing
        assert made.position_matches_venue()
        assert mm.reconciled and not mm.reconciling  # quoting went on: no reconciliation
        # Listings go on; both fills are listed again and again, and counted once.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            made.runner.step()
        assert mm.stats.fills == 2
        assert made.position_matches_venue()
        early_keys = set(mm._known_fills)
        assert early_keys  # the window is the last trade's time less the margin: still held
        # A later fill moves the window past the first two (margin 1 s): their keys go.
        step_until(made.runner, made.quoting, 15)
        with app.lock:
            ours = made.venue.engine.working_orders(made.local.client_settings.client_id)
            offer = next(o for o in ours if o.side is Side.SELL)
            app.publish(
                made.venue.engine.submit(
                    "SIM-TAKER",
                    NewOrder(
                        "TKL2",
                        DEMO_SYMBOL,
                        Side.BUY,
                        offer.leaves_qty,
                        offer.price,
                        time_in_force=TimeInForce.IOC,
                    ),
                )
            )
        step_until(made.runner, lambda: not early_keys & set(mm._known_fills), 10)
        assert mm.stats.fills == 3 and made.position_matches_venue()
        assert 0 < len(mm._known_fills) <= 2  # the last fill's ExecID and (TrdMatchID, side)
    finally:
        made.runner.close()
        made.rest_server.stop()
        made.venue.stop(force=True)
