"""What the venue says about our account, as plain values: orders, trades and balances.

The REST client (:mod:`truex_qf.rest.client`) builds these from TrueX's JSON; reconciliation
(:mod:`truex_qf.trading.reconcile`) and the market maker read them. They live here, in the
trading layer, so that trading imports no HTTP code: the values are the contract between the
two, and the client re-exports them under their old names.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from truex_qf.domain.model import Side


class RestOrderStatus(str, Enum):
    """An order's status as TrueX's REST API reports it (spec §9.5)."""

    INITIALIZED = "INITIALIZED"
    NEW_PENDING = "NEW_PENDING"
    REJECTED = "REJECTED"
    ACTIVE = "ACTIVE"
    FILLED = "FILLED"
    CANCEL_PENDING = "CANCEL_PENDING"
    CANCELED = "CANCELED"
    MODIFY_PENDING = "MODIFY_PENDING"
    UNKNOWN = "UNKNOWN"  # a value this client does not know; treated as still working

    @property
    def is_terminal(self) -> bool:
        """Whether the order can no longer trade (filled, cancelled or rejected)."""
        return self in (RestOrderStatus.FILLED, RestOrderStatus.CANCELED, RestOrderStatus.REJECTED)


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """One order as the venue's REST API reports it.

    ``order_id`` is the venue's ID (FIX OrderID 37); ``external_id`` is our ClOrdID (11).
    ``symbol`` comes from the order itself if the venue names it, else from the client's
    ``instrument_symbols`` map (TrueX reports a numeric ``instrument_id``).
    """

    order_id: str
    external_id: str | None
    status: RestOrderStatus
    client_id: str | None
    instrument_id: str | None
    symbol: str | None
    side: Side | None
    order_type: str | None
    time_in_force: str | None
    price: Decimal | None
    quantity: Decimal | None
    pending_qty: Decimal
    leaves_qty: Decimal
    executed_qty: Decimal
    executed_vwap: Decimal | None


@dataclass(frozen=True, slots=True)
class VenueTrade:
    """One execution of one of our orders as the venue's trade history reports it.

    ``exec_id`` is the ExecID (17) of the FIX report the venue sent (or would have sent) for
    it, and ``trade_match_id`` the match's TrdMatchID (880): either one found among the fills
    already recorded means this trade is known, so a trade is never counted twice.
    ``external_id`` is the ClOrdID of the order it filled (the order's first one if replaced).
    ``fee`` is in the quote currency, positive when paid.
    """

    exec_id: str
    trade_match_id: str | None
    order_id: str | None
    external_id: str | None
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    liquidity: str | None
    at_s: float | None  # epoch seconds of the match, when the venue says


@dataclass(frozen=True, slots=True)
class Balance:
    """One asset's balance, as the venue reports it (what a new order may still use is
    balance - order_hold - transfer_hold, spec §9.5; the program only logs balances).

    TrueX names assets by numeric ``asset_id``; ``asset_name`` is set when the venue sends one.
    """

    asset_id: str
    asset_name: str | None
    balance: Decimal
    order_hold: Decimal
    transfer_hold: Decimal
    unsettled: Decimal
