"""TrueX's REST API: the cancel-everything deadman and order reconciliation for the FIX program.

TrueX documents no cancel-on-disconnect for FIX, so when the order-entry session drops the
trading loop calls :meth:`TruexRestClient.cancel_all_active`, and after every (re)logon it
reconciles its orders with :meth:`TruexRestClient.active_orders`. This package imports no
``quickfix``; the simulated exchange serves the same endpoints from
:mod:`truex_qf.sim.rest_server`.
"""

from truex_qf.rest.client import (
    Balance,
    CancelAllResult,
    CancelOutcome,
    CancelResult,
    ClientInfo,
    MarketIncrement,
    RestError,
    RestOrderStatus,
    TruexRestClient,
    VenueOrder,
)
from truex_qf.rest.signing import rest_signature
from truex_qf.rest.wire import (
    ID_TYPE_CLIENT,
    ID_TYPE_EXCHANGE,
    VERSION_ENVELOPE,
    VERSION_RAW,
    PathStyle,
)

__all__ = [
    "ID_TYPE_CLIENT",
    "ID_TYPE_EXCHANGE",
    "VERSION_ENVELOPE",
    "VERSION_RAW",
    "Balance",
    "CancelAllResult",
    "CancelOutcome",
    "CancelResult",
    "ClientInfo",
    "MarketIncrement",
    "PathStyle",
    "RestError",
    "RestOrderStatus",
    "TruexRestClient",
    "VenueOrder",
    "rest_signature",
]
