"""Coinbase Exchange's public websocket ``ticker`` channel: the reference price as it moves.

Connect to ``wss://ws-feed.exchange.coinbase.com`` (no authentication) and send::

    {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["ticker"]}

The server acknowledges with ``{"type": "subscriptions", ...}`` and then sends a ``ticker``
message per match (batched over cascades)::

    {"type": "ticker", "sequence": 37475248783, "product_id": "BTC-USD", "price": "64000.50",
     "best_bid": "64000.99", "best_ask": "64001.01", "time": "2024-05-01T12:00:00.123456Z", ...}

Each good ticker becomes the latest price (mid of best bid/ask, else the trade price); an
``error`` message resyncs. Thread, reconnects with backoff and jitter, and the hand-over to
the trading side: :mod:`truex_qf.feeds.ws_ticker`.

Sequences: a ticker's ``sequence`` is the product's feed sequence, so it skips by design (the
ticker sees only matches; Coinbase warns the feed may drop messages, and the ticker channel
cannot tell which) but must increase. A ticker whose sequence is not above the last one seen
on the connection is a break (a repeat or a step back: messages replayed out of order, or
the feed restarted): it is counted, logged and dropped, and the client resyncs (drops the
connection and subscribes afresh), so it never keeps prices of unknown order.

Staleness is fair value's business, measured from our receive time; when the stream is down
or quiet the REST poll takes over (:mod:`truex_qf.feeds.coinbase`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from truex_qf.feeds.coinbase_wire import reference_price
from truex_qf.feeds.ws_ticker import Backoff, Resync, WebsocketTicker
from truex_qf.strategy.coinbase import DEFAULT_WS_URL, SOURCE_NAME, coinbase_product
from truex_qf.strategy.reference import ReferencePrice

__all__ = ["Backoff", "CoinbaseStream", "parse_ws_ticker", "subscribe_message"]


def parse_ws_ticker(payload: object, product_id: str, received_s: float) -> ReferencePrice:
    """A :class:`ReferencePrice` from a decoded ``ticker`` message; ValueError without a price."""
    return reference_price(payload, product_id, received_s, bid_key="best_bid", ask_key="best_ask")


def subscribe_message(product_id: str) -> dict[str, object]:
    """What the client sends first: the ``ticker`` channel of one product."""
    return {"type": "subscribe", "product_ids": [product_id], "channels": ["ticker"]}


class CoinbaseStream(WebsocketTicker):
    """Streams one Coinbase product's ticker on a daemon thread; a reference feed."""

    venue = SOURCE_NAME
    default_url = DEFAULT_WS_URL
    _last_sequence: int | None = None  # the last ticker's on this connection

    def venue_product(self, truex_symbol: str, symbol_map: Mapping[str, str] | None) -> str:
        return coinbase_product(truex_symbol, symbol_map)

    def subscribe_message(self) -> dict[str, object]:
        return subscribe_message(self.product_id)

    def on_connected(self) -> None:
        self._last_sequence = None

    def read(self, payload: dict[str, Any], received_s: float) -> ReferencePrice | None:
        kind = payload.get("type")
        if kind == "ticker" and payload.get("product_id") == self.product_id:
            sequence = payload.get("sequence")
            if isinstance(sequence, int) and not isinstance(sequence, bool):
                last = self._last_sequence
                if last is not None and sequence <= last:
                    self.sequence_breaks += 1
                    raise Resync(f"sequence {sequence} after {last}")
                self._last_sequence = sequence
            return parse_ws_ticker(payload, self.product_id, received_s)
        if kind == "subscriptions":
            self.subscribed += 1
        elif kind == "error":
            self.errors += 1
            raise Resync(f"server error: {payload.get('message')} {payload.get('reason', '')}")
        return None  # heartbeats, other products, message types added later: ignored
