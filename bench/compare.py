#!/usr/bin/env python3
"""truex-qf measured against bare QuickFIX, in the same run (issue "Performance").

Usage, from the repository root with the venv's python::

    python -m bench [--quick | --smoke] [--floor] [--json FILE] [--seed N] [--py-spy DIR]

Default mode takes a few minutes on two cores, ``--quick`` about a minute, ``--smoke`` (for
the test suite) a few seconds of traffic. The table goes to stdout, progress to stderr;
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
    to the book and ran fair value and the quote decision, on the engine thread that read it
    (the runner's event queue, which only session events use now, is sampled at every
    pass). R is searched
    from 0.9 x the saturation rate (N sent as fast as possible: N / (last processed - first
    sent)), upwards while trials pass, then by bisection. The sustained figure is the highest
    rate a passing trial achieved. A trial whose sender fell short of R (TCP flow control from
    a receiver that does not keep reading, or a starved sender) is ``sender_bound``.
    ``md_throughput_ratio`` = truex-qf sustained / baseline sustained. As a check that does
    not depend on scheduling, every receiver's CPU time per message (all its threads) is also
    measured at one common rate, half truex-qf's sustained rate.
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

Targets (reported, never asserted): md throughput >= 0.8 of baseline, tick-to-quote p50 <
150 us and p99 < 1 ms, order RTT p50 within 1.3 x baseline, journal cost < 10 %.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import faulthandler
import gc
import importlib.metadata
import json
import logging
import math
import multiprocessing
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import quickfix as fix
import quickfix50sp2 as fix50

from truex_qf.app.cpu_wake import (
    cpu_wake_latency,
    current_limit_us,
    idle_driver,
    parse_wake_latency,
)
from truex_qf.app.pipeline import Pipeline, pipeline_settings
from truex_qf.app.runner import Runner
from truex_qf.config import Credentials, FixSettings
from truex_qf.domain.errors import TruexError
from truex_qf.domain.model import (
    ExecType,
    ExecutionReport,
    MarketDataIncrement,
    MarketDataSnapshot,
    MDEntryType,
    MDUpdateAction,
    Side,
)
from truex_qf.domain.netutil import free_port
from truex_qf.fix.builders import plain_decimal
from truex_qf.fix.engine_log import RedactingLogFactory
from truex_qf.fix.engine_threads import keep_thread_state
from truex_qf.fix.readers import READERS, msg_type
from truex_qf.fix.settings import SPEC_DIR, initiator_settings
from truex_qf.marketdata.book import BookKeeper
from truex_qf.sim import messages as venue_messages
from truex_qf.sim.fix_acceptor import VenueAccount, VenueApplication
from truex_qf.sim.matching import MatchingEngine
from truex_qf.sim.server import SimulatorSettings, acceptor_settings
from truex_qf.storage.recorder import field_value
from truex_qf.strategy.quoting import RequoteMode
from truex_qf.strategy.settings import StrategySettings, default_strategy
from truex_qf.trading.events import OrderSent
from truex_qf.trading.orders import OrderState, OrderStateChanged
from truex_qf.trading.risk import exposure_for

HOST = "127.0.0.1"
MD_SYMBOL = "BTC-PYUSD"
MD_TICK = Decimal("0.1")  # TrueX grid of the 10 000 - 100 000 bucket
MD_LOT = Decimal("0.0001")
MD_MID_TICKS = 600_000  # 60 000.0
DEFAULT_SEED = 20_260_515  # the market-data stream of every figure in the README
RTT_SYMBOL = "ETH-PYUSD"  # not quoted by the bench strategy: the market maker leaves it alone
RTT_PRICE = Decimal("3000")
RTT_QTY = Decimal("0.01")
BASELINE_MD_REQ_ID = "MD2"  # what the market maker's first subscription is called
BURST_S = 0.002  # paced sending: one burst every 2 ms
LAG_LIMIT_S = 0.05  # "without backlog": never more than 50 ms of stream behind
WRITER_DRAIN_LIMIT_S = 0.5  # the journal too: stored within 0.5 s (it batches every 0.2 s)
SENDER_BOUND = 0.97  # a trial whose sender reached less than this share of R is sender-bound
WRITER_SAMPLE_S = 0.05
TURN_WAIT_S = 0.005  # the idle loop's longest wait: the pipe is polled as often
CONDITION_WAIT_S = 0.002  # waiting for a condition: engine-thread passes wake it sooner
MAX_TRIAL_MESSAGES = 60_000  # built before sending: about 6 KB each
AUTO = "auto"  # the CPU reference rate: half the first receiver's sustained rate
NS_PER_US = 1000

TARGETS = {
    "md_throughput_ratio": (">=", 0.8),
    "tick_to_quote_p50_us": ("<", 150.0),
    "tick_to_quote_p99_us": ("<", 1000.0),
    "order_rtt_ratio": ("<=", 1.3),
    "journal_cost_ratio": ("<", 0.10),
}


class BenchError(RuntimeError):
    """A measurement could not be made (a peer died, timed out or refused)."""


@dataclasses.dataclass(frozen=True)
class Mode:
    """How much traffic each measurement gets."""

    name: str
    saturation_n: int  # messages sent as fast as possible
    trials: int  # paced trials in the sustained-rate search
    trial_s: float  # length of one paced trial
    ttq_n: int  # X messages for tick to quote
    ttq_rate: float  # their rate, msg/s
    rtt_n: int  # measured order round trips
    warmup: int  # round trips / triggers discarded first
    floor_steps: int  # floor receivers: the first N of FLOOR_STEPS, one pair each


MODES = {
    # smoke: X slow enough to find quotes at rest
    "smoke": Mode("smoke", 300, 3, 0.1, 200, 300.0, 50, 10, 5),
    # quick: no floor pair, or it would pass two minutes; --floor adds all five
    "quick": Mode("quick", 20_000, 5, 1.5, 1500, 500.0, 1000, 100, 0),
    "full": Mode("full", 60_000, 7, 3.0, 5000, 500.0, 5000, 200, 1),
}


# ============================================================================ the stream

Change = tuple[str, str, int, int, str | None]  # action, entry type, ticks, lots, aggressor


class BookStream:
    """A deterministic L2 feed for one symbol: a snapshot, then incremental changes.

    Prices and sizes are whole ticks and lots of TrueX's grid, so every message is valid on
    the venue's grid. The book never crosses or locks; deletes and changes name only levels
    that exist; each side keeps about MIN_DEPTH to MAX_DEPTH levels.
    """

    MIN_DEPTH = 8
    MAX_DEPTH = 20

    def __init__(self, seed: int, mid_ticks: int = MD_MID_TICKS, depth: int = 14) -> None:
        self._rng = random.Random(seed)
        self.bids: dict[int, int] = {}
        self.offers: dict[int, int] = {}
        price = mid_ticks - 1
        for _ in range(depth):
            self.bids[price] = self._size()
            price -= self._rng.randint(1, 3)
        price = mid_ticks + 1
        for _ in range(depth):
            self.offers[price] = self._size()
            price += self._rng.randint(1, 3)

    def _size(self) -> int:
        return self._rng.randint(1, 500)

    def snapshot(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids best first, offers best first) as (ticks, lots)."""
        bids = sorted(self.bids.items(), reverse=True)
        offers = sorted(self.offers.items())
        return bids, offers

    def next_message(self, move_mid: bool) -> list[Change]:
        """The entries of one 35=X; with ``move_mid`` the first one moves the top of book."""
        rng = self._rng
        changes: list[Change] = []
        if move_mid or rng.random() < 0.25:
            changes.append(self._move_top(rng.random() < 0.5))
        extra = rng.choice((0, 1, 1, 2)) if changes else rng.randint(1, 3)
        for _ in range(extra):
            changes.append(self._random_change())
        if rng.random() < 0.05:
            aggressor_buys = rng.random() < 0.5
            price = min(self.offers) if aggressor_buys else max(self.bids)
            side = Side.BUY.value if aggressor_buys else Side.SELL.value
            changes.append((MDUpdateAction.NEW.value, MDEntryType.TRADE.value, price, 5, side))
        return changes

    def _side(self, bid: bool) -> tuple[dict[int, int], str]:
        if bid:
            return self.bids, MDEntryType.BID.value
        return self.offers, MDEntryType.OFFER.value

    def _move_top(self, bid: bool) -> Change:
        """Improve the best price inside the spread, or delete the best level."""
        levels, entry = self._side(bid)
        best_bid, best_offer = max(self.bids), min(self.offers)
        spread = best_offer - best_bid
        depth = len(levels)
        if spread < 2 or depth >= self.MAX_DEPTH:
            improve = False
        elif depth <= self.MIN_DEPTH:
            improve = True
        else:
            improve = self._rng.random() < 0.5
        if improve:
            step = self._rng.randint(1, spread - 1)
            price = best_bid + step if bid else best_offer - step
            size = self._size()
            levels[price] = size
            return (MDUpdateAction.NEW.value, entry, price, size, None)
        price = best_bid if bid else best_offer
        del levels[price]
        return (MDUpdateAction.DELETE.value, entry, price, 0, None)

    def _random_change(self) -> Change:
        """A change away from the top: mostly size changes, some adds and deletes."""
        rng = self._rng
        bid = rng.random() < 0.5
        levels, entry = self._side(bid)
        best = max(levels) if bid else min(levels)
        depth = len(levels)
        draw = rng.random()
        if draw < 0.6:
            action = MDUpdateAction.CHANGE
        elif depth >= self.MAX_DEPTH:
            action = MDUpdateAction.DELETE
        elif depth <= self.MIN_DEPTH or draw < 0.8:
            action = MDUpdateAction.NEW
        else:
            action = MDUpdateAction.DELETE
        if action is MDUpdateAction.NEW:
            for _ in range(5):
                distance = rng.randint(1, 60)
                price = best - distance if bid else best + distance
                if price not in levels:
                    size = self._size()
                    levels[price] = size
                    return (action.value, entry, price, size, None)
            action = MDUpdateAction.CHANGE
        if action is MDUpdateAction.DELETE:
            price = rng.choice([p for p in levels if p != best])
            del levels[price]
            return (action.value, entry, price, 0, None)
        price = rng.choice(list(levels))
        size = levels[price] % 500 + 1  # always a different size
        levels[price] = size
        return (MDUpdateAction.CHANGE.value, entry, price, size, None)


def _price(ticks: int) -> Decimal:
    return Decimal(ticks) * MD_TICK


def _size(lots: int) -> Decimal:
    return Decimal(lots) * MD_LOT


def build_snapshot(stream: BookStream, md_req_id: str) -> fix.Message:
    bids, offers = stream.snapshot()
    return venue_messages.snapshot(
        md_req_id,
        MD_SYMBOL,
        [(_price(p), _size(s)) for p, s in bids],
        [(_price(p), _size(s)) for p, s in offers],
    )


def increment_text(md_req_id: str, changes: list[Change]) -> str:
    """One 35=X as wire text (no 8=, which the engine adds), field for field what
    :func:`truex_qf.sim.messages.incremental` produces (checked at start)."""
    parts = [f"35=X\x01262={md_req_id}\x01268={len(changes)}\x01"]
    for action, entry, ticks, lots, aggressor in changes:
        parts.append(
            f"279={action}\x01269={entry}\x0155={MD_SYMBOL}\x01"
            f"270={plain_decimal(_price(ticks))}\x01271={plain_decimal(_size(lots))}\x01"
        )
        if aggressor is not None:
            parts.append(f"2446={aggressor}\x01")
    body = "".join(parts)
    head = f"9={len(body)}\x01"
    checksum = sum((head + body).encode("ascii")) % 256
    return f"{head}{body}10={checksum:03d}\x01"


class IncrementFactory:
    """Builds 35=X messages fast: wire text parsed with the TrueX dictionaries.

    The simulator's builder spends about 70 us per entry constructing the quickfix50sp2 group
    class (it fills a field-order array of the whole NoMDEntries definition); parsing text
    with the dictionaries takes about 3 us a message and yields the same message.
    """

    def __init__(self) -> None:
        self.transport = fix.DataDictionary(str(SPEC_DIR / "TrueX_FIXT11.xml"))
        self.application = fix.DataDictionary(str(SPEC_DIR / "TrueX_FIX50SP2.xml"))
        self._check_same_as_simulator()

    def message(self, text: str) -> fix.Message:
        return fix.Message(text, self.transport, self.application, False)

    def build(
        self, stream: BookStream, md_req_id: str, count: int, move_mid: bool
    ) -> list[fix.Message]:
        return [
            self.message(increment_text(md_req_id, stream.next_message(move_mid)))
            for _ in range(count)
        ]

    def _check_same_as_simulator(self) -> None:
        stream = BookStream(seed=1)
        for _ in range(50):
            changes = stream.next_message(move_mid=False)
            ours = self.message(increment_text("MD9", changes)).toString()
            simulator = venue_messages.incremental(
                "MD9",
                [
                    (MDUpdateAction(a), MDEntryType(e), MD_SYMBOL, _price(t), _size(n), g)
                    for a, e, t, n, g in changes
                ],
            ).toString()
            if ours != simulator:
                raise BenchError(f"stream text differs from the simulator's:\n{ours}\n{simulator}")


def send_stream(
    session_id: fix.SessionID, messages: list[fix.Message], rate: float | None
) -> dict[str, Any]:
    """Send ``messages``: all at once (``rate`` None) or in bursts every BURST_S at ``rate``."""
    send = fix.Session.sendToTarget
    gc.collect()
    count = len(messages)
    accepted = 0
    if rate is None:
        first = time.perf_counter_ns()
        for message in messages:
            accepted += send(message, session_id)
        last = time.perf_counter_ns()
        per_burst = count
    else:
        per_burst = max(1, round(rate * BURST_S))
        interval_ns = int(per_burst / rate * 1e9)
        first = time.perf_counter_ns()
        due = first
        last = first
        for start in range(0, count, per_burst):
            for message in messages[start : start + per_burst]:
                accepted += send(message, session_id)
            last = time.perf_counter_ns()
            due += interval_ns
            delay = due - last
            if delay > 0 and start + per_burst < count:
                time.sleep(delay / 1e9)
    elapsed = max(last - first, 1)
    return {
        "n": count,
        "accepted": accepted,
        "first_ns": first,
        "last_ns": last,
        "per_burst": per_burst,
        "send_rate": count / (elapsed / 1e9) if count > 1 else 0.0,
    }


# ============================================================================ helpers


def summarize_ns(samples_ns: list[int]) -> dict[str, float]:
    """n, mean and percentiles (nearest rank) in microseconds."""
    if not samples_ns:
        return {"n": 0}
    ordered = sorted(samples_ns)

    def rank(q: float) -> float:
        index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
        return round(ordered[index] / NS_PER_US, 1)

    return {
        "n": len(ordered),
        "mean": round(sum(ordered) / len(ordered) / NS_PER_US, 1),
        "p50": rank(0.50),
        "p90": rank(0.90),
        "p99": rank(0.99),
        "p999": rank(0.999),
        "max": round(ordered[-1] / NS_PER_US, 1),
    }


class CountingHandler(logging.Handler):
    """Counts warnings and errors per logger, so a run can show it stayed sane."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()
        self.first: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        key = f"{record.levelname} {record.name}"
        self.counts[key] += 1
        self.first.setdefault(key, record.getMessage()[:200])


def _child_setup(config: dict[str, Any]) -> CountingHandler:
    faulthandler.enable(all_threads=True)
    if config.get("switch_interval_s"):
        sys.setswitchinterval(config["switch_interval_s"])
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.ERROR)
    stderr.setFormatter(logging.Formatter("%(processName)s %(name)s %(levelname)s %(message)s"))
    counting = CountingHandler()
    root.addHandler(stderr)
    root.addHandler(counting)
    return counting


def _hard_exit(code: int = 0) -> None:
    """Leave without interpreter teardown: engines are stopped, and QuickFIX's destructors
    racing Python's at exit are a known source of segfaults (quickfix-python-notes §1.8)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


Handlers = dict[str, Callable[..., Any]]


def serve(conn: Any, handlers: Handlers, idle: Callable[[], None] | None = None) -> None:
    """Answer the orchestrator's commands until ``stop``; run ``idle`` while none is pending."""
    while True:
        if idle is not None:
            next_poll = 0.0
            while True:  # the pipe is polled every 5 ms, not on every turn: it is a syscall
                idle()
                now = time.monotonic()
                if now >= next_poll:
                    if conn.poll(0):
                        break
                    next_poll = now + 0.005
        try:
            name, args = conn.recv()
        except (EOFError, OSError):
            handlers["stop"]()
            return
        try:
            result = handlers[name](**args)
        except Exception:
            conn.send(("error", traceback.format_exc()))
        else:
            conn.send(("ok", result))
        if name == "stop":
            return


def _wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.005)


def _session_id(comp_id: str, target: str) -> fix.SessionID:
    return fix.SessionID("FIXT.1.1", comp_id, target)


# ============================================================================ bare QuickFIX


class BareApplication(fix.Application):
    """Empty callbacks; ``fromApp`` only counts and time-stamps what the baseline measures."""

    def __init__(self) -> None:
        super().__init__()
        self.logged_on: set[str] = set()
        self.done = threading.Event()
        self.count = 0
        self.target = 0
        self.first_ns = 0
        self.last_ns = 0

    def arm(self, target: int) -> None:
        self.done.clear()
        self.count = 0
        self.first_ns = 0
        self.last_ns = 0
        self.target = target

    def onCreate(self, session_id: fix.SessionID) -> None:
        pass

    def onLogon(self, session_id: fix.SessionID) -> None:
        with contextlib.suppress(Exception):  # nothing may escape a callback (notes §1.2)
            self.logged_on.add(session_id.toString())

    def onLogout(self, session_id: fix.SessionID) -> None:
        with contextlib.suppress(Exception):
            self.logged_on.discard(session_id.toString())

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            now = time.perf_counter_ns()
            count = self.count + 1
            self.count = count
            if count == 1:
                self.first_ns = now
            self.last_ns = now
            if count == self.target:
                self.done.set()
        except Exception:
            pass


FLOOR_STEPS = (
    ("thread_state", "keeps its thread state"),
    ("engine_log", "+ a Python engine log"),
    ("text", "+ Message.toString"),
    ("read", "+ reads the 35=X"),
    ("book", "+ applies it to the book"),
)
"""What truex-qf's engine thread does for every market-data message before it decides
anything, in order; a floor receiver does the first N of them (``floor_steps``)."""


def floor_step_names(steps: int) -> frozenset[str]:
    """The names of the first ``steps`` of :data:`FLOOR_STEPS`."""
    return frozenset(name for name, _ in FLOOR_STEPS[:steps])


class FloorApplication(BareApplication):
    """The baseline plus the first ``steps`` of :data:`FLOOR_STEPS`, truex-qf's own code.

    Each step is what every truex-qf receiver pays per market-data message before the trading
    decision: keeping the engine thread's Python thread state (the binding otherwise builds
    and destroys one around every callback, :mod:`truex_qf.fix.engine_threads`), the engine
    log (:class:`~truex_qf.fix.engine_log.RedactingLog`, set up by :class:`BareClient`
    without a journal tap), the message's text, :func:`~truex_qf.fix.readers.read_increment`
    and :class:`~truex_qf.marketdata.book.BookKeeper`. The ladder's last rung against
    truex-qf's rate is what the quote decision, the Runner and the MarketMaker's dispatch
    cost; its rungs against the baseline say how much of the throughput target is left
    once a Python application has only read and stored the book.
    """

    def __init__(self, steps: int) -> None:
        super().__init__()
        names = floor_step_names(steps)
        self.keep = "thread_state" in names
        self.text = "text" in names
        self.read = "read" in names
        self.book = "book" in names
        self.books = BookKeeper()
        self.failures = 0

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            if self.keep:
                keep_thread_state()  # one attribute lookup after the first call
            if self.text:
                raw = message.toString()
                if self.read:
                    self._read(raw)
        except Exception:  # nothing may escape a callback (notes §1.2); counted, reported
            self.failures += 1
        super().fromApp(message, session_id)

    def _read(self, raw: str) -> None:
        """As ``TruexApplication.fromApp`` reads, then as ``MarketMaker`` applies to the book."""
        reader = READERS.get(msg_type(raw))
        if reader is None:
            return
        event = reader(raw, 0)
        if not self.book:
            return
        if type(event) is MarketDataIncrement:
            self.books.apply_increment(event, time.monotonic())
        elif type(event) is MarketDataSnapshot:
            self.books.apply_snapshot(event, time.monotonic())


class BareAcceptorApplication(BareApplication):
    """Answers every 35=D with one 35=8 at once, and nothing else."""

    def __init__(self, client_id: str) -> None:
        super().__init__()
        self.client_id = client_id
        self.exec_ids = 0

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            if message.getHeader().getField(35) == "D":
                self.exec_ids += 1
                reply = bare_execution_report(
                    message.getField(11), str(self.exec_ids), self.client_id
                )
                fix.Session.sendToTarget(reply, session_id)
        except Exception:
            pass


def _bare_message(msg_type: str) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(35, msg_type)
    return message


def bare_new_order_single(cl_ord_id: str, client_id: str) -> fix.Message:
    """The fields truex-qf's builder puts in a post-only limit order, set one by one."""
    message = _bare_message("D")
    message.setField(11, cl_ord_id)
    message.setField(18, "6")
    message.setField(38, str(RTT_QTY))
    message.setField(40, "2")
    message.setField(44, str(RTT_PRICE))
    message.setField(54, "1")
    message.setField(55, RTT_SYMBOL)
    message.setField(59, "1")
    parties = fix50.NewOrderSingle.NoPartyIDs()
    parties.setField(448, client_id)
    parties.setField(452, "3")
    message.addGroup(parties)
    return message


def bare_execution_report(cl_ord_id: str, exec_id: str, client_id: str) -> fix.Message:
    """A 35=8 New with the fields the simulator puts in one."""
    message = _bare_message("8")
    message.setField(37, f"O{exec_id}")
    message.setField(11, cl_ord_id)
    message.setField(17, exec_id)
    message.setField(150, "0")
    message.setField(39, "0")
    message.setField(55, RTT_SYMBOL)
    message.setField(54, "1")
    message.setField(40, "2")
    message.setField(38, str(RTT_QTY))
    message.setField(44, str(RTT_PRICE))
    message.setField(59, "1")
    message.setField(151, str(RTT_QTY))
    message.setField(14, "0")
    message.setField(60, datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.%f"))
    parties = fix50.ExecutionReport.NoPartyIDs()
    parties.setField(448, client_id)
    parties.setField(452, "3")
    message.addGroup(parties)
    return message


# ============================================================================ the venues


class BenchVenueApplication(VenueApplication):
    """The simulator's venue, with the bench as its only market-data source.

    The venue's own level changes (our quotes resting in its matching engine) would interleave
    with the bench's stream and corrupt the book the stream describes, so they are not
    published. The MDReqID of the client's subscription is kept for the stream's messages.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.subscribed = threading.Event()
        self.md_req_id: str | None = None
        self.service_ns: list[int] = []

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        start = time.perf_counter_ns()
        try:
            super().fromApp(message, session_id)  # guarded: only FIX exceptions escape
        finally:
            self.service_ns.append(time.perf_counter_ns() - start)

    def _on_market_data_request(
        self, fields: dict[int, str], pairs: list[tuple[int, str]], session: str
    ) -> None:
        super()._on_market_data_request(fields, pairs, session)
        self.md_req_id = fields.get(262)
        self.subscribed.set()

    def _send_increments(self, changes: list[Any]) -> None:
        """Not published: see the class docstring."""


for _hook in ("_on_market_data_request", "_send_increments"):
    if not hasattr(VenueApplication, _hook):  # the bench leans on these two; fail loudly
        raise ImportError(f"VenueApplication.{_hook} is gone: update BenchVenueApplication")


class Venue:
    """The sender: a ThreadedSocketAcceptor on the simulator's settings, and the stream."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.kind = config["kind"]
        account = VenueAccount(
            config["sender_comp_id"],
            config["client_id"],
            Credentials(config["api_key"], config["secret_key"]),
        )
        self.settings = SimulatorSettings(
            account=account,
            order_entry_port=config["order_entry_port"],
            market_data_port=config["market_data_port"],
            host=HOST,
        )
        engine_settings, roles = acceptor_settings(self.settings)
        self.engine_settings = engine_settings
        if self.kind == "bare":
            self.application: fix.Application = BareAcceptorApplication(account.client_id)
        else:
            self.application = BenchVenueApplication(
                account,
                MatchingEngine(self.settings.symbols),
                roles,
                self.settings.symbols,
            )
        self.md_session = _session_id(self.settings.market_data_comp_id, account.sender_comp_id)
        self.stream = BookStream(config["seed"])
        self.increments = IncrementFactory()
        self.store_factory = fix.MemoryStoreFactory()
        # No engine log: the same sender for both receivers, as cheap as it gets.
        self.acceptor = fix.ThreadedSocketAcceptor(
            self.application, self.store_factory, self.engine_settings
        )

    def start(self) -> None:
        self.acceptor.start()

    def commands(self) -> Handlers:
        return {
            "snapshot": self.snapshot,
            "stream": self.send,
            "stats": self.stats,
            "stop": self.stop,
        }

    def _md_req_id(self, timeout_s: float) -> str:
        if isinstance(self.application, BenchVenueApplication):
            application = self.application
            _wait_until(application.subscribed.is_set, timeout_s, "the market-data subscription")
            return application.md_req_id or BASELINE_MD_REQ_ID
        md_name = self.md_session.toString()
        _wait_until(lambda: md_name in self.application.logged_on, timeout_s, "logon")
        return BASELINE_MD_REQ_ID

    def snapshot(self, timeout_s: float = 20.0) -> dict[str, Any]:
        md_req_id = self._md_req_id(timeout_s)
        fix.Session.sendToTarget(build_snapshot(self.stream, md_req_id), self.md_session)
        return {"md_req_id": md_req_id}

    def send(self, n: int, rate: float | None, move_mid: bool = False) -> dict[str, Any]:
        md_req_id = self._md_req_id(1.0)
        started = time.perf_counter()
        messages = self.increments.build(self.stream, md_req_id, n, move_mid)
        build_s = time.perf_counter() - started
        result = send_stream(self.md_session, messages, rate)
        result["build_us_per_msg"] = round(build_s / max(n, 1) * 1e6, 1)
        result["target_rate"] = rate
        return result

    def stats(self) -> dict[str, Any]:
        if isinstance(self.application, BenchVenueApplication):
            return {"venue_fromapp_us": summarize_ns(self.application.service_ns)}
        return {}

    def stop(self) -> dict[str, Any]:
        self.acceptor.stop(True)
        return {}


def venue_main(conn: Any, config: dict[str, Any]) -> None:
    """Child process: the sender."""
    counting = _child_setup(config)
    try:
        venue = Venue(config)
        venue.start()
    except Exception:
        conn.send(("error", traceback.format_exc()))
        _hard_exit(1)
    conn.send(("ok", {"pid": os.getpid()}))
    handlers = venue.commands()
    stop = handlers["stop"]

    def stop_and_report() -> dict[str, Any]:
        stop()
        return {"log": dict(counting.counts)}

    handlers["stop"] = stop_and_report
    serve(conn, handlers)
    _hard_exit()


# ============================================================================ the receivers


class BareClient:
    """The baseline receiver: bare QuickFIX initiator on ``sessions.cfg``."""

    def __init__(self, config: dict[str, Any]) -> None:
        fix_settings = _fix_settings(config)
        settings, _roles = initiator_settings(fix_settings)
        self.client_id = fix_settings.client_id
        self.settings = settings
        steps = config.get("floor_steps", 0)
        self.application = FloorApplication(steps) if steps else BareApplication()
        self.cpu_at_begin = 0.0
        self.store_factory = fix.FileStoreFactory(settings)
        # The engine log FixClient installs, without a journal tap; kept alive with the engine.
        self.log_factories = (
            [RedactingLogFactory(None)] if "engine_log" in floor_step_names(steps) else []
        )
        # The transport truex-qf's FixClient uses: one engine thread for both sessions.
        self.initiator = fix.SocketInitiator(
            self.application, self.store_factory, self.settings, *self.log_factories
        )
        self.oe_session = _session_id(fix_settings.sender_comp_id, fix_settings.order_entry_target)
        self.md_session = _session_id(fix_settings.sender_comp_id, fix_settings.market_data_target)

    def start(self, timeout_s: float) -> None:
        self.initiator.start()
        names = {self.oe_session.toString(), self.md_session.toString()}
        _wait_until(lambda: names <= self.application.logged_on, timeout_s, "logon")

    def commands(self) -> Handlers:
        return {
            "settle": self.settle,
            "md_begin": self.md_begin,
            "md_wait": self.md_wait,
            "rtt": self.rtt,
            "stop": self.stop,
        }

    def settle(self, timeout_s: float) -> dict[str, Any]:
        _wait_until(lambda: self.application.count >= 1, timeout_s, "the snapshot")
        return {}

    def md_begin(self, n: int) -> dict[str, Any]:
        self.application.arm(n)
        self.cpu_at_begin = time.process_time()
        return {}

    def md_wait(self, timeout_s: float, drain: bool = False) -> dict[str, Any]:
        application = self.application
        finished = application.done.wait(timeout_s)
        return {
            "processed": application.count,
            "first_ns": application.first_ns,
            "done_ns": application.last_ns if finished else 0,
            "max_queue_depth": 0,
            "cpu_s": time.process_time() - self.cpu_at_begin,
        }

    def rtt(self, n: int, warmup: int, timeout_s: float) -> dict[str, Any]:
        application = self.application
        deadline = time.monotonic() + timeout_s
        samples: list[int] = []
        sends: list[int] = []
        for number in range(warmup + n):
            application.arm(1)
            start = time.perf_counter_ns()
            message = bare_new_order_single(f"B{number}", self.client_id)
            fix.Session.sendToTarget(message, self.oe_session)
            sent = time.perf_counter_ns()
            if not application.done.wait(max(0.0, deadline - time.monotonic())):
                raise BenchError(f"no 35=8 for order {number} within {timeout_s} s")
            if number >= warmup:
                samples.append(application.last_ns - start)
                sends.append(sent - start)
        return {"rtt_ns": samples, "send_ns": sends}

    def stop(self) -> dict[str, Any]:
        self.initiator.stop(True)
        if not isinstance(self.application, FloorApplication):
            return {}
        book = self.application.books.book(MD_SYMBOL)
        return {
            "callback_failures": self.application.failures,
            "book_inconsistency": book.inconsistency if book is not None else None,
        }


class TapProbe:
    """Wraps the Pipeline's journal tap: times every call, notes when our 35=D/G leave."""

    def __init__(self, tap: Callable[[str, str, str], None]) -> None:
        self._tap = tap
        self.durations_ns: list[int] = []
        self.out_ns: dict[str, int] = {}
        self.capture_out = False

    def __call__(self, session: str, direction: str, raw: str) -> None:
        start = time.perf_counter_ns()
        if (
            self.capture_out
            and direction == "OUT"
            and ("\x0135=G\x01" in raw or "\x0135=D\x01" in raw)
        ):
            cl_ord_id = field_value(raw, "11")
            if cl_ord_id:
                self.out_ns[cl_ord_id] = start
        self._tap(session, direction, raw)
        self.durations_ns.append(time.perf_counter_ns() - start)


@dataclasses.dataclass
class MdTracker:
    """Progress of one market-data measurement, from book versions seen by the loop."""

    active: bool = False
    target_version: int = 0
    start_version: int = 0
    first_ns: int = 0
    done_ns: int = 0
    last_version: int = 0
    max_queue_depth: int = 0


def bench_strategy() -> StrategySettings:
    """One level a side, 5 bps, zero tolerance, 35=G requotes, message-rate limits lifted.

    The default strategy paces orders at 8/s (TrueX's reported limits); here every mid change
    must produce a requote so that tick to quote has samples. ETH-PYUSD gets a position limit
    so the round-trip orders pass the risk engine; it is not quoted.
    """
    base = default_strategy()
    symbol = base.symbols[0]
    quoting = dataclasses.replace(
        symbol.quoting,
        levels_per_side=1,
        spread_bps=Decimal(5),
        min_edge_bps=Decimal(0),
        inventory_skew_bps=Decimal(0),
        max_skew_bps=Decimal(0),
    )
    symbol = dataclasses.replace(symbol, quoting=quoting)
    risk = dataclasses.replace(
        base.risk,
        max_position_base={MD_SYMBOL: quoting.max_position_base, RTT_SYMBOL: Decimal(1)},
        max_messages_per_s=1_000_000,
        max_messages_per_min=60_000_000,
    )
    return dataclasses.replace(
        base,
        symbols=(symbol,),
        risk=risk,
        loop_interval_s=1.0,
        requote_tolerance_bps=Decimal(0),
        requote_mode=RequoteMode.REPLACE,
    )


class ProbedRunner(Runner):
    """A Runner that calls :attr:`on_pass` at the end of every pass, on the loop or an engine
    thread, trading lock held: the bench's probe, kept out of the product."""

    on_pass: Callable[[], None] | None = None

    def _end_pass(self) -> None:
        super()._end_pass()
        if self.on_pass is not None:
            self.on_pass()


class TruexClient:
    """The truex-qf receiver: a Runner, driven one loop turn at a time."""

    def __init__(self, config: dict[str, Any]) -> None:
        fix_settings = _fix_settings(config)
        self.pipeline: Pipeline | None = None
        self.tap: TapProbe | None = None
        if config["journal"]:
            self.pipeline = Pipeline(
                pipeline_settings(fix_settings.state_dir, fix_settings.sender_comp_id, env={})
            )
            self.tap = TapProbe(self.pipeline.tap)
            self.pipeline.tap = self.tap  # type: ignore[method-assign]  # Runner passes it on
        # Tick to quote requotes on every mid change; the market-data phases quote with the
        # default tolerance, so orders go out only when fair value moves beyond it, as in
        # production (where the venue's ~10 msg/s limit would stop anything else).
        self.ttq_strategy = bench_strategy()
        self.md_strategy = dataclasses.replace(
            self.ttq_strategy, requote_tolerance_bps=default_strategy().requote_tolerance_bps
        )
        self.runner = ProbedRunner(
            fix_settings, self.ttq_strategy, pipeline=self.pipeline, mode="bench"
        )
        self.mm = self.runner.mm
        self.events = self.runner.events
        # What the Runner hands the MarketMaker as its ``send``.
        client_send = self.runner.client.send
        self.send = self.pipeline.wrap_send(client_send) if self.pipeline else client_send
        self.md = MdTracker()
        self.orders_at_begin = 0
        self.cpu_at_begin = 0.0
        self.writer_depths: list[int] = []
        self._next_writer_sample = 0.0
        # tick to quote
        self.capture = False
        # (ClOrdID, trigger_ns, sent_ns, start of the requote pass that sent it)
        self.sent: list[tuple[str, int, int, int]] = []
        self.requote_ns = 0
        self.x_handled: dict[int, int] = {}  # received_ns of each X -> when handling began
        # order round trip
        self.watch: str | None = None
        self.watch_ack_ns = 0
        self.watch_er_ns = 0
        self.watch_first_er_ns = 0
        self.watch_first_applied_ns = 0
        self.mm.listeners.append(self._on_mm_event)
        self.runner.on_pass = self._on_pass

    def start(self) -> None:
        self.runner.start()

    def commands(self) -> Handlers:
        return {
            "settle": self.settle,
            "md_begin": self.md_begin,
            "md_wait": self.md_wait,
            "ttq_begin": self.ttq_begin,
            "ttq_wait": self.ttq_wait,
            "rtt": self.rtt,
            "stop": self.stop,
        }

    # ------------------------------------------------------------------ the loop

    def turn(self) -> None:
        """One trading-loop pass (market data is applied by the engine thread meanwhile);
        waits at most TURN_WAIT_S, so the bench notices what the engine threads applied."""
        self.runner.step(TURN_WAIT_S)
        if self.pipeline is not None and time.monotonic() >= self._next_writer_sample:
            self._next_writer_sample = time.monotonic() + WRITER_SAMPLE_S
            self.writer_depths.append(self._store_depth())

    def _on_pass(self) -> None:
        """The end of every pass, on the loop or an engine thread: the measurement's books."""
        md = self.md
        if md.active:
            now = time.perf_counter_ns()
            depth = self.events.qsize()
            if depth > md.max_queue_depth:
                md.max_queue_depth = depth
            book = self.mm.books.book(MD_SYMBOL)
            version = book.version if book is not None else 0
            if version != md.last_version:
                md.last_version = version
                if md.first_ns == 0:
                    md.first_ns = now
                if version >= md.target_version and md.done_ns == 0:
                    md.done_ns = now

    def _store_depth(self) -> int:
        """Rows submitted and not yet stored: the store writer's and the journal process's."""
        if self.pipeline is None:
            return 0
        return self.pipeline.writer.stats.queue_depth + self.pipeline.journal.stats.queue_depth

    def _cpu_s(self) -> float:
        """CPU time of this process and of the journal's writer process (it works for us)."""
        total = time.process_time()
        process = self.pipeline.journal._process if self.pipeline is not None else None
        if process is not None and process.pid is not None:
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def _turn_until(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        if not self._wait_for(condition, timeout_s):
            raise BenchError(f"timed out after {timeout_s} s waiting for {what}")

    def _wait_for(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        """Until ``condition`` holds (read under the trading lock) or the time is up. Every
        pass an engine thread makes notifies the lock's condition, so this wakes at once; the
        loop's own turn runs as the Runner's loop would, on its schedule or a queued event."""
        deadline = time.monotonic() + timeout_s
        lock = self.runner.trading_lock
        next_turn = 0.0
        while True:
            with lock:
                if condition():
                    return True
                lock.wait(CONDITION_WAIT_S)
                if condition():
                    return True
            now = time.monotonic()
            if now > deadline:
                return False
            if now >= next_turn:
                next_turn = now + TURN_WAIT_S
                self.runner.step(0.0)

    def _on_mm_event(self, event: object) -> None:
        kind = type(event)
        if kind is OrderSent:
            if self.capture and event.kind != "cancel":  # type: ignore[attr-defined]
                self.sent.append(
                    (event.cl_ord_id, event.trigger_ns, event.sent_ns, self.requote_ns)  # type: ignore[attr-defined]
                )
        elif (
            kind is OrderStateChanged
            and self.watch is not None
            and event.cl_ord_id == self.watch  # type: ignore[attr-defined]
            and event.state is OrderState.NEW  # type: ignore[attr-defined]
        ):
            self.watch_ack_ns = time.perf_counter_ns()

    def _orders_sent(self) -> int:
        stats = self.mm.stats
        return stats.orders_sent + stats.replaces_sent + stats.cancels_sent

    def _quotes_settled(self) -> bool:
        book = self.mm.books.book(MD_SYMBOL)
        if book is None or book.best_bid_price() is None or book.best_offer_price() is None:
            return False
        working = self.mm.orders.working_orders(MD_SYMBOL)
        return len(working) == 2 and all(o.state is OrderState.NEW for o in working)

    def settle(self, timeout_s: float) -> dict[str, Any]:
        self._turn_until(self._quotes_settled, timeout_s, "the snapshot and two resting quotes")
        return {}

    # ------------------------------------------------------------------ market data

    def md_begin(self, n: int, tick_to_quote: bool = False) -> dict[str, Any]:
        self.mm.strategy = self.ttq_strategy if tick_to_quote else self.md_strategy
        self.orders_at_begin = self._orders_sent()
        self.cpu_at_begin = self._cpu_s()
        self.own_cpu_at_begin = time.process_time()
        book = self.mm.books.book(MD_SYMBOL)
        version = book.version if book is not None else 0
        self.md = MdTracker(
            active=True, target_version=version + n, start_version=version, last_version=version
        )
        return {}

    def md_wait(self, timeout_s: float, drain: bool = False) -> dict[str, Any]:
        """Until the measurement's messages are processed; ``drain``: and, for the CPU
        figure, until the store writer has caught up (it works after the loop is done)."""
        md = self.md
        deadline = time.monotonic() + timeout_s
        # Turns, not _wait_for: a waiter on the lock's condition would wake on every message
        # and fight the engine thread for the GIL; done_ns is stamped by the pass itself.
        while md.done_ns == 0 and time.monotonic() < deadline:
            self.turn()
        with self.runner.trading_lock:
            md.active = False
        writer_drain_ms = None
        if self.pipeline is not None and md.done_ns:
            # The journal must keep up too: how long until the writer has stored everything?
            drained_by = time.monotonic() + 10.0
            while self._store_depth() and time.monotonic() < drained_by:
                self.runner.step(0.001)
            writer_drain_ms = (time.perf_counter_ns() - md.done_ns) / 1e6
            if drain:
                time.sleep(0.3)  # CPU figure: let its last commit finish
        cpu_s = self._cpu_s() - self.cpu_at_begin
        result = {
            "orders_sent": self._orders_sent() - self.orders_at_begin,
            "processed": md.last_version - md.start_version,
            "first_ns": md.first_ns,
            "done_ns": md.done_ns,
            "max_queue_depth": md.max_queue_depth,
            "cpu_s": cpu_s,
            "own_cpu_s": time.process_time() - self.own_cpu_at_begin,  # without the journal's
        }
        if writer_drain_ms is not None:
            result["writer_drain_ms"] = round(writer_drain_ms, 1)
        return result

    # ------------------------------------------------------------------ tick to quote

    def ttq_begin(self, n: int) -> dict[str, Any]:
        self.sent.clear()
        self.x_handled.clear()
        self.capture = True
        if self.tap is not None:
            self.tap.out_ns.clear()
            self.tap.capture_out = True
        handle = self.mm.handle
        x_handled = self.x_handled

        def recording_handle(event: object) -> None:
            if type(event) is MarketDataIncrement:
                x_handled[event.received_ns] = time.perf_counter_ns()
            handle(event)

        requote_dirty = self.mm.requote_dirty

        def timed_requote_dirty() -> None:
            self.requote_ns = time.perf_counter_ns()
            requote_dirty()

        self.mm.handle = recording_handle  # type: ignore[method-assign]
        self.mm.requote_dirty = timed_requote_dirty  # type: ignore[method-assign]
        return self.md_begin(n, tick_to_quote=True)

    def ttq_wait(self, timeout_s: float) -> dict[str, Any]:
        progress = self.md_wait(timeout_s)
        grace = time.monotonic() + 0.05  # the last requotes and their acks
        while time.monotonic() < grace:
            self.turn()
        del self.mm.handle  # back to the class's methods
        del self.mm.requote_dirty
        self.capture = False
        out_ns = {}
        if self.tap is not None:
            self.tap.capture_out = False
            out_ns = dict(self.tap.out_ns)
        samples = []
        for cl_ord_id, trigger_ns, sent_ns, requote_ns in self.sent:
            handled_ns = self.x_handled.get(trigger_ns)
            if handled_ns is not None:
                tap_ns = out_ns.get(cl_ord_id, 0)
                samples.append(
                    (
                        trigger_ns,
                        sent_ns - trigger_ns,
                        tap_ns - trigger_ns if tap_ns else 0,
                        handled_ns - trigger_ns,
                        requote_ns - trigger_ns,
                    )
                )
        return {
            **progress,
            "x_processed": len(self.x_handled),
            "orders_sent": len(self.sent),
            # per order, from the X's received_ns, in ns: (trigger itself, to sendToTarget
            # return, to onOutgoing, to handling the X, to the requote pass starting)
            "samples": samples,
        }

    # ------------------------------------------------------------------ order round trip

    def rtt(self, n: int, warmup: int, timeout_s: float) -> dict[str, Any]:
        """D through the order manager and risk checks, until the New report is applied."""
        orders, risk, positions = self.mm.orders, self.mm.risk, self.mm.positions
        deadline = time.monotonic() + timeout_s
        handle = self.mm.handle

        def recording_handle(event: object) -> None:
            if type(event) is ExecutionReport and event.cl_ord_id == self.watch:
                if event.exec_type is ExecType.PENDING_NEW:  # TrueX's first answer
                    self.watch_first_er_ns = event.received_ns
                    handle(event)
                    self.watch_first_applied_ns = time.perf_counter_ns()
                    return
                if event.exec_type is ExecType.NEW:
                    self.watch_er_ns = event.received_ns
            handle(event)

        self.mm.handle = recording_handle  # type: ignore[method-assign]
        total, decide, outbound, wire, inbound = [], [], [], [], []
        first_total, first_wire, first_inbound = [], [], []
        try:
            for number in range(warmup + n):
                self.watch_ack_ns = self.watch_er_ns = 0
                self.watch_first_er_ns = self.watch_first_applied_ns = 0
                with self.runner.trading_lock:  # as the market maker decides and sends
                    start = time.perf_counter_ns()
                    draft = orders.draft_new_order(
                        RTT_SYMBOL, Side.BUY, RTT_QTY, RTT_PRICE, post_only=True
                    )
                    self.watch = draft.cl_ord_id
                    exposure = exposure_for(RTT_SYMBOL, orders, positions)
                    decision = risk.check_new(draft, RTT_PRICE, 0.0, False, exposure)
                    if not decision.allowed:
                        raise BenchError(f"risk denied the round-trip order: {decision}")
                    orders.track(draft)
                    decided = time.perf_counter_ns()
                    if not self.send(draft):
                        raise BenchError("the engine refused to send the round-trip order")
                    sent = time.perf_counter_ns()
                remaining = deadline - time.monotonic()
                self._turn_until(lambda: self.watch_ack_ns != 0, remaining, "the New report")
                if number >= warmup:
                    if not self.watch_first_applied_ns:
                        raise BenchError("the venue sent no PendingNew before the New")
                    first_total.append(self.watch_first_applied_ns - start)
                    first_wire.append(self.watch_first_er_ns - sent)
                    first_inbound.append(self.watch_first_applied_ns - self.watch_first_er_ns)
                    total.append(self.watch_ack_ns - start)
                    decide.append(decided - start)
                    outbound.append(sent - decided)
                    wire.append(self.watch_er_ns - sent)
                    inbound.append(self.watch_ack_ns - self.watch_er_ns)
                with self.runner.trading_lock:
                    order = orders.get(draft.cl_ord_id)
                    self.send(orders.cancel(draft.cl_ord_id))
                remaining = deadline - time.monotonic()
                self._turn_until(
                    lambda order=order: order is not None and order.state.is_terminal,
                    remaining,
                    "the cancel",
                )
        finally:
            self.watch = None
            del self.mm.handle
        return {
            "rtt_ns": first_total,
            "first_wire_ns": first_wire,
            "first_inbound_ns": first_inbound,
            "rtt_to_new_ns": total,
            "decide_ns": decide,
            "send_ns": outbound,
            "wire_ns": wire,
            "inbound_ns": inbound,
        }

    # ------------------------------------------------------------------ the end

    def stop(self) -> dict[str, Any]:
        try:
            summary = self.runner.finish()
        finally:
            self.runner.client.stop(True)
            self.runner.close()
        book = self.mm.books.book(MD_SYMBOL)
        result: dict[str, Any] = {
            "resubscribes": self.mm.stats.resubscribes,
            "send_failures": self.mm.stats.send_failures,
            "venue_rejects": summary.venue_rejects,
            "risk_denials": summary.risk_denials,
            "orders_sent": summary.orders_sent,
            "replaces_sent": summary.replaces_sent,
            "book_inconsistency": book.inconsistency if book is not None else "no book",
        }
        if self.pipeline is not None and self.tap is not None:
            stats = self.pipeline.journal.stats
            result["tap_us"] = summarize_ns(self.tap.durations_ns)
            result["writer"] = {
                "journal_written": stats.written,
                "journal_spilled": stats.spilled,
                "journal_failures": stats.failures,
                "store_written": self.pipeline.writer.stats.written,
                "queue_depth_after_drain": self._store_depth(),
                "queue_depth_max_while_trading": max(self.writer_depths, default=0),
                "queue_depth_samples": len(self.writer_depths),
            }
        return result


def _fix_settings(config: dict[str, Any]) -> FixSettings:
    return FixSettings(
        host=HOST,
        order_entry_port=config["order_entry_port"],
        market_data_port=config["market_data_port"],
        sender_comp_id=config["sender_comp_id"],
        client_id=config["client_id"],
        credentials=Credentials(config["api_key"], config["secret_key"]),
        state_dir=Path(config["state_dir"]),
    )


def client_main(conn: Any, config: dict[str, Any]) -> None:
    """Child process: the receiver, bare or truex-qf."""
    counting = _child_setup(config)
    client: BareClient | TruexClient
    try:
        if config["kind"] == "bare":
            client = BareClient(config)
            client.start(30.0)
            idle = None
        else:
            client = TruexClient(config)
            client.start()
            idle = client.turn
    except Exception:
        conn.send(("error", traceback.format_exc()))
        _hard_exit(1)
    conn.send(("ok", {"pid": os.getpid()}))
    handlers = client.commands()
    stop = handlers["stop"]

    def stop_and_report() -> dict[str, Any]:
        result = stop()
        return {**result, "log": dict(counting.counts), "log_first": counting.first}

    handlers["stop"] = stop_and_report
    serve(conn, handlers, idle)
    _hard_exit()


# ============================================================================ orchestration


class Peer:
    """A child process and the pipe its commands go through; every wait is bounded."""

    def __init__(self, name: str, target: Callable[..., None], config: dict[str, Any]) -> None:
        context = multiprocessing.get_context("spawn")
        self.name = name
        self.conn, child_conn = context.Pipe()
        # Not a daemon: the truex-qf client starts the journal's writer process, and daemonic
        # processes may not have children. close() ends it, killing it if need be.
        self.process = context.Process(
            target=target, args=(child_conn, config), name=name, daemon=False
        )
        self.process.start()
        child_conn.close()
        self.pid: int | None = None

    def receive(self, timeout_s: float, what: str) -> Any:
        deadline = time.monotonic() + timeout_s
        while not self.conn.poll(0.2):
            if not self.process.is_alive():
                raise BenchError(f"{self.name} exited ({self.process.exitcode}) during {what}")
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name}: no answer to {what} within {timeout_s:.0f} s")
        status, payload = self.conn.recv()
        if status != "ok":
            raise BenchError(f"{self.name} failed during {what}:\n{payload}")
        return payload

    def ready(self, timeout_s: float) -> None:
        self.pid = self.receive(timeout_s, "start")["pid"]

    def call(self, command: str, wait_s: float, **args: Any) -> Any:
        """Send ``command`` with ``args``; its answer within ``wait_s`` or a BenchError."""
        self.conn.send((command, args))
        return self.receive(wait_s, command)

    def close(self) -> None:
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


class Profiler:
    """``py-spy record`` on one child for the length of its measurements (``--py-spy``)."""

    def __init__(self, directory: Path | None, name: str, pid: int | None) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        if directory is None or pid is None:
            return
        py_spy = Path(sys.executable).with_name("py-spy")
        if not py_spy.exists():
            print(f"  --py-spy: no {py_spy}; not profiling", file=sys.stderr)
            return
        directory.mkdir(parents=True, exist_ok=True)
        self.output = directory / f"{name}.txt"
        self.process = subprocess.Popen(
            [
                *(str(py_spy), "record", "--pid", str(pid), "--rate", "250", "--nonblocking"),
                *("--format", "raw", "--output", str(self.output)),
                *os.environ.get("BENCH_PY_SPY_ARGS", "").split(),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # let it attach

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        print(f"  py-spy profile: {self.output}", file=sys.stderr)


def paced_trial(
    venue: Peer, client: Peer, n: int, rate: float | None, trial_s: float, drain: bool = False
) -> dict[str, Any]:
    """One market-data measurement: N messages at ``rate`` (None: as fast as possible)."""
    client.call("md_begin", 10, n=n)
    sent = venue.call("stream", 60 + n / 500 + trial_s * 3, n=n, rate=rate)
    wait_s = 10 + n / 1000 + trial_s * 2  # at least 1000 msg/s, or the run is broken anyway
    received = client.call("md_wait", wait_s + 30, timeout_s=wait_s, drain=drain)
    result: dict[str, Any] = {
        "n": n,
        "target_rate": round(rate, 1) if rate else None,
        "send_rate": round(sent["send_rate"], 1),
        "per_burst": sent["per_burst"],
        "build_us_per_msg": sent["build_us_per_msg"],
        "processed": received["processed"],
        "max_queue_depth": received["max_queue_depth"],
        "orders_sent": received.get("orders_sent", 0),
        "cpu_us_per_msg": round(received["cpu_s"] / max(n, 1) * 1e6, 1),
        "client_cpu_us_per_msg": (
            round(received["own_cpu_s"] / max(n, 1) * 1e6, 1) if "own_cpu_s" in received else None
        ),
    }
    drain_ms = received.get("writer_drain_ms")
    if drain_ms is not None:
        result["writer_drain_ms"] = drain_ms
    complete = received["done_ns"] > 0 and received["processed"] >= n
    if complete:
        lag_s = (received["done_ns"] - sent["last_ns"]) / 1e9
        result["lag_ms"] = round(lag_s * 1000, 2)
        elapsed_s = (received["done_ns"] - sent["first_ns"]) / 1e9
        result["receive_rate"] = round(n / elapsed_s, 1)
    else:
        result["lag_ms"] = None
        result["receive_rate"] = None
    if rate is not None:
        result["sender_bound"] = sent["send_rate"] < SENDER_BOUND * rate
        result["passed"] = (
            complete
            and result["lag_ms"] <= LAG_LIMIT_S * 1000
            and (drain_ms is None or drain_ms <= WRITER_DRAIN_LIMIT_S * 1000)
        )
    return result


def measure_market_data(
    venue: Peer, client: Peer, mode: Mode, reference_rate: float | str | None
) -> dict[str, Any]:
    """Saturation rate, a search for the highest rate sustained without backlog, and the CPU
    per message at ``reference_rate`` (the same offered load for every receiver).

    A trial passes when the receiver is less than LAG_LIMIT_S behind at the end; its sustained
    figure is the rate the sender actually achieved. A trial whose sender fell short of the
    target (TCP flow control from a receiver that does not read, or a starved sender) bounds
    the search from above at the target, and from below at what was achieved if it passed.
    """
    saturation = paced_trial(venue, client, mode.saturation_n, None, mode.trial_s)
    if saturation["receive_rate"] is None:
        raise BenchError(f"the saturation run did not complete: {saturation}")
    low, high = 0.0, None
    rate = saturation["receive_rate"] * (0.5 if mode.name == "smoke" else 0.9)
    trials = []
    best: dict[str, Any] | None = None
    for _ in range(mode.trials):
        n = min(MAX_TRIAL_MESSAGES, max(100, int(rate * mode.trial_s)))
        trial = paced_trial(venue, client, n, rate, mode.trial_s)
        trials.append(trial)
        if trial["passed"]:
            if best is None or trial["send_rate"] > best["send_rate"]:
                best = trial
            low = max(low, min(rate, trial["send_rate"]))
        if not trial["passed"] or trial["sender_bound"]:
            high = rate if high is None else min(high, rate)
        if high is None:
            rate *= 1.25  # everything passed so far: look higher
        elif low > 0:
            rate = (low + high) / 2
        else:
            rate *= 0.6  # nothing passed yet: look lower
    result: dict[str, Any] = {
        "saturation": saturation,
        "trials": trials,
        "sustained_msgs_per_s": best["send_rate"] if best else 0.0,
        "sustained_sender_bound": bool(best and best["sender_bound"]),
    }
    if reference_rate == AUTO:
        reference_rate = max(100.0, round(0.5 * result["sustained_msgs_per_s"]))
    if isinstance(reference_rate, float | int):
        n = min(MAX_TRIAL_MESSAGES, max(100, int(reference_rate * mode.trial_s)))
        result["reference"] = paced_trial(
            venue, client, n, reference_rate, mode.trial_s, drain=True
        )
        result["reference_rate"] = reference_rate
    return result


_T0 = time.monotonic()


def _progress(label: str, what: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f} s] {label}: {what}", file=sys.stderr, flush=True)


def run_pair(
    label: str,
    kind: str,
    mode: Mode,
    seed: int,
    journal: bool,
    py_spy: Path | None = None,
    switch_interval_s: float | None = None,
    reference_rate: float | str | None = None,
    floor_steps: int = 0,
    market_data_only: bool = False,
) -> dict[str, Any]:
    """Start a sender and a receiver, run every measurement of ``kind`` (or market data
    alone), stop both."""
    _progress(label, "starting")
    with tempfile.TemporaryDirectory(prefix="truex-bench-") as temp:
        common = {
            "kind": kind,
            "seed": seed,
            "order_entry_port": free_port(),
            "market_data_port": free_port(),
            "sender_comp_id": (
                f"BENCH{os.getpid() % 10000}{kind[0].upper()}{int(journal)}"
                f"{f'F{floor_steps}' if floor_steps else ''}"
            ),
            "client_id": "10000000000000001",
            "api_key": str(uuid.uuid4()),
            "secret_key": uuid.uuid4().hex,
            "switch_interval_s": switch_interval_s,
            "floor_steps": floor_steps,
        }
        venue = Peer(f"{label}-venue", venue_main, common)
        client: Peer | None = None
        profiler: Profiler | None = None
        try:
            venue.ready(60)
            client = Peer(
                f"{label}-client",
                client_main,
                {**common, "journal": journal, "state_dir": str(Path(temp) / "state")},
            )
            client.ready(90)
            _progress(label, "logged on")
            profiler = Profiler(py_spy, label, client.pid)
            venue.call("snapshot", 30)
            client.call("settle", 30, timeout_s=20.0)
            started = time.monotonic()
            _progress(label, "market data")
            result: dict[str, Any] = {
                "md": measure_market_data(venue, client, mode, reference_rate)
            }
            if kind == "truex":
                _progress(label, "tick to quote")
                client.call("ttq_begin", 10, n=mode.ttq_n)
                venue.call("stream", 120, n=mode.ttq_n, rate=mode.ttq_rate, move_mid=True)
                result["ttq"] = client.call("ttq_wait", 60, timeout_s=30.0)
            if not market_data_only:
                _progress(label, "order round trip")
                timeout_s = 30.0 + mode.rtt_n * 0.01
                result["rtt"] = client.call(
                    "rtt", timeout_s + 10, n=mode.rtt_n, warmup=mode.warmup, timeout_s=timeout_s
                )
            result["measure_s"] = round(time.monotonic() - started, 1)
            if profiler is not None:
                profiler.stop()
                profiler = None
            result["venue"] = venue.call("stats", 30)
            result["client_final"] = client.call("stop", 60)
            result["venue_final"] = venue.call("stop", 30)
            return result
        finally:
            if profiler is not None:
                profiler.stop()
            for peer in (client, venue):
                if peer is not None:
                    peer.close()


# ============================================================================ report


def machine_facts() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "quickfix": importlib.metadata.version("quickfix"),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        # how deeply an idle CPU sleeps decides what a quiet market's first message costs
        "cpuidle_driver": idle_driver(),
        "cpu_wake_latency_limit_us": current_limit_us(),
    }


def _ratio(numerator: float | None, denominator: float | None) -> float:
    if not numerator or not denominator:
        return 0.0
    return round(numerator / denominator, 3)


def _ttq(samples: list[list[int]], warmup: int, column: int) -> dict[str, float]:
    """Every order's latency in ``column``, the first ``warmup`` ticks left out."""
    kept = set(sorted({s[0] for s in samples if s[column] > 0})[warmup:])
    return summarize_ns([s[column] for s in samples if s[0] in kept and s[column] > 0])


def _ttq_slowest(samples: list[list[int]], warmup: int, n: int = 20) -> list[dict[str, float]]:
    """The slowest orders (to onOutgoing), where in the run and where their time went: for
    the p99, whose causes (a collection, a periodic task, a wake-up) show as patterns."""
    kept = set(sorted({s[0] for s in samples if s[2] > 0})[warmup:])
    if not kept:
        return []
    start = min(kept)
    slowest = sorted((s for s in samples if s[0] in kept and s[2] > 0), key=lambda s: -s[2])
    return [
        {
            "at_ms": round((s[0] - start) / 1e6, 1),
            "onoutgoing_us": round(s[2] / 1e3),
            "x_handling_starts_us": round(s[3] / 1e3),
            "requote_pass_starts_us": round(s[4] / 1e3),
        }
        for s in slowest[:n]
    ]


def _tenth(samples: list[int], first: bool) -> list[int]:
    size = max(1, len(samples) // 10)
    return samples[:size] if first else samples[-size:]


def _ttq_first(samples: list[list[int]], warmup: int, column: int) -> dict[str, float]:
    """The first order of each tick only."""
    first: dict[int, int] = {}
    for sample in samples:
        if sample[column] > 0:
            first[sample[0]] = min(first.get(sample[0], sample[column]), sample[column])
    triggers = sorted(first)[warmup:]
    return summarize_ns([first[t] for t in triggers])


def build_report(
    mode: Mode, seed: int, facts: dict, runs: dict[str, dict], elapsed_s: float
) -> dict:
    baseline, core, journal = runs["baseline"], runs["truex"], runs["truex_journal"]
    rate_base = baseline["md"]["sustained_msgs_per_s"]
    rate_core = core["md"]["sustained_msgs_per_s"]
    rate_journal = journal["md"]["sustained_msgs_per_s"]
    rtt_base = summarize_ns(baseline["rtt"]["rtt_ns"])
    rtt_core = summarize_ns(core["rtt"]["rtt_ns"])
    rtt_journal = summarize_ns(journal["rtt"]["rtt_ns"])
    ttq_samples = journal["ttq"]["samples"]
    ttq_tap = _ttq(ttq_samples, mode.warmup, 2)
    report: dict[str, Any] = {
        "mode": mode.name,
        "seed": seed,
        "machine": {**facts, "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "elapsed_s": round(elapsed_s, 1),
        "md_throughput_ratio": _ratio(rate_core, rate_base),
        "md_throughput_msgs_per_s": {
            "baseline": rate_base,
            "truex_qf": rate_core,
            "truex_qf_journal": rate_journal,
            "saturation_baseline": baseline["md"]["saturation"]["receive_rate"],
            "saturation_truex_qf": core["md"]["saturation"]["receive_rate"],
            "saturation_truex_qf_journal": journal["md"]["saturation"]["receive_rate"],
            "baseline_sender_bound": baseline["md"]["sustained_sender_bound"],
            "ratio_with_journal": _ratio(rate_journal, rate_base),
        },
        "md_cpu_us_per_msg": {
            "reference_rate_msgs_per_s": core["md"]["reference_rate"],
            "baseline": baseline["md"]["reference"]["cpu_us_per_msg"],
            "truex_qf": core["md"]["reference"]["cpu_us_per_msg"],
            "truex_qf_journal": journal["md"]["reference"]["cpu_us_per_msg"],
            "ratio_baseline_to_truex_qf": _ratio(
                baseline["md"]["reference"]["cpu_us_per_msg"],
                core["md"]["reference"]["cpu_us_per_msg"],
            ),
        },
        "order_rtt_ratio": _ratio(rtt_core.get("p50"), rtt_base.get("p50")),
        "order_rtt_us": {
            "baseline": rtt_base,
            "truex_qf": rtt_core,
            "truex_qf_journal": rtt_journal,
            "p99_ratio": _ratio(rtt_core.get("p99"), rtt_base.get("p99")),
            "baseline_build_and_send_to_target": summarize_ns(baseline["rtt"]["send_ns"]),
            "truex_qf_to_new_report": summarize_ns(core["rtt"]["rtt_to_new_ns"]),
            "truex_qf_breakdown": {
                "decide_draft_risk_track": summarize_ns(core["rtt"]["decide_ns"]),
                "send_build_and_send_to_target": summarize_ns(core["rtt"]["send_ns"]),
                "wire_and_venue_to_pending_new_callback": summarize_ns(
                    core["rtt"]["first_wire_ns"]
                ),
                "inbound_pending_new_callback_to_applied": summarize_ns(
                    core["rtt"]["first_inbound_ns"]
                ),
                "wire_and_venue_to_new_callback": summarize_ns(core["rtt"]["wire_ns"]),
                "inbound_new_callback_to_applied": summarize_ns(core["rtt"]["inbound_ns"]),
                "venue_fromapp": core["venue"].get("venue_fromapp_us", {}),
                # the order manager keeps every order it ever saw: the risk check scans them
                "decide_first_tenth": summarize_ns(_tenth(core["rtt"]["decide_ns"], first=True)),
                "decide_last_tenth": summarize_ns(_tenth(core["rtt"]["decide_ns"], first=False)),
            },
        },
        "tick_to_quote_us": {
            **ttq_tap,
            "measured": "X fromApp received_ns -> 35=D/G at the engine log onOutgoing "
            "(journal on); every order",
        },
        "tick_to_quote_detail_us": {
            "first_order_per_tick_onoutgoing": _ttq_first(ttq_samples, mode.warmup, 2),
            "to_send_to_target_return_journal": _ttq(ttq_samples, mode.warmup, 1),
            "to_send_to_target_return_no_journal": _ttq(core["ttq"]["samples"], mode.warmup, 1),
            "first_order_x_handling_starts": _ttq_first(ttq_samples, mode.warmup, 3),
            "first_order_requote_pass_starts": _ttq_first(ttq_samples, mode.warmup, 4),
            "first_order_x_handling_starts_no_journal": _ttq_first(
                core["ttq"]["samples"], mode.warmup, 3
            ),
            "first_order_requote_pass_starts_no_journal": _ttq_first(
                core["ttq"]["samples"], mode.warmup, 4
            ),
            "first_order_send_return_no_journal": _ttq_first(
                core["ttq"]["samples"], mode.warmup, 1
            ),
            "x_processed": journal["ttq"]["x_processed"],
            "orders_sent": journal["ttq"]["orders_sent"],
            "slowest": _ttq_slowest(ttq_samples, mode.warmup),
        },
        "journal_cost_ratio": round(1 - rate_journal / rate_core, 3) if rate_core else 0.0,
        "journal": {
            "on_msgs_per_s": rate_journal,
            "off_msgs_per_s": rate_core,
            "saturation_cost_ratio": round(
                1
                - journal["md"]["saturation"]["receive_rate"]
                / core["md"]["saturation"]["receive_rate"],
                3,
            ),
            "cpu_cost_ratio": round(
                1
                - core["md"]["reference"]["cpu_us_per_msg"]
                / journal["md"]["reference"]["cpu_us_per_msg"],
                3,
            ),
            # where the CPU went: the client process without the Pipeline ("off") and with it
            # (its hooks run there, the journal's tap among them), and the journal's process
            "client_cpu_us_per_msg_off": core["md"]["reference"].get("client_cpu_us_per_msg"),
            "client_cpu_us_per_msg_on": journal["md"]["reference"].get("client_cpu_us_per_msg"),
            "writer_process_cpu_us_per_msg": round(
                journal["md"]["reference"]["cpu_us_per_msg"]
                - (journal["md"]["reference"].get("client_cpu_us_per_msg") or 0.0),
                1,
            ),
            "tap_us": journal["client_final"].get("tap_us", {}),
            "writer": journal["client_final"].get("writer", {}),
        },
        "runs": _without_samples(runs),
    }
    kept = runs.get("baseline_kept")
    if kept is not None:  # bare QuickFIX whose engine thread keeps its thread state
        rate_kept = kept["md"]["sustained_msgs_per_s"]
        report["md_throughput_msgs_per_s"].update(
            baseline_thread_state_kept=rate_kept,
            baseline_thread_state_kept_sender_bound=kept["md"]["sustained_sender_bound"],
            ratio_to_baseline_thread_state_kept=_ratio(rate_core, rate_kept),
        )
        report["md_cpu_us_per_msg"]["baseline_thread_state_kept"] = kept["md"]["reference"][
            "cpu_us_per_msg"
        ]
    floor = [
        _floor_rung(steps, runs[_floor_key(steps)], rate_base)
        for steps in range(1, len(FLOOR_STEPS) + 1)
        if _floor_key(steps) in runs
    ]
    if floor:
        report["md_floor"] = floor
    report["targets"] = _targets(report)
    return report


def _floor_key(steps: int) -> str:
    # the first rung keeps the key (and the JSON figures) it had as the fourth pair
    return "baseline_kept" if steps == 1 else f"floor_{steps}"


def _floor_rung(steps: int, run: dict, rate_base: float) -> dict[str, Any]:
    """One floor receiver's figures, with its ratio to the baseline's sustained rate."""
    md = run["md"]
    return {
        "steps": [name for name, _ in FLOOR_STEPS[:steps]],
        "label": FLOOR_STEPS[steps - 1][1],
        "sustained_msgs_per_s": md["sustained_msgs_per_s"],
        "sustained_sender_bound": md["sustained_sender_bound"],
        "saturation_msgs_per_s": md["saturation"]["receive_rate"],
        "cpu_us_per_msg": md["reference"]["cpu_us_per_msg"],
        "ratio_to_baseline": _ratio(md["sustained_msgs_per_s"], rate_base),
        "callback_failures": run["client_final"].get("callback_failures", 0),
        "book_inconsistency": run["client_final"].get("book_inconsistency"),
    }


RAW_SAMPLE_KEYS = (
    "samples",
    "rtt_ns",
    "rtt_to_new_ns",
    "first_wire_ns",
    "first_inbound_ns",
    "decide_ns",
    "send_ns",
    "wire_ns",
    "inbound_ns",
)


def _without_samples(runs: dict[str, dict]) -> dict[str, dict]:
    """The runs as measured, with per-sample lists replaced by their summaries."""
    slim: dict[str, dict] = {}
    for name, run in runs.items():
        slim[name] = dict(run)
        for part in ("rtt", "ttq"):
            if part in run:
                slim[name][part] = {
                    key: (summarize_ns(value) if key != "samples" else len(value))
                    if key in RAW_SAMPLE_KEYS
                    else value
                    for key, value in run[part].items()
                }
    return slim


def _targets(report: dict) -> list[dict[str, Any]]:
    values = {
        "md_throughput_ratio": report["md_throughput_ratio"],
        "tick_to_quote_p50_us": report["tick_to_quote_us"].get("p50"),
        "tick_to_quote_p99_us": report["tick_to_quote_us"].get("p99"),
        "order_rtt_ratio": report["order_rtt_ratio"],
        "journal_cost_ratio": report["journal_cost_ratio"],
    }
    checks = {
        ">=": lambda v, t: v >= t,
        "<": lambda v, t: v < t,
        "<=": lambda v, t: v <= t,
    }
    rows = []
    for name, (op, target) in TARGETS.items():
        value = values[name]
        measured = value is not None and (value > 0 or name == "journal_cost_ratio")
        passed = measured and checks[op](value, target)
        rows.append(
            {"name": name, "value": value, "target": f"{op} {target:g}", "pass": bool(passed)}
        )
    return rows


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float | int):
        return f"{value:,.{digits}f}"
    return str(value)


def _wake_limit_text(facts: dict[str, Any]) -> str:
    """The PM QoS wake-up limit the run was measured under (the kernel's default: none)."""
    limit = facts.get("cpu_wake_latency_limit_us")
    if limit is None:
        return "CPU wake-up limit unknown"
    if limit >= 2_000_000_000:
        return "no CPU wake-up limit"
    return f"CPU wake-up limit {limit} us"


def render_table(report: dict) -> str:
    facts = report["machine"]
    md = report["md_throughput_msgs_per_s"]
    rtt = report["order_rtt_us"]
    ttq = report["tick_to_quote_us"]
    detail = report["tick_to_quote_detail_us"]
    journal = report["journal"]
    status = {row["name"]: ("PASS" if row["pass"] else "MISS") for row in report["targets"]}
    lines = [
        f"truex-qf benchmark ({report['mode']}, seed {report['seed']}, "
        f"{report['elapsed_s']:.0f} s)",
        f"{facts['cpu']}, {facts['cores']} cores, Python {facts['python']}, "
        f"QuickFIX {facts['quickfix']}, {facts['platform']}, "
        f"load {facts['load_average_at_start']} -> {facts['load_average_at_end']}, "
        f"cpuidle {facts['cpuidle_driver']}, {_wake_limit_text(facts)}",
        "",
        f"{'measure':<40}{'baseline':>12}{'truex-qf':>12}{'ratio':>8}  {'target':<9}status",
        "-" * 89,
    ]

    def row(name: str, base: Any, ours: Any, ratio: Any, target: str, state: str) -> None:
        lines.append(f"{name:<40}{base:>12}{ours:>12}{ratio:>8}  {target:<9}{state}")

    row(
        "md sustained, msg/s (no backlog)",
        _fmt(md["baseline"]),
        _fmt(md["truex_qf"]),
        _fmt(report["md_throughput_ratio"], 2),
        ">= 0.8",
        status["md_throughput_ratio"],
    )
    row(
        "  md saturation, msg/s",
        _fmt(md["saturation_baseline"]),
        _fmt(md["saturation_truex_qf"]),
        _fmt(_ratio(md["saturation_truex_qf"], md["saturation_baseline"]), 2),
        "",
        "info",
    )
    cpu = report["md_cpu_us_per_msg"]
    row(
        f"  md CPU us/msg at {_fmt(cpu['reference_rate_msgs_per_s'])} msg/s",
        _fmt(cpu["baseline"], 1),
        _fmt(cpu["truex_qf"], 1),
        _fmt(cpu["ratio_baseline_to_truex_qf"], 2),
        "",
        "info",
    )
    if "baseline_thread_state_kept" in md:
        row(
            "  md sustained vs bare, thread state kept",
            _fmt(md["baseline_thread_state_kept"]),
            _fmt(md["truex_qf"]),
            _fmt(md["ratio_to_baseline_thread_state_kept"], 2),
            "",
            "info",
        )
    row(
        "tick to quote p50, us",
        "",
        _fmt(ttq.get("p50"), 1),
        "",
        "< 150",
        status["tick_to_quote_p50_us"],
    )
    row(
        "tick to quote p99, us",
        "",
        _fmt(ttq.get("p99"), 1),
        "",
        "< 1000",
        status["tick_to_quote_p99_us"],
    )
    row("tick to quote p99.9, us", "", _fmt(ttq.get("p999"), 1), "", "", "info")
    first = detail["first_order_per_tick_onoutgoing"]
    row("  first order per tick p50/p99, us", "", _pair(first), "", "", "info")
    row(
        "  to sendToTarget return, no journal",
        "",
        _pair(detail["to_send_to_target_return_no_journal"]),
        "",
        "",
        "info",
    )
    row(
        "order RTT p50, us (D to first 35=8)",
        _fmt(rtt["baseline"].get("p50"), 1),
        _fmt(rtt["truex_qf"].get("p50"), 1),
        _fmt(report["order_rtt_ratio"], 2),
        "<= 1.3",
        status["order_rtt_ratio"],
    )
    row(
        "order RTT p99, us",
        _fmt(rtt["baseline"].get("p99"), 1),
        _fmt(rtt["truex_qf"].get("p99"), 1),
        _fmt(rtt["p99_ratio"], 2),
        "",
        "info",
    )
    to_new = rtt["truex_qf_to_new_report"]
    row("  D to the New report p50/p99, us", "", _pair(to_new), "", "", "info")
    row(
        "journal cost, 1 - on/off",
        "",
        f"{_fmt(journal['on_msgs_per_s'])}/{_fmt(journal['off_msgs_per_s'])}",
        _fmt(report["journal_cost_ratio"], 3),
        "< 0.10",
        status["journal_cost_ratio"],
    )
    row(
        "  journal CPU cost at the same load",
        "",
        "",
        _fmt(journal["cpu_cost_ratio"], 3),
        "",
        "info",
    )
    row(
        "  CPU us/msg: client bare/+Pipeline, journal proc",
        "",
        f"{_fmt(journal.get('client_cpu_us_per_msg_off'), 1)}/"
        f"{_fmt(journal.get('client_cpu_us_per_msg_on'), 1)}, "
        f"{_fmt(journal.get('writer_process_cpu_us_per_msg'), 1)}",
        "",
        "",
        "info",
    )
    tap = journal["tap_us"]
    writer = journal["writer"]
    row(
        "  tap p50/p99/max, us (engine thread)",
        "",
        f"{_fmt(tap.get('p50'), 1)}/{_fmt(tap.get('p99'), 1)}/{_fmt(tap.get('max'), 0)}",
        "",
        "",
        "info",
    )
    row(
        "  writer queue depth max / after drain",
        "",
        f"{writer.get('queue_depth_max_while_trading', '-')}/"
        f"{writer.get('queue_depth_after_drain', '-')}",
        "",
        "",
        "info",
    )
    floor = report.get("md_floor")
    if floor:
        lines += [
            "",
            "floor: bare QuickFIX doing truex-qf's per-message work up to the decision, md only",
            f"{'receiver':<40}{'msg/s':>12}{'CPU us/msg':>12}{'ratio':>8}",
            "-" * 72,
        ]
        for rung in floor:
            lines.append(
                f"{'  ' + rung['label']:<40}{_fmt(rung['sustained_msgs_per_s']):>12}"
                f"{_fmt(rung['cpu_us_per_msg'], 1):>12}{_fmt(rung['ratio_to_baseline'], 2):>8}"
                + ("  sender-bound" if rung["sustained_sender_bound"] else "")
            )
        lines.append(
            f"{'  truex-qf (+ Runner, decision, orders)':<40}{_fmt(md['truex_qf']):>12}"
            f"{_fmt(cpu['truex_qf'], 1):>12}{_fmt(report['md_throughput_ratio'], 2):>8}"
        )
    if md.get("baseline_sender_bound"):
        lines.append("note: the baseline's sustained rate is bounded by the sender")
    return "\n".join(lines)


def _pair(summary: dict) -> str:
    return f"{_fmt(summary.get('p50'), 0)}/{_fmt(summary.get('p99'), 0)}"


# ============================================================================ main


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
    started = time.monotonic()
    options = {"py_spy": args.py_spy, "switch_interval_s": args.switch_interval}
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
    report = build_report(mode, args.seed, facts, runs, time.monotonic() - started)
    print(render_table(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0


def run() -> None:
    """The command line: a bench error is one line on stderr and exit 2, never a traceback."""
    try:
        sys.exit(main())
    except BenchError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    run()
