"""What every test that opens a FIX session needs: its own SenderCompID and an event log.

QuickFIX keeps sessions in a process-wide registry, so each test takes a CompID no other test
in the process has used.
"""

from __future__ import annotations

import itertools
import os
import queue
import time
from collections.abc import Callable

from truex_qf.domain.model import InboundEvent

_comp_ids = itertools.count(1)


def unique_comp_id() -> str:
    return f"T{os.getpid() % 100000}X{next(_comp_ids)}"


class EventLog:
    """The client's event queue with a deadline-bounded wait."""

    def __init__(self) -> None:
        self.queue: queue.Queue[InboundEvent] = queue.Queue()
        self.seen: list[InboundEvent] = []

    def put(self, event: InboundEvent) -> None:
        self.queue.put(event)

    def wait_for(
        self, accept: Callable[[InboundEvent], bool], timeout_s: float = 10.0
    ) -> InboundEvent:
        deadline = time.monotonic() + timeout_s
        for event in self.seen:
            if accept(event):
                self.seen.remove(event)
                return event
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                event = self.queue.get(timeout=remaining)
            except queue.Empty:
                break
            if accept(event):
                return event
            self.seen.append(event)
        raise AssertionError(f"no matching event within {timeout_s} s; saw {self.seen!r}")
