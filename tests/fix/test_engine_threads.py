"""The engine thread keeps one Python thread state across callbacks (truex_qf.fix.engine_threads).

A ``threading.local`` lives in the thread state, so it shows the difference: without the pin,
every callback on QuickFIX's thread starts with a new thread state and finds the local empty.
"""

from __future__ import annotations

import threading

from truex_qf.domain.model import SessionRole
from truex_qf.fix.client import FixClient


def test_callbacks_on_the_engine_thread_share_one_thread_state(local_venue, events):
    marks = threading.local()
    calls: list[tuple[int, bool, int]] = []  # (thread, foreign, callbacks this state saw before)

    def sink(event: object) -> None:
        seen = getattr(marks, "count", 0)
        marks.count = seen + 1
        foreign = isinstance(threading.current_thread(), threading._DummyThread)
        calls.append((threading.get_ident(), foreign, seen))
        events.put(event)

    client = FixClient(local_venue.client_settings, sink)
    client.start()
    try:
        client.wait_logged_on(SessionRole.ORDER_ENTRY, 10)
        client.wait_logged_on(SessionRole.MARKET_DATA, 10)
    finally:
        client.stop(force=True)

    engine_calls = [call for call in calls if call[1]]
    assert len(engine_calls) >= 2, calls  # both logons, from QuickFIX's thread
    by_thread: dict[int, list[int]] = {}
    for ident, _, seen in engine_calls:
        by_thread.setdefault(ident, []).append(seen)
    for seen in by_thread.values():
        assert seen == list(range(len(seen)))  # each callback saw the ones before it
    # the pin at work: a later callback on the same engine thread found the earlier ones' mark
    assert any(len(seen) >= 2 for seen in by_thread.values()), by_thread
