"""Dispatch tables: an event's exact type to the one handler for it.

The market maker and the store recorder route each event with one dict lookup on
``type(event)`` (the hot path's cheapest dispatch). A plain ``dict[type, Callable]`` cannot
say that the handler stored under ``Fill`` takes a ``Fill``, so each entry is made by
:func:`on`, which the type checker holds to exactly that; the table itself then stores the
handlers as taking ``Any``, since only the key knows the argument's type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

E = TypeVar("E")

Handler = Callable[[Any], None]
HandlerTable = dict[type, Handler]


def on(kind: type[E], handler: Callable[[E], None]) -> tuple[type, Handler]:
    """One entry of a dispatch table; the checker verifies that ``handler`` takes a ``kind``."""
    return kind, handler
