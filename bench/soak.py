"""``python -m bench.soak``: does anything of ours grow with the length of a run? (issue 19)

A long run, accelerated, in one process and without sockets: a
:class:`~truex_qf.trading.market_maker.MarketMaker` with the bench's strategy (one level a
side, requote tolerance 0, 35=G replaces) reads ``make bench``'s market-data stream as 35=X
text (the product's reader), decides after every message, and its orders go to the
simulator's :class:`~truex_qf.sim.matching.MatchingEngine`, whose domain ExecutionReports
go back to it. A taker (another owner) lifts or hits our quote every ``--taker-every``
messages, sides alternating, so lineages end in fills and new orders replace them. The
clock the market maker reads is simulated (``--step-ms`` per message, at least ten of the
longest window in all: :data:`MIN_SIMULATED_S`), so its time windows (finished orders kept a
minute, message-rate windows, timeouts, the fill keys kept for the venue's trade listings)
turn over as in a day's trading; its periodic tick runs once a simulated second, as the
runner's loop. The market maker has a REST venue (:class:`ListingVenue`): it reconciles at
logon and lists the venue's trades every few minutes, which the soak answers from our fills.

At settle, then at every tenth of the run, after a full collection: the process's RSS and
the size of every per-order and per-lineage structure of ours (the order manager's dicts and
ExecID memory, each lineage's ClOrdIDs and history, the market maker's level map and fill
keys, positions, the risk engine's rate windows and denials, the books and their levels).
``start`` is the sample after the first tenth (the one-minute windows have filled by then),
``end`` the last one; RSS growth is end over start, target <= 10 % (reported, never
asserted). The matching engine is the venue, not ours: it keeps every order and trade (it is
the simulator), so the soak drops its finished orders and its trade list as it goes
(:func:`trim_engine`) and the RSS is the product's; its sizes are reported apart.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.common import DEFAULT_SEED, MD_SYMBOL
from bench.instant_venue import MD_REQ_ID, settle_quotes
from bench.receivers import bench_strategy
from bench.report import print_json
from bench.stream import BookStream, increment_text
from truex_qf.domain.clordid import ClOrdIdGenerator
from truex_qf.domain.model import (
    CancelOrder,
    ExecType,
    ExecutionReport,
    NewOrder,
    OrderCancelReject,
    ReplaceOrder,
    Side,
    TimeInForce,
)
from truex_qf.domain.venue_orders import VenueTrade
from truex_qf.fix.readers import read_increment
from truex_qf.sim.matching import MatchingEngine, ToClient
from truex_qf.trading.market_maker import (
    CLOCK_SKEW_S,
    LISTING_SETTLE_S,
    TRADES_LISTING_EVERY_S,
    TRADES_MARGIN_S,
    MarketMaker,
)
from truex_qf.trading.orders import LINEAGE_IDS_KEPT
from truex_qf.trading.reconcile import ReconcileRequest, ReconcileResult

OURS = "10000000000000001"  # our TrueX client ID (PartyID 448) at the engine
TAKER = "20000000000000002"
SAMPLES = 10  # a sample every tenth of the run
TRIM_EVERY = 1000  # messages between two trims of the engine's memory
# How long a fill's keys may be kept: the listing window's margin, the clock skew allowed,
# the time a trade settles, and a listing period before the window moves past them.
FILL_KEYS_WINDOW_S = TRADES_MARGIN_S + CLOCK_SKEW_S + LISTING_SETTLE_S + TRADES_LISTING_EVERY_S
MIN_SIMULATED_S = 10 * FILL_KEYS_WINDOW_S  # a run covers at least ten of the longest windows
EPOCH_S = 1_800_000_000.0  # the simulated wall clock (epoch s) at the monotonic clock's 0

for _name in ("_orders_by_cl_ord_id", "_working", "_trades"):
    if not hasattr(MatchingEngine(["X-Y"]), _name):  # the soak trims these; fail loudly
        raise ImportError(f"MatchingEngine.{_name} is gone: update bench.soak.trim_engine")


class SimulatedClock:
    """The market maker's monotonic clock, moved on by the soak."""

    def __init__(self, start_s: float = 1_000.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s


class ListingVenue:
    """The market maker's REST venue (``VenueRequests``): it reconciles with nothing working
    at the venue, and lists our trades (those :class:`EngineVenue` saw, dated by the
    simulated wall clock) since the time asked. Requests wait in :attr:`requests` until
    :meth:`answer`, as the REST worker's answers wait on the runner's queue. The venue's
    trade list is trimmed to the oldest time still asked (the venue's memory, not ours)."""

    def __init__(self) -> None:
        self.requests: list[ReconcileRequest] = []
        self.trades: list[VenueTrade] = []
        self.listings = 0

    def reconcile(self, request: ReconcileRequest) -> None:
        self.requests.append(request)

    def deadman(self, known_cl_ord_ids: tuple[str, ...]) -> None:
        pass

    def cancel_orders(self, order_ids: tuple[str, ...]) -> None:
        pass

    def answer(self, mm: MarketMaker) -> None:
        while self.requests:
            request = self.requests.pop(0)
            since = request.trades_since_s
            if since is not None:
                self.trades = [t for t in self.trades if t.at_s is None or t.at_s >= since]
            self.listings += 1
            mm.handle(ReconcileResult(trades=tuple(self.trades), trades_only=request.trades_only))


class EngineVenue:
    """The market maker's ``send`` into the matching engine, in the same thread.

    The engine's reports to us wait in :attr:`reports` until :meth:`answer` hands them to
    the market maker, between its decisions, as the runner's engine thread would.
    """

    def __init__(
        self,
        engine: MatchingEngine,
        listing: ListingVenue | None = None,
        wall_clock: Callable[[], float] | None = None,
    ) -> None:
        self.engine = engine
        self.reports: list[ExecutionReport | OrderCancelReject] = []
        self.sent = {"new": 0, "replace": 0, "cancel": 0}
        self.fills = 0
        self._taker_ids = ClOrdIdGenerator("T")
        self._listing = listing
        self._wall_clock = wall_clock

    def send(self, command: object) -> bool:
        engine = self.engine
        if isinstance(command, NewOrder):
            self.sent["new"] += 1
            self._keep(engine.submit(OURS, command))
        elif isinstance(command, ReplaceOrder):
            self.sent["replace"] += 1
            self._keep(engine.replace(OURS, command))
        elif isinstance(command, CancelOrder):
            self.sent["cancel"] += 1
            self._keep(engine.cancel(OURS, command))
        return True  # subscriptions and security-list requests: nothing to answer

    def _keep(self, events: list[Any]) -> None:
        for event in events:
            if type(event) is ToClient and event.owner == OURS:
                self.reports.append(event.message)
                self._list(event.message)

    def _list(self, report: object) -> None:
        """A fill of ours joins the REST venue's trade history."""
        listing, wall_clock = self._listing, self._wall_clock
        if listing is None or wall_clock is None or not isinstance(report, ExecutionReport):
            return
        if report.exec_type is not ExecType.TRADE or not report.last_qty:
            return
        listing.trades.append(
            VenueTrade(
                exec_id=report.exec_id,
                trade_match_id=report.trade_match_id,
                order_id=report.order_id,
                external_id=report.cl_ord_id,
                symbol=report.symbol,
                side=report.side,
                quantity=report.last_qty,
                price=report.last_px or report.price or Decimal(0),
                fee=Decimal(0),
                liquidity=None,
                at_s=wall_clock(),
            )
        )

    def take(self, side: Side) -> None:
        """A taker's IOC for the whole of our best quote on the other side, if there is one."""
        depth = self.engine.depth(MD_SYMBOL, 1)
        levels = depth.offers if side is Side.BUY else depth.bids
        if not levels:
            return
        taker = NewOrder(
            self._taker_ids.next_id(),
            MD_SYMBOL,
            side,
            levels[0].size,
            levels[0].price,
            time_in_force=TimeInForce.IOC,
        )
        before = len(self.reports)
        self._keep(self.engine.submit(TAKER, taker))
        self.fills += len(self.reports) - before

    def answer(self, mm: MarketMaker) -> None:
        """Hand every report (and the REST venue's answers) to the market maker, deciding
        after each batch, until a decision sends nothing more."""
        while True:
            if self._listing is not None and self._listing.requests:
                self._listing.answer(mm)
                mm.requote_dirty()
            if not self.reports:
                return
            reports, self.reports = self.reports, []
            for report in reports:
                mm.handle(report)
            mm.requote_dirty()


def trim_engine(engine: MatchingEngine) -> None:
    """Forget the engine's finished orders and its trades: the simulator keeps them for its
    REST history, which the soak does not ask for. A late cancel of a forgotten order gets
    "unknown order" rather than "too late", a cancel reject either way."""
    working = engine._working
    engine._orders_by_cl_ord_id = {
        key: order
        for key, order in engine._orders_by_cl_ord_id.items()
        if order.order_id in working
    }
    engine._trades.clear()


def rss_kib() -> tuple[int, int]:
    """This process's resident set now and at its peak (VmRSS, VmHWM), KiB."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            values[line.split(":")[0]] = int(line.split()[1])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def structure_sizes(mm: MarketMaker) -> dict[str, int]:
    """Every per-order, per-lineage and per-symbol structure of ours, by size (the bench
    reads private attributes: a probe, not an interface)."""
    orders = mm.orders
    lineages = list(orders._orders.values())
    books = mm.books.books.values()
    governor = mm.risk._governor
    return {
        "order_manager.orders": len(orders._orders),
        "order_manager.by_cl_ord_id": len(orders._by_id),
        "order_manager.live": len(orders._live),
        "order_manager.seen_exec_ids": len(orders._seen_exec_ids),
        "order_manager.exec_id_order": len(orders._exec_id_order),
        "lineage.cl_ord_ids_max": max((len(o.cl_ord_ids) for o in lineages), default=0),
        "lineage.cl_ord_ids_total": sum(len(o.cl_ord_ids) for o in lineages),
        "lineage.history_max": max((len(o.history) for o in lineages), default=0),
        "lineage.history_total": sum(len(o.history) for o in lineages),
        "market_maker.levels": len(mm._levels),
        "market_maker.known_fills": len(mm._known_fills),
        "market_maker.store_fills": len(mm._store_fills),
        "market_maker.denial_logged": len(mm._denial_logged),
        "market_maker.warning_codes": len(mm.stats.warnings),
        "market_maker.symbols": len(mm.symbols),
        "positions": len(mm.positions._positions),
        "risk.rate_window_1s": len(governor._last_s),
        "risk.rate_window_60s": len(governor._last_min),
        "risk.denial_reasons": len(mm.risk._denials),
        "books": len(mm.books.books),
        "books.levels": sum(len(b._bids) + len(b._offers) for b in books),
        "books.subscriptions": len(mm.books._symbols_by_req),
    }


# Bounded by a cap, not by time: they fill up to it and stay (the cap is reported beside).
CAPPED = {"order_manager.seen_exec_ids", "order_manager.exec_id_order"}


def _sample(mm: MarketMaker, engine: MatchingEngine, messages: int, clock_s: float) -> dict:
    gc.collect()
    rss, peak = rss_kib()
    return {
        "md_messages": messages,
        "simulated_s": round(clock_s, 1),
        "rss_mib": round(rss / 1024, 1),
        "rss_peak_mib": round(peak / 1024, 1),
        "gc_objects": len(gc.get_objects()),
        "structures": structure_sizes(mm),
        "engine": {
            "orders_by_cl_ord_id": len(engine._orders_by_cl_ord_id),
            "working": len(engine._working),
            "trades": len(engine._trades),
        },
    }


def _quoting(
    clock: Callable[[], float], engine: MatchingEngine, seed: int
) -> tuple[MarketMaker, EngineVenue, BookStream]:
    """A market maker with the stream's book and its two quotes resting at the engine,
    reconciled with the REST venue (nothing there yet)."""
    listing = ListingVenue()

    def wall_clock() -> float:
        return EPOCH_S + clock()

    venue = EngineVenue(engine, listing, wall_clock)
    mm = MarketMaker(
        bench_strategy(), venue.send, clock=clock, venue=listing, wall_clock=wall_clock
    )
    return mm, venue, settle_quotes(mm, venue.answer, seed)


def soak(messages: int, taker_every: int, seed: int = DEFAULT_SEED, step_ms: float = 0.0) -> dict:
    """Run the soak; every figure in one dict (see the module docstring)."""
    step_s = max(step_ms / 1000, MIN_SIMULATED_S / max(messages, 1))
    clock = SimulatedClock()
    engine = MatchingEngine([MD_SYMBOL])
    mm, venue, stream = _quoting(clock, engine, seed)
    gc.collect()
    gc.freeze()  # as the Runner does once trading starts: what exists now is not the run's
    every = max(1, messages // SAMPLES)
    samples = [_sample(mm, engine, 0, 0.0)]
    started_s = clock.now_s
    next_tick_s = clock.now_s + 1.0
    taker_side = Side.BUY
    wall = time.perf_counter()
    for number in range(1, messages + 1):
        clock.now_s += step_s
        raw = increment_text(MD_REQ_ID, stream.next_message(move_mid=False))
        mm.handle(read_increment(raw, time.perf_counter_ns()))
        mm.requote_dirty()
        venue.answer(mm)
        if taker_every and number % taker_every == 0:
            venue.take(taker_side)
            taker_side = taker_side.opposite
            venue.answer(mm)
        if clock.now_s >= next_tick_s:
            next_tick_s += 1.0
            mm.tick()
            venue.answer(mm)
        if number % TRIM_EVERY == 0:
            trim_engine(engine)
        if number % every == 0:
            trim_engine(engine)
            samples.append(_sample(mm, engine, number, clock.now_s - started_s))
    wall_s = time.perf_counter() - wall
    return _summary(messages, taker_every, step_s, wall_s, mm, venue, samples)


def _summary(
    messages: int,
    taker_every: int,
    step_s: float,
    wall_s: float,
    mm: MarketMaker,
    venue: EngineVenue,
    samples: list[dict],
) -> dict:
    start = samples[1] if len(samples) > 2 else samples[0]
    end = samples[-1]
    growth = {
        name: end["structures"][name] - start["structures"][name] for name in end["structures"]
    }
    # grew: a structure that grows with the run is about ten times larger at the end than
    # after its first tenth; one bounded by a time window moves by less than half (and a few
    # entries). The capped ones are judged against their cap.
    before = start["structures"]
    grew = sorted(
        name
        for name, value in end["structures"].items()
        if name not in CAPPED and value > max(before[name] * 1.5, before[name] + 20)
    )
    orders = sum(venue.sent.values())
    listing = venue._listing
    return {
        "md_messages": messages,
        "orders": orders,
        "orders_by_kind": dict(venue.sent),
        "fills": venue.fills,
        "trade_listings": listing.listings if listing is not None else 0,
        "taker_every_md_messages": taker_every,
        "simulated_s": round(step_s * messages, 1),
        "simulated_ms_per_md_message": round(step_s * 1000, 3),
        "wall_s": round(wall_s, 1),
        "rss_mib": {
            "start": start["rss_mib"],
            "end": end["rss_mib"],
            "at_settle": samples[0]["rss_mib"],
        },
        "rss_growth_ratio": round(end["rss_mib"] / start["rss_mib"] - 1, 3),
        "target_rss_growth_ratio": 0.10,
        "structures": {
            "start": start["structures"],
            "end": end["structures"],
            "growth": growth,
            "grew": grew,
            "caps": {
                "order_manager.seen_exec_ids": mm.orders._exec_id_memory,
                "order_manager.exec_id_order": mm.orders._exec_id_memory,
                "lineage.cl_ord_ids_max": LINEAGE_IDS_KEPT + 1,
            },
            # the fill keys are kept about this long (two a fill): bounded by time, not a cap
            "fill_keys_window_s": FILL_KEYS_WINDOW_S,
        },
        "gc_objects": {"start": start["gc_objects"], "end": end["gc_objects"]},
        "engine_after_trim": end["engine"],
        "series": [
            {key: sample[key] for key in ("md_messages", "simulated_s", "rss_mib", "gc_objects")}
            for sample in samples
        ],
        "stats": {
            "orders_sent": mm.stats.orders_sent,
            "replaces_sent": mm.stats.replaces_sent,
            "cancels_sent": mm.stats.cancels_sent,
            "fills": mm.stats.fills,
            "venue_rejects": mm.stats.venue_rejects,
            "warnings": dict(mm.stats.warnings),
            "risk_denials": mm.risk.denial_counts(),
            "position_base": str(mm.positions.position_base(MD_SYMBOL)),
        },
        "measured": (
            "one process, no sockets: the MarketMaker decides after every 35=X of the bench "
            "stream, its orders go to the simulator's MatchingEngine (finished orders and trades "
            "trimmed: the venue's, not ours), the venue's trades listed over (simulated) REST "
            f"every {TRADES_LISTING_EVERY_S:.0f} s, a taker takes our quote every "
            f"{taker_every} messages; clock simulated at {step_s * 1000:.3f} ms a message. "
            "start = the sample after the first tenth of the run (the minute windows full), "
            "end = the last; RSS after a full collection"
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--messages", type=int, default=1_000_000, help="35=X messages (1,000,000)")
    parser.add_argument(
        "--taker-every", type=int, default=1000, help="a taker takes a quote every N messages"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="market-data stream seed")
    parser.add_argument(
        "--step-ms",
        type=float,
        default=1.0,
        help=f"simulated ms per message (the run covers at least {MIN_SIMULATED_S:.0f} s)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.messages < SAMPLES * 10:
        print(f"soak: --messages must be at least {SAMPLES * 10}", file=sys.stderr)
        return 2
    if args.taker_every < 0 or args.step_ms < 0:
        print("soak: --taker-every and --step-ms must be 0 or more", file=sys.stderr)
        return 2
    logging.disable(logging.WARNING)  # the market maker's info lines are not the subject
    figures = soak(args.messages, args.taker_every, args.seed, args.step_ms)
    print_json(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
