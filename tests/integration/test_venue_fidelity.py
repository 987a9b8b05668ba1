"""The simulated exchange answers any correct TrueX client as TrueX does (issue 16).

Every test talks to the real QuickFIX acceptor through the hand-rolled peer of
tests/support/rawfix.py, which shares no code with our client: it stands for TrueX's own sample
client and the other clients that have logged on to TrueX UAT.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.support.rawfix import RawFixPeer, frame, now
from tests.support.sessions import unique_comp_id
from truex_qf.app.demo import DEMO_SYMBOL, LocalVenue, demo_account
from truex_qf.domain.model import NewOrder, SessionRole, Side, TimeInForce
from truex_qf.domain.netutil import free_port
from truex_qf.sim.rest_server import SimulatorRestServer
from truex_qf.sim.server import SimulatedVenue, SimulatorSettings

OE = SessionRole.ORDER_ENTRY
MD = SessionRole.MARKET_DATA
TARGETS = {OE: "TRUEX_UAT_OE", MD: "TRUEX_UAT_MD"}


def _eventually(find: Callable[[], Any], what: str, timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := find()):
        assert time.monotonic() < deadline, what
        time.sleep(0.02)
    return found


def _connect(local: LocalVenue, role: SessionRole, next_seq: int = 1) -> RawFixPeer:
    settings = local.client_settings
    port = settings.order_entry_port if role is OE else settings.market_data_port
    return RawFixPeer(port, settings.sender_comp_id, TARGETS[role], next_seq)


def _log_on(
    local: LocalVenue, role: SessionRole, next_seq: int = 1, reset: bool = True
) -> tuple[RawFixPeer, dict[int, str]]:
    """A peer logged on (and seen logged on by the venue) with the venue's Logon reply."""
    peer = _connect(local, role, next_seq)
    credentials = local.client_settings.credentials
    peer.logon(credentials.api_key, credentials.secret_key, reset=reset)
    answer = peer.receive_type("A")
    assert answer is not None, "a spec-following client must be able to log on"
    venue = local.venue.application
    _eventually(lambda: venue.is_logged_on(role), "the venue never saw the logon through")
    return peer, answer


def _hang_up(local: LocalVenue, peer: RawFixPeer, role: SessionRole) -> None:
    peer.close()
    venue = local.venue.application
    _eventually(lambda: not venue.is_logged_on(role), "the venue never saw the peer go")


def _next_after_ping(peer: RawFixPeer, test_req_id: str) -> dict[int, str]:
    """Send a TestRequest and return the next message: anything the venue sent in answer to
    what came before the ping arrives first, since both directions keep their order."""
    peer.send("1", [(112, test_req_id)])
    answer = peer.receive()
    assert answer is not None, "the venue closed the connection"
    return answer


def _entries(pairs: list[tuple[int, str]], first_tag: int) -> list[list[tuple[int, str]]]:
    """The repeating-group entries of a message, each starting at ``first_tag``."""
    entries: list[list[tuple[int, str]]] = []
    for tag, value in pairs:
        if tag == first_tag:
            entries.append([])
        if entries and tag != 10:
            entries[-1].append((tag, value))
    return entries


@pytest.fixture
def md_peer(local_venue):
    peer, _ = _log_on(local_venue, MD)
    yield peer
    peer.close()


@pytest.fixture
def oe_peer(local_venue):
    peer, _ = _log_on(local_venue, OE)
    yield peer
    peer.close()


# ---------------------------------------------------------------- item 2: rejects and reasons


def test_business_reject_from_client_is_not_answered(md_peer):
    md_peer.send(
        "j",
        [(45, "2"), (372, "y"), (380, "5"), (58, "Conditionally Required Field Missing (870)")],
    )
    answer = _next_after_ping(md_peer, "AFTER-J")
    assert (answer[35], answer.get(112)) == ("0", "AFTER-J")


def test_session_reject_from_client_is_not_answered(md_peer):
    md_peer.send("3", [(45, "2"), (372, "W"), (58, "not for us")])
    answer = _next_after_ping(md_peer, "AFTER-3")
    assert (answer[35], answer.get(112)) == ("0", "AFTER-3")


def test_order_on_market_data_gateway_is_invalid_session(md_peer):
    md_peer.send(
        "F",
        [(11, "C1"), (41, "O1"), (453, "1"), (448, "12345678901234567"), (452, "3")],
    )
    reject = md_peer.receive_type("j")
    assert reject is not None
    assert (reject[372], reject[380], reject[58]) == ("F", "0", "Invalid session ID")


def test_message_no_gateway_takes_is_unsupported_not_invalid_session(oe_peer):
    oe_peer.send("y", [(320, "S1"), (560, "0")])
    reject = oe_peer.receive_type("j")
    assert reject is not None
    assert (reject[372], reject[380]) == ("y", "3")
    assert reject[58] != "Invalid session ID"


# ---------------------------------------------------------------- item 3: 141 optional


def test_logon_without_reset_continues_the_sequence(local_venue):
    first, reply = _log_on(local_venue, OE)
    assert _next_after_ping(first, "P1")[35] == "0"  # our 2, the venue's 2
    _hang_up(local_venue, first, OE)
    again, reply = _log_on(local_venue, OE, next_seq=first.seq + 1, reset=False)
    try:
        assert reply[34] == "3"  # the venue continued its own numbers too
        answer = _next_after_ping(again, "P2")
        assert (answer[35], answer.get(112)) == ("0", "P2")  # no ResendRequest, no Logout
    finally:
        again.close()


def test_logon_with_reset_after_a_session_starts_again_at_one(local_venue):
    first, _ = _log_on(local_venue, OE)
    _next_after_ping(first, "P1")
    _hang_up(local_venue, first, OE)
    again, reply = _log_on(local_venue, OE, next_seq=1, reset=True)
    try:
        assert reply[34] == "1"
        assert _next_after_ping(again, "P2").get(112) == "P2"
    finally:
        again.close()


def test_logon_above_the_expected_number_draws_a_resend_request(local_venue):
    first, _ = _log_on(local_venue, OE)
    _hang_up(local_venue, first, OE)  # the venue expects 2 next
    again, _ = _log_on(local_venue, OE, next_seq=7, reset=False)
    try:
        resend = again.receive_type("2")
        assert resend is not None and (resend[7], resend[16]) == ("2", "0")
        # Gap fill as any FIX client would, then the session is in step.
        again.send_bytes(
            frame(
                [
                    (35, "4"),
                    (49, again.sender),
                    (56, again.target),
                    (34, "2"),
                    (43, "Y"),
                    (52, now()),
                    (123, "Y"),
                    (36, "8"),
                ]
            )
        )
        answer = _next_after_ping(again, "FILLED")
        assert (answer[35], answer.get(112)) == ("0", "FILLED")
    finally:
        again.close()


def test_logon_below_the_expected_number_is_logged_out(local_venue):
    first, _ = _log_on(local_venue, OE)
    _next_after_ping(first, "P1")
    _hang_up(local_venue, first, OE)  # the venue expects 3 next
    again = _connect(local_venue, OE, next_seq=1)
    try:
        credentials = local_venue.client_settings.credentials
        again.logon(credentials.api_key, credentials.secret_key, reset=False)
        answer = again.receive()
        assert answer is not None and answer[35] == "5"
        assert "MsgSeqNum too low" in answer.get(58, "")
        assert again.receive(3) is None  # and the venue hangs up
    finally:
        again.close()


# ---------------------------------------------------------------- item 1: security list


def _attributes(entry: list[tuple[int, str]]) -> dict[str, str]:
    """InstrAttribType (871) -> InstrAttribValue (872) of one entry."""
    kinds = [value for tag, value in entry if tag == 871]
    values = [value for tag, value in entry if tag == 872]
    assert dict(entry).get(870) == str(len(kinds)) == str(len(values))
    return dict(zip(kinds, values, strict=True))


def _trade_once(local: LocalVenue) -> tuple[str, str]:
    """A simulated taker lifts the best offer once; (price, quantity) as strings."""
    app, engine = local.venue.application, local.venue.engine
    with app.lock:
        best = engine.depth(DEMO_SYMBOL, 1).offers[0]
        order = NewOrder(
            "SIMTAKE1",
            DEMO_SYMBOL,
            Side.BUY,
            Decimal("0.001"),
            best.price,
            time_in_force=TimeInForce.IOC,
        )
        app.publish(engine.submit("SIM-TAKER", order))
    return str(best.price), "0.001"


def test_security_list_entries_carry_daily_statistics(local_venue, md_peer):
    md_peer.send("x", [(320, "SL0"), (559, "4"), (263, "0")])
    before = md_peer.receive_pairs()
    assert before is not None and dict(before)[35] == "y"
    entries = _entries(before, 55)
    assert {dict(entry)[55] for entry in entries} == set(local_venue.venue.application.symbols)
    for entry in entries:
        assert _attributes(entry) == {"40": "0", "41": "0"}  # no trades yet

    price, quantity = _trade_once(local_venue)
    md_peer.send("x", [(320, "SL1"), (559, "0"), (55, DEMO_SYMBOL), (263, "0")])
    after = md_peer.receive_pairs()
    assert after is not None
    (entry,) = _entries(after, 55)
    attributes = _attributes(entry)
    assert Decimal(attributes["40"]) == Decimal(price) * Decimal(quantity)
    assert attributes["41"] == "1"


def test_security_list_subscription_gets_update_reports(local_venue, md_peer):
    app = local_venue.venue.application
    md_peer.send("x", [(320, "SUB1"), (559, "4"), (263, "1")])
    assert md_peer.receive_type("y") is not None
    assert app.list_symbol("SOL-PYUSD", "PYUSD") == 1
    added = md_peer.receive_pairs()
    assert added is not None and dict(added)[35] == "BK"
    (entry,) = _entries(added, 1324)
    assert (dict(entry)[1324], dict(entry)[55], dict(entry)[15]) == ("A", "SOL-PYUSD", "PYUSD")
    assert set(_attributes(entry)) == {"40", "41"}
    assert app.delist_symbol("SOL-PYUSD") == 1
    removed = md_peer.receive_type("BK")
    assert removed is not None and (removed[1324], removed[55]) == ("D", "SOL-PYUSD")
    md_peer.send("x", [(320, "SUB1"), (559, "4"), (263, "2")])  # unsubscribe
    assert _next_after_ping(md_peer, "UNSUB")[35] == "0"
    assert app.list_symbol("SOL-PYUSD", "PYUSD") == 0


# ---------------------------------------------------------------- item 4: second logon


@pytest.mark.parametrize("reset", [False, True])
def test_second_logon_on_a_live_connection_is_rejected_and_the_session_stays(
    local_venue, oe_peer, reset
):
    credentials = local_venue.client_settings.credentials
    oe_peer.logon(credentials.api_key, credentials.secret_key, reset=reset)
    reject = oe_peer.receive()
    assert reject is not None and reject[35] == "3"
    assert (reject[45], reject[372], reject[58]) == (
        str(oe_peer.seq),
        "A",
        "Already authenticated cannot logon again",
    )
    answer = _next_after_ping(oe_peer, "STILL-UP")
    assert (answer[35], answer.get(112)) == ("0", "STILL-UP")
    assert local_venue.venue.application.is_logged_on(OE)


# ---------------------------------------------------------------- item 5: 1137 on admin


def test_admin_messages_carrying_1137_are_accepted_silently(oe_peer):
    oe_peer.send("0", [(1137, "9")])
    oe_peer.send("1", [(112, "WITH-1137"), (1137, "9")])
    answer = oe_peer.receive()
    assert answer is not None and (answer[35], answer.get(112)) == ("0", "WITH-1137")
    oe_peer.send("5", [(1137, "9")])
    goodbye = oe_peer.receive()
    assert goodbye is not None and goodbye[35] == "5"


# ---------------------------------------------------------------- item 6: what a client sees


def test_logon_reply_is_truex_s(local_venue):
    peer, reply = _log_on(local_venue, MD)
    peer.close()
    assert 98 not in reply and 141 not in reply
    assert (reply[108], reply[1137]) == ("30", "9")


@pytest.mark.parametrize(
    ("extra", "reason"),
    [((1137, "9"), "2"), ((9999, "x"), "0")],  # defined elsewhere, not defined at all
)
def test_tag_level_reject_uses_truex_s_words(local_venue, oe_peer, extra, reason):
    order = [
        (11, "TXT1"),
        (38, "0.001"),
        (40, "2"),
        (44, "97000"),
        (54, "1"),
        (55, DEMO_SYMBOL),
        (59, "1"),
        extra,
    ]
    oe_peer.send("D", order)
    reject = oe_peer.receive_type("3")
    assert reject is not None
    assert (reject[371], reject[373]) == (str(extra[0]), reason)
    assert reject[58] == f"Invalid tag ({extra[0]})"


def test_snapshot_is_shaped_as_recorded(md_peer):
    md_peer.send("V", [(262, "MDW"), (263, "0"), (264, "3"), (146, "1"), (55, DEMO_SYMBOL)])
    pairs = md_peer.receive_pairs()
    assert pairs is not None and dict(pairs)[35] == "W"
    body_tags = [tag for tag, _ in pairs]
    assert body_tags.index(55) < body_tags.index(268) and dict(pairs)[167] == "CSPOT"
    entries = _entries(pairs, 269)
    assert len(entries) == 6 and dict(pairs)[268] == "6"
    for number, entry in enumerate(entries):
        assert [tag for tag, _ in entry] == [269, 270, 271, 1023, 273]
        assert dict(entry)[1023] == str(number % 3 + 1)
        assert re.fullmatch(r"\d{8}-\d\d:\d\d:\d\d\.\d{9}", dict(entry)[273])


# ---------------------------------------------------------------- issue 17 item 7: floods


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


FLOOD_PAYLOADS = (
    b"",  # connect and say nothing
    b"\x00\xff" * 300,  # garbage
    b"8=FIXT.1.1\x019=70\x0135=A\x01",  # a Logon that never ends
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"8=FIXT.1.1\x019=5\x0135=0\x0110=000\x01",  # not a Logon first
)


def _flood(ports: tuple[int, ...], count: int) -> list[socket.socket]:
    opened = []
    for index in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", ports[index % len(ports)]), timeout=5)
        except OSError:
            continue  # refused under load is a fine answer to a flood
        opened.append(sock)
        payload = FLOOD_PAYLOADS[index % len(FLOOD_PAYLOADS)]
        with contextlib.suppress(OSError):
            if payload:
                sock.sendall(payload)
    return opened


def test_connection_floods_leave_no_threads_or_memory_behind(tmp_path):
    settings = SimulatorSettings(
        account=demo_account(unique_comp_id()),
        order_entry_port=free_port(),
        market_data_port=free_port(),
        logon_deadline_s=1.0,
    )
    venue = SimulatedVenue(settings)
    venue.start()
    try:
        ports = (settings.order_entry_port, settings.market_data_port)
        _flood(ports, 20)  # warm up: first-use allocations are not a leak
        base_threads, base_rss = _threads(), _rss_mb()
        peak_threads = base_threads
        for _ in range(2):
            opened = _flood(ports, 500)
            peak_threads = max(peak_threads, _threads())
            quiet = opened[0]  # said nothing: the Logon deadline closes it
            quiet.settimeout(10)
            assert quiet.recv(1) == b""
            for sock in opened:
                sock.close()
        gate = venue.gate
        assert gate is not None
        _eventually(lambda: gate.connection_counts() == (0, 0), "the gate kept connections")
        assert peak_threads <= base_threads + 10, "a thread per flooding connection"
        assert _threads() <= base_threads + 2
        assert _rss_mb() <= base_rss + 64
        # and a real client still gets in
        account = settings.account
        peer = RawFixPeer(settings.order_entry_port, account.sender_comp_id, "TRUEX_UAT_OE")
        try:
            credentials = account.credentials
            peer.logon(credentials.api_key, credentials.secret_key)
            assert peer.receive_type("A") is not None
        finally:
            peer.close()
    finally:
        venue.stop(force=True)


def test_silent_connections_to_the_rest_api_give_their_threads_back(local_venue):
    rest = SimulatorRestServer(local_venue.venue, "127.0.0.1", free_port())
    rest.start()
    try:
        base_threads = _threads()
        opened = _flood((rest.port,), 60)[::5]  # every fifth said nothing at all
        try:
            _eventually(
                lambda: _threads() <= base_threads + 2,
                "silent REST connections kept their threads",
                timeout_s=30,
            )
        finally:
            for sock in opened:
                sock.close()
    finally:
        rest.stop()
