"""Shared fixtures: a real simulated venue and a real client over loopback, per test.

Every test gets fresh ports and its own SenderCompID, because QuickFIX keeps sessions in a
process-wide registry and a closed port lingers in TIME_WAIT.
"""

from __future__ import annotations

import itertools
import os
import queue
import time
from collections.abc import Callable, Iterator

import pytest

from truex_qf.app.demo import LocalVenue, demo_account, start_local_venue
from truex_qf.domain.model import InboundEvent
from truex_qf.fix.client import FixClient

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


@pytest.fixture
def local_venue(tmp_path) -> Iterator[LocalVenue]:
    local = start_local_venue(tmp_path / "state", demo_account(unique_comp_id()))
    yield local
    local.venue.stop(force=True)


@pytest.fixture
def events() -> EventLog:
    return EventLog()


@pytest.fixture
def client(local_venue: LocalVenue, events: EventLog) -> Iterator[FixClient]:
    fix_client = FixClient(local_venue.client_settings, events.put)
    fix_client.start()
    yield fix_client
    fix_client.stop(force=True)
