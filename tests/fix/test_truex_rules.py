"""Our client against what TrueX sends that the simulator did not (issue 16).

The real client (sessions.cfg, our dictionaries, TruexApplication) on one side; on the other
either the simulator's QuickFIX acceptor, made to send TrueX's messages with
``fix.Session.sendToTarget`` on its own session, or, for what QuickFIX cannot send (empty
CompIDs, a group in TrueX's own field order), the hand-rolled gateway of tests/support/rawfix.py.
Each test proves the message arrives as a domain event and that the client neither rejects it
nor drops the session.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import quickfix as fix

from tests.support.orders import new_order
from tests.support.rawfix import RawVenue
from tests.support.sessions import EventLog, unique_comp_id
from tests.support.timing import wait_until
from truex_qf.app.demo import DEMO_MID, DEMO_SYMBOL, LocalVenue
from truex_qf.config import Credentials, FixSettings
from truex_qf.domain.clordid import ClOrdIdGenerator
from truex_qf.domain.model import (
    BusinessMessageReject,
    ExecutionReport,
    ListUpdateAction,
    MarketDataSnapshot,
    MDEntryType,
    OrderCancelReject,
    SecurityList,
    SecurityListUpdate,
    SessionRole,
    Side,
)
from truex_qf.fix.client import FixClient
from truex_qf.fix.settings import SPEC_DIR
from truex_qf.trading.orders import OrderManager, OrderState

OE = SessionRole.ORDER_ENTRY
MD = SessionRole.MARKET_DATA
SOH = "\x01"
CXL_REJ_REASONS = ["0", "2", "3", "4", "5", "6", "7", "8", "18", "99", "1"]  # 1 last: ends it


def eventually(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


@pytest.fixture(scope="module")
def dictionaries() -> tuple[fix.DataDictionary, fix.DataDictionary]:
    return (
        fix.DataDictionary(str(SPEC_DIR / "TrueX_FIXT11.xml")),
        fix.DataDictionary(str(SPEC_DIR / "TrueX_FIX50SP2.xml")),
    )


def venue_send(
    local: LocalVenue,
    role: SessionRole,
    body: str,
    dictionaries: tuple[fix.DataDictionary, fix.DataDictionary],
) -> None:
    """Send ``35=..|body`` (``|`` for SOH) from the simulator's own session for ``role``.

    Parsed with our dictionaries first, so groups go out in dictionary order as a QuickFIX
    venue writes them; the engine fills 49, 56, 34 and 52.
    """
    text = body.replace("|", SOH)
    raw = f"8=FIXT.1.1{SOH}9={len(text.encode())}{SOH}{text}"
    raw += f"10={sum(raw.encode()) % 256:03d}{SOH}"
    message = fix.Message(raw, dictionaries[0], dictionaries[1], False)
    assert fix.Session.sendToTarget(message, local.venue.application.session_id(role))


def client_rejects(local: LocalVenue) -> list[tuple[SessionRole, str]]:
    """Session-level Rejects and Logouts the simulator received from our client."""
    return [entry for entry in local.venue.application.journal.admin_in if entry[1] in "35"]


@pytest.fixture
def both_up(local_venue: LocalVenue, client: FixClient) -> LocalVenue:
    """Both sessions logged on, on both ends, before the venue sends anything."""
    for role in (OE, MD):
        client.wait_logged_on(role, 10)
        eventually(lambda r=role: local_venue.venue.application.is_logged_on(r), "venue logon")
    return local_venue


# --------------------------------------------------------------------------- 35=9, spec §6.5


def test_every_cancel_reject_reason_reaches_the_order_manager(
    both_up: LocalVenue, client: FixClient, events: EventLog, dictionaries
) -> None:
    """A real order at the simulator; for each 102 TrueX lists, a cancel of it refused.

    102=1 (unknown order) sends the order to reconciliation (UNCERTAIN); every other reason
    leaves it live, so it may be cancelled again.
    """
    manager = OrderManager(ClOrdIdGenerator("R", boot_ms=0), ack_timeout_s=60.0)
    new = new_order(manager, DEMO_SYMBOL, Side.BUY, Decimal("0.001"), DEMO_MID - 500)
    assert client.send(new)
    order = manager.get(new.cl_ord_id)
    assert order is not None
    while order.state is not OrderState.NEW:
        manager.on_execution_report(
            events.wait_for(lambda e: isinstance(e, ExecutionReport))  # type: ignore[arg-type]
        )
    for reason in CXL_REJ_REASONS:
        request = manager.cancel(order.cl_ord_id)  # not sent: the venue refuses it anyway
        venue_send(
            both_up,
            OE,
            f"35=9|37={order.order_id}|11={request.cl_ord_id}|41={order.cl_ord_id}|39=0|"
            f"434=1|102={reason}|58=Cancel refused {reason}|",
            dictionaries,
        )
        reject = events.wait_for(lambda e: isinstance(e, OrderCancelReject))
        assert isinstance(reject, OrderCancelReject)
        assert (reject.reason, reject.cl_ord_id, reject.order_gone) == (
            reason,
            request.cl_ord_id,
            reason == "1",
        )
        manager.on_cancel_reject(reject)
        expected = OrderState.UNCERTAIN if reason == "1" else OrderState.NEW
        assert order.state is expected, reason
    assert client_rejects(both_up) == []
    assert client.is_logged_on(OE)


# --------------------------------------------------------------------------- 35=y and 35=BK


def test_security_list_with_instrument_attributes(
    both_up: LocalVenue, client: FixClient, events: EventLog, dictionaries
) -> None:
    venue_send(
        both_up,
        MD,
        "35=y|320=SL-T|322=R1|560=0|393=1|893=Y|146=1|55=BTC-PYUSD|167=CSPOT|870=2|871=40|"
        "872=1234567.89|871=41|872=321|15=PYUSD|",
        dictionaries,
    )
    security_list = events.wait_for(
        lambda e: isinstance(e, SecurityList) and e.security_req_id == "SL-T"
    )
    assert isinstance(security_list, SecurityList)
    (btc,) = security_list.securities
    assert (btc.symbol, btc.currency) == ("BTC-PYUSD", "PYUSD")
    assert (btc.average_daily_notional, btc.average_daily_trades) == (
        Decimal("1234567.89"),
        Decimal(321),
    )
    assert client_rejects(both_up) == []


def test_security_list_update_reaches_the_client_as_an_event(
    both_up: LocalVenue, client: FixClient, events: EventLog, dictionaries, caplog
) -> None:
    """Every ListUpdateAction; a deletion is logged as a warning naming the symbol."""
    with caplog.at_level(logging.INFO, logger="truex_qf.fix"):
        venue_send(
            both_up,
            MD,
            "35=BK|320=SL1|322=R2|146=4|1324=A|55=SOL-PYUSD|167=CSPOT|870=1|871=40|872=10|"
            "15=PYUSD|1324=D|55=BTC-PYUSD|167=CSPOT|1324=M|55=ETH-PYUSD|870=1|871=41|872=4|"
            "1324=S|55=XRP-PYUSD|",
            dictionaries,
        )
        update = events.wait_for(lambda e: isinstance(e, SecurityListUpdate))
        # the client hands the event on before it logs the warning: wait for the line too
        wait_until(
            lambda: any(
                "security list delete BTC-PYUSD" in r.getMessage()
                for r in caplog.records
                if r.levelno == logging.WARNING
            )
        )
    assert isinstance(update, SecurityListUpdate)
    assert [(u.action, u.security.symbol) for u in update.updates] == [
        (ListUpdateAction.ADD, "SOL-PYUSD"),
        (ListUpdateAction.DELETE, "BTC-PYUSD"),
        (ListUpdateAction.MODIFY, "ETH-PYUSD"),
        (ListUpdateAction.SNAPSHOT, "XRP-PYUSD"),
    ]
    assert update.deleted_symbols == ("BTC-PYUSD",)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("security list delete BTC-PYUSD" in text for text in warnings), warnings
    assert client_rejects(both_up) == []
    assert client.is_logged_on(MD)


# --------------------------------------------------------------------------- the raw gateway


def start_raw(tmp_path: Path, role: SessionRole) -> tuple[RawVenue, FixClient, EventLog]:
    gateway = RawVenue("TRUEX_UAT_OE" if role is OE else "TRUEX_UAT_MD")
    settings = FixSettings(
        host="127.0.0.1",
        order_entry_port=gateway.port,
        market_data_port=gateway.port,
        sender_comp_id=unique_comp_id(),
        client_id="10000000000000001",
        credentials=Credentials("11111111-2222-4333-8444-555555555555", "example-secret"),
        state_dir=tmp_path,
    )
    events = EventLog()
    client = FixClient(settings, events.put, roles=frozenset({role}))
    client.start()
    gateway.accept_logon()
    client.wait_logged_on(role, 10)
    return gateway, client, events


@pytest.fixture
def raw_oe(tmp_path: Path) -> Iterator[tuple[RawVenue, FixClient, EventLog]]:
    gateway, client, events = start_raw(tmp_path, OE)
    yield gateway, client, events
    client.stop(force=True)
    gateway.close()


@pytest.fixture
def raw_md(tmp_path: Path) -> Iterator[tuple[RawVenue, FixClient, EventLog]]:
    gateway, client, events = start_raw(tmp_path, MD)
    yield gateway, client, events
    client.stop(force=True)
    gateway.close()


def test_invalid_session_id_with_empty_comp_ids(raw_oe, caplog) -> None:
    """Spec §1.6, byte for byte: ``35=j|49=|56=|45=0|380=0|58=Invalid session ID``.

    QuickFIX's defaults would answer it with a Reject (empty 49/56 are a CompID problem and
    a tag without a value) and log out; sessions.cfg turns both checks off.
    """
    gateway, client, events = raw_oe
    with caplog.at_level(logging.ERROR, logger="truex_qf.fix"):
        gateway.send("j", [(45, "0"), (380, "0"), (58, "Invalid session ID")], "", "")
        reject = events.wait_for(lambda e: isinstance(e, BusinessMessageReject))
        # the event is handed on before the line is logged: wait for the line too
        wait_until(lambda: any("Invalid session ID" in r.getMessage() for r in caplog.records))
    assert isinstance(reject, BusinessMessageReject)
    assert (reject.reason, reject.ref_seq_num, reject.text) == ("0", 0, "Invalid session ID")
    assert reject.invalid_session
    assert any("Invalid session ID" in r.getMessage() for r in caplog.records)
    gateway.ping("AFTER-J")
    assert [m[35] for m in gateway.received if m[35] in ("3", "5", "j")] == []
    assert client.is_logged_on(OE)


def test_snapshot_in_truex_field_order_with_a_full_entry_time(raw_md) -> None:
    """Spec §8.6: 1023 before 273, and 273 a date with nanoseconds."""
    gateway, client, events = raw_md
    entry_time = "20261207-00:00:01.123456789"
    gateway.send(
        "W",
        [
            (262, "MD1"),
            (55, "BTC-PYUSD"),
            (167, "CSPOT"),
            (268, "3"),
            *[(269, "0"), (270, "99999.5"), (271, "0.25"), (1023, "1"), (273, entry_time)],
            *[(269, "1"), (270, "100000.5"), (271, "0.5"), (1023, "1"), (273, entry_time)],
            *[(269, "2"), (270, "100000"), (271, "0.01"), (273, entry_time), (2446, "1")],
        ],
    )
    snapshot = events.wait_for(lambda e: isinstance(e, MarketDataSnapshot))
    assert isinstance(snapshot, MarketDataSnapshot)
    assert [(e.entry_type, e.price, e.size, e.level) for e in snapshot.entries] == [
        (MDEntryType.BID, Decimal("99999.5"), Decimal("0.25"), 1),
        (MDEntryType.OFFER, Decimal("100000.5"), Decimal("0.5"), 1),
        (MDEntryType.TRADE, Decimal(100000), Decimal("0.01"), None),
    ]
    gateway.ping("AFTER-W")
    assert [m[35] for m in gateway.received if m[35] in ("3", "5", "j")] == []
    assert client.is_logged_on(MD)
