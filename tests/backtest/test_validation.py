"""Validation against the simulator: a backtest over the capture of a live run reproduces the
fills and PnL that run got.

The live run is the demo's, in process (:func:`truex_qf.app.demo.run_demo`): the simulator
with its simulated traders on a fixed flow seed, the market maker against it over real
QuickFIX sessions, the market data, the simulated Coinbase ticks and our own execution
reports captured as it ran. The backtest replays that capture with the demo's strategy and
the order latency the live run measured (half the median time from an order command out to
the venue's first answer in, read from the run's journal), and its fills and PnL are compared
with the live run's, both as the store holds them.

Why the two can differ, and so why the comparison has a tolerance:

- **The simulator's takers react to our quotes live.** Its takers hit the best price there
  is, ours or not; the capture holds the trades they made against the live quotes. Once the
  backtest's quotes differ from the live ones at some moment (a fill that happened in one and
  not in the other changes the inventory, so the skew, so every later price), the captured
  trades were made against another book than the backtest's, and the paths part.
- **The queue model** is the conservative one of docs/backtests.md: the backtest's order
  joins the back of its level and others' cancels are taken from the back, where the live
  engine's actual queue may have put it ahead.
- **Latency and timing.** The live market maker decides some milliseconds after a message
  arrives (its loop, the engine's threads) and its orders take a varying time to reach the
  simulator; the backtest decides at the message's capture time and uses one fixed latency.
  The reference ticks are captured by a poller (up to 10 ms late). And our execution reports
  and the book updates they cause arrive on two sessions a little apart, so the recorded
  run's orders are taken out of the captured levels a little early or late.

What was measured, on this two-core machine (docs/backtests.md). The test's seed, 10, over
30 s, in 5 live runs (28-31 fills each): the backtest at the measured latency (1.8-2.2 ms one
way) reproduced 89-100 % of the live fills one to one, its fill count and volume were 0-7 %
off, its net PnL 0.0-0.3 bps of the traded notional; at a latency of 200 us instead, 69-96 %,
0-24 % and up to 0.8 bps. With the recorded run's own orders left in the captured book (the
capture's ``OE`` records dropped) it reproduced 14-45 % and was 29-57 % off in fill count;
with a fill model that replays no captured trade it got no fill at all. The tolerances below
sit between the two with room on both sides. Other seeds agree less well (12 live runs of
20 s, seeds 1-12: 35-95 % reproduced, median 72 %; fill count 0-26 % off, fewer than live in
9 runs, as many in 2, more in 1; PnL 0.0-3.5 bps), and a broken backtest is not told from a
working one on every seed (the own orders left in passed those looser checks on seed 7),
which is why the test runs seed 10.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from truex_qf.app.demo import DemoRun, demo_strategy, run_demo
from truex_qf.backtest.replay import Backtest, BacktestSettings
from truex_qf.capture import CaptureWriter, FixRecord, read_capture
from truex_qf.ops.runs import open_store, resolve_run
from truex_qf.ops.summary import summarize_run
from truex_qf.storage.schema import executions, fix_journal
from truex_qf.storage.writer import StoreWriter

FLOW_SEED = 10  # see the module docstring
DURATION_S = 30.0

MATCH_WITHIN_S = 0.1
"""A backtest fill reproduces a live one if it has the same side and price and happened
within this much of it (the capture's clock is the live run's)."""
MIN_MATCHED_SHARE = Decimal("0.6")
"""Of the live run's fills, the share the backtest reproduces one to one."""
MAX_FILL_COUNT_GAP = Decimal("0.2")
"""The backtest's fill count may differ from the live run's by this share of it."""
MAX_VOLUME_GAP = Decimal("0.2")
"""Traded volume (base), likewise."""
MAX_PNL_GAP_BPS = Decimal(5)
"""Net PnL (both marked at the live run's last fair value, fees included) may differ by this
many bps of the live run's traded notional. Set at 2 from the 5 runs above (0.0-0.3), it
failed once in a clean clone's CI run with 2.16 bps while the other checks passed easily (27
backtest fills against 29 live, 83 % reproduced, volume 7 % off): two fills more or less move
the PnL marked at the end by the inventory they leave times the last price move. 5 bps covers
that and the other seeds' 3.5; the broken backtests above fail the fill checks first."""


@dataclass(frozen=True)
class Fill:
    at: datetime
    side: str
    price: Decimal
    quantity: Decimal


@dataclass(frozen=True)
class Figures:
    """One run's fills and PnL as the store holds them."""

    fills: tuple[Fill, ...]
    notional_quote: Decimal
    net_pnl_quote: Decimal  # marked at the given price, fees included
    fair_value: Decimal | None

    @property
    def volume_base(self) -> Decimal:
        return sum((fill.quantity for fill in self.fills), Decimal(0))


def figures(url: str, run_id: str, mark: Decimal | None = None) -> Figures:
    """``run_id``'s figures; the position marked at ``mark`` (default: its last fair value)."""
    run = resolve_run([url], run_id)
    with open_store(url) as engine:
        report = summarize_run(engine, run)
        with engine.connect() as connection:
            rows = connection.execute(
                select(
                    executions.c.at, executions.c.side, executions.c.price, executions.c.quantity
                )
                .where(executions.c.run_id == run_id)
                .order_by(executions.c.at, executions.c.exec_id)
            ).all()
    fills = tuple(
        Fill(at, str(side).upper(), Decimal(price), Decimal(quantity))
        for at, side, price, quantity in rows
    )
    symbols = list(report.symbols.values())
    if not symbols:
        return Figures(fills, Decimal(0), Decimal(0), None)
    (symbol,) = symbols
    price = mark if mark is not None else symbol.fair_value
    assert price is not None
    position = symbol.bought_base - symbol.sold_base
    net = symbol.sold_quote - symbol.bought_quote + position * price - symbol.fees_quote
    return Figures(fills, symbol.notional_quote, net, symbol.fair_value)


def matched(live: Figures, backtest: Figures) -> int:
    """Live fills the backtest reproduced: same side and price, within MATCH_WITHIN_S, one
    backtest fill for one live fill."""
    left = list(backtest.fills)
    count = 0
    for fill in live.fills:
        for other in left:
            close = abs((other.at - fill.at).total_seconds()) <= MATCH_WITHIN_S
            if close and other.side == fill.side and other.price == fill.price:
                left.remove(other)
                count += 1
                break
    return count


@dataclass(frozen=True)
class Agreement:
    live_fills: int
    backtest_fills: int
    matched_share: Decimal
    fill_count_gap: Decimal
    volume_gap: Decimal
    pnl_gap_bps: Decimal

    def failures(self) -> list[str]:
        """What is out of tolerance (empty: the backtest reproduced the live run)."""
        found = []
        if self.matched_share < MIN_MATCHED_SHARE:
            found.append(f"matched share {self.matched_share:.2f} < {MIN_MATCHED_SHARE}")
        if self.fill_count_gap > MAX_FILL_COUNT_GAP:
            found.append(f"fill count gap {self.fill_count_gap:.2f} > {MAX_FILL_COUNT_GAP}")
        if self.volume_gap > MAX_VOLUME_GAP:
            found.append(f"volume gap {self.volume_gap:.2f} > {MAX_VOLUME_GAP}")
        if self.pnl_gap_bps > MAX_PNL_GAP_BPS:
            found.append(f"PnL gap {self.pnl_gap_bps:.2f} bps > {MAX_PNL_GAP_BPS}")
        return found


def agreement(live: Figures, backtest: Figures) -> Agreement:
    count = len(live.fills)
    assert count > 0, "the live run has no fill to compare"
    return Agreement(
        live_fills=count,
        backtest_fills=len(backtest.fills),
        matched_share=Decimal(matched(live, backtest)) / count,
        fill_count_gap=Decimal(abs(len(backtest.fills) - count)) / count,
        volume_gap=abs(backtest.volume_base - live.volume_base) / live.volume_base,
        pnl_gap_bps=abs(backtest.net_pnl_quote - live.net_pnl_quote) / live.notional_quote * 10_000,
    )


def measured_latency_us(url: str, run_id: str) -> int:
    """Half the median time from an order command out (35=D/F/G) to the venue's first
    report on it in (35=8), by the run's journal."""
    sent: dict[str, datetime] = {}
    round_trips: list[float] = []
    with open_store(url) as engine, engine.connect() as connection:
        rows = connection.execute(
            select(
                fix_journal.c.logged_at,
                fix_journal.c.direction,
                fix_journal.c.msg_type,
                fix_journal.c.text,
            )
            .where(fix_journal.c.run_id == run_id, fix_journal.c.msg_type.in_(("D", "F", "G", "8")))
            .order_by(fix_journal.c.id)
        ).all()
    for logged_at, direction, msg_type, text in rows:
        cl_ord_id = next((f[3:] for f in text.split("\x01") if f.startswith("11=")), None)
        if cl_ord_id is None:
            continue
        if direction == "OUT":
            sent[cl_ord_id] = logged_at
        elif msg_type == "8" and cl_ord_id in sent:
            round_trips.append((logged_at - sent.pop(cl_ord_id)).total_seconds())
    assert round_trips, "the live run's journal holds no answered order"
    return int(statistics.median(round_trips) / 2 * 1_000_000)


def run_backtest(
    url: str,
    tmp_path: Path,
    paths: list[Path],
    latency_us: int,
    break_venue: Callable[[Backtest], None] | None = None,
) -> str:
    """One backtest with the demo's strategy, stored in ``url``; its run id."""
    run_id = str(uuid.uuid4())
    writer = StoreWriter(url, tmp_path / f"spill-{run_id}.jsonl")
    writer.start()
    try:
        settings = BacktestSettings(data=paths, strategy=demo_strategy(), latency_us=latency_us)
        backtest = Backtest(settings, run_id, writer.submit)
        if break_venue is not None:
            break_venue(backtest)
        backtest.run()
    finally:
        assert writer.stop()
    return run_id


def without_own_reports(paths: list[Path], out_dir: Path) -> list[Path]:
    """The capture with its ``OE`` records dropped: the recorded run's orders stay in the
    book as other traders' (the backtest before it learnt to take them out)."""
    stream = read_capture(paths)
    records = [r for r in stream if not (isinstance(r, FixRecord) and r.session == "OE")]
    header = stream.headers[0]
    with CaptureWriter(
        out_dir,
        symbols=header.symbols,
        venue=header.venue,
        source=header.source,
        sender_comp_id=header.sender_comp_id,
        prefix="without-oe",
    ) as writer:
        for record in records:
            writer.write(record)
    return list(writer.paths)


def no_trade_replayed(backtest: Backtest) -> None:
    """A broken fill model: captured trades reach no order of ours."""
    backtest.venue._replay_trade = lambda *args: None  # type: ignore[method-assign]


@dataclass(frozen=True)
class LiveRun:
    demo: DemoRun
    url: str
    figures: Figures
    latency_us: int
    state: Path


def live_run(state: Path, seed: int, duration_s: float) -> LiveRun:
    """The demo against the simulator with flow seed ``seed``, captured; its figures."""
    demo = run_demo(state, duration_s, flow_seed=seed)
    url = f"sqlite:///{state / 'truex-qf.db'}"
    live = figures(url, demo.run_id)
    return LiveRun(demo, url, live, measured_latency_us(url, demo.run_id), state)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRun]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("DATABASE_URL", raising=False)  # the run's own SQLite file
        yield live_run(tmp_path_factory.mktemp("live") / "state", FLOW_SEED, DURATION_S)


def compare(run: LiveRun, tmp_path: Path, **options: object) -> Agreement:
    paths = options.pop("paths", None) or list(run.demo.capture_paths)
    run_id = run_backtest(run.url, tmp_path, paths, run.latency_us, **options)  # type: ignore[arg-type]
    return agreement(run.figures, figures(run.url, run_id, mark=run.figures.fair_value))


def test_a_backtest_of_a_captured_simulator_run_reproduces_its_fills_and_pnl(
    live: LiveRun, tmp_path: Path
) -> None:
    assert len(live.figures.fills) >= 15, "too few live fills to compare"
    assert live.figures.fills and live.demo.venue_fills == len(live.figures.fills)
    found = compare(live, tmp_path)
    print(f"live {len(live.figures.fills)} fills, latency {live.latency_us} us: {found}")
    assert found.failures() == [], found


def test_the_comparison_fails_for_a_backtest_that_is_broken(live: LiveRun, tmp_path: Path) -> None:
    own_orders_left_in = compare(
        live, tmp_path, paths=without_own_reports(list(live.demo.capture_paths), tmp_path / "x")
    )
    assert own_orders_left_in.failures(), own_orders_left_in
    no_trades = compare(live, tmp_path, break_venue=no_trade_replayed)
    assert no_trades.failures(), no_trades
