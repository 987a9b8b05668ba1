"""Shared fixtures: a real simulated venue and a real client over loopback, per test.

Every test gets fresh ports and its own SenderCompID, because QuickFIX keeps sessions in a
process-wide registry and a closed port lingers in TIME_WAIT. Helpers that are not fixtures
live in tests/support/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.sessions import EventLog, unique_comp_id
from truex_qf.app.demo import LocalVenue, demo_account, start_local_venue
from truex_qf.fix.client import FixClient


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
