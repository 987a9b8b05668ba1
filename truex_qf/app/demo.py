"""The main job on embedded defaults: a simulated TrueX exchange and the program against it.

No servers, no credentials to set: the demo makes a throw-away API key and secret, starts the
simulator on free loopback ports with a seeded BTC-PYUSD book, and points the client at it.

As on the real venue, the price moves first on a reference venue (a simulated Coinbase ticker
on a loopback websocket, :mod:`truex_qf.sim.reference_feed`), the TrueX book follows it
``DEMO_BOOK_LAG_STEPS`` flow steps late, and informed takers pick off quotes left on the wrong
side of the reference (:mod:`truex_qf.sim.flow`). The demo quotes off the streamed reference
(``primary = "reference"``), which is what keeps it from being picked off:
``python -m bench.reference_cost`` measures the difference.
"""

from __future__ import annotations

import dataclasses
import functools
import secrets
import threading
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from truex_qf.app.live_view import LiveView
from truex_qf.app.pipeline import Pipeline, pipeline_settings
from truex_qf.app.runner import Runner, RunSummary
from truex_qf.config import Credentials, FixSettings
from truex_qf.domain.errors import TruexError
from truex_qf.domain.netutil import free_port
from truex_qf.feeds.coinbase_ws import CoinbaseStream
from truex_qf.rest.client import TruexRestClient
from truex_qf.sim.fix_acceptor import VenueAccount
from truex_qf.sim.flow import FlowSettings, SimulatedFlow
from truex_qf.sim.reference_feed import SimulatedReference
from truex_qf.sim.rest_server import SimulatorRestServer
from truex_qf.sim.server import SimulatedVenue, SimulatorSettings
from truex_qf.strategy.coinbase import coinbase_product
from truex_qf.strategy.settings import StrategySettings, load_strategy

DEMO_SYMBOL = "BTC-PYUSD"
DEMO_MID = Decimal("100000")
PORT_ATTEMPTS = 3  # start_local_venue: ports found taken are picked again this many times
DEMO_BOOK_LAG_STEPS = 5  # the TrueX book follows the reference 1 s late (0.2 s flow steps)
DEMO_INFORMED_TAKERS = 0.3  # chance per flow step of an informed taker
DEMO_CAPTURE_SUBDIR = "capture"  # the demo's capture files, under its state folder


@dataclass(frozen=True)
class LocalVenue:
    """A running simulator and the client settings that reach it."""

    venue: SimulatedVenue
    client_settings: FixSettings


def demo_account(sender_comp_id: str = "DEMO_MM") -> VenueAccount:
    """A fresh identity for one run: nothing secret survives it."""
    return VenueAccount(
        sender_comp_id=sender_comp_id,
        client_id="10000000000000001",
        credentials=Credentials(api_key=str(uuid.uuid4()), secret_key=secrets.token_urlsafe(32)),
    )


def start_local_venue(
    state_dir: Path, account: VenueAccount | None = None, seed: bool = True
) -> LocalVenue:
    """Start a simulator on free ports (seeded around DEMO_MID) and describe how to reach it.

    The ports are picked free and bound a moment later; anything else on the machine (an
    outgoing connection is given a port from the same range) may take one in between, so a
    port found in use is replaced by another, up to :data:`PORT_ATTEMPTS` times."""
    account = account or demo_account()
    for attempt in range(1, PORT_ATTEMPTS + 1):
        settings = SimulatorSettings(
            account=account, order_entry_port=free_port(), market_data_port=free_port()
        )
        venue = SimulatedVenue(settings)
        try:
            venue.start()
            break
        except TruexError as failure:
            venue.stop(force=True)
            if "in use" not in str(failure) or attempt == PORT_ATTEMPTS:
                raise
    if seed:
        venue.seed_book(DEMO_SYMBOL, DEMO_MID)
    client = FixSettings(
        host=settings.host,
        order_entry_port=settings.order_entry_port,
        market_data_port=settings.market_data_port,
        sender_comp_id=account.sender_comp_id,
        client_id=account.client_id,
        credentials=account.credentials,
        state_dir=state_dir,
    )
    return LocalVenue(venue=venue, client_settings=client)


DEMO_STRATEGY_FILE = Path(__file__).with_name("demo_strategy.toml")


def demo_strategy() -> StrategySettings:
    """The demo's strategy, read from :data:`DEMO_STRATEGY_FILE` (its comments say why each
    value): a file, so that the demo's capture can be backtested with the very same strategy."""
    return load_strategy(DEMO_STRATEGY_FILE)


@dataclass
class DemoRun:
    """What a demo run produced, for the CLI and the tests."""

    summary: RunSummary
    venue_fills: int  # the simulator's own count of the client's fills, to compare
    run_id: str
    capture_paths: tuple[Path, ...] = ()  # the market data it saw (truex_qf.capture)


def run_demo(
    state_dir: Path,
    duration_s: float,
    view: LiveView | None = None,
    stop: threading.Event | None = None,
    flow_seed: int | None = None,
) -> DemoRun:
    """The simulator with flow and the market maker against it, for ``duration_s``."""
    local = start_local_venue(state_dir, seed=False)
    engine = local.venue.engine
    reference = SimulatedReference(coinbase_product(DEMO_SYMBOL), DEMO_MID)
    stream = CoinbaseStream(DEMO_SYMBOL, url=reference.start(), proxy=None)
    flow = SimulatedFlow(
        engine,
        local.venue.application.publish,
        local.venue.application.lock,
        FlowSettings(
            symbol=DEMO_SYMBOL,
            start_price=DEMO_MID,
            book_lag_steps=DEMO_BOOK_LAG_STEPS,
            informed_taker_probability=DEMO_INFORMED_TAKERS,
            seed=flow_seed,
        ),
        on_reference=reference.set,
    )
    stream.start()
    flow.start()
    rest_server = SimulatorRestServer(local.venue)
    rest_server.start()
    try:
        account = local.client_settings
        rest = TruexRestClient(rest_server.url, account.credentials, account.client_id)
        recording = pipeline_settings(state_dir, local.client_settings.sender_comp_id)
        # The demo's market data and reference ticks, kept for a backtest (README "Capture").
        recording = dataclasses.replace(recording, capture_dir=state_dir / DEMO_CAPTURE_SUBDIR)
        pipeline = Pipeline(recording)
        pipeline.capture_references({DEMO_SYMBOL: stream})
        runner = Runner(
            local.client_settings,
            demo_strategy(),
            references={DEMO_SYMBOL: stream},
            view=view,
            pipeline=pipeline,
            mode="demo",
            rest=rest,
            stop=stop,
        )
        stream.set_listener(functools.partial(runner.inputs_moved, DEMO_SYMBOL))
        summary = runner.run(duration_s)
        client_id = local.client_settings.client_id
        with local.venue.application.lock:
            venue_fills = sum(
                (t.buy_owner == client_id) + (t.sell_owner == client_id) for t in engine.trades()
            )
        return DemoRun(
            summary=summary,
            venue_fills=venue_fills,
            run_id=pipeline.run_id,
            capture_paths=tuple(pipeline.capture_paths),
        )
    finally:
        flow.stop()
        stream.stop()
        reference.stop()
        rest_server.stop()
        local.venue.stop(force=True)
