"""A backtest: captured market data replayed in virtual time through the market maker that
``run`` uses, with its orders filled by a :class:`~truex_qf.sim.local_venue.LocalVenue`.

What is the same as a live run, and what stands in for what:

- **The trading code**: one :class:`~truex_qf.trading.market_maker.MarketMaker` (its order
  manager, risk engine, positions, books and fair value), built as ``run`` builds it, fed
  domain events through :meth:`~MarketMaker.handle` and asked to decide with
  :meth:`~MarketMaker.requote_dirty` after each, and :meth:`~MarketMaker.tick` every
  ``loop_interval_s``, as the runner does. Nothing of it is reimplemented here.
- **Market data**: each captured FIX message of the market-data session (35=W, X, Y, y, BK)
  is read by the FIX edge's own readers (:data:`truex_qf.fix.readers.READERS`) into the
  domain event the live client hands the market maker, stamped with its capture time.
  Reference ticks (``R`` records) update a price source per (source, symbol) that fair value
  reads as it reads a live feed. A capture taken during a run of ours also holds that run's
  execution reports (session ``OE``): its resting orders are taken out of the captured book
  (:mod:`truex_qf.backtest.recorded_orders`) before the venue mirror and the market maker see
  it, so both read the other traders' book, and the market maker runs with
  ``own_orders_in_book=False`` (its own orders rest in the local venue, never in that book).
- **Sessions**: both sessions "log on" at the first record's time (the market maker sees
  :class:`SessionLoggedOn` as in a live run, so it subscribes and quotes) and "log out"
  after the shutdown at the end. There is no REST venue: reconciliation is skipped the way
  it is for a run without a REST client (the trading state's reason says so), and nothing
  touches the network.
- **The venue**: every order command reaches the :class:`LocalVenue` ``latency_us`` after it
  was sent, and every report it produces (answers, and fills the market causes) reaches the
  market maker ``latency_us`` after that. The venue's book moves at each message's capture
  time. The fill model is :mod:`truex_qf.sim.local_venue`'s.
- **Time**: a :class:`VirtualClock` driven by the records' ``recv_ns``: the market maker's
  monotonic clock reads it in seconds, the venue's TransactTime and the store's rows read it
  as UTC. No wall clock is read anywhere in the replay.

Determinism: events at the same virtual time run in the order they were scheduled, the
venue's IDs and our ClOrdIDs come from counters seeded from the run id, so the same capture,
strategy and options give the same orders, fills and figures byte for byte; only the IDs
(which name the run, and must not collide in a store shared with other runs) differ.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

from truex_qf.backtest.journal import BacktestJournal
from truex_qf.backtest.recorded_orders import OthersBook
from truex_qf.capture.format import CaptureStream, FixRecord, ReferenceRecord
from truex_qf.capture.sink import ORDER_ENTRY_SESSION as RECORDED_OWN_ORDERS
from truex_qf.domain.clordid import ClOrdIdGenerator
from truex_qf.domain.errors import ConfigError
from truex_qf.domain.model import (
    ORDER_COMMANDS,
    Command,
    ExecutionReport,
    MarketDataIncrement,
    MarketDataSnapshot,
    OrderCancelReject,
    OrderCommand,
    SessionLoggedOn,
    SessionLoggedOut,
    SessionRole,
)
from truex_qf.feeds.references import DEFAULT_MEDIAN_STALE_S
from truex_qf.fix.readers import READERS, msg_type
from truex_qf.sim.local_venue import LocalVenue, local_venue_fees, received_at
from truex_qf.storage.recorder import StoreRecorder, quote_marks
from truex_qf.storage.rows import PendingRow, Row
from truex_qf.strategy.coinbase import SOURCE_NAME as COINBASE
from truex_qf.strategy.fair_value import PriceSource, ReferencePrice
from truex_qf.strategy.reference import KRAKEN, MEDIAN, MedianOf
from truex_qf.strategy.settings import StrategySettings
from truex_qf.trading.market_maker import MarketMaker

log = logging.getLogger("truex_qf.backtest")

BACKTEST_MODE = "backtest"
"""The ``runs.mode`` of a backtest."""
SENDER_COMP_ID = "BACKTEST"
"""The account a backtest's run is stored under: none of a venue's, so no ``run`` ever
carries a backtest's position over (that reads runs of mode ``run`` only anyway)."""
ORDER_ENTRY_SESSION = "BACKTEST-OE"
MARKET_DATA_SESSION = "BACKTEST-MD"
SNAPSHOT_INTERVAL_S = 5.0
"""Position and PnL snapshots every 5 virtual seconds and at the end, as a live run's."""
MARKET_DATA_TYPES = frozenset({"W", "X", "Y", "y", "BK"})
"""The market-data session's application messages the market maker reads."""
NS = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class VirtualClock:
    """The replay's time, in ns since the epoch: moved by the replay, never by itself."""

    __slots__ = ("now_ns",)

    def __init__(self, now_ns: int = 0) -> None:
        self.now_ns = now_ns

    def monotonic(self) -> float:
        """The market maker's clock: seconds (since the epoch, which only ever moves on)."""
        return self.now_ns / NS

    def utc(self) -> datetime:
        """The same moment as UTC, to the microsecond (TransactTime, the store's rows)."""
        return _EPOCH + timedelta(microseconds=self.now_ns // 1000)


class CapturedPrice:
    """A reference source fed by the capture's ``R`` records of one (source, symbol)."""

    def __init__(self, source: str, symbol: str) -> None:
        self.source = source
        self.symbol = symbol
        self.value: ReferencePrice | None = None

    def latest(self) -> ReferencePrice | None:
        return self.value


class _Median:
    """``median``: the median a live run captured as such, else the median of the captured
    Coinbase and Kraken ticks."""

    def __init__(self, captured: CapturedPrice, of_venues: MedianOf) -> None:
        self._captured = captured
        self._of_venues = of_venues

    def latest(self) -> ReferencePrice | None:
        return self._captured.latest() or self._of_venues.latest()


@dataclass(frozen=True)
class BacktestSettings:
    """What a backtest replays and how: capture files, strategy, venue options.

    ``latency_us``: one way, market maker to venue and venue to market maker. Fees are the
    venue's, in bps of notional (negative: a rebate); None: as
    :func:`~truex_qf.sim.local_venue.local_venue_fees` decides from the strategy, as for a
    paper run. ``price_band`` as the simulator's. ``balances``: the account's starting
    balances per currency, every other currency 0, enforced as TrueX does (an order the
    available balance cannot fund is rejected: Insufficient balance); None: not limited.
    """

    data: Sequence[str | Path]
    strategy: StrategySettings
    latency_us: int = 0
    maker_fee_bps: Decimal | None = None
    taker_fee_bps: Decimal | None = None
    price_band: Decimal | None = Decimal("0.05")
    balances: Mapping[str, Decimal] | None = None


@dataclass
class BacktestResult:
    """What a finished backtest did (the store holds the rest)."""

    run_id: str
    records: int = 0
    market_data_messages: int = 0
    reference_ticks: int = 0
    skipped_messages: int = 0
    truncated_files: list[Path] = field(default_factory=list)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    fills: int = 0
    orders_sent: int = 0
    replayed_trades: int = 0
    unattributed_trades: int = 0
    recorded_own_reports: int = 0
    """Reports of the recorded run's own orders (a capture of a run of ours), whose resting
    size was taken out of the captured book."""

    @property
    def virtual_s(self) -> float:
        """The virtual time the replay covered, first record to end."""
        if self.started_at is None or self.ended_at is None:
            return 0.0
        return (self.ended_at - self.started_at).total_seconds()


def ids_seed(run_id: str) -> int:
    """A number derived from the run id that seeds every ID of the run."""
    return int(run_id.replace("-", ""), 16)


class Backtest:
    """One replay; :meth:`run` once. ``submit``: where the store's rows go, the tables' and
    the journal's of the order flow (:mod:`truex_qf.backtest.journal`); None: nowhere."""

    def __init__(
        self,
        settings: BacktestSettings,
        run_id: str,
        submit: Callable[[Row | PendingRow], None] | None = None,
        *,
        venue_name: str = "capture",
    ) -> None:
        if settings.latency_us < 0:
            raise ConfigError("--latency-us", "must be 0 or more")
        self.settings = settings
        self.run_id = run_id
        self.clock = VirtualClock()
        self._latency_ns = settings.latency_us * 1000
        seed = ids_seed(run_id)
        strategy = settings.strategy
        symbols = [s.symbol for s in strategy.symbols]
        fees = local_venue_fees(
            strategy, maker_fee_bps=settings.maker_fee_bps, taker_fee_bps=settings.taker_fee_bps
        )
        self.venue = LocalVenue(
            symbols,
            price_band=settings.price_band,
            balances=settings.balances,
            maker_fee_bps=fees.maker_bps,
            taker_fee_bps=fees.taker_bps,
            clock=self.clock.utc,
            # a slot of the counter space of its own, so ExecIDs differ between runs
            first_id=(seed % 10**12) * 10**6 + 1,
        )
        self._prices: dict[tuple[str, str], CapturedPrice] = {}
        self.mm = MarketMaker(
            strategy,
            self._send,
            references=self._references(strategy),
            clock=self.clock.monotonic,
            ids=ClOrdIdGenerator("B", boot_ms=seed % 36**9),
            venue=None,
            no_venue_reason="backtest, no venue to reconcile with",
            # the book it reads is the other traders' (the capture less the recorded run's
            # own orders, :mod:`truex_qf.backtest.recorded_orders`); its own orders rest in
            # the local venue, never in that book, so fair value takes nothing out of it
            own_orders_in_book=False,
        )
        self.others = OthersBook(tuple(symbols))
        self._submit = submit
        self._recorder: StoreRecorder | None = None
        self._journal: BacktestJournal | None = None
        if submit is not None:
            self._recorder = StoreRecorder(run_id, submit, self.mm.orders, clock=self.clock.utc)
            self.mm.listeners.append(self._recorder)
            self._journal = BacktestJournal(run_id, submit, self.clock.monotonic)
        self._venue_name = venue_name
        self._heap: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = 0
        self._tick_ns = max(1, int(strategy.loop_interval_s * NS))
        self._ticking = False
        self._next_snapshot_ns = 0
        self._run_row: dict[str, object] = {}
        self.result = BacktestResult(run_id)

    # ------------------------------------------------------------------ the replay

    def run(self) -> BacktestResult:
        """Replay every record, then shut down as a run does; the result."""
        stream = CaptureStream(self.settings.data)
        started = False
        for record in stream:
            now = record.recv_ns
            if not started:
                started = True
                if stream.headers:
                    self._venue_name = stream.headers[0].venue or self._venue_name
                self._start(now)
            self._advance(now)
            if isinstance(record, FixRecord):
                self._on_fix(record)
            elif isinstance(record, ReferenceRecord):
                self._on_reference(record)
        result = self.result
        result.records = stream.records
        result.truncated_files = list(stream.truncated_files)
        if not started:
            raise ConfigError("--data", "the capture holds no record to replay")
        self._finish()
        stats = self.mm.stats
        result.fills = stats.fills
        result.orders_sent = stats.orders_sent
        result.replayed_trades = self.venue.replayed_trades
        result.unattributed_trades = self.venue.unattributed_trades
        return result

    def _start(self, now_ns: int) -> None:
        self.clock.now_ns = now_ns
        self.result.started_at = self.clock.utc()
        self._run_row = {
            "run_id": self.run_id,
            "mode": BACKTEST_MODE,
            "venue": f"backtest:{self._venue_name}"[:255],
            "sender_comp_id": SENDER_COMP_ID,
            "started_at": self.result.started_at,
            "ended_at": None,
        }
        self._store(Row("runs", dict(self._run_row)))
        self._ticking = True
        self._next_snapshot_ns = now_ns + int(SNAPSHOT_INTERVAL_S * NS)
        self._at(now_ns + self._tick_ns, self._tick)
        mm = self.mm
        mm.handle(SessionLoggedOn(SessionRole.ORDER_ENTRY, ORDER_ENTRY_SESSION))
        mm.handle(SessionLoggedOn(SessionRole.MARKET_DATA, MARKET_DATA_SESSION))
        mm.requote_dirty()

    def _finish(self) -> None:
        """The run's end: stop quoting, cancel everything, wait for the answers, log out."""
        self._ticking = False
        self.mm.begin_shutdown()
        self.mm.requote_dirty()
        self._drain()
        self.mm.handle(SessionLoggedOut(SessionRole.ORDER_ENTRY, ORDER_ENTRY_SESSION))
        self.mm.handle(SessionLoggedOut(SessionRole.MARKET_DATA, MARKET_DATA_SESSION))
        self._snapshot()
        self.result.ended_at = self.clock.utc()
        self._store(Row("runs", {**self._run_row, "ended_at": self.result.ended_at}))

    def _advance(self, until_ns: int) -> None:
        """Run what is scheduled up to ``until_ns`` (before a record of that time), then set
        the clock there. A record older than the clock (captured late) does not move it back."""
        heap = self._heap
        clock = self.clock
        while heap and heap[0][0] <= until_ns:
            when, _, action = heapq.heappop(heap)
            if when > clock.now_ns:
                clock.now_ns = when
            action()
        if until_ns > clock.now_ns:
            clock.now_ns = until_ns

    def _drain(self) -> None:
        """Run everything scheduled (the ticks stopped), however far in virtual time."""
        heap = self._heap
        while heap:
            when, _, action = heapq.heappop(heap)
            if when > self.clock.now_ns:
                self.clock.now_ns = when
            action()

    def _at(self, when_ns: int, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (when_ns, self._seq, action))

    # ------------------------------------------------------------------ inputs

    def _on_fix(self, record: FixRecord) -> None:
        kind = msg_type(record.raw)
        own = record.session == RECORDED_OWN_ORDERS
        if (kind != "8") if own else (kind not in MARKET_DATA_TYPES):
            return  # session messages
        try:
            event = READERS[kind](record.raw, record.recv_ns)
        except (ValueError, KeyError) as exc:
            self.result.skipped_messages += 1
            log.warning("skipped a captured 35=%s the reader refused: %s", kind, exc)
            return
        if own:
            # the recorded run's order: out of the captured book from now on
            assert isinstance(event, ExecutionReport)
            self.result.recorded_own_reports += 1
            changed = self.others.own_report(event)
            if changed is None:
                return
            event = changed
        else:
            self.result.market_data_messages += 1
            if isinstance(event, MarketDataSnapshot):
                event = self.others.snapshot(event)
            elif isinstance(event, MarketDataIncrement):
                event = self.others.increment(event)
        reports = self.venue.on_market_data(event)  # the venue's book moves first
        self.mm.handle(event)
        self.mm.requote_dirty()
        self._reports_back(reports)

    def _on_reference(self, record: ReferenceRecord) -> None:
        # a capture names the feed it read: "coinbase" (stream and poll), or one of them
        # ("coinbase-ws", "coinbase-rest"), "kraken-ws", "median"
        name = record.source
        source = self._prices.get((name, record.symbol)) or self._prices.get(
            (name.split("-", 1)[0], record.symbol)
        )
        if source is None:
            return
        self.result.reference_ticks += 1
        source.value = ReferencePrice(
            record.source, record.symbol, record.price, self.clock.monotonic()
        )
        self.mm.mark_inputs_moved(record.symbol)
        self.mm.requote_dirty()

    def _references(self, strategy: StrategySettings) -> dict[str, PriceSource]:
        """A captured source per symbol's ``reference`` (the median of Coinbase and Kraken
        for ``median``, as live)."""

        def captured(source: str, symbol: str) -> CapturedPrice:
            return self._prices.setdefault((source, symbol), CapturedPrice(source, symbol))

        references: dict[str, PriceSource] = {}
        for symbol_strategy in strategy.symbols:
            name, symbol = symbol_strategy.reference, symbol_strategy.symbol
            if name is None:
                continue
            if name == MEDIAN:
                references[symbol] = _Median(
                    captured(MEDIAN, symbol),
                    MedianOf(
                        (captured(COINBASE, symbol), captured(KRAKEN, symbol)),
                        stale_s=DEFAULT_MEDIAN_STALE_S,
                        clock=self.clock.monotonic,
                    ),
                )
            else:
                references[symbol] = captured(name, symbol)
        return references

    # ------------------------------------------------------------------ the venue

    def _send(self, command: Command) -> bool:
        """The market maker's sender: order commands travel to the venue; subscriptions and
        security list requests are answered by the capture itself."""
        if isinstance(command, ORDER_COMMANDS):
            if self._journal is not None:
                self._journal.sent(command)
            self._at(self.clock.now_ns + self._latency_ns, partial(self._at_venue, command))
        return True

    def _at_venue(self, command: OrderCommand) -> None:
        self._reports_back(self.venue.submit(command))

    def _reports_back(self, reports: Iterable[ExecutionReport | OrderCancelReject]) -> None:
        arrival = self.clock.now_ns + self._latency_ns
        for report in reports:
            self._at(arrival, partial(self._deliver, report))

    def _deliver(self, report: ExecutionReport | OrderCancelReject) -> None:
        report = received_at(report, self.clock.now_ns)
        if self._journal is not None:
            self._journal.received(report)
        self.mm.handle(report)
        self.mm.requote_dirty()

    # ------------------------------------------------------------------ periodic

    def _tick(self) -> None:
        if not self._ticking:
            return
        self.mm.tick()
        now = self.clock.now_ns
        if now >= self._next_snapshot_ns:
            self._next_snapshot_ns = now + int(SNAPSHOT_INTERVAL_S * NS)
            self._snapshot()
        self._at(now + self._tick_ns, self._tick)

    def _snapshot(self) -> None:
        if self._recorder is not None:
            mm = self.mm
            self._recorder.snapshot(mm.positions, mm.fair_values(), quote_marks(mm))

    def _store(self, row: Row) -> None:
        if self._submit is not None:
            self._submit(row)
