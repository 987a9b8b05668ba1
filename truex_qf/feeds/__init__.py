"""Reference price feeds: the network clients behind :mod:`truex_qf.strategy.reference`.

Each adapter runs on its own thread and keeps its latest
:class:`~truex_qf.strategy.reference.ReferencePrice` in one attribute (swapped whole, so the
trading side reads it without a lock); it never raises into the trading path.

- :mod:`truex_qf.feeds.coinbase_ws`: Coinbase Exchange's public websocket ``ticker`` channel.
- :mod:`truex_qf.feeds.coinbase_rest`: its REST ticker, polled (the fallback).
- :mod:`truex_qf.feeds.coinbase`: both together, the stream with the poll behind it.

This package sits above strategy/ (like rest/): strategy/ and the trading core import no
network code.
"""
