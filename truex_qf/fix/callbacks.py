"""A guard for every QuickFIX callback: an escaping exception must never reach the engine.

The binding answers any exception outside a short per-callback whitelist with
``PyErr_Print(); Py_Exit(1)`` on the engine thread, and the process then hangs (see
shared/quickfix-python-notes.md §1.2). So every callback body runs inside :func:`guarded`,
which logs and swallows everything except the FIX exceptions that callback may legitimately
raise to steer the engine (e.g. ``RejectLogon`` from ``fromAdmin``, ``DoNotSend`` from
``toApp``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

import quickfix as fix

from truex_qf.fix.engine_threads import keep_thread_state

log = logging.getLogger("truex_qf.fix")

F = TypeVar("F", bound=Callable[..., Any])

# What each callback may raise back into the engine (quickfix.i, director:except blocks).
NOTHING: tuple[type[BaseException], ...] = ()
FROM_ADMIN = (fix.FieldNotFound, fix.IncorrectDataFormat, fix.IncorrectTagValue, fix.RejectLogon)
FROM_APP = (
    fix.FieldNotFound,
    fix.IncorrectDataFormat,
    fix.IncorrectTagValue,
    fix.UnsupportedMessageType,
)
TO_APP = (fix.DoNotSend,)


def guarded(allowed: tuple[type[BaseException], ...] = NOTHING) -> Callable[[F], F]:
    """Wrap a callback so only ``allowed`` exceptions escape; anything else is logged."""

    def decorate(callback: F) -> F:
        @functools.wraps(callback)
        def wrapper(*args: Any) -> Any:
            keep_thread_state()
            try:
                return callback(*args)
            except allowed:
                raise
            except BaseException:  # SystemExit/KeyboardInterrupt here would hang the engine too
                log.exception("error in engine callback %s; the session carries on", callback)
                return None

        # wraps() types the wrapper as _Wrapped; it takes and returns what the callback does.
        return cast(F, wrapper)

    return decorate
