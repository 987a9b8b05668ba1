"""A client the venue disconnected logs on again at once, every time (real engine, raw client).

Unpatched QuickFIX 1.16 lost this race about once in a hundred rounds under load: the
disconnected connection's thread polled its closed descriptor number again, found the
reconnecting client's new socket there, lived on holding the session, and the engine dropped
every later Logon silently (scripts/patches/README.md; the build carries the mend). The rounds
below make the race likely: the venue disconnects while messages the client sent after the
fatal one are still buffered, the client reconnects without waiting, and a thread keeps the
GIL busy so the engine's callbacks are slow.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from tests.support.rawfix import RawFixPeer, frame
from truex_qf.app.demo import LocalVenue
from truex_qf.config import UAT_ORDER_ENTRY_TARGET

ROUNDS = 150
LOGON_ANSWER_S = 3.0  # the venue answers a Logon in milliseconds; QuickFIX's lockout was 5 s+


@pytest.fixture
def busy_interpreter() -> Iterator[None]:
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(10_000))

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


def _logged_on_peer(local: LocalVenue) -> RawFixPeer:
    settings = local.client_settings
    peer = RawFixPeer(settings.order_entry_port, settings.sender_comp_id, UAT_ORDER_ENTRY_TARGET)
    peer.logon(settings.credentials.api_key, settings.credentials.secret_key)
    return peer


def test_a_disconnected_client_logs_on_again_at_once(
    local_venue: LocalVenue, busy_interpreter: None
) -> None:
    peer = _logged_on_peer(local_venue)
    assert peer.receive_type("A", LOGON_ANSWER_S) is not None
    slow: list[str] = []
    for round_number in range(ROUNDS):
        peer.seq = 0  # MsgSeqNum too low: the engine logs out and disconnects
        peer.send_bytes(b"".join(frame(peer.header("0")) for _ in range(50)))
        peer.close()
        started = time.monotonic()
        peer = _logged_on_peer(local_venue)
        if peer.receive_type("A", LOGON_ANSWER_S) is None:
            slow.append(f"round {round_number}: no Logon answer within {LOGON_ANSWER_S} s")
            peer.close()
            peer = _logged_on_peer(local_venue)  # the next round needs a live session
            assert peer.receive_type("A", 30.0) is not None, (
                f"round {round_number}: the venue no longer accepts a logon ({slow})"
            )
        elapsed = time.monotonic() - started
        assert elapsed < 30, f"round {round_number} took {elapsed:.1f} s"
    peer.close()
    assert not slow, "\n".join(slow)
