"""Reading a bench report (JSON): every figure must be there and a real measurement."""

from __future__ import annotations

import math


def positive(report: dict, *path: str) -> float:
    """The figure at ``path`` in ``report``; fails unless it is there, finite and above 0."""
    value = report
    for key in path:
        assert key in value, f"{'.'.join(path)}: {key!r} missing"
        value = value[key]
    assert isinstance(value, int | float) and not isinstance(value, bool), (path, value)
    assert math.isfinite(value) and value > 0, f"{'.'.join(path)} = {value}"
    return value
