"""Market data snapshots for book tests, written as (entry type, price, size) rows."""

from __future__ import annotations

from decimal import Decimal as D

from truex_qf.domain.model import BookEntry, MarketDataSnapshot, MDEntryType

SYMBOL = "BTC-PYUSD"
BID, OFFER, TRADE = MDEntryType.BID, MDEntryType.OFFER, MDEntryType.TRADE


def snapshot(*entries: tuple[MDEntryType, str, str], symbol: str = SYMBOL) -> MarketDataSnapshot:
    return MarketDataSnapshot(
        md_req_id="MD-1",
        symbol=symbol,
        entries=tuple(BookEntry(t, D(p), D(s)) for t, p, s in entries),
    )
