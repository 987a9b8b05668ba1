"""The simulated TrueX exchange, its own package beside the product (which never imports it).

The core is order books and matching, plain Python without FIX (:mod:`.matching`,
:mod:`.order_book`, :mod:`.balances`); the FIX acceptor (:mod:`.fix_acceptor`, :mod:`.messages`,
:mod:`.server`) drives :class:`MatchingEngine` and turns the events it returns into execution
reports and market-data messages; :mod:`.rest_server` answers TrueX's REST API from the same
books and :mod:`.service` runs them all as ``truex-qf simulate``.
"""

from truex_qf.sim.matching import (
    LevelChanged,
    MatchingEngine,
    RestingOrderView,
    ToClient,
    Trade,
    TradePrinted,
    VenueEvent,
    utc_now,
)
from truex_qf.sim.order_book import BookDepth, Level

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
