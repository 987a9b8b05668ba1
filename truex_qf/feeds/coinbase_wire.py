"""Coinbase Exchange's message fields as we read them, for the REST and websocket tickers.

The reference price is the bid/ask mid when both are present and sane, else the last trade
price: the last trade can be minutes old on a quiet product while bid and ask are current.
Staleness uses our receive time, not the venue's ``time`` field, because that field is the
last *trade* time and would make a quiet but live product look stale.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from truex_qf.strategy.coinbase import SOURCE_NAME
from truex_qf.strategy.reference import ReferencePrice

_TWO = Decimal(2)
_FRACTION = re.compile(r"(\.\d{6})\d+")


def positive_decimal(payload: Mapping[str, Any], key: str) -> Decimal | None:
    """``payload[key]`` as a finite positive Decimal, else None."""
    raw = payload.get(key)
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0:
        return None
    return value


def parse_venue_time(text: object) -> datetime | None:
    """Coinbase's ISO-8601 ``time`` (``Z`` suffix, up to nanoseconds), or None if unparsable."""
    if not isinstance(text, str) or not text:
        return None
    cleaned = _FRACTION.sub(r"\1", text.strip())
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(cleaned)
    except ValueError:
        return None


def reference_price(
    payload: object,
    product_id: str,
    received_s: float,
    *,
    bid_key: str,
    ask_key: str,
    last_key: str = "price",
    source: str = SOURCE_NAME,
) -> ReferencePrice:
    """A :class:`ReferencePrice` from a decoded ticker; ValueError if it has no price.

    Coinbase's REST names the top of book ``bid``/``ask``, its websocket
    ``best_bid``/``best_ask``; Kraken's ticker has ``bid``/``ask`` and ``last``.
    """
    if not isinstance(payload, Mapping):
        raise ValueError(f"ticker for {product_id} is not a JSON object")
    bid = positive_decimal(payload, bid_key)
    ask = positive_decimal(payload, ask_key)
    last = positive_decimal(payload, last_key)
    if bid is not None and ask is not None and bid <= ask:
        price = (bid + ask) / _TWO
    elif last is not None:
        price = last
    else:
        raise ValueError(f"ticker for {product_id} has no usable bid/ask or price: {payload!r}")
    return ReferencePrice(
        source=source,
        symbol=product_id,
        price=price,
        timestamp_s=received_s,
        bid=bid,
        ask=ask,
        venue_time=parse_venue_time(payload.get("time")),
    )
