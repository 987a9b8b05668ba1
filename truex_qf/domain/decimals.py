"""Decimals as text, one rule everywhere: the wire, the reports and the summary agree."""

from __future__ import annotations

from decimal import Decimal


def plain_decimal(value: Decimal) -> str:
    """Exact, fixed point, no exponent, no trailing zeros: 1E+2 → 100, 2.50 → 2.5, -0 → 0.

    ``format(value, "f")`` never rounds, so every digit of a 38-digit value survives.
    """
    if not value.is_finite():
        return str(value)
    if value.is_zero():
        return "0"
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
