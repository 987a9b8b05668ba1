"""The newest price of one reference source, and whom to tell when it moves.

Both the websocket streams and the REST poll keep their newest observation here: the trading
side reads :attr:`LatestReference.value` without a lock (one attribute swap), and the listener
runs on the feed's own thread only when the price changed.
"""

from __future__ import annotations

import logging

from truex_qf.strategy.reference import Listener, ReferencePrice

log = logging.getLogger("truex_qf.feeds")


class LatestReference:
    """The newest :class:`ReferencePrice` of one source and its price listener."""

    def __init__(self, label: str) -> None:
        self.label = label  # names the source in a listener failure
        self.value: ReferencePrice | None = None
        self.listener: Listener | None = None

    def publish(self, observation: ReferencePrice) -> None:
        """Keep ``observation``; tell the listener if the price moved (or is the first)."""
        previous, self.value = self.value, observation
        if previous is not None and previous.price == observation.price:
            return
        listener = self.listener
        if listener is None:
            return
        try:
            listener()
        except Exception:  # the trading side's problem, not the feed's
            log.exception("%s: the price listener failed", self.label)
