"""Session-level behaviour the engine owns, provoked from the simulator's side."""

from __future__ import annotations

import time

from truex_qf.domain.model import SessionLoggedOn, SessionRole
from truex_qf.fix.client import FixClient

OE = SessionRole.ORDER_ENTRY


def _eventually(find, failure, timeout_s=10.0):
    """What ``find()`` returns once it is truthy; ``failure()`` is the message if it never is."""
    deadline = time.monotonic() + timeout_s
    while not (found := find()):
        assert time.monotonic() < deadline, failure()
        time.sleep(0.02)
    return found


def _wait_admin(journal, predicate, timeout_s=10.0):
    return _eventually(
        lambda: next((t for r, t in list(journal.admin_in_text) if predicate(r, t)), None),
        lambda: f"no such admin message; saw {journal.admin_in_text!r}",
        timeout_s,
    )


def _logged_on_both_ends(client, venue, timeout_s=10.0):
    """The client has its Logon answered; the venue may not have marked its own end logged on
    yet, and until then the engine stores what the venue sends without sending it."""
    client.wait_logged_on(OE, timeout_s)
    _eventually(lambda: venue.is_logged_on(OE), lambda: "the venue never saw the logon through")


def test_both_sessions_log_on_with_signed_reset_logons(local_venue, client):
    client.wait_logged_on(OE, 10)
    client.wait_logged_on(SessionRole.MARKET_DATA, 10)
    journal = local_venue.venue.application.journal
    logons = [text for _, text in journal.admin_in_text if "|35=A|" in text]
    assert len(logons) == 2
    for text in logons:
        assert "|34=1|" in text and "|141=Y|" in text and "|1137=9|" in text
        assert "|554=***|" in text  # signed, and the journal never holds the signature


def test_engine_answers_test_request(local_venue, client):
    venue = local_venue.venue.application
    _logged_on_both_ends(client, venue)
    assert venue.send_test_request(OE, "TEST-PING-7")
    answer = _wait_admin(
        venue.journal,
        lambda role, text: role is OE and "|35=0|" in text and "|112=TEST-PING-7|" in text,
    )
    assert "|112=TEST-PING-7|" in answer


def test_sequence_gap_triggers_resend_request(local_venue, client):
    venue = local_venue.venue.application
    _logged_on_both_ends(client, venue)
    first_missing = venue.skip_outbound_sequence(OE, 3)
    assert venue.send_test_request(OE, "REVEALS-GAP")
    resend = _wait_admin(venue.journal, lambda role, text: role is OE and "|35=2|" in text)
    assert f"|7={first_missing}|" in resend
    # The venue gap-fills (admin messages are never resent, the revealing TestRequest
    # included); once filled, the session is back in step and answers a new TestRequest.
    _eventually(
        lambda: (SessionRole.ORDER_ENTRY, "4") in venue.journal.admin_out,
        lambda: "venue never gap-filled",
    )
    assert venue.send_test_request(OE, "AFTER-GAP")
    _wait_admin(venue.journal, lambda role, text: role is OE and "|112=AFTER-GAP|" in text)


def test_new_logon_resets_sequence_numbers(local_venue, client, events):
    venue = local_venue.venue.application
    _logged_on_both_ends(client, venue)
    for n in range(5):  # move both sides' sequence numbers well past 1
        assert venue.send_test_request(OE, f"BUMP-{n}")
    _wait_admin(venue.journal, lambda role, text: "|112=BUMP-4|" in text)
    client.stop(force=True)
    again = FixClient(local_venue.client_settings, events.put, roles=frozenset({OE}))
    again.start()
    try:
        again.wait_logged_on(OE, 15)
        oe_logons = [
            text for role, text in venue.journal.admin_in_text if role is OE and "|35=A|" in text
        ]
        assert len(oe_logons) == 2
        assert "|34=1|" in oe_logons[-1] and "|141=Y|" in oe_logons[-1]
        events.wait_for(lambda e: isinstance(e, SessionLoggedOn) and e.role is OE)
    finally:
        again.stop(force=True)
