"""The simulated TrueX exchange's core: order books and matching, plain Python without FIX.

The FIX acceptor in :mod:`truex_qf.fix` drives :class:`MatchingEngine` and turns the events it
returns into execution reports and market-data messages.
"""

from truex_qf.venue.matching import (
    LevelChanged,
    MatchingEngine,
    RestingOrderView,
    ToClient,
    Trade,
    TradePrinted,
    VenueEvent,
    utc_now,
)
from truex_qf.venue.order_book import BookDepth, Level

__all__ = [
    "BookDepth",
    "Level",
    "LevelChanged",
    "MatchingEngine",
    "RestingOrderView",
    "ToClient",
    "Trade",
    "TradePrinted",
    "VenueEvent",
    "utc_now",
]
