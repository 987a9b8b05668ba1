"""Risk limits: the static caps the risk engine enforces, set by the strategy file.

A value type below both ``strategy/`` (whose settings build it) and ``trading/`` (whose risk
engine reads it), so that the strategy layer never imports the trading layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class RiskLimits:
    """Static limits, validated once at start.

    The message-rate defaults sit below TrueX's reported ~10 orders/s and 300/min (spec §7.8)
    because cancels, which are never throttled here, use the same venue budget.
    """

    max_position_base: Mapping[str, Decimal]
    max_order_qty: Decimal
    max_order_notional: Decimal
    max_open_orders: int
    price_collar_bps: Decimal
    max_book_age_s: float
    max_messages_per_s: int = 8
    max_messages_per_min: int = 240

    def __post_init__(self) -> None:
        for name in ("max_order_qty", "max_order_notional", "price_collar_bps"):
            if getattr(self, name) <= ZERO:
                raise ValueError(f"RiskLimits.{name} must be positive")
        for name in ("max_open_orders", "max_book_age_s", "max_messages_per_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"RiskLimits.{name} must be positive")
        if self.max_messages_per_min < self.max_messages_per_s:
            raise ValueError("RiskLimits.max_messages_per_min must be >= max_messages_per_s")
        for symbol, limit in self.max_position_base.items():
            if limit < ZERO:
                raise ValueError(f"RiskLimits.max_position_base[{symbol}] must not be negative")
