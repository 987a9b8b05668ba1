#!/usr/bin/env python3
"""What one market-data message costs on truex-qf's engine-thread path, counted, not timed.

Usage, from the repository root with the venv's python::

    python -m bench.md_path_cost [--messages N] [--decide each|burst|floor] [--journal]

The bench's receivers spend their market-data time on the QuickFIX engine thread:
``RedactingLog.onIncoming`` (the engine log, the journal's tap when on), then
``TruexApplication.fromApp`` (``Message.toString``, :func:`~truex_qf.fix.readers.
read_increment`), then :meth:`Runner._deliver <truex_qf.app.runner.Runner._deliver>` (the
trading lock, :class:`~truex_qf.app.decision_gate.DecisionGate`, ``MarketMaker.handle``: the
book and the symbol's mark) and the quote decision. This script makes exactly those calls, in
one process and one thread, on the bench's stream (:class:`~bench.stream.BookStream`, the
default seed) as ``quickfix.Message`` objects, against a :class:`Runner` that is never started
(its orders go to :class:`~bench.instant_venue.InstantVenue`, answered at once). What it
leaves out is what bare QuickFIX pays too: the socket, parsing and validating the message, the
binding's director call.

``--decide each`` decides after every message (a message that found the engine idle);
``burst`` (the default) reads messages back to back as a burst does, and lets the trading
loop's turn decide once every ``--burst`` messages, as the Runner coalesces them.

Instructions per message, the same whatever else the machine runs (callgrind counts only
what the loop over the messages executes, :func:`itertools.starmap` being used for nothing
else there)::

    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=starmap_next \
        --callgrind-out-file=F python -m bench.md_path_cost --messages 1000

then the ``summary:`` line of F divided by ``--messages``.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import dataclasses
import gc
import itertools
import logging
import pstats
import sys
import tempfile
import time
from pathlib import Path

import quickfix as fix

from bench.bare import FLOOR_STEPS, FloorApplication
from bench.common import DEFAULT_SEED, MD_SYMBOL
from bench.instant_venue import InstantVenue
from bench.receivers import bench_strategy
from bench.stream import BookStream, IncrementFactory, build_snapshot
from truex_qf.app.pipeline import Pipeline
from truex_qf.app.runner import Runner
from truex_qf.config import Credentials, FixSettings
from truex_qf.domain.model import SessionLoggedOn, SessionRole
from truex_qf.fix.engine_log import RedactingLog
from truex_qf.strategy.settings import default_strategy
from truex_qf.trading.orders import OrderState

MD_REQ_ID = "MD1"
STREAM_MESSAGES = 2000


def build_runner(state_dir: Path, journal: bool) -> tuple[Runner, InstantVenue, Pipeline | None]:
    """A Runner quoting the bench's book, both quotes resting; never started."""
    settings = FixSettings(
        host="127.0.0.1",
        order_entry_port=1,
        market_data_port=2,
        sender_comp_id="BENCH",
        client_id="BENCH",
        credentials=Credentials("key", "secret"),
        state_dir=state_dir,
    )
    strategy = dataclasses.replace(
        bench_strategy(), requote_tolerance_bps=default_strategy().requote_tolerance_bps
    )
    pipeline = None
    if journal:
        from bench.receivers import pipeline_settings

        pipeline = Pipeline(pipeline_settings(state_dir, "BENCH", env={}))
    runner = Runner(settings, strategy, pipeline=pipeline, mode="bench")
    venue = InstantVenue()
    runner.mm._send_command = venue.send  # the engine is never started: orders go here
    for role in SessionRole:
        runner.mm.handle(SessionLoggedOn(role, role.value))
    runner.mm.books.register_subscription(MD_REQ_ID, (MD_SYMBOL,))
    return runner, venue, pipeline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000, help="35=X messages to apply")
    parser.add_argument(
        "--decide",
        choices=("each", "burst", "floor"),
        default="burst",
        help="decide after every message, or once per --burst messages (default); floor: "
        "no Runner, the bench's last floor receiver (read the 35=X, apply it to a book)",
    )
    parser.add_argument("--burst", type=int, default=10, help="messages per decision in a burst")
    parser.add_argument(
        "--journal",
        action="store_true",
        help="with the Pipeline's tap and hooks (no journal "
        "process is started: the tap only enqueues)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="print cProfile's N costliest functions of the "
        "measured loop (its overhead inflates small functions: for finding, not figures)",
    )
    args = parser.parse_args(argv)
    if args.messages < 1 or args.burst < 1:
        parser.error("--messages and --burst must be at least 1")
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="truex-md-cost-") as temp:
        runner, venue, pipeline = build_runner(Path(temp), args.journal)
        application = runner.client.application
        engine_log = RedactingLog("FIXT.1.1:BENCH->TRUEX", pipeline.tap if pipeline else None)
        session_id = fix.SessionID("FIXT.1.1", "BENCH", "TRUEX")
        stream = BookStream(seed=DEFAULT_SEED)
        snapshot = build_snapshot(stream, MD_REQ_ID)
        # the stream is built to the same length whatever --messages is, so that two runs
        # differ only by the messages applied
        built = IncrementFactory().build(
            stream, MD_REQ_ID, max(args.messages, STREAM_MESSAGES), move_mid=False
        )
        messages = built[: args.messages]
        texts = [m.toString() for m in messages]  # the engine log is handed the wire text
        application.fromApp(snapshot, session_id)
        runner.mm.requote_dirty()
        venue.answer(runner.mm)
        working = runner.mm.orders.working_orders(MD_SYMBOL)
        if len(working) != 2 or any(o.state is not OrderState.NEW for o in working):
            raise SystemExit(f"the quotes did not settle: {working}")
        floor = None
        if args.decide == "floor":
            floor = FloorApplication(len(FLOOR_STEPS))
            floor.fromApp(snapshot, session_id)
        runner._next_tick = float("inf")  # the periodic tick is not per-message work
        gate = runner.gate
        if args.decide == "each":
            gate.burst_gap_ns = 0  # every message found the engine idle: decide at once
        else:
            gate.burst_gap_ns = 1 << 62  # always in a burst, never at the bound: the loop
            # decides, every --burst messages, as when the burst pauses (not timed here)
            gate.max_lag_ns = 1 << 62
        gc.collect()
        gc.freeze()
        burst = args.burst
        profiler = cProfile.Profile() if args.profile else None
        started = time.perf_counter_ns()
        cpu = time.process_time()
        if profiler is not None:
            profiler.enable()
        receiver = floor.fromApp if floor is not None else application.fromApp
        deciding = args.decide == "burst"
        lock = runner.trading_lock

        def one_message(index: int, message: fix.Message) -> None:
            """Everything the engine thread (and the loop's turn) does for one message."""
            engine_log.onIncoming(texts[index])
            receiver(message, session_id)
            if deciding and index % burst == burst - 1:
                with lock:  # the loop's turn once the burst pauses: the coalesced decision
                    runner._decide()
                    runner._end_pass()
            if venue.sent:
                with lock:
                    venue.answer(runner.mm)

        # through itertools.starmap, so that callgrind can count exactly these calls
        # (--toggle-collect=starmap_next, see the module docstring)
        collections.deque(itertools.starmap(one_message, enumerate(messages)), maxlen=0)
        if profiler is not None:
            profiler.disable()
        elapsed = time.perf_counter_ns() - started
        cpu = time.process_time() - cpu
        book = (floor.books if floor is not None else runner.mm.books).book(MD_SYMBOL)
        assert book is not None and book.inconsistency is None, book
        print(
            f"{args.messages} messages, decide {args.decide}: {elapsed / args.messages / 1000:.2f}"
            f" us/msg wall, {cpu * 1e6 / args.messages:.2f} us/msg CPU, "
            f"{runner.mm.stats.orders_sent + runner.mm.stats.replaces_sent} orders"
        )
        if profiler is not None:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)
        if pipeline is not None:
            pipeline.finish()
        gc.unfreeze()
    return 0


if __name__ == "__main__":
    sys.exit(main())
