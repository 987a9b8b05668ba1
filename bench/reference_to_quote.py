"""``python -m bench.reference_to_quote``: a reference tick to the order it causes.

Issue 19's ``reference_to_quote_us``: from the moment the reference venue publishes a new
price to the moment the market maker hands the resulting order (a replace) to the engine,
p50/p99, for the websocket stream and, beside it, for the REST poll it replaces. Both run
in one process against the simulated exchange over real QuickFIX sessions: the reference
venue is :class:`~truex_qf.sim.reference_feed.SimulatedReference` on loopback (its REST
ticker a small loopback HTTP server reading the same price), fair value quotes off the
reference (``primary = "reference"``), and the feed's listener is
:meth:`~truex_qf.app.runner.Runner.inputs_moved`, as in ``truex-qf run``.

The poll's figure is mostly its interval (1 s, the product's default): each tick comes at
a random phase of it, so a tick waits half of it on average; that is the point of the
comparison. The stream's covers the venue's send, our websocket read and JSON parse, the
trading lock, fair value, the quote decision and the risk check.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import random
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.process import summarize_ns
from bench.receivers import one_level_quoting
from bench.report import print_json
from truex_qf.app.demo import DEMO_MID, DEMO_SYMBOL, demo_account, start_local_venue
from truex_qf.app.runner import Runner
from truex_qf.feeds.coinbase_rest import CoinbaseRestTicker
from truex_qf.feeds.coinbase_ws import CoinbaseStream
from truex_qf.feeds.ws_ticker import Backoff
from truex_qf.sim.reference_feed import SimulatedReference
from truex_qf.strategy.reference import ReferenceFeed
from truex_qf.strategy.settings import StrategySettings, default_strategy

MOVE_BPS = Decimal(3)  # each tick moves the reference this much, up then down
WAIT_S = 5.0
POLL_INTERVAL_S = 1.0  # the REST poll's default interval


def _strategy() -> StrategySettings:
    """One level a side, quoting off the reference with zero requote tolerance and no
    message-rate limit (every tick must cause an order)."""
    base = default_strategy()
    symbol = base.symbols[0]
    quoting = one_level_quoting(symbol.quoting)
    symbol = dataclasses.replace(
        symbol,
        quoting=quoting,
        reference="coinbase",
        fair_value=dataclasses.replace(symbol.fair_value, primary="reference"),
    )
    risk = dataclasses.replace(
        base.risk,
        max_messages_per_s=1_000_000,
        max_messages_per_min=60_000_000,
        max_position_base={DEMO_SYMBOL: quoting.max_position_base},
    )
    return dataclasses.replace(base, symbols=(symbol,), risk=risk, requote_tolerance_bps=Decimal(0))


class _RestTicker:
    """Coinbase's REST ticker on loopback, answering the simulated reference's price."""

    def __init__(self, reference: SimulatedReference) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                mid = reference.mid
                half = reference.half_spread
                body = json.dumps(
                    {"bid": str(mid - half), "ask": str(mid + half), "price": str(mid)}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,))
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(WAIT_S)


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"reference_to_quote: no {what} within {WAIT_S} s")
        time.sleep(0.0005)


def measure(kind: str, ticks: int, state_dir: Path) -> dict[str, float]:
    """``ticks`` reference moves through the ``kind`` feed ("stream" or "rest_poll")."""
    venue = start_local_venue(state_dir, demo_account(f"REF{kind.upper()[:4]}{time.time_ns()}"))
    reference = SimulatedReference("BTC-USD", DEMO_MID)
    url = reference.start()
    rest = _RestTicker(reference)
    feed: ReferenceFeed
    phase_s = 0.005 if kind == "stream" else POLL_INTERVAL_S
    if kind == "stream":
        feed = CoinbaseStream(DEMO_SYMBOL, url=url, backoff=Backoff(0.01, 0.1), proxy=None)
    else:
        feed = CoinbaseRestTicker(DEMO_SYMBOL, base_url=rest.url, poll_interval_s=POLL_INTERVAL_S)
    feed.start()
    runner = Runner(venue.client_settings, _strategy(), references={DEMO_SYMBOL: feed})
    feed.set_listener(functools.partial(runner.inputs_moved, DEMO_SYMBOL))
    sends: list[int] = []
    engine_send = runner.mm._send_command  # the probe: when each order leaves for the engine

    def probed(command: Any) -> bool:
        sends.append(time.perf_counter_ns())
        return engine_send(command)

    runner.mm._send_command = probed
    stop = threading.Event()

    def trading_loop() -> None:
        while not stop.is_set():
            runner.step(0.05)

    loop = threading.Thread(target=trading_loop)
    samples: list[int] = []
    try:
        _wait(lambda: feed.latest() is not None, "first reference price")
        runner.start()
        loop.start()
        _wait(lambda: _settled(runner) and bool(sends), "first quotes")
        rng = random.Random(19)
        for tick in range(ticks):
            _wait(lambda: _settled(runner), "settled quotes")
            # a tick at a random phase of the poll (the stream has no phase: a few ms)
            time.sleep(rng.uniform(0, phase_s))
            sign = 1 if tick % 2 == 0 else -1
            mid = DEMO_MID * (1 + sign * MOVE_BPS / Decimal(10000))
            before = len(sends)
            started = time.perf_counter_ns()
            reference.set(mid)
            _wait(functools.partial(_more_than, sends, before), "order after a reference tick")
            samples.append(sends[before] - started)
    finally:
        stop.set()
        if loop.is_alive():
            loop.join(WAIT_S)
        try:
            runner.finish()
        finally:
            runner.close()
            feed.stop()
            rest.stop()
            reference.stop()
            venue.venue.stop(force=True)
    return summarize_ns(samples)


def _more_than(sends: list[int], count: int) -> bool:
    return len(sends) > count


def _settled(runner: Runner) -> bool:
    """Both quotes working and none awaiting the venue's answer."""
    with runner.trading_lock:
        orders = runner.mm.orders.working_orders(DEMO_SYMBOL)
        return len(orders) == 2 and not any(runner.mm.orders.in_flight(o.cl_ord_id) for o in orders)


def run(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.reference_to_quote")
    parser.add_argument("--ticks", type=int, default=50, help="stream ticks (default 50)")
    parser.add_argument("--poll-ticks", type=int, default=10, help="REST poll ticks (10)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-ref-") as tmp:
        report = {
            "reference_to_quote_us": {
                "stream": measure("stream", args.ticks, Path(tmp) / "stream"),
                "rest_poll": measure("rest_poll", args.poll_ticks, Path(tmp) / "poll"),
            }
        }
    print_json(report, args.json)
    return report


if __name__ == "__main__":
    run()
