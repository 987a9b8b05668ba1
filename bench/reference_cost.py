"""``python -m bench.reference_cost``: what quoting off the TrueX book alone costs.

Issue 19: the simulator's reference leads and the TrueX book follows it late
(:mod:`truex_qf.sim.flow`: ``book_lag_steps``), and informed takers pick off what rests on
the wrong side of the reference. The market maker runs twice against the same seeded flow,
over real QuickFIX sessions: pricing off the TrueX book (``primary = "truex"``, no reference)
and pricing off the streamed reference (``primary = "reference"``, the simulated reference
venue on a loopback websocket, read by the product's Coinbase stream). Each run reports its
fills, how many of them an informed taker took, and its PnL marked to the reference at the
end.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.reference_to_quote import WAIT_S, _strategy
from bench.report import print_json
from truex_qf.app.demo import DEMO_MID, DEMO_SYMBOL, demo_account, start_local_venue
from truex_qf.app.runner import Runner
from truex_qf.domain.model import ExecutionReport
from truex_qf.feeds.coinbase_ws import CoinbaseStream
from truex_qf.feeds.ws_ticker import Backoff
from truex_qf.sim.flow import INFORMED_OWNER, FlowSettings, SimulatedFlow
from truex_qf.sim.matching import ToClient
from truex_qf.sim.reference_feed import SimulatedReference
from truex_qf.strategy.fair_value import PriceSource
from truex_qf.strategy.settings import StrategySettings


def _flow_settings(seed: int) -> FlowSettings:
    return FlowSettings(
        symbol=DEMO_SYMBOL,
        start_price=DEMO_MID,
        step_interval_s=0.1,
        book_lag_steps=5,
        informed_taker_probability=0.5,
        seed=seed,
    )


def _book_only(settings: StrategySettings) -> StrategySettings:
    symbol = settings.symbols[0]
    symbol = dataclasses.replace(
        symbol,
        reference=None,
        fair_value=dataclasses.replace(symbol.fair_value, primary="truex"),
    )
    return dataclasses.replace(settings, symbols=(symbol,))


def run_once(streamed: bool, duration_s: float, seed: int, state_dir: Path) -> dict[str, Any]:
    """One run; its fills and PnL marked to the reference."""
    venue = start_local_venue(state_dir, demo_account(f"COST{int(streamed)}{time.time_ns()}"))
    reference = SimulatedReference("BTC-USD", DEMO_MID)
    url = reference.start()
    app = venue.venue.application
    ours = venue.client_settings.client_id
    picked_off = 0

    def publish(events: list[Any]) -> None:
        nonlocal picked_off
        fills = [
            event.owner
            for event in events
            if isinstance(event, ToClient)
            and isinstance(event.message, ExecutionReport)
            and event.message.last_qty
        ]
        if INFORMED_OWNER in fills:  # one informed order's matches: ours among them?
            picked_off += fills.count(ours)
        app.publish(events)

    flow = SimulatedFlow(
        venue.venue.engine, publish, app.lock, _flow_settings(seed), on_reference=reference.set
    )
    stream = CoinbaseStream(DEMO_SYMBOL, url=url, backoff=Backoff(0.01, 0.1), proxy=None)
    settings = _strategy() if streamed else _book_only(_strategy())
    references: dict[str, PriceSource] | None = {DEMO_SYMBOL: stream} if streamed else None
    runner = Runner(venue.client_settings, settings, references=references)
    if streamed:
        stream.set_listener(functools.partial(runner.inputs_moved, DEMO_SYMBOL))
        stream.start()
    flow.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while streamed and stream.latest() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        runner.run(duration_s)
    finally:
        flow.stop()
        stream.stop()
        reference.stop()
        venue.venue.stop(force=True)
    mm = runner.mm
    mark = {DEMO_SYMBOL: reference.mid}
    position = mm.positions.snapshot(mark).get(DEMO_SYMBOL)
    realized = position.realized_pnl_quote if position else Decimal(0)
    unrealized = (position.unrealized_pnl_quote or Decimal(0)) if position else Decimal(0)
    return {
        "fills": mm.stats.fills,
        "filled_base": str(mm.stats.filled_base),
        "fills_by_informed_takers": picked_off,
        "pnl_at_reference": str((realized + unrealized).quantize(Decimal("0.01"))),
        "position_base": str(position.quantity_base if position else 0),
    }


def run(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.reference_cost")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per run (30)")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp:
        report = {
            "reference_cost": {
                "book_only": run_once(False, args.duration, args.seed, Path(tmp) / "book"),
                "streamed_reference": run_once(True, args.duration, args.seed, Path(tmp) / "ref"),
            }
        }
    print_json(report, args.json)
    return report


if __name__ == "__main__":
    run()
