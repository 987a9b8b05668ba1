"""Kraken's public websocket v2 ``ticker`` channel: a second reference venue beside Coinbase.

Connect to ``wss://ws.kraken.com/v2`` (no authentication) and send::

    {"method": "subscribe",
     "params": {"channel": "ticker", "symbol": ["BTC/USD"], "event_trigger": "bbo"}}

``event_trigger = "bbo"`` asks for an update on every change of the best bid or offer (the
default is on trades only). Kraken acknowledges with ``{"method": "subscribe", "success":
true, ...}`` (``false`` and an ``error``: resync) and sends a snapshot, then updates::

    {"channel": "ticker", "type": "update",
     "data": [{"symbol": "BTC/USD", "bid": 64000.1, "bid_qty": 0.5, "ask": 64000.2,
               "ask_qty": 1.2, "last": 64000.0, ...}]}

Numbers are JSON numbers, read as Decimal (never float). The ticker carries no sequence
number, so only staleness (from our receive time) says the stream is unwell; heartbeats and
status messages are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from truex_qf.feeds.coinbase_wire import reference_price
from truex_qf.feeds.ws_ticker import Resync, WebsocketTicker
from truex_qf.strategy.reference import ReferencePrice

SOURCE_NAME = "kraken"
DEFAULT_WS_URL = "wss://ws.kraken.com/v2"
DEFAULT_SYMBOL_MAP: Mapping[str, str] = {
    "BTC-PYUSD": "BTC/USD",
    "ETH-PYUSD": "ETH/USD",
    "BTC-USD": "BTC/USD",
    "ETH-USD": "ETH/USD",
}
"""TrueX symbol → Kraken pair (v2 names: BTC, not XBT). PYUSD is priced against USD."""


def kraken_pair(truex_symbol: str, symbol_map: Mapping[str, str] | None = None) -> str:
    """The Kraken pair for a TrueX symbol: the map's entry, else PYUSD read as USD."""
    mapping = DEFAULT_SYMBOL_MAP if symbol_map is None else symbol_map
    if truex_symbol in mapping:
        return mapping[truex_symbol]
    base, _, quote = truex_symbol.partition("-")
    return f"{base}/{'USD' if quote == 'PYUSD' else quote}"


def subscribe_message(pair: str) -> dict[str, object]:
    """What the client sends first: the ``ticker`` channel of one pair, on bid/offer moves."""
    return {
        "method": "subscribe",
        "params": {"channel": "ticker", "symbol": [pair], "event_trigger": "bbo"},
    }


class KrakenStream(WebsocketTicker):
    """Streams one Kraken pair's ticker on a daemon thread; a reference feed."""

    venue = SOURCE_NAME
    default_url = DEFAULT_WS_URL

    def venue_product(self, truex_symbol: str, symbol_map: Mapping[str, str] | None) -> str:
        return kraken_pair(truex_symbol, symbol_map)

    def subscribe_message(self) -> dict[str, object]:
        return subscribe_message(self.product_id)

    def read(self, payload: dict[str, Any], received_s: float) -> ReferencePrice | None:
        if payload.get("channel") == "ticker" and payload.get("type") in ("snapshot", "update"):
            data = payload.get("data")
            if not isinstance(data, list):
                raise ValueError("ticker without a data list")
            latest = None
            for entry in data:
                if isinstance(entry, dict) and entry.get("symbol") == self.product_id:
                    latest = reference_price(
                        entry,
                        self.product_id,
                        received_s,
                        bid_key="bid",
                        ask_key="ask",
                        last_key="last",
                        source=SOURCE_NAME,
                    )
            return latest
        if payload.get("method") == "subscribe":
            if payload.get("success") is True:
                self.subscribed += 1
                return None
            self.errors += 1
            raise Resync(f"subscribe refused: {payload.get('error')}")
        return None  # heartbeats, status, message types added later: ignored
