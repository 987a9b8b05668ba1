"""Coinbase Exchange as a reference: its name, addresses and product names (no network code).

The clients live in :mod:`truex_qf.feeds` (the websocket stream and the REST poll); the
strategy settings read the name and default address from here, below the network layer.
"""

from __future__ import annotations

from collections.abc import Mapping

SOURCE_NAME = "coinbase"
DEFAULT_BASE_URL = "https://api.exchange.coinbase.com"
DEFAULT_WS_URL = "wss://ws-feed.exchange.coinbase.com"
DEFAULT_SYMBOL_MAP: Mapping[str, str] = {
    "BTC-PYUSD": "BTC-USD",
    "ETH-PYUSD": "ETH-USD",
    "BTC-USD": "BTC-USD",
    "ETH-USD": "ETH-USD",
}
"""TrueX symbol → Coinbase product. PYUSD is priced against Coinbase's USD book (the basis is
small next to any sensible divergence limit)."""


def coinbase_product(truex_symbol: str, symbol_map: Mapping[str, str] | None = None) -> str:
    """The Coinbase product for a TrueX symbol: the map's entry, else PYUSD read as USD."""
    mapping = DEFAULT_SYMBOL_MAP if symbol_map is None else symbol_map
    if truex_symbol in mapping:
        return mapping[truex_symbol]
    base, _, quote = truex_symbol.partition("-")
    if quote == "PYUSD":
        return f"{base}-USD"
    return truex_symbol
