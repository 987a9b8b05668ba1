#!/usr/bin/env python3
"""truex-qf measured against bare QuickFIX, in the same run (issue "Performance").

Usage, from the repository root with the venv's python::

    python -m bench [--quick | --smoke] [--floor] [--no-pin] [--json FILE] [--seed N]
                    [--py-spy DIR]

Default mode takes ten minutes or more on two cores (its soak alone, 1,000,000 messages, about
five), ``--quick`` two to three minutes, ``--smoke`` (for the test suite) a few seconds of
traffic (about 90 s in all). The table goes to stdout, progress to stderr;
``--json`` also writes every figure with the raw numbers behind each ratio. ``--py-spy DIR``
records each receiver with py-spy (raw collapsed stacks) while it is measured.

Three process pairs (and the floor receivers, see below) run one after the other, each a sender
(acceptor) and a receiver (initiator) over loopback, so that QuickFIX's process-wide session
registry never sees a session twice and the two ends do not share a GIL:

``truex-qf``
    the real client: :class:`~truex_qf.app.runner.Runner` (``TruexApplication`` readers, the event
    queue, ``MarketMaker`` book, fair value, quote decision, ``OrderManager``, ``RiskEngine``,
    ``FixClient`` with its engine log) against the simulator's ``VenueApplication`` and
    matching engine, the bench being the only market-data source (the venue's own level
    changes are not published). No Pipeline: the application core.
``baseline``
    bare QuickFIX: a ``fix.Application`` with empty callbacks on both ends; ``fromApp`` only
    counts and time-stamps, and the acceptor answers each 35=D with one 35=8 built with
    ``setField``. Same settings as the project: the acceptor uses the simulator's
    :func:`~truex_qf.sim.server.acceptor_settings` (strict TrueX dictionaries, memory
    store), the initiator ``sessions.cfg`` rendered by
    :func:`~truex_qf.fix.settings.initiator_settings` (SocketInitiator as FixClient, file store,
    ``SocketNodelay=Y``, the same validation flags). No engine log.
``truex-qf + journal``
    as ``truex-qf``, with the production :class:`~truex_qf.app.pipeline.Pipeline` (SQLite store in
    a temp directory, FIX journal on the engine log's tap, metrics, alerts).
floor receivers (``--floor``; the first alone in the full run, all five in ``--smoke``)
    as ``baseline``, each doing one more step of what truex-qf's engine thread does for every
    market-data message before it decides anything (:data:`FLOOR_STEPS`): keep the engine
    thread's Python thread state (:func:`~truex_qf.fix.engine_threads.keep_thread_state`;
    the binding otherwise builds and destroys one around every callback, and the bare
    baseline pays for that on every message), a Python engine log
    (:class:`~truex_qf.fix.engine_log.RedactingLogFactory`, no journal tap), the message's
    text, :func:`~truex_qf.fix.readers.read_increment`, and
    :class:`~truex_qf.marketdata.book.BookKeeper`. Market data only (sustained rate and CPU
    per message), each beside its ratio to ``baseline``: information, so the throughput
    target can be read against what any Python receiver pays before the quote decision.
    The first rung keeps the JSON keys it had as the fourth pair
    (``baseline_thread_state_kept``).

Placement: with two usable CPUs or more, every pair runs its receiver on one CPU and its sender
(and, with the journal, the journal's process, moved there once the receiver has started it) on
another, the same CPUs for every pair; the JSON's ``machine.placement`` says which, and the
mask every thread had.
Co-located, the sender's work was scheduled onto the receiver's core in the middle of its
socket writes, which a remote venue never does (docs/performance.md). ``--no-pin`` leaves
them to the scheduler, as before 2026-12-07. The single-process modules (reference to quote,
soak, backtest speed) are not pinned.

Both senders push the same stream, without an engine log: a deterministic L2 book for
BTC-PYUSD around 60 000 (TrueX grid of that bucket: tick 0.1, lot 0.0001), a 35=W then 35=X
messages of 1-4 entries (NEW / CHANGE / DELETE over 8-20 levels a side, both sides, about a
quarter of the messages moving the top of book, some trades), generated from ``--seed``. The
messages are built before the clock starts.

The strategy is one level a side at 5 bps, ``requote_mode = replace``, the message-rate limits
lifted. Market-data phases quote with the default ``requote_tolerance_bps`` (orders go out
only when fair value moves beyond it, as in production, where the venue's ~10 msg/s limit
allows nothing else); tick to quote uses 0, so that every mid change requotes. The loop's
periodic tick runs at the production default, once a second: it requotes every symbol under
the trading lock, and at the 50 ms the bench used before, market data waited behind it twenty
times a second, which no production configuration does.

How each figure is measured (``time.perf_counter_ns`` everywhere: CLOCK_MONOTONIC, comparable
across processes on Linux):

market-data throughput, sustained without backlog
    the sender sends N messages in bursts every 2 ms at a target rate R. A trial passes when
    the receiver has processed all N at most 50 ms after the last one was sent (it never fell
    more than 50 ms of stream behind) and, with the journal on, the store writers (the
    journal's process included) have stored everything within 0.5 s. "Processed" is
    ``fromApp`` for the baseline; for truex-qf, the end of the pass that applied the message
    to the book on the engine thread that read it, and, when the message found that thread
    idle, ran fair value and the quote decision (during a burst the decision is coalesced, see
    decision lag below; the runner's event queue, which only session events use now, is
    sampled at every pass). R is searched
    from 0.9 x the saturation rate (N sent as fast as possible: N / (last processed - first
    sent)), upwards while trials pass, then by bisection. The sustained figure is the highest
    rate a passing trial achieved. A trial whose sender fell short of R (TCP flow control from
    a receiver that does not keep reading, or a starved sender) is ``sender_bound``.
    ``md_throughput_ratio`` = truex-qf sustained / baseline sustained. As a check that does
    not depend on scheduling, every receiver's CPU time per message (all its threads) is also
    measured at one common rate, half truex-qf's sustained rate.
decision lag (issue 19)
    in the sustained rate's best trial, per quote decision after market data: from the
    ``received_ns`` of the oldest message it covers (the worst of them) to the end of the
    decision (the Runner's ``on_decision_lag`` listener), p50/p99 beside the sustained rate,
    target p99 <= 1000 us (reported, not asserted). The JSON also has it for every trial, and
    the part the trading loop took (a burst's end, ``decision_lag_loop_us``); the rest ran on
    the engine thread, at once or at the ``max_decision_lag_us`` bound.
tick to quote
    500 X/s, each moving the top of book. A sample is one 35=D/35=G whose trigger
    (``OrderSent.trigger_ns``) is an X: from its ``received_ns`` (``TruexApplication.fromApp``)
    to the moment the order reaches the engine log's ``onOutgoing`` inside ``sendToTarget``
    (the Pipeline's tap, wrapped), journal on. Also reported: until ``sendToTarget`` returns
    (``OrderSent.sent_ns``), the same without the journal, and where the first order of each
    tick spends its time (the market maker starts handling the X, the requote pass starts).
order round trip
    baseline: build a 35=D, ``sendToTarget``, until ``fromApp`` sees the 35=8 (the bare
    acceptor answers every D with one 35=8). truex-qf: what ``MarketMaker`` does for a new
    quote (``OrderManager`` draft, ``RiskEngine.check_new``, track, ``FixClient.send``), the
    simulator validates, matches and sends PendingNew and New (TrueX answers every order with
    a PendingNew first), and the round trip ends when the ``MarketMaker`` has applied the
    first ExecutionReport, the PendingNew: the same point of the conversation as the
    baseline's. Until the New report is applied is reported beside it. The orders are on
    ETH-PYUSD, which the strategy does not quote, and each is cancelled (unmeasured) before
    the next. ``order_rtt_ratio`` is the ratio of the p50s; the JSON breaks truex-qf's down
    (decide, send, wire + venue, inbound) for both reports.
audit journal
    ``journal_cost_ratio = 1 - on / off`` on the sustained rates; the CPU per message at the
    common rate is reported beside it. The tap is timed on every call (it runs on the engine
    threads and only enqueues), the store writers' queue depth is sampled every 50 ms. The CPU
    figures count the journal's writer process with the client (/proc/PID/stat); the split is
    reported too, since the client's own share also holds the Pipeline's hooks (metrics,
    alerts, the tap), which run whether or not the journal does.

reflex (issue 19)
    a fourth pair, ``reflex``: bare QuickFIX (empty callbacks, as the baseline) that answers
    each 35=X of tick to quote's stream (same generator, count and rate) with a prebuilt 35=D,
    ``sendToTarget`` from ``fromApp``. ``reflex_us``: from ``perf_counter_ns`` at ``fromApp``'s
    entry to the D at its engine log's ``onOutgoing`` (a Python ``fix.Log`` that only stamps),
    the two hooks tick to quote is measured between. ``tick_to_quote_ratio`` = tick to quote /
    reflex, p50 and p99 (and for the first order of each tick only).
reference to quote (issue 19)
    ``python -m bench.reference_to_quote`` in a process of its own: a simulated reference tick
    on a loopback websocket to the replace handed to the engine, p50/p99, and the same through
    the 1 s REST poll beside it.
journal client CPU (issue 19)
    ``journal_client_cpu_ratio``: the trading process's own CPU per message (all its threads,
    ``time.process_time``) at the common rate, Pipeline on over off; the journal process's
    CPU per message beside it, outside the ratio.
soak (issue 19)
    ``python -m bench.soak`` in a process of its own: the market maker against the simulator's
    matching engine, no sockets, a simulated clock; RSS and every per-order and per-lineage
    structure at the start and the end (1,000,000 messages in the full run, 100,000 in
    ``--quick``; the JSON says how many).

backtest speed (issue 21)
    ``backtest_x_real_time``: ``python -m bench.backtest_speed`` in a process of its own, on a
    seeded synthetic capture (:mod:`bench.synthetic_capture`, quoting at the touch so that the
    order path and fills run), the run written to a SQLite store: virtual seconds replayed per
    wall second, ``quiet`` (1 msg/s; an hour of market, five minutes in ``--smoke``) and
    ``busy`` (20 msg/s; an hour in the full run, five minutes in ``--quick``, 30 s in
    ``--smoke``).

Targets (reported, never asserted): md throughput >= 0.8 of baseline with decision lag p99 <=
1 ms, tick-to-quote p50 < 150 us and p99 < 1 ms, tick to quote over the reflex p50 <= 1.5,
reference to quote p50 <= 1 ms, order RTT p50 within 1.3 x baseline, journal cost < 10 %,
journal client CPU ratio <= 1.1, soak RSS growth <= 10 %, a quiet book's backtest >= 50x real
time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bare import FLOOR_STEPS
from bench.common import AUTO, DEFAULT_SEED, MODES, BenchError, Mode
from bench.orchestrate import Placement, _progress, run_pair
from bench.report import _floor_key, build_report, machine_facts, render_table
from truex_qf.app.cpu_wake import (
    cpu_wake_latency,
    parse_wake_latency,
)
from truex_qf.domain.errors import TruexError


def main(argv: list[str] | None = None) -> int:
    # ``import quickfix`` resets SIGINT to the default action: give Ctrl-C back its
    # KeyboardInterrupt so the finally blocks stop the children.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="under two minutes")
    size.add_argument("--smoke", action="store_true", help="a few hundred messages (tests)")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="market-data stream seed")
    parser.add_argument("--py-spy", type=Path, help="profile each receiver into this directory")
    parser.add_argument(
        "--switch-interval",
        type=float,
        help="sys.setswitchinterval in every child (an experiment; Python's default is 0.005)",
    )
    parser.add_argument(
        "--cpu-wake-latency-us",
        metavar="US",
        help="hold /dev/cpu_dma_latency at US for the whole run, every pair alike, as "
        "truex-qf run --cpu-wake-latency-us does (default: the machine as it is)",
    )
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="leave every process where the scheduler puts it (default, with two usable CPUs "
        "or more: each pair's client on one CPU, its venue/sender on another)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also run the five floor receivers (bare QuickFIX doing truex-qf's per-message "
        "work up to the quote decision, one step more each); about 15 s each in --quick",
    )
    args = parser.parse_args(argv)
    mode = MODES["smoke" if args.smoke else "quick" if args.quick else "full"]
    try:
        wake_limit_us = parse_wake_latency("--cpu-wake-latency-us", args.cpu_wake_latency_us)
    except TruexError as error:
        raise BenchError(str(error)) from None
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(cpu_wake_latency(wake_limit_us))
        except TruexError as error:
            raise BenchError(str(error)) from None
        return _run_all(args, mode)


def _run_all(args: argparse.Namespace, mode: Mode) -> int:
    """Every pair, one after the other, then the table (and the JSON)."""
    facts = machine_facts()
    placement = Placement.choose(pin=not args.no_pin)
    facts["placement"] = placement.describe(pin=not args.no_pin)
    started = time.monotonic()
    options = {
        "py_spy": args.py_spy,
        "switch_interval_s": args.switch_interval,
        "placement": placement,
    }
    # truex-qf first: half its sustained rate is the load every receiver's CPU is measured at
    runs = {
        "truex": run_pair(
            "truex-qf", "truex", mode, args.seed, False, **options, reference_rate=AUTO
        )
    }
    reference_rate = runs["truex"]["md"]["reference_rate"]
    runs["baseline"] = run_pair(
        "baseline", "bare", mode, args.seed, False, **options, reference_rate=reference_rate
    )
    runs["truex_journal"] = run_pair(
        "truex-qf+journal", "truex", mode, args.seed, True, **options, reference_rate=reference_rate
    )
    # issue 19's reflex: bare QuickFIX answering tick to quote's stream, 35=X -> prebuilt 35=D
    runs["reflex"] = run_pair("reflex", "bare", mode, args.seed, False, **options, reflex=True)
    for steps in range(1, (len(FLOOR_STEPS) if args.floor else mode.floor_steps) + 1):
        runs[_floor_key(steps)] = run_pair(
            f"baseline, {FLOOR_STEPS[steps - 1][1]}",
            "bare",
            mode,
            args.seed,
            False,
            **options,
            reference_rate=reference_rate,
            floor_steps=steps,
            market_data_only=True,  # the round trip barely moves with any of them
        )
    facts["placement"]["observed"] = {
        name: run.get("placement_observed") for name, run in runs.items()
    }
    extra = {
        "reference_to_quote": run_module(
            "bench.reference_to_quote",
            "--ticks",
            str(mode.reference_ticks),
            "--poll-ticks",
            str(mode.reference_poll_ticks),
            timeout_s=120 + mode.reference_poll_ticks * 5,
        ),
        "soak": run_module(
            "bench.soak",
            "--messages",
            str(mode.soak_messages),
            "--taker-every",
            str(mode.soak_taker_every),
            "--seed",
            str(args.seed),
            timeout_s=120 + mode.soak_messages / 200,
        ),
        # issue 21: a backtest's virtual seconds per wall second, a quiet book and a busy one
        "backtest_quiet": run_backtest_speed(mode.backtest_quiet_s, QUIET_MSGS_PER_S),
        "backtest_busy": run_backtest_speed(mode.backtest_busy_s, BUSY_MSGS_PER_S),
    }
    report = build_report(mode, args.seed, facts, runs, time.monotonic() - started, extra)
    print(render_table(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0


def run_module(module: str, *args: str, timeout_s: float) -> Any:
    """``python -m module args --json FILE`` in a process of its own (its RSS, its QuickFIX
    sessions), the JSON it wrote."""
    _progress(module, "starting")
    with tempfile.TemporaryDirectory(prefix="truex-bench-") as temp:
        output = Path(temp) / "figures.json"
        try:
            finished = subprocess.run(
                [sys.executable, "-m", module, *args, "--json", str(output)],
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired:
            raise BenchError(f"{module} took more than {timeout_s:.0f} s") from None
        if finished.returncode != 0 or not output.exists():
            raise BenchError(f"{module} failed ({finished.returncode}):\n{finished.stderr[-2000:]}")
        figures = json.loads(output.read_text(encoding="utf-8"))
    _progress(module, "done")
    return figures


QUIET_MSGS_PER_S = 1
BUSY_MSGS_PER_S = 20


def run_backtest_speed(seconds: int, rate: int) -> dict[str, Any]:
    """``bench.backtest_speed`` on a ``seconds`` synthetic capture of ``rate`` msg/s, the run
    written to its SQLite store as ``truex-qf backtest`` does: its one figure row."""
    rows: list[dict[str, Any]] = run_module(
        "bench.backtest_speed",
        "--seconds",
        str(seconds),
        "--rate",
        str(rate),
        "--store",
        "on",
        timeout_s=120 + seconds * rate / 100,
    )
    return {"row": rows[0]}


def run() -> None:
    """The command line: a bench error is one line on stderr and exit 2, never a traceback."""
    try:
        sys.exit(main())
    except BenchError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    run()
