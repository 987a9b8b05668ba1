"""Our quotes against the market in the periodic snapshot: read off a quoting market maker,
written by the real store writer into SQLite, with and without a reference price."""

from __future__ import annotations

import time
from decimal import Decimal

from sqlalchemy import select

from tests.support.market_maker import quoting_market_maker
from truex_qf.domain.model import NewOrder, Side
from truex_qf.storage.database import make_engine, upgrade
from truex_qf.storage.recorder import QuoteMarks, StoreRecorder, quote_marks
from truex_qf.storage.schema import quote_snapshots
from truex_qf.storage.writer import StoreWriter
from truex_qf.strategy.fair_value import ReferencePrice
from truex_qf.strategy.settings import default_strategy
from truex_qf.trading.market_maker import MarketMaker


class FixedReference:
    """A reference price source that always has the same, fresh price."""

    def __init__(self, symbol: str, price: Decimal) -> None:
        self.symbol, self.price = symbol, price

    def latest(self) -> ReferencePrice:
        return ReferencePrice("fixed", self.symbol, self.price, time.monotonic())


def best_sent(sent: list[object], side: Side) -> Decimal:
    prices = [c.price for c in sent if isinstance(c, NewOrder) and c.side is side]
    return max(prices) if side is Side.BUY else min(prices)


def test_marks_are_our_best_quotes_and_the_prices_they_came_from() -> None:
    mm, sent = quoting_market_maker()
    (marks,) = quote_marks(mm)
    assert marks.symbol == next(iter(mm.symbols))
    assert marks.bid_quote_price == best_sent(sent, Side.BUY)
    assert marks.ask_quote_price == best_sent(sent, Side.SELL)
    assert marks.bid_quote_price < marks.ask_quote_price
    assert marks.truex_price == Decimal(100000)  # the book's 99900 / 100100, none of it ours
    assert marks.reference_price is None  # no reference configured

    mm.cancel_all()  # cancels on their way: the orders still work until acknowledged
    assert quote_marks(mm)[0].bid_quote_price == marks.bid_quote_price


def test_marks_carry_the_reference_when_one_is_configured() -> None:
    symbol = default_strategy().symbols[0].symbol
    idle = MarketMaker(default_strategy(), lambda command: True)
    assert quote_marks(idle) == [QuoteMarks(symbol, None, None, None, None)]  # no decision yet

    reference = FixedReference(symbol, Decimal("100050"))
    mm, sent = quoting_market_maker(references={symbol: reference})
    (marks,) = quote_marks(mm)
    assert marks.reference_price == Decimal("100050")
    assert marks.truex_price == Decimal(100000)
    assert marks.bid_quote_price == best_sent(sent, Side.BUY)


def test_the_snapshot_writes_one_row_per_symbol_through_the_writer(tmp_path) -> None:
    mm, sent = quoting_market_maker()
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    writer = StoreWriter(url, tmp_path / "spill.jsonl")
    writer.start()
    recorder = StoreRecorder("run-q", writer.submit, mm.orders)
    recorder.snapshot(mm.positions, mm.fair_values(), quote_marks(mm))
    reference = QuoteMarks("ETH-PYUSD", Decimal("1999"), None, None, Decimal("2000.5"))
    recorder.snapshot(mm.positions, mm.fair_values(), [reference])
    assert writer.stop()
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(quote_snapshots).order_by(quote_snapshots.c.id)
            ).mappings()
            stored = [dict(row) for row in rows]
    finally:
        engine.dispose()
    assert [(row["run_id"], row["symbol"]) for row in stored] == [
        ("run-q", next(iter(mm.symbols))),
        ("run-q", "ETH-PYUSD"),
    ]
    first, second = stored
    assert first["bid_quote_price"] == best_sent(sent, Side.BUY)
    assert first["ask_quote_price"] == best_sent(sent, Side.SELL)
    assert (first["truex_price"], first["reference_price"]) == (Decimal(100000), None)
    assert (second["ask_quote_price"], second["reference_price"]) == (None, Decimal("2000.5"))
    assert second["at"] >= first["at"]
