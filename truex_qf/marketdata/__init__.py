"""TrueX market data as local L2 books, one per symbol, fed by the FIX edge's domain values."""

from truex_qf.marketdata.book import BookKeeper, Level, OrderBook, Trade

__all__ = ["BookKeeper", "Level", "OrderBook", "Trade"]
