"""TrueX REST's wire facts: API versions, auth headers, order-reference types and paths.

Both sides of the wire read them: the product's client (:mod:`truex_qf.rest.client`) and the
simulated exchange's REST server (:mod:`truex_qf.sim.rest_server`), which must not import the
client itself. Plain values, no HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

VERSION_RAW = "v2024_01_01"  # raw arrays/objects; TrueX's default
VERSION_ENVELOPE = "v2026_01_23"  # {"data": ..., "pagination": {...}}
SUPPORTED_VERSIONS = (VERSION_RAW, VERSION_ENVELOPE)

HEADER_TOKEN = "x-truex-auth-token"
HEADER_TIMESTAMP = "x-truex-auth-timestamp"
HEADER_SIGNATURE = "x-truex-auth-signature"
HEADER_USER_ID = "x-truex-auth-userid"  # as documented
HEADER_USER_ID_ALT = "x-truex-auth-user-id"  # as the official rest.py sends it
HEADER_VERSION = "X-Truex-Version"

ID_TYPE_EXCHANGE = "exchange"  # the venue's order ID (the FIX OrderID, 37)
ID_TYPE_CLIENT = "client"  # our external_id (the FIX ClOrdID, 11)


class PathStyle(str, Enum):
    """Which generation of TrueX REST paths to call (v1.0.3 pluralised them)."""

    PLURAL = "plural"
    SINGULAR = "singular"


@dataclass(frozen=True, slots=True)
class RestPaths:
    """Absolute paths of the endpoints we use; ``{ref_id}`` is an order reference."""

    active_orders: str
    order_status: str
    order: str
    balances: str
    clients: str
    increments: str
    trades: str = "/api/v1/orders/trades"


PLURAL_PATHS = RestPaths(
    active_orders="/api/v1/orders/active",
    order_status="/api/v1/orders/status/{ref_id}",
    order="/api/v1/orders/{ref_id}",
    balances="/api/v1/balances",
    clients="/api/v1/clients",
    increments="/api/v1/markets/increments",
    trades="/api/v1/orders/trades",
)
SINGULAR_PATHS = RestPaths(
    active_orders="/api/v1/order/active",
    order_status="/api/v1/order/status/{ref_id}",
    order="/api/v1/order/{ref_id}",
    balances="/api/v1/balance",
    clients="/api/v1/client",
    increments="/api/v1/market/increment",
    trades="/api/v1/order/trade",
)
PATHS = {PathStyle.PLURAL: PLURAL_PATHS, PathStyle.SINGULAR: SINGULAR_PATHS}
