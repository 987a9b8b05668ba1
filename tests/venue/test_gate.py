"""The venue gate's framing: what it lets through, holds, refuses and rewrites (no sockets)."""

from __future__ import annotations

from tests.support.rawfix import frame
from truex_qf.sim.gate import (
    SECOND_LOGON_MARKER,
    is_logon,
    second_logon_heartbeat,
    split_frame,
)

LOGON = frame(
    [
        (35, "A"),
        (49, "CLIENT"),
        (56, "TRUEX_UAT_OE"),
        (34, "7"),
        (52, "20261207-00:00:00.000"),
        (108, "30"),
        (1137, "9"),
    ]
)


def test_a_whole_message_is_measured_exactly():
    assert split_frame(LOGON) == len(LOGON)
    assert split_frame(LOGON + b"8=FIXT.1.1\x019=") == len(LOGON)


def test_a_message_cut_short_waits_for_more():
    for cut in (1, 2, 12, len(LOGON) - 1):
        assert split_frame(LOGON[:cut]) is None


def test_bytes_that_are_not_fix_are_refused():
    assert split_frame(b"GET / HTTP/1.1\r\n\r\n") == 0
    assert split_frame(b"\x00\xff" * 40) == 0
    bad_trailer = LOGON.replace(b"10=", b"11=")
    assert split_frame(bad_trailer) == 0


def test_second_logon_becomes_a_marked_heartbeat_with_the_same_header():
    heartbeat = second_logon_heartbeat(LOGON)
    assert split_frame(heartbeat) == len(heartbeat)  # BodyLength right
    body_end = heartbeat.rindex(b"10=")
    assert int(heartbeat[body_end + 3 : body_end + 6]) == sum(heartbeat[:body_end]) % 256
    assert not is_logon(heartbeat) and is_logon(LOGON)
    for field in (
        b"\x0135=0\x01",
        b"\x0149=CLIENT\x01",
        b"\x0156=TRUEX_UAT_OE\x01",
        b"\x0134=7\x01",
    ):
        assert field in heartbeat
    assert b"\x01112=" + SECOND_LOGON_MARKER.encode() + b"7\x01" in heartbeat
